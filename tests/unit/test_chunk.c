/*
 * test_chunk.c — the Markdown chunker (src/text/chunk.c): heading paths, page ranges
 * from page markers, tables and code fences kept whole (table header repeated when a
 * table is split), chunk sizes against the budget, overlap, determinism, hostile input
 * (empty, 1 MB without a newline, 20k headings, unclosed fence, CRLF, invalid UTF-8,
 * random bytes) and an allocation-failure loop. tests/data/chunk/manual.md is a small
 * hand-written document in the shape quire convert --page-markers writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testlib.h"
#include "text/text.h"

static quire_status run(const char *md, size_t len, int budget, int overlap, qr_chunk_list *out)
{
    qr_chunk_opts o = {0};
    o.chunk_tokens = budget;
    o.overlap = overlap;
    quire_error err = {0};
    quire_status st = qr_chunk_markdown(md, len, &o, out, &err);
    T_CHECKF(st == QUIRE_OK || st == QUIRE_NOMEM, "status %d: %s", st, err.msg);
    return st;
}

static int words(const char *s, size_t n)
{
    return qr_count_words_approx(s, n, NULL);
}

static char *fixture(size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/chunk/manual.md", t_testdata());
    char *md = t_read_file(path, len);
    T_CHECKF(md != NULL, "cannot read %s", path);
    return md;
}

static const qr_chunk *find(const qr_chunk_list *l, const char *needle)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strstr(l->items[i].text, needle))
            return &l->items[i];
    }
    return NULL;
}

/* Basic invariants of every list. */
static void check_list(const qr_chunk_list *l, int budget)
{
    for (size_t i = 0; i < l->n; i++) {
        const qr_chunk *c = &l->items[i];
        T_CHECK(c->text != NULL && c->heading != NULL);
        T_CHECK(c->len > 0 && c->text[c->len] == '\0');
        T_CHECK(c->page_start >= 1 && c->page_start <= c->page_end);
        T_CHECK(c->text[0] != ' ' && c->text[0] != '\n');
        T_CHECK(c->text[c->len - 1] != ' ' && c->text[c->len - 1] != '\n');
        int oversized_ok = c->text[0] == '`' || c->text[0] == '~' || c->text[0] == '|';
        T_CHECKF(c->n_tokens <= budget || oversized_ok, "chunk %zu: %d tokens > %d: %.60s", i,
                 c->n_tokens, budget, c->text);
    }
}

static void test_count_approx(void)
{
    T_EQ_INT(words("", 0), 0);
    T_EQ_INT(words("hello world", 11), 2);
    T_EQ_INT(words("a,b", 3), 3);
    T_EQ_INT(words("  \n\t ", 5), 0);
    T_EQ_INT(words("abcdef", 6), 1);
    T_EQ_INT(words("abcdefg", 7), 2);      /* one more per started 6 bytes beyond 6 */
    T_EQ_INT(words("abcdefghijklm", 13), 3);
    T_EQ_INT(words("\xe4\xb8\xad\xe6\x96\x87", 6), 2); /* two CJK ideographs */
    T_EQ_INT(words("caf\xc3\xa9", 5), 1);
    T_EQ_INT(words("\xff\xfe", 2), 1); /* invalid bytes: a run, no crash */
    T_EQ_INT(words("\xe4\xb8", 2), 1); /* truncated sequence */
}

