/*
 * json.c — the analysed document as one JSON object:
 *   {"schema_version": 1, "document": PATH, "units": "pt", "origin": "top-left",
 *    "pages": [{"page": 1, "width": W, "height": H, "rotation": 0, "text_rotation": 0,
 *      "status": "ok"|
 *      "missing", "missing_reason": null|"timed out"}], "missing_pages": [N...],
 *    "blocks": [{"type": "heading", "level": 1, "text": "...",
 *     "page": 1, "bbox": [x0, y0, x1, y1], "page_end": 1, ["parts": [{"page",
 *     "offset", "bbox"}...],] "source": "text"|"ocr"|"vlm",
 *     "confidence": null|N, ...}]}
 * (docs/convert-json.md is the contract).
 * List items add "marker" and "ordered", tables "rows", "cols" and "cells" (an array
 * of rows of strings; a spanning cell's text in its top-left position) and
 * "table_cells" (objects row, col, row_span, col_span, text, bbox). Strings are escaped here; invalid UTF-8 becomes U+FFFD so the
 * output always parses.
 */
#include <math.h>
#include <string.h>

#include <utf8proc.h>

#include "export/export.h"

static const char *const type_names[] = {"paragraph", "heading", "list_item", "table",
                                         "code",      "caption", "formula", "figure"};

void qr_export_json_str(qr_buf *out, const char *s, size_t len)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)(s ? s : "");
    const utf8proc_uint8_t *end = p + (s ? len : 0);
    qr_buf_putc(out, '"');
    while (p < end && *p) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, end - p, &cp);
        if (n <= 0) {
            qr_buf_append(out, "\\ufffd", 6);
            p++;
            continue;
        }
        if (cp == '"' || cp == '\\') {
            qr_buf_putc(out, '\\');
            qr_buf_putc(out, (char)cp);
        } else if (cp == '\n') {
            qr_buf_append(out, "\\n", 2);
        } else if (cp == '\t') {
            qr_buf_append(out, "\\t", 2);
        } else if (cp < 0x20 || cp == 0x7f) {
            qr_buf_printf(out, "\\u%04x", (unsigned)cp);
        } else {
            qr_buf_append(out, p, (size_t)n);
        }
        p += n;
    }
    qr_buf_putc(out, '"');
}

static void put_string(qr_buf *out, const char *s)
{
    qr_export_json_str(out, s, s ? strlen(s) : 0);
}

static void put_number(qr_buf *out, double v)
{
    if (!isfinite(v))
        v = 0;
    qr_buf_printf(out, "%.2f", v);
}

static void put_cells(qr_buf *out, const qr_block *b)
{
    qr_buf_printf(out, ",\"rows\":%d,\"cols\":%d,\"cells\":[", b->n_rows, b->n_cols);
    for (int r = 0; r < b->n_rows; r++) {
        qr_buf_append(out, r ? ",[" : "[", r ? 2 : 1);
        for (int c = 0; c < b->n_cols; c++) {
            if (c)
                qr_buf_putc(out, ',');
            put_string(out, b->cells[r * b->n_cols + c]);
        }
        qr_buf_putc(out, ']');
    }
    qr_buf_putc(out, ']');
    /* the same cells as objects with their grid extent (spanning headers) and bbox */
    qr_buf_append(out, ",\"table_cells\":[", 16);
    for (int i = 0; i < b->n_tcells; i++) {
        const qr_tcell *t = &b->tcells[i];
        qr_buf_printf(out, "%s{\"row\":%d,\"col\":%d,\"row_span\":%d,\"col_span\":%d,\"text\":",
                      i ? "," : "", t->row, t->col, t->row_span, t->col_span);
        put_string(out, t->text);
        qr_buf_append(out, ",\"bbox\":[", 9);
        const float v[4] = {t->bbox.x0, t->bbox.y0, t->bbox.x1, t->bbox.y1};
        for (int k = 0; k < 4; k++) {
            if (k)
                qr_buf_putc(out, ',');
            put_number(out, v[k]);
        }
        qr_buf_append(out, "]}", 2);
    }
    qr_buf_putc(out, ']');
}

