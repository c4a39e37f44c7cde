/*
 * gamebook_check.c — quire_gamebook_validate: the checks a gamebook export
 * (docs/gamebook.md) must pass before a reader can play it: every choice leads to a
 * section that exists, every section can be reached from the first one (breadth-first
 * over the choices), no number is used twice, no section without choices that is not
 * an ending, no number missing between the first and the last.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "quire.h"

typedef struct vsec {
    long number;
    int page;
    int n_choices;
    long *targets;
    int ending;
} vsec;

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Index of number v in the sorted unique numbers u[0..n), or -1. */
static long find(const long *u, long n, long v)
{
    const long *p = bsearch(&v, u, (size_t)n, sizeof(long), cmp_long);
    return p ? p - u : -1;
}

static void add_error(qr_buf *r, int *n_err, const char *kind, long section, long target,
                      int page, const char *msg)
{
    qr_buf_printf(r, "%s{\"kind\":\"%s\",\"section\":%ld", (*n_err)++ ? "," : "", kind, section);
    if (target >= 0)
        qr_buf_printf(r, ",\"target\":%ld", target);
    if (page > 0)
        qr_buf_printf(r, ",\"page\":%d", page);
    qr_buf_append(r, ",\"message\":", 11);
    qr_export_json_str(r, msg, strlen(msg));
    qr_buf_putc(r, '}');
}

static quire_status load(json_t *root, vsec **out, int *n, quire_error *err)
{
    json_t *schema = json_object_get(root, "schema");
    if (schema && (!json_is_string(schema) ||
                   strcmp(json_string_value(schema), "quire-gamebook") != 0))
        return qr_err(err, QUIRE_FORMAT, "gamebook: \"schema\" is not \"quire-gamebook\"");
    json_t *secs = json_object_get(root, "sections");
    if (!json_is_array(secs))
        return qr_err(err, QUIRE_FORMAT, "gamebook: no \"sections\" array");
    *n = (int)json_array_size(secs);
    *out = qr_calloc((size_t)(*n + 1), sizeof(**out));
    if (!*out)
        return qr_err(err, QUIRE_NOMEM, "gamebook: out of memory");
    for (int i = 0; i < *n; i++) {
        json_t *s = json_array_get(secs, (size_t)i);
        json_t *num = json_object_get(s, "number"), *ch = json_object_get(s, "choices");
        if (!json_is_integer(num) || (ch && !json_is_array(ch)))
            return qr_err(err, QUIRE_FORMAT, "gamebook: sections[%d]: \"number\" must be an "
                          "integer and \"choices\" an array", i);
        vsec *v = &(*out)[i];
        v->number = (long)json_integer_value(num);
        v->page = (int)json_integer_value(json_object_get(s, "page"));
        json_t *end = json_object_get(s, "ending");
        v->ending = json_is_string(end);
        v->n_choices = ch ? (int)json_array_size(ch) : 0;
        v->targets = qr_calloc((size_t)(v->n_choices + 1), sizeof(long));
        if (!v->targets)
            return qr_err(err, QUIRE_NOMEM, "gamebook: out of memory");
        for (int c = 0; c < v->n_choices; c++) {
            json_t *t = json_object_get(json_array_get(ch, (size_t)c), "target");
            if (!json_is_integer(t))
                return qr_err(err, QUIRE_FORMAT, "gamebook: sections[%d].choices[%d]: "
                              "\"target\" must be an integer", i, c);
            v->targets[c] = (long)json_integer_value(t);
        }
    }
    return QUIRE_OK;
}

/* Breadth-first from the first number: reached[k] for the unique numbers u[k]. */
static void reach(const vsec *s, int n, const long *u, long nu, char *reached, long *queue)
{
    long head = 0, tail = 0;
    reached[0] = 1;
    queue[tail++] = u[0];
    while (head < tail) {
        long v = queue[head++];
        for (int i = 0; i < n; i++) {
            if (s[i].number != v)
                continue;
            for (int c = 0; c < s[i].n_choices; c++) {
                long k = find(u, nu, s[i].targets[c]);
                if (k >= 0 && !reached[k]) {
                    reached[k] = 1;
                    queue[tail++] = u[k];
                }
            }
        }
    }
}

