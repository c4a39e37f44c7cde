/*
 * toml.c — a small strict parser for the subset of TOML 1.0 that quire.toml uses.
 *
 * Debian 12 has no C TOML library, so this reads exactly what the config needs and
 * refuses the rest with a message naming line and column ("quire.toml:12:5: ..."):
 *   - comments (#), blank lines, [table] and [dotted.table] headers (bare or "quoted" keys);
 *   - key = value with bare or quoted keys (dotted keys are refused: write a table);
 *   - values: "basic" strings with escapes, 'literal' strings, integers (decimal, _
 *     between digits), floats (fraction/exponent), true/false, arrays (over
 *     several lines, comments and a trailing comma allowed), { inline = tables };
 *   - refused: multi-line strings, dates and times, hex/octal/binary, inf/nan, [[arrays of tables]],
 *     redefined keys or tables, control characters and invalid UTF-8.
 * The result is a jansson object tree (integers stay integers, floats reals), plus a
 * second object mapping each key's dotted path to [line, column] so the config
 * checker can name where a bad value sits.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#define TOML_MAX_DEPTH 32

typedef struct parser {
    const char *s;
    size_t len;
    size_t i;
    int line;
    size_t line_start;
    const char *name;
    quire_error *err;
    json_t *pos;
    int failed;
} parser;

static int col(const parser *p) { return (int)(p->i - p->line_start) + 1; }

static int perr(parser *p, const char *what)
{
    if (!p->failed)
        qr_err(p->err, QUIRE_FORMAT, "%s:%d:%d: %s", p->name, p->line, col(p), what);
    p->failed = 1;
    return -1;
}

static int peek(const parser *p) { return p->i < p->len ? (unsigned char)p->s[p->i] : -1; }

static void skip_ws(parser *p)
{
    while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t'))
        p->i++;
}

static void skip_comment(parser *p)
{
    if (peek(p) != '#')
        return;
    while (p->i < p->len && p->s[p->i] != '\n')
        p->i++;
}

/* Consume a newline (\n or \r\n); returns 0 if there is none here. */
static int newline(parser *p)
{
    if (peek(p) == '\r' && p->i + 1 < p->len && p->s[p->i + 1] == '\n')
        p->i++;
    if (peek(p) != '\n')
        return 0;
    p->i++;
    p->line++;
    p->line_start = p->i;
    return 1;
}

/* Whitespace, comments and newlines (inside arrays). */
static void skip_all(parser *p)
{
    for (;;) {
        skip_ws(p);
        skip_comment(p);
        if (!newline(p))
            return;
    }
}

/* Length of a valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static int utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    int len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)len > n)
        return 0;
    unsigned cp = c & (0x3f >> (len - 1));
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void put_utf8(qr_buf *b, unsigned cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        o[0] = (char)(0xf0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    qr_buf_append(b, o, n);
}

static int hex_escape(parser *p, int digits, qr_buf *b)
{
    unsigned cp = 0;
    for (int k = 0; k < digits; k++) {
        int c = peek(p);
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            return perr(p, "bad \\u escape: expected a hex digit");
        cp = cp * 16 + (unsigned)v;
        p->i++;
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0)
        return perr(p, "\\u escape is not a Unicode scalar value (or is NUL)");
    put_utf8(b, cp);
    return 0;
}

static int escape(parser *p, qr_buf *b)
{
    int c = peek(p);
    static const char from[] = "btnfr\"\\";
    static const char to[] = "\b\t\n\f\r\"\\";
    const char *hit = c > 0 ? strchr(from, c) : NULL;
    if (hit) {
        p->i++;
        qr_buf_putc(b, to[hit - from]);
        return 0;
    }
    if (c == 'u' || c == 'U') {
        p->i++;
        return hex_escape(p, c == 'u' ? 4 : 8, b);
    }
    return perr(p, "unknown escape in string");
}

/* A "basic" or 'literal' string at p->i (the quote). OUT: *out (NUL-terminated copy). */
static int string(parser *p, char **out)
{
    char q = p->s[p->i];
    if (p->i + 2 < p->len && p->s[p->i + 1] == q && p->s[p->i + 2] == q)
        return perr(p, "multi-line strings are not supported");
    p->i++;
    qr_buf b;
    qr_buf_init(&b, 1 << 20);
    for (;;) {
        int c = peek(p);
        if (c < 0 || c == '\n' || c == '\r') {
            perr(p, "unterminated string");
            break;
        }
        if (c == q) {
            p->i++;
            break;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            perr(p, "control character in string");
            break;
        }
        if (c == '\\' && q == '"') {
            p->i++;
            if (escape(p, &b) != 0)
                break;
            continue;
        }
        int n = utf8_len((const unsigned char *)p->s + p->i, p->len - p->i);
        if (n == 0) {
            perr(p, "invalid UTF-8 in string");
            break;
        }
        qr_buf_append(&b, p->s + p->i, (size_t)n);
        p->i += (size_t)n;
    }
    qr_buf_putc(&b, '\0');
    if (!p->failed && b.failed)
        perr(p, "string too long (1 MiB at most)");
    if (p->failed) {
        qr_buf_free(&b);
        return -1;
    }
    *out = b.data;
    return 0;
}

