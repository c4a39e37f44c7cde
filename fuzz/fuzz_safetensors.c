/*
 * fuzz_safetensors.c — the safetensors reader (src/embed/safetensors.c) on arbitrary
 * bytes: qr_st_open validates the header; every tensor it accepts must be readable
 * in full through qr_st_to_f32 (ASan checks the data ranges).
 */
#include "fuzz_common.h"

#include "embed/embed_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[PATH_MAX];
    if (!path[0]) {
        fz_quiet();
        fz_path(path, sizeof path, "model.safetensors");
    }
    fz_write(path, data, size);
    qr_st_file st;
    quire_error err = {0, ""};
    if (qr_st_open(path, &st, &err) != QUIRE_OK)
        return 0;
    float buf[256];
    for (size_t i = 0; i < st.n_tensors; i++) {
        const qr_st_tensor *t = &st.tensors[i];
        if (qr_st_find(&st, t->name) == NULL)
            abort(); /* every parsed tensor can be found by its own name */
        if (t->dtype == QR_DT_OTHER)
            continue;
        size_t esize = t->dtype == QR_DT_F32 ? 4 : 2;
        size_t n = t->n_bytes / esize;
        for (size_t off = 0; off < n; off += 256)
            qr_st_to_f32(t, off, QR_MIN(n - off, (size_t)256), buf);
    }
    qr_st_close(&st);
    return 0;
}
