/*
 * test_layout.c — unit tests for src/layout and src/export on synthetic pages built
 * here word by word (no MuPDF, no Tesseract: this binary also runs on aarch64 under
 * qemu). Covers reading order with columns, headings, paragraphs and de-hyphenation,
 * lists, tables (aligned and ruled), code, running headers/page numbers, Markdown
 * escaping, JSON validity, empty and NULL pages, and clean out-of-memory failures.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "export/export.h"
#include "layout/layout.h"
#include "testlib.h"

/* ---- page builder ----------------------------------------------------------------- */

#define MAXB 64
#define MAXL 64
#define MAXW 32

static qr_arena g_in; /* input pages */

static qr_page *new_page(int number, int source)
{
    qr_page *pg = qr_arena_alloc(&g_in, sizeof(*pg));
    memset(pg, 0, sizeof(*pg));
    pg->number = number;
    pg->width = 612;
    pg->height = 792;
    pg->source = source;
    pg->blocks = qr_arena_alloc(&g_in, sizeof(qr_tblock) * MAXB);
    pg->rules = qr_arena_alloc(&g_in, sizeof(qr_bbox) * MAXB);
    pg->mean_conf = -1;
    return pg;
}

static void new_block(qr_page *pg)
{
    qr_tblock *b = &pg->blocks[pg->n_blocks++];
    memset(b, 0, sizeof(*b));
    b->kind = QR_BLOCK_TEXT;
    b->lines = qr_arena_alloc(&g_in, sizeof(qr_line) * MAXL);
}

static int utf8_chars(const char *s, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += (s[i] & 0xC0) != 0x80;
    return k;
}

/* Add a line of words to the page's last block. Words are 0.5 em per character and
 * separated by `gap` points; with x1 > 0 the gaps stretch to fill [x0, x1]. */
static qr_line *add_line_ex(qr_page *pg, float x0, float x1, float y, float size, int flags,
                            const char *text, float conf)
{
    qr_tblock *b = &pg->blocks[pg->n_blocks - 1];
    qr_line *ln = &b->lines[b->n_lines++];
    memset(ln, 0, sizeof(*ln));
    ln->dir_x = 1;
    ln->words = qr_arena_alloc(&g_in, sizeof(qr_word) * MAXW);
    const char *p = text;
    float total = 0;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e == p)
            break;
        qr_word *w = &ln->words[ln->n_words++];
        char *t = qr_arena_alloc(&g_in, (size_t)(e - p) + 1);
        memcpy(t, p, (size_t)(e - p));
        t[e - p] = '\0';
        w->text = t;
        w->len = (size_t)(e - p);
        w->size = size;
        w->flags = flags;
        w->font = (flags & QR_FONT_MONO) ? "Courier" : "Times";
        w->conf = conf;
        total += 0.5f * size * (float)utf8_chars(p, w->len);
        p = e;
    }
    float gap = (flags & QR_FONT_MONO) ? 0.5f * size : 0.25f * size;
    if (x1 > 0 && ln->n_words > 1)
        gap = (x1 - x0 - total) / (float)(ln->n_words - 1);
    float x = x0;
    for (int i = 0; i < ln->n_words; i++) {
        qr_word *w = &ln->words[i];
        float wd = 0.5f * size * (float)utf8_chars(w->text, w->len);
        w->bbox = (qr_bbox){x, y, x + wd, y + size};
        x += wd + gap;
    }
    ln->bbox = (qr_bbox){x0, y, x - gap, y + size};
    b->bbox = ln->bbox;
    return ln;
}

static void line(qr_page *pg, float x, float y, float size, int flags, const char *text)
{
    add_line_ex(pg, x, 0, y, size, flags, text, -1);
}

static void jline(qr_page *pg, float x0, float x1, float y, float size, const char *text)
{
    add_line_ex(pg, x0, x1, y, size, 0, text, -1);
}

static void rule(qr_page *pg, float x0, float y0, float x1, float y1)
{
    pg->rules[pg->n_rules++] = (qr_bbox){x0, y0, x1, y1};
}

/* ---- running the pipeline --------------------------------------------------------- */

static qr_arena g_out;
static qr_layout g_lay;
static char *g_md;

static quire_status run(qr_page **pages, int n)
{
    qr_arena_reset(&g_out);
    free(g_md);
    g_md = NULL;
    quire_error err = {0};
    quire_status st = qr_layout_doc((const qr_page *const *)pages, n, &g_out, &g_lay, &err);
    T_CHECKF(st == QUIRE_OK, "layout: %d %s", st, err.msg);
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_export_markdown(&g_lay, &b);
    T_CHECK(!b.failed);
    g_md = strdup(b.data ? b.data : "");
    qr_buf_free(&b);
    return st;
}

static quire_status run1(qr_page *pg) { return run(&pg, 1); }

static void check_md_has(const char *want, int line)
{
    if (!strstr(g_md, want))
        t_fail(__FILE__, line, "markdown lacks '%s':\n%s", want, g_md);
}
#define MD_HAS(s) check_md_has((s), __LINE__)

static void check_before(const char *a, const char *b, int line)
{
    const char *pa = strstr(g_md, a), *pb = strstr(g_md, b);
    if (!pa || !pb || pa > pb)
        t_fail(__FILE__, line, "'%s' should come before '%s':\n%s", a, b, g_md);
}
#define MD_BEFORE(a, b) check_before((a), (b), __LINE__)

static const char *body_words =
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor";

/* ---- tests ------------------------------------------------------------------------ */

