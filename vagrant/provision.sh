#!/usr/bin/env bash
# Provisions the lab box (vagrant/Vagrantfile), as root: FreeSWITCH from SignalWire's packages,
# Redis, SIPp, the controller in a virtualenv, this repository's FreeSWITCH snippets
# (conf/freeswitch), systemd units and drop-ins (conf/systemd: FreeSWITCH's limits, the CPU policy
# of the controller and its Redis, docs/deployment.md), the example office (flows/office.json);
# then starts everything. Safe to run again: every step checks before it changes anything, and
# the controller is reinstalled from the repository each time.
#
#   SIGNALWIRE_TOKEN  a SignalWire personal access token: SignalWire's FreeSWITCH packages need
#                     it (only until FreeSWITCH is installed)
#   CONTROLLER_SRC    the repository (default /opt/controller/src, where Vagrant copies it)
set -euo pipefail

SRC=${CONTROLLER_SRC:-/opt/controller/src}
VENV=/opt/controller/venv
ETC=/etc/controller
ENV_FILE=$ETC/controller.env
ESL_PASSWORD_FILE=$ETC/freeswitch-esl-password
FS_CONF=/etc/freeswitch
FS_REPO=https://freeswitch.signalwire.com/repo/deb/debian-release/
FS_KEYRING=/usr/share/keyrings/signalwire-freeswitch-repo.gpg
SYSTEMD_DIR=/etc/systemd/system

log() { printf '==> %s\n' "$*"; }
die() { printf 'provision: %s\n' "$*" >&2; exit 1; }

# (no `| grep -q` below: with pipefail, grep quitting early can fail the pipe)
is_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = 'install ok installed' ]; }
listening() { [ -n "$(ss -Hltn "sport = :$1")" ]; }

wait_for() {  # DESCRIPTION COMMAND...: try the command every second for a minute
    local what=$1
    shift
    for _ in $(seq 60); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    die "$what is not up after a minute (journalctl -u freeswitch -u 'controller*')"
}

install_packages() {
    log "Debian packages: Redis, SIPp, Python"
    apt-get update -qq
    apt-get install -y -qq ca-certificates curl python3-venv redis-server sip-tester >/dev/null
    systemctl enable --now redis-server.service
    if dropin_differs redis-server.service; then
        log "Redis at the controller's real-time priority (conf/systemd/redis-server.service.d)"
        install_dropin redis-server.service
        systemctl restart redis-server.service
    fi
}

dropin_differs() {  # UNIT: conf/systemd/UNIT.d/controller.conf is not installed as it is
    ! cmp -s "$SRC/conf/systemd/$1.d/controller.conf" "$SYSTEMD_DIR/$1.d/controller.conf"
}

install_dropin() {  # UNIT: conf/systemd/UNIT.d/controller.conf where systemd reads it
    install -d "$SYSTEMD_DIR/$1.d"
    install -m 644 "$SRC/conf/systemd/$1.d/controller.conf" "$SYSTEMD_DIR/$1.d/controller.conf"
    systemctl daemon-reload
}

