/*
 * nomic.c — NomicBERT (model_type "nomic_bert", nomic-embed-text-v1 / v1.5) as the
 * original modeling code (contrastors' modeling_hf_nomic_bert.py) computes it:
 *
 *   x = LN_emb(word[id] + token_type[0])                 no absolute positions
 *   per layer (post-LN, as BERT, no biases anywhere):
 *     q, k, v = x Wqkv^T split as (three, heads, head_dim)   fused Wqkv [3H][H]
 *     rotary on q and k: the first rot_dim = head_dim * rotary_emb_fraction values of every
 *       head; non-interleaved (GPT-NeoX "rotate_half": i pairs with i + rot_dim/2) unless
 *       rotary_emb_interleaved (GPT-J: 2i with 2i+1); angle = pos * inv_freq[i] with
 *       inv_freq[i] = 1 / base^(2i / rot_dim), all in float32 as the original builds its
 *       cos/sin cache
 *     x = norm1(x + softmax(q k^T / sqrt(d)) v Wout^T)
 *     x = norm2(x + fc2(fc11(x) * silu(fc12(x))))         SwiGLU; width n_inner rounded up
 *                                                         to a multiple of 256
 *   mean pooling over all tokens ([CLS]/[SEP] included; modules.json has no Normalize)
 *
 * Long inputs: n_positions (8192) tokens are accepted; past max_trained_positions (2048)
 * the rotary base is left as it is unless config.json sets rotary_scaling_factor f, in
 * which case a sequence of T > max_trained tokens uses dynamic NTK scaling with its own
 * length: base' = base * (f * T / max_trained - (f - 1))^(rot_dim / (rot_dim - 2)).
 *
 * Matryoshka (v1.5): layer_norm without affine over the pooled vector, keep the first D
 * values, L2-normalise (quire_model_shorten). A layer norm without affine is
 * (x - mean) * c for a positive scalar c, and the L2 normalisation removes c, so this is
 * L2((x - mean(x))[:D]) whatever the scale of x (normalised or not) and whatever eps.
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "embed_int.h"

/* Optional boolean that must have the value `want` for the model to be supported. */
static quire_status need_bool(json_t *c, const char *file, const char *key, int want,
                              const char *what, quire_error *err)
{
    json_t *v = json_object_get(c, key);
    if (!v || json_is_null(v))
        return QUIRE_OK;
    if (!json_is_boolean(v))
        return qr_err(err, QUIRE_FORMAT, "%s: field \"%s\" is not true or false", file, key);
    if (json_is_true(v) != want)
        return qr_err(err, QUIRE_UNSUPPORTED, "%s: %s %s is not supported (nomic_bert)", file,
                      key, want ? "false" : "true");
    (void)what;
    return QUIRE_OK;
}

static quire_status get_num(json_t *c, const char *file, const char *key, double def,
                            double lo, double hi, double *out, quire_error *err)
{
    json_t *v = json_object_get(c, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return QUIRE_OK;
    }
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
        return qr_err(err, QUIRE_FORMAT, "%s: field \"%s\" is not a number in [%g, %g]", file,
                      key, lo, hi);
    *out = json_number_value(v);
    return QUIRE_OK;
}

