#!/bin/sh
# bench/python/run.sh — cost of the Python binding per call: quire_embed of one text of 32
# tokens ([CLS] and [SEP] included; batch 1, 1 thread) from C, next to quire.Model.embed of the same text from
# Python (ctypes), same model, same run, alternating rounds; medians of per-call times.
# Usage: sh bench/python/run.sh [MODEL_DIR] [CALLS]   (default: the MiniLM-shaped model)
set -eu
cd "$(dirname "$0")/../.."
M=${1:-build/models/minilm}
N=${2:-2000}
[ -e build/libquire.so ] || make -j2 lib
[ -d "$M" ] || make models
mkdir -p build/bench
cc -O2 -Iinclude -o build/bench/py_overhead bench/python/overhead.c -Lbuild -lquire -Wl,-rpath,"$PWD/build"
TEXT="the lighthouse keeper climbed the stairs at dusk to light the great lamp, whose lens of glass prisms threw the beam far out over the dark night sea"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-22s %-22s %s\n' round "C quire_embed (us)" "Python Model.embed (us)" overhead
for r in 1 2 3 4 5; do
    c=$(build/bench/py_overhead "$M" "$TEXT" "$N")
    p=$(QUIRE_LIBRARY="$PWD/build/libquire.so" PYTHONPATH=python /usr/bin/python3 - "$M" "$TEXT" "$N" <<'PY'
import sys, time, statistics, quire
m = quire.Model(sys.argv[1]); t = sys.argv[2]; n = int(sys.argv[3])
for _ in range(20): m.embed(t)
ts = []
for _ in range(n):
    t0 = time.perf_counter(); v, k = m.embed(t, return_tokens=True); ts.append((time.perf_counter() - t0) * 1e6)
print("%.2f %.2f %d" % (statistics.median(ts), sum(ts) / n, k))
PY
)
    set -- $c; cm=$1; ctok=$3
    set -- $p; pm=$1
    printf '%-8s %-22s %-22s %s\n' "$r" "$cm (median)" "$pm (median)" \
        "$(echo "$cm $pm" | awk '{ printf "%+.1f%%", ($2 - $1) / $1 * 100 }')"
done
echo "tokens per text: $ctok"
