#!/usr/bin/env bash
# A PostgreSQL server for mosaico's catalog, for tests and for trying the scale-out path on
# a laptop. Not for production: it trusts every connection (it listens on 127.0.0.1 and on
# a unix socket inside DIR only).
#
# Usage:   deploy/postgres.sh start|stop|env DIR [PORT]
#
#   start  create the cluster in DIR/data on the first run (initdb) or reuse the one there,
#          start the server on 127.0.0.1:PORT and create the database `mosaico`.
#   stop   stop the server (nothing happens when none runs); the data stays in DIR.
#          `rm -rf DIR` afterwards throws it away.
#   env    print `export ...` lines: eval "$(deploy/postgres.sh env DIR PORT)" sets
#          MOSAICO_CATALOG (the URL `mosaico serve --catalog` takes) and the PG* variables
#          psql and libpq read.
#
# PORT defaults to 15432. DIR holds the data (DIR/data), the socket (DIR/run) and the log
# (DIR/log/postgres.log). The database superuser is `mosaico`; fsync stays on (default).
#
# PostgreSQL refuses to run as root: when this script is run by root, the server runs as
# the `postgres` user (made by the Debian package; `nobody` when there is none), which then
# owns DIR. That user must be able to reach DIR: pick a DIR whose parents it may enter
# (e.g. under /tmp, not under /root).
#
# Needs initdb, pg_ctl and psql from the Debian package `postgresql` (any version from 13):
# found in PG_BIN if set, else the newest /usr/lib/postgresql/*/bin, else PATH.
set -euo pipefail

PGUSER_NAME=mosaico
DATABASE=mosaico

usage() {
    echo "usage: $0 start|stop|env DIR [PORT]" >&2
    exit 2
}

[ $# -ge 2 ] || usage
action=$1
[ "$action" != start ] || mkdir -p "$2"
DIR=$(cd "$2" 2>/dev/null && pwd) || DIR=$2 # stop and env need no folder
PORT=${3:-15432}
DATA=$DIR/data

die() {
    echo "postgres: $*" >&2
    exit 1
}

# The folder holding initdb, pg_ctl and psql, or a clear error naming what is missing.
find_bin() {
    local candidate
    if [ -n "${PG_BIN:-}" ]; then
        [ -x "$PG_BIN/pg_ctl" ] || die "PG_BIN=$PG_BIN holds no pg_ctl"
        echo "$PG_BIN"
        return
    fi
    # The newest installed major version (Debian installs each under its own folder).
    candidate=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k4 -n | tail -n 1)
    if [ -x "$candidate/pg_ctl" ]; then
        echo "$candidate"
    elif command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(command -v pg_ctl)"
    else
        die "pg_ctl and initdb not found: install the Debian package 'postgresql'" \
            "(apt-get install -y postgresql), or set PG_BIN to the folder holding them"
    fi
}

# The unprivileged user the server runs as (empty: the current user, who is not root).
RUN_AS=
if [ "$(id -u)" = 0 ]; then
    RUN_AS=nobody
    id postgres >/dev/null 2>&1 && RUN_AS=postgres
    command -v runuser >/dev/null || die "runuser not found (Debian package 'util-linux')"
fi

# Run a command as the server's user.
as_pg() {
    if [ -z "$RUN_AS" ]; then
        "$@"
    else
        runuser -u "$RUN_AS" -- "$@"
    fi
}

running() {
    [ -f "$DATA/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
    mkdir -p "$DIR/run" "$DIR/log"
    if [ -n "$RUN_AS" ]; then
        chown "$RUN_AS" "$DIR" "$DIR/run" "$DIR/log"
        [ ! -d "$DATA" ] || chown -R "$RUN_AS" "$DATA"
        as_pg test -w "$DIR" ||
            die "the user '$RUN_AS' (the server cannot run as root) cannot write in $DIR:" \
                "give a DIR whose parent folders it may enter, e.g. under /tmp"
    fi
    if [ ! -f "$DATA/PG_VERSION" ]; then
        [ ! -e "$DATA" ] || [ -z "$(ls -A "$DATA")" ] ||
            die "$DATA exists and is not a PostgreSQL cluster: give another DIR"
        as_pg "$BIN/initdb" -D "$DATA" -U "$PGUSER_NAME" --auth=trust -E UTF8 --no-locale \
            >"$DIR/log/initdb.log" 2>&1 || die "initdb failed, see $DIR/log/initdb.log"
    fi
    if ! running; then
        # Address, port and socket given on each start, so a restart may change PORT.
        as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DIR/log/postgres.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR/run" start >/dev/null ||
            die "the server did not start, see $DIR/log/postgres.log"
    fi
    local psql=("$BIN/psql" -h "$DIR/run" -p "$PORT" -U "$PGUSER_NAME" -d postgres -qtAX)
    if [ -z "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
        "${psql[@]}" -c "CREATE DATABASE $DATABASE" >/dev/null
    fi
    echo "postgres: listening on 127.0.0.1:$PORT (database '$DATABASE'), data in $DATA" >&2
}

stop() {
    if running; then
        as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
    fi
}

print_env() {
    cat <<EOF
export MOSAICO_CATALOG=postgresql://$PGUSER_NAME@127.0.0.1:$PORT/$DATABASE
export PGHOST=127.0.0.1
export PGPORT=$PORT
export PGUSER=$PGUSER_NAME
export PGDATABASE=$DATABASE
EOF
}

case $action in
start)
    BIN=$(find_bin)
    start
    ;;
stop)
    BIN=$(find_bin)
    stop
    ;;
env) print_env ;;
*) usage ;;
esac