static quire_status get_i(json_t *c, const char *file, const char *key, long def, long lo,
                          long hi, int *out, quire_error *err)
{
    json_t *v = json_object_get(c, key);
    if (!v || json_is_null(v)) {
        if (def < 0)
            return qr_err(err, QUIRE_FORMAT, "%s: missing field \"%s\"", file, key);
        *out = (int)def;
        return QUIRE_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return qr_err(err, QUIRE_FORMAT, "%s: field \"%s\" is not an integer in [%ld, %ld]",
                      file, key, lo, hi);
    *out = (int)json_integer_value(v);
    return QUIRE_OK;
}

quire_status qr_nomic_read_config(quire_model *m, json_t *c, const char *file, quire_error *err)
{
    quire_status rc;
    m->arch = QR_ARCH_NOMIC;
    json_t *act = json_object_get(c, "activation_function");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "swiglu") != 0))
        return qr_err(err, QUIRE_UNSUPPORTED,
                      "%s: activation_function \"%s\" is not supported (nomic_bert: swiglu)",
                      file, json_is_string(act) ? json_string_value(act) : "?");
    if ((rc = need_bool(c, file, "prenorm", 0, "", err)) ||
        (rc = need_bool(c, file, "parallel_block", 0, "", err)) ||
        (rc = need_bool(c, file, "use_rms_norm", 0, "", err)) ||
        (rc = need_bool(c, file, "causal", 0, "", err)) ||
        (rc = need_bool(c, file, "qkv_proj_bias", 0, "", err)) ||
        (rc = need_bool(c, file, "mlp_fc1_bias", 0, "", err)) ||
        (rc = need_bool(c, file, "mlp_fc2_bias", 0, "", err)))
        return rc;
    json_t *sb = json_object_get(c, "rotary_emb_scale_base");
    if (sb && !json_is_null(sb))
        return qr_err(err, QUIRE_UNSUPPORTED,
                      "%s: rotary_emb_scale_base (xPos) is not supported (nomic_bert)", file);
    int vocab, mult, inner = 0;
    if ((rc = get_i(c, file, "vocab_size", -1, 1, 1 << 22, &vocab, err)) ||
        (rc = get_i(c, file, "pad_vocab_size_multiple", 1, 1, 1 << 16, &mult, err)) ||
        (rc = get_i(c, file, "n_embd", -1, 1, 1 << 16, &m->hidden, err)) ||
        (rc = get_i(c, file, "n_layer", -1, 1, 256, &m->n_layers, err)) ||
        (rc = get_i(c, file, "n_head", -1, 1, 1024, &m->n_heads, err)) ||
        (rc = get_i(c, file, "n_positions", 2048, 2, 1 << 16, &m->max_pos, err)) ||
        (rc = get_i(c, file, "max_trained_positions", 2048, 1, 1 << 16, &m->max_trained, err)) ||
        (rc = get_i(c, file, "type_vocab_size", 2, 1, 1024, &m->type_vocab, err)))
        return rc;
    m->vocab_size = vocab + (mult - vocab % mult) % mult;
    json_t *ni = json_object_get(c, "n_inner");
    if (ni && !json_is_null(ni)) {
        if ((rc = get_i(c, file, "n_inner", -1, 1, 1 << 18, &inner, err)))
            return rc;
    } else {
        inner = (int)(8.0 * m->hidden / 3.0);
    }
    m->inter = (inner + 255) / 256 * 256; /* NomicBertGatedMLP(multiple_of=256) */
    if (m->hidden % m->n_heads != 0)
        return qr_err(err, QUIRE_FORMAT, "%s: n_embd %d is not a multiple of n_head %d", file,
                      m->hidden, m->n_heads);
    int hd = m->hidden / m->n_heads;
    double frac, base, eps, scaling;
    if ((rc = get_num(c, file, "rotary_emb_fraction", 0.0, 0.0, 1.0, &frac, err)) ||
        (rc = get_num(c, file, "rotary_emb_base", 10000.0, 1.0, 1e12, &base, err)) ||
        (rc = get_num(c, file, "layer_norm_epsilon", 1e-5, 1e-30, 1.0, &eps, err)) ||
        (rc = get_num(c, file, "rotary_scaling_factor", 0.0, 0.0, 1e6, &scaling, err)))
        return rc;
    if (frac <= 0)
        return qr_err(err, QUIRE_UNSUPPORTED, "%s: rotary_emb_fraction 0 (absolute positions) "
                      "is not supported (nomic_bert)", file);
    m->rot_dim = (int)(hd * frac);
    if (m->rot_dim < 2 || m->rot_dim % 2 != 0)
        return qr_err(err, QUIRE_FORMAT, "%s: rotary dimension %d (head %d x fraction %g) is "
                      "not a positive even number", file, m->rot_dim, hd, frac);
    if (scaling != 0 && scaling < 1)
        return qr_err(err, QUIRE_FORMAT, "%s: rotary_scaling_factor %g is below 1", file,
                      scaling);
    json_t *il = json_object_get(c, "rotary_emb_interleaved");
    if (il && !json_is_null(il) && !json_is_boolean(il))
        return qr_err(err, QUIRE_FORMAT, "%s: field \"rotary_emb_interleaved\" is not true or "
                      "false", file);
    m->rot_interleaved = json_is_true(il);
    m->rot_base = base;
    m->rot_scaling = scaling;
    m->ln_eps = (float)eps;
    return QUIRE_OK;
}

/* cos/sin rows for positions 0..t-1 with rotary base `base`: row p = cos[rot/2], sin[rot/2].
 * float32 throughout, as the original's cache: inv_freq = 1 / base^(arange(0, rot, 2) / rot)
 * and angle = float(p) * inv_freq rounded to float before cos / sin. */
