/*
 * tess_orient.c — turn a page image upright and straight before OCR.
 *
 * 1. Orientation: Tesseract's orientation and script detection (OSD, the "osd" model of
 *    Debian's tesseract-ocr-osd, legacy engine) on the image as rendered. When it says
 *    the text runs at 90, 180 or 270 degrees with a confidence of at least
 *    QR_OSD_MIN_CONF, the image is turned back by that angle (exact quarter turns, no
 *    resampling). Below it — a page with a few words, a figure, a blank page — the page
 *    stays as it is: an upright page must never be made worse by a guess. Tesseract's
 *    LSTM engine reads upside-down text as garbage and sideways text as nothing, so
 *    without this step a sideways scan gives one noise heading.
 * 2. Deskew: Leptonica's pixFindSkew (a sweep of the thresholded image's row-sum
 *    differential over +-7 degrees, then a binary search) measures the skew (reported
 *    when Leptonica's confidence is at least 3), and the image is rotated back by it
 *    when it is QR_DESKEW_MIN_DEG or more (area-mapped, white brought in).
 * Nothing here fails a page: without osd.traineddata (or Leptonica's symbols) the step
 * is skipped and the report says so (osd_conf -1, skew 0).
 */
#include <stdint.h>
#include <string.h>

#include "ocr_int.h"

#include "tess_dl.h"

/* Tesseract's orientation confidence is a log-likelihood margin between the best and
 * second-best orientation (arbitrary units). On the corpus' scanned pages a full page of
 * text gives 15-40 in every orientation; a page with one line of text or none gives 0-3,
 * often wrong. ocrmypdf rotates above 14 by default; 5 keeps short pages (a title page,
 * half a page of text) turnable while staying far above what noise gives. */
#define QR_OSD_MIN_CONF 5.0f

/* Leptonica's own floor for trusting a skew measurement (pixDeskew uses the same). */
#define QR_SKEW_MIN_CONF 3.0f
/* Straighten only from this angle on. Tesseract's line finding copes with small skew
 * itself, and resampling the image costs it more than the skew: on the corpus' scanned
 * pages deskewing the 0.4-0.7 degree pages raised CER (e.g. 0.085 -> 0.095 on a
 * two-column page), while the 1.3 degree pages gained (0.083 -> 0.072, 0.026 -> 0.019). */
#define QR_DESKEW_MIN_DEG 1.0f

/* Turn img back by `rotation` degrees (the text ran `rotation` degrees clockwise: turn
 * it counter-clockwise by as much). Returns the new pixels (qr_malloc) or NULL. */
static unsigned char *turn_back(const qr_image *img, int rotation, int *new_w, int *new_h)
{
    const int w = img->width;
    const int h = img->height;
    const unsigned char *src = img->pixels;
    unsigned char *dst = qr_malloc((size_t)w * (size_t)h);
    enum { TILE = 64 };
    if (!dst)
        return NULL;
    if (rotation == 180) {
        size_t n = (size_t)w * (size_t)h;
        for (size_t i = 0; i < n; i++)
            dst[i] = src[n - 1 - i];
        *new_w = w;
        *new_h = h;
        return dst;
    }
    /* quarter turns: the new image is h wide and w high; tiled for the cache */
    for (int y0 = 0; y0 < w; y0 += TILE) {
        for (int x0 = 0; x0 < h; x0 += TILE) {
            int y1 = y0 + TILE < w ? y0 + TILE : w;
            int x1 = x0 + TILE < h ? x0 + TILE : h;
            for (int y = y0; y < y1; y++) {
                unsigned char *row = dst + (size_t)y * (size_t)h;
                if (rotation == 90) /* counter-clockwise: new(x, y) = old(w-1-y, x) */
                    for (int x = x0; x < x1; x++)
                        row[x] = src[(size_t)x * (size_t)w + (size_t)(w - 1 - y)];
                else /* 270: clockwise: new(x, y) = old(y, h-1-x) */
                    for (int x = x0; x < x1; x++)
                        row[x] = src[(size_t)(h - 1 - x) * (size_t)w + (size_t)y];
            }
        }
    }
    *new_w = h;
    *new_h = w;
    return dst;
}

