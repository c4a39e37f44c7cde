/* overhead.c — the C side of bench/python: quire_embed of one text (batch 1), N times on
 * one thread; prints the median and the mean microseconds per call. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <quire.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: overhead MODEL_DIR TEXT N\n");
        return 2;
    }
    quire_error err = {0};
    quire_model *m = NULL;
    quire_embedder *e = NULL;
    int n = atoi(argv[3]);
    if (quire_init(QUIRE_VERSION_NUMBER, &err) || quire_model_open(argv[1], NULL, &m, &err) ||
        quire_embedder_new(m, NULL, &e, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    float *v = malloc((size_t)quire_model_dims(m) * sizeof(float));
    double *t = malloc((size_t)n * sizeof(double));
    const char *texts[1] = {argv[2]};
    int32_t ntok = 0;
    for (int i = 0; i < 20; i++)
        quire_embed(e, texts, NULL, 1, v, &ntok, &err);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        quire_embed(e, texts, NULL, 1, v, &ntok, &err);
        t[i] = now_us() - t0;
        sum += t[i];
    }
    qsort(t, (size_t)n, sizeof(double), cmp);
    printf("%.2f %.2f %d\n", t[n / 2], sum / n, ntok);
    free(t);
    free(v);
    quire_embedder_free(e);
    quire_model_close(m);
    return 0;
}
