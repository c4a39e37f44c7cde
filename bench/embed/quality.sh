#!/bin/sh
# bench/embed/quality.sh — bf16 / int8 quality against fp32 on the born-digital corpus with
# the MiniLM-shaped model: cosine minima over 2,000 corpus chunks (spread over every
# document) and the mean top-10 overlap with fp32 on known-item queries (10 per document),
# tests/tools/precision_quality.py. About 2 minutes on 2 cores (the fp32 pass is most).
#
#   sh bench/embed/quality.sh            CHUNKS=2000 PER_DOC=10 THREADS=2
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1
SHARED=${QUIRE_SHARED:-../shared}
make -j2 cli models > /dev/null || exit 1
w=build/bench/quality
rm -rf "$w"; mkdir -p "$w"
export QUIRE_CACHE_DIR="${QUIRE_CACHE_DIR:-$repo/$w/pack-cache}"
build/quire ingest -q --db "$w/born.db" -c born --jobs 2 "$SHARED/corpus/born" || exit 1
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernels: $(build/quire info | grep '^precision kernels')"
/usr/bin/python3 tests/tools/precision_quality.py build/quire build/models/minilm "$w/born.db" \
    "$SHARED/corpus/born" --max-chunks "${CHUNKS:-2000}" --per-doc "${PER_DOC:-10}" \
    --threads "${THREADS:-2}" --work "$w"