/* OSD on the image: OUT rotation (0 when unsure or unavailable) and confidence. */
static void detect_orientation(qr_ocr *ocr, const qr_image *img, qr_ocr_orient *out)
{
    struct TessBaseAPI *osd = qr_ocr_osd_api(ocr);
    int deg = 0;
    float conf = 0.0f;
    const char *script = NULL;
    float script_conf = 0.0f;
    if (!osd)
        return;
    TessBaseAPISetImage(osd, img->pixels, img->width, img->height, 1, img->width);
    TessBaseAPISetSourceResolution(osd, img->dpi > 0 ? img->dpi : 300);
    /* false when the page has too few character-like blobs to judge: treated as 0 */
    if (TessBaseAPIDetectOrientationScript(osd, &deg, &conf, &script, &script_conf)) {
        out->osd_conf = conf;
        if (conf >= QR_OSD_MIN_CONF && (deg == 90 || deg == 180 || deg == 270))
            out->rotation = deg;
    } else {
        out->osd_conf = 0.0f;
    }
    TessBaseAPIClear(osd);
}

/* Leptonica 8-bit pixels: four per 32-bit word, the first in the most significant
 * byte, so on a little-endian machine byte x of a row sits at x ^ 3. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LEPT_BYTE(x) (x)
#else
#define LEPT_BYTE(x) ((x) ^ 3)
#endif

/* Measure img's skew; straighten it (same size, white brought in at the corners) when
 * it is QR_DESKEW_MIN_DEG or more: into its own pixels when *owned, else into a new
 * buffer that it then owns. OUT: out->skew (the angle found, 0 when Leptonica is not
 * confident), out->deskewed. */
static void deskew(qr_image *img, int *owned, qr_ocr_orient *out)
{
    const int w = img->width;
    const int h = img->height;
    float angle = 0.0f;
    float conf = 0.0f;
    if (!qr_lept.ok)
        return;
    PIX *pix = qr_lept.pixCreate(w, h, 8);
    if (!pix)
        return;
    l_uint32 *data = qr_lept.pixGetData(pix);
    int wpl = qr_lept.pixGetWpl(pix);
    for (int y = 0; y < h; y++) {
        unsigned char *row = (unsigned char *)(data + (size_t)y * (size_t)wpl);
        const unsigned char *src = img->pixels + (size_t)y * (size_t)w;
        for (int x = 0; x < w; x++)
            row[LEPT_BYTE(x)] = src[x];
    }
    /* as pixFindSkewAndDeskew: threshold at 130, sweep +-7 degrees, binary search */
    PIX *bin = qr_lept.pixConvertTo1(pix, 130);
    if (bin && qr_lept.pixFindSkew(bin, &angle, &conf) == 0 && conf >= QR_SKEW_MIN_CONF)
        out->skew = angle;
    if (bin)
        qr_lept.pixDestroy(&bin);
    PIX *fixed = NULL;
    if (out->skew >= QR_DESKEW_MIN_DEG || out->skew <= -QR_DESKEW_MIN_DEG)
        fixed = qr_lept.pixRotate(pix, out->skew * 3.14159265f / 180.0f, L_ROTATE_AREA_MAP,
                                  L_BRING_IN_WHITE, 0, 0);
    unsigned char *dst = NULL;
    if (fixed && fixed != pix && qr_lept.pixGetWidth(fixed) == w &&
        qr_lept.pixGetHeight(fixed) == h && qr_lept.pixGetDepth(fixed) == 8)
        dst = *owned ? img->pixels : qr_malloc((size_t)w * (size_t)h);
    if (dst) {
        const l_uint32 *fd = qr_lept.pixGetData(fixed);
        int fwpl = qr_lept.pixGetWpl(fixed);
        for (int y = 0; y < h; y++) {
            const unsigned char *row = (const unsigned char *)(fd + (size_t)y * (size_t)fwpl);
            unsigned char *drow = dst + (size_t)y * (size_t)w;
            for (int x = 0; x < w; x++)
                drow[x] = row[LEPT_BYTE(x)];
        }
        img->pixels = dst;
        *owned = 1;
        out->deskewed = 1;
    }
    if (fixed)
        qr_lept.pixDestroy(&fixed);
    qr_lept.pixDestroy(&pix);
}

void qr_ocr_orient_image(qr_ocr *ocr, qr_image *img, int *owned, int osd, qr_ocr_orient *out)
{
    memset(out, 0, sizeof(*out));
    out->osd_conf = -1.0f;
    if (osd)
        detect_orientation(ocr, img, out);
    if (out->rotation) {
        int nw = 0;
        int nh = 0;
        unsigned char *turned = turn_back(img, out->rotation, &nw, &nh);
        if (!turned) {
            out->rotation = 0; /* out of memory: read it as it is */
        } else {
            if (*owned)
                qr_free(img->pixels);
            img->pixels = turned;
            img->width = nw;
            img->height = nh;
            *owned = 1;
        }
    }
    deskew(img, owned, out);
}
