/*
 * hit_json.c — the one JSON form of a search hit (docs/search-hits.md, hit schema 1),
 * shared by `quire search --json`, `quire mcp` and the server's /v1/search so that every
 * interface prints the same keys, with null for an absent value rather than a missing key.
 */
#include <jansson.h>

#include "store/store_int.h"

const char *qr_score_kind(int mode, int text_rank)
{
    if (mode == QUIRE_SEARCH_VECTOR)
        return "cosine";
    if (mode == QUIRE_SEARCH_HYBRID)
        return "rrf";
    return text_rank == QUIRE_TEXT_RANK_BM25 ? "bm25" : "bm25+phrase";
}

static json_t *int_or_null(int v) { return v ? json_integer(v) : json_null(); }

json_t *qr_hit_json(const quire_hit *h, int rank, const char *score_kind)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "rank", json_integer(rank));
    bad |= json_object_set_new(o, "id", json_integer((json_int_t)h->chunk_id));
    bad |= json_object_set_new(o, "chunk_id", json_integer((json_int_t)h->chunk_id));
    bad |= json_object_set_new(o, "document", json_string(h->document));
    bad |= json_object_set_new(o, "doc_id", json_string(h->document));
    bad |= json_object_set_new(o, "page_start", json_integer(h->page_start));
    bad |= json_object_set_new(o, "page_end", json_integer(h->page_end));
    bad |= json_object_set_new(o, "heading",
                               h->heading && h->heading[0] ? json_string(h->heading)
                                                           : json_null());
    bad |= json_object_set_new(o, "text", h->text ? json_string(h->text) : json_null());
    bad |= json_object_set_new(o, "snippet", h->snippet ? json_string(h->snippet) : json_null());
    bad |= json_object_set_new(o, "score", json_real(h->score));
    bad |= json_object_set_new(o, "score_kind", json_string(score_kind));
    bad |= json_object_set_new(o, "text_rank", int_or_null(h->text_rank));
    bad |= json_object_set_new(o, "vector_rank", int_or_null(h->vector_rank));
    bad |= json_object_set_new(o, "cosine",
                               h->vector_rank ? json_real(h->vector_score) : json_null());
    json_t *meta = h->metadata ? json_loads(h->metadata, 0, NULL) : NULL;
    bad |= json_object_set_new(o, "metadata", meta ? meta : json_null());
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
