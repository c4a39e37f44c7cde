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
/* `doc_path` is written into the JSON as "document". */
void qr_export_json(const qr_layout *l, const char *doc_path, qr_buf *out);
void qr_export_text(const qr_layout *l, qr_buf *out);

#endif /* QR_EXPORT_H */
