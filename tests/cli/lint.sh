#!/bin/sh
# tests/cli/lint.sh — runs the checksrc-style lint (tests/lint.sh) as part of the suite;
# tests/run.sh counts its PASS/FAIL lines. The library checked is $QUIRE_BUILD/libquire.a.
exec sh "$(dirname "$0")/../lint.sh"