static void two_column_page(qr_page *pg, int right_first)
{
    char buf[160];
    for (int pass = 0; pass < 2; pass++) {
        int right = right_first ? pass == 0 : pass == 1;
        new_block(pg);
        for (int i = 0; i < 30; i++) {
            float x0 = right ? 316 : 72, x1 = right ? 540 : 296;
            if (i == 0)
                snprintf(buf, sizeof(buf), "%s column begins here with some words", right ? "Right" : "Left");
            else if (i == 29)
                snprintf(buf, sizeof(buf), "and the %s column ends here.", right ? "right" : "left");
            else
                snprintf(buf, sizeof(buf), "%s %d %s", right ? "rr" : "ll", i,
                         "text runs on here now for a while");
            if (i == 29)
                line(pg, x0, 140 + 12.0f * (float)i, 10, 0, buf);
            else
                jline(pg, x0, x1, 140 + 12.0f * (float)i, 10, buf);
        }
    }
    new_block(pg);
    line(pg, 200, 72, 18, QR_FONT_BOLD, "A Study of Columns");
}

static void test_two_columns(void)
{
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    two_column_page(pg, 1);
    run1(pg);
    T_CHECK(g_lay.n_blocks == 3);
    T_CHECK(g_lay.n_blocks > 0 && g_lay.blocks[0].type == QR_BLK_HEADING);
    MD_HAS("# A Study of Columns\n");
    MD_BEFORE("A Study of Columns", "Left column begins");
    MD_BEFORE("left column ends here.", "Right column begins");
    MD_BEFORE("ll 28", "Right column begins");
    MD_HAS("ll 1 text runs on here now for a while ll 2");
}

static void test_single_column_unchanged(void)
{
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    new_block(pg);
    for (int i = 0; i < 20; i++) {
        char buf[160];
        snprintf(buf, sizeof(buf), "row%d %s", i, body_words);
        jline(pg, 72, 540, 100 + 12.0f * (float)i, 10, buf);
    }
    run1(pg);
    T_EQ_INT(g_lay.n_blocks, 1);
    MD_BEFORE("row0 ", "row1 ");
    MD_BEFORE("row18 ", "row19 ");
}

static void para(qr_page *pg, float *y, int n_lines)
{
    new_block(pg);
    for (int i = 0; i < n_lines; i++, *y += 12)
        jline(pg, 72, 540, *y, 10, body_words);
    *y += 10;
}

static void test_heading_levels(void)
{
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    float y = 72;
    new_block(pg);
    line(pg, 72, y, 20, 0, "Big Title");
    y += 40;
    new_block(pg);
    line(pg, 72, y, 14, QR_FONT_BOLD, "1 Introduction");
    y += 24;
    para(pg, &y, 4);
    new_block(pg);
    line(pg, 72, y, 12, QR_FONT_BOLD, "1.1 Background");
    y += 20;
    para(pg, &y, 4);
    new_block(pg);
    line(pg, 72, y, 14, QR_FONT_BOLD, "2 Methods");
    y += 24;
    para(pg, &y, 4);
    run1(pg);
    MD_HAS("# Big Title\n");
    MD_HAS("\n## 1 Introduction\n");
    MD_HAS("\n### 1.1 Background\n");
    MD_HAS("\n## 2 Methods\n");
    MD_BEFORE("1.1 Background", "2 Methods");
}

static void test_bold_short_heading(void)
{
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    float y = 72;
    para(pg, &y, 3);
    new_block(pg);
    line(pg, 72, y, 10, QR_FONT_BOLD, "Related Work");
    y += 20;
    para(pg, &y, 3);
    new_block(pg);
    line(pg, 72, y, 10, QR_FONT_BOLD, "This bold sentence ends with a period.");
    y += 20;
    para(pg, &y, 3);
    run1(pg);
    MD_HAS("\n# Related Work\n");
    T_CHECKF(!strstr(g_md, "# This bold"), "%s", g_md);
    int n_head = 0;
    for (int k = 0; k < g_lay.n_blocks; k++)
        n_head += g_lay.blocks[k].type == QR_BLK_HEADING;
    T_EQ_INT(n_head, 1);
}

static void test_dehyphenation(void)
{
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    new_block(pg);
    line(pg, 72, 100, 10, 0, "This is an exam-");
    line(pg, 72, 112, 10, 0, "ple of a state-of-the-");
    line(pg, 72, 124, 10, 0, "art method by Smith-");
    line(pg, 72, 136, 10, 0, "Jones and a 1990-");
    line(pg, 72, 148, 10, 0, "era tool.");
    run1(pg);
    T_EQ_INT(g_lay.n_blocks, 1);
    MD_HAS("This is an example of a state-of-the-art method by Smith- Jones and a 1990- era tool.");
}

static void test_paragraph_split(void)
{
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    new_block(pg);
    jline(pg, 90, 540, 100, 10, "First paragraph starts indented and runs");
    jline(pg, 72, 540, 112, 10, "on to the full width of the text block here");
    line(pg, 72, 124, 10, 0, "and ends.");
    jline(pg, 90, 540, 136, 10, "Second paragraph is indented again and runs");
    line(pg, 72, 148, 10, 0, "to its end.");
    jline(pg, 72, 540, 172, 10, "Third paragraph follows a vertical gap and runs");
    line(pg, 72, 184, 10, 0, "to its end.");
    run1(pg);
    T_EQ_INT(g_lay.n_blocks, 3);
    MD_HAS("and runs on to the full width");
    MD_HAS("and ends.\n\nSecond paragraph");
    MD_HAS("to its end.\n\nThird paragraph");
}

static void test_lists(void)
{
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    new_block(pg);
    line(pg, 72, 100, 10, 0, "Shopping list:");
    new_block(pg);
    line(pg, 72, 116, 10, 0, "\xe2\x80\xa2 First item");
    line(pg, 72, 128, 10, 0, "\xe2\x80\xa2 Second item that");
    line(pg, 82, 140, 10, 0, "continues here");
    line(pg, 90, 152, 10, 0, "\xe2\x97\xa6 Nested item");
    line(pg, 72, 164, 10, 0, "\xe2\x80\xa2 Third item");
    new_block(pg);
    line(pg, 72, 190, 10, 0, "Steps to follow now:");
    new_block(pg);
    line(pg, 72, 206, 10, 0, "1. One");
    line(pg, 72, 218, 10, 0, "2. Two");
    line(pg, 90, 230, 10, 0, "(a) Sub step");
    line(pg, 90, 242, 10, 0, "(b) Other sub step");
    line(pg, 72, 254, 10, 0, "3. Three");
    run1(pg);
    MD_HAS("Shopping list:\n\n- First item\n- Second item that continues here\n"
           "  - Nested item\n- Third item\n");
    MD_HAS("\n1. One\n2. Two\n  1. Sub step\n  2. Other sub step\n3. Three\n");
    int found = 0;
    for (int k = 0; k < g_lay.n_blocks; k++) {
        const qr_block *b = &g_lay.blocks[k];
        if (b->type == QR_BLK_LIST_ITEM && b->marker && strcmp(b->marker, "(a)") == 0) {
            found = 1;
            T_EQ_INT(b->level, 1);
            T_EQ_INT(b->ordered, 1);
        }
    }
    T_CHECK(found);
}

