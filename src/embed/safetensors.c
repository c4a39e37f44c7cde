/*
 * safetensors.c — a validating reader for Hugging Face .safetensors files.
 *
 * Everything in the header is untrusted: the 8-byte length may exceed the file, the
 * JSON may be malformed, offsets may point outside the data block or disagree with the
 * shape. Each case is rejected with QUIRE_FORMAT and a message naming the file and the
 * tensor, before any weight is read.
 */
#include <jansson.h>
#include <string.h>

#include "embed_int.h"

#define MAX_HEADER (100u << 20) /* 100 MB of JSON is far beyond any real model */

static int parse_dtype(const char *s, size_t *elem_size)
{
    static const struct {
        const char *name;
        int dt;
        size_t size;
    } table[] = {
        {"F32", QR_DT_F32, 4},   {"F16", QR_DT_F16, 2},   {"BF16", QR_DT_BF16, 2},
        {"F64", QR_DT_OTHER, 8}, {"I64", QR_DT_OTHER, 8}, {"I32", QR_DT_OTHER, 4},
        {"I16", QR_DT_OTHER, 2}, {"I8", QR_DT_OTHER, 1},  {"U8", QR_DT_OTHER, 1},
        {"BOOL", QR_DT_OTHER, 1}, {"U16", QR_DT_OTHER, 2}, {"U32", QR_DT_OTHER, 4},
        {"U64", QR_DT_OTHER, 8}, {"F8_E4M3", QR_DT_OTHER, 1}, {"F8_E5M2", QR_DT_OTHER, 1},
    };
    for (size_t i = 0; i < QR_ARRAY_LEN(table); i++) {
        if (strcmp(s, table[i].name) == 0) {
            *elem_size = table[i].size;
            return table[i].dt;
        }
    }
    return -1;
}

static quire_status parse_tensor(const qr_st_file *st, const char *name, json_t *info,
                                 const unsigned char *data, size_t data_len, qr_st_tensor *t,
                                 quire_error *err)
{
    const char *path = st->path;
    if (!json_is_object(info))
        return qr_err(err, QUIRE_FORMAT, "%s: tensor %s: header entry is not an object", path,
                      name);
    json_t *jdt = json_object_get(info, "dtype");
    json_t *jshape = json_object_get(info, "shape");
    json_t *joff = json_object_get(info, "data_offsets");
    if (!json_is_string(jdt))
        return qr_err(err, QUIRE_FORMAT, "%s: tensor %s: missing dtype", path, name);
    size_t esize = 0;
    int dt = parse_dtype(json_string_value(jdt), &esize);
    if (dt < 0)
        return qr_err(err, QUIRE_FORMAT, "%s: tensor %s: unknown dtype '%s'", path, name,
                      json_string_value(jdt));
    if (!json_is_array(jshape) || json_array_size(jshape) > 8)
        return qr_err(err, QUIRE_FORMAT, "%s: tensor %s: bad shape", path, name);
    if (!json_is_array(joff) || json_array_size(joff) != 2 ||
        !json_is_integer(json_array_get(joff, 0)) || !json_is_integer(json_array_get(joff, 1)))
        return qr_err(err, QUIRE_FORMAT, "%s: tensor %s: bad data_offsets", path, name);
    t->dtype = dt;
    t->n_dims = (int)json_array_size(jshape);
    uint64_t count = 1;
    for (int i = 0; i < t->n_dims; i++) {
        json_t *d = json_array_get(jshape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0 ||
            json_integer_value(d) > ((json_int_t)1 << 40))
            return qr_err(err, QUIRE_FORMAT, "%s: tensor %s: bad shape dimension %d", path,
                          name, i);
        t->shape[i] = (int64_t)json_integer_value(d);
        if (t->shape[i] && count > (UINT64_MAX >> 4) / (uint64_t)t->shape[i])
            return qr_err(err, QUIRE_FORMAT, "%s: tensor %s: shape too large", path, name);
        count *= (uint64_t)t->shape[i];
    }
    json_int_t b = json_integer_value(json_array_get(joff, 0));
    json_int_t e = json_integer_value(json_array_get(joff, 1));
    if (b < 0 || e < b || (uint64_t)e > data_len)
        return qr_err(err, QUIRE_FORMAT,
                      "%s: tensor %s: data_offsets [%lld, %lld] outside the data block "
                      "(%zu bytes)",
                      path, name, (long long)b, (long long)e, data_len);
    if ((uint64_t)(e - b) != count * esize)
        return qr_err(err, QUIRE_FORMAT,
                      "%s: tensor %s: %lld bytes of data but the shape needs %llu", path, name,
                      (long long)(e - b), (unsigned long long)(count * esize));
    t->data = data + b;
    t->n_bytes = (size_t)(e - b);
    return QUIRE_OK;
}

