/*
 * metrics.c — counters for GET /metrics in the Prometheus text format: requests by
 * route and status, a latency histogram per route, the batch-size histogram (inputs per
 * forward pass), queue depth, open connections and the process RSS (/proc/self/statm).
 * One mutex guards everything: updates are a few increments per request.
 */
#include <stdio.h>
#include <unistd.h>

#include "server/server_int.h"

const char *const qr_srv_route_names[ROUTE_COUNT] = {
    "/v1/embeddings", "/v1/models", "/v1/search", "/v1/convert", "/health", "/metrics",
    "/embed", "/info", "/api/embed", "/v1/collections", "/openapi.json", "other",
};

static const int status_codes[] = {200, 400, 401, 404, 405, 408, 413, 415,
                                   422, 500, 501, 503, 0 /* other */};
#define N_STATUS ((int)QR_ARRAY_LEN(status_codes))
static const double lat_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                    0.05,   0.1,   0.25,   0.5,   1,    2.5, 10};
#define N_LAT ((int)QR_ARRAY_LEN(lat_bounds))
static const int batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define N_BATCH ((int)QR_ARRAY_LEN(batch_bounds))

struct qr_metrics {
    pthread_mutex_t mu;
    unsigned long long requests[ROUTE_COUNT][N_STATUS];
    unsigned long long other_status[ROUTE_COUNT];
    unsigned long long lat[ROUTE_COUNT][N_LAT + 1]; /* per bucket (not cumulative) */
    double lat_sum[ROUTE_COUNT];
    unsigned long long lat_count[ROUTE_COUNT];
    unsigned long long batch[N_BATCH + 1];
    unsigned long long batch_count, batch_inputs, batch_tokens;
};

qr_metrics *qr_metrics_new(void)
{
    qr_metrics *m = qr_calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->mu, NULL);
    return m;
}

void qr_metrics_free(qr_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    qr_free(m);
}

void qr_metrics_request(qr_metrics *m, int route, int status, double seconds)
{
    if (!m || route < 0 || route >= ROUTE_COUNT)
        return;
    int si = N_STATUS - 1;
    for (int i = 0; i < N_STATUS - 1; i++) {
        if (status_codes[i] == status)
            si = i;
    }
    int li = N_LAT;
    for (int i = N_LAT - 1; i >= 0 && seconds <= lat_bounds[i]; i--)
        li = i;
    pthread_mutex_lock(&m->mu);
    m->requests[route][si]++;
    m->lat[route][li]++;
    m->lat_sum[route] += seconds;
    m->lat_count[route]++;
    pthread_mutex_unlock(&m->mu);
}

void qr_metrics_batch(qr_metrics *m, int n_inputs, int n_tokens)
{
    if (!m)
        return;
    int bi = N_BATCH;
    for (int i = N_BATCH - 1; i >= 0 && n_inputs <= batch_bounds[i]; i--)
        bi = i;
    pthread_mutex_lock(&m->mu);
    m->batch[bi]++;
    m->batch_count++;
    m->batch_inputs += (unsigned long long)n_inputs;
    m->batch_tokens += (unsigned long long)n_tokens;
    pthread_mutex_unlock(&m->mu);
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static void write_requests(const qr_metrics *m, qr_buf *o)
{
    qr_buf_printf(o, "# HELP quire_http_requests_total HTTP requests by route and status.\n"
                     "# TYPE quire_http_requests_total counter\n");
    for (int r = 0; r < ROUTE_COUNT; r++) {
        for (int s = 0; s < N_STATUS; s++) {
            if (!m->requests[r][s])
                continue;
            char code[8];
            if (status_codes[s])
                snprintf(code, sizeof code, "%d", status_codes[s]);
            else
                snprintf(code, sizeof code, "other");
            qr_buf_printf(o, "quire_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                          qr_srv_route_names[r], code, m->requests[r][s]);
        }
    }
}

static void write_latency(const qr_metrics *m, qr_buf *o)
{
    qr_buf_printf(o, "# HELP quire_http_request_duration_seconds Time from the first byte "
                     "of a request to its response being sent.\n"
                     "# TYPE quire_http_request_duration_seconds histogram\n");
    for (int r = 0; r < ROUTE_COUNT; r++) {
        if (!m->lat_count[r])
            continue;
        unsigned long long cum = 0;
        const char *name = qr_srv_route_names[r];
        for (int i = 0; i < N_LAT; i++) {
            cum += m->lat[r][i];
            qr_buf_printf(o,
                          "quire_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                          "%llu\n",
                          name, lat_bounds[i], cum);
        }
        cum += m->lat[r][N_LAT];
        qr_buf_printf(o,
                      "quire_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                      "%llu\n"
                      "quire_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                      "quire_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                      name, cum, name, m->lat_sum[r], name, m->lat_count[r]);
    }
}

static void write_batches(const qr_metrics *m, qr_buf *o)
{
    qr_buf_printf(o, "# HELP quire_embed_batch_size Inputs per forward pass.\n"
                     "# TYPE quire_embed_batch_size histogram\n");
    unsigned long long cum = 0;
    for (int i = 0; i < N_BATCH; i++) {
        cum += m->batch[i];
        qr_buf_printf(o, "quire_embed_batch_size_bucket{le=\"%d\"} %llu\n", batch_bounds[i],
                      cum);
    }
    cum += m->batch[N_BATCH];
    qr_buf_printf(o,
                  "quire_embed_batch_size_bucket{le=\"+Inf\"} %llu\n"
                  "quire_embed_batch_size_sum %llu\n"
                  "quire_embed_batch_size_count %llu\n"
                  "# HELP quire_embed_tokens_total Tokens run through forward passes.\n"
                  "# TYPE quire_embed_tokens_total counter\n"
                  "quire_embed_tokens_total %llu\n",
                  cum, m->batch_inputs, m->batch_count, m->batch_tokens);
}

void qr_metrics_write(qr_metrics *m, qr_buf *o, long queue_depth, int open_connections,
                      int in_flight)
{
    pthread_mutex_lock(&m->mu);
    write_requests(m, o);
    write_latency(m, o);
    write_batches(m, o);
    pthread_mutex_unlock(&m->mu);
    qr_buf_printf(o,
                  "# HELP quire_embed_queue_depth Inputs waiting for a forward pass.\n"
                  "# TYPE quire_embed_queue_depth gauge\n"
                  "quire_embed_queue_depth %ld\n"
                  "# HELP quire_http_open_connections Open client connections.\n"
                  "# TYPE quire_http_open_connections gauge\n"
                  "quire_http_open_connections %d\n"
                  "# HELP quire_http_requests_in_flight Requests being handled.\n"
                  "# TYPE quire_http_requests_in_flight gauge\n"
                  "quire_http_requests_in_flight %d\n"
                  "# HELP quire_process_resident_memory_bytes Resident set size.\n"
                  "# TYPE quire_process_resident_memory_bytes gauge\n"
                  "quire_process_resident_memory_bytes %ld\n",
                  queue_depth, open_connections, in_flight, rss_bytes());
}
