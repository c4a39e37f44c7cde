#!/bin/sh
# bench/search/setup.sh — what bench/search/run.sh needs besides quire itself: Debian's
# hnswlib headers (libhnswlib-dev) and FAISS (libfaiss-dev, with BLAS/LAPACK), plus g++.
# Idempotent: installs with apt-get only what is missing (needs root on Debian 12).
set -eu
need=""
[ -f /usr/include/hnswlib/hnswlib.h ] || need="$need libhnswlib-dev"
[ -f /usr/include/faiss/IndexHNSW.h ] || need="$need libfaiss-dev"
command -v g++ >/dev/null 2>&1 || need="$need g++"
if [ -n "$need" ]; then
    echo "setup: installing$need" >&2
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
fi
echo "setup: hnswlib $(dpkg-query -W -f='${Version}' libhnswlib-dev 2>/dev/null || echo '?')," \
    "faiss $(dpkg-query -W -f='${Version}' libfaiss-dev 2>/dev/null || echo '?')" >&2
