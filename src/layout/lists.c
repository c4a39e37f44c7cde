/*
 * lists.c — list markers at the start of a row: bullets (•, ◦, ▪, –, -, *, the Symbol
 * font's private-use bullet U+F0B7 ...) and numbering ("1.", "1)", "(a)", "a.", "iv.",
 * "[3]"). Dashes, asterisks and numbers also start ordinary wrapped lines
 * ("... see Section\n2. The ..."), so they are reported as weak and classify.c only
 * accepts them where a new item can begin.
 */
#include <string.h>

#include "layout/layout_int.h"

/* Bullet code points that never start running text. */
static const unsigned strong_bullets[] = {
    0x2022, 0x25E6, 0x25AA, 0x25AB, 0x25A0, 0x25A1, 0x25CF, 0x25CB, 0x2023, 0x2043,
    0x2219, 0x25BA, 0x25B8, 0x25B6, 0x27A2, 0x2713, 0x2714, 0x2192, 0xF0B7, 0xF0A7,
    0xF076, 0xF0D8, 0xF0FC, 0xF0A8, 0x0088};
/* Marks that are bullets only when followed by a space: dashes, middle dot, '*'. */
static const unsigned weak_bullets[] = {'-', '*', 0x2013, 0x2014, 0x00B7};

static unsigned decode(const char *s, size_t *n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80) {
        *n = u[0] ? 1 : 0;
        return u[0];
    }
    if ((u[0] & 0xE0) == 0xC0 && (u[1] & 0xC0) == 0x80) {
        *n = 2;
        return ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu);
    }
    if ((u[0] & 0xF0) == 0xE0 && (u[1] & 0xC0) == 0x80 && (u[2] & 0xC0) == 0x80) {
        *n = 3;
        return ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
    }
    *n = 0;
    return 0;
}

static int in_set(unsigned cp, const unsigned *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == cp)
            return 1;
    return 0;
}

static int has_text_after(const char *s)
{
    while (*s == ' ')
        s++;
    return *s != '\0';
}

static int is_roman_lower(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ivxl", s[i]))
            return 0;
    return 1;
}

/* "1." "12)" "(a)" "a." "iv)" "(A)" "[3]": returns the marker length or 0. */
static size_t ordered_marker(const char *s)
{
    size_t i = 0;
    char open = 0;
    if (s[0] == '(' || s[0] == '[')
        open = s[i++];
    size_t start = i;
    while (s[i] >= '0' && s[i] <= '9' && i - start < 4)
        i++;
    size_t nd = i - start;
    if (nd > 3)
        return 0;
    if (nd == 0) {
        while (s[i] >= 'a' && s[i] <= 'z' && i - start < 6)
            i++;
        size_t nl = i - start;
        int single_upper = nl == 0 && open && s[i] >= 'A' && s[i] <= 'Z';
        if (single_upper)
            i++;
        else if (!(nl == 1 || is_roman_lower(s + start, nl)))
            return 0;
    }
    char close = s[i];
    if (open == '(' && close != ')')
        return 0;
    if (open == '[' && (close != ']' || nd == 0))
        return 0;
    if (!open && close != '.' && close != ')')
        return 0;
    return i + 1;
}

int qr_layout_list_marker(const char *s, size_t *mlen, int *ordered, int *strong)
{
    size_t n = 0;
    unsigned cp = decode(s, &n);
    if (n && in_set(cp, strong_bullets, QR_ARRAY_LEN(strong_bullets)) && has_text_after(s + n)) {
        *mlen = n;
        *ordered = 0;
        *strong = 1;
        return 1;
    }
    if (n && in_set(cp, weak_bullets, QR_ARRAY_LEN(weak_bullets)) && s[n] == ' ' &&
        has_text_after(s + n)) {
        *mlen = n;
        *ordered = 0;
        *strong = 0;
        return 1;
    }
    size_t m = ordered_marker(s);
    if (m && s[m] == ' ' && has_text_after(s + m)) {
        *mlen = m;
        *ordered = 1;
        *strong = 0;
        return 1;
    }
    return 0;
}