static int is_bare(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

/* One key (bare or quoted). OUT: *out. */
static int key(parser *p, char **out)
{
    int c = peek(p);
    if (c == '"' || c == '\'')
        return string(p, out);
    size_t st = p->i;
    while (p->i < p->len && is_bare((unsigned char)p->s[p->i]))
        p->i++;
    if (p->i == st)
        return perr(p, "expected a key");
    *out = qr_strndup(p->s + st, p->i - st);
    return *out ? 0 : perr(p, "out of memory");
}

static int value(parser *p, json_t **out, int depth, const char *path);

/* Record where a key's value sits. */
static void note_pos(parser *p, const char *path, int line, int column)
{
    if (p->pos && path)
        json_object_set_new(p->pos, path, json_pack("[ii]", line, column));
}

static char *join_path(const char *a, const char *b)
{
    size_t la = a ? strlen(a) : 0;
    size_t lb = strlen(b);
    char *r = qr_malloc(la + lb + 2);
    if (!r)
        return NULL;
    if (la) {
        memcpy(r, a, la);
        r[la] = '.';
        memcpy(r + la + 1, b, lb + 1);
    } else {
        memcpy(r, b, lb + 1);
    }
    return r;
}

/* key = value into obj (duplicates refused). */
static int keyval(parser *p, json_t *obj, int depth, const char *base)
{
    int line = p->line;
    int column = col(p);
    char *k = NULL;
    char *path = NULL;
    json_t *v = NULL;
    if (key(p, &k) != 0)
        return -1;
    skip_ws(p);
    if (peek(p) == '.') {
        qr_free(k);
        return perr(p, "dotted keys are not supported: use a [table] header");
    }
    if (peek(p) != '=') {
        qr_free(k);
        return perr(p, "expected '=' after the key");
    }
    p->i++;
    skip_ws(p);
    path = join_path(base, k);
    if (value(p, &v, depth + 1, path) != 0)
        goto fail;
    if (json_object_get(obj, k)) {
        p->i = p->line_start + (size_t)(column - 1);
        p->line = line;
        perr(p, "key defined twice");
        goto fail;
    }
    note_pos(p, path, line, column);
    json_object_set_new(obj, k, v);
    qr_free(k);
    qr_free(path);
    return 0;
fail:
    json_decref(v);
    qr_free(k);
    qr_free(path);
    return -1;
}

static int array(parser *p, json_t **out, int depth, const char *path)
{
    json_t *a = json_array();
    p->i++; /* [ */
    for (;;) {
        skip_all(p);
        if (peek(p) == ']') {
            p->i++;
            break;
        }
        json_t *v = NULL;
        if (value(p, &v, depth + 1, NULL) != 0)
            goto fail;
        json_array_append_new(a, v);
        skip_all(p);
        if (peek(p) == ',') {
            p->i++;
            continue;
        }
        if (peek(p) == ']') {
            p->i++;
            break;
        }
        perr(p, "expected ',' or ']' in array");
        goto fail;
    }
    *out = a;
    return 0;
fail:
    json_decref(a);
    return -1;
}

static int inline_table(parser *p, json_t **out, int depth, const char *path)
{
    json_t *t = json_object();
    p->i++; /* { */
    skip_ws(p);
    if (peek(p) == '}') {
        p->i++;
        *out = t;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        if (keyval(p, t, depth, path) != 0)
            goto fail;
        skip_ws(p);
        if (peek(p) == ',') {
            p->i++;
            continue;
        }
        if (peek(p) == '}') {
            p->i++;
            break;
        }
        perr(p, "expected ',' or '}' in inline table (inline tables are one line)");
        goto fail;
    }
    *out = t;
    return 0;
fail:
    json_decref(t);
    return -1;
}

static int digits_ok(const char *s, size_t n)
{
    /* digits with single underscores between them */
    if (n == 0 || s[0] == '_' || s[n - 1] == '_')
        return 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] == '_') {
            if (s[k + 1] == '_')
                return 0;
        } else if (s[k] < '0' || s[k] > '9') {
            return 0;
        }
    }
    return 1;
}

