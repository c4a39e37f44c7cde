#!/bin/sh
# bench/ingest/run.sh — end-to-end `quire ingest` of the born-digital corpus
# (../shared/corpus/born, 46 PDFs) per precision: pages/min and chunks/s, and where the
# time goes (convert / embed / store, summed over the documents from ingest's own per-document
# lines), so the table says what bounds each row. A benchmark, not a test.
#
#   sh bench/ingest/run.sh                         MiniLM shape, text-only + fp32 bf16 int8
#   MODELS="minilm nomic" sh bench/ingest/run.sh   also the full nomic-embed-v1.5 shape
#                                                  (547 MB of weights generated once; slow)
# Environment: QUIRE_SHARED (default ../shared), PRECISIONS ("fp32 bf16 int8"), JOBS (2,
# documents in parallel, one embedding thread each), CORPUS (default $QUIRE_SHARED/corpus/born),
# MODELS ("minilm"), TABLE_ONLY=1 (print the table of the last run). Results:
# build/bench/ingest/ (logs, table.md).
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1
SHARED=${QUIRE_SHARED:-../shared}
CORPUS=${CORPUS:-$SHARED/corpus/born}
PRECISIONS=${PRECISIONS:-"fp32 bf16 int8"}
MODELS=${MODELS:-minilm}
JOBS=${JOBS:-2}
w=build/bench/ingest
mkdir -p "$w"
if [ -z "${TABLE_ONLY:-}" ]; then
rm -f "$w"/*.log "$w"/*.db* "$w"/table.md
make -j2 cli models > /dev/null || exit 1
export QUIRE_CACHE_DIR="${QUIRE_CACHE_DIR:-$repo/$w/pack-cache}"
for m in $MODELS; do
    if [ "$m" = nomic ] && [ ! -f build/models/nomic-full/model.safetensors ]; then
        echo "run: generating build/models/nomic-full (547 MB, once)" >&2
        /usr/bin/python3 "$SHARED/models/ref/gen_nomic.py" nomic build/models/nomic-full.tmp >&2 &&
            cp "$SHARED"/models/tiny-nomic/vocab.txt "$SHARED"/models/tiny-nomic/tokenizer.json \
               build/models/nomic-full.tmp/ 2>/dev/null
        for f in "$SHARED"/models/nomic-random/*.json; do cp "$f" build/models/nomic-full.tmp/; done
        cp -r "$SHARED"/models/nomic-random/1_Pooling build/models/nomic-full.tmp/ 2>/dev/null
        rm -rf build/models/nomic-full && mv build/models/nomic-full.tmp build/models/nomic-full
    fi
done

run() { # name, args...
    name=$1; shift
    echo "run: quire ingest $* $CORPUS" >&2
    /usr/bin/time -f '%e %U %S' -o "$w/$name.time" \
        build/quire ingest --db "$w/$name.db" -c born --jobs "$JOBS" "$@" "$CORPUS" \
        > /dev/null 2> "$w/$name.log"
    echo "$?" > "$w/$name.rc"
}
run text
for m in $MODELS; do
    dir=build/models/minilm
    [ "$m" = nomic ] && dir=build/models/nomic-full
    for p in $PRECISIONS; do
        # a first open writes the packed-weight cache; time the ingest that uses it, as a user's
        # second and later runs would (the conversion costs ~0.1 s once)
        [ "$p" = fp32 ] || printf 'warm\n' | build/quire embed -q --model "$dir" --precision "$p" > /dev/null
        run "$m-$p" --model "$dir" --precision "$p"
    done
done

fi # TABLE_ONLY

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
{
echo "quire ingest of $(ls "$CORPUS" | grep -c '\.pdf$') PDFs ($CORPUS), --jobs $JOBS, $cpu, $(nproc) cores; $(build/quire info | grep '^precision kernels'); 1-min load average at the end $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| model | precision | pages | chunks | wall (s) | pages/min | chunks/s | chunks/s ÷ fp32 | CPU (s) | chunks per CPU-s ÷ fp32 | convert | embed | store | bound by |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for f in "$w"/text.log $(for m in $MODELS; do for p in $PRECISIONS; do echo "$w/$m-$p.log"; done; done); do
    name=$(basename "$f" .log)
    [ -f "$f" ] || continue
    model=${name%-*}; prec=${name##*-}
    [ "$name" = text ] && model="(text only)" && prec="—"
    wall=$(cut -d' ' -f1 "$w/$name.time" 2>/dev/null)
    cpus=$(awk '{ printf "%.1f", $2 + $3 }' "$w/$name.time" 2>/dev/null)
    awk -v model="$model" -v prec="$prec" -v wall="$wall" -v rc="$(cat "$w/$name.rc")" -v name="$cpus" '
        /^ingest: \[/ {
            if (match($0, /, [0-9]+ pages/)) pages += substr($0, RSTART + 2, RLENGTH - 8)
            if (match($0, /, [0-9]+ chunks \(/)) chunks += substr($0, RSTART + 2, RLENGTH - 10)
            if (match($0, /convert [0-9]+/)) cv += substr($0, RSTART + 8, RLENGTH - 8)
            if (match($0, /embed [0-9]+/)) em += substr($0, RSTART + 6, RLENGTH - 6)
            if (match($0, /store [0-9]+/)) st += substr($0, RSTART + 6, RLENGTH - 6)
        }
        END {
            t = cv + em + st; if (t <= 0) t = 1
            b = "convert"; if (em > cv && em >= st) b = "embed"; else if (st > cv && st > em) b = "store"
            cps = 0; ppm = 0
            if (wall > 0) { cps = chunks / wall; ppm = pages * 60 / wall }
            bad = ""
            if (rc != 0) bad = " (exit " rc ")"
            printf("%s|%s|%d|%d|%.1f|%.0f|%.1f|%s|%.0f %%|%.0f %%|%.0f %%|%s%s\n", model, prec,
                pages, chunks, wall, ppm, cps, name, 100 * cv / t, 100 * em / t, 100 * st / t, b, bad)
        }' "$f"
done | awk -F'|' '
    { rows[NR] = $0; n = split($0, f, "|"); if (f[2] == "fp32") { base[f[1]] = f[7]; cbase[f[1]] = f[4] / f[8] } }
    END {
        for (i = 1; i <= NR; i++) {
            split(rows[i], f, "|")
            r = ""; rc = ""
            if ((f[1] in base) && base[f[1]] > 0 && f[2] != "—") {
                r = sprintf("%.2f×", f[7] / base[f[1]])
                if (f[8] > 0 && cbase[f[1]] > 0) rc = sprintf("%.2f×", f[4] / f[8] / cbase[f[1]])
            }
            printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7], r, f[8], rc, f[9], f[10], f[11], f[12])
        }
    }'
echo
echo "CPU (s): user + system time of the ingest process (all its threads); on a shared machine the steadier figure."
echo "convert / embed / store: shares of the per-document time ingest reports (summed over documents; with --jobs 2 two documents run at once). \"bound by\" is the largest share."
} | tee "$w/table.md"