static void test_empty(void)
{
    qr_chunk_list l = {0};
    T_EQ_INT(run("", 0, 0, 0, &l), QUIRE_OK);
    T_EQ_INT(l.n, 0);
    qr_chunk_list_free(&l);
    T_EQ_INT(run(NULL, 0, 0, 0, &l), QUIRE_OK);
    T_EQ_INT(l.n, 0);
    const char *ws = "  \n\n\t \r\n\r\n   \n<!-- page 3 -->\n\n# Only a heading\n\n---\n";
    T_EQ_INT(run(ws, strlen(ws), 0, 0, &l), QUIRE_OK);
    T_EQ_INT(l.n, 0);
    qr_chunk_list_free(&l);
    qr_chunk_list_free(&l); /* twice is fine */
    qr_chunk_list_free(NULL);
    quire_error err = {0};
    qr_chunk_opts bad = {-5, 0, NULL, NULL};
    T_EQ_INT(qr_chunk_markdown("x", 1, &bad, &l, &err), QUIRE_INVALID_ARG);
    T_EQ_INT(qr_chunk_markdown(NULL, 3, NULL, &l, &err), QUIRE_INVALID_ARG);
    T_EQ_INT(qr_chunk_markdown("x", 1, NULL, NULL, &err), QUIRE_INVALID_ARG);
}

static void test_heading_paths(void)
{
    const char *md = "Intro text before any heading.\n\n"
                     "# A\n\ntext a\n\n## B\n\ntext b\n\n### C\n\ntext c\n\n"
                     "## D ##\n\ntext d\n\n# E\n\ntext e\n\n###### F\n\ntext f\n\n"
                     "#not a heading\n\n####### seven is text\n";
    qr_chunk_list l = {0};
    run(md, strlen(md), 0, 0, &l);
    static const char *want[][2] = {
        {"Intro text before any heading.", ""}, {"text a", "A"},  {"text b", "A > B"},
        {"text c", "A > B > C"},  {"text d", "A > D"}, {"text e", "E"},
        {"text f\n\n#not a heading\n\n####### seven is text", "E > F"},
    };
    T_EQ_INT(l.n, QR_ARRAY_LEN(want));
    for (size_t i = 0; i < l.n && i < QR_ARRAY_LEN(want); i++) {
        T_CHECKF(strcmp(l.items[i].text, want[i][0]) == 0, "chunk %zu text '%s'", i,
                 l.items[i].text);
        T_CHECKF(strcmp(l.items[i].heading, want[i][1]) == 0, "chunk %zu heading '%s'", i,
                 l.items[i].heading);
    }
    qr_chunk_list_free(&l);
}

static void test_pages(void)
{
    const char *md = "first page text.\n\n<!-- page 2 -->\n\nsecond page text.\n\n"
                     "<!-- page 3 -->\n\nthird page text.\n\n<!--page 7-->\n\nseventh.\n\n"
                     "<!-- page 0 -->\n\n<!-- page x -->\n";
    qr_chunk_list l = {0};
    run(md, strlen(md), 0, 0, &l);
    T_EQ_INT(l.n, 1);
    if (l.n >= 1) {
        T_EQ_INT(l.items[0].page_start, 1);
        T_EQ_INT(l.items[0].page_end, 7);
        T_CHECK(strstr(l.items[0].text, "<!-- page 2") == NULL);
        T_CHECK(strstr(l.items[0].text, "seventh.\n\n<!-- page 0 -->") != NULL); /* not markers */
    }
    qr_chunk_list_free(&l);
    /* one sentence per chunk: each chunk has its own page */
    run(md, strlen(md), 4, -1, &l);
    int want[] = {1, 2, 3, 7};
    T_CHECK(l.n >= 4);
    for (size_t i = 0; i < 4 && i < l.n; i++) {
        T_EQ_INT(l.items[i].page_start, want[i]);
        T_EQ_INT(l.items[i].page_end, want[i]);
    }
    qr_chunk_list_free(&l);
    const char *nomark = "no markers at all.\n\nstill page one.";
    run(nomark, strlen(nomark), 0, 0, &l);
    T_EQ_INT(l.n, 1);
    T_CHECK(l.n == 1 && l.items[0].page_start == 1 && l.items[0].page_end == 1);
    qr_chunk_list_free(&l);
}

