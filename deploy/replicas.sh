#!/usr/bin/env bash
# Several `mosaico serve` replicas over one catalog and one chunk storage, behind HAProxy:
# one address for every client. The deployment to copy: the replicas are stateless (all
# state is in the catalog and the chunk storage), so any of them serves any request, and
# HAProxy spreads client connections over them and stops sending new ones to a replica
# that has died.
#
# Usage:   deploy/replicas.sh start|stop|env DIR [REPLICAS] [PORT]
#
#   start  start REPLICAS servers (default 3) on 127.0.0.1:PORT+1 ... PORT+REPLICAS and
#          HAProxy on 127.0.0.1:PORT (default 6726), and wait until all of them listen.
#   stop   stop HAProxy and every replica (nothing happens when none runs).
#   env    print `export MOSAICO_HOST=... MOSAICO_PORT=...`: the one address of the platform
#          for `mosaico` commands and `MosaicoClient.from_env()`.
#
# What the replicas serve comes from the environment, as `mosaico serve` reads it:
#   MOSAICO_SERVE_STORE  the chunk storage: s3://BUCKET/PREFIX (AWS_* variables give the
#                    endpoint and keys) or a folder every replica sees.
#   MOSAICO_CATALOG      the shared catalog: postgresql://USER@HOST:PORT/DB.
# deploy/postgres.sh and deploy/ceph-rgw.sh `env` print both for a local trial.
# MOSAICO_SERVE_ARGS adds options to every replica (e.g. "--server-lease 5 --no-fsync");
# MOSAICO_PYTHON is the interpreter that runs `python -m mosaico` (default: python3).
#
# HAProxy balances TCP connections (gRPC runs over one HTTP/2 connection per client, so a
# client stays on one replica until it reconnects). A replica that stops answering is
# taken out within about 2 s (health checks every 1 s, 2 failures); a connection that
# cannot reach one is retried on another (`option redispatch 1`). Long reads and uploads
# are streams: the timeouts are an hour.
#
# Needs the Debian package `haproxy` (apt-get install -y haproxy).
set -euo pipefail

usage() {
    echo "usage: $0 start|stop|env DIR [REPLICAS] [PORT]" >&2
    exit 2
}

[ $# -ge 2 ] || usage
action=$1
[ "$action" != start ] || mkdir -p "$2"
DIR=$(cd "$2" 2>/dev/null && pwd) || DIR=$2
REPLICAS=${3:-3}
PORT=${4:-6726}
PYTHON=${MOSAICO_PYTHON:-python3}

die() {
    echo "replicas: $*" >&2
    exit 1
}

# Wait until something listens on 127.0.0.1:$1 (or fail after $2 seconds, quoting $3).
wait_listening() {
    local port=$1 seconds=$2 log=$3 i
    for i in $(seq $((seconds * 10))); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    [ -f "$log" ] && tail -n 20 "$log" >&2
    die "nothing listens on 127.0.0.1:$port after ${seconds}s (log: $log)"
}

write_haproxy_config() {
    {
        echo "global"
        echo "    maxconn 4096"
        echo "defaults"
        echo "    mode tcp"
        echo "    timeout connect 2s"
        echo "    timeout client 1h"
        echo "    timeout server 1h"
        echo "    timeout tunnel 1h"
        echo "    retries 3"
        echo "    option redispatch 1"
        echo "frontend mosaico"
        echo "    bind 127.0.0.1:$PORT"
        echo "    default_backend replicas"
        echo "backend replicas"
        echo "    balance roundrobin"
        for i in $(seq "$REPLICAS"); do
            echo "    server replica$i 127.0.0.1:$((PORT + i)) check inter 1s fall 2 rise 1"
        done
    } >"$DIR/haproxy.cfg"
}

start() {
    command -v haproxy >/dev/null || die "haproxy not found: apt-get install -y haproxy"
    [ -n "${MOSAICO_SERVE_STORE:-}" ] || die "set MOSAICO_SERVE_STORE (s3://BUCKET/PREFIX or a folder)"
    [ -n "${MOSAICO_CATALOG:-}" ] || die "set MOSAICO_CATALOG (postgresql://...): replicas share it"
    local i log
    for i in $(seq "$REPLICAS"); do
        log=$DIR/replica$i.log
        # shellcheck disable=SC2086 # MOSAICO_SERVE_ARGS is a list of options
        nohup "$PYTHON" -m mosaico serve --store "$MOSAICO_SERVE_STORE" --catalog "$MOSAICO_CATALOG" \
            --port $((PORT + i)) ${MOSAICO_SERVE_ARGS:-} >"$log" 2>&1 &
        echo $! >"$DIR/replica$i.pid"
    done
    for i in $(seq "$REPLICAS"); do
        wait_listening $((PORT + i)) 60 "$DIR/replica$i.log"
    done
    write_haproxy_config
    haproxy -c -q -f "$DIR/haproxy.cfg" || die "haproxy refused $DIR/haproxy.cfg"
    haproxy -D -f "$DIR/haproxy.cfg" -p "$DIR/haproxy.pid" 2>"$DIR/haproxy.log"
    wait_listening "$PORT" 10 "$DIR/haproxy.log"
    echo "replicas: $REPLICAS replicas behind 127.0.0.1:$PORT (logs in $DIR)" >&2
}

# Stop the process whose pid is in file $1, if it runs.
stop_pid() {
    local file=$1 pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

stop() {
    local file
    stop_pid "$DIR/haproxy.pid"
    for file in "$DIR"/replica*.pid; do
        [ -e "$file" ] && stop_pid "$file"
    done
    return 0
}

case $action in
start) start ;;
stop) stop ;;
env) echo "export MOSAICO_HOST=127.0.0.1 MOSAICO_PORT=$PORT" ;;
*) usage ;;
esac
