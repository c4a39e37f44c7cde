#!/bin/sh
# tests/lint.sh — checksrc-style checks (see STYLE.md), one "PASS name" / "FAIL name" line
# each, so tests/run.sh can count them (tests/cli/lint.sh runs this file). `make lint`
# builds the library first and runs it too.
#
#  lint-bans       src/ cli/: no strcpy, sprintf/vsprintf, strtok, atoi/atol/atoll/atof,
#                  gets (use snprintf, strtol & co, memcpy with a checked length)
#  lint-alloc      src/ cli/ outside src/core/: no raw malloc, calloc, realloc, free,
#                  strdup, strndup, aligned_alloc, posix_memalign (use qr_malloc & co,
#                  so tests can count and fail allocations)
#  lint-no-stdout  src/: the library never prints to stdout or exits (printf, puts,
#                  putchar, stdout, exit, _Exit, abort); assert() is fine
#  lint-exports    nm of $QUIRE_BUILD/libquire.a defines only quire_* and qr_* globals
#  lint-header-c   include/quire.h compiles alone as C11 -pedantic -Wall -Wextra -Werror
#  lint-header-cxx include/quire.h compiles alone as C++11 -pedantic -Wall -Wextra -Werror
#
# Comments and string literals are ignored. A line that really needs a banned call
# says why with a comment naming it: `free(p); /* lint-allow: free (utf8proc_map) */`.
#
# Env: QUIRE_BUILD (default: the folder of $QUIRE_BIN, else build), CC (cc), CXX (c++), NM.
cd "$(dirname "$0")/.." || exit 2

if [ -n "$QUIRE_BUILD" ]; then
    BUILD=$QUIRE_BUILD
elif [ -n "$QUIRE_BIN" ]; then
    BUILD=$(dirname "$QUIRE_BIN")
else
    BUILD=build
fi
LINT_CC=${CC:-cc}
LINT_CXX=${CXX:-c++}
NM=${NM:-nm}
failed=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/quire-lint-XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

pass() { echo "PASS $1"; }
fail() {
    echo "FAIL $1"
    failed=1
}

# scan PATTERN FILES...: print "file:line: name" for each call matching the perl regex
# PATTERN (its first group is the name) after comments and literals are blanked out,
# unless the line's comment says "lint-allow: name".
scan() {
    pattern=$1
    shift
    [ "$#" -gt 0 ] || return 0
    LINT_PATTERN=$pattern perl -e '
        my $re = $ENV{LINT_PATTERN};
        for my $file (@ARGV) {
            open(my $fh, "<", $file) or die "$file: $!\n";
            local $/;
            my $orig = <$fh>;
            close($fh);
            my $code = $orig;
            # blank comments (keeping newlines) and string/char literals
            $code =~ s{(/\*.*?\*/|//[^\n]*)|("(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27)}{
                my $c = $1;
                defined $c ? " " . ("\n" x ($c =~ tr/\n//)) : "\"\"";
            }gse;
            my @orig = split /\n/, $orig, -1;
            my @code = split /\n/, $code, -1;
            for my $i (0 .. $#code) {
                while ($code[$i] =~ /$re/g) {
                    my $name = $1;
                    next if $orig[$i] =~ /lint-allow:[^*\n]*\b\Q$name\E\b/;
                    print "$file:", $i + 1, ": $name\n";
                }
            }
        }' "$@"
}

c_files() { find "$@" -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | sort; }

# A call: the name not preceded by an identifier character, "." or "->", then "(".
call_re() { printf '(?<![\\w.>$])(%s)\\s*\\(' "$1"; }

report() {
    name=$1
    out=$2
    if [ -s "$out" ]; then
        fail "$name"
        sed 's/^/  /' "$out"
    else
        pass "$name"
    fi
}

# ---- (a) banned calls ---------------------------------------------------------------
# shellcheck disable=SC2046
scan "$(call_re 'strcpy|sprintf|vsprintf|strtok|atoi|atol|atoll|atof|gets')" \
    $(c_files src cli) >"$tmp/bans" || fail "lint-bans (scanner error)"
report lint-bans "$tmp/bans"

# shellcheck disable=SC2046
scan "$(call_re 'malloc|calloc|realloc|free|strdup|strndup|aligned_alloc|posix_memalign')" \
    $(c_files src cli | grep -v '^src/core/') >"$tmp/alloc" || fail "lint-alloc (scanner error)"
report lint-alloc "$tmp/alloc"

# shellcheck disable=SC2046
{
    scan "$(call_re 'printf|vprintf|puts|putchar|exit|_Exit|abort')" $(c_files src)
    scan '(?<![\w.>$])(stdout)\b' $(c_files src)
} >"$tmp/stdout" || fail "lint-no-stdout (scanner error)"
report lint-no-stdout "$tmp/stdout"

# ---- (b) exported symbols -------------------------------------------------------------
lib=$BUILD/libquire.a
if [ ! -f "$lib" ]; then
    fail lint-exports
    echo "  $lib: not built (run make first)"
elif ! "$NM" -g --defined-only -P -A "$lib" >"$tmp/nm" 2>"$tmp/nm.err"; then
    fail lint-exports
    sed 's/^/  /' "$tmp/nm.err"
else
    # -P -A lines: "lib.a[member.o]: symbol TYPE value size". ASan builds add an
    # __odr_asan.<name> marker per global; it is fine when <name> is.
    awk 'NF >= 3 && $2 !~ /^(__odr_asan\.)?(quire_|qr_)/ { print $1 " " $2 " (" $3 ")" }' \
        "$tmp/nm" \
        >"$tmp/exports"
    if [ ! -s "$tmp/nm" ]; then
        fail lint-exports
        echo "  $lib: no symbols"
    else
        report lint-exports "$tmp/exports"
    fi
fi

# ---- (c) the public header alone ---------------------------------------------------------
cat >"$tmp/header_c.c" <<'EOF'
/* quire.h first, alone, twice (include guard), then used. */
#include "quire.h"
#include "quire.h"

static int use_header(void)
{
    quire_error err;
    quire_model_params mp = quire_model_default_params();
    quire_embedder_params ep = quire_embedder_default_params();
    quire_status st = QUIRE_STATUS_PRIMARY(QUIRE_FORMAT | (2 << 8));
    err.code = (int)st;
    err.msg[0] = '\0';
    return err.code + mp.max_tokens + ep.n_threads + QUIRE_LOG_ERROR + QUIRE_POOLING_CLS +
           (int)sizeof(quire_log_fn) + (quire_version() == QUIRE_VERSION_NUMBER);
}

int main(void) { return use_header() == -1; }
EOF
cp "$tmp/header_c.c" "$tmp/header_cxx.cpp"

if "$LINT_CC" -std=c11 -pedantic -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
    -Iinclude -c "$tmp/header_c.c" -o "$tmp/header_c.o" >"$tmp/cc.log" 2>&1; then
    pass lint-header-c
else
    fail lint-header-c
    sed 's/^/  /' "$tmp/cc.log"
fi

if ! command -v "$LINT_CXX" >/dev/null 2>&1; then
    fail lint-header-cxx
    echo "  $LINT_CXX: not found (install g++)"
elif "$LINT_CXX" -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude \
    -c "$tmp/header_cxx.cpp" -o "$tmp/header_cxx.o" >"$tmp/cxx.log" 2>&1; then
    pass lint-header-cxx
else
    fail lint-header-cxx
    sed 's/^/  /' "$tmp/cxx.log"
fi

exit "$failed"