/* Every line of a chunk that starts with '|' is a whole row of the input. */
static void check_rows_whole(const qr_chunk_list *l, const char *md)
{
    for (size_t i = 0; i < l->n; i++) {
        const char *t = l->items[i].text;
        for (const char *line = t; *line;) {
            const char *e = strchr(line, '\n');
            size_t n = e ? (size_t)(e - line) : strlen(line);
            if (line[0] == '|') {
                char buf[512];
                snprintf(buf, sizeof(buf), "\n%.*s\n", (int)n, line);
                T_CHECKF(strstr(md, buf) != NULL, "chunk %zu: row cut: %.*s", i, (int)n, line);
            }
            line += n + (e ? 1 : 0);
        }
    }
}

static void test_tables(void)
{
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_buf_printf(&b, "Some text before the table.\n\n| Name | Value | Note |\n|---|:---:|---|\n");
    for (int r = 0; r < 40; r++)
        qr_buf_printf(&b, "| row%d | %d | note number %d here |\n", r, r * 7, r);
    qr_buf_printf(&b, "\nText after the table.\n");
    qr_chunk_list l = {0};
    run(b.data, b.len, 40, 8, &l);
    check_list(&l, 40);
    check_rows_whole(&l, b.data);
    int n_table = 0;
    for (size_t i = 0; i < l.n; i++) {
        const char *t = l.items[i].text;
        const char *row0 = strstr(t, "| row0 |");
        if (row0) /* the first data row stays with the header */
            T_CHECK(strstr(t, "| Name | Value | Note |\n|---|:---:|---|\n| row0 |") != NULL);
        if (t[0] == '|') {
            n_table++;
            T_CHECKF(strncmp(t, "| Name | Value | Note |\n|---|:---:|---|\n| row", 39) == 0,
                     "chunk %zu does not start with the header: %.60s", i, t);
        }
    }
    T_CHECKF(n_table >= 3, "table split into %d chunks", n_table);
    /* every row is somewhere */
    for (int r = 0; r < 40; r++) {
        char row[64];
        snprintf(row, sizeof(row), "| row%d |", r);
        T_CHECKF(find(&l, row) != NULL, "row %d lost", r);
    }
    qr_chunk_list_free(&l);
    qr_buf_free(&b);
}

static void test_code(void)
{
    const char *code = "```python\ndef f(x):\n\n    # not a heading\n<!-- page 9 -->\n"
                       "    return x  # ``` inside a line\n```";
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_buf_printf(&b, "# Top\n\nBefore the code. It has two sentences.\n\n%s\n\nAfter.\n", code);
    for (int budget = 4; budget <= 64; budget *= 2) {
        qr_chunk_list l = {0};
        run(b.data, b.len, budget, 2, &l);
        check_list(&l, budget);
        const qr_chunk *c = find(&l, "def f(x)");
        T_CHECK(c && strstr(c->text, code) != NULL);
        T_CHECK(c && strcmp(c->heading, "Top") == 0 && c->page_end == 1);
        for (size_t i = 0; i < l.n; i++) {
            const char *t = l.items[i].text;
            if (strstr(t, "```") && t != (c ? c->text : NULL))
                T_CHECKF(0, "fence split: %s", t);
        }
        qr_chunk_list_free(&l);
    }
    qr_buf_free(&b);
    /* ~~~ fences, and a longer closing fence */
    const char *md = "~~~\na\n```\nb\n~~~~\n\nafter";
    qr_chunk_list l = {0};
    run(md, strlen(md), 0, 0, &l);
    T_CHECK(l.n == 1 && strcmp(l.items[0].text, "~~~\na\n```\nb\n~~~~\n\nafter") == 0);
    qr_chunk_list_free(&l);
}

static void test_unclosed_fence(void)
{
    const char *md = "Text.\n\n```\ncode line\n\n# not a heading\n<!-- page 5 -->\nmore\n\n";
    qr_chunk_list l = {0};
    run(md, strlen(md), 3, 0, &l);
    T_EQ_INT(l.n, 2);
    if (l.n == 2) {
        T_CHECK(strcmp(l.items[1].text, "```\ncode line\n\n# not a heading\n<!-- page 5 -->\nmore")
                == 0);
        T_CHECK(strcmp(l.items[1].heading, "") == 0 && l.items[1].page_end == 1);
    }
    qr_chunk_list_free(&l);
    const char *only = "```";
    run(only, 3, 0, 0, &l);
    T_EQ_INT(l.n, 0); /* no words */
    qr_chunk_list_free(&l);
}

