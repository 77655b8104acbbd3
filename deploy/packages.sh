#!/usr/bin/env bash
# The Debian packages the test suite's tiers use, installed where missing (one apt-get
# call, about 40 s when Ceph is missing; nothing when all are there). README's test command
# runs it first, so that command works on a fresh machine; run by a user who is not root,
# it asks sudo.
#
# - strace checks the order of fsyncs, renames and commits of a real `mosaico serve`; the
#   tests needing it skip, saying why, where it is missing.
# - postgresql, ceph-mon, ceph-osd, radosgw, ceph-common and haproxy are the scale tier
#   (tests/scale/services.py starts them through deploy/): a PostgreSQL catalog, a one-node
#   Ceph cluster with an S3 endpoint (curl checks it answers), and a load balancer in
#   front of several servers. The tests needing them fail, naming the missing package.
# - ffmpeg brings the FFmpeg libraries torchcodec loads to decode videos in LeRobot's test
#   environment (tests/lerobot/environment.py).
# - chromium is the browser Playwright drives through the web viewer's pages
#   (tests/viewer/test_browser.py); `playwright install` cannot download one here.
set -euo pipefail

packages=()
command -v strace >/dev/null || packages+=(strace)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || packages+=(postgresql)
for tool in ceph-mon ceph-osd radosgw haproxy curl ffmpeg chromium; do
    command -v "$tool" >/dev/null || packages+=("$tool")
done
command -v radosgw-admin >/dev/null || packages+=(ceph-common)
[ ${#packages[@]} -gt 0 ] || exit 0
if ! command -v apt-get >/dev/null; then
    echo "packages.sh: install ${packages[*]} with your system's package manager" >&2
    exit 0 # the tests that need them say so
fi
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
{ "${sudo[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null; } ||
    echo "packages.sh: not installed: ${packages[*]}" >&2