/* Lines whose boxes overlap by more than half (a bullet glyph with a tall box, tight
 * leading) but sit on baselines one line apart are two rows, never one: merging them
 * interleaved their words ("It'stermsFreeof theSoftware." on libtasn1's page 4). A
 * smaller line raised against a baseline (a footnote mark) still joins its row. */
static void test_baseline_rows(void)
{
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    new_block(pg);
    qr_line *l1 = add_line_ex(pg, 72, 540, 100, 10, 0,
                              "Anybody can use modify and redistribute the library under", -1);
    l1->baseline = 108;
    /* a tall bullet box in front of the first line: its box reaches 100..119 */
    qr_line *b = add_line_ex(pg, 60, 0, 100, 10, 0, "\xe2\x80\xa2", -1);
    b->words[0].bbox.y1 = 119;
    b->bbox.y1 = 119;
    b->baseline = 108;
    qr_line *l2 = add_line_ex(pg, 72, 0, 112, 10, 0, "terms of the GNU Lesser License.", -1);
    l2->baseline = 120;
    qr_line *sup = add_line_ex(pg, 540, 0, 100, 6, 0, "3", -1);
    sup->baseline = 104;
    run1(pg);
    MD_HAS("redistribute the library under3 terms of the GNU Lesser License.");
    T_CHECKF(strstr(g_md, "underterms") == NULL && strstr(g_md, "termsAnybody") == NULL,
             "lines interleaved:\n%s", g_md);
}

static void test_aligned_table(void)
{
    static const char *cells[4][3] = {{"Name", "Size", "Count"},
                                      {"alpha", "10", "3"},
                                      {"beta gamma", "200", "14"},
                                      {"delta", "3000", "159"}};
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    float y = 80;
    para(pg, &y, 2);
    new_block(pg);
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < 3; k++)
            line(pg, 72 + 120.0f * (float)k, y + 14.0f * (float)r, 10, 0, cells[r][k]);
    y += 70;
    para(pg, &y, 2);
    run1(pg);
    MD_HAS("\n| Name | Size | Count |\n| --- | --- | --- |\n| alpha | 10 | 3 |\n"
           "| beta gamma | 200 | 14 |\n| delta | 3000 | 159 |\n");
    int n_tables = 0;
    for (int k = 0; k < g_lay.n_blocks; k++)
        if (g_lay.blocks[k].type == QR_BLK_TABLE) {
            n_tables++;
            T_EQ_INT(g_lay.blocks[k].n_rows, 4);
            T_EQ_INT(g_lay.blocks[k].n_cols, 3);
        }
    T_EQ_INT(n_tables, 1);
}

static void test_ruled_table(void)
{
    static const char *cells[3][3] = {{"Key", "Value", "Note"},
                                      {"a", "1", "first one"},
                                      {"b", "", "x|y"}};
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    new_block(pg);
    line(pg, 72, 80, 10, 0, "Text before the table.");
    for (int r = 0; r <= 3; r++)
        rule(pg, 72, 100 + 20.0f * (float)r, 372, 100.5f + 20.0f * (float)r);
    for (int k = 0; k <= 3; k++)
        rule(pg, 72 + 100.0f * (float)k, 100, 72.5f + 100.0f * (float)k, 160);
    new_block(pg);
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++)
            if (cells[r][k][0])
                line(pg, 76 + 100.0f * (float)k, 105 + 20.0f * (float)r, 10, 0, cells[r][k]);
    new_block(pg);
    line(pg, 72, 180, 10, 0, "Text after the table.");
    run1(pg);
    MD_HAS("Text before the table.\n\n| Key | Value | Note |\n| --- | --- | --- |\n"
           "| a | 1 | first one |\n| b |  | x\\|y |\n\nText after the table.\n");
}

/* A full grid whose middle column has a cell over two rows (\\multirow with \\cline{1-1}
 * and \\cline{3-3} under its first row: the rule between the two rows has a gap over
 * column 1): row_span 2 in table_cells, rowspan="2" in HTML; the stub column and the
 * rows with full rules have no span. */
