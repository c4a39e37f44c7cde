/*
 * packcache.c — the packed-weight cache of bf16 / int8 models (docs/precision.md).
 *
 * Converting a model's linear layers to bf16 or int8 (rounding, quantization, the VNNI
 * panel layout) costs more than the fp32 load it replaces, so the converted blocks are
 * written once to a file and mapped from it on later opens: a cold start then reads no
 * fp32 weight of the linear layers at all.
 *
 * Where: $QUIRE_CACHE_DIR (the value "off" disables the cache), else
 * $XDG_CACHE_HOME/quire, else $HOME/.cache/quire; the file is
 * packed-<32 hex of sha256(realpath of model.safetensors)>-<precision>.bin.
 *
 * File: a 4096-byte-aligned header, then one 4096-aligned block per linear layer
 * (layer l, slot s: qkv, out, ffn_in, ffn_out; index 4l + s), each exactly what
 * qr_linear_init allocates (weights, then int8 scales and column sums).
 *   header: magic "QRPACK\r\n", format version, precision, QR_PANEL, QR_LP_KALIGN,
 *           the key (sha256 over the format, the precision, the model file's size,
 *           mtime, inode and device and its safetensors header), the number of layers,
 *           the payload's offset, length and checksum, then per layer n, k, offset.
 * A file is used only if everything matches and the checksum (four 64-bit Fletcher
 * lanes over the payload) is right; otherwise the model is converted as without a
 * cache and the file rewritten (a new file, renamed over the old one, so a process
 * still mapping the old one is not disturbed). Failures to write are silent: the
 * cache is an optimisation, never a reason for an open to fail.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embed_int.h"

#define PC_MAGIC "QRPACK\r\n"
#define PC_VERSION 1u
#define PC_ALIGN 4096u
#define PC_SLOTS 4 /* linear layers per encoder layer */

typedef struct pc_entry {
    int32_t n, k;
    uint64_t off; /* from the start of the file */
} pc_entry;

typedef struct pc_header {
    char magic[8];
    uint32_t version, precision, panel, kalign;
    unsigned char key[32];
    uint32_t n_lin, reserved;
    uint64_t payload_off, payload_len, checksum;
    /* then n_lin pc_entry */
} pc_header;

struct qr_pcache {
    int state; /* QR_PC_* */
    char path[4096];
    unsigned char key[32];
    void *map;
    size_t map_len;
    const pc_entry *entries;
    uint32_t n_lin;
};

/* ---- checksum ----------------------------------------------------------------------- */

typedef struct pc_sum {
    uint64_t a[4], b[4];
} pc_sum;

/* n must be a multiple of 32 (every block is) */
static void pc_sum_update(pc_sum *s, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i + 32 <= n; i += 32) {
        for (int l = 0; l < 4; l++) {
            uint64_t w;
            memcpy(&w, p + i + 8 * (size_t)l, 8);
            s->a[l] += w;
            s->b[l] += s->a[l];
        }
    }
}

static uint64_t pc_sum_final(const pc_sum *s)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int l = 0; l < 4; l++) {
        h = (h ^ s->a[l]) * 0x100000001b3ull;
        h = (h ^ s->b[l]) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h;
}

/* ---- where ------------------------------------------------------------------------ */

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* The cache folder into dir (created); -1 if the cache is off or has no place. */
static int cache_dir(char *dir, size_t cap)
{
    const char *env = getenv("QUIRE_CACHE_DIR");
    int n;
    if (env && *env) {
        if (strcmp(env, "off") == 0)
            return -1;
        n = snprintf(dir, cap, "%s", env);
    } else if ((env = getenv("XDG_CACHE_HOME")) && *env == '/') {
        n = snprintf(dir, cap, "%s/quire", env);
    } else if ((env = getenv("HOME")) && *env) {
        n = snprintf(dir, cap, "%s/.cache/quire", env);
    } else {
        return -1;
    }
    if (n <= 0 || (size_t)n >= cap)
        return -1;
    return mkdirs(dir);
}

static size_t align_up(size_t n) { return (n + PC_ALIGN - 1) / PC_ALIGN * PC_ALIGN; }

/* The shapes of the linear layers, in cache order. */
static void lin_shape(const quire_model *m, uint32_t idx, int *n, int *k)
{
    int H = m->hidden, I = m->inter;
    switch (idx % PC_SLOTS) {
    case 0:
        *n = 3 * H, *k = H;
        break;
    case 1:
        *n = H, *k = H;
        break;
    case 2:
        *n = m->arch == QR_ARCH_NOMIC ? 2 * I : I, *k = H;
        break;
    default:
        *n = H, *k = I;
        break;
    }
}