/* Code points in s[0, n): JSON readers index strings by characters, not bytes. */
static size_t code_points(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && s[i]; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* "parts": every piece of a block continued across a page or column break. */
static void put_parts(qr_buf *out, const qr_block *b)
{
    qr_buf_append(out, ",\"parts\":[", 10);
    for (int i = 0; i < b->n_parts; i++) {
        const qr_block_part *p = &b->parts[i];
        qr_buf_printf(out, "%s{\"page\":%d,\"offset\":%zu,\"bbox\":[", i ? "," : "", p->page,
                      code_points(b->text, p->offset));
        const float v[4] = {p->bbox.x0, p->bbox.y0, p->bbox.x1, p->bbox.y1};
        for (int k = 0; k < 4; k++) {
            if (k)
                qr_buf_putc(out, ',');
            put_number(out, v[k]);
        }
        qr_buf_append(out, "]}", 2);
    }
    qr_buf_putc(out, ']');
}

static void put_block(qr_buf *out, const qr_block *b)
{
    int t = b->type >= 0 && b->type < (int)QR_ARRAY_LEN(type_names) ? b->type : 0;
    qr_buf_printf(out, "{\"type\":\"%s\"", type_names[t]);
    if (b->type == QR_BLK_HEADING || b->type == QR_BLK_LIST_ITEM)
        qr_buf_printf(out, ",\"level\":%d", b->level);
    if (b->type == QR_BLK_LIST_ITEM) {
        qr_buf_printf(out, ",\"ordered\":%s,\"marker\":", b->ordered ? "true" : "false");
        put_string(out, b->marker);
    }
    qr_buf_append(out, ",\"text\":", 8);
    put_string(out, b->text);
    qr_buf_printf(out, ",\"page\":%d,\"bbox\":[", b->page);
    const float v[4] = {b->bbox.x0, b->bbox.y0, b->bbox.x1, b->bbox.y1};
    for (int i = 0; i < 4; i++) {
        if (i)
            qr_buf_putc(out, ',');
        put_number(out, v[i]);
    }
    qr_buf_printf(out, "],\"page_end\":%d", b->page_end > b->page ? b->page_end : b->page);
    if (b->n_parts > 1)
        put_parts(out, b);
    qr_buf_printf(out, ",\"source\":\"%s\",\"confidence\":",
                  b->source == QR_SRC_OCR ? "ocr" : b->source == QR_SRC_VLM ? "vlm" : "text");
    if (b->conf < 0)
        qr_buf_append(out, "null", 4);
    else
        put_number(out, b->conf);
    if (b->type == QR_BLK_TABLE)
        put_cells(out, b);
    if (b->type == QR_BLK_FIGURE) {
        /* "file": the PNG's name (--images refs); "data": its data: URI (embed) */
        int uri = b->image && strncmp(b->image, "data:", 5) == 0;
        qr_buf_append(out, ",\"caption\":", 11);
        if (b->caption)
            put_string(out, b->caption);
        else
            qr_buf_append(out, "null", 4);
        qr_buf_printf(out, ",\"drawing\":%s", b->drawing ? "true" : "false");
        qr_buf_append(out, ",\"file\":", 8);
        if (b->image && !uri)
            put_string(out, b->image);
        else
            qr_buf_append(out, "null", 4);
        if (uri) {
            qr_buf_append(out, ",\"data\":", 8);
            put_string(out, b->image);
        }
    }
    qr_buf_putc(out, '}');
}

static void put_pages(qr_buf *out, const qr_export_doc *d)
{
    qr_buf_append(out, ",\"pages\":[", 10);
    for (int i = 0; i < d->n_pages; i++) {
        const qr_export_page *p = &d->pages[i];
        qr_buf_printf(out, "%s{\"page\":%d,\"width\":", i ? "," : "", p->page);
        put_number(out, p->width);
        qr_buf_append(out, ",\"height\":", 10);
        put_number(out, p->height);
        qr_buf_printf(out, ",\"rotation\":%d,\"text_rotation\":%d,\"status\":\"%s\","
                      "\"missing_reason\":", p->rotation, p->text_rotation,
                      p->missing ? "missing" : "ok");
        if (p->missing)
            put_string(out, p->missing);
        else
            qr_buf_append(out, "null", 4);
        qr_buf_putc(out, '}');
    }
    qr_buf_append(out, "],\"missing_pages\":[", 19);
    int k = 0;
    for (int i = 0; i < d->n_pages; i++) {
        if (d->pages[i].missing)
            qr_buf_printf(out, "%s%d", k++ ? "," : "", d->pages[i].page);
    }
    qr_buf_putc(out, ']');
}

void qr_export_json_doc(const qr_layout *l, const qr_export_doc *d, qr_buf *out)
{
    qr_buf_printf(out, "{\"schema_version\":%d,\"document\":", QR_JSON_SCHEMA_VERSION);
    put_string(out, d->path);
    static const char units[] = ",\"units\":\"pt\",\"origin\":\"top-left\"";
    qr_buf_append(out, units, sizeof(units) - 1);
    if (d->n_pages_total > 0)
        qr_buf_printf(out, ",\"n_pages\":%d", d->n_pages_total);
    qr_buf_append(out, ",\"metadata\":", 12);
    if (d->metadata && d->metadata[0] == '{')
        qr_buf_append(out, d->metadata, strlen(d->metadata));
    else
        qr_buf_append(out, "null", 4);
    put_pages(out, d);
    qr_buf_append(out, ",\"blocks\":[", 11);
    for (int k = 0; l && k < l->n_blocks; k++) {
        qr_buf_append(out, k ? ",\n" : "\n", k ? 2 : 1);
        put_block(out, &l->blocks[k]);
    }
    qr_buf_append(out, "\n]}\n", 4);
}

void qr_export_json(const qr_layout *l, const char *doc_path, qr_buf *out)
{
    qr_export_doc d = {doc_path, NULL, 0, 0, NULL};
    qr_export_json_doc(l, &d, out);
}

void qr_export_missing_note(const qr_export_doc *d, int markdown, qr_buf *out)
{
    int n_missing = 0;
    for (int i = 0; i < d->n_pages; i++)
        n_missing += d->pages[i].missing != NULL;
    if (!n_missing)
        return;
    qr_buf_printf(out, "%sIncomplete conversion: %d of %d page%s missing from this output: ",
                  markdown ? "> **quire:** " : "quire: ", n_missing, d->n_pages,
                  d->n_pages == 1 ? " is" : "s are");
    /* runs of consecutive pages with the same reason: "3-10 (timed out), 12 (…)" */
    int first = 1;
    for (int i = 0; i < d->n_pages;) {
        const char *why = d->pages[i].missing;
        if (!why) {
            i++;
            continue;
        }
        int j = i;
        while (j + 1 < d->n_pages && d->pages[j + 1].missing &&
               d->pages[j + 1].page == d->pages[j].page + 1 &&
               strcmp(d->pages[j + 1].missing, why) == 0)
            j++;
        qr_buf_append(out, first ? "" : "; ", first ? 0 : 2);
        if (j > i)
            qr_buf_printf(out, "pages %d-%d", d->pages[i].page, d->pages[j].page);
        else
            qr_buf_printf(out, "page %d", d->pages[i].page);
        /* the reason is one line of text: no newlines into the Markdown */
        qr_buf_append(out, " (", 2);
        for (const char *c = why; *c; c++)
            qr_buf_putc(out, *c == '\n' || *c == '\r' ? ' ' : *c);
        qr_buf_putc(out, ')');
        first = 0;
        i = j + 1;
    }
    qr_buf_append(out, ".\n\n", 3);
}
