/*
 * markdown.c — Markdown as a person would write it: ATX headings, paragraphs separated
 * by blank lines, tight lists ("- " / "1. ", two spaces of indentation per level),
 * GitHub pipe tables with the first row as header (an HTML <table> with colspan when a
 * cell spans columns, as docling and marker write them), fenced code, captions as plain
 * paragraphs. Text that would be read as Markdown syntax at the start of a line
 * ("# not a heading", "1. not a list") gets a backslash.
 */
#include <string.h>

#include "export/export.h"

#define MAX_LEVELS 8

/* Characters that start Markdown syntax when they begin a paragraph. */
static void put_line_start_escaped(qr_buf *out, const char *s)
{
    size_t d = 0;
    while (s[d] >= '0' && s[d] <= '9' && d < 10)
        d++;
    if (d > 0 && (s[d] == '.' || s[d] == ')') && (s[d + 1] == ' ' || s[d + 1] == '\0')) {
        qr_buf_append(out, s, d); /* "1. " -> "1\. " */
        qr_buf_putc(out, '\\');
        qr_buf_append(out, s + d, strlen(s + d));
        return;
    }
    int risky = strchr("#>|<", s[0]) != NULL && s[0] != '\0';
    if (!risky && s[0] != '\0' && strchr("-+*_=", s[0]))
        risky = s[1] == ' ' || s[1] == s[0] || s[1] == '\0';
    if (!risky && (strncmp(s, "```", 3) == 0 || strncmp(s, "~~~", 3) == 0))
        risky = 1;
    if (risky)
        qr_buf_putc(out, '\\');
    qr_buf_append(out, s, strlen(s));
}

static void put_cell(qr_buf *out, const char *s)
{
    qr_buf_putc(out, ' ');
    for (; *s; s++) {
        if (*s == '|')
            qr_buf_append(out, "\\|", 2);
        else if (*s == '\n' || *s == '\r' || *s == '\t')
            qr_buf_putc(out, ' ');
        else
            qr_buf_putc(out, *s);
    }
    qr_buf_append(out, " |", 2);
}

static void put_table(qr_buf *out, const qr_block *b)
{
    for (int r = 0; r < b->n_rows; r++) {
        qr_buf_putc(out, '|');
        for (int k = 0; k < b->n_cols; k++)
            put_cell(out, b->cells[r * b->n_cols + k] ? b->cells[r * b->n_cols + k] : "");
        qr_buf_putc(out, '\n');
        if (r == 0) {
            qr_buf_putc(out, '|');
            for (int k = 0; k < b->n_cols; k++)
                qr_buf_append(out, " --- |", 6);
            qr_buf_putc(out, '\n');
        }
    }
}

static void put_html_text(qr_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            qr_buf_append(out, "&lt;", 4);
        else if (*s == '>')
            qr_buf_append(out, "&gt;", 4);
        else if (*s == '&')
            qr_buf_append(out, "&amp;", 5);
        else if (*s == '\n' || *s == '\r' || *s == '\t')
            qr_buf_putc(out, ' ');
        else
            qr_buf_putc(out, *s);
    }
}

static int table_has_spans(const qr_block *b)
{
    for (int i = 0; i < b->n_tcells; i++)
        if (b->tcells[i].row_span > 1 || b->tcells[i].col_span > 1)
            return 1;
    return 0;
}

/* HTML table: the first row as header cells, spans from tcells, every grid position
 * either a cell of its own (maybe empty) or covered by a spanning one. */
