# shellcheck shell=bash
# Shared helpers of the end-to-end tests: a private Postfix (scripts/lib/testbed.sh) with
# senderguard-milter attached over a unix socket, relaying to smtp-sink, all on 127.0.0.1.
# With E2E_MTA=sendmail, a private Sendmail (scripts/lib/sendmail.sh) takes Postfix's place,
# on the same port, with the same milter and sink.
#
#   e2e_start [EXTRA_TOML]   # config + milter + MTA; EXTRA_TOML is appended to the config
#   sgctl ARGS...            # senderguardctl on the test's store
#   send OUT ARGS...         # swaks transcript into OUT (never fails)
#   expect OUT PATTERN WHAT  # the transcript has a line matching PATTERN (grep -E)
#   finish                   # prints the summary and exits 0/1
set -euo pipefail
E2E_SRC=${SG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
E2E_BIN=${SG_BIN_DIR:-$E2E_SRC/build/bin}
# shellcheck source=../../scripts/lib/testbed.sh
. "$E2E_SRC/scripts/lib/testbed.sh"
# shellcheck source=../../scripts/lib/sendmail.sh
. "$E2E_SRC/scripts/lib/sendmail.sh"
SM_CACHE=${SM_CACHE:-$(dirname "$E2E_BIN")/sendmail}

# SG_E2E_TRACE=FILE: a timestamped shell trace of the test goes to FILE (to see where time goes).
if [[ -n ${SG_E2E_TRACE:-} ]]; then
    exec 19>>"$SG_E2E_TRACE"
    BASH_XTRACEFD=19
    PS4='+ ${EPOCHREALTIME} ${BASH_SOURCE[0]##*/}:${LINENO} '
    set -x
fi

E2E_PASS=0
E2E_FAIL=0
ok() { E2E_PASS=$((E2E_PASS + 1)); echo "ok - $*"; }
not_ok() { E2E_FAIL=$((E2E_FAIL + 1)); echo "not ok - $*"; }
check() { # check WHAT COMMAND...: passes when the command succeeds
    local what=$1; shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# Writes $SG_CONF from the defaults plus EXTRA_TOML and starts everything.
e2e_start() {
    local extra=${1:-}
    tb_init
    # A test may define e2e_pre_start (e.g. to start a DNS server); @TB_DIR@ and @DNS@
    # (127.0.0.1@PORT of e2e_start_dns) in EXTRA_TOML are then replaced.
    if declare -F e2e_pre_start >/dev/null; then e2e_pre_start; fi
    extra=${extra//@TB_DIR@/$TB_DIR}
    extra=${extra//@DNS@/127.0.0.1@${E2E_DNS_PORT:-0}}
    SG_CONF=$TB_DIR/senderguard.conf
    SG_SOCK=$TB_DIR/milter.sock
    SG_LOG=$TB_DIR/log/milter.log
    cat >"$SG_CONF" <<EOF2
[store]
path = "$TB_DIR/store"
[milter]
socket = "unix:$SG_SOCK"
socket_mode = "0666"
log_stderr = true
$extra
EOF2
    e2e_default_dmarc "$extra"
    tb_start_sink
    e2e_start_milter
    if [[ ${E2E_MTA:-postfix} == sendmail ]]; then
        SM_MILTER="unix:$SG_SOCK" sm_start
    else
        tb_start_postfix "unix:$SG_SOCK"
    fi
}

# e2e_start_replier RULES [EXTRA_TOML]: as e2e_start, with tests/tools/smtp_replier answering
# RULES (its rules-file syntax) as Postfix's relayhost instead of smtp-sink. In EXTRA_TOML,
# @TB_DIR@ and @SRC@ stand for the test directory and the source tree.
e2e_start_replier() {
    local rules=$1 extra=${2:-}
    tb_init
    SG_CONF=$TB_DIR/senderguard.conf
    SG_SOCK=$TB_DIR/milter.sock
    SG_LOG=$TB_DIR/log/milter.log
    extra=${extra//@TB_DIR@/$TB_DIR}
    extra=${extra//@SRC@/$E2E_SRC}
    cat >"$SG_CONF" <<EOF2
[store]
path = "$TB_DIR/store"
[milter]
socket = "unix:$SG_SOCK"
socket_mode = "0666"
log_stderr = true
$extra
EOF2
    e2e_default_dmarc "$extra"
    printf '%s\n' "$rules" >"$TB_DIR/replier.rules"
    "$E2E_BIN/smtp_replier" --listen "127.0.0.1:$TB_SINK_PORT" --rules "$TB_DIR/replier.rules" \
        --count-file "$TB_DIR/replier.count" >"$TB_DIR/log/replier.log" 2>&1 &
    SG_REPLIER_PID=$!
    tb_track_pid "$SG_REPLIER_PID"
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -n $(ss -Htln "( sport = :$TB_SINK_PORT )" 2>/dev/null) ]] && break
        sleep 0.1
    done
    e2e_start_milter
    tb_start_postfix "unix:$SG_SOCK"
}

# e2e_start_dns DATAFILE: ldns-testns (Debian ldnsutils) serving DATAFILE on 127.0.0.1, on a
# port it picks (E2E_DNS_PORT); stopped with the testbed.
e2e_start_dns() {
    local data=$1 log=$TB_DIR/log/dns.log i
    ldns-testns -r "$data" >"$log" 2>&1 &
    E2E_DNS_PID=$!
    tb_track_pid "$E2E_DNS_PID"
    for ((i = 0; i < 100; i++)); do
        E2E_DNS_PORT=$(sed -n 's/.*Listening on port \([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
        [[ -n $E2E_DNS_PORT ]] && return 0
        sleep 0.1
    done
    echo "ldns-testns did not start:"; cat "$log"
    return 1
}

# e2e_start_dnsmasq CONF_LINES: dnsmasq (Debian dnsmasq-base: the program without a system
# service) as the authoritative server for the zone "test." on 127.0.0.1 (E2E_DNS_PORT); every
# name under test. that CONF_LINES (dnsmasq.conf lines: txt-record=, host-record=, server=...)
# does not define gets NXDOMAIN. Stopped with the testbed.
e2e_start_dnsmasq() {
    local conf=$TB_DIR/dnsmasq.conf i
    E2E_DNS_PORT=$(_tb_free_port "$TB_SMTP_PORT")
    {
        printf 'port=%s\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\nno-poll\n' "$E2E_DNS_PORT"
        printf 'user=nobody\ngroup=nogroup\nlocal=/test/\nlocal-ttl=300\nlog-queries\nlog-facility=%s\n' "$TB_DIR/log/dnsmasq.log"
        printf '%s\n' "$1"
    } >"$conf"
    touch "$TB_DIR/log/dnsmasq.log"
    chown nobody "$TB_DIR/log/dnsmasq.log"
    dnsmasq -k -C "$conf" 2>"$TB_DIR/log/dnsmasq.err" &
    E2E_DNS_PID=$!
    tb_track_pid "$E2E_DNS_PID"
    for ((i = 0; i < 100; i++)); do
        [[ -n $(ss -Hlun "( sport = :$E2E_DNS_PORT )" 2>/dev/null) ]] && return 0
        sleep 0.1
    done
    echo "dnsmasq did not start:"; cat "$TB_DIR/log/dnsmasq.err"
    return 1
}

# Tests that do not set [dmarc] run without it: their From: domains have no DNS.
e2e_default_dmarc() {
    [[ $1 == *"[dmarc]"* ]] || printf '[dmarc]\nmode = "off"\n' >>"$SG_CONF"
}

e2e_start_milter() {
    rm -f "$SG_SOCK"
    "$E2E_BIN/senderguard-milter" -c "$SG_CONF" >>"$SG_LOG" 2>&1 &
    SG_MILTER_PID=$!
    tb_track_pid "$SG_MILTER_PID"
    tb_wait_socket "$SG_SOCK" 10 "$SG_MILTER_PID"
}

sgctl() { "$E2E_BIN/senderguardctl" -c "$SG_CONF" "$@"; }

send() {
    local out=$1; shift
    tb_swaks --timeout 30 "$@" >"$out" 2>&1 || true
}

expect() {
    local out=$1 pattern=$2 what=$3
    if grep -Eq -- "$pattern" "$out"; then
        ok "$what"
    else
        not_ok "$what (no line matching '$pattern')"
        sed 's/^/#   /' "$out" | tail -n 25
    fi
}

expect_not() {
    local out=$1 pattern=$2 what=$3
    if grep -Eq -- "$pattern" "$out"; then
        not_ok "$what (unexpected '$pattern')"
        grep -E -- "$pattern" "$out" | sed 's/^/#   /' | head -n 5
    else
        ok "$what"
    fi
}

finish() {
    echo "$E2E_PASS passed, $E2E_FAIL failed"
    if ((E2E_FAIL > 0)) && [[ -n ${TB_DIR:-} ]]; then
        echo "# milter log tail:"; tail -n 30 "$SG_LOG" 2>/dev/null | sed 's/^/#   /' || true
    fi
    ((E2E_FAIL == 0))
}
