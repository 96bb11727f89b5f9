#!/bin/sh
# Prepares a fresh Debian/Ubuntu machine: from the system package manager, each of redis-server,
# python3-venv (only while .venv is still to be made) and SIPp (sip-tester) that is missing; then a
# virtualenv in .venv holding the controller and its test tools. On a busy machine apt waits for
# another apt or dpkg to finish (up to APT_LOCK_TIMEOUT seconds, 600 by default) instead of failing.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

packages=""
command -v redis-server >/dev/null 2>&1 || packages="redis-server"
if [ ! -x .venv/bin/python ] && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    packages="$packages python3-venv"  # Debian's python3 makes no venv without it
fi
command -v sipp >/dev/null 2>&1 || packages="$packages sip-tester"  # SIPp 3.6: tests load conf/sipp/
if [ -n "$packages" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    timeout=${APT_LOCK_TIMEOUT:-600}
    wait_lock="-o DPkg::Lock::Timeout=$timeout"  # install waits for dpkg's lock by itself
    echo "conf/bootstrap.sh: installing$packages" >&2
    # update takes the package lists' lock, which apt does not wait for: try again every 5 s
    waited=0
    # shellcheck disable=SC2086  # one word per option
    until $sudo apt-get $wait_lock update -qq; do
        waited=$((waited + 5))
        if [ "$waited" -gt "$timeout" ]; then
            echo "conf/bootstrap.sh: apt-get update kept failing for $timeout s; see above" >&2
            exit 1
        fi
        echo "conf/bootstrap.sh: apt-get update failed (another apt running?); trying again in 5 s" >&2
        sleep 5
    done
    # shellcheck disable=SC2086  # one word per option and per package
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get $wait_lock install -y -qq $packages >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
    .venv/bin/pip install -q --upgrade pip >/dev/null
    .venv/bin/pip install -q -e '.[test]'
    touch "$stamp"
fi
