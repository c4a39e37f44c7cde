/*
 * where.c — Chroma-style metadata filters compiled to SQL over documents `d`:
 *   {"year": {"$gte": 2020}, "tag": {"$in": ["a", "b"]}}      (keys: implicit $and)
 *   {"$or": [{"lang": "en"}, {"lang": {"$eq": "de"}}]}
 * operators $eq $ne $gt $gte $lt $lte $in $nin $and $or; a bare value means $eq. Field
 * "path" is the document key (d.path); every other field is json_extract(d.meta, '$."f"').
 * Values are bound parameters (never spliced into the SQL); field names are bound too.
 * $ne and $nin also match documents without the field (as Chroma does).
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"

static quire_status bad(quire_error *err, const char *what, const char *detail)
{
    return qr_err(err, QUIRE_INVALID_ARG, "where: %s%s%s", what, detail ? ": " : "",
                  detail ? detail : "");
}

static int add_param(qr_where *w, json_t *v)
{
    if (w->n_params == QR_WHERE_MAX_PARAMS)
        return -1;
    w->params[w->n_params++] = json_incref(v);
    return 0;
}

static int add_field(qr_where *w, const char *field, qr_buf *b)
{
    if (strcmp(field, "path") == 0) {
        qr_buf_printf(b, "d.path");
        return 0;
    }
    char path[300];
    if (snprintf(path, sizeof path, "$.\"%s\"", field) >= (int)sizeof path)
        return -1;
    json_t *s = json_string(path);
    if (!s || add_param(w, s) != 0) {
        json_decref(s);
        return -1;
    }
    json_decref(s);
    qr_buf_printf(b, "json_extract(d.meta, ?)");
    return 0;
}

static int scalar(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

static quire_status compile(qr_where *w, json_t *j, qr_buf *b, int depth, quire_error *err);

static quire_status field_op(qr_where *w, const char *field, const char *op, json_t *v,
                             qr_buf *b, quire_error *err)
{
    static const char *const ops[][2] = {{"$eq", "="}, {"$ne", "!="}, {"$gt", ">"},
                                         {"$gte", ">="}, {"$lt", "<"}, {"$lte", "<="}};
    if (!field[0] || strlen(field) > 200 || strpbrk(field, "\"\\"))
        return bad(err, "field names must be 1-200 characters without quotes", field);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(op, ops[i][0]) != 0)
            continue;
        if (!scalar(v))
            return bad(err, op, "needs a string, number or boolean");
        if (i >= 2 && json_is_boolean(v))
            return bad(err, op, "cannot compare booleans by order");
        int ne = i == 1;
        qr_buf_printf(b, ne ? "(" : "");
        if (add_field(w, field, b) != 0)
            return bad(err, "too many values", NULL);
        qr_buf_printf(b, " %s ?", ops[i][1]);
        if (add_param(w, v) != 0)
            return bad(err, "too many values", NULL);
        if (ne) {
            qr_buf_printf(b, " OR ");
            if (add_field(w, field, b) != 0)
                return bad(err, "too many values", NULL);
            qr_buf_printf(b, " IS NULL)");
        }
        return QUIRE_OK;
    }
    if (strcmp(op, "$in") == 0 || strcmp(op, "$nin") == 0) {
        int nin = op[1] == 'n';
        if (!json_is_array(v) || json_array_size(v) == 0)
            return bad(err, op, "needs a non-empty array");
        qr_buf_printf(b, "(");
        if (add_field(w, field, b) != 0)
            return bad(err, "too many values", NULL);
        qr_buf_printf(b, nin ? " NOT IN (" : " IN (");
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (!scalar(x))
                return bad(err, op, "values must be strings, numbers or booleans");
            qr_buf_printf(b, i ? ", ?" : "?");
            if (add_param(w, x) != 0)
                return bad(err, "too many values", NULL);
        }
        qr_buf_printf(b, ")");
        if (nin) {
            qr_buf_printf(b, " OR ");
            if (add_field(w, field, b) != 0)
                return bad(err, "too many values", NULL);
            qr_buf_printf(b, " IS NULL");
        }
        qr_buf_printf(b, ")");
        return QUIRE_OK;
    }
    return bad(err, "unknown operator", op);
}

static quire_status compile(qr_where *w, json_t *j, qr_buf *b, int depth, quire_error *err)
{
    if (depth > 16)
        return bad(err, "nested too deeply", NULL);
    if (!json_is_object(j) || json_object_size(j) == 0)
        return bad(err, "each filter must be a non-empty JSON object", NULL);
    const char *key;
    json_t *v;
    int first = 1;
    qr_buf_printf(b, "(");
    json_object_foreach(j, key, v) {
        if (!first)
            qr_buf_printf(b, " AND ");
        first = 0;
        quire_status rc = QUIRE_OK;
        if (strcmp(key, "$and") == 0 || strcmp(key, "$or") == 0) {
            if (!json_is_array(v) || json_array_size(v) == 0)
                return bad(err, key, "needs a non-empty array of filters");
            qr_buf_printf(b, "(");
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x) {
                if (i)
                    qr_buf_printf(b, key[1] == 'a' ? " AND " : " OR ");
                if ((rc = compile(w, x, b, depth + 1, err)) != QUIRE_OK)
                    return rc;
            }
            qr_buf_printf(b, ")");
        } else if (key[0] == '$') {
            return bad(err, "unknown operator at the top of a filter", key);
        } else if (json_is_object(v)) {
            if (json_object_size(v) == 0)
                return bad(err, "an empty condition for field", key);
            const char *op;
            json_t *ov;
            int f2 = 1;
            json_object_foreach(v, op, ov) {
                if (!f2)
                    qr_buf_printf(b, " AND ");
                f2 = 0;
                if ((rc = field_op(w, key, op, ov, b, err)) != QUIRE_OK)
                    return rc;
            }
        } else if ((rc = field_op(w, key, "$eq", v, b, err)) != QUIRE_OK) {
            return rc;
        }
    }
    qr_buf_printf(b, ")");
    return QUIRE_OK;
}

quire_status qr_where_compile(const char *json, qr_where *w, quire_error *err)
{
    memset(w, 0, sizeof(*w));
    if (!json)
        return QUIRE_OK;
    json_error_t je;
    json_t *j = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return qr_err(err, QUIRE_INVALID_ARG, "where: not valid JSON (%s, column %d)", je.text,
                      je.column);
    qr_buf b;
    qr_buf_init(&b, 1 << 16);
    quire_status rc = compile(w, j, &b, 0, err);
    json_decref(j);
    if (rc == QUIRE_OK && b.failed)
        rc = qr_err(err, QUIRE_LIMIT, "where: the filter is too large");
    qr_buf_putc(&b, 0);
    if (rc != QUIRE_OK) {
        qr_buf_free(&b);
        qr_where_free(w);
        return rc;
    }
    w->sql = b.data;
    return QUIRE_OK;
}

void qr_where_bind(const qr_where *w, sqlite3_stmt *s, int first)
{
    for (int i = 0; i < w->n_params; i++) {
        json_t *v = w->params[i];
        int at = first + i;
        if (json_is_string(v))
            sqlite3_bind_text(s, at, json_string_value(v), -1, SQLITE_STATIC);
        else if (json_is_integer(v))
            sqlite3_bind_int64(s, at, json_integer_value(v));
        else if (json_is_real(v))
            sqlite3_bind_double(s, at, json_real_value(v));
        else if (json_is_boolean(v))
            sqlite3_bind_int(s, at, json_is_true(v));
        else
            sqlite3_bind_null(s, at);
    }
}

void qr_where_free(qr_where *w)
{
    for (int i = 0; i < w->n_params; i++)
        json_decref(w->params[i]);
    qr_free(w->sql);
    memset(w, 0, sizeof(*w));
}