static void check(const vsec *s, int n, long *u, char *reached, long *queue, qr_buf *r,
                  int *n_err)
{
    char msg[160];
    long nu = 0;
    for (int i = 0; i < n; i++)
        u[nu++] = s[i].number;
    qsort(u, (size_t)nu, sizeof(long), cmp_long);
    long w = 0;
    for (long i = 0; i < nu; i++) {
        if (w > 0 && u[w - 1] == u[i]) {
            if (i < 2 || u[i - 2] != u[i]) { /* once per repeated number */
                snprintf(msg, sizeof(msg), "section %ld: the number is used more than once",
                         u[i]);
                int page = 0, seen = 0;
                for (int j = 0; j < n && !page; j++)
                    if (s[j].number == u[i] && seen++)
                        page = s[j].page;
                add_error(r, n_err, "duplicate", u[i], -1, page, msg);
            }
            continue;
        }
        u[w++] = u[i];
    }
    nu = w;
    for (long k = 1; k < nu; k++)
        for (long m = u[k - 1] + 1; m < u[k] && m - u[k - 1] < 1000; m++) {
            snprintf(msg, sizeof(msg), "section %ld is missing (between %ld and %ld)", m,
                     u[k - 1], u[k]);
            add_error(r, n_err, "missing_section", m, -1, 0, msg);
        }
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < s[i].n_choices; c++)
            if (find(u, nu, s[i].targets[c]) < 0) {
                snprintf(msg, sizeof(msg), "section %ld: choice \"turn to %ld\" leads to a "
                         "section that does not exist", s[i].number, s[i].targets[c]);
                add_error(r, n_err, "missing_target", s[i].number, s[i].targets[c], s[i].page,
                          msg);
            }
        if (s[i].n_choices == 0 && !s[i].ending) {
            snprintf(msg, sizeof(msg), "section %ld: no choices and not an ending (a dead end)",
                     s[i].number);
            add_error(r, n_err, "dead_end", s[i].number, -1, s[i].page, msg);
        }
    }
    if (nu == 0)
        return;
    reach(s, n, u, nu, reached, queue);
    for (long k = 0; k < nu; k++)
        if (!reached[k]) {
            int page = 0;
            for (int i = 0; i < n && !page; i++)
                page = s[i].number == u[k] ? s[i].page : 0;
            snprintf(msg, sizeof(msg), "section %ld: no chain of choices from section %ld leads "
                     "here (unreachable)", u[k], u[0]);
            add_error(r, n_err, "unreachable", u[k], -1, page, msg);
        }
}

quire_status quire_gamebook_validate(const char *json, size_t len, char **report, int *n_errors,
                                     quire_error *err)
{
    if (!json || !report || !n_errors)
        return qr_err(err, QUIRE_INVALID_ARG, "gamebook: bad arguments");
    *report = NULL;
    *n_errors = 0;
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root)
        return qr_err(err, QUIRE_FORMAT, "gamebook: line %d, column %d: %s", je.line,
                      je.column, je.text);
    vsec *s = NULL;
    int n = 0;
    quire_status st = load(root, &s, &n, err);
    long *u = qr_calloc((size_t)(n + 1), sizeof(long));
    long *queue = qr_calloc((size_t)(n + 1), sizeof(long));
    char *reached = qr_calloc((size_t)(n + 1), 1);
    if (st == QUIRE_OK && (!u || !queue || !reached))
        st = qr_err(err, QUIRE_NOMEM, "gamebook: out of memory");
    if (st == QUIRE_OK) {
        qr_buf r;
        qr_buf_init(&r, 0);
        qr_buf_append(&r, "{\"errors\":[", 11);
        check(s, n, u, reached, queue, &r, n_errors);
        qr_buf_printf(&r, "],\"n_errors\":%d,\"n_sections\":%d,\"ok\":%s}", *n_errors, n,
                      *n_errors ? "false" : "true");
        qr_buf_putc(&r, '\0');
        if (r.failed) {
            qr_buf_free(&r);
            st = qr_err(err, QUIRE_NOMEM, "gamebook: out of memory");
        } else {
            *report = r.data;
        }
    }
    for (int i = 0; s && i < n; i++)
        qr_free(s[i].targets);
    qr_free(s);
    qr_free(u);
    qr_free(queue);
    qr_free(reached);
    json_decref(root);
    return st;
}