static qr_linear *lin_of(quire_model *m, uint32_t idx)
{
    qr_layer *L = &m->layers[idx / PC_SLOTS];
    switch (idx % PC_SLOTS) {
    case 0:
        return &L->qkv;
    case 1:
        return &L->out;
    case 2:
        return &L->ffn_in;
    default:
        return &L->ffn_out;
    }
}

static size_t lin_bytes(const quire_model *m, uint32_t idx)
{
    int n, k;
    lin_shape(m, idx, &n, &k);
    qr_linear L;
    qr_linear_view(&L, m->precision, n, k, NULL);
    return qr_linear_bytes(&L);
}

/* ---- open ------------------------------------------------------------------------- */

#if defined(__APPLE__)
#define ST_MTIME_NS(st) ((st)->st_mtimespec.tv_nsec)
#define ST_MTIME_S(st) ((st)->st_mtimespec.tv_sec)
#else
#define ST_MTIME_NS(st) ((st)->st_mtim.tv_nsec)
#define ST_MTIME_S(st) ((st)->st_mtim.tv_sec)
#endif

static void make_key(const quire_model *m, const struct stat *st, unsigned char key[32])
{
    qr_sha256 s;
    qr_sha256_init(&s);
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "quire packed v%u prec=%d panel=%d kalign=%d size=%lld mtime=%lld.%09ld "
                     "ino=%llu dev=%llu arch=%d h=%d i=%d l=%d",
                     PC_VERSION, m->precision, QR_PANEL, QR_LP_KALIGN, (long long)st->st_size,
                     (long long)ST_MTIME_S(st), (long)ST_MTIME_NS(st),
                     (unsigned long long)st->st_ino, (unsigned long long)st->st_dev, m->arch,
                     m->hidden, m->inter, m->n_layers);
    qr_sha256_update(&s, buf, (size_t)n);
    if (m->st.map && m->st.map_len >= 8) { /* safetensors: 8-byte length + JSON header */
        const unsigned char *b = m->st.map;
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--)
            hl = hl << 8 | b[i];
        if (hl <= m->st.map_len - 8)
            qr_sha256_update(&s, b, (size_t)(8 + hl));
    }
    qr_sha256_final(&s, key);
}

