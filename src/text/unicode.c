/*
 * unicode.c — the character classes behind BERT's BasicTokenizer, on top of utf8proc.
 *
 * The target is Hugging Face's Python BertTokenizer (which the fast tokenizer also
 * matches for BERT vocabularies): clean text (drop NUL, U+FFFD and every "C*"
 * category except \t \n \r; whitespace becomes a separator), put CJK ideographs in
 * words of their own, lowercase with Python's str.lower() (full mapping of U+0130 and
 * the Final_Sigma rule), NFD and drop Mn, split punctuation. utf8proc and Python agree
 * on every decomposition and simple lowercase mapping; they differ only in the Unicode
 * version (characters assigned after Python's tables are "Cn" there).
 *
 * ASCII takes short paths everywhere because it is most of the input.
 */
#include <utf8proc.h>

#include "text/text_int.h"

uint32_t qr_utf8_next(const unsigned char *s, size_t len, size_t *pos)
{
    size_t i = *pos;
    uint32_t c = s[i];
    if (c < 0x80) {
        *pos = i + 1;
        return c;
    }
    size_t n;
    uint32_t min;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 1;
        c &= 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 2;
        c &= 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3;
        c &= 0x07;
        min = 0x10000;
    } else {
        goto bad; /* continuation byte, 0xC0/0xC1 (always overlong), 0xF5..0xFF */
    }
    if (n > len - i - 1)
        goto bad; /* truncated at the end of the input */
    for (size_t k = 1; k <= n; k++) {
        uint32_t b = s[i + k];
        if ((b & 0xC0) != 0x80)
            goto bad;
        c = (c << 6) | (b & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        goto bad;
    *pos = i + 1 + n;
    return c;
bad:
    /* Consuming only the first byte is enough: a continuation byte can never start a
     * character, so the rest of a broken sequence also becomes U+FFFD (dropped), and
     * a valid character right after it is never swallowed. */
    *pos = i + 1;
    return 0xFFFD;
}

size_t qr_utf8_put(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* BERT's _is_chinese_char: the CJK Unified Ideographs blocks and their extensions,
 * plus the compatibility ideographs. Hangul, kana and CJK punctuation are not here. */
static int is_cjk(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* Unicode White_Space (Rust's char::is_whitespace, which the fast tokenizer's
 * pre-tokenizer splits on when clean_text is off). */
static int is_white_space(uint32_t cp, utf8proc_category_t cat)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 ||
           cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}

static int ascii_class(uint32_t cp, int clean_text)
{
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r')
        return QR_CH_SPACE;
    if (cp < 0x20 || cp == 0x7F) {
        /* other C0 controls and DEL are "Cc": dropped when cleaning, and with
         * clean_text off \v and \f still split words (White_Space) */
        if (clean_text)
            return QR_CH_DROP;
        return (cp == 0x0B || cp == 0x0C) ? QR_CH_SPACE : QR_CH_OTHER;
    }
    return QR_CH_OTHER;
}

int qr_uni_class(uint32_t cp, int clean_text, int tokenize_cjk)
{
    if (cp < 0x80)
        return ascii_class(cp, clean_text);
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
    if (clean_text) {
        /* HF _is_control is category "C*" (Cc Cf Cs Co Cn), not only Cc/Cf: private-use
         * glyphs from PDF fonts and unassigned code points vanish too. */
        if (cp == 0xFFFD || cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
            cat == UTF8PROC_CATEGORY_CS || cat == UTF8PROC_CATEGORY_CO ||
            cat == UTF8PROC_CATEGORY_CN)
            return QR_CH_DROP;
        /* Zs becomes a space in _clean_text; Zl/Zp (U+2028/9) survive cleaning but
         * Python's str.split() still splits on them */
        if (cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
            cat == UTF8PROC_CATEGORY_ZP)
            return QR_CH_SPACE;
    } else if (is_white_space(cp, cat)) {
        return QR_CH_SPACE;
    }
    if (tokenize_cjk && is_cjk(cp))
        return QR_CH_CJK;
    return QR_CH_OTHER;
}

int qr_uni_is_punct(uint32_t cp)
{
    /* BERT counts every non-alphanumeric printable ASCII character as punctuation,
     * although $ + < = > ^ ` | ~ are symbols (S*) in Unicode */
    if (cp < 0x80)
        return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
               (cp >= 123 && cp <= 126);
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

int qr_uni_lower(uint32_t cp, int final_sigma, uint32_t out[2])
{
    if (cp < 0x80) {
        out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
        return 1;
    }
    if (cp == 0x130) {
        /* the one unconditional multi-character lowercase mapping (SpecialCasing):
         * LATIN CAPITAL LETTER I WITH DOT ABOVE -> i + COMBINING DOT ABOVE */
        out[0] = 0x69;
        out[1] = 0x307;
        return 2;
    }
    if (cp == 0x3A3) {
        out[0] = final_sigma ? 0x3C2 : 0x3C3;
        return 1;
    }
    out[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
    return 1;
}

/* Word_Break MidLetter / MidNumLet / Single_Quote: all punctuation (Po Pi Pf). */
static int is_mid_letter(uint32_t cp)
{
    static const uint32_t wb[] = {0x27,   0x2E,   0x3A,   0xB7,   0x387,  0x55F,
                                  0x5F4,  0x2018, 0x2019, 0x2024, 0x2027, 0xFE13,
                                  0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
    for (size_t i = 0; i < QR_ARRAY_LEN(wb); i++) {
        if (wb[i] == cp)
            return 1;
    }
    return 0;
}

/* Cased (Lowercase, Uppercase or Lt) outside the letter categories: the
 * Other_Lowercase / Other_Uppercase characters that are not case-ignorable. */
static int is_other_cased(uint32_t cp)
{
    return cp == 0xAA || cp == 0xBA || (cp >= 0x2160 && cp <= 0x217F) ||
           (cp >= 0x24B6 && cp <= 0x24E9) || (cp >= 0x1F130 && cp <= 0x1F149) ||
           (cp >= 0x1F150 && cp <= 0x1F169) || (cp >= 0x1F170 && cp <= 0x1F189);
}

/* Python's Final_Sigma rule looks left and right past Case_Ignorable characters (Mn Me
 * Cf Lm Sk plus the mid-letter punctuation) to the nearest one that is or is not Cased.
 * Case_Ignorable is tested first: a few characters are both. */
int qr_uni_sigma_class(uint32_t cp)
{
    if (cp < 0x80) {
        if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z'))
            return QR_SIGMA_CASED;
        return (cp == 0x27 || cp == 0x2E || cp == 0x3A || cp == 0x5E || cp == 0x60)
                   ? QR_SIGMA_IGNORABLE : QR_SIGMA_OTHER;
    }
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
        return QR_SIGMA_IGNORABLE;
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
        return QR_SIGMA_CASED;
    case UTF8PROC_CATEGORY_PO:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
        return is_mid_letter(cp) ? QR_SIGMA_IGNORABLE : QR_SIGMA_OTHER;
    default:
        return is_other_cased(cp) ? QR_SIGMA_CASED : QR_SIGMA_OTHER;
    }
}

/* One part of a decomposition with the properties the encoder needs. */
static void part_info(uint32_t cp, qr_uni_part *part)
{
    const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
    part->cp = cp;
    part->ccc = p->combining_class;
    part->mn = p->category == UTF8PROC_CATEGORY_MN;
    /* BERT's ASCII rule matters here too: U+1FEF GREEK VARIA decomposes to '`' */
    part->punct = cp < 0x80 ? qr_uni_is_punct(cp)
                            : p->category >= UTF8PROC_CATEGORY_PC &&
                                  p->category <= UTF8PROC_CATEGORY_PO;
}

int qr_uni_nfd(uint32_t cp, qr_uni_part out[8])
{
    if (cp < 0x80) {
        out[0].cp = cp;
        out[0].ccc = 0;
        out[0].mn = 0;
        out[0].punct = qr_uni_is_punct(cp);
        return 1;
    }
    const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
    int hangul = cp >= 0xAC00 && cp <= 0xD7A3; /* decomposed by rule, not by table */
    if (p->decomp_seqindex == UINT16_MAX && !hangul) {
        part_info(cp, &out[0]);
        return 1;
    }
    utf8proc_int32_t buf[8];
    int boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)cp, buf, 8,
                                                 UTF8PROC_DECOMPOSE, &boundclass);
    if (n < 1 || n > 8) {
        n = 1; /* cannot happen (canonical decompositions have <= 4 parts) */
        buf[0] = (utf8proc_int32_t)cp;
    }
    for (utf8proc_ssize_t i = 0; i < n; i++)
        part_info((uint32_t)buf[i], &out[i]);
    return (int)n;
}

int qr_uni_ccc(uint32_t cp)
{
    if (cp < 0x300)
        return 0;
    return utf8proc_get_property((utf8proc_int32_t)cp)->combining_class;
}
