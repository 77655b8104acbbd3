#!/usr/bin/env bash
# A single-node Ceph cluster with a real S3 endpoint (the RADOS Gateway), for tests and for
# trying mosaico's object-store path on a laptop. Not for production: one monitor, one OSD
# on a sparse file, one copy of every object, no authentication between the daemons.
#
# Usage:   deploy/ceph-rgw.sh start|stop|env DIR [PORT]
#
#   start  create the cluster in DIR on the first run (or restart the one already there),
#          start the monitor, the OSD and the gateway, create the S3 user and the bucket
#          `mosaico`, and wait until the endpoint answers a signed S3 request.
#   stop   stop the daemons (nothing happens when none runs); the data stays in DIR.
#          `rm -rf DIR` afterwards throws the cluster away.
#   env    print `export ...` lines for the S3 client: eval "$(deploy/ceph-rgw.sh env DIR)"
#          (and MOSAICO_SERVE_STORE, the store deploy/replicas.sh serves: s3://mosaico/data)
#
# PORT (default 7480) is the S3 endpoint, http://127.0.0.1:PORT. The cluster uses the nine
# ports above it too: PORT+1 for the monitor, PORT+2..PORT+9 for the OSD. Everything the
# cluster owns lives in DIR (configuration, data, logs, sockets, pid files), so several
# clusters coexist given different DIRs and PORTs, and /etc/ceph and /var/lib/ceph are
# never touched. Every command is given `-c DIR/ceph.conf`.
#
# Needs the Debian packages ceph-mon ceph-osd radosgw ceph-common (tested with Ceph 16,
# Debian 12) and curl. Runs as any user, root included (the daemons then stay root:
# nothing here asks them to switch user). Ready in about 20 s on the first start, 5 s on
# a restart. Memory: about 120 MB for the three daemons idle, 250 MB under load (the OSD's
# cache is capped below); disk: the OSD's file is sparse (16 GiB at most, real use grows
# with the data).
set -euo pipefail

# Fixed credentials of the local S3 user: this cluster listens on 127.0.0.1 only.
ACCESS_KEY=MOSAICOLOCALACCESSKEY
SECRET_KEY=mosaico-local-secret-key-not-for-production
BUCKET=mosaico
REGION=us-east-1 # RGW's default zonegroup accepts it without a location constraint
OSD_FILE_BYTES=$((16 * 1024 * 1024 * 1024))
READY_SECONDS=${CEPH_RGW_READY_SECONDS:-120}

usage() {
    echo "usage: $0 start|stop|env DIR [PORT]" >&2
    exit 2
}