/* A generated document: sections of paragraphs made of sentences of 5..14 words. */
static void gen_doc(qr_buf *b, uint64_t seed, int n_para)
{
    static const char *w[] = {"alpha", "beta", "gamma", "delta", "kernel", "matrix", "vector",
                              "page", "table", "quire", "search", "token", "model", "chunk"};
    uint64_t st = seed;
    for (int p = 0; p < n_para; p++) {
        if (p % 25 == 0)
            qr_buf_printf(b, "## Section %d\n\n", p / 25);
        if (p % 10 == 5)
            qr_buf_printf(b, "<!-- page %d -->\n\n", p / 10 + 2);
        int n_sent = 1 + (int)(t_rand(&st) * 5);
        for (int s = 0; s < n_sent; s++) {
            int n_words = 5 + (int)(t_rand(&st) * 10);
            for (int k = 0; k < n_words; k++)
                qr_buf_printf(b, "%s%s", k ? " " : (s ? " " : ""),
                              w[(int)(t_rand(&st) * QR_ARRAY_LEN(w))]);
            qr_buf_putc(b, '.');
        }
        qr_buf_append(b, "\n\n", 2);
    }
}

static void test_sizes(void)
{
    qr_buf b;
    qr_buf_init(&b, 0);
    gen_doc(&b, 42, 200);
    static const int budgets[] = {32, 64, 128, 256};
    for (size_t k = 0; k < QR_ARRAY_LEN(budgets); k++) {
        int budget = budgets[k];
        qr_chunk_list l = {0};
        run(b.data, b.len, budget, 0, &l);
        check_list(&l, budget);
        size_t big = 0;
        for (size_t i = 0; i < l.n; i++)
            big += l.items[i].n_tokens >= budget / 2;
        T_CHECKF(big * 10 >= l.n * 8, "budget %d: only %zu of %zu chunks >= half", budget, big,
                 l.n);
        qr_chunk_list_free(&l);
    }
    qr_buf_free(&b);
}

/* Without overlap the chunks hold every word once; with it, consecutive chunks of one
 * section share a bounded run of text. */
static void test_overlap(void)
{
    qr_buf b;
    qr_buf_init(&b, 0);
    gen_doc(&b, 7, 120);
    /* words in the input, minus headings ("##", "Section", N) and markers */
    int total = words(b.data, b.len);
    int n_head = 0, n_mark = 0;
    for (const char *p = b.data; (p = strstr(p, "## Section")) != NULL; p++)
        n_head++;
    for (const char *p = b.data; (p = strstr(p, "<!-- page")) != NULL; p++)
        n_mark++;
    total -= n_head * 5 + n_mark * 9; /* '#' '#' Sect ion N / '<' '!' '-' '-' page N '-' '-' '>' */
    qr_chunk_list l = {0};
    run(b.data, b.len, 64, -1, &l);
    int sum = 0;
    for (size_t i = 0; i < l.n; i++)
        sum += l.items[i].n_tokens;
    T_CHECKF(sum == total, "no overlap: %d tokens in chunks, %d in text",
             sum, total);
    qr_chunk_list_free(&l);

    const int budget = 64, overlap = 16;
    run(b.data, b.len, budget, overlap, &l);
    check_list(&l, budget);
    int n_pairs = 0, n_shared = 0;
    for (size_t i = 0; i + 1 < l.n; i++) {
        const qr_chunk *a = &l.items[i], *c = &l.items[i + 1];
        if (strcmp(a->heading, c->heading) != 0) {
            /* a new section starts fresh: nothing of the previous one */
            size_t n = QR_MIN(a->len, c->len);
            T_CHECK(n < 20 || strncmp(c->text, a->text + a->len - 20, 20) != 0);
            continue;
        }
        n_pairs++;
        size_t best = 0; /* longest prefix of c that ends a */
        for (size_t n = 1; n <= c->len && n <= a->len; n++) {
            if (memcmp(c->text, a->text + a->len - n, n) == 0)
                best = n;
        }
        if (best > 0) {
            n_shared++;
            int t = words(c->text, best);
            T_CHECKF(t <= overlap, "overlap of %d tokens > %d", t, overlap);
            T_CHECK(best < c->len); /* something new in every chunk */
            T_CHECK(c->text[best - 1] == '.'); /* whole sentences */
        }
    }
    T_CHECKF(n_pairs > 10 && n_shared * 4 >= n_pairs * 3, "overlap in %d of %d pairs", n_shared,
             n_pairs);
    qr_chunk_list_free(&l);
    qr_buf_free(&b);
}

