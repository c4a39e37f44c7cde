#!/bin/sh
# tests/cli/install.sh — `make install` into a clean DESTDIR: files and symlinks, the shared
# library's soname and exports (exactly the static library's quire_ symbols), the README's
# C example (examples/c/app.c) built from the installed pkg-config files against both the
# shared and the static library, the man page (generated from --help) and bash completion.
. "$(dirname "$0")/../lib.sh"
B=$(dirname "$Q")
if [ ! -e "$B/libquire.so" ]; then
    # Sanitizer and static builds make no shared library; the native stage runs this test.
    echo "note: $B has no shared library (sanitizer/static build); install is tested on build/"
    exit 0
fi
R=$T/root
make -s install BUILD="$B" PREFIX=/usr DESTDIR="$R" > "$T/make.log" 2>&1; rc=$?
check "make install PREFIX=/usr DESTDIR=... succeeds" [ $rc -eq 0 ]
[ $rc -eq 0 ] || cat "$T/make.log"
for f in bin/quire include/quire.h lib/libquire.a lib/libquire.so lib/libquire.so.0 \
         lib/pkgconfig/quire.pc lib/pkgconfig/quire-static.pc share/man/man1/quire.1 \
         share/bash-completion/completions/quire; do
    check "installed usr/$f" [ -e "$R/usr/$f" ]
done
so=$(readlink "$R/usr/lib/libquire.so.0")
check "libquire.so.0 -> the versioned library" [ -f "$R/usr/lib/$so" ]
soname=$(readelf -d "$R/usr/lib/$so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
check "soname is libquire.so.0 (got '$soname')" [ "$soname" = libquire.so.0 ]
nm -D --defined-only "$R/usr/lib/$so" | awk '{ print $3 }' | sort > "$T/dyn"
nm "$R/usr/lib/libquire.a" | awk '$2 == "T" && $3 ~ /^quire_/ { print $3 }' | sort -u > "$T/sta"
check "the shared library exports only quire_ symbols" sh -c "! grep -v '^quire_' '$T/dyn'"
check "shared exports = static library's quire_ functions ($(wc -l < "$T/sta"))" cmp -s "$T/dyn" "$T/sta"

# The README's C example is examples/c/app.c, verbatim.
awk '/^## C API/ { on = 1 } on && /^```c$/ { grab = 1; next } grab && /^```$/ { exit } grab' \
    README.md > "$T/readme.c"
check "README's C example is examples/c/app.c" cmp -s "$T/readme.c" examples/c/app.c

export PKG_CONFIG_SYSROOT_DIR="$R"
export PKG_CONFIG_PATH="$R/usr/lib/pkgconfig"
printf '# Notes\n\nThe lens designer chose glass for the camera.\n' > "$T/n.md"
cc -o "$T/app_shared" examples/c/app.c $(pkg-config --cflags --libs quire) 2> "$T/cc.log"
check "cc app.c \$(pkg-config --cflags --libs quire) links (shared)" [ -x "$T/app_shared" ]
cc -o "$T/app_static" examples/c/app.c $(pkg-config --cflags --libs quire-static) 2>> "$T/cc.log"
check "cc app.c \$(pkg-config --cflags --libs quire-static) links (static)" [ -x "$T/app_static" ]
[ -s "$T/cc.log" ] && cat "$T/cc.log"
LD_LIBRARY_PATH="$R/usr/lib" ldd "$T/app_shared" > "$T/ldd" 2>&1
check "the shared build loads the installed libquire.so.0" grep -q "libquire.so.0 => $R/usr/lib" "$T/ldd"
check "the static build has no libquire.so dependency" sh -c "! ldd '$T/app_static' | grep -q libquire"
LD_LIBRARY_PATH="$R/usr/lib" "$T/app_shared" examples/tiny-bert "$T/a.db" "$T/n.md" "lens designer" > "$T/o1" 2> "$T/e1"
check "the shared build embeds, ingests and finds the note" grep -q "n.md p.1 .*lens" "$T/o1"
"$T/app_static" examples/tiny-bert "$T/b.db" "$T/n.md" "lens designer" > "$T/o2" 2> "$T/e2"
check "the static build gives the same output" sh -c "[ -s '$T/o2' ] && cmp -s '$T/o1' '$T/o2'"
# The first vector value printed by the example equals `quire embed`'s (same library).
v=$(sed -n 's/^dims 32, first values \([-0-9.]*\) .*/\1/p' "$T/o1")
e=$(echo "first text" | "$R/usr/bin/quire" embed --model examples/tiny-bert | python3 -c \
    'import json,sys; print("%.6f" % json.loads(sys.stdin.readline())["embedding"][0])')
check "the example's vector = quire embed's ($v vs $e)" [ -n "$v" ] && [ "$v" = "$e" ]

# Man page: one page holding every command's --help text.
man -l "$R/usr/share/man/man1/quire.1" 2> "$T/man.err" | col -b > "$T/man.txt"
check "man -l quire.1 renders" [ -s "$T/man.txt" ]
for c in $("$Q" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'); do
    u=$("$Q" "$c" --help | head -1 | sed 's/^ *//')
    check "man page has '$c' --help" grep -qF -- "$u" "$T/man.txt"
done

# Bash completion, against the installed binary.
if command -v bash > /dev/null; then
    comp() { PATH="$R/usr/bin:$PATH" bash -c '. "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _quire; echo "${COMPREPLY[*]}"' \
        "$R/usr/share/bash-completion/completions/quire" "$@"; }
    check "completion: 'quire se' -> search serve" sh -c "[ \"$(comp quire se)\" = 'search serve' ]"
    check "completion: 'quire search --js' -> --json" sh -c "[ \"$(comp quire search --js)\" = '--json' ]"
fi
