/*
 * gamebook_text.c — what one gamebook section's text says: its choices ("turn to 123",
 * "go to 45", "If you are Lucky, turn to 7"), combat blocks (creature, SKILL, STAMINA),
 * item notes ("you find a Rope. Add it to your Adventure Sheet") and whether it is an
 * ending ("Your adventure ends here"). The text may come from OCR, so key words are
 * matched within a small edit distance and numbers are read through look-alike letters
 * (qr_gb_number); the test data is tests/tools/gen_gamebook.py's book in both forms.
 */
#include <string.h>

#include "export/gamebook_int.h"

typedef struct span {
    size_t s, e; /* [s, e) in the text */
} span;

static int is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* The digit a character looks like in OCR output, or -1. */
static int digit_of(char c, int *real)
{
    *real = c >= '0' && c <= '9';
    if (*real)
        return c - '0';
    switch (c) {
    case 'O': case 'o': case 'D': case 'Q':
        return 0;
    case 'l': case 'I': case 'i': case '|': case '!': case ']':
        return 1;
    case 'Z': case 'z':
        return 2;
    case 'S': case 's': case '$':
        return 5;
    case 'G': case 'b':
        return 6;
    case 'B':
        return 8;
    case 'g': case 'q':
        return 9;
    default:
        return -1;
    }
}

/* Bytes OCR puts before a number that are no part of it: brackets, quotes (also curly,
 * as UTF-8), dashes, a stray point ("to.254"). */
static size_t lead_noise(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int real;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80)
            i++; /* a byte of a UTF-8 quote or dash */
        else if (strchr("([\"'`-_~*.,", (char)c) && digit_of((char)c, &real) < 0)
            i++;
        else
            break;
    }
    return i;
}

long qr_gb_number(const char *s, size_t n, int loose)
{
    size_t lead = lead_noise(s, n);
    s += lead;
    n -= lead;
    while (n > 0 && strchr(".:,;)]\"", s[n - 1]))
        n--;
    if (n == 0 || n > 5)
        return -1;
    long v = 0;
    int any_real = 0;
    for (size_t i = 0; i < n; i++) {
        int real;
        int d = digit_of(s[i], &real);
        if (d < 0)
            return -1;
        any_real |= real;
        v = v * 10 + d;
    }
    if ((!any_real && !loose) || v <= 0 || v > QR_GB_MAX_NUMBER)
        return -1;
    return v;
}

/* ---- words ------------------------------------------------------------------------- */

static span *split_words(const char *t, size_t n, int *n_words)
{
    int cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += is_space(t[i]);
    span *w = qr_malloc(sizeof(*w) * (size_t)(cap + 1));
    *n_words = 0;
    if (!w)
        return NULL;
    size_t i = 0;
    while (i < n) {
        while (i < n && is_space(t[i]))
            i++;
        if (i >= n)
            break;
        size_t s = i;
        while (i < n && !is_space(t[i]))
            i++;
        w[(*n_words)++] = (span){s, i};
    }
    return w;
}

/* The ASCII letters and digits of a word, lower-cased (upper-cased when upper), into
 * k[cap]. */
static void word_key(const char *t, span w, char *k, size_t cap, int upper)
{
    size_t n = 0;
    for (size_t i = w.s; i < w.e && n + 1 < cap; i++) {
        char c = t[i];
        if (c >= 'A' && c <= 'Z' && !upper)
            c = (char)(c + 32);
        else if (c >= 'a' && c <= 'z' && upper)
            c = (char)(c - 32);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            k[n++] = c;
    }
    k[n] = '\0';
}

