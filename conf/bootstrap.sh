#!/bin/sh
# Prepares a fresh Debian/Ubuntu machine: a redis-server and SIPp (sip-tester) from the system package
# manager when none is installed, and a virtualenv in .venv holding the controller and its test tools.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

packages=""
command -v redis-server >/dev/null 2>&1 || packages="redis-server python3-venv"
command -v sipp >/dev/null 2>&1 || packages="$packages sip-tester"  # SIPp 3.6: tests load conf/sipp/
if [ -n "$packages" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $packages >/dev/null
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
