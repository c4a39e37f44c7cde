/*
 * stconfig.c — the sentence-transformers side of a model folder, read as
 * sentence-transformers itself runs it:
 *   modules.json                       which modules run: the Pooling module's folder, and
 *                                      whether a Normalize module follows (no module -> the
 *                                      vectors are not normalised; no modules.json at all ->
 *                                      mean pooling without Normalize, as ST builds it)
 *   <Pooling>/config.json              exactly one pooling_mode_* flag: cls, mean, max,
 *                                      mean_sqrt_len, weightedmean, lasttoken; several at
 *                                      once (ST concatenates them) or include_prompt false
 *                                      are refused, never replaced by another mode
 *   config_sentence_transformers.json  "prompts" {name: text} and "default_prompt_name"
 * Every malformed file or field is QUIRE_FORMAT naming the file and the field.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "embed_int.h"

#define MAX_JSON_FILE (16u << 20)

static const struct {
    const char *key;
    const char *name;
    int mode;
} pool_modes[] = {
    {"pooling_mode_cls_token", "cls", QUIRE_POOLING_CLS},
    {"pooling_mode_mean_tokens", "mean", QUIRE_POOLING_MEAN},
    {"pooling_mode_max_tokens", "max", QUIRE_POOLING_MAX},
    {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len", QUIRE_POOLING_MEAN_SQRT_LEN},
    {"pooling_mode_weightedmean_tokens", "weightedmean", QUIRE_POOLING_WEIGHTEDMEAN},
    {"pooling_mode_lasttoken", "lasttoken", QUIRE_POOLING_LASTTOKEN},
};

const char *quire_pooling_name(int pooling)
{
    for (size_t i = 0; i < QR_ARRAY_LEN(pool_modes); i++)
        if (pool_modes[i].mode == pooling)
            return pool_modes[i].name;
    return "?";
}

int quire_pooling_from_name(const char *name)
{
    for (size_t i = 0; name && i < QR_ARRAY_LEN(pool_modes); i++)
        if (strcmp(pool_modes[i].name, name) == 0)
            return pool_modes[i].mode;
    return 0;
}

/* Parse path as JSON; absent -> *out NULL, QUIRE_OK. */
static quire_status load(const char *path, json_t **out, quire_error *err)
{
    *out = NULL;
    if (!qr_file_exists(path))
        return QUIRE_OK;
    char *text = NULL;
    size_t len = 0;
    quire_status rc = qr_file_read(path, MAX_JSON_FILE, &text, &len, err);
    if (rc != QUIRE_OK)
        return rc;
    json_error_t jerr;
    *out = json_loadb(text, len, 0, &jerr);
    qr_free(text);
    if (!*out)
        return qr_err(err, QUIRE_FORMAT, "%s: invalid JSON: %s (line %d)", path, jerr.text,
                      jerr.line);
    return QUIRE_OK;
}

/* The Pooling module's config.json: exactly one mode. */
static quire_status read_pool_config(quire_model *m, const char *path, json_t *pc,
                                     quire_error *err)
{
    if (!json_is_object(pc))
        return qr_err(err, QUIRE_FORMAT, "%s: expected a JSON object", path);
    char set[256] = "";
    int n_set = 0, mode = 0;
    for (size_t i = 0; i < QR_ARRAY_LEN(pool_modes); i++) {
        json_t *v = json_object_get(pc, pool_modes[i].key);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_boolean(v))
            return qr_err(err, QUIRE_FORMAT, "%s: field \"%s\" is not true or false", path,
                          pool_modes[i].key);
        if (json_is_true(v)) {
            size_t used = strlen(set);
            snprintf(set + used, sizeof(set) - used, "%s%s", n_set ? " + " : "",
                     pool_modes[i].name);
            mode = pool_modes[i].mode;
            n_set++;
        }
    }
    if (n_set > 1)
        return qr_err(err, QUIRE_UNSUPPORTED,
                      "%s: pooling %s (several modes, concatenated) is not supported", path,
                      set);
    if (n_set == 0)
        return qr_err(err, QUIRE_FORMAT, "%s: no pooling_mode_* field is true", path);
    json_t *ip = json_object_get(pc, "include_prompt");
    if (ip && !json_is_boolean(ip))
        return qr_err(err, QUIRE_FORMAT, "%s: field \"include_prompt\" is not true or false",
                      path);
    if (json_is_false(ip))
        return qr_err(err, QUIRE_UNSUPPORTED,
                      "%s: include_prompt false (pooling without the prompt's tokens) is not "
                      "supported",
                      path);
    m->pooling = mode;
    return QUIRE_OK;
}

