/*
 * cli.h — shared pieces of the `quire` command: subcommand table, option parsing,
 * exit codes. Each subcommand lives in its own cli/cmd_<name>.c and only parses
 * arguments, calls the public API and prints.
 */
#ifndef QUIRE_CLI_H
#define QUIRE_CLI_H

#include <stdio.h>

#include "quire.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_PARTIAL = 3 };

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} cli_cmd;

int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_collections(int argc, char **argv);
int cmd_docs(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_mcp(int argc, char **argv);
int cmd_enqueue(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_validate(int argc, char **argv);

/* Option table entry: long name, short letter (0 = none), takes a value? has_arg: 0 a
 * flag, 1 a single value (given twice is a usage error), 2 a repeatable value. */
typedef struct cli_opt {
    const char *name;  /* without leading dashes, e.g. "model" */
    char short_name;   /* e.g. 'm', or 0 */
    int has_arg;
    const char *arg_name; /* for help, e.g. "DIR" */
    const char *help;
} cli_opt;

/* Parse argv (from index 1) against opts. For each option found calls
 * on_opt(index into opts, value or NULL, user); positional args are collected into
 * pos[] (at most max_pos). Returns 0, or EXIT_USAGE after printing an error naming
 * the option. "--help"/"-h" prints usage (via print_help) and returns -1. */
typedef int (*cli_opt_cb)(int idx, const char *val, void *user);
int cli_parse(int argc, char **argv, const cli_opt *opts, cli_opt_cb on_opt, void *user,
              const char **pos, int max_pos, int *n_pos, void (*print_help)(FILE *out));

/* The environment variable that gives option o of subcommand cmd its default when the
 * command line leaves it out (QUIRE_DB, QUIRE_MODEL), or NULL. cli_parse applies it
 * after argv; cli_print_opts names it in the help. */
const char *cli_env_default(const char *cmd, const cli_opt *o);

/* Print an options table. */
void cli_print_opts(FILE *out, const cli_opt *opts);

/* Parse a positive int with bounds; on error prints "quire CMD: --NAME: ..." and
 * returns -1. */
int cli_int(const char *cmd, const char *name, const char *val, long lo, long hi, long *out);

/* Parse --precision fp32|bf16|int8 (enum quire_precision); -1 with a message on error. */
int cli_precision(const char *cmd, const char *val, int *out);
/* Open a model for a collection whose vectors have `fingerprint` ("" / NULL: none): when
 * the precision was not given and the fingerprint does not match, the other precisions
 * are tried (the collection was embedded with --precision). mp->precision is updated. */
quire_status cli_open_model_for(const char *dir, quire_model_params *mp, int precision_given,
                                const char *fingerprint, quire_model **out, quire_error *err);

/* Print an error from the library: "quire CMD: message" and return the exit code
 * that fits the status. */
int cli_fail(const char *cmd, const quire_error *err);

/* Print one JSON value as a compact line on stdout and release it (NULL: out of memory).
 * Returns 0, or -1 when o is NULL or cannot be serialised. */
typedef struct json_t json_t;
int cli_print_json(json_t *o);

/* One search hit as the JSON object of `quire search --json` (also the MCP server's hits):
 * rank, document, page_start, page_end, heading, score, snippet, chunk_id, and text_rank /
 * vector_rank / cosine when the hit is in that list, text when full. NULL: out of memory. */
typedef struct quire_hit quire_hit;
/* One search hit as JSON (hit schema 1, docs/search-hits.md); mode: the mode used. */
json_t *cli_hit_json(const quire_hit *h, int rank, int mode, int text_rank);

extern const char *cli_prog;

#endif