[ $# -ge 2 ] || usage
action=$1
[ "$action" != start ] || mkdir -p "$2"
DIR=$(cd "$2" 2>/dev/null && pwd) || DIR=$2 # stop and env need no folder
PORT=${3:-7480}
MON_PORT=$((PORT + 1))
CONF=$DIR/ceph.conf
ENDPOINT=http://127.0.0.1:$PORT

die() {
    echo "ceph-rgw: $*" >&2
    exit 1
}

# die, showing the end of a daemon's log first.
die_log() {
    local log=$DIR/log/$1.log
    shift
    [ ! -f "$log" ] || tail -n 15 "$log" >&2
    die "$* (log: $log)"
}

# Every binary this script runs, with the Debian package that installs it.
require_tools() {
    local pair
    for pair in ceph-mon:ceph-mon monmaptool:ceph-mon ceph-osd:ceph-osd radosgw:radosgw \
        radosgw-admin:ceph-common ceph:ceph-common curl:curl uuidgen:uuid-runtime; do
        command -v "${pair%%:*}" >/dev/null ||
            die "'${pair%%:*}' not found: install the Debian package '${pair##*:}'" \
                "(apt-get install -y ceph-mon ceph-osd radosgw ceph-common curl uuid-runtime)"
    done
}

write_conf() {
    cat >"$CONF" <<EOF
# Written by deploy/ceph-rgw.sh: a one-node cluster living in $DIR.
[global]
fsid = $1
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind port min = $((PORT + 2))
ms bind port max = $((PORT + 9))
# No cephx between daemons and clients: everything listens on the loopback only.
auth cluster required = none
auth service required = none
auth client required = none
# Without keys the monitor link cannot be encrypted: gateways (daemons of the client kind)
# default to "secure" only and would then never connect.
ms mon client mode = crc
# Everything inside DIR, nothing under /etc/ceph, /var/lib/ceph, /var/run/ceph, /var/log.
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
crash dir = $DIR/crash
keyring = $DIR/keyring
mon data = $DIR/mon/\$id
osd data = $DIR/osd/\$id
# One copy of everything, placed on the one OSD; few placement groups (RGW makes about
# ten pools), no autoscaler (it lives in ceph-mgr, which is not run).
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000

[osd]
osd objectstore = bluestore
bluestore block create = true
bluestore block size = $OSD_FILE_BYTES
# A small fixed cache instead of the default 4 GiB memory target.
bluestore cache autotune = false
bluestore cache size = 67108864
osd op num shards = 2
osd op num threads per shard = 2

[client.rgw.a]
# tcp_nodelay: without it every reply with a body (GET, the XML of a multipart upload's
# start and end) waits about 40 ms for the client's delayed ACK (Nagle's algorithm):
# a small PUT took 170 ms and a GET 50 ms instead of 25 ms and 3 ms.
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw data = $DIR/rgw
rgw thread pool size = 32
rgw enable usage log = false
EOF
}

# The daemon's pid if it runs (its pid file names a live process), else nothing.
running_pid() {
    local file=$DIR/run/$1.pid pid
    [ -f "$file" ] || return 1
    pid=$(cat "$file")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# A daemon started in the background (it forks once ready to serve); its start-up chatter
# goes to DIR/log/NAME.start.log, shown if it fails.
launch() {
    local name=$1
    shift
    "$@" >"$DIR/log/$name.start.log" 2>&1 || {
        cat "$DIR/log/$name.start.log" >&2
        die_log "$name" "'$*' failed"
    }
}

# A new cluster in an empty DIR (or one a first `start` left half-made: no user data yet).
bootstrap() {
    local fsid osd_uuid osd_id
    stop
    rm -rf "${DIR:?}"/{mon,osd,rgw,run,log,crash,monmap,keyring,ceph.conf}
    mkdir -p "$DIR"/{mon,osd/0,rgw,run,log,crash}
    fsid=$(uuidgen)
    write_conf "$fsid"
    : >"$DIR/keyring" # no keys (cephx is off), but the tools want the file
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
    launch mon.a-mkfs ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
    launch mon.a ceph-mon -c "$CONF" -i a
    osd_uuid=$(uuidgen)
    osd_id=$(ceph -c "$CONF" --connect-timeout 30 osd new "$osd_uuid")
    [ "$osd_id" = 0 ] || die "the monitor gave the OSD id '$osd_id', expected 0"
    # BlueStore on DIR/osd/0/block, a sparse file of OSD_FILE_BYTES.
    launch osd.0-mkfs ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid"
}

# A signed S3 request: s3 METHOD PATH [curl options]; prints the HTTP status. (RGW wants
# the payload hash header, which curl does not send by itself.)
s3() {
    local method=$1 path=$2
    shift 2
    curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X "$method" \
        --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" "$ENDPOINT$path"
}

wait_ready() {
    local deadline=$((SECONDS + READY_SECONDS)) code
    while :; do
        code=$(s3 GET / || true)
        [ "$code" = 200 ] && return 0
        [ -n "$(running_pid client.rgw.a)" ] || die_log client.rgw.a "the gateway exited"
        [ $SECONDS -lt $deadline ] || die "no S3 answer at $ENDPOINT after ${READY_SECONDS}s" \
            "(last HTTP status $code), see the logs in $DIR/log"
        sleep 0.2
    done
}

start() {
    require_tools
    if [ -f "$DIR/ready" ] && ! grep -q "127.0.0.1:$MON_PORT" "$CONF"; then
        die "$DIR holds a cluster made for another PORT: give that PORT, or remove $DIR"
    fi
    if [ -n "$(running_pid client.rgw.a || true)" ]; then
        wait_ready # already started
        return 0
    fi
    if [ -f "$DIR/ready" ]; then # a cluster made by an earlier start: restart it
        [ -n "$(running_pid mon.a || true)" ] || launch mon.a ceph-mon -c "$CONF" -i a
    elif [ -f "$CONF" ] || [ -z "$(ls -A "$DIR")" ]; then
        bootstrap
    else
        die "$DIR is neither empty nor a cluster made by this script: give another DIR"
    fi
    [ -n "$(running_pid osd.0 || true)" ] || launch osd.0 ceph-osd -c "$CONF" -i 0
    launch client.rgw.a radosgw -c "$CONF" -n client.rgw.a
    if [ ! -f "$DIR/ready" ]; then
        # Waits for the pools the gateway creates on its first start (a few seconds).
        radosgw-admin -c "$CONF" user create --uid mosaico --display-name "mosaico local" \
            --access-key "$ACCESS_KEY" --secret "$SECRET_KEY" >"$DIR/log/user-create.log" ||
            die "creating the S3 user failed, see $DIR/log/user-create.log"
    fi
    wait_ready
    local code
    code=$(s3 PUT "/$BUCKET")
    case $code in
    200 | 409) ;; # created, or already there
    *) die "creating the bucket '$BUCKET' answered HTTP $code" ;;
    esac
    # The first object makes the gateway create its data pool (a few seconds): pay that
    # here, not in the first upload of a user.
    code=$(s3 PUT "/$BUCKET/.probe" --data-binary ok)
    [ "$code" = 200 ] || die "writing an object to '$BUCKET' answered HTTP $code"
    code=$(s3 DELETE "/$BUCKET/.probe")
    [ "$code" = 204 ] || die "deleting an object from '$BUCKET' answered HTTP $code"
    touch "$DIR/ready"
    echo "ceph-rgw: S3 endpoint $ENDPOINT ready (bucket '$BUCKET'), data in $DIR" >&2
}

stop() {
    local name pid
    # The gateway first, the monitor last (the OSD tells it that it is going down); each
    # takes about 2 s, and gets SIGKILL after 10 s.
    for name in client.rgw.a osd.0 mon.a; do
        pid=$(running_pid "$name" || true)
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$DIR/run/$name.pid"
    done
}

print_env() {
    cat <<EOF
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=$REGION
export AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED
export AWS_RESPONSE_CHECKSUM_VALIDATION=WHEN_REQUIRED
export AWS_EC2_METADATA_DISABLED=true
export MOSAICO_SERVE_STORE=s3://$BUCKET/data
EOF
}

case $action in
start) start ;;
stop) stop ;;
env) print_env ;;
*) usage ;;
esac
