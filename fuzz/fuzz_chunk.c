/*
 * fuzz_chunk.c — the Markdown chunker (qr_chunk_markdown, src/text/chunk.c) on arbitrary
 * bytes, with the default options and the default token counter, then with a tiny
 * chunk size and overlap picked by the first byte. Checks the documented output shape:
 * NUL-terminated text of the stated length, pages >= 1 and ordered, non-empty chunks.
 */
#include "fuzz_common.h"

#include "core/core.h"
#include "text/text.h"

static void check(const qr_chunk_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const qr_chunk *c = &l->items[i];
        if (!c->text || !c->heading || c->text[c->len] != 0 || strlen(c->text) > c->len ||
            c->page_start < 1 || c->page_end < c->page_start || c->n_tokens < 0)
            abort();
    }
}

static void run(const uint8_t *data, size_t size, const qr_chunk_opts *o)
{
    qr_chunk_list l = {0};
    quire_error err = {0, ""};
    if (qr_chunk_markdown((const char *)data, size, o, &l, &err) != QUIRE_OK)
        abort(); /* any bytes are valid Markdown */
    check(&l);
    qr_chunk_list_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet++)
        fz_quiet();
    run(data, size, NULL);
    if (size < 1)
        return 0;
    qr_chunk_opts o = {0};
    o.chunk_tokens = 1 + (data[0] & 7);      /* 1..8 tokens */
    o.overlap = (int)((data[0] >> 3) & 3) - 1; /* none, default, 1, 2 */
    run(data + 1, size - 1, &o);
    return 0;
}