static void put_table_html(qr_buf *out, const qr_block *b)
{
    int n = b->n_rows * b->n_cols;
    unsigned char *covered = qr_calloc((size_t)(n > 0 ? n : 1), 1);
    int *span_at = qr_calloc((size_t)(n > 0 ? n : 1), sizeof(int));
    if (!covered || !span_at) {
        qr_free(covered);
        qr_free(span_at);
        out->failed = 1;
        return;
    }
    for (int i = 0; i < b->n_tcells; i++) {
        const qr_tcell *t = &b->tcells[i];
        if (t->row < 0 || t->col < 0 || t->row >= b->n_rows || t->col >= b->n_cols)
            continue;
        span_at[t->row * b->n_cols + t->col] = i + 1;
        for (int r = t->row; r < t->row + t->row_span && r < b->n_rows; r++)
            for (int k = t->col; k < t->col + t->col_span && k < b->n_cols; k++)
                if (r != t->row || k != t->col)
                    covered[r * b->n_cols + k] = 1;
    }
    qr_buf_append(out, "<table>\n", 8);
    for (int r = 0; r < b->n_rows; r++) {
        const char *tag = r == 0 ? "th" : "td";
        qr_buf_append(out, "<tr>", 4);
        for (int k = 0; k < b->n_cols; k++) {
            int at = r * b->n_cols + k;
            if (covered[at])
                continue;
            qr_buf_printf(out, "<%s", tag);
            if (span_at[at]) {
                const qr_tcell *t = &b->tcells[span_at[at] - 1];
                if (t->col_span > 1)
                    qr_buf_printf(out, " colspan=\"%d\"", t->col_span);
                if (t->row_span > 1)
                    qr_buf_printf(out, " rowspan=\"%d\"", t->row_span);
            }
            qr_buf_putc(out, '>');
            put_html_text(out, b->cells[at] ? b->cells[at] : "");
            qr_buf_printf(out, "</%s>", tag);
        }
        qr_buf_append(out, "</tr>\n", 6);
    }
    qr_buf_append(out, "</table>\n", 9);
    qr_free(covered);
    qr_free(span_at);
}

/* A fence longer than any backtick run inside the code. */
static void put_code(qr_buf *out, const char *text)
{
    int longest = 0, run = 0;
    for (const char *p = text; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        longest = QR_MAX(longest, run);
    }
    int n = QR_MAX(3, longest + 1);
    for (int i = 0; i < n; i++)
        qr_buf_putc(out, '`');
    qr_buf_putc(out, '\n');
    qr_buf_append(out, text, strlen(text));
    qr_buf_putc(out, '\n');
    for (int i = 0; i < n; i++)
        qr_buf_putc(out, '`');
    qr_buf_putc(out, '\n');
}

/* The number to print for an ordered item: the marker's own digits when it has them
 * ("3." -> 3), else the position in its list ("(c)" -> 3). */
static long item_number(const qr_block *b, long counter)
{
    long v = 0;
    int digits = 0;
    for (const char *p = b->marker ? b->marker : ""; *p; p++) {
        if (*p >= '0' && *p <= '9' && digits < 9) {
            v = v * 10 + (*p - '0');
            digits++;
        }
    }
    return digits ? v : counter;
}

static void put_list_item(qr_buf *out, const qr_block *b, long *counters)
{
    int level = QR_MAX(0, QR_MIN(b->level, MAX_LEVELS - 1));
    for (int i = level + 1; i < MAX_LEVELS; i++)
        counters[i] = 0;
    counters[level]++;
    for (int i = 0; i < level; i++)
        qr_buf_append(out, "  ", 2);
    if (b->ordered)
        qr_buf_printf(out, "%ld. ", item_number(b, counters[level]));
    else
        qr_buf_append(out, "- ", 2);
    put_line_start_escaped(out, b->text ? b->text : "");
    qr_buf_putc(out, '\n');
}

/* A paragraph continued on the next page, with page markers: split at the page break,
 * the marker between the pieces, so that whatever reads the markers (the chunker: chunk
 * page ranges) attributes each piece to its own page. A break inside a word re-joined
 * by de-hyphenation moves to the end of that word. Returns the page of the last marker. */
static int put_split_paragraph(qr_buf *out, const qr_block *b, int page)
{
    const char *t = b->text;
    size_t n = strlen(t), from = 0;
    for (int i = 1; i < b->n_parts; i++) {
        const qr_block_part *p = &b->parts[i];
        if (p->page == page || p->offset <= from || p->offset >= n)
            continue;
        size_t at = p->offset;
        while (at < n && t[at - 1] != ' ')
            at++;
        size_t end = at;
        while (end > from && t[end - 1] == ' ')
            end--;
        if (end == from || at >= n)
            continue;
        char *piece = qr_malloc(end - from + 1);
        if (!piece) {
            out->failed = 1;
            return page;
        }
        memcpy(piece, t + from, end - from);
        piece[end - from] = '\0';
        put_line_start_escaped(out, piece);
        qr_free(piece);
        qr_buf_printf(out, "\n\n<!-- page %d -->\n\n", p->page);
        page = p->page;
        from = at;
    }
    put_line_start_escaped(out, t + from);
    return page;
}

