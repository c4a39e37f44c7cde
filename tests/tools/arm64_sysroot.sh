#!/bin/sh
# tests/tools/arm64_sysroot.sh SYSROOT — builds the arm64 sysroot that `make check-arm64-full`
# links quire against and runs it in (qemu-aarch64 -L SYSROOT): Debian 12's arm64 packages
# listed by `.ci/setup --arm64-sysroot` ("dev" ones as they are, "run" ones with their whole
# Depends/Pre-Depends closure from apt-cache depends), fetched with `apt-get download` (no
# root needed; the arm64 apt lists come from .ci/setup, which adds the architecture) and
# unpacked with dpkg -x. Absolute symlinks are made relative so that they resolve inside
# SYSROOT. Nothing is installed on this machine.
# A SYSROOT built from the same package list, with no apt-get update since, is left as it
# is without asking apt (well under a second); otherwise one whose stamp lists the same
# package versions is left as it is (~10 s of apt-cache). The .debs stay in SYSROOT/.debs.
set -eu
SYSROOT=${1:?usage: arm64_sysroot.sh SYSROOT}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
A=arm64
log() { printf 'arm64-sysroot: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "needs apt-get and dpkg-deb (Debian)"
dpkg --print-foreign-architectures | grep -qx $A ||
    die "the $A architecture is not enabled: run .ci/setup (dpkg --add-architecture $A; apt-get update)"

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
bash "$HERE/.ci/setup" --arm64-sysroot > "$W/list"
if [ -f "$SYSROOT/.stamp" ] && [ -f "$SYSROOT/.list" ] && cmp -s "$W/list" "$SYSROOT/.list" &&
   [ -z "$(find /var/lib/apt/lists -name "*_binary-${A}_Packages*" -newer "$SYSROOT/.stamp")" ]; then
    log "$SYSROOT is current ($(wc -l < "$SYSROOT/.stamp") packages; apt lists unchanged)"
    exit 0
fi

# One apt-cache show over every name, plain and :arm64 (apt-cache is slow to start: no
# per-package calls): "NAME ARCH VERSION" of the arm64 or Architecture: all candidates.
records() {
    # shellcheck disable=SC2046
    apt-cache show --no-all-versions $(sed "s/\$/:$A/" "$1") $(cat "$1") 2>/dev/null |
        awk -v a=$A '/^Package: /{p=$2} /^Version: /{v=$2}
             /^Architecture: /{if ($2 == a || $2 == "all") print p, $2, v}' | sort -u
}
cut -d' ' -f2 "$W/list" > "$W/names"
records "$W/names" > "$W/rec"
for n in $(cat "$W/names"); do
    grep -q "^$n " "$W/rec" || die "package $n has no $A candidate (apt-get update after .ci/setup?)"
done
# the runtime closure: every arm64 package the "run" ones need (virtual packages, <...>, are
# provided by a real one in the list; host-arch ones, reached through Multi-Arch: foreign
# tools, are not part of a sysroot)
# shellcheck disable=SC2046
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances $(awk '$1 == "run" {print $2}' "$W/list" | while read -r n; do
        grep -q "^$n $A " "$W/rec" && echo "$n:$A" || echo "$n"; done) |
    grep -v '^ ' | grep -v '^<' | grep ":$A\$" | sed "s/:$A\$//" > "$W/closure" ||
    die "apt-cache depends failed"
# the packages that only matter to a running Debian system, not to a sysroot
sort -u "$W/names" "$W/closure" |
    grep -v -E '^(dpkg|tar|install-info|debconf|perl-base|libc-bin|base-files)$' > "$W/all"
records "$W/all" > "$W/rec"
# NAME[:arm64]=VERSION lines: the stamp that decides whether SYSROOT is current
for n in $(cat "$W/all"); do
    r=$(grep "^$n " "$W/rec" | head -1)
    [ -n "$r" ] || die "no $A or all version of $n"
    set -- $r
    if [ "$2" = all ]; then echo "$1=$3"; else echo "$1:$A=$3"; fi
done > "$W/stamp"
if [ -f "$SYSROOT/.stamp" ] && cmp -s "$W/stamp" "$SYSROOT/.stamp"; then
    log "$SYSROOT is current ($(wc -l < "$W/stamp") packages)"
    cp "$W/list" "$SYSROOT/.list"; touch "$SYSROOT/.stamp"
    exit 0
fi

log "$(wc -l < "$W/stamp") packages -> $SYSROOT"
rm -rf "$SYSROOT.tmp"
mkdir -p "$SYSROOT.tmp" "$SYSROOT/.debs"
DEBS=$(cd "$SYSROOT/.debs" && pwd)
# download what is not in the cache yet (file names are NAME_VERSION_ARCH.deb, with the
# epoch's ':' written as %3a)
need=""
while IFS='=' read -r p v; do
    n=${p%:$A}; fv=$(echo "$v" | sed 's/:/%3a/')
    ls "$DEBS/${n}_${fv}_"*.deb >/dev/null 2>&1 || need="$need $p=$v"
done < "$W/stamp"
if [ -n "$need" ]; then
    # shellcheck disable=SC2086
    (cd "$DEBS" && apt-get download -q $need) > "$W/dl.log" 2>&1 ||
        { cat "$W/dl.log" >&2; die "apt-get download failed (network? apt-get update?)"; }
fi
while IFS='=' read -r p v; do
    n=${p%:$A}; fv=$(echo "$v" | sed 's/:/%3a/')
    for d in "$DEBS/${n}_${fv}_"*.deb; do
        [ -f "$d" ] || die "missing $d after download"
        dpkg-deb -x "$d" "$SYSROOT.tmp" || die "dpkg-deb -x $d failed"
    done
done < "$W/stamp"
# absolute symlinks (e.g. usr/lib/aarch64-linux-gnu/libz.so -> /lib/aarch64-linux-gnu/...)
# would point into this machine: make them relative to their place in the sysroot
(cd "$SYSROOT.tmp" && find . -type l) | while read -r l; do
    t=$(readlink "$SYSROOT.tmp/$l")
    case "$t" in
        /*) dir=$(dirname "$l" | sed 's|^\./||')
            up=$(echo "$dir" | sed 's|[^/][^/]*|..|g')
            [ "$dir" = . ] && up=.
            ln -sfn "$up$t" "$SYSROOT.tmp/$l" ;;
    esac
done
cp "$W/stamp" "$SYSROOT.tmp/.stamp"
cp "$W/list" "$SYSROOT.tmp/.list"
mv "$SYSROOT/.debs" "$SYSROOT.tmp/.debs"
rm -rf "$SYSROOT"
mv "$SYSROOT.tmp" "$SYSROOT"
[ -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] || die "no lib/ld-linux-aarch64.so.1 in $SYSROOT"
log "done: $(wc -l < "$SYSROOT/.stamp") packages, $(du -sh "$SYSROOT" | cut -f1)"
