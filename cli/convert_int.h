/*
 * convert_int.h — shared state of `quire convert` (cmd_convert.c runs the batch and
 * reports; convert_plan.c finds the inputs, maps them to outputs, refuses collisions
 * and keeps the fingerprints that decide what is up to date).
 */
#ifndef QUIRE_CLI_CONVERT_INT_H
#define QUIRE_CLI_CONVERT_INT_H

#include <pthread.h>

#include "cli.h"

enum { JOB_PENDING = 0, JOB_OK, JOB_PARTIAL, JOB_FAILED, JOB_SKIPPED };

typedef struct conv_args {
    const char *out;    /* NULL = stdout for one input; "-" = stdout */
    const char *lang;
    const char *pages;
    const char *report;
    int format, format_set, ocr, force, quiet, page_markers, allow_empty;
    int strategy, strategy_set, ocr_set, vlm_set; /* enum quire_strategy; options given */
    int tables; /* enum quire_tables */
    int images; /* enum quire_images; -1 = default (refs for file outputs, none for stdout) */
    long dpi, max_pages, jobs, image_dpi;
    double timeout_s;
    /* VLM backends (hybrid OCR) */
    int vlm, log_json;          /* enum quire_vlm_mode; --log-format json */
    const char *config;         /* --config FILE (NULL: $QUIRE_CONFIG, ./quire.toml) */
    const char *vlm_cache;      /* --vlm-cache DIR */
    double max_fallback_share;  /* --max-fallback-share (0..1; < 0 = off) */
    quire_config *cfg;          /* loaded when --vlm is not never */
} conv_args;

typedef struct conv_job {
    char *in;
    char *rel;   /* path below -o where the output goes (extension replaced) */
    char *out;   /* NULL = stdout */
    char *shown; /* name in messages and reports ("-" for stdin), NULL = in */
    int state;   /* JOB_* */
    int n_empty; /* pages that ended with no text */
    int n_suspect; /* pages whose text fails the garbage check (report.quality) */
    char error[256];
    quire_convert_result *res; /* kept for the report; output freed once written */
    int pages_live;             /* pages finished so far while converting (progress) */
    long peak_rss_kb;           /* the process's peak resident memory when it finished */
} conv_job;

typedef struct conv_batch {
    conv_args *a;
    conv_job *jobs;
    int n_jobs, cap_jobs;
    quire_converter *conv;
    pthread_mutex_t mu;
    int next;                   /* next job to start */
    int n_done, n_pages, tty;
    int live_pages;             /* pages finished in documents still converting */
    double t0, last_draw;
    int any_dir;                /* some input was a directory */
    char *stdin_tmp;            /* spooled copy of stdin (`convert -`), removed at the end */
} conv_batch;

static inline const char *job_name(const conv_job *j)
{
    return j->shown ? j->shown : j->in;
}

/* convert_plan.c */
/* Collect the jobs for the positional inputs ("-" = stdin). Returns 0, EXIT_FAIL or
 * EXIT_USAGE after printing a line. */
int conv_collect(conv_batch *b, const char **pos, int n_pos);
/* Decide each job's output (mirroring every input root under -o) and refuse, up front,
 * two inputs that would write one file. Returns 0, EXIT_FAIL or EXIT_USAGE. */
int conv_plan(conv_batch *b, int n_pos);
/* Is j's output up to date: its sidecar records this input's sha256, these options,
 * this quire version, a complete conversion and the output's own sha256, and every figure
 * PNG it lists ("images") is still next to the output? */
int conv_up_to_date(const conv_batch *b, const conv_job *j, char input_sha[65]);
/* The sidecar path of an output: DIR/.NAME.quire (caller frees). */
char *conv_sidecar_path(const char *out);
/* The sidecar text for a complete conversion (caller frees), or NULL. */
char *conv_sidecar_text(const conv_batch *b, const char *input_sha, const char *output,
                        size_t output_len, const quire_convert_result *res);
/* sha256 of a file's bytes; 0 or -1. */
int conv_sha256_file(const char *path, char out[65]);
/* Atomic write (temp, fsync, rename, fsync dir); err gets a line on failure. */
int conv_write_atomic(const char *path, const char *data, size_t len, char *err, size_t cap);
/* The --images mode that applies to an output (out NULL = stdout). */
int conv_images_mode(const conv_args *a, const char *out);
/* "auto", "fast", "ocr_only", "hi_res" (enum quire_strategy) */
extern const char *const conv_strategy_names[];
extern volatile int conv_stop; /* SIGINT/SIGTERM */

#endif
