/*
 * gamebook_int.h — shared by the files of the gamebook export (src/export/gamebook*.c):
 * reading numbers through OCR noise and the analysis of one section's text.
 */
#ifndef QR_GAMEBOOK_INT_H
#define QR_GAMEBOOK_INT_H

#include <stddef.h>

#include "export/export.h"

/* Largest section number read (a bigger numeral is not a section). */
#define QR_GB_MAX_NUMBER 99999L

/* The number a token s[0..n) stands for, reading the letters OCR puts for digits
 * ("l2" = 12, "1O" = 10, "S" = 5) when loose, or when the token has a real digit; a
 * trailing '.' ':' ',' ';' ')' and a leading '(' are ignored. -1 when it is not a number
 * (a letter with no digit look-alike, more than 5 characters, 0, or no real digit
 * while not loose). */
long qr_gb_number(const char *s, size_t n, int loose);

/* Write the analysis of one section's text as JSON members (each preceded by a comma):
 * ,"choices":[...],"combat":[...],"items":[...],"ending":null|"death"|"victory"
 * (docs/gamebook.md). Scratch memory from qr_malloc; on failure out->failed is set. */
void qr_gb_put_analysis(qr_buf *out, const char *text, size_t len);

#endif /* QR_GAMEBOOK_INT_H */
