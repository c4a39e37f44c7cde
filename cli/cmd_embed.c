/*
 * cmd_embed.c — `quire embed`: one text per input line -> one JSON object per line
 * ({"index":N,"tokens":T,"embedding":[...]}) in input order, or raw float32 rows.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/core.h"
#include "lines.h"

typedef struct embed_args {
    const char *model;
    const char *prefix, *prompt_name;
    int pooling;
    int no_normalize, normalize;
    long max_tokens, threads, batch, dims;
    int f32;
    int quiet;
    int precision;
} embed_args;

static const cli_opt opts[] = {
    {"model", 'm', 1, "DIR", "model folder (Hugging Face / sentence-transformers layout)"},
    {"precision", 0, 1, "fp32|bf16|int8", "arithmetic of the linear layers (default fp32, exact; docs/precision.md)"},
    {"pooling", 0, 1, "MODE", "mean|cls|max|mean_sqrt_len|lasttoken|weightedmean (default: the "
                              "model's Pooling module)"},
    {"normalize", 0, 0, NULL, "L2-normalise even if modules.json has no Normalize module"},
    {"no-normalize", 0, 0, NULL, "do not L2-normalise (default: as modules.json says)"},
    {"prompt-name", 0, 1, "NAME", "prepend the model's prompt NAME (config_sentence_"
                                  "transformers.json; default: its default_prompt_name)"},
    {"max-tokens", 0, 1, "N", "truncate inputs to N tokens (default: max_seq_length)"},
    {"threads", 't', 1, "N", "threads for the forward pass (default 1)"},
    {"batch", 'b', 1, "N", "most texts per forward pass (default 32; 1 = one at a time)"},
    {"prefix", 0, 1, "STR", "prepend STR to every text (e.g. \"query: \")"},
    {"dims", 0, 1, "N", "keep the first N dimensions (Matryoshka), renormalised; nomic_bert: "
                        "layer_norm, truncate, L2 (v1.5 rule)"},
    {"format", 'f', 1, "jsonl|f32", "output: JSON lines (default) or raw little-endian f32"},
    {"quiet", 'q', 0, NULL, "no progress on stderr"},
    {NULL, 0, 0, NULL, NULL},
};

static void help(FILE *out)
{
    fprintf(out,
            "usage: quire embed --model DIR [options] [FILE|-]\n\n"
            "Embed each line of FILE (or standard input) and write one JSON object per line,\n"
            "in input order: {\"index\":N,\"tokens\":T,\"embedding\":[...]}.\n\noptions:\n");
    cli_print_opts(out, opts);
    fprintf(out, "\nexample:\n  printf 'hello world\\n' | quire embed --model all-MiniLM-L6-v2\n");
}

static int on_opt(int idx, const char *val, void *user)
{
    embed_args *a = user;
    const char *name = opts[idx].name;
    if (strcmp(name, "model") == 0)
        a->model = val;
    else if (strcmp(name, "pooling") == 0) {
        a->pooling = quire_pooling_from_name(val);
        if (!a->pooling) {
            fprintf(stderr, "quire embed: --pooling: '%s' is not mean, cls, max, mean_sqrt_len, "
                            "lasttoken or weightedmean\n", val);
            return EXIT_USAGE;
        }
    } else if (strcmp(name, "precision") == 0)
        return cli_precision("embed", val, &a->precision) ? EXIT_USAGE : 0;
    else if (strcmp(name, "no-normalize") == 0)
        a->no_normalize = 1;
    else if (strcmp(name, "normalize") == 0)
        a->normalize = 1;
    else if (strcmp(name, "prompt-name") == 0)
        a->prompt_name = val;
    else if (strcmp(name, "max-tokens") == 0)
        return cli_int("embed", name, val, 2, 65536, &a->max_tokens) ? EXIT_USAGE : 0;
    else if (strcmp(name, "threads") == 0)
        return cli_int("embed", name, val, 1, 256, &a->threads) ? EXIT_USAGE : 0;
    else if (strcmp(name, "batch") == 0)
        return cli_int("embed", name, val, 1, 65536, &a->batch) ? EXIT_USAGE : 0;
    else if (strcmp(name, "dims") == 0)
        return cli_int("embed", name, val, 1, 65536, &a->dims) ? EXIT_USAGE : 0;
    else if (strcmp(name, "prefix") == 0)
        a->prefix = val;
    else if (strcmp(name, "format") == 0) {
        if (strcmp(val, "f32") == 0)
            a->f32 = 1;
        else if (strcmp(val, "jsonl") != 0) {
            fprintf(stderr, "quire embed: --format: '%s' is not jsonl or f32\n", val);
            return EXIT_USAGE;
        }
    } else if (strcmp(name, "quiet") == 0)
        a->quiet = 1;
    return 0;
}

/* Shortest "%.9g"-exact float text is what Python's json would print for float32 values
 * converted to double; %.9g round-trips every float32. */