void qr_nomic_rope_rows(const quire_model *m, double base, int p0, int t, float *out)
{
    int half = m->rot_dim / 2;
    float inv[512];
    float fb = (float)base;
    for (int i = 0; i < half && i < 512; i++) {
        float e = (float)(2 * i) / (float)m->rot_dim;
        inv[i] = (float)(1.0 / (double)(float)pow((double)fb, (double)e));
    }
    for (int p = p0; p < p0 + t; p++) {
        float *row = out + (size_t)(p - p0) * (size_t)m->rot_dim;
        for (int i = 0; i < half; i++) {
            float ang = (float)p * inv[i];
            row[i] = (float)cos((double)ang);
            row[half + i] = (float)sin((double)ang);
        }
    }
}

/* The base a sequence of t tokens uses (dynamic NTK past max_trained when configured). */
double qr_nomic_base(const quire_model *m, int t)
{
    if (m->rot_scaling <= 0 || t <= m->max_trained)
        return m->rot_base;
    double f = m->rot_scaling;
    return m->rot_base * pow(f * t / m->max_trained - (f - 1), (double)m->rot_dim /
                                                                   (m->rot_dim - 2));
}

/* Rotate q and k of t tokens in place (rows of qkv, stride ld = 3H) with rows of cs. */
void qr_nomic_rotate(const quire_model *m, float *qkv, long ld, int t, const float *cs)
{
    int H = m->hidden, nh = m->n_heads, d = H / nh, rot = m->rot_dim, half = rot / 2;
    for (int p = 0; p < t; p++) {
        const float *c = cs + (size_t)p * rot, *s = c + half;
        float *row = qkv + (size_t)p * ld;
        for (int which = 0; which < 2; which++) { /* q, then k */
            for (int h = 0; h < nh; h++) {
                float *x = row + (size_t)which * H + (size_t)h * d;
                if (!m->rot_interleaved) {
                    for (int i = 0; i < half; i++) {
                        float x1 = x[i], x2 = x[i + half];
                        x[i] = x1 * c[i] - x2 * s[i];
                        x[i + half] = x2 * c[i] + x1 * s[i];
                    }
                } else {
                    for (int i = 0; i < half; i++) {
                        float x1 = x[2 * i], x2 = x[2 * i + 1];
                        x[2 * i] = x1 * c[i] - x2 * s[i];
                        x[2 * i + 1] = x2 * c[i] + x1 * s[i];
                    }
                }
            }
        }
    }
}

/* SwiGLU in place over rows of y ([rows][2I], fc11 then fc12): y[j] = fc11 * silu(fc12). */
void qr_nomic_swiglu(float *y, int rows, int inter)
{
    for (int r = 0; r < rows; r++) {
        float *a = y + (size_t)r * 2 * (size_t)inter, *g = a + inter;
        for (int j = 0; j < inter; j++)
            a[j] = a[j] * (g[j] / (1.0f + expf(-g[j])));
    }
}

int quire_model_matryoshka(const quire_model *m) { return m && m->arch == QR_ARCH_NOMIC; }

void quire_model_shorten(const quire_model *m, float *v, int dims, int normalize)
{
    if (!m || !v || dims < 1 || dims > m->hidden)
        return;
    if (m->arch == QR_ARCH_NOMIC) {
        double mean = 0;
        for (int j = 0; j < m->hidden; j++)
            mean += v[j];
        mean /= m->hidden;
        for (int j = 0; j < dims; j++)
            v[j] = (float)(v[j] - mean);
        normalize = 1;
    }
    if (!normalize)
        return;
    double ss = 0.0;
    for (int j = 0; j < dims; j++)
        ss += (double)v[j] * v[j];
    double inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
    for (int j = 0; j < dims; j++)
        v[j] = (float)(v[j] * inv);
}

quire_status qr_nomic_add_prompts(quire_model *m, quire_error *err)
{
    static const char *const p[][2] = {
        {"search_query", "search_query: "},      {"search_document", "search_document: "},
        {"classification", "classification: "}, {"clustering", "clustering: "},
        {"query", "search_query: "},             {"document", "search_document: "},
    };
    for (size_t i = 0; i < QR_ARRAY_LEN(p); i++)
        if (qr_st_add_prompt(m, p[i][0], p[i][1]) != QUIRE_OK)
            return qr_err(err, QUIRE_NOMEM, "out of memory");
    return QUIRE_OK;
}