/* Levenshtein distance of two short strings (up to 31 bytes each; longer: 99). */
static int edit_dist(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 31 || nb > 31)
        return 99;
    int row[32];
    for (size_t j = 0; j <= nb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

static int is_turn_word(const char *k)
{
    static const char *const exact[] = {"turn", "tum", "go", "g0", "return", "turning",
                                        "going", "retum", NULL};
    for (int i = 0; exact[i]; i++)
        if (strcmp(k, exact[i]) == 0)
            return 1;
    size_t n = strlen(k);
    return n >= 3 && n <= 5 && (k[0] == 't' || k[0] == 'l') && edit_dist(k, "turn") <= 1;
}

static int is_to_word(const char *k)
{
    return strlen(k) == 2 && strchr("tli1", k[0]) && strchr("o0", k[1]);
}

/* ---- choices ----------------------------------------------------------------------- */

/* The sentence around [s, e): back to the previous sentence end or line break, on to
 * the next sentence end (kept) or line break. */
static span sentence_of(const char *t, size_t n, size_t s, size_t e)
{
    size_t a = s;
    while (a > 0 && t[a - 1] != '\n' &&
           !(a >= 2 && strchr(".!?", t[a - 2]) && is_space(t[a - 1])))
        a--;
    while (a < s && is_space(t[a]))
        a++;
    size_t b = e;
    if (!(b > s && strchr(".!?", t[b - 1]))) {
        while (b < n && t[b] != '\n' && !strchr(".!?", t[b]) && b - e < 400)
            b++;
        if (b < n && strchr(".!?", t[b]))
            b++;
    }
    return (span){a, b};
}

/* The number a choice's target word starts with: "64.", "77..[f", "64.‘If" (OCR ran the
 * next sentence on): the run of digits (and look-alikes) after any opening noise, when
 * what follows is no letter or digit. */
static long target_number(const char *s, size_t n)
{
    size_t i = lead_noise(s, n), e = i;
    int real;
    while (e < n && digit_of(s[e], &real) >= 0)
        e++;
    if (e == i || (e < n && ((s[e] >= '0' && s[e] <= '9') || ((s[e] | 32) >= 'a' &&
                                                               (s[e] | 32) <= 'z'))))
        return -1;
    return qr_gb_number(s + i, e - i, 1);
}

/* The number after "turn/go/return [back] to" at word i (the "to"), in words w[]. */
static long choice_target(const char *t, const span *w, int n_words, int i, int *num_word)
{
    char k[40];
    word_key(t, w[i], k, sizeof(k), 0);
    if (strncmp(k, "to", 2) == 0 && k[2]) { /* "to12": the number glued on */
        long v = qr_gb_number(t + w[i].s + 2, w[i].e - w[i].s - 2, 1);
        *num_word = i;
        return v;
    }
    if (!is_to_word(k))
        return -1;
    int j = i + 1;
    if (j < n_words) {
        word_key(t, w[j], k, sizeof(k), 0);
        if (strcmp(k, "section") == 0 || strcmp(k, "paragraph") == 0 ||
            strcmp(k, "number") == 0)
            j++;
    }
    if (j >= n_words)
        return -1;
    *num_word = j;
    return target_number(t + w[j].s, w[j].e - w[j].s);
}

/* The key of word w after its last inner punctuation ("archway,go" -> "go"): OCR drops
 * the space after a comma. */
static void tail_key(const char *t, span w, char *k, size_t cap)
{
    span x = w;
    for (size_t p = w.s; p + 1 < w.e; p++)
        if (strchr(",.;:!?)", t[p]))
            x.s = p + 1;
    word_key(t, x, k, cap, 0);
}

/* "turnto", "tum.to": a turn word and "to" run together (k is the word's key). */
static int glued_turn_to(const char *k)
{
    size_t n = strlen(k);
    if (n < 4 || n > 9 || strcmp(k + n - 2, "to") != 0)
        return 0;
    char head[8];
    memcpy(head, k, n - 2);
    head[n - 2] = '\0';
    return strcmp(head, "go") != 0 && is_turn_word(head);
}

static void put_choices(qr_buf *out, const char *t, size_t n, const span *w, int n_words)
{
    qr_buf_append(out, ",\"choices\":[", 12);
    int k_out = 0;
    for (int i = 1; i < n_words; i++) {
        char k[40];
        int first = i - 1;
        int num_word = -1;
        long v = -1;
        word_key(t, w[first], k, sizeof(k), 0);
        int glued = glued_turn_to(k);
        tail_key(t, w[first], k, sizeof(k));
        if (glued || glued_turn_to(k)) { /* "turnto 108.", "tum.to 172" */
            num_word = i;
            v = target_number(t + w[i].s, w[i].e - w[i].s);
        } else {
            if (strcmp(k, "back") == 0 && first > 0) { /* "turn back to 12" */
                first--;
                tail_key(t, w[first], k, sizeof(k));
            }
            if (!is_turn_word(k))
                continue;
            v = choice_target(t, w, n_words, i, &num_word);
        }
        if (v < 0)
            continue;
        span ph = sentence_of(t, n, w[first].s, w[num_word].e);
        qr_buf_printf(out, "%s{\"target\":%ld,\"phrase\":", k_out++ ? "," : "", v);
        qr_export_json_str(out, t + ph.s, ph.e - ph.s);
        qr_buf_append(out, ",\"text\":", 8);
        qr_export_json_str(out, t + w[first].s, w[num_word].e - w[first].s);
        qr_buf_putc(out, '}');
        i = num_word;
    }
    qr_buf_putc(out, ']');
}

/* ---- combat ------------------------------------------------------------------------ */

static int is_ordinal(const char *k)
{
    static const char *const ord[] = {"first", "second", "third", "fourth", "fifth", "sixth",
                                      NULL};
    for (int i = 0; ord[i]; i++)
        if (strcmp(k, ord[i]) == 0)
            return 1;
    return 0;
}

/* A creature name's word: capitals (OCR may put a lower-case look-alike among them),
 * or an ordinal ("First GOBLIN"). */
static int name_word(const char *t, span w)
{
    int up = 0, low = 0;
    for (size_t i = w.s; i < w.e; i++) {
        char c = t[i];
        up += c >= 'A' && c <= 'Z';
        low += c >= 'a' && c <= 'z';
    }
    if (up >= 1 && low == 0)
        return 1;
    if (up >= 3 && low <= 1)
        return 1;
    char k[40];
    word_key(t, w, k, sizeof(k), 0);
    return is_ordinal(k);
}

static int ends_sentence(const char *t, span w)
{
    char c = t[w.e - 1];
    return c == '.' || c == '!' || c == '?' || c == ':' || c == ';';
}

/* Is word w (upper-cased key, OCR's digits for letters mapped back) like `kw`? */
static int keyword(const char *t, span w, const char *kw, int max_dist)
{
    char k[40];
    word_key(t, w, k, sizeof(k), 1);
    for (char *p = k; *p; p++)
        *p = *p == '1' ? 'I' : *p == '0' ? 'O' : *p == '5' ? 'S' : *p;
    size_t n = strlen(k), m = strlen(kw);
    if (n + 2 < m || n > m + 2)
        return 0;
    return edit_dist(k, kw) <= max_dist;
}

static void put_combat(qr_buf *out, const char *t, const span *w, int n_words)
{
    qr_buf_append(out, ",\"combat\":[", 11);
    int k_out = 0;
    for (int i = 0; i + 3 < n_words; i++) {
        if (!keyword(t, w[i], "SKILL", 1))
            continue;
        long skill = qr_gb_number(t + w[i + 1].s, w[i + 1].e - w[i + 1].s, 1);
        int j = i + 2;
        if (skill < 0 && i + 4 < n_words) { /* "SKILL: 8" written "SKILL : 8" */
            skill = qr_gb_number(t + w[i + 2].s, w[i + 2].e - w[i + 2].s, 1);
            j = i + 3;
        }
        if (skill < 0 || skill > 99 || j + 1 >= n_words || !keyword(t, w[j], "STAMINA", 2))
            continue;
        long stamina = qr_gb_number(t + w[j + 1].s, w[j + 1].e - w[j + 1].s, 1);
        if (stamina < 0 && j + 2 < n_words)
            stamina = qr_gb_number(t + w[j + 2].s, w[j + 2].e - w[j + 2].s, 1);
        if (stamina < 0 || stamina > 999)
            continue;
        int a = i;
        while (a > 0 && i - a < 6 && name_word(t, w[a - 1]) && !ends_sentence(t, w[a - 1]) &&
               qr_gb_number(t + w[a - 1].s, w[a - 1].e - w[a - 1].s, 0) < 0)
            a--;
        qr_buf_printf(out, "%s{\"name\":", k_out++ ? "," : "");
        if (a == i) {
            qr_buf_append(out, "null", 4);
        } else {
            size_t e = w[i - 1].e;
            while (e > w[a].s && strchr(":,-", t[e - 1]))
                e--;
            qr_export_json_str(out, t + w[a].s, e - w[a].s);
        }
        qr_buf_printf(out, ",\"skill\":%ld,\"stamina\":%ld}", skill, stamina);
        i = j + 1;
    }
    qr_buf_putc(out, ']');
}

/* ---- items and endings ------------------------------------------------------------- */

/* The lower-case letters of t[0..n) (everything else dropped), NUL-terminated, with
 * map[i] = where letter i is in t. */
static char *letters_of(const char *t, size_t n, size_t **map, size_t *len)
{
    char *s = qr_malloc(n + 1);
    *map = qr_malloc(sizeof(**map) * (n + 1));
    *len = 0;
    if (!s || !*map) {
        qr_free(s);
        qr_free(*map);
        *map = NULL;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c >= 'a' && c <= 'z') {
            (*map)[*len] = i;
            s[(*len)++] = c;
        }
    }
    s[*len] = '\0';
    return s;
}