/* Map the file and check it; 0 if it is usable. */
static int try_map(quire_model *m, qr_pcache *pc)
{
    int fd = open(pc->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(pc_header)) {
        close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
    flags |= MAP_POPULATE; /* one call instead of a fault per page (see model.c) */
#endif
    void *map = mmap(NULL, len, PROT_READ, flags, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return -1;
    const pc_header *h = map;
    uint32_t want = (uint32_t)m->n_layers * PC_SLOTS;
    int ok = memcmp(h->magic, PC_MAGIC, 8) == 0 && h->version == PC_VERSION &&
             h->precision == (uint32_t)m->precision && h->panel == QR_PANEL &&
             h->kalign == QR_LP_KALIGN && memcmp(h->key, pc->key, 32) == 0 &&
             h->n_lin == want &&
             sizeof(pc_header) + (size_t)want * sizeof(pc_entry) <= h->payload_off &&
             h->payload_off % PC_ALIGN == 0 && h->payload_off <= len &&
             h->payload_len <= len - h->payload_off && h->payload_len % 32 == 0;
    const pc_entry *e = (const pc_entry *)(const void *)(h + 1);
    for (uint32_t i = 0; ok && i < want; i++) {
        int n, k;
        lin_shape(m, i, &n, &k);
        size_t b = lin_bytes(m, i);
        ok = e[i].n == n && e[i].k == k && e[i].off % PC_ALIGN == 0 &&
             e[i].off >= h->payload_off && e[i].off - h->payload_off <= h->payload_len &&
             b <= h->payload_off + h->payload_len - e[i].off;
    }
    if (ok) {
        pc_sum s;
        memset(&s, 0, sizeof s);
        pc_sum_update(&s, (const unsigned char *)map + h->payload_off, h->payload_len);
        ok = pc_sum_final(&s) == h->checksum;
    }
    if (!ok) {
        munmap(map, len);
        return -1;
    }
    pc->map = map;
    pc->map_len = len;
    pc->entries = e;
    pc->n_lin = want;
    return 0;
}

void qr_pcache_open(quire_model *m)
{
    m->pcache = NULL;
    if (m->precision == QR_PREC_FP32 || !m->st.path)
        return;
    qr_pcache *pc = qr_calloc(1, sizeof(*pc));
    if (!pc)
        return;
    m->pcache = pc;
    pc->state = QR_PC_OFF;
    char dir[3072], real[4096];
    struct stat st;
    if (cache_dir(dir, sizeof dir) != 0 || !realpath(m->st.path, real) || stat(real, &st) != 0)
        return;
    char name[65];
    qr_sha256_hex(real, strlen(real), name);
    name[32] = '\0';
    int n = snprintf(pc->path, sizeof pc->path, "%s/packed-%s-%s.bin", dir, name,
                     qr_prec_name(m->precision));
    if (n <= 0 || (size_t)n >= sizeof pc->path)
        return;
    make_key(m, &st, pc->key);
    pc->state = try_map(m, pc) == 0 ? QR_PC_HIT : QR_PC_MISS;
}

int qr_pcache_view(quire_model *m, int layer, int slot, qr_linear *L, int n, int k)
{
    qr_pcache *pc = m->pcache;
    if (!pc || pc->state != QR_PC_HIT)
        return 0;
    uint32_t idx = (uint32_t)layer * PC_SLOTS + (uint32_t)slot;
    if (idx >= pc->n_lin || pc->entries[idx].n != n || pc->entries[idx].k != k)
        return 0;
    qr_linear_view(L, m->precision, n, k, (char *)pc->map + pc->entries[idx].off);
    return 1;
}

/* ---- write ------------------------------------------------------------------------ */

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

void qr_pcache_store(quire_model *m)
{
    qr_pcache *pc = m->pcache;
    if (!pc || pc->state != QR_PC_MISS)
        return;
    pc->state = QR_PC_UNWRITTEN;
    uint32_t n_lin = (uint32_t)m->n_layers * PC_SLOTS;
    size_t hbytes = align_up(sizeof(pc_header) + n_lin * sizeof(pc_entry));
    unsigned char *head = qr_calloc(1, hbytes);
    static const unsigned char zeros[PC_ALIGN];
    if (!head)
        return;
    pc_header *h = (pc_header *)(void *)head;
    pc_entry *e = (pc_entry *)(void *)(h + 1);
    memcpy(h->magic, PC_MAGIC, 8);
    h->version = PC_VERSION;
    h->precision = (uint32_t)m->precision;
    h->panel = QR_PANEL;
    h->kalign = QR_LP_KALIGN;
    memcpy(h->key, pc->key, 32);
    h->n_lin = n_lin;
    h->payload_off = hbytes;
    pc_sum s;
    memset(&s, 0, sizeof s);
    uint64_t off = hbytes;
    for (uint32_t i = 0; i < n_lin; i++) {
        const qr_linear *L = lin_of(m, i);
        size_t b = qr_linear_bytes(L);
        e[i].n = L->n;
        e[i].k = L->k;
        e[i].off = off;
        pc_sum_update(&s, L->lp, b);
        pc_sum_update(&s, zeros, align_up(b) - b);
        off += align_up(b);
    }
    h->payload_len = off - hbytes;
    h->checksum = pc_sum_final(&s);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", pc->path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write_all(fd, head, hbytes) == 0;
    for (uint32_t i = 0; ok && i < n_lin; i++) {
        const qr_linear *L = lin_of(m, i);
        size_t b = qr_linear_bytes(L);
        ok = write_all(fd, L->lp, b) == 0 && write_all(fd, zeros, align_up(b) - b) == 0;
    }
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (ok && rename(tmp, pc->path) == 0)
        pc->state = QR_PC_WRITTEN;
    else if (fd >= 0)
        unlink(tmp);
    qr_free(head);
}

void qr_pcache_close(quire_model *m)
{
    qr_pcache *pc = m->pcache;
    if (!pc)
        return;
    if (pc->map)
        munmap(pc->map, pc->map_len);
    qr_free(pc);
    m->pcache = NULL;
}

const char *qr_pcache_state(const quire_model *m)
{
    const qr_pcache *pc = m ? m->pcache : NULL;
    if (!pc)
        return "none";
    switch (pc->state) {
    case QR_PC_HIT:
        return "hit";
    case QR_PC_MISS:
        return "miss";
    case QR_PC_WRITTEN:
        return "written";
    case QR_PC_UNWRITTEN:
        return "unwritten";
    default:
        return "off";
    }
}

const char *qr_pcache_path(const quire_model *m)
{
    const qr_pcache *pc = m ? m->pcache : NULL;
    return pc ? pc->path : "";
}
