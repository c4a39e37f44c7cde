/*
 * hit_json.c — the JSON form of a search hit, shared by `quire search --json` and
 * `quire mcp` so that both print the same objects.
 */
#include <jansson.h>

#include "cli.h"

json_t *cli_hit_json(const quire_hit *h, int rank, int full)
{
    json_t *o = json_pack("{s:i,s:s,s:i,s:i,s:s,s:f,s:s,s:I}", "rank", rank, "document",
                          h->document, "page_start", h->page_start, "page_end", h->page_end,
                          "heading", h->heading, "score", h->score, "snippet", h->snippet,
                          "chunk_id", (json_int_t)h->chunk_id);
    if (!o)
        return NULL;
    if (h->text_rank)
        json_object_set_new(o, "text_rank", json_integer(h->text_rank));
    if (h->vector_rank) {
        json_object_set_new(o, "vector_rank", json_integer(h->vector_rank));
        json_object_set_new(o, "cosine", json_real(h->vector_score));
    }
    if (full)
        json_object_set_new(o, "text", json_string(h->text));
    return o;
}
