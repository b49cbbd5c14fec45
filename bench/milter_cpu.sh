#!/usr/bin/env bash
# bench/milter_cpu.sh - the milter's own CPU per message, without an MTA: bench/milter_mta.pl
# plays Postfix's side of the milter protocol (one connection and one recipient per message,
# six headers, sequentially) against (1) the null milter (bench/null_milter.c: asks for no
# headers), (2) senderguard-milter on LMDB with bench/run.sh's phase (c) configuration (DMARC
# off), and (3) the same senderguard-milter with the headers left out by the driver. The CPU is
# utime+stime of the milter's process (/proc/PID/stat) over the messages. (2) - (1) is what
# senderguard costs per message beyond a milter that does nothing; (2) - (3) is the part of it
# spent receiving the headers (Message-ID for complaint attribution, and with DMARC the From:
# and the signatures), which libmilter reads as one packet each. Prints figures; never fails on
# timing. bench/run.sh measures the same milters through a real Postfix under load.
#
# Usage: bench/milter_cpu.sh [--messages N] [--rounds R]   (defaults 3000, 5; any user)
# Environment: SG_BIN_DIR (default build/bin).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=${SG_BIN_DIR:-$ROOT/build/bin}
MESSAGES=3000
ROUNDS=5
while (($#)); do
    case $1 in
    --messages) MESSAGES=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    *) echo "usage: $0 [--messages N] [--rounds R]" >&2; exit 64 ;;
    esac
done
for b in sg-null-milter senderguard-milter senderguardctl; do
    [[ -x $BIN_DIR/$b ]] || { echo "$0: $BIN_DIR/$b not built" >&2; exit 1; }
done
T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

wait_socket() { # wait_socket PATH PID
    for _ in $(seq 1 100); do
        [[ -S $1 ]] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
cpu_ticks() { # utime + stime of PID, in clock ticks
    local s
    read -r s <"/proc/$1/stat"
    s=${s##*) }  # past the command name, which may hold spaces
    # shellcheck disable=SC2086
    set -- $s
    echo $(( ${12} + ${13} ))
}

"$BIN_DIR/sg-null-milter" -p "unix:$T/null.sock" 2>"$T/null.log" &
NULL_PID=$!
PIDS+=("$NULL_PID")
cat >"$T/sg.conf" <<EOC
[store]
path = "$T/store"

[milter]
socket = "unix:$T/sg.sock"

[quota.day]
limit = 100000000

[quota.minute]
limit = 10000000

[dmarc]
mode = "off"
EOC
"$BIN_DIR/senderguardctl" -c "$T/sg.conf" quota set bench-1.test day=1000000000 hour=1000000000 --create >/dev/null
"$BIN_DIR/senderguard-milter" -c "$T/sg.conf" 2>"$T/sg.log" &
SG_PID=$!
PIDS+=("$SG_PID")
wait_socket "$T/null.sock" "$NULL_PID" || { echo "$0: the null milter did not start" >&2; cat "$T/null.log" >&2; exit 1; }
wait_socket "$T/sg.sock" "$SG_PID" || { echo "$0: senderguard-milter did not start" >&2; cat "$T/sg.log" >&2; exit 1; }
HZ=$(getconf CLK_TCK)

# one KEY PID SOCKET [--no-headers]: µs of milter CPU per message, with one decimal.
one() {
    local a b
    perl "$ROOT/bench/milter_mta.pl" "$3" 50 user@bench-1.test ${4:-} >/dev/null  # warm
    a=$(cpu_ticks "$2")
    perl "$ROOT/bench/milter_mta.pl" "$3" "$MESSAGES" user@bench-1.test ${4:-} >/dev/null
    b=$(cpu_ticks "$2")
    awk -v t=$((b - a)) -v hz="$HZ" -v n="$MESSAGES" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "host:     nproc=$(nproc), $(uname -sr), $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "load:     $MESSAGES messages per milter and round, $ROUNDS rounds, one at a time; CPU tick $((1000000 / HZ)) us"
printf '%-6s %12s %12s %22s\n' round null_us/msg sg_us/msg sg_no_headers_us/msg
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then
        n=$(one null "$NULL_PID" "$T/null.sock"); s=$(one sg "$SG_PID" "$T/sg.sock"); h=$(one sgh "$SG_PID" "$T/sg.sock" --no-headers)
    else
        h=$(one sgh "$SG_PID" "$T/sg.sock" --no-headers); s=$(one sg "$SG_PID" "$T/sg.sock"); n=$(one null "$NULL_PID" "$T/null.sock")
    fi
    printf '%-6s %12s %12s %22s\n' "$r" "$n" "$s" "$h"
    echo "$n" >>"$T/n"; echo "$s" >>"$T/s"; echo "$h" >>"$T/h"
done
N=$(median <"$T/n"); S=$(median <"$T/s"); H=$(median <"$T/h")
echo "medians over $ROUNDS round(s):"
echo "  null milter                        $N us/msg"
echo "  senderguard (LMDB, DMARC off)      $S us/msg"
echo "  senderguard, headers left out      $H us/msg"
awk -v n="$N" -v s="$S" -v h="$H" 'BEGIN {
    printf "  senderguard - null                 %.1f us/msg\n", s - n
    printf "    of which receiving 6 headers     %.1f us/msg (%.0f%%)\n", s - h, (s > n ? 100 * (s - h) / (s - n) : 0)
    printf "    the rest (decisions, store, log) %.1f us/msg\n", h - n }'