static quire_status parse_header(qr_st_file *st, const unsigned char *base, size_t hlen,
                                 quire_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)base + 8, hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return qr_err(err, QUIRE_FORMAT, "%s: header is not valid JSON (%s at byte %d)",
                      st->path, jerr.text, jerr.position);
    quire_status rc = QUIRE_OK;
    if (!json_is_object(root)) {
        rc = qr_err(err, QUIRE_FORMAT, "%s: header is not a JSON object", st->path);
        goto done;
    }
    size_t n = json_object_size(root);
    st->tensors = qr_calloc(n ? n : 1, sizeof(qr_st_tensor));
    if (!st->tensors) {
        rc = qr_err(err, QUIRE_NOMEM, "%s: out of memory", st->path);
        goto done;
    }
    const unsigned char *data = base + 8 + hlen;
    size_t data_len = st->map_len - 8 - hlen;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        qr_st_tensor *t = &st->tensors[st->n_tensors];
        rc = parse_tensor(st, key, val, data, data_len, t, err);
        if (rc != QUIRE_OK)
            goto done;
        t->name = qr_strdup(key);
        if (!t->name) {
            rc = qr_err(err, QUIRE_NOMEM, "%s: out of memory", st->path);
            goto done;
        }
        st->n_tensors++;
    }
done:
    json_decref(root);
    return rc;
}

quire_status qr_st_open(const char *path, qr_st_file *st, quire_error *err)
{
    memset(st, 0, sizeof(*st));
    st->path = path;
    quire_status rc = qr_file_map(path, &st->map, &st->map_len, err);
    if (rc != QUIRE_OK)
        return rc;
    const unsigned char *base = st->map;
    if (st->map_len < 8) {
        qr_st_close(st);
        return qr_err(err, QUIRE_FORMAT, "%s: truncated file (%zu bytes, no header)", path,
                      st->map_len);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | base[i];
    if (hlen > st->map_len - 8 || hlen > MAX_HEADER) {
        size_t flen = st->map_len;
        qr_st_close(st);
        return qr_err(err, QUIRE_FORMAT,
                      "%s: header length %llu goes beyond the end of the file (%zu bytes)",
                      path, (unsigned long long)hlen, flen);
    }
    rc = parse_header(st, base, (size_t)hlen, err);
    if (rc != QUIRE_OK) {
        qr_st_close(st);
        return rc;
    }
    return QUIRE_OK;
}

void qr_st_close(qr_st_file *st)
{
    for (size_t i = 0; i < st->n_tensors; i++)
        qr_free(st->tensors[i].name);
    qr_free(st->tensors);
    qr_file_unmap(st->map, st->map_len);
    memset(st, 0, sizeof(*st));
}

const qr_st_tensor *qr_st_find(const qr_st_file *st, const char *name)
{
    for (size_t i = 0; i < st->n_tensors; i++) {
        const char *tn = st->tensors[i].name;
        if (strcmp(tn, name) == 0)
            return &st->tensors[i];
        /* the base model's prefix inside a task model's checkpoint */
        static const char *const prefixes[] = {"bert.", "roberta.", "mpnet."};
        for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
            size_t pl = strlen(prefixes[p]);
            if (strncmp(tn, prefixes[p], pl) == 0 && strcmp(tn + pl, name) == 0)
                return &st->tensors[i];
        }
    }
    return NULL;
}

float qr_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) {
                mant <<= 1;
                exp--;
            }
            mant &= 0x3ff;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void qr_st_to_f32(const qr_st_tensor *t, size_t off, size_t n, float *dst)
{
    if (t->dtype == QR_DT_F32) {
        memcpy(dst, t->data + off * 4, n * 4);
        return;
    }
    const unsigned char *p = t->data + off * 2;
    for (size_t i = 0; i < n; i++) {
        uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
        if (t->dtype == QR_DT_F16) {
            dst[i] = qr_half_to_float(h);
        } else {
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&dst[i], &bits, 4);
        }
    }
}