quire_status qr_st_read_modules(quire_model *m, const char *dir, quire_error *err)
{
    char path[4096];
    m->pooling = QUIRE_POOLING_MEAN;
    m->normalize = 0;
    if (qr_path_join(path, sizeof(path), dir, "modules.json") != 0)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: path too long", dir);
    json_t *mods = NULL;
    quire_status rc = load(path, &mods, err);
    if (rc != QUIRE_OK || !mods)
        return rc;
    if (!json_is_array(mods)) {
        json_decref(mods);
        return qr_err(err, QUIRE_FORMAT, "%s: expected a JSON array of modules", path);
    }
    /* the Pooling module's folder, copied: it is used after mods is freed */
    char pool_dir[1024] = "";
    int has_pool = 0;
    size_t i;
    json_t *mod;
    json_array_foreach(mods, i, mod)
    {
        json_t *type = json_object_get(mod, "type");
        json_t *mpath = json_object_get(mod, "path");
        if (!json_is_object(mod) || !json_is_string(type)) {
            json_decref(mods);
            return qr_err(err, QUIRE_FORMAT, "%s: module %zu has no \"type\" string", path, i);
        }
        const char *t = json_string_value(type);
        if (strstr(t, "Pooling")) {
            if (!json_is_string(mpath)) {
                json_decref(mods);
                return qr_err(err, QUIRE_FORMAT, "%s: Pooling module has no \"path\" string",
                              path);
            }
            const char *pd = json_string_value(mpath);
            if (strlen(pd) >= sizeof(pool_dir) || strstr(pd, "..") || pd[0] == '/') {
                json_decref(mods);
                return qr_err(err, QUIRE_FORMAT,
                              "%s: pooling module path escapes the folder or is too long", path);
            }
            snprintf(pool_dir, sizeof(pool_dir), "%s", pd);
            has_pool = 1;
        }
        if (strstr(t, "Normalize"))
            m->normalize = 1;
    }
    json_decref(mods);
    if (!has_pool)
        return QUIRE_OK;
    char sub[4096];
    if (qr_path_join(sub, sizeof(sub), dir, pool_dir) != 0 ||
        qr_path_join(path, sizeof(path), sub, "config.json") != 0)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: path too long", dir);
    json_t *pc = NULL;
    if ((rc = load(path, &pc, err)) != QUIRE_OK)
        return rc;
    if (!pc)
        return QUIRE_OK; /* ST's Pooling default: mean */
    rc = read_pool_config(m, path, pc, err);
    json_decref(pc);
    return rc;
}

quire_status qr_st_read_prompts(quire_model *m, const char *dir, quire_error *err)
{
    char path[4096];
    if (qr_path_join(path, sizeof(path), dir, "config_sentence_transformers.json") != 0)
        return qr_err(err, QUIRE_INVALID_ARG, "%s: path too long", dir);
    json_t *c = NULL;
    quire_status rc = load(path, &c, err);
    if (rc != QUIRE_OK || !c)
        return rc;
    if (!json_is_object(c)) {
        json_decref(c);
        return qr_err(err, QUIRE_FORMAT, "%s: expected a JSON object", path);
    }
    json_t *pr = json_object_get(c, "prompts");
    json_t *def = json_object_get(c, "default_prompt_name");
    if (pr && !json_is_null(pr) && !json_is_object(pr)) {
        rc = qr_err(err, QUIRE_FORMAT, "%s: field \"prompts\" is not an object", path);
        goto done;
    }
    if (json_is_object(pr) && json_object_size(pr) > 0) {
        size_t n = json_object_size(pr);
        if (n > 1024) {
            rc = qr_err(err, QUIRE_FORMAT, "%s: field \"prompts\": more than 1024 prompts", path);
            goto done;
        }
        m->prompt_names = qr_calloc(n, sizeof(char *));
        m->prompt_texts = qr_calloc(n, sizeof(char *));
        if (!m->prompt_names || !m->prompt_texts) {
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
            goto done;
        }
        const char *key;
        json_t *v;
        json_object_foreach(pr, key, v)
        {
            if (!json_is_string(v)) {
                rc = qr_err(err, QUIRE_FORMAT, "%s: prompt \"%s\" is not a string", path, key);
                goto done;
            }
            int k = m->n_prompts;
            m->prompt_names[k] = qr_strdup(key);
            m->prompt_texts[k] = qr_strdup(json_string_value(v));
            m->n_prompts++;
            if (!m->prompt_names[k] || !m->prompt_texts[k]) {
                rc = qr_err(err, QUIRE_NOMEM, "out of memory");
                goto done;
            }
        }
    }
    if (def && !json_is_null(def)) {
        if (!json_is_string(def)) {
            rc = qr_err(err, QUIRE_FORMAT, "%s: field \"default_prompt_name\" is not a string",
                        path);
            goto done;
        }
        if (!quire_model_prompt(m, json_string_value(def))) {
            rc = qr_err(err, QUIRE_FORMAT,
                        "%s: default_prompt_name \"%s\" is not one of the prompts", path,
                        json_string_value(def));
            goto done;
        }
        m->default_prompt = qr_strdup(json_string_value(def));
        if (!m->default_prompt)
            rc = qr_err(err, QUIRE_NOMEM, "out of memory");
    }
done:
    json_decref(c);
    return rc;
}

