#!/usr/bin/env bash
# bench/remote_milter.sh - what a milter on another host costs Postfix over TCP, with and
# without `quickack 1` on the milter host's route toward the MTA, beside a unix socket.
# Prints figures; never passes or fails on timing.
#
# Everything runs inside a private network namespace (the script re-executes itself under
# `unshare -n`): only its own loopback exists there, so the routes it changes are the
# namespace's, never the machine's, and they vanish with it. Two hosts are modelled on that
# loopback: the milter listens on 127.0.0.2, and Postfix's milter client connects to it from
# 127.0.0.3 (the source address of a /32 route to 127.0.0.2). "quickack toward the MTA" is then
# a /32 route to 127.0.0.3 with `quickack 1`: it is the route of the milter's accepted sockets
# (their peer is 127.0.0.3) and of nothing else. As a control, the same option on the MTA's
# route toward the milter (127.0.0.2) shows which side's ACKs matter.
#
# Why it matters: Postfix's milter client writes a macro packet and then the command as two
# writes on a socket with Nagle's algorithm on, so the command waits until the macro packet is
# acknowledged, and the milter's kernel delays that ACK (40 ms minimum on Linux) because the
# milter has nothing to send yet. `quickack 1` makes the milter's side acknowledge at once.
#
# Per transport, through one private Postfix 3.7 (scripts/lib/testbed.sh, restarted per phase
# with identical settings apart from the milter socket) and senderguard-milter (quotas and
# suppression on, DMARC off; two processes on one store, one per socket):
#   - throughput: MESSAGES messages from 4 concurrent smtp-source processes, SESSIONS sessions
#     in all, one message per connection; messages/s = MESSAGES / wall time until smtp-source
#     ends and the queue is empty;
#   - latency: PROBES sequential one-message SMTP sessions with nothing else running, timed by
#     the client (perl, TCP_NODELAY) from connect to the 250 after the message's final dot
#     (median, p90, max).
# The phases run ROUNDS times interleaved; the table gives each phase's median over the rounds.
#
# Usage: bench/remote_milter.sh [--messages N] [--sessions S] [--probes P] [--rounds R]
#        (defaults 1000, 4, 100, 3; as root)
# With few concurrent sessions the stall bounds throughput (sessions / ~50 ms); with many
# (--sessions 20, as bench/run.sh) a 2-core machine runs out of CPU first and hides it.
# Environment: SG_BIN_DIR (default build/bin), TB_KEEP=1 keeps the temp dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

MESSAGES=1000
SESSIONS=4
PROBES=100
ROUNDS=3
WARMUP=200
PROCS=4
BIN_DIR=${SG_BIN_DIR:-$ROOT/build/bin}
MILTER_ADDR=127.0.0.2
MTA_ADDR=127.0.0.3

usage() { echo "usage: $0 [--messages N] [--sessions S] [--probes P] [--rounds R]" >&2; }
ARGS=("$@")
while (($#)); do
    case $1 in
    --messages) MESSAGES=${2:?}; shift 2 ;;
    --sessions) SESSIONS=${2:?}; shift 2 ;;
    --probes) PROBES=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage; exit 2 ;;
    esac
done
for v in "$MESSAGES" "$SESSIONS" "$PROBES" "$ROUNDS"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || { usage; exit 2; }
done
((MESSAGES >= PROCS && SESSIONS >= PROCS)) || { echo "need --messages and --sessions >= $PROCS" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "run as root (network namespace, private Postfix)" >&2; exit 2; }
for b in senderguard-milter senderguardctl; do
    [[ -x $BIN_DIR/$b ]] || { echo "$BIN_DIR/$b not built" >&2; exit 2; }
done

# Into a private network namespace: its loopback is all there is.
if [[ ${_SG_BENCH_NETNS:-} != "$$" ]]; then
    exec env _SG_BENCH_NETNS=$$ unshare -n -- bash "$0" "${ARGS[@]}"