/* A figure: `![caption](file or data: URI)` when it was exported, and the labels drawn
 * inside it as an HTML comment (invisible when rendered, found by search). */
static void put_figure(qr_buf *out, const qr_block *b)
{
    if (b->image) {
        qr_buf_append(out, "![", 2);
        for (const char *s = b->caption ? b->caption : ""; *s; s++) {
            if (*s == '[' || *s == ']' || *s == '\\')
                qr_buf_putc(out, '\\');
            qr_buf_putc(out, *s == '\n' || *s == '\r' ? ' ' : *s);
        }
        qr_buf_append(out, "](", 2);
        qr_buf_append(out, b->image, strlen(b->image));
        qr_buf_append(out, ")\n", 2);
    }
    if (b->text && b->text[0]) {
        qr_buf_append(out, "<!-- figure text: ", 18);
        for (const char *s = b->text; *s; s++) {
            if (s[0] == '-' && s[1] == '-') /* "--" would end the comment */
                qr_buf_append(out, "- ", 2);
            else
                qr_buf_putc(out, *s == '\n' ? ' ' : *s);
        }
        qr_buf_append(out, " -->\n", 5);
    }
}

/* Does the figure write anything (an unexported figure without labels does not)? */
static int figure_shown(const qr_block *b)
{
    return b->image || (b->text && b->text[0]);
}

void qr_export_markdown(const qr_layout *l, qr_buf *out)
{
    qr_export_markdown_ex(l, out, 0);
}

void qr_export_markdown_ex(const qr_layout *l, qr_buf *out, int page_markers)
{
    qr_export_markdown_opts(l, out, page_markers, QUIRE_TABLES_AUTO);
}

void qr_export_markdown_opts(const qr_layout *l, qr_buf *out, int page_markers, int tables)
{
    long counters[MAX_LEVELS] = {0};
    int prev = -1;
    int page = -1; /* page of the last marker written */
    for (int k = 0; l && k < l->n_blocks; k++) {
        const qr_block *b = &l->blocks[k];
        const char *text = b->text ? b->text : "";
        if (b->type == QR_BLK_FIGURE && !figure_shown(b))
            continue;
        int marker = page_markers && b->page != page;
        /* a marker between two list items breaks the tight list: blank line before it */
        int tight = prev == QR_BLK_LIST_ITEM && b->type == QR_BLK_LIST_ITEM && !marker;
        if (prev >= 0 && !tight)
            qr_buf_putc(out, '\n');
        if (marker) {
            qr_buf_printf(out, "<!-- page %d -->\n\n", b->page);
            page = b->page;
        }
        if (b->type != QR_BLK_LIST_ITEM)
            memset(counters, 0, sizeof(counters));
        switch (b->type) {
        case QR_BLK_HEADING: {
            int level = QR_MAX(1, QR_MIN(b->level, 6));
            for (int i = 0; i < level; i++)
                qr_buf_putc(out, '#');
            qr_buf_putc(out, ' ');
            qr_buf_append(out, text, strlen(text));
            qr_buf_putc(out, '\n');
            break;
        }
        case QR_BLK_LIST_ITEM:
            put_list_item(out, b, counters);
            break;
        case QR_BLK_TABLE:
            if (tables == QUIRE_TABLES_HTML ||
                (tables == QUIRE_TABLES_AUTO && table_has_spans(b)))
                put_table_html(out, b);
            else
                put_table(out, b);
            break;
        case QR_BLK_CODE:
            put_code(out, text);
            break;
        case QR_BLK_FIGURE:
            put_figure(out, b);
            break;
        default: /* paragraphs and captions */
            if (page_markers && b->n_parts > 1)
                page = put_split_paragraph(out, b, page);
            else
                put_line_start_escaped(out, text);
            qr_buf_putc(out, '\n');
            break;
        }
        prev = b->type;
    }
}