install_units() {  # the controller's units (conf/systemd/*.service)
    install -m 644 "$SRC"/conf/systemd/*.service "$SYSTEMD_DIR"/
    systemctl daemon-reload
}

install_freeswitch() {
    if is_installed freeswitch; then
        log "FreeSWITCH is installed"
        return
    fi
    [ -n "${SIGNALWIRE_TOKEN:-}" ] ||
        die "FreeSWITCH is not installed: give your SignalWire personal access token, e.g. SIGNALWIRE_TOKEN=pat_... vagrant provision"
    log "FreeSWITCH from SignalWire's repository"
    local codename auth
    # shellcheck source=/dev/null
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    # apt's credentials as SignalWire documents them; curl reads the same file (netrc format),
    # so the token never appears on a command line.
    auth=$(mktemp)
    {
        grep -v '^machine freeswitch.signalwire.com ' /etc/apt/auth.conf 2>/dev/null || true
        echo "machine freeswitch.signalwire.com login signalwire password $SIGNALWIRE_TOKEN"
    } >"$auth"
    install -m 600 "$auth" /etc/apt/auth.conf
    rm -f "$auth"
    curl -fsS --netrc-file /etc/apt/auth.conf -o "$FS_KEYRING" "${FS_REPO}signalwire-freeswitch-repo.gpg" ||
        die "could not fetch SignalWire's key: is SIGNALWIRE_TOKEN a valid personal access token?"
    echo "deb [signed-by=$FS_KEYRING] $FS_REPO $codename main" >/etc/apt/sources.list.d/freeswitch.list
    apt-get update -qq
    apt-get install -y -qq freeswitch-meta-all >/dev/null
}

esl_password() {  # made once, then kept: FreeSWITCH, fs_cli and the controller share it
    if [ ! -s "$ESL_PASSWORD_FILE" ]; then
        install -d -m 750 "$ETC"
        (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(16))' >"$ESL_PASSWORD_FILE")
    fi
    cat "$ESL_PASSWORD_FILE"
}

install_fs_file() {  # SOURCE DESTINATION: readable by FreeSWITCH only (passwords inside)
    install -m 640 -o root -g freeswitch "$1" "$2"
}

set_aside_vanilla_files() {
    # The vanilla profiles use the same names and ports as ours, and the vanilla directory
    # domain holds users 1000-1019 with the password 1234: moved where nothing includes them.
    local f
    for f in sip_profiles/internal.xml sip_profiles/external.xml sip_profiles/internal-ipv6.xml \
        sip_profiles/external-ipv6.xml directory/default.xml; do
        if [ -f "$FS_CONF/$f" ]; then
            install -d "$FS_CONF/vanilla-disabled/$(dirname "$f")"
            mv "$FS_CONF/$f" "$FS_CONF/vanilla-disabled/$f"
            log "moved the vanilla $f to $FS_CONF/vanilla-disabled/"
        fi
    done
}

configure_freeswitch() {
    log "FreeSWITCH configuration from $SRC/conf/freeswitch"
    local conf=$SRC/conf/freeswitch password rendered
    password=$(esl_password)
    set_aside_vanilla_files
    install_fs_file "$conf/dialplan/controller.xml" "$FS_CONF/dialplan/controller.xml"
    install_fs_file "$conf/directory/office.example.com.xml" "$FS_CONF/directory/office.example.com.xml"
    install_fs_file "$conf/sip_profiles/controller-internal.xml" "$FS_CONF/sip_profiles/controller-internal.xml"
    install_fs_file "$conf/sip_profiles/controller-external.xml" "$FS_CONF/sip_profiles/controller-external.xml"
    # Call queues: mod_callcenter with its SQLite database, its queues served by a Lua XML handler.
    install_fs_file "$conf/autoload_configs/callcenter.conf.xml" "$FS_CONF/autoload_configs/callcenter.conf.xml"
    install_fs_file "$conf/autoload_configs/lua.conf.xml" "$FS_CONF/autoload_configs/lua.conf.xml"
    install -d -m 755 "$FS_CONF/scripts"
    install_fs_file "$conf/scripts/acdc_queues.lua" "$FS_CONF/scripts/acdc_queues.lua"
    rendered=$(mktemp)
    sed "s/change-me-esl/$password/" "$conf/autoload_configs/event_socket.conf.xml" >"$rendered"
    install_fs_file "$rendered" "$FS_CONF/autoload_configs/event_socket.conf.xml"
    rm -f "$rendered"
    # The tts callflow module speaks with flite, which the vanilla modules.conf.xml leaves out.
    # The call queues (acdc_member, acdc_agent) run on mod_callcenter, also left out.
    sed -i -e 's|<!-- *<load module="mod_flite"/> *-->|<load module="mod_flite"/>|' \
        -e 's|<!-- *<load module="mod_callcenter"/> *-->|<load module="mod_callcenter"/>|' \
        "$FS_CONF/autoload_configs/modules.conf.xml"
    # Voicemail recordings (CONTROLLER_VOICEMAIL_DIR): FreeSWITCH writes them, the controller (in
    # group freeswitch) attaches and removes them; setgid keeps the group on what is created inside.
    install -d -o freeswitch -g freeswitch -m 2775 /var/lib/freeswitch/storage/voicemail
    # Received faxes (CONTROLLER_FAX_DIR): mod_spandsp's rxfax writes them, the mail sender reads
    # them; receive_fax needs mod_spandsp, which the vanilla modules.conf.xml loads (made sure of).
    install -d -o freeswitch -g freeswitch -m 2775 /var/lib/freeswitch/storage/fax
    sed -i 's|<!-- *<load module="mod_spandsp"/> *-->|<load module="mod_spandsp"/>|' \
        "$FS_CONF/autoload_configs/modules.conf.xml"
    # Call recordings (CONTROLLER_RECORDINGS_DIR, FreeSWITCH's own recordings_dir of the Debian
    # packages): record_call writes <dir>/<account>/ there, record_session making each account's folder.
    install -d -o freeswitch -g freeswitch -m 2775 /var/lib/freeswitch/recordings
    printf '[default]\nhost => 127.0.0.1\nport => 8021\npassword => %s\n' "$password" >/etc/fs_cli.conf
    chmod 600 /etc/fs_cli.conf
    # Open files, threads, stack, real-time limits: read at the restart in start_freeswitch.
    install_dropin freeswitch.service
}

start_freeswitch() {
    log "starting FreeSWITCH"
    systemctl enable freeswitch.service
    systemctl restart freeswitch.service
    wait_for "FreeSWITCH's event socket" fs_cli -x status
    wait_for "the external SIP profile" profile_running external
    wait_for "the internal SIP profile" profile_running internal
}

profile_running() {  # NAME: the sofia profile is up
    local status
    status=$(fs_cli -x 'sofia status')
    [[ $status =~ (^|$'\n')[[:space:]]*$1[[:space:]]+profile[[:space:]][^$'\n']*RUNNING ]]
}

install_controller() {
    log "the controller in $VENV"
    id -u controller >/dev/null 2>&1 ||
        useradd --system --home-dir /var/lib/controller --no-create-home --shell /usr/sbin/nologin controller
    usermod -a -G freeswitch controller  # reads the voicemail recordings FreeSWITCH writes
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q "$SRC"
    "$VENV/bin/pip" install -q --no-deps --force-reinstall "$SRC"  # this checkout's code, every time
}

set_env() {  # KEY VALUE: replace the setting in the environment file, or add it
    if grep -q "^$1=" "$ENV_FILE"; then
        sed -i "s|^$1=.*|$1=$2|" "$ENV_FILE"
    else
        printf '%s=%s\n' "$1" "$2" >>"$ENV_FILE"
    fi
}

configure_controller() {
    log "the controller's settings ($ENV_FILE) and systemd units"
    local password
    password=$(esl_password)
    install -d -m 750 -o root -g controller "$ETC"
    [ -f "$ENV_FILE" ] || install -m 640 -o root -g controller "$SRC/conf/systemd/controller.env.example" "$ENV_FILE"
    set_env CONTROLLER_REDIS_URL redis://127.0.0.1:6379/0
    set_env CONTROLLER_FREESWITCH "esl://:$password@127.0.0.1:8021"
    set_env CONTROLLER_API_LISTEN 0.0.0.0:8000  # reachable through the forwarded port
    set_env CONTROLLER_OUTBOX_DIR /var/lib/controller/outbox
    set_env CONTROLLER_DATA_DIR /var/lib/controller
    set_env CONTROLLER_VOICEMAIL_PROMPTS tts  # FreeSWITCH's package here has no sound files
    install_units
}

controller_cli() {  # the controller command with the services' settings
    (
        set -a
        # shellcheck source=/dev/null
        . "$ENV_FILE"
        set +a
        cd /
        "$VENV/bin/controller" "$@"
    )
}

start_controller() {
    log "loading flows/office.json"
    controller_cli flows load "$SRC/flows/office.json"
    local units=(controller.service)
    if ! "$VENV/bin/controller" run --help >/dev/null 2>&1; then
        units=(controller-serve.service controller-mailer.service controller-api.service)
    fi
    log "starting ${units[*]}"
    systemctl enable "${units[@]}"
    systemctl restart "${units[@]}"
    wait_for "the controller's outbound ESL server" listening 8084
    wait_for "the controller's HTTP API" listening 8000
}

main() {
    [ "$(id -u)" -eq 0 ] || die "run me as root"
    [ -f "$SRC/setup.cfg" ] || die "$SRC does not hold the controller's repository"
    export DEBIAN_FRONTEND=noninteractive
    install_packages
    install_freeswitch
    configure_freeswitch
    start_freeswitch
    install_controller
    configure_controller
    start_controller
    local ip
    ip=$(fs_cli -x 'global_getvar local_ip_v4')
    log "ready: FreeSWITCH at $ip (phones 5060, carriers 5080), the controller's API on port 8000"
    log "a missed call: sipp -sf $SRC/conf/sipp/uac_cancel.xml -s +15554441111 -d 5000 -m 1 -i $ip $ip:5080"
    log "then: ls /var/lib/controller/outbox/"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then  # (tests/test_deployment.py sources the functions)
    main "$@"
fi