static int same_lists(const qr_chunk_list *a, const qr_chunk_list *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const qr_chunk *x = &a->items[i], *y = &b->items[i];
        if (x->len != y->len || memcmp(x->text, y->text, x->len) != 0 ||
            strcmp(x->heading, y->heading) != 0 || x->page_start != y->page_start ||
            x->page_end != y->page_end || x->n_tokens != y->n_tokens)
            return 0;
    }
    return 1;
}

static void test_fixture(void)
{
    size_t len = 0;
    char *md = fixture(&len);
    if (!md)
        return;
    qr_chunk_list l = {0}, l2 = {0};
    run(md, len, 0, 0, &l);
    check_list(&l, 256);
    run(md, len, 0, 0, &l2);
    T_CHECK(same_lists(&l, &l2)); /* deterministic */
    qr_chunk_list_free(&l2);
    const qr_chunk *c = find(&l, "Quire turns documents");
    T_CHECK(c && strcmp(c->heading, "Field Guide to Quire") == 0 && c->page_start == 1);
    c = find(&l, "Run make in the top folder");
    T_CHECK(c && strcmp(c->heading, "Field Guide to Quire > Installation") == 0);
    T_CHECK(c && strstr(c->text, "- Install MuPDF and Tesseract when you need conversion of PDFs "
                                 "and page images.\n  Without them") != NULL);
    T_CHECK(c && strstr(c->text, "1. Check the version with quire info.\n2. Run") != NULL);
    c = find(&l, "| --ocr |");
    T_CHECK(c && strcmp(c->heading, "Field Guide to Quire > Conversion > Born-digital files") == 0);
    T_CHECK(c && c->page_start == 2 && c->page_end == 2);
    c = find(&l, "passed to Tesseract");
    T_CHECK(c && strcmp(c->heading, "Field Guide to Quire > Conversion > Scanned pages") == 0);
    c = find(&l, "quire_convert_file(conv");
    T_CHECK(c && strstr(c->text, "p.format = QUIRE_FORMAT_MD;\n\np.page_markers = 1;"));
    T_CHECK(c && c->page_start == 2 && c->page_end == 3); /* with the paragraph above */
    c = find(&l, "blur the embedding");
    T_CHECK(c && strcmp(c->heading, "Field Guide to Quire > Search > Tuning") == 0);
    T_CHECK(c && c->page_start == 4 && c->page_end == 4);
    qr_chunk_list_free(&l);

    /* small chunks: the table is split and its header repeated */
    run(md, len, 40, 6, &l);
    check_list(&l, 40);
    check_rows_whole(&l, md);
    int headers = 0;
    for (size_t i = 0; i < l.n; i++)
        headers += strncmp(l.items[i].text, "| Option | Meaning | Default |\n| --- |", 37) == 0;
    T_CHECKF(headers >= 2, "header in %d chunks", headers);

    /* CRLF gives the same chunks */
    char *crlf = malloc(len * 2 + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (md[i] == '\n')
            crlf[n++] = '\r';
        crlf[n++] = md[i];
    }
    run(crlf, n, 40, 6, &l2);
    T_CHECK(same_lists(&l, &l2));
    qr_chunk_list_free(&l2);
    free(crlf);
    qr_chunk_list_free(&l);
    free(md);
}