/* Integers and floats, strictly per TOML (no leading zeros, _ only between digits). */
static int number(parser *p, json_t **out)
{
    size_t st = p->i;
    while (p->i < p->len && (is_bare((unsigned char)p->s[p->i]) || p->s[p->i] == '+' ||
                             p->s[p->i] == '.'))
        p->i++;
    size_t n = p->i - st;
    char tok[64];
    if (n == 0 || n >= sizeof tok) {
        p->i = st;
        return perr(p, n ? "number too long" : "expected a value");
    }
    memcpy(tok, p->s + st, n);
    tok[n] = '\0';
    const char *b = tok + (tok[0] == '+' || tok[0] == '-');
    if (!strcmp(b, "inf") || !strcmp(b, "nan")) {
        p->i = st;
        return perr(p, "inf and nan are not supported");
    }
    if (strchr(tok, ':') || (n >= 10 && tok[4] == '-' && tok[7] == '-')) {
        p->i = st;
        return perr(p, "dates and times are not supported");
    }
    if (b[0] == '0' && (b[1] == 'x' || b[1] == 'o' || b[1] == 'b')) {
        p->i = st;
        return perr(p, "hex, octal and binary integers are not supported");
    }
    /* split into int part, fraction, exponent and check each */
    size_t ni = strcspn(b, ".eE");
    int ok = digits_ok(b, ni) && !(ni > 1 && b[0] == '0');
    const char *r = b + ni;
    int is_float = 0;
    if (ok && *r == '.') {
        is_float = 1;
        size_t nf = strcspn(r + 1, "eE");
        ok = digits_ok(r + 1, nf);
        r += 1 + nf;
    }
    if (ok && (*r == 'e' || *r == 'E')) {
        is_float = 1;
        r++;
        if (*r == '+' || *r == '-')
            r++;
        ok = digits_ok(r, strlen(r));
        r += strlen(r);
    }
    if (!ok || *r) {
        p->i = st;
        return perr(p, "invalid value (expected a string, number, boolean, array or table)");
    }
    char clean[64];
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        if (tok[k] != '_')
            clean[m++] = tok[k];
    }
    clean[m] = '\0';
    char *end = NULL;
    if (is_float) {
        double d = strtod(clean, &end);
        if (!isfinite(d)) {
            p->i = st;
            return perr(p, "float out of range");
        }
        *out = json_real(d);
        return 0;
    }
    errno = 0;
    long long v = strtoll(clean, &end, 10);
    if (errno != 0) {
        p->i = st;
        return perr(p, "integer out of range");
    }
    *out = json_integer((json_int_t)v);
    return 0;
}

