/*
 * text.c — plain text in reading order: blocks separated by blank lines, list items
 * with their marker and two spaces per level, tables as tab-separated rows.
 */
#include <string.h>

#include "export/export.h"

static void put_cell(qr_buf *out, const char *s)
{
    for (; s && *s; s++)
        qr_buf_putc(out, (*s == '\t' || *s == '\n') ? ' ' : *s);
}

void qr_export_text(const qr_layout *l, qr_buf *out)
{
    for (int k = 0; l && k < l->n_blocks; k++) {
        const qr_block *b = &l->blocks[k];
        const char *text = b->text ? b->text : "";
        if (k > 0)
            qr_buf_putc(out, '\n');
        if (b->type == QR_BLK_TABLE) {
            for (int r = 0; r < b->n_rows; r++) {
                for (int c = 0; c < b->n_cols; c++) {
                    if (c > 0)
                        qr_buf_putc(out, '\t');
                    put_cell(out, b->cells[r * b->n_cols + c]);
                }
                qr_buf_putc(out, '\n');
            }
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