static void test_long_line(void)
{
    size_t n = (size_t)1 << 20;
    char *s = malloc(n);
    memset(s, 'x', n);
    qr_chunk_list l = {0};
    run(s, n, 256, 0, &l);
    check_list(&l, 256);
    size_t total = 0;
    for (size_t i = 0; i < l.n; i++)
        total += l.items[i].len;
    T_EQ_INT(total, n);
    T_CHECK(l.n > 100 && l.n < 2000);
    qr_chunk_list_free(&l);
    /* words without sentence ends, no newline */
    for (size_t i = 0; i < n; i++)
        s[i] = i % 7 == 6 ? ' ' : (char)('a' + i % 26);
    run(s, n, 100, 10, &l);
    check_list(&l, 100);
    T_CHECK(l.n > 1000);
    qr_chunk_list_free(&l);
    /* multi-byte characters are never cut */
    for (size_t i = 0; i + 3 <= n; i += 3)
        memcpy(s + i, "\xe2\x82\xac", 3); /* EURO SIGN */
    run(s, n - n % 3, 50, 0, &l);
    for (size_t i = 0; i < l.n; i++)
        T_CHECK(l.items[i].len % 3 == 0 && (unsigned char)l.items[i].text[0] == 0xe2);
    qr_chunk_list_free(&l);
    free(s);
}

static void test_many_headings(void)
{
    qr_buf b;
    qr_buf_init(&b, 0);
    for (int i = 0; i < 20000; i++)
        qr_buf_printf(&b, "%.*s h%d\n", 1 + i % 6, "######", i);
    qr_buf_printf(&b, "last words\n");
    for (int i = 0; i < 20000; i++)
        qr_buf_printf(&b, "## s%d\ntext %d\n", i, i);
    qr_chunk_list l = {0};
    run(b.data, b.len, 0, 0, &l);
    T_EQ_INT(l.n, 20001);
    if (l.n == 20001) {
        T_CHECK(strcmp(l.items[0].heading, "h19998 > h19999") == 0);
        T_CHECK(strcmp(l.items[20000].heading, "h19998 > s19999") == 0);
    }
    qr_chunk_list_free(&l);
    qr_buf_free(&b);
    /* a very long heading is cut in the path */
    qr_buf_init(&b, 0);
    qr_buf_printf(&b, "# ");
    for (int i = 0; i < 5000; i++)
        qr_buf_append(&b, "\xc3\xa9", 2);
    qr_buf_printf(&b, "\n\ntext\n");
    run(b.data, b.len, 0, 0, &l);
    T_CHECK(l.n == 1 && strlen(l.items[0].heading) <= 256 && strlen(l.items[0].heading) % 2 == 0);
    qr_chunk_list_free(&l);
    qr_buf_free(&b);
}

/* Random bytes and random Markdown-ish pieces: no crash, invariants hold. */
static void test_hostile(void)
{
    static const char *pieces[] = {"# ", "## ", "\n", "\n\n", "```", "~~~", "| a | b |\n",
                                   "|---|---|\n", "- item ", "1. ", "<!-- page 3 -->\n",
                                   "<!-- page ", "word ", "Sentence. ", "\r\n", "\xff",
                                   "\xe4\xb8\xad", "\xc3", "\t", "   ", "\0", "#######"};
    uint64_t st = 99;
    char buf[4096];
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 0;
        int mode = iter % 3;
        while (n < sizeof(buf) - 32) {
            if (mode == 0) {
                buf[n++] = (char)(t_rand(&st) * 256);
            } else {
                const char *p = pieces[(int)(t_rand(&st) * QR_ARRAY_LEN(pieces))];
                size_t k = p[0] ? strlen(p) : 1;
                memcpy(buf + n, p, k);
                n += k;
            }
            if (t_rand(&st) < 0.002)
                break;
        }
        int budget = 1 + (int)(t_rand(&st) * 40);
        qr_chunk_list l = {0};
        run(buf, n, budget, (int)(t_rand(&st) * 10) - 1, &l);
        for (size_t i = 0; i < l.n; i++) {
            T_CHECK(l.items[i].page_start >= 1 && l.items[i].page_start <= l.items[i].page_end);
            T_CHECK(l.items[i].len <= n && l.items[i].heading);
        }
        qr_chunk_list_free(&l);
    }
}

