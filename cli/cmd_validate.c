/*
 * cmd_validate.c — `quire validate gamebook FILE.json`: the checks of
 * quire_gamebook_validate (docs/gamebook.md) on a `convert --format gamebook` export,
 * one line per error (or the JSON report with --json); exit 1 when any error is found.
 */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "cli.h"
#include "core/core.h"

typedef struct val_args {
    int json;
} val_args;

static const cli_opt opts[] = {
    {"json", 0, 0, NULL, "print the report as one JSON object {errors, n_errors, n_sections, ok}"},
    {NULL, 0, 0, NULL, NULL},
};

static void help(FILE *out)
{
    fprintf(out, "usage: quire validate gamebook [options] FILE.json|-\n\n"
                 "Check a gamebook export (quire convert --format gamebook, docs/gamebook.md):\n"
                 "choices that lead to no section (missing_target), sections no chain of\n"
                 "choices from the first one reaches (unreachable), numbers used twice\n"
                 "(duplicate), sections without choices that are not endings (dead_end),\n"
                 "numbers missing between the first and the last (missing_section).\n"
                 "Prints one line per error: FILE: KIND[, page P]: section N: message.\n"
                 "Exit status: 0 no errors, 1 errors found or unreadable input, 2 usage.\n\n"
                 "options:\n");
    cli_print_opts(out, opts);
    fprintf(out, "\nexample:\n  quire convert --format gamebook -o book.json book.pdf && "
                 "quire validate gamebook book.json\n");
}

static int on_opt(int idx, const char *val, void *user)
{
    (void)val;
    val_args *a = user;
    if (strcmp(opts[idx].name, "json") == 0)
        a->json = 1;
    return 0;
}

/* The whole of FILE ("-": stdin) into *out (NUL-terminated), *len. 0, or -1 with a
 * message. */
static int slurp(const char *path, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "quire validate: %s: %s\n", path, strerror(errno));
        return -1;
    }
    qr_buf b;
    qr_buf_init(&b, 0);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        qr_buf_append(&b, chunk, got);
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    qr_buf_putc(&b, '\0');
    if (bad || b.failed) {
        fprintf(stderr, "quire validate: %s: %s\n", path, bad ? "read error" : "out of memory");
        qr_buf_free(&b);
        return -1;
    }
    *out = b.data;
    *len = b.len - 1;
    return 0;
}

static void print_human(const char *path, const char *report)
{
    json_t *r = json_loads(report, 0, NULL);
    json_t *errs = json_object_get(r, "errors");
    size_t i;
    json_t *e;
    json_array_foreach(errs, i, e) {
        printf("%s: %s", path, json_string_value(json_object_get(e, "kind")));
        json_t *page = json_object_get(e, "page");
        if (page)
            printf(", page %lld", (long long)json_integer_value(page));
        printf(": %s\n", json_string_value(json_object_get(e, "message")));
    }
    printf("%s: %lld sections, %lld errors\n", path,
           (long long)json_integer_value(json_object_get(r, "n_sections")),
           (long long)json_integer_value(json_object_get(r, "n_errors")));
    json_decref(r);
}

int cmd_validate(int argc, char **argv)
{
    val_args a = {0};
    const char *pos[2] = {NULL, NULL};
    int n_pos = 0;
    int rc = cli_parse(argc, argv, opts, on_opt, &a, pos, 2, &n_pos, help);
    if (rc < 0)
        return EXIT_OK;
    if (rc)
        return rc;
    if (n_pos != 2 || strcmp(pos[0], "gamebook") != 0) {
        fprintf(stderr, "quire validate: %s (see quire validate --help)\n",
                n_pos == 0 ? "missing the kind: validate gamebook FILE.json"
                : strcmp(pos[0], "gamebook") != 0 ? "unknown kind (only 'gamebook')"
                                                  : "missing FILE.json");
        return EXIT_USAGE;
    }
    char *text = NULL;
    size_t len = 0;
    if (slurp(pos[1], &text, &len))
        return EXIT_FAIL;
    char *report = NULL;
    int n_err = 0;
    quire_error err = {0};
    if (quire_gamebook_validate(text, len, &report, &n_err, &err)) {
        fprintf(stderr, "quire validate: %s: %s\n", pos[1], err.msg);
        qr_free(text);
        return EXIT_FAIL;
    }
    if (a.json)
        printf("%s\n", report);
    else
        print_human(pos[1], report);
    quire_free(report);
    qr_free(text);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "quire validate: writing output: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    return n_err ? EXIT_FAIL : EXIT_OK;
}