static void test_row_span_inner_column(void)
{
    static const char *cells[4][3] = {{"Item", "Group", "Value"},
                                      {"alpha", "shared", "1"},
                                      {"beta", "", "2"},
                                      {"gamma", "own", "3"}};
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    new_block(pg);
    line(pg, 72, 80, 10, 0, "Text before the table.");
    for (int r = 0; r <= 4; r++) {
        float y = 100 + 20.0f * (float)r;
        if (r == 2) { /* the rule between alpha and beta skips the Group column */
            rule(pg, 72, y, 172, y + 0.5f);
            rule(pg, 272, y, 372, y + 0.5f);
        } else {
            rule(pg, 72, y, 372, y + 0.5f);
        }
    }
    for (int k = 0; k <= 3; k++)
        rule(pg, 72 + 100.0f * (float)k, 100, 72.5f + 100.0f * (float)k, 180);
    new_block(pg);
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < 3; k++)
            if (cells[r][k][0])
                line(pg, 76 + 100.0f * (float)k, 105 + 20.0f * (float)r, 10, 0, cells[r][k]);
    new_block(pg);
    line(pg, 72, 200, 10, 0, "Text after the table.");
    run1(pg);
    const qr_block *t = NULL;
    for (int k = 0; k < g_lay.n_blocks; k++)
        if (g_lay.blocks[k].type == QR_BLK_TABLE)
            t = &g_lay.blocks[k];
    T_CHECKF(t != NULL, "no table:\n%s", g_md);
    if (!t)
        return;
    T_EQ_INT(t->n_rows, 4);
    T_EQ_INT(t->n_cols, 3);
    int found = 0;
    for (int i = 0; i < t->n_tcells; i++) {
        const qr_tcell *c = &t->tcells[i];
        if (strcmp(c->text, "shared") == 0) {
            found = 1;
            T_CHECKF(c->row == 1 && c->col == 1 && c->row_span == 2 && c->col_span == 1,
                     "shared at %d,%d span %dx%d", c->row, c->col, c->row_span, c->col_span);
        } else {
            T_CHECKF(c->row_span == 1, "'%s' spans %d rows", c->text, c->row_span);
        }
    }
    T_CHECK(found);
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_layout l1 = {(qr_block *)t, 1, 0};
    qr_export_markdown_opts(&l1, &b, 0, QUIRE_TABLES_AUTO);
    T_CHECKF(b.data && strstr(b.data, "<tr><td>alpha</td><td rowspan=\"2\">shared</td><td>1</td></tr>\n"
                                      "<tr><td>beta</td><td>2</td></tr>"), "%s", b.data);
    qr_buf_free(&b);
}

static void test_booktabs_table(void)
{
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    new_block(pg);
    line(pg, 72, 80, 10, 0, "Results are below.");
    rule(pg, 150, 100, 450, 100.8f);
    rule(pg, 150, 118, 450, 118.5f);
    rule(pg, 150, 162, 450, 162.8f);
    new_block(pg);
    line(pg, 155, 104, 10, 0, "Model");
    line(pg, 300, 104, 10, 0, "Accuracy");
    line(pg, 155, 122, 10, 0, "Baseline");
    line(pg, 300, 122, 10, 0, "71.2");
    line(pg, 155, 136, 10, 0, "Ours");
    line(pg, 300, 136, 10, 0, "84.5");
    run1(pg);
    MD_HAS("| Model | Accuracy |\n| --- | --- |\n| Baseline | 71.2 |\n| Ours | 84.5 |\n");
}

/* A header cell over three columns (booktabs: \multicolumn{3}{c}{Scores} with a
 * \cmidrule under it, then the sub-headers A B C): one table whose "Scores" cell spans
 * columns 1-3, in the layout, in the JSON "table_cells", and as colspan="3" in the
 * Markdown's HTML table (a pipe table with --tables gfm). */
static void test_spanning_header(void)
{
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    new_block(pg);
    line(pg, 72, 80, 10, 0, "Scores by model are below.");
    rule(pg, 100, 100, 500, 100.8f);  /* top */
    rule(pg, 240, 117, 500, 117.4f);  /* cmidrule under "Scores" */
    rule(pg, 100, 134, 500, 134.5f);  /* mid */
    rule(pg, 100, 166, 500, 166.8f);  /* bottom */
    new_block(pg);
    line(pg, 105, 104, 10, 0, "Model");
    line(pg, 345, 104, 10, 0, "Scores");
    line(pg, 260, 121, 10, 0, "A");
    line(pg, 360, 121, 10, 0, "B");
    line(pg, 460, 121, 10, 0, "C");
    static const char *rows[2][4] = {{"alpha", "1.5", "2.5", "3.5"}, {"beta", "4.5", "5.5", "6.5"}};
    const float xs[4] = {105, 260, 360, 460};
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 4; k++)
            line(pg, xs[k], 138 + 14.0f * (float)r, 10, 0, rows[r][k]);
    run1(pg);
    const qr_block *t = NULL;
    for (int k = 0; k < g_lay.n_blocks; k++)
        if (g_lay.blocks[k].type == QR_BLK_TABLE)
            t = &g_lay.blocks[k];
    T_CHECK(t != NULL);
    if (!t)
        return;
    T_EQ_INT(t->n_rows, 4);
    T_EQ_INT(t->n_cols, 4);
    int found = 0;
    for (int i = 0; i < t->n_tcells; i++) {
        const qr_tcell *c = &t->tcells[i];
        if (strcmp(c->text, "Model") == 0)
            T_EQ_INT(c->row_span, 2);
        if (strcmp(c->text, "Scores") == 0) {
            found = 1;
            T_EQ_INT(c->row, 0);
            T_EQ_INT(c->col, 1);
            T_EQ_INT(c->col_span, 3);
            T_EQ_INT(c->row_span, 1);
        } else {
            T_EQ_INT(c->col_span, 1);
        }
    }
    T_CHECK(found);
    if (t->n_rows == 4 && t->n_cols == 4) {
        T_CHECK(strcmp(t->cells[1], "Scores") == 0 && t->cells[2][0] == 0 && t->cells[3][0] == 0);
        T_CHECK(strcmp(t->cells[5], "A") == 0 && strcmp(t->cells[7], "C") == 0);
        T_CHECK(strcmp(t->cells[15], "6.5") == 0);
    }
    /* HTML in Markdown (auto), with the spans: "Model" spans both header rows (the
     * cmidrule under "Scores" stops short of it) */
    MD_HAS("<table>\n<tr><th rowspan=\"2\">Model</th><th colspan=\"3\">Scores</th></tr>\n"
           "<tr><td>A</td><td>B</td><td>C</td></tr>\n"
           "<tr><td>alpha</td><td>1.5</td><td>2.5</td><td>3.5</td></tr>\n"
           "<tr><td>beta</td><td>4.5</td><td>5.5</td><td>6.5</td></tr>\n</table>\n");
    /* --tables gfm: a pipe table, the spanning text in its first column */
    qr_buf md;
    qr_buf_init(&md, 0);
    qr_export_markdown_opts(&g_lay, &md, 0, QUIRE_TABLES_GFM);
    qr_buf_putc(&md, '\0');
    T_CHECKF(strstr(md.data, "| Model | Scores |  |  |\n| --- | --- | --- | --- |\n|  | A | B | C |\n") != NULL,
             "%s", md.data);
    qr_buf_free(&md);
    /* JSON round trip: table_cells with the span, cells with the text top-left */
    qr_buf js;
    qr_buf_init(&js, 0);
    qr_export_json(&g_lay, "t.pdf", &js);
    qr_buf_putc(&js, '\0');
    json_error_t je;
    json_t *root = json_loads(js.data, 0, &je);
    T_CHECKF(root != NULL, "json parse: %s", je.text);
    int json_span = 0;
    size_t bi;
    json_t *b;
    json_array_foreach(root ? json_object_get(root, "blocks") : NULL, bi, b) {
        if (strcmp(json_string_value(json_object_get(b, "type")), "table") != 0)
            continue;
        json_t *cells = json_object_get(b, "cells");
        T_CHECK(strcmp(json_string_value(json_array_get(json_array_get(cells, 0), 1)), "Scores") == 0);
        T_CHECK(strcmp(json_string_value(json_array_get(json_array_get(cells, 0), 2)), "") == 0);
        size_t ci;
        json_t *c;
        json_array_foreach(json_object_get(b, "table_cells"), ci, c) {
            if (strcmp(json_string_value(json_object_get(c, "text")), "Scores") != 0)
                continue;
            json_span = json_integer_value(json_object_get(c, "row")) == 0 &&
                        json_integer_value(json_object_get(c, "col")) == 1 &&
                        json_integer_value(json_object_get(c, "col_span")) == 3 &&
                        json_integer_value(json_object_get(c, "row_span")) == 1 &&
                        json_array_size(json_object_get(c, "bbox")) == 4;
        }
    }
    T_CHECK(json_span);
    json_decref(root);
    qr_buf_free(&js);
}

