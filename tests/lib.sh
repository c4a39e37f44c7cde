# tests/lib.sh — shared preamble of the CLI tests in tests/cli/*.sh (sourced, not run):
# Q = the quire binary, SHARED/C = test data, T = a scratch dir removed at exit, and the
# PASS/FAIL printers that tests/run.sh counts.
Q=${QUIRE_BIN:-build/quire}
SHARED=${QUIRE_SHARED:-../shared}
C=$SHARED/corpus
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# bf16/int8 models write their packed-weight cache here, not in the user's ~/.cache
export QUIRE_CACHE_DIR="${QUIRE_CACHE_DIR:-$T/pack-cache}"
# the user's own defaults must not leak into the tests (tests/cli/env_defaults.sh sets them)
unset QUIRE_DB QUIRE_MODEL
ok() { echo "PASS $1"; }
bad() { echo "FAIL $1${2:+: $2}"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
