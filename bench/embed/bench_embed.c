/*
 * bench_embed.c — the quire side of bench/embed (a benchmark, not a test).
 *
 * Uses only the public API in include/quire.h. Prints JSON lines in the same format as
 * bench/embed/ort_bench.js prints for ONNX Runtime; bench/embed/run.sh puts both in a table.
 *
 *   build/bench/bench_embed [--mode bench|cold|cold-cli|cold-child] [--threads N]
 *                           [--model build/models/minilm] [--runs 5] [--quick]
 *                           [--cli build/quire] [--precision fp32|bf16|int8]
 *                           [--cases b1_t8,b1_t32,b1_t128,b1_t512,b32_t128,text_b1]
 *
 * Modes
 *   bench       (default) batch-1 latency at 8/32/128/512 tokens (quire_embed_ids),
 *               sentences/s at 32x128, batch-1 latency of a ~128-token text (quire_embed,
 *               tokenizer included), peak RSS of this process; all on --threads threads.
 *   cold        forks/execs itself in cold-child mode --runs times; cold start = wall clock
 *               from fork to the first byte of the child's vector on the parent's pipe.
 *   cold-cli    the same for the CLI as a user runs it: `build/quire embed --model DIR -q`
 *               (--cli PATH) with one short line on stdin, to the first byte of its output.
 *   cold-child  quire_init, quire_model_open, quire_embedder_new, embed the sanity input
 *               (batch 1, 32 tokens) and print it.
 *
 * Token ids (identical in ort_bench.js): row b of a B x T input is
 *   101, then T-2 ids 1000 + (s >> 8) % 28000 with s = s * 1664525 + 1013904223 (mod 2^32),
 *   then 102; s starts at 7919 * T + B and continues across rows.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "quire.h"

#define MAX_TOKENS 512
#define TP_BATCH 32
#define TP_TOKENS 128
#define SANITY_TOKENS 32

struct args {
    const char *mode;
    const char *model;
    const char *cli;
    int threads;
    int runs;
    int quick;
    const char *precision;
    const char *cases; /* comma-separated case names to run (NULL: all) */
};

/* Is case `name` selected by --cases? */
static int want_case(const struct args *a, const char *name)
{
    if (!a->cases)
        return 1;
    size_t n = strlen(name);
    for (const char *p = a->cases; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len + (e ? 1 : 0);
    }
    return 0;
}

static int g_precision; /* enum quire_precision for every model opened here */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, const quire_error *err)
{
    fprintf(stderr, "bench_embed: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
    exit(1);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_embed [--mode bench|cold|cold-cli|cold-child] [--threads N]\n"
                 "                   [--model DIR] [--runs N] [--quick] [--cli build/quire]\n"
                 "                   [--precision fp32|bf16|int8] [--cases NAME,...]\n"
                 "Prints JSON lines; see bench/embed/README.md.\n");
}

/* peak resident set size in kB: VmHWM, else ru_maxrss (kB on Linux) */
static long peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "VmHWM:", 6) == 0) {
                kb = strtol(line + 6, NULL, 10);
                break;
            }
        }
        fclose(f);
    }
    if (kb < 0) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0)
            kb = ru.ru_maxrss;
    }
    return kb;
}

/* CPU used by other processes (and stolen by the hypervisor) while a case ran, in cores:
 * (system-wide busy time from /proc/stat - this process's CPU time) / wall time. */
struct cpu_mark {
    double busy, own, wall;
};

static struct cpu_mark cpu_mark(void)
{
    struct cpu_mark m = {-1.0, 0.0, now_ms() / 1000.0};
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    if (f) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]) >= 7) {
            long hz = sysconf(_SC_CLK_TCK);
            m.busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)(hz > 0 ? hz : 100);
        }
        fclose(f);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        m.own = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return m;
}

static double other_cores(struct cpu_mark a, struct cpu_mark b)
{
    double wall = b.wall - a.wall;
    if (wall <= 0 || a.busy < 0 || b.busy < 0)
        return -1.0;
    double c = ((b.busy - a.busy) - (b.own - a.own)) / wall;
    return c < 0 ? 0.0 : c;
}

