/*
 * hit_json.c — the JSON form of a search hit for `quire search --json` and `quire mcp`:
 * the library's one hit schema (src/store/hit_json.c, docs/search-hits.md), the same
 * objects the server's /v1/search returns.
 */
#include <jansson.h>

#include "cli.h"
#include "store/store_int.h"

json_t *cli_hit_json(const quire_hit *h, int rank, int mode, int text_rank)
{
    return qr_hit_json(h, rank, qr_score_kind(mode, text_rank));
}
