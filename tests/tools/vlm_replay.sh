# tests/tools/vlm_replay.sh — sourced (POSIX sh) by the tests and benchmarks that run the
# replaying VLM server (tests/tools/vlm_replay.c, built as BUILD/tests/vlm_replay by
# `make tests`): tests/cli/vlm.sh, vlm_auto.sh, vlm_regions.sh, python_vlm.sh and
# bench/vlm/run.sh, batch.sh. The caller sets R (the vlm_replay binary) and T (its scratch
# directory, removed at exit) before sourcing; sourcing installs the EXIT trap that stops
# every server started and removes T.
#   serve NAME ARGS...  start a server (ARGS: vlm_replay's --flavor, --script, ...) with its
#                       port file T/NAME.port and request log T/NAME.log; waits (10 s at
#                       most) for the port, sets PORT; returns 1 with a message if it never
#                       came. Not in a $(...): the server would hold the pipe open.
#   stop_all            stop every server started so far (and wait for them)
#   reqs NAME           the number of requests in T/NAME.log
: "${R:?vlm_replay.sh: set R (the vlm_replay binary) first}" "${T:?vlm_replay.sh: set T first}"
PIDS=""
PORT=""
trap 'stop_all; rm -rf "$T"' EXIT
serve() {
    n=$1; shift
    rm -f "$T/$n.port" "$T/$n.log"
    "$R" --port-file "$T/$n.port" --log "$T/$n.log" "$@" > /dev/null 2>&1 &
    PIDS="$PIDS $!"
    i=0
    while [ ! -s "$T/$n.port" ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
    PORT=$(cat "$T/$n.port" 2> /dev/null)
    [ -n "$PORT" ] || { echo "vlm_replay.sh: $R $* wrote no port in 10 s" >&2; return 1; }
}
stop_all() { for p in $PIDS; do kill "$p" 2> /dev/null; done; wait 2> /dev/null; PIDS=""; }
reqs() { n=$(grep -c '"kind"' "$T/$1.log" 2> /dev/null); echo "${n:-0}"; }
