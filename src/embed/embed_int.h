/*
 * embed_int.h — internals of the embedding module: the model structure, safetensors
 * reader, config readers, forward pass. Only files in src/embed/ include this.
 *
 * safetensors format (Hugging Face): 8-byte little-endian u64 N, then N bytes of JSON
 * header {"name": {"dtype": "F32"|"F16"|"BF16"|..., "shape": [..],
 * "data_offsets": [begin, end]}, "__metadata__": {...}}, then the data block; offsets
 * are relative to the start of the data block (8 + N).
 */
#ifndef QR_EMBED_INT_H
#define QR_EMBED_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "nn/nn.h"
#include "text/text.h"

/* ---- safetensors ------------------------------------------------------------ */
enum qr_dtype { QR_DT_F32 = 0, QR_DT_F16, QR_DT_BF16, QR_DT_OTHER };

typedef struct qr_st_tensor {
    char *name;
    int dtype;           /* enum qr_dtype */
    int n_dims;
    int64_t shape[8];
    const unsigned char *data; /* into the mapping */
    size_t n_bytes;
} qr_st_tensor;

typedef struct qr_st_file {
    const char *path;    /* borrowed, for messages */
    const void *map;
    size_t map_len;
    qr_st_tensor *tensors;
    size_t n_tensors;
} qr_st_file;

/* Map and parse a safetensors file. Validates header length, JSON, dtypes, shapes and
 * that each tensor's byte range lies inside the data block and matches its shape.
 * OUT: *st filled (free with qr_st_close). */
quire_status qr_st_open(const char *path, qr_st_file *st, quire_error *err);
void qr_st_close(qr_st_file *st);
/* Find a tensor by name, also trying the "bert." prefix. NULL if absent. */
const qr_st_tensor *qr_st_find(const qr_st_file *st, const char *name);

/* Convert n elements of a tensor of dtype (F32/F16/BF16) starting at element `off`
 * to float. */
void qr_st_to_f32(const qr_st_tensor *t, size_t off, size_t n, float *dst);
float qr_half_to_float(uint16_t h);

/* ---- model -------------------------------------------------------------------- */
/* Architectures, chosen by config.json's model_type (never by the model's name):
 *  BERT  "bert": positions 0, 1, 2, ...; token type 0 added.
 *  XLMR  "xlm-roberta": BERT layers and tensor names, RoBERTa positions
 *        pad_id + 1 + (count of non-pad ids so far), pad ids at position pad_id.
 *  MPNET "mpnet": RoBERTa positions, no token types, attention.attn.{q,k,v,o} names,
 *        and a relative position bias shared by all layers (qr_mpnet_bucket). */
enum { QR_ARCH_BERT = 0, QR_ARCH_XLMR, QR_ARCH_MPNET, QR_ARCH_NOMIC };
const char *qr_arch_name(int arch);

/* MPNet's relative position bucket of query i and key j (n = i - j), as
 * transformers' MPNetEncoder.relative_position_bucket computes it with its hard-coded
 * 32 buckets and max_distance 128: 16 buckets per direction (n < 0 adds 16); |n| < 8
 * exact; else 8 + floor(2 log2(|n| / 8)) up to 15, in integers:
 * 8 + max{k <= 7 : 64 * 2^k <= n^2}. */
static inline int qr_mpnet_bucket(int n)
{
    int ret = n < 0 ? 16 : 0;
    long long a = n < 0 ? -(long long)n : n;
    if (a < 8)
        return ret + (int)a;
    int k = 0;
    while (k < 7 && (64LL << (k + 1)) <= a * a)
        k++;
    return ret + 8 + k;
}

typedef struct qr_layer {
    qr_linear qkv;      /* [3H][H]: query, key, value stacked */
    float *qkv_b;       /* [3H] */
    qr_linear out;      /* attention.output.dense [H][H] */
    float *out_b;
    float *ln1_g, *ln1_b; /* attention.output.LayerNorm */
    qr_linear ffn_in;   /* intermediate.dense [I][H] */
    float *ffn_in_b;
    qr_linear ffn_out;  /* output.dense [H][I] */
    float *ffn_out_b;
    float *ln2_g, *ln2_b; /* output.LayerNorm */
} qr_layer;