static void test_no_false_table(void)
{
    /* prose whose lines happen to have one wide gap is not a table */
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    new_block(pg);
    for (int i = 0; i < 6; i++)
        jline(pg, 72, 540, 100 + 12.0f * (float)i, 10, body_words);
    run1(pg);
    T_EQ_INT(g_lay.n_blocks, 1);
    T_CHECK(g_lay.n_blocks == 1 && g_lay.blocks[0].type == QR_BLK_PARAGRAPH);
}

static void test_code(void)
{
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    new_block(pg);
    line(pg, 72, 80, 10, 0, "The program:");
    new_block(pg);
    line(pg, 72, 100, 10, QR_FONT_MONO, "int main(void)");
    line(pg, 72, 112, 10, QR_FONT_MONO, "{");
    line(pg, 92, 124, 10, QR_FONT_MONO, "return 0;");
    line(pg, 72, 136, 10, QR_FONT_MONO, "}");
    new_block(pg);
    line(pg, 72, 160, 10, 0, "That was all.");
    run1(pg);
    MD_HAS("The program:\n\n```\nint main(void)\n{\n    return 0;\n}\n```\n\nThat was all.\n");
}

static qr_page *furniture_page(int n)
{
    char buf[64];
    qr_page *pg = new_page(n, QR_SRC_TEXT);
    new_block(pg);
    line(pg, 72, 30, 9, 0, "Proceedings of Testing 2024");
    if (n == 2 || n == 4) {
        new_block(pg);
        line(pg, 400, 30, 9, 0, "Special notice");
    }
    float y = 100;
    para(pg, &y, 3);
    new_block(pg);
    line(pg, 72, y, 10, 0, "This sentence repeats on every page.");
    snprintf(buf, sizeof(buf), "%d", n);
    new_block(pg);
    line(pg, 300, 760, 9, 0, buf);
    return pg;
}

static void test_furniture(void)
{
    qr_page *pages[5];
    for (int i = 0; i < 5; i++)
        pages[i] = furniture_page(i + 1);
    run(pages, 5);
    T_EQ_INT(g_lay.n_removed_furniture, 10);
    T_CHECKF(!strstr(g_md, "Proceedings"), "%s", g_md);
    MD_HAS("Special notice");
    T_CHECK(strstr(g_md, "\n5\n") == NULL && strstr(g_md, "\n3\n") == NULL);
    int n_rep = 0;
    for (const char *p = g_md; (p = strstr(p, "repeats on every page")) != NULL; p++)
        n_rep++;
    T_EQ_INT(n_rep, 5);
}

static const char *g_firsts[6] = {
    "The caverns of the salt king are deep.", "Then.", "The caverns of the salt mines.",
    "Then", "The taverns of the old king", "them."};

/* OCR'd pages: the running head read a little differently on each page (a speck, a
 * misread letter, a lost space) is furniture all the same; body lines at the top of the
 * pages that resemble it in part are not. On text-layer pages only exact repeats count. */
static void noisy_head_pages(qr_page **pages, int source, float conf)
{
    static const char *heads[6] = {
        "THE CAVERNS OF THE SALT KING \xc2\xa9", ". THE CAVERNS OF THE SALT KING",
        "THE CAVERNS OF THE SALT KlNG", "THE CAVERNSOF THE SALT KING",
        "~ THE CAVERNS OF THE SALT KING", "THE CAVERNS OF THE SALT KING"};
    for (int i = 0; i < 6; i++) {
        qr_page *pg = new_page(i + 1, source);
        new_block(pg);
        add_line_ex(pg, 200, 0, 28, 9, 0, heads[i], conf);
        new_block(pg);
        add_line_ex(pg, 72, 0, 44, 10, 0, g_firsts[i], conf);
        new_block(pg);
        add_line_ex(pg, 72, 540, 100, 10, 0, "Body text of the page runs on here for a while",
                    conf);
        add_line_ex(pg, 72, 0, 112, 10, 0, "and ends here.", conf);
        pages[i] = pg;
    }
}

