/*
 * text.c — plain text in reading order: blocks separated by blank lines, list items
 * with their marker and two spaces per level, tables with their columns aligned (each
 * cell padded with spaces to its column's width in characters, two spaces between
 * columns, as the page shows them; a cell spanning columns is padded over them).
 */
#include <string.h>

#include "export/export.h"

static int put_cell(qr_buf *out, const char *s)
{
    int w = 0;
    for (; s && *s; s++) {
        qr_buf_putc(out, (*s == '\t' || *s == '\n') ? ' ' : *s);
        w += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return w;
}

static int text_width(const char *s)
{
    int w = 0;
    for (; s && *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

#define MAX_TEXT_COLS 64

/* Does the cell at (r, c) span columns (from tcells)? Its width then does not widen
 * its first column: it overflows into the columns it covers. */
static int cell_spans(const qr_block *b, int r, int c)
{
    for (int i = 0; i < b->n_tcells; i++)
        if (b->tcells[i].row == r && b->tcells[i].col == c)
            return b->tcells[i].col_span > 1;
    return 0;
}

static void put_table(qr_buf *out, const qr_block *b)
{
    int width[MAX_TEXT_COLS] = {0}, start[MAX_TEXT_COLS] = {0};
    int nc = b->n_cols < MAX_TEXT_COLS ? b->n_cols : MAX_TEXT_COLS;
    for (int r = 0; r < b->n_rows; r++)
        for (int c = 0; c < nc; c++)
            if (!cell_spans(b, r, c)) {
                int w = text_width(b->cells[r * b->n_cols + c]);
                width[c] = w > width[c] ? w : width[c];
            }
    for (int c = 1; c < nc; c++)
        start[c] = start[c - 1] + width[c - 1] + 2;
    for (int r = 0; r < b->n_rows; r++) {
        int at = 0; /* characters written on this line */
        for (int c = 0; c < b->n_cols; c++) {
            const char *cell = b->cells[r * b->n_cols + c];
            if (c >= nc) { /* (beyond 64 columns: tab-separated) */
                qr_buf_putc(out, '\t');
                put_cell(out, cell);
                continue;
            }
            if (!cell || !*cell)
                continue;
            int to = at > start[c] ? at + 1 : start[c]; /* after an overflowing span: 1 */
            for (; at < to; at++)
                qr_buf_putc(out, ' ');
            at += put_cell(out, cell);
        }
        qr_buf_putc(out, '\n');
    }
}

void qr_export_text(const qr_layout *l, qr_buf *out)
{
    for (int k = 0; l && k < l->n_blocks; k++) {
        const qr_block *b = &l->blocks[k];
        const char *text = b->text ? b->text : "";
        if (k > 0)
            qr_buf_putc(out, '\n');
        if (b->type == QR_BLK_TABLE) {
            put_table(out, b);
            continue;
        }
        if (b->type == QR_BLK_LIST_ITEM) {
            for (int i = 0; i < b->level; i++)
                qr_buf_append(out, "  ", 2);
            if (b->marker) {
                qr_buf_append(out, b->marker, strlen(b->marker));
                qr_buf_putc(out, ' ');
            }
        }
        qr_buf_append(out, text, strlen(text));
        qr_buf_putc(out, '\n');
    }
}