fi
# (In the namespace, $$ is the same process: exec keeps it.)
ip link set lo up
# The MTA's connections to the milter leave from MTA_ADDR.
ip route add local "$MILTER_ADDR/32" dev lo table local src "$MTA_ADDR"

# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=scripts/lib/testbed.sh
source "$ROOT/scripts/lib/testbed.sh"

log() { echo "# $*" >&2; }

# host_busy_pct SECONDS: percentage of all cores busy over SECONDS (from /proc/stat).
host_busy_pct() {
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    sleep "$1"
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        printf "%.0f", (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0 }'
}

# drive TOTAL: TOTAL messages over PROCS concurrent smtp-source processes (as bench/run.sh).
drive() {
    local total=$1 i m s pids=() rc=0 p
    for ((i = 1; i <= PROCS; i++)); do
        m=$((total / PROCS + (i <= total % PROCS ? 1 : 0)))
        s=$((SESSIONS / PROCS + (i <= SESSIONS % PROCS ? 1 : 0)))
        smtp-source -s "$s" -m "$m" -f "sender@bench-$i.test" -t rcpt@sink.test \
            "127.0.0.1:$TB_SMTP_PORT" >>"$TB_DIR/log/smtp-source.out" 2>&1 &
        pids+=($!)
        tb_track_pid "$!"
    done
    for p in "${pids[@]}"; do
        wait "$p" || rc=1
        tb_stop_pid "$p"
    done
    ((rc == 0)) || { tail -n 5 "$TB_DIR/log/smtp-source.out" >&2; return 1; }
}

# probe N OUT: N sequential one-message SMTP sessions; writes to OUT the microseconds of each
# from connect to the 250 after the final dot. Perl, with TCP_NODELAY and one write per
# command: the client must not add a Nagle stall of its own (a message written line by line
# waits for Postfix's delayed ACK, 40 ms, whatever the milter does).
probe() {
    perl -MIO::Socket::INET -MSocket=IPPROTO_TCP,TCP_NODELAY -MTime::HiRes=time -e '
        my ($port, $n) = @ARGV;
        sub reply { my ($s, $want) = @_; while (defined(my $l = <$s>)) {
            next if substr($l, 3, 1) eq "-";
            return 1 if substr($l, 0, 3) eq $want;
            die "expected $want, got: $l"; } die "connection closed (expected $want)\n"; }
        sub cmd { my ($s, $text, $want) = @_; syswrite($s, $text) == length($text) or die "write: $!\n"; reply($s, $want); }
        for my $i (1 .. $n) {
            my $t0 = time;
            my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Proto => "tcp")
                or die "connect: $!\n";
            setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
            reply($s, 220);
            cmd($s, "EHLO probe.test\r\n", 250);
            cmd($s, "MAIL FROM:<probe\@bench-1.test>\r\n", 250);
            cmd($s, "RCPT TO:<rcpt\@sink.test>\r\n", 250);
            cmd($s, "DATA\r\n", 354);
            cmd($s, "From: <probe\@bench-1.test>\r\nSubject: probe $i\r\n\r\nhello\r\n.\r\n", 250);
            my $t1 = time;
            syswrite($s, "QUIT\r\n");
            close($s);
            printf "%d\n", ($t1 - $t0) * 1e6;
        }' "$TB_SMTP_PORT" "$1" >"$2" 2>>"$TB_DIR/log/probe.err"
}

# stats FILE: "median p90 max" in ms of the microsecond values in FILE.
stats() {
    sort -n "$1" | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "- - -"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        p = v[int(0.9 * NR + 0.999999)]
        printf "%.2f %.2f %.2f", m / 1000, p / 1000, v[NR] / 1000 }'
}

# shellcheck disable=SC2034 # LAT_P90 and LAT_MAX are read through median's nameref
declare -A RATE LAT_MED LAT_P90 LAT_MAX NOTE FROM

