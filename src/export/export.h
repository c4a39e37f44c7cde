/*
 * export.h — writers for analysed documents: Markdown (what a person would write),
 * JSON (the same content as blocks with type, text, page, bbox, source, confidence),
 * and plain text in reading order. Output goes to a capped qr_buf (sticky failure).
 */
#ifndef QR_EXPORT_H
#define QR_EXPORT_H

#include "core/core.h"
#include "layout/layout.h"

void qr_export_markdown(const qr_layout *l, qr_buf *out);
/* As qr_export_markdown; with page_markers, a line `<!-- page N -->` and a blank line
 * come before the first block of each page that has blocks (N = qr_block.page). With
 * page_markers 0 the output is exactly qr_export_markdown's. */
void qr_export_markdown_ex(const qr_layout *l, qr_buf *out, int page_markers);
/* As qr_export_markdown_ex; tables = enum quire_tables (auto: a pipe table unless a cell
 * spans, then an HTML <table> with colspan/rowspan). */
void qr_export_markdown_opts(const qr_layout *l, qr_buf *out, int page_markers, int tables);
/* `doc_path` is written into the JSON as "document". */
void qr_export_json(const qr_layout *l, const char *doc_path, qr_buf *out);
void qr_export_text(const qr_layout *l, qr_buf *out);

/* What the exporters know about the document beyond its blocks: every processed page
 * with its size (PDF points, as displayed) and, for a page that is not in the output,
 * why (timed out, cancelled, a page error). */
typedef struct qr_export_page {
    int page;            /* 1-based */
    float width, height; /* points; 0 when the page was not converted */
    int rotation;        /* degrees, as displayed */
    int text_rotation;   /* qr_page.text_rotation: width/height are then of the turned page */
    const char *missing; /* NULL = converted, else why it is missing from the output */
} qr_export_page;

typedef struct qr_export_doc {
    const char *path;            /* written as "document" */
    const qr_export_page *pages; /* [n_pages] processed pages in page order; may be NULL */
    int n_pages;
    int n_pages_total;           /* pages in the document (0 = unknown) */
    const char *metadata;        /* the document's own metadata (a JSON object's text, the
                                    pdf.* keys) written as "metadata"; NULL = null */
} qr_export_doc;

/* The JSON schema version qr_export_json_doc writes (docs/convert-json.md). */
#define QR_JSON_SCHEMA_VERSION 1
/* JSON with "schema_version", coordinate units/origin, "pages" (sizes; status) and
 * "missing_pages" before "blocks". qr_export_json is this with no page records. */
void qr_export_json_doc(const qr_layout *l, const qr_export_doc *d, qr_buf *out);
/* Gamebook JSON (docs/gamebook.md): the numbered sections found in the blocks (in
 * order, numbers read through OCR noise such as "l2"), each with its text, choices,
 * combat and item notes. pages[0..n_pages) are the pages the layout came from (NULL
 * entries allowed): their fonts tell bold or large numerals. gamebook.c. */
#define QR_GAMEBOOK_SCHEMA_VERSION 1
void qr_export_gamebook(const qr_layout *l, const qr_page *const *pages, int n_pages,
                        const qr_export_doc *d, qr_buf *out);
/* A JSON string for s[0..n) (escaped; invalid UTF-8 becomes U+FFFD). json.c. */
void qr_export_json_str(qr_buf *out, const char *s, size_t n);

/* Markdown/text: when pages are missing, one paragraph saying which and why (Markdown:
 * a block quote), followed by a blank line; nothing when every page converted. */
void qr_export_missing_note(const qr_export_doc *d, int markdown, qr_buf *out);

#endif /* QR_EXPORT_H */
