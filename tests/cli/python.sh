#!/bin/sh
# tests/cli/python.sh — the Python binding (python/quire, ctypes over build/libquire.so)
# with Debian's python3 + numpy: tests/python/test_binding.py, run from the source tree and
# again after `pip install --target` of ./python (no network, no compiler at install).
. "$(dirname "$0")/../lib.sh"
B=$(dirname "$Q")
if [ ! -e "$B/libquire.so" ]; then
    echo "note: $B has no shared library (sanitizer/static build); the binding is tested on build/"
    exit 0
fi
PY=/usr/bin/python3
cc -Iinclude -o "$T/layout" tests/python/layout.c && "$T/layout" > "$T/layout.txt"
check "layout program (offsetof of quire.h)" [ -s "$T/layout.txt" ]
export QUIRE_SHARED="$SHARED" QUIRE_BIN="$Q" QUIRE_LIBRARY="$(cd "$B" && pwd)/libquire.so" T LAYOUT="$T/layout.txt"
PYTHONPATH=python $PY tests/python/test_binding.py; rc=$?
check "test_binding.py from the source tree exits 0" [ $rc -eq 0 ]
$PY -m pip install -q --no-build-isolation --no-deps --no-index --target "$T/site" ./python \
    > "$T/pip.log" 2>&1; rc=$?
rm -rf python/build python/quire.egg-info
check "pip install --target ./python (offline)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || cat "$T/pip.log"
(cd "$T" && PYTHONPATH="$T/site" $PY -c 'import quire, sys; print(quire.version()); sys.exit(0 if quire.__file__.startswith(sys.argv[1]) else 1)' "$T/site") > "$T/v" 2>&1
check "the installed package imports and finds the library ($(cat "$T/v"))" grep -qx "0.1.0" "$T/v"
