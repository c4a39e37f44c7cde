/*
 * stubs.c — TEMPORARY weak stand-ins for pipeline functions that other modules are
 * still writing (src/export), so the build links and
 * the converter can be exercised end to end. A real (strong) definition replaces each
 * one at link time. Delete this file once every module is in.
 */
#include <stdio.h>
#include <string.h>

#include "export/export.h"
#include "layout/layout.h"

#define WEAK __attribute__((weak))

WEAK void qr_export_text(const qr_layout *l, qr_buf *out)
{
    for (int i = 0; i < l->n_blocks; i++)
        qr_buf_printf(out, "%s\n\n", l->blocks[i].text ? l->blocks[i].text : "");
}

WEAK void qr_export_markdown(const qr_layout *l, qr_buf *out) { qr_export_text(l, out); }

static void json_str(qr_buf *out, const char *s)
{
    qr_buf_putc(out, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            qr_buf_printf(out, "\\%c", c);
        else if (c < 0x20)
            qr_buf_printf(out, "\\u%04x", c);
        else
            qr_buf_putc(out, (char)c);
    }
    qr_buf_putc(out, '"');
}

WEAK void qr_export_json(const qr_layout *l, const char *doc_path, qr_buf *out)
{
    qr_buf_append(out, "{\"document\":", 12);
    json_str(out, doc_path);
    qr_buf_append(out, ",\"blocks\":[", 11);
    for (int i = 0; i < l->n_blocks; i++) {
        qr_buf_printf(out, "%s{\"type\":\"paragraph\",\"page\":%d,\"text\":", i ? "," : "",
                      l->blocks[i].page);
        json_str(out, l->blocks[i].text ? l->blocks[i].text : "");
        qr_buf_putc(out, '}');
    }
    qr_buf_append(out, "]}\n", 3);
}