/* Built-in task prompts for model families whose prefixes are documented by the model
 * card but not written into config_sentence_transformers.json (chosen by model_type). */
quire_status qr_st_add_prompt(quire_model *m, const char *name, const char *text)
{
    if (quire_model_prompt(m, name))
        return QUIRE_OK;
    char **nn = qr_realloc(m->prompt_names, (size_t)(m->n_prompts + 1) * sizeof(char *));
    if (!nn)
        return QUIRE_NOMEM;
    m->prompt_names = nn;
    char **nt = qr_realloc(m->prompt_texts, (size_t)(m->n_prompts + 1) * sizeof(char *));
    if (!nt)
        return QUIRE_NOMEM;
    m->prompt_texts = nt;
    nn[m->n_prompts] = qr_strdup(name);
    nt[m->n_prompts] = qr_strdup(text);
    m->n_prompts++;
    return nn[m->n_prompts - 1] && nt[m->n_prompts - 1] ? QUIRE_OK : QUIRE_NOMEM;
}

void qr_st_free(quire_model *m)
{
    for (int i = 0; i < m->n_prompts; i++) {
        qr_free(m->prompt_names[i]);
        qr_free(m->prompt_texts[i]);
    }
    qr_free(m->prompt_names);
    qr_free(m->prompt_texts);
    qr_free(m->default_prompt);
    m->prompt_names = m->prompt_texts = NULL;
    m->default_prompt = NULL;
    m->n_prompts = 0;
}

int quire_model_normalize(const quire_model *m) { return m ? m->normalize : 0; }

const char *quire_model_prompt(const quire_model *m, const char *name)
{
    if (!m || !name)
        return NULL;
    for (int i = 0; i < m->n_prompts; i++)
        if (m->prompt_names[i] && strcmp(m->prompt_names[i], name) == 0)
            return m->prompt_texts[i];
    return NULL;
}

int quire_model_prompt_count(const quire_model *m) { return m ? m->n_prompts : 0; }

const char *quire_model_prompt_name(const quire_model *m, int i)
{
    return m && i >= 0 && i < m->n_prompts ? m->prompt_names[i] : NULL;
}

const char *quire_model_default_prompt(const quire_model *m)
{
    return m ? m->default_prompt : NULL;
}

size_t quire_model_info(const quire_model *m, char *buf, size_t cap)
{
    qr_buf b;
    qr_buf_init(&b, 0);
    if (!m) {
        if (cap)
            buf[0] = 0;
        qr_buf_free(&b);
        return 0;
    }
    const char *d = m->describe;
    const char *comma = strchr(d, ',');
    int arch_len = comma ? (int)(comma - d) : (int)strlen(d);
    char tokf[4200];
    int has_json = qr_path_join(tokf, sizeof(tokf), m->dir, "tokenizer.json") == 0 &&
                   qr_file_exists(tokf);
    qr_buf_printf(&b, "model: %s\nfolder: %s\narchitecture: %.*s\ndescribe: %s\n", m->name,
                  m->dir, arch_len, d, d);
    qr_buf_printf(&b, "tokenizer: %s, %d entries\n", has_json ? "tokenizer.json" : "vocab.txt",
                  qr_tok_vocab_size(m->tok));
    qr_buf_printf(&b, "pooling: %s\nnormalize: %s\n", quire_pooling_name(m->pooling),
                  m->normalize ? "yes (modules.json has a Normalize module)"
                               : "no (no Normalize module in modules.json)");
    qr_buf_printf(&b, "prompts:");
    for (int i = 0; i < m->n_prompts; i++) {
        qr_buf_printf(&b, "%s %s=", i ? "," : "", m->prompt_names[i]);
        qr_buf_putc(&b, '"');
        for (const char *p = m->prompt_texts[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                qr_buf_putc(&b, '\\');
            if ((unsigned char)*p < 0x20)
                qr_buf_printf(&b, "\\u%04x", (unsigned)(unsigned char)*p);
            else
                qr_buf_putc(&b, *p);
        }
        qr_buf_putc(&b, '"');
    }
    qr_buf_printf(&b, "%s\n", m->n_prompts ? "" : " none");
    qr_buf_printf(&b, "default prompt: %s\n", m->default_prompt ? m->default_prompt : "none");
    qr_buf_printf(&b, "max tokens: %d\ndims: %d\n", m->max_tokens, m->hidden);
    qr_buf_printf(&b, "fingerprint: %s\n", quire_model_fingerprint(m));
    size_t need = b.failed ? 0 : b.len;
    if (cap) {
        size_t n = QR_MIN(need, cap - 1);
        if (n)
            memcpy(buf, b.data, n);
        buf[n] = 0;
    }
    qr_buf_free(&b);
    return need;
}
