/*
 * config.c — reads the JSON side files of a sentence-transformers model folder:
 * config.json (architecture), sentence_bert_config.json (max_seq_length),
 * tokenizer_config.json (model_max_length), modules.json + <pooling>/config.json.
 * Every malformed file or field is QUIRE_FORMAT naming the file and the field.
 */
#include <jansson.h>
#include <string.h>

#include "embed_int.h"

#define MAX_JSON_FILE (16u << 20)

/* Load a JSON file; missing file -> *out NULL and QUIRE_OK when optional. */
static quire_status load_json(const char *dir, const char *name, int required, json_t **out,
                              quire_error *err)
{
    char path[4096];
    *out = NULL;
    if (qr_path_join(path, sizeof(path), dir, name) != 0)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: path too long", dir);
    if (!qr_file_exists(path)) {
        if (!required)
            return QUIRE_OK;
        return qr_err(err, QUIRE_NOT_FOUND, "%s: missing (is %s a model folder?)", path, dir);
    }
    char *text = NULL;
    size_t len = 0;
    quire_status rc = qr_file_read(path, MAX_JSON_FILE, &text, &len, err);
    if (rc != QUIRE_OK)
        return rc;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    qr_free(text);
    if (!root)
        return qr_err(err, QUIRE_FORMAT, "%s: invalid JSON: %s (line %d)", path, jerr.text,
                      jerr.line);
    if (!json_is_object(root)) {
        json_decref(root);
        return qr_err(err, QUIRE_FORMAT, "%s: expected a JSON object", path);
    }
    *out = root;
    return QUIRE_OK;
}

/* Integer field with bounds; absent -> def (or error if def < 0). */
static quire_status get_int(json_t *o, const char *file, const char *key, long def, long lo,
                            long hi, int *out, quire_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (def < 0)
            return qr_err(err, QUIRE_FORMAT, "%s: missing field \"%s\"", file, key);
        *out = (int)def;
        return QUIRE_OK;
    }
    if (!json_is_integer(v))
        return qr_err(err, QUIRE_FORMAT, "%s: field \"%s\" is not an integer", file, key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return qr_err(err, QUIRE_FORMAT, "%s: field \"%s\" = %lld is out of range [%ld, %ld]",
                      file, key, (long long)x, lo, hi);
    *out = (int)x;
    return QUIRE_OK;
}

static quire_status read_config(quire_model *m, const char *dir, quire_error *err)
{
    json_t *c = NULL;
    const char *f = "config.json";
    quire_status rc = load_json(dir, f, 1, &c, err);
    if (rc != QUIRE_OK)
        return rc;
    json_t *mt = json_object_get(c, "model_type");
    const char *mts = json_string_value(mt);
    m->arch = QR_ARCH_BERT;
    if (mts && strcmp(mts, "xlm-roberta") == 0)
        m->arch = QR_ARCH_XLMR;
    else if (mts && strcmp(mts, "mpnet") == 0)
        m->arch = QR_ARCH_MPNET;
    else if (mts && strcmp(mts, "nomic_bert") == 0) {
        char nfile[4200];
        snprintf(nfile, sizeof(nfile), "%s/%s", dir, f);
        rc = qr_nomic_read_config(m, c, nfile, err);
        goto done;
    } else if (mt && (!mts || strcmp(mts, "bert") != 0)) {
        rc = qr_err(err, QUIRE_UNSUPPORTED, "%s/%s: model_type \"%s\" is not supported (bert, "
                    "xlm-roberta, mpnet, nomic_bert)", dir, f, mts ? mts : "?");
        goto done;
    }
    json_t *act = json_object_get(c, "hidden_act");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "gelu") != 0)) {
        rc = qr_err(err, QUIRE_UNSUPPORTED, "%s/%s: hidden_act \"%s\" is not supported (gelu)",
                    dir, f, json_is_string(act) ? json_string_value(act) : "?");
        goto done;
    }
    json_t *pet = json_object_get(c, "position_embedding_type");
    if (pet && json_is_string(pet) && strcmp(json_string_value(pet), "absolute") != 0) {
        rc = qr_err(err, QUIRE_UNSUPPORTED,
                    "%s/%s: position_embedding_type \"%s\" is not supported (absolute)", dir, f,
                    json_string_value(pet));
        goto done;
    }
    char file[4200];
    snprintf(file, sizeof(file), "%s/%s", dir, f);
    if ((rc = get_int(c, file, "vocab_size", -1, 1, 1 << 22, &m->vocab_size, err)) ||
        (rc = get_int(c, file, "hidden_size", -1, 1, 1 << 16, &m->hidden, err)) ||
        (rc = get_int(c, file, "num_hidden_layers", -1, 1, 256, &m->n_layers, err)) ||
        (rc = get_int(c, file, "num_attention_heads", -1, 1, 1024, &m->n_heads, err)) ||
        (rc = get_int(c, file, "intermediate_size", -1, 1, 1 << 18, &m->inter, err)) ||
        (rc = get_int(c, file, "max_position_embeddings", 512, 1, 1 << 16, &m->max_pos, err)))
        goto done;
    /* MPNet has no token type table; XLM-R has one row */
    if (m->arch == QR_ARCH_MPNET)
        m->type_vocab = 0;
    else if ((rc = get_int(c, file, "type_vocab_size", m->arch == QR_ARCH_XLMR ? 1 : 2, 1, 1024,
                           &m->type_vocab, err)))
        goto done;
    if (m->arch != QR_ARCH_BERT) {
        if ((rc = get_int(c, file, "pad_token_id", 1, 0, m->vocab_size - 1, &m->pad_id, err)))
            goto done;
        if (m->max_pos < m->pad_id + 3) {
            rc = qr_err(err, QUIRE_FORMAT, "%s: max_position_embeddings %d leaves no positions "
                        "after padding_idx %d", file, m->max_pos, m->pad_id);
            goto done;
        }
    }
    if (m->arch == QR_ARCH_MPNET &&
        (rc = get_int(c, file, "relative_attention_num_buckets", 32, 32, 4096, &m->rel_buckets,
                      err)))
        goto done;
    if (m->hidden % m->n_heads != 0) {
        rc = qr_err(err, QUIRE_FORMAT,
                    "%s: hidden_size %d is not a multiple of num_attention_heads %d", file,
                    m->hidden, m->n_heads);
        goto done;
    }
    json_t *eps = json_object_get(c, "layer_norm_eps");
    m->ln_eps = 1e-12f;
    if (eps) {
        if (!json_is_number(eps) || json_number_value(eps) <= 0 || json_number_value(eps) > 1) {
            rc = qr_err(err, QUIRE_FORMAT, "%s: field \"layer_norm_eps\" is not a small positive "
                        "number", file);
            goto done;
        }
        m->ln_eps = (float)json_number_value(eps);
    }
