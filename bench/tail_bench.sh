#!/usr/bin/env bash
# bench/tail_bench.sh - throughput benchmark of senderguard-tail against Debian's pflogsumm over
# the same generated Postfix log. Prints figures; it never passes or fails on timing (it exits
# non-zero only when something could not run, or when the tailer's counts do not match what the
# generator wrote: a benchmark that counts wrong measures nothing).
#
# One run: bench/tail_gen writes a day of Postfix 3.7 log (N lines, RFC 3164 syslog form) and
# the queue map of its messages into a senderguard store (as senderguard-milter records them),
# in a temp dir under /tmp. Then, R rounds of, interleaved:
#   (a) senderguard-tail -c CONF --once   the product's path: parse, classify, attribute and
#       commit everything with the file position; each round on a fresh copy of the prefilled
#       store, so every round does the same work;
#   (b) senderguard-tail --once --print LOG >/dev/null   parse, classify and attribute (reads
#       the store), print JSON, commit nothing: for reference;
#   (c) pflogsumm LOG >/dev/null   as an operator runs it over a whole file.
# Each is timed for wall clock and CPU (user+sys of the process); the table gives medians.
# Then the counts are checked: per account, the tailer's stored delivered/deferred/hard/soft/
# technical (senderguardctl list --json) against the generator's ground truth, the tailer's own
# line and unattributed totals, and pflogsumm's received/delivered/deferrals/bounced against the
# lines the generator wrote.
#
# Usage: bench/tail_bench.sh [--lines N] [--runs R] [--seed S] [--bin-dir DIR] [--keep]
#   defaults: 1000000 lines, 3 runs, seed 1, binaries in $SG_BIN_DIR or build/bin
#   (scripts/setup.sh builds them; this script builds nothing). --keep keeps the temp dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LINES=1000000
RUNS=3
SEED=1
KEEP=0
BIN_DIR=${SG_BIN_DIR:-$ROOT/build/bin}
TARGET_RATE=1000000
TARGET_RATIO=20

