// peers.cpp — hnswlib and FAISS IndexHNSWFlat on the dataset bench_search.c wrote
// (same vectors, queries and exact top-10), for bench/search/run.sh. Same output
// lines as bench_search: BUILD <lib> M= threads= secs= ips= / RES <lib> M= ef= recall= qps=
//
//   build/bench/search_peers DATA [--m M] [--efc E] [--threads "1 2"] [--efs LIST]
//                            [--no-faiss] [--no-hnswlib]
// Built with -O3 -march=native (hnswlib picks its AVX-512 inner product at compile time).
#include <faiss/IndexHNSW.h>
#include <hnswlib/hnswlib.h>
#include <omp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

struct Dataset {
    uint32_t n, nq, d, k;
    std::vector<float> base, queries;
    std::vector<int32_t> gt;
};

static double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

static bool load(const char *path, Dataset &ds)
{
    FILE *f = fopen(path, "rb");
    char magic[8];
    uint32_t hd[4];
    if (!f || fread(magic, 1, 8, f) != 8 || memcmp(magic, "QRBENCH1", 8) || fread(hd, 4, 4, f) != 4)
        return false;
    ds.n = hd[0], ds.nq = hd[1], ds.d = hd[2], ds.k = hd[3];
    ds.base.resize((size_t)ds.n * ds.d);
    ds.queries.resize((size_t)ds.nq * ds.d);
    ds.gt.resize((size_t)ds.nq * ds.k);
    bool ok = fread(ds.base.data(), 4, ds.base.size(), f) == ds.base.size() &&
              fread(ds.queries.data(), 4, ds.queries.size(), f) == ds.queries.size() &&
              fread(ds.gt.data(), 4, ds.gt.size(), f) == ds.gt.size();
    fclose(f);
    return ok;
}

static double recall_of(const Dataset &ds, const std::vector<int64_t> &res)
{
    long hit = 0;
    for (uint32_t q = 0; q < ds.nq; q++)
        for (uint32_t i = 0; i < ds.k; i++) {
            int64_t l = res[(size_t)q * ds.k + i];
            for (uint32_t j = 0; j < ds.k; j++)
                if (l == ds.gt[(size_t)q * ds.k + j]) {
                    hit++;
                    break;
                }
        }
    return (double)hit / ((double)ds.nq * ds.k);
}

static std::vector<int> parse_list(const char *s)
{
    std::vector<int> v;
    while (*s) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s)
            break;
        v.push_back((int)x);
        s = end;
        while (*s == ',' || *s == ' ')
            s++;
    }
    return v;
}

static void run_hnswlib(const Dataset &ds, int m, int efc, const std::vector<int> &threads,
                        const std::vector<int> &efs)
{
    for (int nth : threads) {
        hnswlib::InnerProductSpace space(ds.d);
        auto *idx = new hnswlib::HierarchicalNSW<float>(&space, ds.n, m, efc, 100);
        double t0 = now();
        if (nth <= 1) {
            for (uint32_t i = 0; i < ds.n; i++)
                idx->addPoint(ds.base.data() + (size_t)i * ds.d, i);
        } else {
            std::atomic<uint32_t> next{0};
            std::vector<std::thread> ts;
            for (int t = 0; t < nth; t++)
                ts.emplace_back([&] {
                    for (;;) {
                        uint32_t i = next++;
                        if (i >= ds.n)
                            break;
                        idx->addPoint(ds.base.data() + (size_t)i * ds.d, i);
                    }
                });
            for (auto &t : ts)
                t.join();
        }
        double dt = now() - t0;
        printf("BUILD hnswlib M=%d threads=%d secs=%.2f ips=%.0f\n", m, nth, dt, ds.n / dt);
        fflush(stdout);
        if (nth == 1) {
            std::vector<int64_t> res((size_t)ds.nq * ds.k, -1);
            for (int ef : efs) {
                idx->setEf(ef);
                double best = 1e30;
                for (int rep = 0; rep < 3; rep++) {
                    double q0 = now();
                    for (uint32_t q = 0; q < ds.nq; q++) {
                        auto pq = idx->searchKnn(ds.queries.data() + (size_t)q * ds.d, ds.k);
                        size_t i = pq.size();
                        while (!pq.empty()) {
                            res[(size_t)q * ds.k + --i] = (int64_t)pq.top().second;
                            pq.pop();
                        }
                    }
                    best = std::min(best, now() - q0);
                }
                printf("RES hnswlib M=%d ef=%d recall=%.4f qps=%.0f\n", m, ef, recall_of(ds, res),
                       ds.nq / best);
                fflush(stdout);
            }
        }
        delete idx;
    }
}

// Debian's FAISS 1.7.3 inserts at ~700/s on one thread here (146 s for 100k), so the
// build uses 2 OpenMP threads to keep the whole bench under 5 minutes; search is 1 thread.
static void run_faiss(const Dataset &ds, int m, int efc, const std::vector<int> &efs)
{
    omp_set_num_threads(2);
    faiss::IndexHNSWFlat idx(ds.d, m, faiss::METRIC_INNER_PRODUCT);
    idx.hnsw.efConstruction = efc;
    double t0 = now();
    idx.add(ds.n, ds.base.data());
    double dt = now() - t0;
    printf("BUILD faiss M=%d threads=2 secs=%.2f ips=%.0f\n", m, dt, ds.n / dt);
    omp_set_num_threads(1);
    fflush(stdout);
    std::vector<int64_t> res((size_t)ds.nq * ds.k);
    std::vector<float> dist(ds.k);
    for (int ef : efs) {
        idx.hnsw.efSearch = ef; // 1.7.3 ignores SearchParametersHNSW here
        double best = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double q0 = now();
            for (uint32_t q = 0; q < ds.nq; q++)
                idx.search(1, ds.queries.data() + (size_t)q * ds.d, ds.k, dist.data(),
                           res.data() + (size_t)q * ds.k);
            best = std::min(best, now() - q0);
        }
        printf("RES faiss M=%d ef=%d recall=%.4f qps=%.0f\n", m, ef, recall_of(ds, res),
               ds.nq / best);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: search_peers DATA [options]\n");
        return 2;
    }
    int m = 16, efc = 200;
    bool faiss_on = true, hnswlib_on = true;
    const char *threads = "1 2", *efs = "16,24,32,48,64,96,128,192,256";
    for (int i = 2; i < argc; i++) {
        std::string a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (a == "--m")
            m = atoi(v), i++;
        else if (a == "--efc")
            efc = atoi(v), i++;
        else if (a == "--threads")
            threads = v, i++;
        else if (a == "--efs")
            efs = v, i++;
        else if (a == "--no-faiss")
            faiss_on = false;
        else if (a == "--no-hnswlib")
            hnswlib_on = false;
    }
    Dataset ds;
    if (!load(argv[1], ds)) {
        fprintf(stderr, "%s: not a bench dataset\n", argv[1]);
        return 1;
    }
    if (hnswlib_on)
        run_hnswlib(ds, m, efc, parse_list(threads), parse_list(efs));
    if (faiss_on)
        run_faiss(ds, m, efc, parse_list(efs));
    return 0;
}
