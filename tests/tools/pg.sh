# tests/tools/pg.sh — a throwaway PostgreSQL server for the tests (sourced after
# tests/lib.sh, which sets T and the PASS/FAIL printers).
#
#   pg_start      initdb into a fresh temp dir, start postgres on a Unix socket in that
#                 dir (listen_addresses='': no TCP), create database "quire"; sets
#                 PGURL (postgresql://postgres@/quire?host=DIR&port=PORT), PGDIR, PGPORT
#                 and PSQL (psql -X -q -A -t on it). Returns 1 with a reason when
#                 PostgreSQL is not installed (the caller prints FAIL: .ci/setup installs it).
#   pg_stop       stop it (-m fast) and remove the dir; pg_start arranges this at exit.
#   pg_crash      stop it with -m immediate (a crash: no checkpoint, redo on start).
#   pg_restart    start it again on the same dir and port.
#
# postgres refuses to run as root. As root (the CI runs the suite as root), the server
# runs as the `postgres` user that Debian's postgresql-common creates (falling back to
# `nobody`), via runuser, in a temp dir that user owns; the tests stay root and connect
# over the socket as database user postgres (trust auth, local only). As any other user
# the server simply runs as that user. Nothing of Debian's own cluster (systemd,
# /var/lib/postgresql) is used or touched.
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PGDIR=
PGPORT=
PGURL=

pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_RUNAS" -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
        echo "pg_start: PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin; run .ci/setup)" >&2
        return 1
    fi
    PG_RUNAS=
    if [ "$(id -u)" -eq 0 ]; then
        if id postgres >/dev/null 2>&1; then PG_RUNAS=postgres; else PG_RUNAS=nobody; fi
    fi
    PGDIR=$(mktemp -d /tmp/quire-pg-XXXXXX) || return 1
    [ -n "$PG_RUNAS" ] && chown "$PG_RUNAS" "$PGDIR"
    chmod 755 "$PGDIR"
    # a free port number: it only names the socket file (no TCP listener)
    PGPORT=$(( 20000 + $$ % 20000 ))
    while [ -e "$PGDIR/.s.PGSQL.$PGPORT" ]; do PGPORT=$((PGPORT + 1)); done
    if ! pg_as "$PG_BIN/initdb" -D "$PGDIR/data" -A trust -U postgres -E UTF8 \
            --locale=C.UTF-8 --no-sync >"$PGDIR/initdb.log" 2>&1; then
        echo "pg_start: initdb failed:" >&2; cat "$PGDIR/initdb.log" >&2
        return 1
    fi
    # small and quick: no fsync (the tests crash the server on purpose, but never the
    # machine), few connections are enough
    cat >>"$PGDIR/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$PGDIR'
port = $PGPORT
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 60
shared_buffers = 32MB
log_min_messages = warning
EOF
    trap 'pg_stop; rm -rf "$T"' EXIT
    pg_restart || return 1
    PGURL="postgresql://postgres@/quire?host=$PGDIR&port=$PGPORT"
    PSQL="psql -X -q -A -t -v ON_ERROR_STOP=1 -h $PGDIR -p $PGPORT -U postgres -d quire"
    psql -X -q -h "$PGDIR" -p "$PGPORT" -U postgres -d postgres -c 'CREATE DATABASE quire' \
        >/dev/null || return 1
    export PGURL PSQL PGDIR PGPORT
}

pg_restart() {
    if ! pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 start \
            >/dev/null 2>&1; then
        echo "pg_start: the server did not start:" >&2; tail -20 "$PGDIR/server.log" >&2
        return 1
    fi
}

pg_crash() {
    pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1
}

pg_stop() {
    [ -n "$PGDIR" ] && [ -d "$PGDIR/data" ] || return 0
    pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
        pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$PGDIR"
    PGDIR=
}

# pg_q SQL: one value (or rows, '|'-separated) from the test database
pg_q() { $PSQL -c "$1"; }
