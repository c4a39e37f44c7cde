/*
 * opts.c — option parsing shared by subcommands: --name VALUE, --name=VALUE, -x VALUE,
 * "--" ends options, "-" is a positional (stdin).
 */
#include <jansson.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int find_long(const cli_opt *opts, const char *name, size_t len)
{
    for (int i = 0; opts[i].name; i++) {
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return i;
    }
    return -1;
}

static int find_short(const cli_opt *opts, char c)
{
    for (int i = 0; opts[i].name; i++) {
        if (opts[i].short_name && opts[i].short_name == c)
            return i;
    }
    return -1;
}

static const char *cur_cmd; /* the subcommand being parsed: its help names its env defaults */

int cli_parse(int argc, char **argv, const cli_opt *opts, cli_opt_cb on_opt, void *user,
              const char **pos, int max_pos, int *n_pos, void (*print_help)(FILE *out))
{
    const char *cmd = argv[0];
    cur_cmd = cmd;
    int only_pos = 0;
    *n_pos = 0;
    const char *seen[128] = {0}; /* the value each single-value option was given */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int idx = -1;
        const char *val = NULL;
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            print_help(stdout);
            return -1;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            idx = find_long(opts, a + 2, len);
            if (idx < 0) {
                fprintf(stderr, "quire %s: unknown option '%.*s' (see quire %s --help)\n", cmd,
                        (int)(len + 2), a, cmd);
                return EXIT_USAGE;
            }
            if (eq)
                val = eq + 1;
        } else if (!only_pos && a[0] == '-' && a[1] != '\0') {
            idx = find_short(opts, a[1]);
            if (idx < 0 || a[2] != '\0') {
                fprintf(stderr, "quire %s: unknown option '%s' (see quire %s --help)\n", cmd, a,
                        cmd);
                return EXIT_USAGE;
            }
        } else {
            if (*n_pos >= max_pos) {
                fprintf(stderr, "quire %s: unexpected argument '%s'\n", cmd, a);
                return EXIT_USAGE;
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        if (opts[idx].has_arg && !val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "quire %s: option --%s needs a value (%s)\n", cmd,
                        opts[idx].name, opts[idx].arg_name ? opts[idx].arg_name : "VALUE");
                return EXIT_USAGE;
            }
            val = argv[++i];
        } else if (!opts[idx].has_arg && val) {
            fprintf(stderr, "quire %s: option --%s takes no value\n", cmd, opts[idx].name);
            return EXIT_USAGE;
        }
        if (opts[idx].has_arg == 1 && idx < 128) {
            if (seen[idx]) {
                fprintf(stderr, "quire %s: --%s given twice ('%s' and '%s'); it takes one "
                                "value\n", cmd, opts[idx].name, seen[idx], val);
                return EXIT_USAGE;
            }
            seen[idx] = val;
        }
        int rc = on_opt(idx, val, user);
        if (rc != 0)
            return rc;
    }
    /* Environment defaults for what the command line left out: QUIRE_DB for every
     * --db, QUIRE_MODEL for --model where it names the model to run (not where it
     * names a model to describe, to convert to or to check against). */
    for (int idx = 0; opts[idx].name && idx < 128; idx++) {
        const char *env = cli_env_default(cmd, &opts[idx]);
        const char *v = env ? getenv(env) : NULL;
        if (seen[idx] || !v || !*v)
            continue;
        int rc = on_opt(idx, v, user);
        if (rc != 0)
            return rc;
    }
    return 0;
}

const char *cli_env_default(const char *cmd, const cli_opt *o)
{
    static const char *const model_cmds[] = {"embed", "ingest", "search", "serve", "mcp",
                                             "tokenize", NULL};
    if (o->has_arg != 1)
        return NULL;
    if (strcmp(o->name, "db") == 0)
        return "QUIRE_DB";
    if (strcmp(o->name, "model") == 0 && cmd)
        for (int i = 0; model_cmds[i]; i++)
            if (strcmp(cmd, model_cmds[i]) == 0)
                return "QUIRE_MODEL";
    return NULL;
}

void cli_print_opts(FILE *out, const cli_opt *opts)
{
    for (int i = 0; opts[i].name; i++) {
        char left[64];
        if (opts[i].short_name)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", opts[i].short_name, opts[i].name,
                     opts[i].has_arg ? " " : "", opts[i].has_arg ? opts[i].arg_name : "");
        else
            snprintf(left, sizeof(left), "    --%s%s%s", opts[i].name, opts[i].has_arg ? " " : "",
                     opts[i].has_arg ? opts[i].arg_name : "");
        const char *env = cli_env_default(cur_cmd, &opts[i]);
        if (env && !strstr(opts[i].help, env))
            fprintf(out, "  %-26s %s (default: $%s)\n", left, opts[i].help, env);
        else
            fprintf(out, "  %-26s %s\n", left, opts[i].help);
    }
    fprintf(out, "  %-26s %s\n", "-h, --help", "show this help");
}

int cli_int(const char *cmd, const char *name, const char *val, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end != '\0') {
        fprintf(stderr, "quire %s: --%s: '%s' is not a whole number\n", cmd, name, val);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "quire %s: --%s: %ld is out of range [%ld, %ld]\n", cmd, name, v, lo,
                hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_fail(const char *cmd, const quire_error *err)
{
    fprintf(stderr, "quire %s: %s\n", cmd, err->msg[0] ? err->msg : quire_status_str(err->code));
    if (err->code == QUIRE_INVALID_ARG)
        return EXIT_USAGE;
    return EXIT_FAIL;
}

int cli_print_json(json_t *o)
{
    if (!o)
        return -1;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return -1;
    printf("%s\n", s);
    free(s); /* lint-allow: free (json_dumps) */
    return 0;
}

int cli_precision(const char *cmd, const char *val, int *out)
{
    int p = quire_precision_parse(val);
    if (p < 0) {
        fprintf(stderr, "quire %s: --precision: '%s' is not fp32, bf16 or int8\n", cmd, val);
        return -1;
    }
    *out = p;
    return 0;
}

quire_status cli_open_model_for(const char *dir, quire_model_params *mp, int precision_given,
                                const char *fingerprint, quire_model **out, quire_error *err)
{
    quire_status rc = quire_model_open(dir, mp, out, err);
    if (rc != QUIRE_OK || precision_given || !fingerprint || !fingerprint[0] ||
        strcmp(quire_model_fingerprint(*out), fingerprint) == 0)
        return rc;
    /* the collection was embedded in another precision: find which (the fingerprint
     * differs only by it), else keep the first model (the store then refuses it) */
    for (int p = QUIRE_PRECISION_FP32; p <= QUIRE_PRECISION_INT8; p++) {
        if (p == mp->precision)
            continue;
        quire_model_params q = *mp;
        q.precision = p;
        quire_model *m = NULL;
        if (quire_model_open(dir, &q, &m, NULL) != QUIRE_OK)
            continue;
        if (strcmp(quire_model_fingerprint(m), fingerprint) == 0) {
            quire_model_close(*out);
            *out = m;
            *mp = q;
            return QUIRE_OK;
        }
        quire_model_close(m);
    }
    return QUIRE_OK;
}
