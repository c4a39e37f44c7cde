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
/* `doc_path` is written into the JSON as "document". */
void qr_export_json(const qr_layout *l, const char *doc_path, qr_buf *out);
void qr_export_text(const qr_layout *l, qr_buf *out);

#endif /* QR_EXPORT_H */
