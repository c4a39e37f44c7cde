#!/bin/sh
# tests/cli/info.sh — `quire info`: build options and the versions of the libraries linked,
# each checked against the system's own tools, and the installed OCR languages.
. "$(dirname "$0")/../lib.sh"
"$Q" info > "$T/i" 2> "$T/e"
check "quire info exits 0" [ $? -eq 0 ]
v() { sed -n "s/^$1: //p" "$T/i"; }
check "build options line" grep -q '^build options: WITH_CONVERT=[01] WITH_SERVER=[01] WITH_PG=[01]$' "$T/i"
if command -v sqlite3 > /dev/null; then
    s=$(sqlite3 --version | cut -d' ' -f1)
    check "sqlite version = sqlite3 --version ($(v sqlite) vs $s)" [ "$(v sqlite)" = "$s" ]
fi
j=$(pkg-config --modversion jansson 2>/dev/null)
[ -n "$j" ] && check "jansson version = pkg-config's ($(v jansson) vs $j)" [ "$(v jansson)" = "$j" ]
if grep -q '^build options: WITH_CONVERT=1' "$T/i"; then
    # (Debian 12's mupdf.pc says 1.19.0 for 1.21.1: compare with the package's mutool)
    m=$(mutool -v 2>&1 | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -1)
    check "mupdf version = mutool -v's ($(v mupdf) vs $m)" [ "$(v mupdf)" = "$m" ]
    t=$(tesseract --version 2>&1 | sed -n 's/^tesseract \([0-9.]*\).*/\1/p' | head -1)
    check "tesseract version = tesseract --version's ($(v tesseract) vs $t)" sh -c "[ -n '$t' ] && [ '$(v tesseract)' = '$t' ]"
    c=$(curl-config --version 2>/dev/null | sed 's/^libcurl //')
    [ -n "$c" ] || c=$(pkg-config --modversion libcurl 2>/dev/null)
    check "libcurl version = curl-config's ($(v libcurl) vs $c)" sh -c "[ -n '$c' ] && [ '$(v libcurl)' = '$c' ]"
    d=$(v tessdata)
    want=$(ls "$d" 2>/dev/null | sed -n 's/\.traineddata$//p' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
    check "ocr languages = the *.traineddata in $d ($(v 'ocr languages'))" \
        sh -c "[ -n '$want' ] && [ \"$(v 'ocr languages')\" = '$want' ]"
    check "eng is installed" sh -c "v=\"$(v 'ocr languages')\"; case \" \$v \" in *' eng '*) exit 0;; esac; exit 1"
    TESSDATA_PREFIX=$T/none "$Q" info > "$T/i2" 2>&1
    check "a TESSDATA_PREFIX without data: falls back or says not found" grep -q '^tessdata: ' "$T/i2"
fi
if grep -q 'WITH_SERVER=1' "$T/i"; then
    h=$(pkg-config --modversion libmicrohttpd 2>/dev/null)
    check "libmicrohttpd version = pkg-config's ($(v libmicrohttpd) vs $h)" [ "$(v libmicrohttpd)" = "$h" ]
fi
if grep -q 'WITH_PG=1' "$T/i"; then
    h=$(pkg-config --modversion libpq 2>/dev/null)
    check "libpq version = pkg-config's ($(v libpq) vs $h)" [ "$(v libpq)" = "$h" ]
fi