done:
    json_decref(c);
    return rc;
}

/* max_seq_length (sentence_bert_config.json) > model_max_length (tokenizer_config.json)
 * > max_position_embeddings; never above max_position_embeddings. */
static quire_status read_max_tokens(quire_model *m, const char *dir, int requested,
                                    quire_error *err)
{
    json_t *sb = NULL, *tc = NULL;
    quire_status rc = load_json(dir, "sentence_bert_config.json", 0, &sb, err);
    if (rc == QUIRE_OK)
        rc = load_json(dir, "tokenizer_config.json", 0, &tc, err);
    if (rc != QUIRE_OK) {
        json_decref(sb);
        return rc;
    }
    /* XLM-R / MPNet positions start after padding_idx: 514 positions hold 512 tokens */
    int lim = m->arch == QR_ARCH_XLMR || m->arch == QR_ARCH_MPNET ? m->max_pos - m->pad_id - 1
                                                                  : m->max_pos;
    int max = lim;
    json_t *v = sb ? json_object_get(sb, "max_seq_length") : NULL;
    json_t *w = tc ? json_object_get(tc, "model_max_length") : NULL;
    if (v && json_is_integer(v) && json_integer_value(v) >= 2)
        max = (int)QR_MIN(json_integer_value(v), (json_int_t)lim);
    else if (w && json_is_integer(w) && json_integer_value(w) >= 2)
        max = (int)QR_MIN(json_integer_value(w), (json_int_t)lim);
    json_decref(sb);
    json_decref(tc);
    if (requested > 0) {
        if (requested < 2)
            return qr_err(err, QUIRE_INVALID_ARG, "max_tokens %d: must be at least 2", requested);
        if (requested > lim)
            return qr_err(err, QUIRE_INVALID_ARG,
                          "max_tokens %d exceeds the model's %d positions "
                          "(max_position_embeddings %d)", requested, lim, m->max_pos);
        max = requested;
    }
    m->max_tokens = max;
    return QUIRE_OK;
}

quire_status qr_model_read_configs(quire_model *m, const char *dir,
                                   const quire_model_params *p, quire_error *err)
{
    quire_status rc = read_config(m, dir, err);
    if (rc == QUIRE_OK)
        rc = qr_st_read_modules(m, dir, err);
    if (rc == QUIRE_OK)
        rc = qr_st_read_prompts(m, dir, err);
    if (rc == QUIRE_OK && m->arch == QR_ARCH_NOMIC)
        rc = qr_nomic_add_prompts(m, err);
    if (rc == QUIRE_OK)
        rc = read_max_tokens(m, dir, p ? p->max_tokens : 0, err);
    if (rc == QUIRE_OK && p && p->pooling) {
        if (!strcmp(quire_pooling_name(p->pooling), "?"))
            return qr_err(err, QUIRE_INVALID_ARG, "pooling %d: unknown mode", p->pooling);
        m->pooling = p->pooling;
    }
    return rc;
}
