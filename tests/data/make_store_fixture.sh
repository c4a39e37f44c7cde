#!/bin/sh
# tests/data/make_store_fixture.sh — how tests/data/store-v1.db was made (schema version 1,
# quire 0.1.0). Do NOT regenerate it when the schema changes: the point of the fixture is
# that stores written by this release stay readable by later ones (tests/cli/store.sh).
set -eu
Q=$(pwd)/build/quire
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
printf '# The lighthouse keeper\n\nThe lighthouse keeper climbed the tower at dusk to light the lamp.\n\n## Logbook\n\nWind north-west, visibility good, two ships passed.\n' > lighthouse.md
printf '# Garden\n\nTomatoes need sun, water and patience.\n' > garden.md
"$Q" ingest -q --db store-v1.db --collection fixture --model "$OLDPWD/examples/tiny-bert" lighthouse.md garden.md
sqlite3 store-v1.db "PRAGMA wal_checkpoint(TRUNCATE); VACUUM;"
cp store-v1.db "$OLDPWD/tests/data/store-v1.db"