usage() { echo "usage: $0 [--lines N] [--runs R] [--seed S] [--bin-dir DIR] [--keep]" >&2; }
while (($#)); do
    case $1 in
    --lines) LINES=${2:?}; shift 2 ;;
    --lines=*) LINES=${1#*=}; shift ;;
    --runs) RUNS=${2:?}; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    --seed) SEED=${2:?}; shift 2 ;;
    --seed=*) SEED=${1#*=}; shift ;;
    --bin-dir) BIN_DIR=${2:?}; shift 2 ;;
    --bin-dir=*) BIN_DIR=${1#*=}; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage; exit 2 ;;
    esac
done
if ! [[ $LINES =~ ^[0-9]+$ && $RUNS =~ ^[0-9]+$ && $SEED =~ ^[0-9]+$ ]] || ((LINES == 0 || RUNS == 0)); then
    usage
    exit 2
fi
BIN_DIR=$(cd "$BIN_DIR" 2>/dev/null && pwd) || { echo "no such directory: $BIN_DIR" >&2; exit 2; }
GEN=$BIN_DIR/tail_gen
TAIL=$BIN_DIR/senderguard-tail
CTL=$BIN_DIR/senderguardctl
for b in "$GEN" "$TAIL" "$CTL"; do
    [[ -x $b ]] || { echo "$b: not built (scripts/setup.sh, or --bin-dir)" >&2; exit 2; }
done
PFLOGSUMM=$(command -v pflogsumm || true)
[[ -n $PFLOGSUMM ]] || { echo "pflogsumm not installed (apt-get install pflogsumm)" >&2; exit 2; }
command -v jq >/dev/null || { echo "jq not installed" >&2; exit 2; }

log() { echo "# $*" >&2; }

TMP=$(mktemp -d /tmp/sg-tailbench.XXXXXX)
# shellcheck disable=SC2317 # (called by the trap)
cleanup() {
    if ((KEEP)); then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

LOGFILE=$TMP/mail.log
CONF=$TMP/senderguard.conf
cat >"$CONF" <<EOF
[store]
path = "$TMP/store"

[tail]
source = "$LOGFILE"
rules = "$ROOT/conf/bounce-rules.conf"
timezone = "UTC"
EOF

# ---- generate
# The day ends a minute ago, so every RFC 3164 timestamp reads as this year's and falls in the
# reputation window that senderguardctl reports.
START=$(($(date +%s) - 86400 - 60))
log "generating $LINES lines and the queue map (seed $SEED)"
t0=$EPOCHREALTIME
GEN_OUT=$("$GEN" --lines "$LINES" --log "$LOGFILE" --store "$TMP/store0" --truth "$TMP/truth.txt" \
    --seed "$SEED" --start "$START" 2>"$TMP/gen.err") || { cat "$TMP/gen.err" >&2; exit 1; }
GEN_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
declare -A G
for kv in $GEN_OUT; do G[${kv%%=*}]=${kv#*=}; done
log "generated in $GEN_S s: $GEN_OUT"
log "$(cat "$TMP/gen.err")"

# ---- measure
# host_cpu: "busy total" jiffies of the whole machine, from /proc/stat (as bench/run.sh).
host_cpu() {
    local _cpu user nice sys idle iowait irq softirq steal _rest
    read -r _cpu user nice sys idle iowait irq softirq steal _rest </proc/stat
    echo "$((user + nice + sys + irq + softirq + steal)) $((user + nice + sys + idle + iowait + irq + softirq + steal))"
}
# busy_pct "BUSY0 TOTAL0" "BUSY1 TOTAL1": percentage of all cores busy between two samples.
busy_pct() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        printf "%.0f", (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0 }'
}
# Background check: the machine's CPU use for 1 s while this benchmark is idle. Every tool
# measured here is single-threaded, so on an otherwise idle machine the runs keep one core busy.
h0=$(host_cpu)
sleep 1
IDLE_BUSY=$(busy_pct "$h0" "$(host_cpu)")
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
h0=$(host_cpu)

declare -A WALL CPU
TIMEFORMAT='%3R %3U %3S'
# timed KEY CMD...: runs CMD (its stdout and stderr as the caller redirects them); appends wall
# and user+sys seconds to WALL[KEY] / CPU[KEY]. Fails when CMD fails.
timed() {
    local key=$1 t rc=0
    shift
    { t=$( { time "$@" 1>&3 2>&4; } 2>&1 ) || rc=$?; } 3>&1 4>&2
    ((rc == 0)) || { log "$key failed (exit $rc): $*"; return 1; }
    # shellcheck disable=SC2086
    set -- $t
    WALL[$key]+="$1 "
    CPU[$key]+="$(awk -v u="$2" -v s="$3" 'BEGIN { printf "%.3f", u + s }') "
}

for ((r = 1; r <= RUNS; r++)); do
    rm -rf "$TMP/store"
    cp -a "$TMP/store0" "$TMP/store"
    sync "$TMP/store/data.mdb" 2>/dev/null || true
    log "round $r/$RUNS: senderguard-tail --check (start-up: configuration and rules)"
    timed check "$TAIL" -c "$CONF" --check >/dev/null 2>&1
    log "round $r/$RUNS: senderguard-tail --once"
    timed tail "$TAIL" -c "$CONF" --once --stderr >/dev/null 2>"$TMP/tail.err" ||
        { tail -n 20 "$TMP/tail.err" >&2; exit 1; }
    log "round $r/$RUNS: senderguard-tail --once --print"
    timed print "$TAIL" -c "$CONF" --once --print "$LOGFILE" >/dev/null 2>"$TMP/print.err" ||
        { tail -n 20 "$TMP/print.err" >&2; exit 1; }
    log "round $r/$RUNS: pflogsumm"
    timed pflogsumm "$PFLOGSUMM" "$LOGFILE" >"$TMP/pflogsumm.out" 2>"$TMP/pflogsumm.err" ||
        { tail -n 20 "$TMP/pflogsumm.err" >&2; exit 1; }
done

RUN_BUSY=$(busy_pct "$h0" "$(host_cpu)")

median() { # median "v1 v2 ..."
    # shellcheck disable=SC2086 # (split the list)
    printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
declare -A MW MC RATE CRATE
MW[check]=$(median "${WALL[check]}")
for k in tail print pflogsumm; do
    MW[$k]=$(median "${WALL[$k]}")
    MC[$k]=$(median "${CPU[$k]}")
    RATE[$k]=$(awk -v n="${G[lines]}" -v s="${MW[$k]}" 'BEGIN { printf "%.0f", (s > 0) ? n / s : 0 }')
    CRATE[$k]=$(awk -v n="${G[lines]}" -v s="${MC[$k]}" 'BEGIN { printf "%.0f", (s > 0) ? n / s : 0 }')
done
ratio() { awk -v a="${RATE[$1]}" -v b="${RATE[pflogsumm]}" 'BEGIN { printf "%.1f", (b > 0) ? a / b : 0 }'; }
cratio() { awk -v a="${CRATE[$1]}" -v b="${CRATE[pflogsumm]}" 'BEGIN { printf "%.1f", (b > 0) ? a / b : 0 }'; }

# ---- check the counts (the store holds the last round's commit)
FAIL=0
# The tailer's own totals, from its stop line.
stop_line=$(grep 'action=stop' "$TMP/tail.err" | tail -n 1 || true)
kv() { sed -n "s/.*[ ]$1=\([0-9]*\).*/\1/p" <<<" $2"; }
T_LINES=$(kv lines "$stop_line")
T_UNATTR=$(kv unattributed "$stop_line")
print_line=$(grep 'senderguard-tail: lines=' "$TMP/print.err" | tail -n 1 || true)
P_LINES=$(kv lines "$print_line")
P_MALFORMED=$(kv malformed "$print_line")
P_UNATTR=$(kv unattributed "$print_line")
SUSPENDED=$(grep -c 'action=suspend' "$TMP/tail.err" || true)
SUPPRESSED=$(grep -c 'action=suppress ' "$TMP/tail.err" || true)

"$CTL" -c "$CONF" list --json >"$TMP/list.json" 2>"$TMP/ctl.err" || { cat "$TMP/ctl.err" >&2; exit 1; }
jq -r '.accounts[] | select(.reputation.delivered + .reputation.deferred + .reputation.hard
        + .reputation.soft + .reputation.technical > 0)
      | "\(.account) \(.reputation.delivered) \(.reputation.deferred) \(.reputation.hard) \(.reputation.soft) \(.reputation.technical)"' \
    "$TMP/list.json" | sort >"$TMP/counted.txt"
sort "$TMP/truth.txt" >"$TMP/truth.sorted"
sums() { awk '{ for (i = 2; i <= 6; i++) s[i] += $i } END { printf "%d %d %d %d %d", s[2], s[3], s[4], s[5], s[6] }' "$1"; }
read -r C_DEL C_DEF C_HARD C_SOFT C_TECH <<<"$(sums "$TMP/counted.txt")"
ACCTS_TRUTH=$(wc -l <"$TMP/truth.sorted")
ACCTS_DIFF=$(diff "$TMP/truth.sorted" "$TMP/counted.txt" | grep -c '^[<>]' || true)

# pflogsumm's summary figures.
pf() { awk -v w="$1" '$2 == w { v = $1; if (v ~ /k$/) v *= 1000; print v + 0; exit }' "$TMP/pflogsumm.out"; }
PF_RCVD=$(pf received)
PF_DLVD=$(pf delivered)
PF_BNCD=$(pf bounced)
PF_DEFERRALS=$(sed -n 's/.*deferred *(\([0-9]*\) *deferrals).*/\1/p' "$TMP/pflogsumm.out" | head -n 1)
PF_DEFERRALS=${PF_DEFERRALS:-0}

# ---- report
PF_VERSION=$(dpkg-query -W -f '${Version}' pflogsumm 2>/dev/null || "$PFLOGSUMM" --version 2>&1 | head -n 1)
SIZE_MB=$(awk -v b="$(stat -c %s "$LOGFILE")" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "senderguard tailer benchmark"
echo "date:      $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "host:      nproc=$(nproc), $(uname -sr), $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "postfix:   $(postconf -d -h mail_version 2>/dev/null || echo 'not installed') (the log imitates 3.7)"
echo "pflogsumm: $PF_VERSION ($PFLOGSUMM, perl $(perl -e 'printf "%vd", $^V'))"
echo "binaries:  $BIN_DIR"
echo "log:       ${G[lines]} lines, $SIZE_MB MiB, RFC 3164 syslog, one day; ${G[messages]} messages" \
    "from $ACCTS_TRUTH accounts, ${G[notices]} bounce notices, ${G[noise]} noise events (seed $SEED)"
echo "setup:     generated log + queue map in $GEN_S s (not measured)"
echo "runs:      $RUNS, interleaved; each tailer commit run on a fresh copy of the prefilled store"
echo "machine:   ${IDLE_BUSY}% of all cores busy in 1 s before the runs, ${RUN_BUSY}% during them" \
    "(load average $LOADAVG)"
if ((IDLE_BUSY > 10)); then
    echo "           (something else is using the machine: wall-clock figures are skewed; cpu_s less so)"
fi
echo
printf '%-34s %8s %7s %7s %9s %6s %11s %6s\n' tool lines wall_s cpu_s "lines/s" "x pfls" \
    "lines/cpu_s" "x pfls"
row() { # row LABEL KEY
    printf '%-34s %8d %7s %7s %9s %6s %11s %6s\n' "$1" "${G[lines]}" "${MW[$2]}" "${MC[$2]}" \
        "${RATE[$2]}" "$(ratio "$2")" "${CRATE[$2]}" "$(cratio "$2")"
}
row "senderguard-tail --once (commit)" tail
row "senderguard-tail --once --print" print
row "pflogsumm $PF_VERSION" pflogsumm
echo "(medians of $RUNS runs; wall_s elapsed, cpu_s user+sys of the process; lines/s = lines / wall_s;"
echo " x pfls = the same rate over pflogsumm's)"
echo "senderguard-tail start-up alone (--check: configuration, $(grep -c '^\[\[rule\]\]' "$ROOT/conf/bounce-rules.conf") RE2 rules): ${MW[check]} s, inside the figures above"
echo "per run, wall_s: tail [${WALL[tail]% }]  print [${WALL[print]% }]  pflogsumm [${WALL[pflogsumm]% }]"
echo
met() { if awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; then echo "met"; else echo "NOT met"; fi; }
echo "targets (from the issue), senderguard-tail --once (commit):"
echo "  >= $TARGET_RATE lines/s:       ${RATE[tail]} lines/s -> $(met "${RATE[tail]}" "$TARGET_RATE")"
echo "  >= ${TARGET_RATIO}x pflogsumm:            $(ratio tail)x -> $(met "$(ratio tail)" "$TARGET_RATIO")"
echo

# check LABEL GOT WANT
check() {
    local ok=ok
    [[ $2 == "$3" ]] || { ok=MISMATCH; FAIL=1; }
    printf '  %-44s %10s %10s  %s\n' "$1" "$2" "$3" "$ok"
}
echo "counts (must match the generator's ground truth; the store after the last commit run):"
printf '  %-44s %10s %10s\n' "" counted expected
check "tailer: lines read" "${T_LINES:-?}" "${G[lines]}"
check "tailer: unattributed outcomes" "${T_UNATTR:-?}" 0
check "--print: lines read" "${P_LINES:-?}" "${G[lines]}"
check "--print: malformed lines" "${P_MALFORMED:-?}" 0
check "--print: unattributed outcomes" "${P_UNATTR:-?}" 0
check "store: delivered (sum over accounts)" "$C_DEL" "${G[delivered]}"
check "store: deferred" "$C_DEF" "${G[deferred]}"
check "store: hard" "$C_HARD" "${G[hard]}"
check "store: soft" "$C_SOFT" "${G[soft]}"
check "store: technical" "$C_TECH" "${G[technical]}"
check "store: accounts whose 5 counts differ" "$ACCTS_DIFF" 0
check "pflogsumm: received" "$PF_RCVD" "${G[received]}"
check "pflogsumm: delivered (incl. bounce notices)" "$PF_DLVD" "${G[sent_lines]}"
check "pflogsumm: deferrals" "$PF_DEFERRALS" "${G[deferred_lines]}"
check "pflogsumm: bounced" "$PF_BNCD" "${G[bounced_lines]}"
echo "  (the tailer also suspended $SUSPENDED account(s) and suppressed $SUPPRESSED address(es) on the way:"
echo "   reviews and suppression are part of the measured commit path)"
if ((FAIL)); then
    echo "COUNTS DO NOT MATCH: the throughput figures above are not valid"
    diff "$TMP/truth.sorted" "$TMP/counted.txt" | head -n 10 || true
fi
exit "$FAIL"
