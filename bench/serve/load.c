/*
 * load.c — a small closed-loop HTTP load generator for `quire serve` (bench/serve/run.sh).
 * N keep-alive HTTP/1.1 connections over raw sockets, each sending POST /v1/embeddings
 * with one short text back to back, for a duration or until a total request count.
 * Prints one line: conns, requests, errors, req/s, P50/P95/P99 latency in ms.
 *
 *   serve_load --port P [--host 127.0.0.1] [--conns N] [--seconds S] [--requests N]
 *              [--model NAME] [--key KEY]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *texts[] = {
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Embeddings map sentences to vectors.",
    "A lighthouse keeper trimmed the wick at night.",
    "good morning, how are you today?",
    "Fresnel lenses bend light into a narrow beam.",
    "Local inference keeps documents on the machine.",
    "What is the capital of France?",
    "Dynamic batching merges concurrent requests.",
    "The store answers hybrid search with citations.",
    "Rain is expected tomorrow afternoon.",
    "She sells sea shells by the sea shore.",
    "Search engines rank documents by relevance.",
    "A short text of at most thirty two tokens.",
    "Coffee tastes better in the morning.",
    "The train leaves the station at noon.",
};
#define N_TEXTS (sizeof texts / sizeof texts[0])

static const char *host = "127.0.0.1", *model = "minilm", *key = NULL;
static int port, n_conns = 1;
static double seconds = 10;
static long max_requests = 0;
static atomic_long issued, errors;
static double t_end;

typedef struct worker {
    pthread_t th;
    int id;
    double *lat; /* ms */
    long n, cap;
} worker;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int connect_to(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, host, &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read one response; returns the status code or -1. */
static int read_response(int fd, char *buf, size_t cap)
{
    size_t have = 0;
    char *hdr_end = NULL;
    while (!hdr_end) {
        if (have + 1 >= cap)
            return -1;
        ssize_t r = recv(fd, buf + have, cap - 1 - have, 0);
        if (r <= 0)
            return -1;
        have += (size_t)r;
        buf[have] = '\0';
        hdr_end = strstr(buf, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    const char *cl = strstr(buf, "\r\nContent-Length:");
    if (!cl || cl > hdr_end)
        return -1;
    size_t body = strtoul(cl + 17, NULL, 10);
    size_t need = (size_t)(hdr_end + 4 - buf) + body;
    while (have < need) {
        char tmp[65536];
        size_t want = need - have < sizeof tmp ? need - have : sizeof tmp;
        ssize_t r = recv(fd, tmp, want, 0);
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    return status;
}

static void *run(void *arg)
{
    worker *w = arg;
    char req[1024], body[512], buf[65536];
    int fd = connect_to();
    for (long k = 0;; k++) {
        if (now() >= t_end)
            break;
        if (max_requests && atomic_fetch_add(&issued, 1) >= max_requests)
            break;
        if (fd < 0 && (fd = connect_to()) < 0) {
            atomic_fetch_add(&errors, 1);
            usleep(1000);
            continue;
        }
        int bl = snprintf(body, sizeof body, "{\"model\":\"%s\",\"input\":\"%s\"}", model,
                          texts[(size_t)(w->id * 7 + k) % N_TEXTS]);
        char auth[300] = "";
        if (key)
            snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", key);
        int rl = snprintf(req, sizeof req,
                          "POST /v1/embeddings HTTP/1.1\r\nHost: %s\r\n%s"
                          "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                          host, auth, bl, body);
        double t0 = now();
        int st = send_all(fd, req, (size_t)rl) == 0 ? read_response(fd, buf, sizeof buf) : -1;
        double ms = (now() - t0) * 1e3;
        if (st != 200) {
            atomic_fetch_add(&errors, 1);
            close(fd);
            fd = -1;
            continue;
        }
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            w->lat = realloc(w->lat, (size_t)w->cap * sizeof(double));
            if (!w->lat)
                break;
        }
        w->lat[w->n++] = ms;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (!strcmp(o, "--port"))
            port = (int)strtol(v, NULL, 10);
        else if (!strcmp(o, "--host"))
            host = v;
        else if (!strcmp(o, "--conns"))
            n_conns = (int)strtol(v, NULL, 10);
        else if (!strcmp(o, "--seconds"))
            seconds = strtod(v, NULL);
        else if (!strcmp(o, "--requests"))
            max_requests = strtol(v, NULL, 10);
        else if (!strcmp(o, "--model"))
            model = v;
        else if (!strcmp(o, "--key"))
            key = v;
        else {
            fprintf(stderr, "serve_load: unknown option %s\n", o);
            return 2;
        }
    }
    if (port <= 0 || n_conns < 1) {
        fprintf(stderr, "usage: serve_load --port P [--conns N] [--seconds S] [--requests N]\n");
        return 2;
    }
    worker *w = calloc((size_t)n_conns, sizeof *w);
    double t0 = now();
    t_end = t0 + (max_requests ? 1e9 : seconds);
    for (int i = 0; i < n_conns; i++) {
        w[i].id = i;
        pthread_create(&w[i].th, NULL, run, &w[i]);
    }
    long total = 0;
    for (int i = 0; i < n_conns; i++) {
        pthread_join(w[i].th, NULL);
        total += w[i].n;
    }
    double dt = now() - t0;
    double *all = malloc((size_t)(total ? total : 1) * sizeof(double));
    long k = 0;
    for (int i = 0; i < n_conns; i++) {
        memcpy(all + k, w[i].lat, (size_t)w[i].n * sizeof(double));
        k += w[i].n;
        free(w[i].lat);
    }
    qsort(all, (size_t)total, sizeof(double), cmp);
#define PCT(p) (total ? all[(long)((p) * (double)(total - 1))] : 0.0)
    printf("conns %d requests %ld errors %ld seconds %.2f rps %.1f p50_ms %.2f p95_ms %.2f "
           "p99_ms %.2f\n",
           n_conns, total, atomic_load(&errors), dt, total / dt, PCT(0.50), PCT(0.95),
           PCT(0.99));
    free(all);
    free(w);
    return 0;
}