/* the shared LCG input: batch rows of `tokens` ids, row-major */
static void make_ids(int batch, int tokens, int32_t *ids)
{
    uint32_t s = (uint32_t)(7919 * tokens + batch);
    for (int b = 0; b < batch; b++) {
        int32_t *row = ids + (size_t)b * (size_t)tokens;
        row[0] = 101;
        for (int j = 1; j < tokens - 1; j++) {
            s = s * 1664525u + 1013904223u;
            row[j] = (int32_t)(1000u + (s >> 8) % 28000u);
        }
        row[tokens - 1] = 102;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* nearest-rank percentile of a sorted array (same rule as ort_bench.js) */
static double pct(const double *sorted, int n, double p)
{
    int k = (int)((p / 100.0) * n + 0.999999999) - 1;
    if (k < 0)
        k = 0;
    if (k >= n)
        k = n - 1;
    return sorted[k];
}

struct engine {
    quire_model *model;
    quire_embedder *emb;
    int dims;
};

static void engine_open(struct engine *e, const char *dir, int threads, double *open_ms,
                        double *emb_ms)
{
    quire_error err = {0};
    double t0 = now_ms();
    if (quire_init(QUIRE_VERSION_NUMBER, &err) != QUIRE_OK)
        die("quire_init", &err);
    quire_model_params mp = quire_model_default_params();
    mp.max_tokens = MAX_TOKENS;
    mp.precision = g_precision;
    if (quire_model_open(dir, &mp, &e->model, &err) != QUIRE_OK)
        die("quire_model_open", &err);
    double t1 = now_ms();
    quire_embedder_params ep = quire_embedder_default_params();
    ep.n_threads = threads;
    ep.max_batch = TP_BATCH;
    ep.max_batch_tokens = TP_BATCH * TP_TOKENS > MAX_TOKENS ? TP_BATCH * TP_TOKENS : MAX_TOKENS;
    if (quire_embedder_new(e->model, &ep, &e->emb, &err) != QUIRE_OK)
        die("quire_embedder_new", &err);
    e->dims = quire_model_dims(e->model);
    if (e->dims <= 0)
        die("quire_model_dims returned <= 0", NULL);
    if (open_ms)
        *open_ms = t1 - t0;
    if (emb_ms)
        *emb_ms = now_ms() - t1;
}

static void engine_close(struct engine *e)
{
    quire_embedder_free(e->emb);
    quire_model_close(e->model);
}

/* one B x T input prepared for quire_embed_ids */
struct input {
    int batch, tokens;
    int32_t *ids;
    const int32_t **rows;
    size_t *lens;
    float *vecs;
};

static void input_make(struct input *in, int batch, int tokens, int dims)
{
    in->batch = batch;
    in->tokens = tokens;
    in->ids = malloc((size_t)batch * (size_t)tokens * sizeof *in->ids);
    in->rows = malloc((size_t)batch * sizeof *in->rows);
    in->lens = malloc((size_t)batch * sizeof *in->lens);
    in->vecs = malloc((size_t)batch * (size_t)dims * sizeof *in->vecs);
    if (!in->ids || !in->rows || !in->lens || !in->vecs)
        die("out of memory", NULL);
    make_ids(batch, tokens, in->ids);
    for (int b = 0; b < batch; b++) {
        in->rows[b] = in->ids + (size_t)b * (size_t)tokens;
        in->lens[b] = (size_t)tokens;
    }
}

static void input_free(struct input *in)
{
    free(in->ids);
    free(in->rows);
    free(in->lens);
    free(in->vecs);
}

static void run_ids(struct engine *e, struct input *in)
{
    quire_error err = {0};
    if (quire_embed_ids(e->emb, in->rows, in->lens, (size_t)in->batch, in->vecs, &err) != QUIRE_OK)
        die("quire_embed_ids", &err);
}

static long file_size(const char *dir, const char *name)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* A text of about `want` tokens for quire_embed: words appended until it is long enough. */
static char *make_text(const quire_model *m, int want, int *got)
{
    static const char words[] =
        "The quick brown fox jumps over the lazy dog near the riverbank. Invoices must be "
        "approved by the finance department before payment. Local document search keeps "
        "sensitive files on your own machine. Embeddings map sentences to vectors so that "
        "similar meanings lie close together. Please send the signed contract back by "
        "Friday afternoon. Transformers process every token of the input in parallel. ";
    size_t cap = 16384, len = 0, pos = 0;
    char *text = malloc(cap);
    int32_t ids[MAX_TOKENS];
    if (!text)
        die("out of memory", NULL);
    text[0] = '\0';
    *got = 0;
    while (*got < want && len + 64 < cap) {
        /* next word (with its trailing space) from the cyclic word list */
        size_t end = pos;
        while (words[end] != ' ')
            end++;
        end++;
        memcpy(text + len, words + pos, end - pos);
        len += end - pos;
        text[len] = '\0';
        pos = words[end] ? end : 0;
        size_t n = 0;
        quire_error err = {0};
        if (quire_tokenize(m, text, len, ids, MAX_TOKENS, &n, &err) != QUIRE_OK)
            die("quire_tokenize", &err);
        *got = (int)n;
    }
    return text;
}

static void emit_latency(const char *name, int threads, int batch, int tokens, int iters,
                         double *lat, double other)
{
    double sum = 0;
    for (int i = 0; i < iters; i++)
        sum += lat[i];
    qsort(lat, (size_t)iters, sizeof *lat, cmp_double);
    printf("{\"engine\":\"quire\",\"case\":\"%s\",\"threads\":%d,\"batch\":%d,\"tokens\":%d,"
           "\"iters\":%d,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"mean_ms\":%.3f,"
           "\"min_ms\":%.3f,\"other_cores\":%.2f}\n",
           name, threads, batch, tokens, iters, pct(lat, iters, 50), pct(lat, iters, 95),
           pct(lat, iters, 99), sum / iters, lat[0], other);
    fflush(stdout);
}

static int mode_bench(const struct args *a)
{
    struct engine e;
    double open_ms = 0, emb_ms = 0;
    engine_open(&e, a->model, a->threads, &open_ms, &emb_ms);
    printf("{\"engine\":\"quire\",\"case\":\"info\",\"threads\":%d,\"model\":", a->threads);
    json_str(a->model);
    printf(",\"model_bytes\":%ld,\"quire_version\":", file_size(a->model, "model.safetensors"));
    json_str(quire_version_str());
    printf(",\"kernels\":");
    json_str(quire_precision_kernel(g_precision));
    printf(",\"precision\":");
    json_str(quire_precision_name(g_precision));
    printf(",\"describe\":");
    json_str(quire_model_describe(e.model));
    printf(",\"load_ms\":%.3f,\"embedder_ms\":%.3f}\n", open_ms, emb_ms);
    fflush(stdout);

    const double q = a->quick ? 0.1 : 1.0;
    static const int cases[4][3] = {{8, 200, 10}, {32, 200, 10}, {128, 200, 10}, {512, 50, 3}};
    double *lat = malloc(256 * sizeof *lat);
    if (!lat)
        die("out of memory", NULL);
    for (int c = 0; c < 4; c++) {
        int tokens = cases[c][0], warm = cases[c][2];
        int iters = (int)(cases[c][1] * q + 0.5);
        if (iters < 5)
            iters = 5;
        char name[32];
        snprintf(name, sizeof name, "b1_t%d", tokens);
        if (!want_case(a, name))
            continue;
        struct input in;
        input_make(&in, 1, tokens, e.dims);
        for (int i = 0; i < warm; i++)
            run_ids(&e, &in);
        struct cpu_mark m0 = cpu_mark();
        for (int i = 0; i < iters; i++) {
            double t0 = now_ms();
            run_ids(&e, &in);
            lat[i] = now_ms() - t0;
        }
        double other = other_cores(m0, cpu_mark());
        emit_latency(name, a->threads, 1, tokens, iters, lat, other);
        input_free(&in);
    }

    if (want_case(a, "b32_t128")) {
        int iters = a->quick ? 2 : 10, warm = 2;
        struct input in;
        double total = 0;
        input_make(&in, TP_BATCH, TP_TOKENS, e.dims);
        for (int i = 0; i < warm; i++)
            run_ids(&e, &in);
        struct cpu_mark m0 = cpu_mark();
        for (int i = 0; i < iters; i++) {
            double t0 = now_ms();
            run_ids(&e, &in);
            lat[i] = now_ms() - t0;
            total += lat[i];
        }
        struct cpu_mark m1 = cpu_mark();
        double other = other_cores(m0, m1);
        qsort(lat, (size_t)iters, sizeof *lat, cmp_double);
        /* cpu_ms: this process's CPU time per batch (all threads): on a busy machine, at
         * 1 thread, a steadier figure of the work than the wall time */
        printf("{\"engine\":\"quire\",\"case\":\"b32_t128\",\"threads\":%d,\"batch\":%d,"
               "\"tokens\":%d,\"iters\":%d,\"sent_per_s\":%.3f,\"p50_ms\":%.3f,"
               "\"mean_ms\":%.3f,\"cpu_ms\":%.3f,\"other_cores\":%.2f}\n",
               a->threads, TP_BATCH, TP_TOKENS, iters, TP_BATCH * iters / (total / 1000.0),
               pct(lat, iters, 50), total / iters, (m1.own - m0.own) * 1000.0 / iters, other);
        fflush(stdout);
        input_free(&in);
    }

    if (want_case(a, "text_b1")) {
        /* text -> vector, tokenizer included (quire only; ORT has no tokenizer here) */
        int n_tok = 0, warm = 10, iters = (int)(200 * q + 0.5);
        if (iters < 5)
            iters = 5;
        char *text = make_text(e.model, 128, &n_tok);
        const char *texts[1] = {text};
        float *vec = malloc((size_t)e.dims * sizeof *vec);
        quire_error err = {0};
        if (!vec)
            die("out of memory", NULL);
        struct cpu_mark m0 = cpu_mark();
        for (int i = 0; i < warm + iters; i++) {
            if (i == warm)
                m0 = cpu_mark();
            double t0 = now_ms();
            if (quire_embed(e.emb, texts, NULL, 1, vec, NULL, &err) != QUIRE_OK)
                die("quire_embed", &err);
            if (i >= warm)
                lat[i - warm] = now_ms() - t0;
        }
        emit_latency("text_b1", a->threads, 1, n_tok, iters, lat, other_cores(m0, cpu_mark()));
        free(vec);
        free(text);
    }

    printf("{\"engine\":\"quire\",\"case\":\"peak_rss\",\"threads\":%d,\"peak_rss_kb\":%ld}\n",
           a->threads, peak_rss_kb());
    fflush(stdout);
    free(lat);
    engine_close(&e);
    return 0;
}

/* Child of `cold`: from main() to the first vector, then one line written at once. */
static int mode_cold_child(const struct args *a, double t_main)
{
    struct engine e;
    double open_ms = 0, emb_ms = 0;
    engine_open(&e, a->model, a->threads, &open_ms, &emb_ms);
    struct input in;
    input_make(&in, 1, SANITY_TOKENS, e.dims);
    double t0 = now_ms();
    run_ids(&e, &in);
    double t1 = now_ms();
    struct cpu_mark me = cpu_mark();

    size_t cap = 256 + (size_t)e.dims * 20, len = 0;
    char *line = malloc(cap);
    if (!line)
        die("out of memory", NULL);
    len += (size_t)snprintf(line + len, cap - len,
                            "{\"engine\":\"quire\",\"case\":\"cold_child\",\"tokens\":%d,"
                            "\"threads\":%d,\"peak_rss_kb\":%ld,\"load_ms\":%.3f,"
                            "\"embedder_ms\":%.3f,\"first_run_ms\":%.3f,\"in_process_ms\":%.3f,"
                            "\"cpu_s\":%.6f,\"vec\":[",
                            SANITY_TOKENS, a->threads, peak_rss_kb(), open_ms, emb_ms, t1 - t0,
                            t1 - t_main, me.own);
    for (int i = 0; i < e.dims && len < cap; i++)
        len += (size_t)snprintf(line + len, cap - len, "%s%.9g", i ? "," : "", (double)in.vecs[i]);
    if (len < cap)
        len += (size_t)snprintf(line + len, cap - len, "]}\n");
    if (len >= cap)
        die("cold-child line overflow", NULL);
    if (write(STDOUT_FILENO, line, len) != (ssize_t)len)
        die("write failed", NULL);
    free(line);
    input_free(&in);
    engine_close(&e);
    return 0;
}

/* number after "key": in a JSON line, or -1 */
static double json_num(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1.0;
}

struct cold_run {
    double first_ms, exit_ms;
    char *line;
};

/* fork/exec path argv (stdin: the text `in`, or inherited when NULL); time to the first byte
 * of its stdout, and to its exit; its whole stdout goes to r->line */
static void cold_once(const char *path, char *const argv[], const char *in, struct cold_run *r)
{
    int fd[2], fin[2] = {-1, -1};
    if (pipe(fd) != 0 || (in && pipe(fin) != 0))
        die("pipe failed", NULL);
    if (in) {
        /* a short text fits in the pipe buffer: write it all now, then close */
        size_t il = strlen(in);
        if (write(fin[1], in, il) != (ssize_t)il)
            die("write failed", NULL);
        close(fin[1]);
    }
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed", NULL);
    if (pid == 0) {
        close(fd[0]);
        if (dup2(fd[1], STDOUT_FILENO) < 0)
            _exit(127);
        close(fd[1]);
        if (in) {
            if (dup2(fin[0], STDIN_FILENO) < 0)
                _exit(127);
            close(fin[0]);
        }
        execv(path, argv);
        _exit(127);
    }
    if (in)
        close(fin[0]);
    close(fd[1]);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        die("out of memory", NULL);
    r->first_ms = -1;
    for (;;) {
        if (len + 4096 > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                die("out of memory", NULL);
            buf = nb;
        }
        ssize_t n = read(fd[0], buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (r->first_ms < 0)
            r->first_ms = now_ms() - t0;
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r->exit_ms = now_ms() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || r->first_ms < 0)
        die("cold child failed (its error is above)", NULL);
    r->line = buf;
}

static int mode_cold(const struct args *a)
{
    int n = a->runs;
    struct cold_run *r = calloc((size_t)n, sizeof *r);
    double *first = malloc((size_t)n * sizeof *first);
    double *ex = malloc((size_t)n * sizeof *ex);
    double *rss = malloc((size_t)n * sizeof *rss);
    if (!r || !first || !ex || !rss)
        die("out of memory", NULL);
    struct cpu_mark m0 = cpu_mark();
    char threads[16];
    snprintf(threads, sizeof threads, "%d", a->threads);
    char *const argv[] = {"bench_embed", "--mode",   "cold-child", "--model",
                          (char *)a->model, "--threads", threads, "--precision",
                          (char *)a->precision, NULL};
    for (int i = 0; i < n; i++) {
        cold_once("/proc/self/exe", argv, NULL, &r[i]);
        first[i] = r[i].first_ms;
        ex[i] = r[i].exit_ms;
        rss[i] = json_num(r[i].line, "peak_rss_kb");
    }
    struct cpu_mark m1 = cpu_mark();
    for (int i = 0; i < n; i++) /* the children's CPU time counts as ours */
        m1.own += json_num(r[i].line, "cpu_s");
    double other = other_cores(m0, m1);
    /* the breakdown is taken from the run with the median cold start */
    int mi = 0;
    qsort(first, (size_t)n, sizeof *first, cmp_double);
    double med = first[(n - 1) / 2];
    for (int i = 0; i < n; i++)
        if (r[i].first_ms == med)
            mi = i;
    qsort(ex, (size_t)n, sizeof *ex, cmp_double);
    qsort(rss, (size_t)n, sizeof *rss, cmp_double);
    printf("{\"engine\":\"quire\",\"case\":\"cold_start\",\"threads\":%d,\"runs\":%d,"
           "\"tokens\":%d,\"median_ms\":%.3f,\"min_ms\":%.3f,\"max_ms\":%.3f,"
           "\"exit_median_ms\":%.3f,\"in_process_median_ms\":%.3f,\"load_ms\":%.3f,"
           "\"embedder_ms\":%.3f,\"first_run_ms\":%.3f,\"peak_rss_kb\":%.0f,"
           "\"other_cores\":%.2f}\n",
           a->threads, n, SANITY_TOKENS, med, first[0], first[n - 1], ex[(n - 1) / 2],
           json_num(r[mi].line, "in_process_ms"), json_num(r[mi].line, "load_ms"),
           json_num(r[mi].line, "embedder_ms"), json_num(r[mi].line, "first_run_ms"),
           rss[(n - 1) / 2], other);
    const char *v = strstr(r[0].line, "\"vec\":[");
    const char *end = v ? strchr(v, ']') : NULL;
    if (v && end) {
        printf("{\"engine\":\"quire\",\"case\":\"vector\",\"tokens\":%d,%.*s]}\n", SANITY_TOKENS,
               (int)(end - v), v);
    }
    fflush(stdout);
    for (int i = 0; i < n; i++)
        free(r[i].line);
    free(r);
    free(first);
    free(ex);
    free(rss);
    return 0;
}

static double ru_cpu_s(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
           (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

/* cold start of the CLI, as a user sees it: `quire embed --model DIR -q` with one short line
 * on stdin, from fork to the first byte of its JSON line */
static int mode_cold_cli(const struct args *a)
{
    int n = a->runs;
    double *first = malloc((size_t)n * sizeof *first);
    double *ex = malloc((size_t)n * sizeof *ex);
    if (!first || !ex)
        die("out of memory", NULL);
    char *const argv[] = {"quire", "embed", "--model", (char *)a->model, "-q",
                          "--precision", (char *)a->precision, NULL};
    struct cpu_mark m0 = cpu_mark();
    struct rusage c0, c1;
    getrusage(RUSAGE_CHILDREN, &c0);
    for (int i = 0; i < n; i++) {
        struct cold_run r;
        cold_once(a->cli, argv, "hello world\n", &r);
        if (!strstr(r.line, "\"embedding\""))
            die("quire embed printed no embedding", NULL);
        first[i] = r.first_ms;
        ex[i] = r.exit_ms;
        free(r.line);
    }
    struct cpu_mark m1 = cpu_mark();
    getrusage(RUSAGE_CHILDREN, &c1);
    m1.own += ru_cpu_s(&c1) - ru_cpu_s(&c0);
    qsort(first, (size_t)n, sizeof *first, cmp_double);
    qsort(ex, (size_t)n, sizeof *ex, cmp_double);
    printf("{\"engine\":\"quire\",\"case\":\"cold_start_cli\",\"runs\":%d,\"median_ms\":%.3f,"
           "\"min_ms\":%.3f,\"max_ms\":%.3f,\"exit_median_ms\":%.3f,\"peak_rss_kb\":%ld,"
           "\"other_cores\":%.2f}\n",
           n, first[(n - 1) / 2], first[0], first[n - 1], ex[(n - 1) / 2], c1.ru_maxrss,
           other_cores(m0, m1));
    fflush(stdout);
    free(first);
    free(ex);
    return 0;
}

int main(int argc, char **argv)
{
    double t_main = now_ms();
    struct args a = {"bench", "build/models/minilm", "build/quire", 1, 5, 0, "fp32", NULL};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        int has = i + 1 < argc;
        if (strcmp(s, "--mode") == 0 && has)
            a.mode = argv[++i];
        else if (strcmp(s, "--model") == 0 && has)
            a.model = argv[++i];
        else if (strcmp(s, "--cli") == 0 && has)
            a.cli = argv[++i];
        else if (strcmp(s, "--threads") == 0 && has)
            a.threads = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(s, "--runs") == 0 && has)
            a.runs = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(s, "--quick") == 0)
            a.quick = 1;
        else if (strcmp(s, "--precision") == 0 && has)
            a.precision = argv[++i];
        else if (strcmp(s, "--cases") == 0 && has)
            a.cases = argv[++i];
        else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    g_precision = quire_precision_parse(a.precision);
    if (a.threads < 1 || a.runs < 1 || g_precision < 0) {
        usage(stderr);
        return 2;
    }
    if (strcmp(a.mode, "bench") == 0)
        return mode_bench(&a);
    if (strcmp(a.mode, "cold") == 0)
        return mode_cold(&a);
    if (strcmp(a.mode, "cold-cli") == 0)
        return mode_cold_cli(&a);
    if (strcmp(a.mode, "cold-child") == 0)
        return mode_cold_child(&a, t_main);
    usage(stderr);
    return 2;
}