static void test_furniture_ocr(void)
{
    qr_page *pages[6];
    noisy_head_pages(pages, QR_SRC_OCR, 80);
    run(pages, 6);
    T_EQ_INT(g_lay.n_removed_furniture, 6);
    T_CHECKF(!strstr(g_md, "SALT K"), "%s", g_md);
    for (int i = 0; i < 6; i++)
        T_CHECKF(strstr(g_md, g_firsts[i]) != NULL, "%s lost:\n%s", g_firsts[i], g_md);
    noisy_head_pages(pages, QR_SRC_TEXT, -1);
    run(pages, 6);
    T_EQ_INT(g_lay.n_removed_furniture, 0);
    T_CHECKF(strstr(g_md, "SALT KlNG") != NULL, "%s", g_md);
}

/* Plain-text options: the page's own lines and hyphens, furniture kept. */
static void test_keep_lines_for_text(void)
{
    qr_page *pages[5];
    for (int i = 0; i < 5; i++)
        pages[i] = furniture_page(i + 1);
    new_block(pages[0]);
    line(pages[0], 72, 600, 10, 0, "This is an exam-");
    line(pages[0], 72, 612, 10, 0, "ple of kept lines.");
    qr_arena_reset(&g_out);
    quire_error err = {0};
    qr_layout_opts lo = {1, 1, 0, 0};
    quire_status st = qr_layout_doc_ex((const qr_page *const *)pages, 5, &lo, &g_out, &g_lay, &err);
    T_CHECKF(st == QUIRE_OK, "layout: %s", err.msg);
    T_EQ_INT(g_lay.n_removed_furniture, 0);
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_export_text(&g_lay, &b);
    T_CHECKF(b.data && strstr(b.data, "This is an exam-\nple of kept lines."), "%s", b.data);
    T_CHECKF(b.data && strstr(b.data, "Proceedings of Testing 2024"), "%s", b.data);
    qr_buf_free(&b);
}

/* Figures: an image above its caption becomes a figure block just before the caption,
 * carrying it; a label drawn inside the image moves into the figure; a captioned vector
 * drawing is a figure, an uncaptioned one and a logo-sized image are not. */
static void image_block(qr_page *pg, qr_bbox bb)
{
    qr_tblock *b = &pg->blocks[pg->n_blocks++];
    memset(b, 0, sizeof(*b));
    b->kind = QR_BLOCK_IMAGE;
    b->bbox = bb;
}

static void test_figures(void)
{
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    float y = 72;
    new_block(pg);
    para(pg, &y, 3);
    image_block(pg, (qr_bbox){72, 140, 400, 340});  /* a photo */
    new_block(pg);
    line(pg, 200, 300, 10, 0, "axis label");         /* drawn on it */
    new_block(pg);
    line(pg, 72, 350, 10, 0, "Figure 1: The photo.");
    image_block(pg, (qr_bbox){500, 40, 530, 60});    /* a logo: too small */
    qr_bbox drawings[2] = {{72, 420, 400, 560}, {72, 650, 400, 760}};
    pg->drawings = drawings;
    pg->n_drawings = 2;
    new_block(pg);
    line(pg, 72, 570, 10, 0, "Fig. 2. A plot.");     /* under the first drawing only */
    y = 600;
    new_block(pg);
    para(pg, &y, 2);
    qr_arena_reset(&g_out);
    quire_error err = {0};
    qr_layout_opts lo = {0, 0, 1, 0};
    quire_status st = qr_layout_doc_ex((const qr_page *const *)&pg, 1, &lo, &g_out, &g_lay, &err);
    T_CHECKF(st == QUIRE_OK, "layout: %s", err.msg);
    int nf = 0, first = -1;
    for (int k = 0; k < g_lay.n_blocks; k++) {
        const qr_block *b = &g_lay.blocks[k];
        T_CHECKF(!(b->type == QR_BLK_PARAGRAPH && strcmp(b->text, "axis label") == 0),
                 "the label stayed a paragraph");
        if (b->type != QR_BLK_FIGURE)
            continue;
        if (first < 0)
            first = k;
        nf++;
        T_CHECK(k + 1 < g_lay.n_blocks && g_lay.blocks[k + 1].type == QR_BLK_CAPTION);
    }
    T_EQ_INT(nf, 2);
    if (first >= 0) {
        const qr_block *f = &g_lay.blocks[first];
        T_CHECKF(f->caption && strcmp(f->caption, "Figure 1: The photo.") == 0, "%s",
                 f->caption ? f->caption : "(null)");
        T_CHECKF(strcmp(f->text, "axis label") == 0, "figure text '%s'", f->text);
        T_CHECK(f->bbox.x0 == 72 && f->bbox.y1 == 340 && f->page == 1);
        T_CHECK(first > 0 && g_lay.blocks[first - 1].type == QR_BLK_PARAGRAPH);
    }
    if (nf == 2) {
        const qr_block *f = &g_lay.blocks[first + 2];
        T_CHECK(f->type == QR_BLK_FIGURE && f->caption && strncmp(f->caption, "Fig. 2.", 7) == 0);
        T_CHECK(f->bbox.y0 == 420);
    }
    /* Markdown of an unexported figure: its labels as a comment, no image reference */
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_export_markdown(&g_lay, &b);
    T_CHECKF(b.data && strstr(b.data, "<!-- figure text: axis label -->") && !strstr(b.data, "!["),
             "%s", b.data);
    qr_buf_free(&b);
    /* exported: the caption as alt text, ']' escaped */
    ((qr_block *)&g_lay.blocks[first])->image = "doc-p1-fig1.png";
    ((qr_block *)&g_lay.blocks[first])->caption = "Figure 1: [x]";
    qr_buf_init(&b, 0);
    qr_export_markdown(&g_lay, &b);
    T_CHECKF(b.data && strstr(b.data, "![Figure 1: \\[x\\]](doc-p1-fig1.png)\n"), "%s", b.data);
    qr_buf_free(&b);
    /* without the option (plain text, the library's old callers): no figure blocks */
    lo.figures = 0;
    st = qr_layout_doc_ex((const qr_page *const *)&pg, 1, &lo, &g_out, &g_lay, &err);
    for (int k = 0; st == QUIRE_OK && k < g_lay.n_blocks; k++)
        T_CHECK(g_lay.blocks[k].type != QR_BLK_FIGURE);
}