static int value(parser *p, json_t **out, int depth, const char *path)
{
    int c = peek(p);
    if (depth > TOML_MAX_DEPTH)
        return perr(p, "values nested too deeply");
    if (c == '"' || c == '\'') {
        char *s = NULL;
        if (string(p, &s) != 0)
            return -1;
        *out = json_string(s);
        qr_free(s);
        return *out ? 0 : perr(p, "invalid string");
    }
    if (c == '[')
        return array(p, out, depth, path);
    if (c == '{')
        return inline_table(p, out, depth, path);
    if (p->len - p->i >= 4 && !memcmp(p->s + p->i, "true", 4) &&
        !is_bare(p->i + 4 < p->len ? (unsigned char)p->s[p->i + 4] : 0)) {
        p->i += 4;
        *out = json_true();
        return 0;
    }
    if (p->len - p->i >= 5 && !memcmp(p->s + p->i, "false", 5) &&
        !is_bare(p->i + 5 < p->len ? (unsigned char)p->s[p->i + 5] : 0)) {
        p->i += 5;
        *out = json_false();
        return 0;
    }
    return number(p, out);
}

/* [a.b."c"] header: walk/create the tables. OUT: *cur, *path (dotted). */
static int header(parser *p, json_t *root, json_t *defined, json_t **cur, char **path)
{
    int line = p->line;
    int column = col(p);
    p->i++; /* [ */
    if (peek(p) == '[')
        return perr(p, "arrays of tables ([[...]]) are not supported");
    json_t *t = root;
    char *full = NULL;
    for (;;) {
        skip_ws(p);
        char *k = NULL;
        size_t key_at = p->i;
        if (key(p, &k) != 0)
            goto fail;
        char *np = join_path(full, k);
        qr_free(full);
        full = np;
        json_t *next = json_object_get(t, k);
        if (!next) {
            next = json_object();
            json_object_set_new(t, k, next);
        } else if (!json_is_object(next)) {
            qr_free(k);
            p->i = key_at;
            perr(p, "table name is already a value");
            goto fail;
        }
        qr_free(k);
        t = next;
        skip_ws(p);
        if (peek(p) == '.') {
            p->i++;
            continue;
        }
        if (peek(p) == ']') {
            p->i++;
            break;
        }
        perr(p, "expected '.' or ']' in table header");
        goto fail;
    }
    if (json_object_get(defined, full)) {
        p->i = p->line_start + (size_t)(column - 1);
        p->line = line;
        perr(p, "table defined twice");
        goto fail;
    }
    json_object_set_new(defined, full, json_true());
    note_pos(p, full, line, column);
    *cur = t;
    *path = full;
    return 0;
fail:
    qr_free(full);
    return -1;
}

/* After a statement: only spaces, a comment, then a newline or the end. */
static int end_of_line(parser *p)
{
    skip_ws(p);
    skip_comment(p);
    if (p->i >= p->len || newline(p))
        return 0;
    return perr(p, "unexpected text after the value (one key = value per line)");
}

quire_status qr_toml_parse(const char *text, size_t len, const char *name, json_t **out,
                           json_t **pos, quire_error *err)
{
    parser p = {text, len, 0, 1, 0, name ? name : "config", err, json_object(), 0};
    json_t *root = json_object();
    json_t *defined = json_object();
    json_t *cur = root;
    char *path = NULL;
    *out = NULL;
    if (pos)
        *pos = NULL;
    if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
        p.i = 3;
    while (p.i < p.len && !p.failed) {
        skip_ws(&p);
        skip_comment(&p);
        if (newline(&p) || p.i >= p.len)
            continue;
        int c = peek(&p);
        if (c == '[') {
            char *np = NULL;
            if (header(&p, root, defined, &cur, &np) != 0)
                break;
            qr_free(path);
            path = np;
        } else if (keyval(&p, cur, 0, path) != 0) {
            break;
        }
        if (end_of_line(&p) != 0)
            break;
    }
    qr_free(path);
    json_decref(defined);
    if (p.failed) {
        json_decref(root);
        json_decref(p.pos);
        return (quire_status)(err ? err->code : QUIRE_FORMAT);
    }
    *out = root;
    if (pos)
        *pos = p.pos;
    else
        json_decref(p.pos);
    return QUIRE_OK;
}
