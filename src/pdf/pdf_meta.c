/*
 * pdf_meta.c — the document's own metadata: the Info dictionary (Title, Author, Subject,
 * Keywords, Creator, Producer, CreationDate, ModDate), the catalog's /Lang, and the XMP
 * packet (dc:title, dc:creator, dc:description, pdf:Keywords, xmp:CreatorTool,
 * pdf:Producer, xmp:CreateDate, xmp:ModifyDate, dc:language) for what the Info
 * dictionary leaves out. Dates become ISO 8601 (UTC "Z" when the zone is known); a date
 * that does not parse is left out rather than stored as text that sorts wrongly.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pdf/pdf_int.h"

/* Trimmed copy of s[0..n) into out (cap bytes), inner whitespace runs folded to one
 * space. Returns the length. */
static size_t fold_ws(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    int sp = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0) {
            sp = o > 0;
            continue;
        }
        if (sp && o + 2 < cap)
            out[o++] = ' ';
        sp = 0;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return o;
}

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

/* PDF "D:YYYYMMDDHHmmSSOHH'mm'" or XMP "YYYY-MM-DDTHH:MM:SS+HH:MM" (parts optional from
 * the month on) to ISO 8601 in out[40]; 0 when it does not parse. */
static int iso_date(const char *in, char out[40])
{
    char d[64];
    size_t n = 0;
    const char *p = in;
    while (*p == ' ')
        p++;
    if (p[0] == 'D' && p[1] == ':')
        p += 2;
    /* Y2K bug of old producers: the year written as "19" + (year - 1900), e.g.
     * "D:191120820152031" for 2012-08-20 (poppler reads these the same way) */
    char y2k[64];
    size_t run = strspn(p, "0123456789");
    if (run == 15 && p[0] == '1' && p[1] == '9' && p[2] == '1' && strlen(p) < sizeof y2k) {
        int yy = 1900 + (p[2] - '0') * 100 + (p[3] - '0') * 10 + (p[4] - '0');
        if (snprintf(y2k, sizeof y2k, "%04d%s", yy, p + 5) >= (int)sizeof y2k)
            return 0;
        p = y2k;
    }
    /* keep digits of the date-time part; stop at the zone */
    const char *zone = NULL;
    for (; *p && n < 14; p++) {
        if (isdigit((unsigned char)*p))
            d[n++] = *p;
        else if (*p == 'Z' || *p == '+' || (*p == '-' && n >= 8)) {
            zone = p;
            break;
        } else if (*p != '-' && *p != ':' && *p != 'T' && *p != ' ')
            return 0;
    }
    if (!zone && (*p == 'Z' || *p == '+' || *p == '-'))
        zone = p;
    if (n < 4 || n % 2)
        return 0;
    int Y, M = 1, D = 1, h = 0, m = 0, s = 0;
    digits(d, 4, &Y);
    if ((n >= 6 && !digits(d + 4, 2, &M)) || (n >= 8 && !digits(d + 6, 2, &D)) ||
        (n >= 10 && !digits(d + 8, 2, &h)) || (n >= 12 && !digits(d + 10, 2, &m)) ||
        (n >= 14 && !digits(d + 12, 2, &s)))
        return 0;
    if (Y < 1000 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60)
        return 0;
    if (n < 10) { /* a date alone */
        if (n == 4)
            { if (snprintf(out, 40, "%04d", Y) >= 40) return 0; }
        else if (n == 6)
            { if (snprintf(out, 40, "%04d-%02d", Y, M) >= 40) return 0; }
        else
            { if (snprintf(out, 40, "%04d-%02d-%02d", Y, M, D) >= 40) return 0; }
        return 1;
    }
    if (!zone || !*zone) {
        if (snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d", Y, M, D, h, m, s) >= 40) return 0;
        return 1;
    }
    int off = 0;
    if (*zone == '+' || *zone == '-') {
        int zh = 0, zm = 0;
        const char *z = zone + 1;
        if (!digits(z, 2, &zh))
            return 0;
        z += 2;
        while (*z == '\'' || *z == ':')
            z++;
        if (isdigit((unsigned char)z[0]) && !digits(z, 2, &zm))
            return 0;
        off = (zh * 60 + zm) * 60 * (*zone == '-' ? -1 : 1);
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = s;
    time_t t = timegm(&tm) - off;
    struct tm u;
    if (!gmtime_r(&t, &u))
        return 0;
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &u);
    return 1;
}

static void put(json_t *o, const char *key, const char *val)
{
    char buf[2048];
    if (!val || json_object_get(o, key))
        return;
    size_t n = fold_ws(val, strlen(val), buf, sizeof buf);
    if (n == 0)
        return;
    json_t *s = json_stringn(buf, n); /* NULL for text that is not UTF-8: left out */
    if (s)
        json_object_set_new(o, key, s);
}

static void put_date(json_t *o, const char *key, const char *val)
{
    char iso[40];
    if (val && !json_object_get(o, key) && iso_date(val, iso))
        json_object_set_new(o, key, json_string(iso));
}

/* ---- XMP (a small reader for the properties above; no XML library) ---------------- */

/* Decodes the five XML entities and &#N; / &#xN; in place. */
static void xml_unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p;) {
        if (*p == '&') {
            static const char *const ent[][2] = {
                {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}};
            int done = 0;
            for (int i = 0; i < 5 && !done; i++) {
                size_t l = strlen(ent[i][0]);
                if (strncmp(p, ent[i][0], l) == 0) {
                    *o++ = ent[i][1][0];
                    p += l;
                    done = 1;
                }
            }
            if (!done && p[1] == '#') {
                char *end = NULL;
                long cp = p[2] == 'x' ? strtol(p + 3, &end, 16) : strtol(p + 2, &end, 10);
                if (end && *end == ';' && cp > 0 && cp < 0x110000) {
                    if (cp < 0x80) {
                        *o++ = (char)cp;
                    } else if (cp < 0x800) {
                        *o++ = (char)(0xc0 | (cp >> 6));
                        *o++ = (char)(0x80 | (cp & 0x3f));
                    } else if (cp < 0x10000) {
                        *o++ = (char)(0xe0 | (cp >> 12));
                        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                        *o++ = (char)(0x80 | (cp & 0x3f));
                    } else {
                        *o++ = (char)(0xf0 | (cp >> 18));
                        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
                        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                        *o++ = (char)(0x80 | (cp & 0x3f));
                    }
                    p = end + 1;
                    done = 1;
                }
            }
            if (done)
                continue;
        }
        *o++ = *p++;
    }
    *o = 0;
}

