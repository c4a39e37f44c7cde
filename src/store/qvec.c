/*
 * qvec.c — query vectors given by a client (`quire search --vector`, HTTP "vector"): a
 * JSON array of numbers, a base64 string of little-endian float32 bytes (the encoding of
 * exports and of /v1/embeddings with encoding_format "base64"), or an object with an
 * "embedding" or "vector" field holding either (a line of `quire embed`).
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "store/store_int.h"

#define QR_QVEC_MAX 65536

quire_status qr_qvec_from_json(const json_t *v, float **out, int *n, quire_error *err)
{
    *out = NULL;
    *n = 0;
    if (json_is_object(v)) {
        const json_t *e = json_object_get(v, "embedding");
        if (!e)
            e = json_object_get(v, "vector");
        if (!e)
            return qr_err(err, QUIRE_INVALID_ARG,
                          "query vector: an object needs an \"embedding\" or \"vector\" field");
        v = e;
    }
    if (json_is_array(v)) {
        size_t len = json_array_size(v);
        if (len == 0 || len > QR_QVEC_MAX)
            return qr_err(err, QUIRE_INVALID_ARG,
                          "query vector: %zu values (1 to %d expected)", len, QR_QVEC_MAX);
        float *f = qr_malloc(len * sizeof(float));
        if (!f)
            return qr_err(err, QUIRE_NOMEM, "out of memory");
        for (size_t i = 0; i < len; i++) {
            const json_t *x = json_array_get(v, i);
            double d = json_is_number(x) ? json_number_value(x) : NAN;
            if (!json_is_number(x) || !isfinite(d) || fabs(d) > 3.4e38) {
                qr_free(f);
                return qr_err(err, QUIRE_INVALID_ARG,
                              "query vector: value %zu is not a finite number", i);
            }
            f[i] = (float)d;
        }
        *out = f;
        *n = (int)len;
        return QUIRE_OK;
    }
    if (json_is_string(v)) {
        const char *raw = json_string_value(v);
        size_t rl = json_string_length(v), len = 0;
        char *s = qr_malloc(rl + 1); /* without the line breaks of wrapped base64 */
        if (!s)
            return qr_err(err, QUIRE_NOMEM, "out of memory");
        for (size_t i = 0; i < rl; i++)
            if (raw[i] != '\n' && raw[i] != '\r' && raw[i] != ' ' && raw[i] != '\t')
                s[len++] = raw[i];
        size_t cap = len / 4 * 3 + 3;
        unsigned char *b = qr_malloc(cap);
        if (!b) {
            qr_free(s);
            return qr_err(err, QUIRE_NOMEM, "out of memory");
        }
        long got = qr_base64_decode(s, len, b, cap);
        qr_free(s);
        if (got <= 0 || got % 4 != 0 || got / 4 > QR_QVEC_MAX) {
            qr_free(b);
            return qr_err(err, QUIRE_INVALID_ARG,
                          got < 0 ? "query vector: not a JSON array of numbers and not base64"
                                  : "query vector: %ld bytes of base64 is not a whole number "
                                    "of float32 values",
                          got);
        }
        *n = (int)(got / 4);
        *out = (float *)(void *)b; /* qr_malloc'd memory is aligned for float */
        for (int i = 0; i < *n; i++) {
            float x;
            memcpy(&x, b + 4 * (size_t)i, 4);
            (*out)[i] = x;
        }
        return QUIRE_OK;
    }
    return qr_err(err, QUIRE_INVALID_ARG,
                  "query vector: must be a JSON array of numbers or a base64 string of float32");
}

quire_status qr_qvec_parse(const char *text, size_t len, float **out, int *n, quire_error *err)
{
    *out = NULL;
    *n = 0;
    size_t a = 0;
    while (a < len && (text[a] == ' ' || text[a] == '\t' || text[a] == '\n' || text[a] == '\r'))
        a++;
    if (a == len)
        return qr_err(err, QUIRE_INVALID_ARG, "query vector: empty");
    quire_status rc;
    if (text[a] == '[' || text[a] == '{') {
        json_error_t je;
        /* the first JSON value only: a `quire embed` file has one object per line */
        json_t *j = json_loadb(text + a, len - a, JSON_DISABLE_EOF_CHECK, &je);
        if (!j)
            return qr_err(err, QUIRE_INVALID_ARG, "query vector: not valid JSON: %s (line %d)",
                          je.text, je.line);
        rc = qr_qvec_from_json(j, out, n, err);
        json_decref(j);
        return rc;
    }
    json_t *s = json_stringn_nocheck(text + a, len - a);
    if (!s)
        return qr_err(err, QUIRE_NOMEM, "out of memory");
    rc = qr_qvec_from_json(s, out, n, err);
    json_decref(s);
    return rc;
}