struct quire_model {
    char *dir;
    char describe[256];
    char fingerprint[65]; /* sha256 hex, see quire_model_fingerprint */
    char name[128];       /* folder basename */
    /* config.json */
    int vocab_size, hidden, n_layers, n_heads, inter, max_pos, type_vocab;
    float ln_eps;
    int arch;           /* QR_ARCH_* from model_type */
    int pad_id;         /* XLM-R / MPNet: padding_idx of the position ids */
    int rel_buckets;    /* MPNet: rows of the relative attention bias table */
    /* NomicBERT (nomic.c): rotary dims per head, pairing, base, dynamic-NTK factor (0 =
     * none), trained length; rope = cos/sin rows for positions 0..max_pos-1 at rot_base */
    int rot_dim, rot_interleaved, max_trained;
    double rot_base, rot_scaling;
    float *rope;
    /* derived settings */
    int max_tokens;
    int pooling;        /* enum quire_pooling (never DEFAULT) */
    int normalize;      /* modules.json has a Normalize module: the default output rule */
    /* config_sentence_transformers.json (stconfig.c) */
    int n_prompts;
    char **prompt_names, **prompt_texts;
    char *default_prompt;
    int precision;      /* QR_PREC_*: of the linear layers (quire_model_params) */
    /* tokenizer */
    qr_tok *tok;
    /* weights */
    qr_st_file st;
    const qr_st_tensor *word_emb; /* [vocab][H], read from the mapping row by row */
    float *pos_emb;     /* [max_pos][H] */
    float *type_emb;    /* [type_vocab][H]; NULL for MPNet (no token types) */
    float *rel_bias;    /* MPNet: encoder.relative_attention_bias [rel_buckets][heads] */
    float *emb_ln_g, *emb_ln_b;
    qr_layer *layers;
    float *arena;       /* one aligned block holding all converted / packed weights */
    size_t arena_floats;
    struct qr_pcache *pcache; /* bf16/int8: the packed-weight cache (packcache.c) */
};

/* packcache.c: the packed-weight cache of bf16/int8 models (see its head comment).
 * open: after the safetensors file is open (finds and checks the file); view: layer
 * `layer`'s linear `slot` (0 qkv, 1 out, 2 ffn_in, 3 ffn_out) from the file, 1 if it was
 * there; store: after a load that converted (writes the file); state: "none" (fp32),
 * "off", "hit", "miss", "written", "unwritten" (for tests and `quire info`). */
enum { QR_PC_OFF, QR_PC_HIT, QR_PC_MISS, QR_PC_WRITTEN, QR_PC_UNWRITTEN };
typedef struct qr_pcache qr_pcache;
void qr_pcache_open(quire_model *m);
int qr_pcache_view(quire_model *m, int layer, int slot, qr_linear *L, int n, int k);
void qr_pcache_store(quire_model *m);
void qr_pcache_close(quire_model *m);
const char *qr_pcache_state(const quire_model *m);
const char *qr_pcache_path(const quire_model *m);

/* Read config.json / tokenizer_config / sentence_bert_config / modules.json /
 * 1_Pooling/config.json into m (fields above). */
quire_status qr_model_read_configs(quire_model *m, const char *dir,
                                   const quire_model_params *p, quire_error *err);
/* stconfig.c: modules.json + the Pooling module's config.json -> m->pooling,
 * m->normalize; config_sentence_transformers.json -> prompts; qr_st_free frees them. */
quire_status qr_st_read_modules(quire_model *m, const char *dir, quire_error *err);
quire_status qr_st_read_prompts(quire_model *m, const char *dir, quire_error *err);
quire_status qr_st_add_prompt(quire_model *m, const char *name, const char *text);
void qr_st_free(quire_model *m);

/* nomic.c: config.json of model_type nomic_bert (file = its path, for messages); rotary
 * rows [t][rot_dim] (cos then sin) for positions p0.. at base; the base a sequence of t
 * tokens uses; rotary on q, k of t rows of qkv (stride ld); SwiGLU in place on [rows][2I]. */
struct json_t;
quire_status qr_nomic_read_config(quire_model *m, struct json_t *c, const char *file,
                                  quire_error *err);
void qr_nomic_rope_rows(const quire_model *m, double base, int p0, int t, float *out);
double qr_nomic_base(const quire_model *m, int t);
void qr_nomic_rotate(const quire_model *m, float *qkv, long ld, int t, const float *cs);
void qr_nomic_swiglu(float *y, int rows, int inter);
/* The model card's task prefixes as prompts (unless the folder names them itself):
 * search_query, search_document, classification, clustering; query, document. */
quire_status qr_nomic_add_prompts(quire_model *m, quire_error *err);

/* Validate tensors and build the packed weights. */
quire_status qr_model_load_weights(quire_model *m, const char *dir, quire_error *err);

/* ---- forward pass ------------------------------------------------------------- */
typedef struct qr_fwd qr_fwd;

/* Scratch for up to max_tokens_total tokens per pass, sequences up to max_seq. */
quire_status qr_fwd_new(const quire_model *m, int max_tokens_total, int max_seq,
                        int n_threads, qr_fwd **out, quire_error *err);
void qr_fwd_free(qr_fwd *f);
/* Run the encoder on n_seq sequences (ids[s] of lens[s] tokens, concatenated without
 * padding; sum of lens <= max_tokens_total) and pool each into out[s*H..]. pooling is
 * an enum quire_pooling mode (not DEFAULT); normalize = L2-normalise. No allocation. */
void qr_fwd_run(qr_fwd *f, const int32_t *const *ids, const int *lens, int n_seq,
                int pooling, int normalize, float *out);

#endif