/* The value of property `tag` (e.g. "dc:title") in the packet x: the element's text, or
 * the rdf:li items joined by "; " (for rdf:Alt the x-default or first one), or the
 * attribute form tag="...". out[cap]; 0 when absent. */
static int xmp_get(const char *x, const char *tag, char *out, size_t cap)
{
    char open[64], close[64], attr[64];
    snprintf(open, sizeof open, "<%s", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    snprintf(attr, sizeof attr, "%s=\"", tag);
    out[0] = 0;
    const char *p = strstr(x, open);
    while (p && p[strlen(open)] != '>' && p[strlen(open)] != ' ' && p[strlen(open)] != '\n' &&
           p[strlen(open)] != '\r' && p[strlen(open)] != '\t')
        p = strstr(p + 1, open);
    if (!p) {
        const char *a = strstr(x, attr);
        if (!a || (a > x && !isspace((unsigned char)a[-1])))
            return 0;
        a += strlen(attr);
        const char *e = strchr(a, '"');
        if (!e || (size_t)(e - a) >= cap)
            return 0;
        memcpy(out, a, (size_t)(e - a));
        out[e - a] = 0;
        xml_unescape(out);
        return out[0] != 0;
    }
    const char *body = strchr(p, '>');
    const char *end = body ? strstr(body, close) : NULL;
    if (!body || !end || body[-1] == '/')
        return 0;
    body++;
    int alt = 0;
    const char *li = strstr(body, "<rdf:li");
    if (li && li < end) {
        const char *a = strstr(body, "<rdf:Alt");
        alt = a && a < end;
        size_t o = 0;
        for (; li && li < end; li = strstr(li + 1, "<rdf:li")) {
            const char *b = strchr(li, '>');
            const char *e = b ? strstr(b, "</rdf:li>") : NULL;
            if (!b || !e || e > end || b[-1] == '/')
                continue;
            b++;
            int is_default = alt && strstr(li, "x-default") && strstr(li, "x-default") < b;
            if (alt && o > 0 && !is_default)
                continue;
            if (alt && is_default)
                o = 0;
            if (o > 0 && o + 2 < cap) {
                out[o++] = ';';
                out[o++] = ' ';
            }
            size_t l = (size_t)(e - b);
            if (o + l >= cap)
                l = cap - o - 1;
            memcpy(out + o, b, l);
            o += l;
            out[o] = 0;
            if (alt && is_default)
                break;
        }
    } else {
        size_t l = (size_t)(end - body);
        if (l >= cap)
            l = cap - 1;
        memcpy(out, body, l);
        out[l] = 0;
        if (strchr(out, '<')) /* nested markup we do not read */
            return 0;
    }
    xml_unescape(out);
    return out[0] != 0;
}

static void from_xmp(json_t *o, const char *x)
{
    static const char *const map[][2] = {
        {"dc:title", "pdf.title"},         {"dc:creator", "pdf.author"},
        {"dc:description", "pdf.subject"}, {"pdf:Keywords", "pdf.keywords"},
        {"xmp:CreatorTool", "pdf.creator"}, {"pdf:Producer", "pdf.producer"},
        {"dc:language", "pdf.language"}};
    char v[2048];
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (xmp_get(x, map[i][0], v, sizeof v))
            put(o, map[i][1], v);
    if (xmp_get(x, "xmp:CreateDate", v, sizeof v))
        put_date(o, "pdf.created", v);
    if (xmp_get(x, "xmp:ModifyDate", v, sizeof v))
        put_date(o, "pdf.modified", v);
}

quire_status qr_pdf_metadata(qr_pdf *pdf, char **out, quire_error *err)
{
    *out = NULL;
    if (!pdf || pdf->is_image)
        return QUIRE_OK;
    fz_context *ctx = pdf->ctx;
    pdf_document *pdoc = pdf_specifics(ctx, pdf->doc);
    if (!pdoc)
        return QUIRE_OK;
    json_t *o = json_object();
    if (!o)
        return qr_err(err, QUIRE_NOMEM, "%s: out of memory", pdf->path);
    static const char *const info[][2] = {
        {"info:Title", "pdf.title"},       {"info:Author", "pdf.author"},
        {"info:Subject", "pdf.subject"},   {"info:Keywords", "pdf.keywords"},
        {"info:Creator", "pdf.creator"},   {"info:Producer", "pdf.producer"}};
    char *xmp = NULL;
    fz_buffer *buf = NULL;
    fz_var(buf);
    fz_var(xmp);
    char v[2048];
    fz_try(ctx)
    {
        for (size_t i = 0; i < sizeof info / sizeof info[0]; i++)
            if (fz_lookup_metadata(ctx, pdf->doc, info[i][0], v, sizeof v) > 0)
                put(o, info[i][1], v);
        if (fz_lookup_metadata(ctx, pdf->doc, "info:CreationDate", v, sizeof v) > 0)
            put_date(o, "pdf.created", v);
        if (fz_lookup_metadata(ctx, pdf->doc, "info:ModDate", v, sizeof v) > 0)
            put_date(o, "pdf.modified", v);
        pdf_obj *root = pdf_dict_get(ctx, pdf_trailer(ctx, pdoc), PDF_NAME(Root));
        pdf_obj *lang = pdf_dict_get(ctx, root, PDF_NAME(Lang));
        if (pdf_is_string(ctx, lang))
            put(o, "pdf.language", pdf_to_text_string(ctx, lang));
        pdf_obj *md = pdf_dict_get(ctx, root, PDF_NAME(Metadata));
        if (pdf_is_stream(ctx, md)) {
            buf = pdf_load_stream(ctx, md);
            unsigned char *data = NULL;
            size_t len = fz_buffer_storage(ctx, buf, &data);
            if (len > 0 && len < ((size_t)4 << 20) && (xmp = qr_malloc(len + 1))) {
                memcpy(xmp, data, len);
                xmp[len] = 0;
            }
        }
    }
    fz_always(ctx) fz_drop_buffer(ctx, buf);
    fz_catch(ctx)
    {
        /* damaged metadata is not worth failing the document for */
        qr_log(QUIRE_LOG_INFO, "%s: metadata not read: %s", pdf->path, fz_caught_message(ctx));
    }
    if (xmp) {
        /* a NUL inside the packet ends what we read */
        from_xmp(o, xmp);
        qr_free(xmp);
    }
    quire_status rc = QUIRE_OK;
    if (json_object_size(o) > 0) {
        char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        *out = s ? qr_strdup(s) : NULL;
        free(s); /* lint-allow: free (json_dumps) */
        if (!*out)
            rc = qr_err(err, QUIRE_NOMEM, "%s: out of memory", pdf->path);
    }
    json_decref(o);
    return rc;
}