static void write_jsonl(qr_buf *b, size_t index, int tokens, int truncated, const float *v,
                        int dims)
{
    qr_buf_printf(b, "{\"index\":%zu,\"tokens\":%d,%s\"embedding\":[", index, tokens,
                  truncated ? "\"truncated\":true," : "");
    for (int j = 0; j < dims; j++) {
        char tmp[32];
        float x = v[j];
        if (!isfinite(x))
            x = 0.0f; /* JSON has no NaN/Inf; cannot happen with finite weights */
        int n = snprintf(tmp, sizeof(tmp), j ? ",%.9g" : "%.9g", (double)x);
        qr_buf_append(b, tmp, (size_t)n);
    }
    qr_buf_append(b, "]}\n", 3);
}

typedef struct embed_run {
    embed_args *a;
    const quire_model *model;
    quire_embedder *emb;
    int dims_out, dims, normalize;
    const char *prefix; /* --prefix or the prompt's text */
    float *vecs;
    int32_t *ntok, *nin;
    size_t n_truncated;
    char **joined; /* prefixed texts */
    size_t *jlen;
    size_t chunk;
    qr_buf out;
} embed_run;

static int embed_chunk(embed_run *r, lines_reader *lr, long n, size_t base, quire_error *err)
{
    const char *const *texts = (const char *const *)lr->text;
    const size_t *lens = lr->len;
    if (r->prefix && *r->prefix) {
        size_t pl = strlen(r->prefix);
        for (long i = 0; i < n; i++) {
            qr_free(r->joined[i]);
            r->joined[i] = qr_malloc(pl + lr->len[i] + 1);
            if (!r->joined[i]) {
                fprintf(stderr, "quire embed: out of memory\n");
                return EXIT_FAIL;
            }
            memcpy(r->joined[i], r->prefix, pl);
            memcpy(r->joined[i] + pl, lr->text[i], lr->len[i] + 1);
            r->jlen[i] = pl + lr->len[i];
        }
        texts = (const char *const *)r->joined;
        lens = r->jlen;
    }
    if (quire_embed_counted(r->emb, texts, lens, (size_t)n, r->vecs, r->ntok, r->nin, err) !=
        QUIRE_OK)
        return cli_fail("embed", err);
    qr_buf_clear(&r->out);
    for (long i = 0; i < n; i++) {
        float *v = r->vecs + (size_t)i * r->dims;
        int cut = r->nin[i] > r->ntok[i];
        if (cut) {
            if (!r->a->quiet && r->n_truncated < 10)
                fprintf(stderr, "quire embed: line %zu: %d tokens, truncated to %d (max tokens)\n",
                        base + (size_t)i + 1, (int)r->nin[i], (int)r->ntok[i]);
            r->n_truncated++;
        }
        if (r->dims_out < r->dims || (r->a->dims && quire_model_matryoshka(r->model)))
            quire_model_shorten(r->model, v, r->dims_out, r->normalize);
        if (r->a->f32)
            qr_buf_append(&r->out, v, (size_t)r->dims_out * sizeof(float));
        else
            write_jsonl(&r->out, base + (size_t)i, r->ntok[i], cut, v, r->dims_out);
    }
    if (r->out.failed) {
        fprintf(stderr, "quire embed: out of memory\n");
        return EXIT_FAIL;
    }
    if (fwrite(r->out.data, 1, r->out.len, stdout) != r->out.len) {
        fprintf(stderr, "quire embed: writing output: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static int embed_stream(embed_run *r, lines_reader *lr, size_t chunk, quire_error *err)
{
    size_t done = 0;
    int tty = !r->a->quiet && isatty(2);
    double t0 = qr_now(), last = t0;
    for (;;) {
        long n = lines_next(lr, chunk);
        if (n < 0) {
            fprintf(stderr, "quire embed: %s: read error: %s\n", lr->name, strerror(errno));
            return EXIT_FAIL;
        }
        if (n == 0)
            break;
        int rc = embed_chunk(r, lr, n, done, err);
        if (rc != EXIT_OK)
            return rc;
        done += (size_t)n;
        double now = qr_now();
        if (tty && now - last > 0.5) {
            fprintf(stderr, "\rquire embed: %zu texts, %.0f texts/s", done,
                    done / (now - t0 + 1e-9));
            last = now;
        }
    }
    if (tty && last != t0)
        fprintf(stderr, "\rquire embed: %zu texts, %.0f texts/s\n", done,
                done / (qr_now() - t0 + 1e-9));
    if (!r->a->quiet && r->n_truncated > 10)
        fprintf(stderr, "quire embed: %zu texts were truncated in all\n", r->n_truncated);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "quire embed: writing output: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_embed(int argc, char **argv)
{
    embed_args a = {0};
    const char *pos[1] = {NULL};
    int n_pos = 0;
    int rc = cli_parse(argc, argv, opts, on_opt, &a, pos, 1, &n_pos, help);
    if (rc < 0)
        return EXIT_OK;
    if (rc)
        return rc;
    if (a.normalize && a.no_normalize) {
        fprintf(stderr, "quire embed: --normalize and --no-normalize exclude each other\n");
        return EXIT_USAGE;
    }
    if (a.prefix && a.prompt_name) {
        fprintf(stderr, "quire embed: --prefix and --prompt-name exclude each other\n");
        return EXIT_USAGE;
    }
    quire_error err = {0};
    lines_reader lr;
    quire_model_params mp = quire_model_default_params();
    mp.max_tokens = (int)a.max_tokens;
    mp.pooling = a.pooling;
    mp.precision = a.precision;
    quire_model *model = NULL;
    rc = cli_open_lines_and_model("embed", n_pos ? pos[0] : NULL, a.model, &mp, &lr, &model);
    if (rc != EXIT_OK)
        return rc;
    embed_run r = {0};
    r.a = &a;
    r.model = model;
    qr_buf_init(&r.out, 0);
    r.dims = quire_model_dims(model);
    r.dims_out = a.dims ? (int)a.dims : r.dims;
    if (r.dims_out > r.dims) {
        fprintf(stderr, "quire embed: --dims %d is more than the model's %d dimensions\n",
                r.dims_out, r.dims);
        rc = EXIT_USAGE;
        goto done;
    }
    quire_embedder_params ep = quire_embedder_default_params();
    ep.n_threads = (int)a.threads;
    ep.max_batch = (int)a.batch;
    ep.no_normalize = a.no_normalize;
    ep.normalize = a.normalize;
    r.normalize = a.no_normalize ? 0 : a.normalize ? 1 : quire_model_normalize(model);
    r.prefix = a.prefix;
    if (a.prompt_name) {
        r.prefix = quire_model_prompt(model, a.prompt_name);
        if (!r.prefix) {
            fprintf(stderr, "quire embed: --prompt-name: %s has no prompt '%s' (prompts:",
                    a.model, a.prompt_name);
            for (int i = 0; i < quire_model_prompt_count(model); i++)
                fprintf(stderr, " %s", quire_model_prompt_name(model, i));
            fprintf(stderr, "%s)\n", quire_model_prompt_count(model) ? "" : " none");
            rc = EXIT_FAIL;
            goto done;
        }
    } else if (!a.prefix && quire_model_default_prompt(model)) {
        r.prefix = quire_model_prompt(model, quire_model_default_prompt(model));
    }
    if (quire_embedder_new(model, &ep, &r.emb, &err) != QUIRE_OK) {
        rc = cli_fail("embed", &err);
        goto done;
    }
    size_t chunk = 1024;
    r.chunk = chunk;
    r.vecs = qr_malloc(chunk * (size_t)r.dims * sizeof(float));
    r.ntok = qr_malloc(chunk * sizeof(int32_t));
    r.nin = qr_malloc(chunk * sizeof(int32_t));
    r.joined = qr_calloc(chunk, sizeof(char *));
    r.jlen = qr_calloc(chunk, sizeof(size_t));
    if (!r.vecs || !r.ntok || !r.nin || !r.joined || !r.jlen) {
        fprintf(stderr, "quire embed: out of memory\n");
        rc = EXIT_FAIL;
        goto done;
    }
    rc = embed_stream(&r, &lr, r.chunk, &err);
done:
    if (r.joined) {
        for (size_t i = 0; i < r.chunk; i++)
            qr_free(r.joined[i]);
    }
    qr_free(r.joined);
    qr_free(r.jlen);
    qr_free(r.vecs);
    qr_free(r.ntok);
    qr_free(r.nin);
    qr_buf_free(&r.out);
    quire_embedder_free(r.emb);
    quire_model_close(model);
    lines_close(&lr);
    return rc;
}