/* Where pat occurs in s[0..n) with at most k edits (Sellers): the end of the first such
 * occurrence (exclusive), or 0 when there is none. */
static size_t fuzzy_find(const char *s, size_t n, size_t from, const char *pat, int k)
{
    size_t m = strlen(pat);
    int col[48];
    if (m >= 48)
        return 0;
    for (size_t j = 0; j <= m; j++)
        col[j] = (int)j;
    for (size_t i = from; i < n; i++) {
        int diag = col[0]; /* col[0] stays 0: a match may start anywhere */
        for (size_t j = 1; j <= m; j++) {
            int up = col[j];
            int best = diag + (s[i] != pat[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (col[j - 1] + 1 < best)
                best = col[j - 1] + 1;
            col[j] = best;
            diag = up;
        }
        if (col[m] <= k)
            return i + 1;
    }
    return 0;
}

static const char *ending_of(const char *s, size_t n)
{
    static const char *const death[] = {"youradventureendshere", "youradventureisover",
                                        "youradventureisatanend", "youhavefailedinyourquest",
                                        NULL};
    static const char *const victory[] = {"youhavecompletedyourquest", "youhavewon",
                                          "youarevictorious", "congratulations", NULL};
    for (int i = 0; victory[i]; i++)
        if (fuzzy_find(s, n, 0, victory[i], (int)strlen(victory[i]) / 8))
            return "victory";
    for (int i = 0; death[i]; i++)
        if (fuzzy_find(s, n, 0, death[i], (int)strlen(death[i]) / 8))
            return "death";
    return NULL;
}

/* The item a sentence names after "find/take/... a|an|the|some", up to its end. */
static int item_name(const char *t, span sent, span *name)
{
    static const char *const verbs[] = {"find", "finds", "found", "take", "takes", "pick",
                                        "receive", "gives", "give", "discover", NULL};
    int nw = 0;
    span *w = split_words(t + sent.s, sent.e - sent.s, &nw);
    if (!w)
        return 0;
    int ok = 0;
    for (int i = 0; i + 2 < nw && !ok; i++) {
        char k[40];
        word_key(t + sent.s, w[i], k, sizeof(k), 0);
        int verb = 0;
        for (int v = 0; verbs[v]; v++)
            verb |= strcmp(k, verbs[v]) == 0;
        if (!verb)
            continue;
        word_key(t + sent.s, w[i + 1], k, sizeof(k), 0);
        if (strcmp(k, "a") && strcmp(k, "an") && strcmp(k, "the") && strcmp(k, "some"))
            continue;
        size_t e = w[nw - 1].e;
        while (e > w[i + 2].s && strchr(".!?,;:", t[sent.s + e - 1]))
            e--;
        *name = (span){sent.s + w[i + 2].s, sent.s + e};
        ok = 1;
    }
    qr_free(w);
    return ok;
}

static void put_items(qr_buf *out, const char *t, size_t n, const char *ls, const size_t *map,
                      size_t ln)
{
    qr_buf_append(out, ",\"items\":[", 10);
    int k_out = 0;
    size_t from = 0, end;
    while ((end = fuzzy_find(ls, ln, from, "adventuresheet", 2)) != 0) {
        size_t at = map[end - 1];
        span sent = sentence_of(t, n, at, at + 1);
        span prev = sent.s > 1 ? sentence_of(t, n, sent.s - 2, sent.s - 1) : sent;
        span name = {0, 0};
        int named = item_name(t, sent, &name) || (prev.s < sent.s && item_name(t, prev, &name));
        size_t a = named && name.s < sent.s ? prev.s : sent.s;
        int lose = 0;
        for (size_t i = a; i + 5 < sent.e && !lose; i++)
            lose = strncmp(t + i, "cross", 5) == 0 || strncmp(t + i, "Cross", 5) == 0 ||
                   strncmp(t + i, "remove", 6) == 0 || strncmp(t + i, "Remove", 6) == 0;
        qr_buf_printf(out, "%s{\"name\":", k_out++ ? "," : "");
        if (named)
            qr_export_json_str(out, t + name.s, name.e - name.s);
        else
            qr_buf_append(out, "null", 4);
        qr_buf_printf(out, ",\"action\":\"%s\",\"text\":", lose ? "lose" : "gain");
        qr_export_json_str(out, t + a, sent.e - a);
        qr_buf_putc(out, '}');
        from = end;
    }
    qr_buf_putc(out, ']');
}

void qr_gb_put_analysis(qr_buf *out, const char *text, size_t len)
{
    int n_words = 0;
    span *w = split_words(text, len, &n_words);
    size_t *map = NULL, ln = 0;
    char *ls = w ? letters_of(text, len, &map, &ln) : NULL;
    if (!w || !ls) {
        qr_free(w);
        out->failed = 1;
        return;
    }
    put_choices(out, text, len, w, n_words);
    put_combat(out, text, w, n_words);
    put_items(out, text, len, ls, map, ln);
    const char *end = ending_of(ls, ln);
    qr_buf_append(out, ",\"ending\":", 10);
    if (end)
        qr_buf_printf(out, "\"%s\"", end);
    else
        qr_buf_append(out, "null", 4);
    qr_free(ls);
    qr_free(map);
    qr_free(w);
}