static qr_layout hand_layout(qr_block *b, int n)
{
    qr_layout l = {b, n, 0};
    for (int i = 0; i < n; i++) {
        b[i].page = 1;
        b[i].conf = -1;
        b[i].bbox = (qr_bbox){1, 2, 3, 4};
        if (!b[i].text)
            b[i].text = "";
    }
    return l;
}

static char *export_md(const qr_layout *l)
{
    qr_buf b;
    qr_buf_init(&b, 0);
    qr_export_markdown(l, &b);
    char *s = strdup(b.data ? b.data : "");
    qr_buf_free(&b);
    return s;
}

static void test_markdown_escaping(void)
{
    static const char *cells[] = {"a|b", "c", "1", "2"};
    qr_block b[8];
    memset(b, 0, sizeof(b));
    b[0].type = QR_BLK_PARAGRAPH, b[0].text = "# not a heading";
    b[1].type = QR_BLK_PARAGRAPH, b[1].text = "1. not a list";
    b[2].type = QR_BLK_PARAGRAPH, b[2].text = "- not a bullet";
    b[3].type = QR_BLK_PARAGRAPH, b[3].text = "> not a quote";
    b[4].type = QR_BLK_PARAGRAPH, b[4].text = "2019 was a year; 3.5 is a number";
    b[5].type = QR_BLK_TABLE, b[5].n_rows = 2, b[5].n_cols = 2, b[5].cells = cells;
    b[6].type = QR_BLK_CODE, b[6].text = "x = ```y```";
    b[7].type = QR_BLK_CAPTION, b[7].text = "Figure 1: A caption.";
    qr_layout l = hand_layout(b, 8);
    char *md = export_md(&l);
    const char *want = "\\# not a heading\n\n1\\. not a list\n\n\\- not a bullet\n\n"
                       "\\> not a quote\n\n2019 was a year; 3.5 is a number\n\n"
                       "| a\\|b | c |\n| --- | --- |\n| 1 | 2 |\n\n"
                       "````\nx = ```y```\n````\n\nFigure 1: A caption.\n";
    T_CHECKF(strcmp(md, want) == 0, "got:\n%s\nwant:\n%s", md, want);
    free(md);
}

static void test_json(void)
{
    static const char *cells[] = {"h\"1", "h2", "v1", "v\n2"};
    qr_block b[3];
    memset(b, 0, sizeof(b));
    b[0].type = QR_BLK_HEADING, b[0].level = 2, b[0].text = "Quote \" back\\slash \x01 tab\t";
    b[1].type = QR_BLK_TABLE, b[1].n_rows = 2, b[1].n_cols = 2, b[1].cells = cells;
    b[2].type = QR_BLK_LIST_ITEM, b[2].marker = "1.", b[2].ordered = 1,
    b[2].text = "bad utf8 \xff\xfe end";
    qr_layout l = hand_layout(b, 3);
    b[2].source = QR_SRC_OCR, b[2].conf = 87.5f;
    qr_buf out;
    qr_buf_init(&out, 0);
    qr_export_json(&l, "dir/\"doc\".pdf", &out);
    json_error_t je;
    json_t *root = json_loads(out.data, 0, &je);
    T_CHECKF(root != NULL, "json parse: %s at %d\n%s", je.text, je.position, out.data);
    if (root) {
        T_CHECK(strcmp(json_string_value(json_object_get(root, "document")), "dir/\"doc\".pdf") == 0);
        json_t *blocks = json_object_get(root, "blocks");
        T_EQ_INT(json_array_size(blocks), 3);
        json_t *h = json_array_get(blocks, 0);
        T_CHECK(strcmp(json_string_value(json_object_get(h, "type")), "heading") == 0);
        T_EQ_INT(json_integer_value(json_object_get(h, "level")), 2);
        T_CHECK(strcmp(json_string_value(json_object_get(h, "text")),
                       "Quote \" back\\slash \x01 tab\t") == 0);
        T_EQ_INT(json_integer_value(json_object_get(h, "page")), 1);
        T_EQ_INT(json_array_size(json_object_get(h, "bbox")), 4);
        T_CHECK(json_real_value(json_array_get(json_object_get(h, "bbox"), 2)) == 3.0);
        T_CHECK(strcmp(json_string_value(json_object_get(h, "source")), "text") == 0);
        T_CHECK(json_is_null(json_object_get(h, "confidence")));
        json_t *t = json_array_get(blocks, 1);
        T_CHECK(strcmp(json_string_value(json_object_get(t, "type")), "table") == 0);
        json_t *c = json_object_get(t, "cells");
        T_CHECK(strcmp(json_string_value(json_array_get(json_array_get(c, 0), 0)), "h\"1") == 0);
        T_CHECK(strcmp(json_string_value(json_array_get(json_array_get(c, 1), 1)), "v\n2") == 0);
        json_t *li = json_array_get(blocks, 2);
        T_CHECK(strcmp(json_string_value(json_object_get(li, "source")), "ocr") == 0);
        T_CHECK(json_real_value(json_object_get(li, "confidence")) == 87.5);
        T_CHECK(strstr(json_string_value(json_object_get(li, "text")), "\xef\xbf\xbd") != NULL);
        json_decref(root);
    }
    qr_buf_free(&out);
}