static void test_invalid_utf8(void)
{
    const char *md = "# T\xff\xfe\n\nBad \xc3 bytes \xe4\xb8 here. And \x80\x80 more.\n\n- \xff\n";
    qr_chunk_list l = {0};
    run(md, strlen(md), 0, 0, &l);
    T_EQ_INT(l.n, 1);
    T_CHECK(l.n == 1 && strcmp(l.items[0].heading, "T\xff\xfe") == 0);
    T_CHECK(l.n == 1 && strcmp(l.items[0].text,
                               "Bad \xc3 bytes \xe4\xb8 here. And \x80\x80 more.\n\n- \xff") == 0);
    qr_chunk_list_free(&l);
}

static void test_alloc_failures(void)
{
    size_t len = 0;
    char *md = fixture(&len);
    if (!md)
        return;
    qr_chunk_list want = {0};
    run(md, len, 24, 6, &want);
    int n_fail = 0, done = 0;
    for (long nth = 1; nth < 100000 && !done; nth++) {
        qr_chunk_list l = {0};
        quire_error err = {0};
        qr_chunk_opts o = {24, 6, NULL, NULL};
        qr_alloc_fail_at(nth);
        quire_status st = qr_chunk_markdown(md, len, &o, &l, &err);
        qr_alloc_fail_at(0);
        if (st == QUIRE_OK) {
            done = 1;
            T_CHECK(same_lists(&l, &want));
        } else {
            n_fail++;
            T_CHECKF(st == QUIRE_NOMEM, "N=%ld: status %d", nth, st);
            T_CHECKF(strstr(err.msg, "memory") != NULL, "N=%ld: '%s'", nth, err.msg);
            T_CHECK(l.n == 0 && l.items == NULL);
        }
        qr_chunk_list_free(&l);
    }
    T_CHECK(done && n_fail > 3);
    printf("  %d injected failures, all clean\n", n_fail);
    qr_chunk_list_free(&want);
    free(md);
}

/* A custom counter: bytes, not words. The budget applies to the sum of the pieces, so
 * the separators between them ("\n\n") may add a little. */
static int count_bytes(const char *text, size_t len, void *user_data)
{
    (*(int *)user_data)++;
    return (int)len;
}

static void test_custom_counter(void)
{
    qr_buf b;
    qr_buf_init(&b, 0);
    gen_doc(&b, 3, 30);
    int calls = 0;
    qr_chunk_opts o = {200, 20, count_bytes, &calls};
    qr_chunk_list l = {0};
    quire_error err = {0};
    T_EQ_INT(qr_chunk_markdown(b.data, b.len, &o, &l, &err), QUIRE_OK);
    T_CHECK(calls > 0 && l.n > 5);
    for (size_t i = 0; i < l.n; i++)
        T_CHECKF(l.items[i].n_tokens == (int)l.items[i].len && l.items[i].len <= 250,
                 "chunk %zu: %zu bytes", i, l.items[i].len);
    qr_chunk_list_free(&l);
    qr_buf_free(&b);
}

int main(void)
{
    T_RUN(test_count_approx);
    T_RUN(test_empty);
    T_RUN(test_heading_paths);
    T_RUN(test_pages);
    T_RUN(test_tables);
    T_RUN(test_code);
    T_RUN(test_unclosed_fence);
    T_RUN(test_sizes);
    T_RUN(test_overlap);
    T_RUN(test_fixture);
    T_RUN(test_long_line);
    T_RUN(test_many_headings);
    T_RUN(test_invalid_utf8);
    T_RUN(test_hostile);
    T_RUN(test_custom_counter);
    T_RUN(test_alloc_failures);
    return t_done();
}