# route_quickack none|milter|mta: where `quickack 1` is (routes of the namespace only).
route_quickack() {
    ip route del local "$MTA_ADDR/32" dev lo table local 2>/dev/null || true
    ip route replace local "$MILTER_ADDR/32" dev lo table local src "$MTA_ADDR"
    case $1 in
    milter) ip route add local "$MTA_ADDR/32" dev lo table local quickack 1 ;;
    mta) ip route replace local "$MILTER_ADDR/32" dev lo table local src "$MTA_ADDR" quickack 1 ;;
    esac
}

# run_phase KEY MILTER_SPEC QUICKACK
run_phase() {
    local key=$1 milter=$2 qa=$3 t0 t1 lat=$TB_DIR/lat.$1
    route_quickack "$qa"
    log "phase $key: milter $milter, quickack on: $qa"
    tb_start_postfix "$milter" || return 1
    drive "$WARMUP" || { NOTE[$key]="warm-up failed"; tb_stop_postfix; return 1; }
    tb_wait_queue_empty 120 || return 1
    probe "$PROBES" "$lat" || NOTE[$key]="probe failed: $(tail -n 1 "$TB_DIR/log/probe.err")"
    tb_wait_queue_empty 120 || return 1
    t0=$EPOCHREALTIME
    drive "$MESSAGES" || { NOTE[$key]="load failed"; tb_stop_postfix; return 1; }
    tb_wait_queue_empty 900 || return 1
    t1=$EPOCHREALTIME
    # Where Postfix's milter connections came from (the TIME-WAIT ones included).
    if [[ $milter == inet:* ]]; then
        FROM[$key]=$(ss -Htan "( dport = :$TCP_PORT )" | awk '{ sub(/:[0-9]+$/, "", $4); print $4 }' |
            sort -u | paste -sd, -)
    fi
    tb_stop_postfix
    RATE[$key]=$(awk -v n="$MESSAGES" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
    read -r "LAT_MED[$key]" "LAT_P90[$key]" "LAT_MAX[$key]" < <(stats "$lat")
    log "phase $key: ${RATE[$key]} msg/s, latency median ${LAT_MED[$key]} ms"
}

# median ARRAY KEY: the median over the rounds of ARRAY[KEY1..KEYn].
median() {
    local -n arr=$1
    local key=$2 r vals=()
    for ((r = 1; r <= ROUNDS; r++)); do
        [[ -n ${arr[$key$r]:-} ]] && vals+=("${arr[$key$r]}")
    done
    ((${#vals[@]})) || { echo "-"; return; }
    printf '%s\n' "${vals[@]}" | sort -g | awk '{ v[NR] = $1 } END {
        printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---------------------------------------------------------------------------------------------
export TB_SINK_KEEP=0
tb_init
# shellcheck disable=SC2119 # (no extra smtp-sink arguments)
tb_start_sink

D=$TB_DIR/sg
mkdir -p "$D"
chmod 0755 "$D" # the postfix user must reach the unix socket
for s in unix tcp; do
    if [[ $s == unix ]]; then sock="unix:$D/sg.sock"; else sock="inet:$(_tb_free_port "$TB_SMTP_PORT" "$TB_SINK_PORT")@$MILTER_ADDR"; fi
    cat >"$D/$s.conf" <<EOF
[store]
path = "$D/store"
[milter]
socket = "$sock"
socket_mode = "0666"
[quota.day]
limit = 100000000
[quota.minute]
limit = 10000000
[dmarc]
mode = "off"
EOF
done
"$BIN_DIR/senderguardctl" -c "$D/unix.conf" suppress add someone@supp.test >/dev/null
"$BIN_DIR/senderguard-milter" -c "$D/unix.conf" >"$D/milter-unix.log" 2>&1 </dev/null &
UNIX_PID=$!
tb_track_pid "$UNIX_PID"
tb_wait_socket "$D/sg.sock" 30 "$UNIX_PID"
"$BIN_DIR/senderguard-milter" -c "$D/tcp.conf" >"$D/milter-tcp.log" 2>&1 </dev/null &
TCP_PID=$!
tb_track_pid "$TCP_PID"
TCP_SPEC=$(sed -n 's/^socket = "\(inet:.*\)"$/\1/p' "$D/tcp.conf")
TCP_PORT=${TCP_SPEC#inet:}
TCP_PORT=${TCP_PORT%@*}
TCP_SPEC=inet:$MILTER_ADDR:$TCP_PORT # Postfix's form (libmilter's is inet:PORT@HOST)
_tb_wait_listen "$TCP_PORT" 30 || { echo "TCP milter did not listen" >&2; exit 1; }

echo "senderguard milter over TCP: quickack"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "host:     nproc=$(nproc), $(uname -sr), $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "postfix:  $(postconf -d -h mail_version); senderguard-milter with quotas and suppression, DMARC off"
echo "net:      private namespace, loopback only; milter at $MILTER_ADDR, Postfix's milter client from $MTA_ADDR"
echo "load:     $MESSAGES messages per phase (+$WARMUP warm-up), $SESSIONS sessions over $PROCS smtp-source processes, 1 message/connection"
echo "latency:  $PROBES sequential sessions, nothing else running, connect to the 250 after the dot"
echo "machine:  $(host_busy_pct 1)% of all cores busy in 1 s before the runs (load average $(cut -d' ' -f1-3 /proc/loadavg))"

PHASES=(unix tcp qam qat)
declare -A NAME=([unix]="unix socket" [tcp]="TCP" [qam]="TCP, quickack 1 toward MTA" [qat]="TCP, quickack 1 toward milter")
for ((r = 1; r <= ROUNDS; r++)); do
    run_phase "unix$r" "unix:$D/sg.sock" none || true
    run_phase "tcp$r" "$TCP_SPEC" none || true
    run_phase "qam$r" "$TCP_SPEC" milter || true
    run_phase "qat$r" "$TCP_SPEC" mta || true
done
route_quickack none
echo "machine:  load average $(cut -d' ' -f1-3 /proc/loadavg) after the runs"

echo
printf '%-32s %9s %13s %10s %10s\n' "milter socket (median of $ROUNDS)" "msg/s" "latency_ms" "p90_ms" "max_ms"
for k in "${PHASES[@]}"; do
    printf '%-32s %9s %13s %10s %10s' "${NAME[$k]}" "$(median RATE "$k")" "$(median LAT_MED "$k")" \
        "$(median LAT_P90 "$k")" "$(median LAT_MAX "$k")"
    for ((r = 1; r <= ROUNDS; r++)); do [[ -n ${NOTE[$k$r]:-} ]] && printf '  (round %s: %s)' "$r" "${NOTE[$k$r]}"; done
    echo
done
echo
echo "routes (the namespace's local table; the machine's are untouched):"
echo "  all TCP phases:   ip route add local $MILTER_ADDR/32 dev lo table local src $MTA_ADDR"
echo "  toward MTA:       ip route add local $MTA_ADDR/32 dev lo table local quickack 1"
echo "  toward milter:    ip route replace local $MILTER_ADDR/32 dev lo table local src $MTA_ADDR quickack 1"
printf '%s\n' "${FROM[@]}" | sort -u | paste -sd' ' - | sed 's/^/  Postfix'"'"'s milter connections seen (ss) from: /'
echo
echo "per round (msg/s, median latency ms):"
for k in "${PHASES[@]}"; do
    printf '  %-30s' "${NAME[$k]}"
    for ((r = 1; r <= ROUNDS; r++)); do printf ' %8s %7s' "${RATE[$k$r]:--}" "${LAT_MED[$k$r]:--}"; done
    echo
done
