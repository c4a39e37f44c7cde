/* layout.c — prints "struct field offset" (and "struct sizeof N") for every field of
 * quire.h that the Python binding mirrors with ctypes; test_binding.py compares. */
#include <stddef.h>
#include <stdio.h>

#include <quire.h>

#define F(s, f) printf("%s %s %zu\n", #s, #f, offsetof(s, f))
#define S(s) printf("%s sizeof %zu\n", #s, sizeof(s))

int main(void)
{
    F(quire_error, code); F(quire_error, msg); S(quire_error);
    F(quire_model_params, max_tokens); F(quire_model_params, pooling); S(quire_model_params);
    F(quire_embedder_params, n_threads); F(quire_embedder_params, max_batch);
    F(quire_embedder_params, max_batch_tokens); F(quire_embedder_params, no_normalize);
    F(quire_embedder_params, pooling); S(quire_embedder_params);
    F(quire_converter_params, n_threads); F(quire_converter_params, lang);
    S(quire_converter_params);
    F(quire_convert_params, ocr); F(quire_convert_params, format); F(quire_convert_params, dpi);
    F(quire_convert_params, pages); F(quire_convert_params, max_pages);
    F(quire_convert_params, timeout_s); F(quire_convert_params, abort_flag);
    F(quire_convert_params, progress); F(quire_convert_params, progress_user_data);
    F(quire_convert_params, page_markers); F(quire_convert_params, tables);
    F(quire_convert_params, vlm); F(quire_convert_params, images);
    F(quire_convert_params, image_prefix); F(quire_convert_params, image_dpi);
    F(quire_convert_params, name); F(quire_convert_params, strategy);
    S(quire_convert_params);
    F(quire_page_report, page); F(quire_page_report, method); F(quire_page_report, reason);
    F(quire_page_report, ms); F(quire_page_report, chars); F(quire_page_report, conf);
    F(quire_page_report, error); F(quire_page_report, text_rotation);
    F(quire_page_report, osd_conf); F(quire_page_report, skew); F(quire_page_report, quality);
    F(quire_page_report, inserts_ocr); F(quire_page_report, rss_kb);
    F(quire_page_report, inserts); S(quire_page_report);
    F(quire_convert_result, output); F(quire_convert_result, output_len);
    F(quire_convert_result, n_pages); F(quire_convert_result, n_reports);
    F(quire_convert_result, reports); F(quire_convert_result, n_failed);
    F(quire_convert_result, ms); F(quire_convert_result, warning);
    F(quire_collection_params, chunk_tokens); F(quire_collection_params, overlap);
    F(quire_collection_params, hnsw_m); F(quire_collection_params, ef_construction);
    F(quire_collection_params, ef_search); F(quire_collection_params, doc_prefix);
    F(quire_collection_params, query_prefix); S(quire_collection_params);
    F(quire_ingest_params, collection); F(quire_ingest_params, create);
    F(quire_ingest_params, embedder); F(quire_ingest_params, converter);
    F(quire_ingest_params, convert); F(quire_ingest_params, force);
    F(quire_ingest_params, store_path); F(quire_ingest_params, root);
    F(quire_ingest_params, metadata);
    S(quire_ingest_params);
    F(quire_ingest_result, outcome); F(quire_ingest_result, pages);
    F(quire_ingest_result, failed_pages); F(quire_ingest_result, chunks);
    F(quire_ingest_result, tokens); F(quire_ingest_result, ms);
    F(quire_ingest_result, convert_ms); F(quire_ingest_result, embed_ms);
    F(quire_ingest_result, store_ms); S(quire_ingest_result);
    F(quire_search_params, collection); F(quire_search_params, k); F(quire_search_params, mode);
    F(quire_search_params, path_glob); F(quire_search_params, ef);
    F(quire_search_params, embedder); F(quire_search_params, exact);
    F(quire_search_params, text_rank); F(quire_search_params, highlight_open);
    F(quire_search_params, highlight_close); F(quire_search_params, where);
    F(quire_search_params, vector); F(quire_search_params, vector_dims);
    S(quire_search_params);
    F(quire_hit, chunk_id); F(quire_hit, document); F(quire_hit, page_start);
    F(quire_hit, page_end); F(quire_hit, heading); F(quire_hit, text); F(quire_hit, snippet);
    F(quire_hit, score); F(quire_hit, text_rank); F(quire_hit, vector_rank);
    F(quire_hit, text_score); F(quire_hit, vector_score); F(quire_hit, metadata);
    S(quire_hit);
    F(quire_hits, n); F(quire_hits, hits); F(quire_hits, mode); F(quire_hits, exact);
    F(quire_hits, note);
    return 0;
}