static void test_json_of_layout(void)
{
    qr_page *pg = new_page(1, QR_SRC_OCR);
    new_block(pg);
    add_line_ex(pg, 72, 0, 100, 10, 0, "scanned words here", 80);
    add_line_ex(pg, 72, 0, 112, 10, 0, "and more words", 90);
    run1(pg);
    T_EQ_INT(g_lay.n_blocks, 1);
    if (g_lay.n_blocks == 1) {
        T_CHECK(g_lay.blocks[0].source == QR_SRC_OCR);
        T_CHECK(g_lay.blocks[0].conf > 84.9f && g_lay.blocks[0].conf < 85.1f);
    }
    qr_buf out;
    qr_buf_init(&out, 0);
    qr_export_json(&g_lay, "scan.pdf", &out);
    json_t *root = json_loads(out.data, 0, NULL);
    T_CHECK(root != NULL);
    json_decref(root);
    qr_buf_free(&out);
    qr_buf_init(&out, 0);
    qr_export_text(&g_lay, &out);
    T_CHECKF(strcmp(out.data, "scanned words here and more words\n") == 0, "%s", out.data);
    qr_buf_free(&out);
}

static void test_text_export(void)
{
    static const char *cells[] = {"a", "b", "cc", "d", "e", ""};
    qr_block b[3];
    memset(b, 0, sizeof(b));
    b[0].type = QR_BLK_HEADING, b[0].level = 1, b[0].text = "Title";
    b[1].type = QR_BLK_TABLE, b[1].n_rows = 3, b[1].n_cols = 2, b[1].cells = cells;
    b[2].type = QR_BLK_LIST_ITEM, b[2].level = 1, b[2].marker = "-", b[2].text = "item";
    qr_layout l = hand_layout(b, 3);
    qr_buf out;
    qr_buf_init(&out, 0);
    qr_export_text(&l, &out);
    /* columns aligned: "b" and "d" start where the widest first cell ("cc") + 2 ends */
    T_CHECKF(strcmp(out.data, "Title\n\na   b\ncc  d\ne\n\n  - item\n") == 0, "%s", out.data);
    qr_buf_free(&out);
}

static void test_empty_inputs(void)
{
    run(NULL, 0);
    T_EQ_INT(g_lay.n_blocks, 0);
    T_CHECK(strcmp(g_md, "") == 0);
    qr_page *empty = new_page(1, QR_SRC_TEXT);
    run1(empty);
    T_EQ_INT(g_lay.n_blocks, 0);
    /* a block with no lines, a line with no words */
    new_block(empty);
    new_block(empty);
    qr_tblock *b = &empty->blocks[1];
    b->n_lines = 1;
    memset(&b->lines[0], 0, sizeof(qr_line));
    run1(empty);
    T_EQ_INT(g_lay.n_blocks, 0);
    /* NULL pages are skipped */
    qr_page *a = new_page(1, QR_SRC_TEXT), *c = new_page(3, QR_SRC_TEXT);
    new_block(a);
    line(a, 72, 100, 10, 0, "Page one text.");
    new_block(c);
    line(c, 72, 100, 10, 0, "Page three text.");
    qr_page *pages[3] = {a, NULL, c};
    run(pages, 3);
    T_EQ_INT(g_lay.n_blocks, 2);
    if (g_lay.n_blocks == 2)
        T_EQ_INT(g_lay.blocks[1].page, 3);
    MD_HAS("Page one text.\n\nPage three text.\n");
    quire_error err = {0};
    T_EQ_INT(qr_layout_doc(NULL, 2, &g_out, &g_lay, &err), QUIRE_INVALID_ARG);
}

static void test_nomem(void)
{
    qr_page *pg = new_page(1, QR_SRC_TEXT);
    two_column_page(pg, 0);
    const qr_page *pages[1] = {pg};
    qr_layout lay;
    quire_error err = {0};
    /* arena too small at every size up to what the document needs */
    int n_ok = 0, n_nomem = 0;
    for (size_t cap = 64; cap <= 64 * 1024; cap *= 2) {
        qr_arena a;
        T_EQ_INT(qr_arena_init(&a, cap), QUIRE_OK);
        quire_status st = qr_layout_doc(pages, 1, &a, &lay, &err);
        T_CHECKF(st == QUIRE_OK || st == QUIRE_NOMEM, "cap %zu: status %d", cap, st);
        n_ok += st == QUIRE_OK;
        n_nomem += st == QUIRE_NOMEM;
        qr_arena_free(&a);
    }
    T_CHECK(n_nomem > 0 && n_ok > 0);
    /* every scratch allocation failing in turn: NOMEM, no crash, no leak */
    for (long n = 1; n < 400; n++) {
        qr_arena_reset(&g_out);
        qr_alloc_fail_at(n);
        quire_status st = qr_layout_doc(pages, 1, &g_out, &lay, &err);
        qr_alloc_fail_at(0);
        T_CHECKF(st == QUIRE_OK || st == QUIRE_NOMEM, "fail at %ld: status %d", n, st);
        if (st == QUIRE_OK)
            break;
    }
}

int main(void)
{
    qr_arena_init(&g_in, 32u << 20);
    qr_arena_init(&g_out, 8u << 20);
    T_RUN(test_two_columns);
    T_RUN(test_single_column_unchanged);
    T_RUN(test_heading_levels);
    T_RUN(test_bold_short_heading);
    T_RUN(test_dehyphenation);
    T_RUN(test_paragraph_split);
    T_RUN(test_lists);
    T_RUN(test_baseline_rows);
    T_RUN(test_aligned_table);
    T_RUN(test_ruled_table);
    T_RUN(test_row_span_inner_column);
    T_RUN(test_booktabs_table);
    T_RUN(test_spanning_header);
    T_RUN(test_no_false_table);
    T_RUN(test_code);
    T_RUN(test_furniture);
    T_RUN(test_furniture_ocr);
    T_RUN(test_keep_lines_for_text);
    T_RUN(test_figures);
    T_RUN(test_markdown_escaping);
    T_RUN(test_json);
    T_RUN(test_json_of_layout);
    T_RUN(test_text_export);
    T_RUN(test_empty_inputs);
    T_RUN(test_nomem);
    free(g_md);
    qr_arena_free(&g_in);
    qr_arena_free(&g_out);
    return t_done();
}
