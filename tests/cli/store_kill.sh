#!/bin/sh
# tests/cli/store_kill.sh — crash safety of ingest: 12 trials of `quire ingest` (with
# vectors from the tiny test model, so chunks, FTS rows, vectors and the HNSW graph are
# all in play) killed with SIGKILL at a random moment. After each kill: the store opens,
# PRAGMA integrity_check is ok, no half-ingested document is visible (every document
# has its chunks, every chunk its FTS row and vector), and every document committed
# before the kill is still there after a re-run, which completes the rest. ~40 s.
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
MODEL=$SHARED/models/tiny
TRIALS=${QUIRE_KILL_TRIALS:-12}

mkdir -p "$T/in"
# ~20 small-to-medium documents: PDFs of the corpus plus Markdown files
for f in tables-tabularx tables-makecell odd-rotated-seminar paper2col-els5p paper2col-jacow \
         paper2col-apssamp tables-mdwtab; do
    [ -f "$C/born/$f.pdf" ] && cp "$C/born/$f.pdf" "$T/in/"
done
i=0
while [ $i -lt 12 ]; do
    { echo "# Note $i"; echo; j=0; while [ $j -lt 40 ]; do
          echo "Paragraph $j of note $i talks about topic$i and item$j at some length."; echo; j=$((j+1)); done; } > "$T/in/note$i.md"
    i=$((i+1))
done
N=$(ls "$T/in" | wc -l)

# Reference duration of a full run, to spread the kill times over it.
start=$(date +%s%N)
"$Q" ingest -q --db "$T/ref.db" --model "$MODEL" --jobs 2 "$T/in" 2>/dev/null
full_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "full ingest of $N documents: $full_ms ms"

cat > "$T/verify.py" <<'EOF2'
import sqlite3, sys
db = sys.argv[1]
c = sqlite3.connect(db)
assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check"
# killed before the schema's transaction committed: an empty file, nothing committed yet
if c.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
    sys.exit(0)
c.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 1)")
docs = c.execute("SELECT id, path, sha256 FROM documents").fetchall()
empty = c.execute("SELECT count(*) FROM documents d WHERE NOT EXISTS"
                  " (SELECT 1 FROM chunks WHERE document_id = d.id)").fetchone()[0]
assert empty == 0, "%d documents without chunks" % empty
novec = c.execute("SELECT count(*) FROM chunks ch WHERE NOT EXISTS (SELECT 1 FROM vectors v"
                  " WHERE v.chunk_id = ch.id)").fetchone()[0]
assert novec == 0, "%d chunks without a vector" % novec
for p, sha in sorted((d[1], d[2]) for d in docs):
    print(p, sha)
EOF2

corrupt=0; lost=0; halfdone=0; unfinished=0; killed=0; trial=1; attempt=0
while [ $trial -le $TRIALS ] && [ $attempt -lt $((TRIALS * 3)) ]; do
    attempt=$((attempt+1))
    db=$T/k$trial.db
    rm -f "$db" "$db-wal" "$db-shm"
    # random kill time in [5 %, 95 %] of a full run (shorter when a kill came too late)
    delay_ms=$($PY -c "import random; r = random.Random(1000 + $attempt); print(int($full_ms * (0.05 + 0.9 * r.random()) / (1 + $attempt - $trial)))")
    "$Q" ingest -q --db "$db" --model "$MODEL" --jobs 2 "$T/in" 2>/dev/null &
    pid=$!
    sleep "$(awk -v d=$delay_ms 'BEGIN{printf "%.3f", d/1000}')"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    wrc=$?
    if [ $wrc -ne 137 ]; then
        echo "attempt $attempt: ingest finished before the kill at $delay_ms ms; again, earlier"
        continue
    fi
    if ! $PY "$T/verify.py" "$db" > "$T/before" 2> "$T/verr"; then
        echo "trial $trial: after kill at $delay_ms ms: $(tail -1 "$T/verr")"
        corrupt=$((corrupt+1)); trial=$((trial+1)); continue
    fi
    killed=$((killed+1))
    n_before=$(wc -l < "$T/before")
    "$Q" ingest --db "$db" --model "$MODEL" --jobs 2 "$T/in" > /dev/null 2> "$T/rerun"
    rc=$?
    if ! $PY "$T/verify.py" "$db" > "$T/after" 2> "$T/verr"; then
        echo "trial $trial: after re-run: $(tail -1 "$T/verr")"
        corrupt=$((corrupt+1)); trial=$((trial+1)); continue
    fi
    # every document committed before the kill is still there, unchanged
    missing=$(comm -23 "$T/before" "$T/after" | wc -l)
    lost=$((lost + missing))
    n_after=$(wc -l < "$T/after")
    [ $rc -eq 0 ] && [ "$n_after" -eq "$N" ] || unfinished=$((unfinished+1))
    grep -q "($((N - n_before)) added, 0 updated, $n_before unchanged, 0 failed)" "$T/rerun" || halfdone=$((halfdone+1))
    echo "trial $trial: killed at $delay_ms ms with $n_before/$N documents committed; re-run exit $rc, $n_after/$N"
    trial=$((trial+1))
done
check "kill -9 trials: $killed of $TRIALS runs killed mid-ingest (>= 10)" [ $killed -ge 10 ]
check "0 corrupt stores (integrity_check, FTS check, no half-ingested document)" [ $corrupt -eq 0 ]
check "0 lost committed documents" [ $lost -eq 0 ]
check "re-run skips exactly the committed documents and adds the rest" [ $halfdone -eq 0 ]
check "every re-run finishes all $N documents" [ $unfinished -eq 0 ]
# the store of the last trial answers searches (graph repaired/loaded after the crash)
"$Q" search --db "$T/k$((trial-1)).db" --mode vector --model "$MODEL" --json -k 3 "topic3 item5" > "$T/s" 2>&1
check "after crash + re-run: vector search answers" grep -q '"document"' "$T/s"
