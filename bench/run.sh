#!/usr/bin/env bash
# bench/run.sh - throughput benchmark: what a milter costs a Postfix server. Prints figures; it
# never passes or fails on timing. In one run, through one private Postfix 3.7 (scripts/lib/
# testbed.sh, restarted per phase with identical settings apart from the milter), it measures
# (a) no milter, (b) a null libmilter milter that accepts everything, (c) senderguard-milter,
# (d) senderguard-milter with DMARC in outbound mode (a second instance on the same store): SPF
# from the egress address and the DMARC policy, each message's From: domain publishing p=reject
# and passing by aligned SPF, with the resolver's cache warm (ldns-testns on loopback serves the
# records). The DMARC cost is (d) against (c). (e) senderguard-milter on PostgreSQL ([store]
# backend = "postgresql", the fleet's backend, docs/fleet.md) with the same accounts and
# suppressions as (c): a private PostgreSQL 15 (scripts/lib/pg.sh, fsync on) with
# pg_stat_statements, which counts the statements the milter sends per message.
# Load: 4 concurrent smtp-source processes (senders bench-1.test..bench-4.test, which are also
# senderguard accounts), one message per connection, relayed to smtp-sink. Per phase: messages/s
# (wall time until smtp-source ends AND the queue is empty), the milter's CPU (utime+stime from
# /proc/PID/stat) per message, and throughput ratios. Milters listen on unix sockets: Postfix's
# milter client over TCP stalls ~40 ms per message (Nagle on Postfix's side meeting delayed ACK
# on the milter's: the second write of a milter command waits for the ACK of the first), which
# would measure the TCP stack rather than the milter.
#
# Then the scale figure: the store work of a message's decisions (bench/store_fill --measure:
# GetAccount, FindSuppression, Reserve, Commit, as the milter calls them; no SMTP) on a store like
# (c)'s and on one of 1,000,000 accounts and 10,000,000 suppressed addresses (filled by
# store_fill, several minutes and about 4 GB under the temp dir; removed at the end).
#
# Usage: bench/run.sh [--messages N] [--sessions S] [--rounds R] [--phases LIST] [--no-pg] [--no-scale]
#        (defaults 4000, 20, 3; as root; --no-pg leaves out phase (e), --no-scale the scale figure;
#        --phases runs only those phases each round, e.g. "b e" for many rounds of the PostgreSQL
#        target in the time of a few whole rounds)
# The phases run R times interleaved (a b c d e, then e d c b a, ...); the summary gives each
# phase's median, which keeps a burst of background load from deciding the ratio, and each
# ratio round by round (median, lowest and highest), which a slow drift of the machine does not
# skew either.
# Environment: SG_BIN_DIR (default build/bin), TB_KEEP=1 keeps the temp dir for inspection.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=scripts/lib/testbed.sh
source "$ROOT/scripts/lib/testbed.sh"
# shellcheck source=scripts/lib/pg.sh
source "$ROOT/scripts/lib/pg.sh"

MESSAGES=4000
SESSIONS=20
ROUNDS=3
WARMUP=200
PROCS=4
WITH_PG=1
WITH_SCALE=1
PHASES="a b c d e"
SCALE_ACCOUNTS=1000000
SCALE_SUPPRESSED=10000000
BIN_DIR=${SG_BIN_DIR:-$ROOT/build/bin}

usage() { echo "usage: $0 [--messages N] [--sessions S] [--rounds R] [--phases LIST] [--no-pg] [--no-scale]" >&2; }
while (($#)); do
    case $1 in
    --messages) MESSAGES=${2:?}; shift 2 ;;
    --messages=*) MESSAGES=${1#*=}; shift ;;
    --sessions) SESSIONS=${2:?}; shift 2 ;;
    --sessions=*) SESSIONS=${1#*=}; shift ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --rounds=*) ROUNDS=${1#*=}; shift ;;
    --phases) PHASES=${2:?}; shift 2 ;;
    --phases=*) PHASES=${1#*=}; shift ;;
    --no-pg) WITH_PG=0; shift ;;
    --no-scale) WITH_SCALE=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage; exit 2 ;;
    esac
done
[[ $MESSAGES =~ ^[0-9]+$ && $SESSIONS =~ ^[0-9]+$ ]] || { usage; exit 2; }
((MESSAGES >= PROCS && SESSIONS >= PROCS)) ||
    { echo "need --messages and --sessions >= $PROCS" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "run as root (private Postfix instance)" >&2; exit 2; }

CLK_TCK=$(getconf CLK_TCK)

log() { echo "# $*" >&2; }

# utime+stime (clock ticks, all threads) of PID.
cpu_ticks() {
    local s
    read -r s <"/proc/$1/stat"
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    echo $((${12} + ${13}))
}

# host_cpu: "busy total" jiffies of the whole machine, from /proc/stat.
host_cpu() {
    local _cpu user nice sys idle iowait irq softirq steal _rest
    read -r _cpu user nice sys idle iowait irq softirq steal _rest </proc/stat
    echo "$((user + nice + sys + irq + softirq + steal)) $((user + nice + sys + idle + iowait + irq + softirq + steal))"
}

# busy_pct "BUSY0 TOTAL0" "BUSY1 TOTAL1": percentage of all cores busy between two host_cpu samples.
busy_pct() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        printf "%.0f", (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0 }'
}

# drive TOTAL: TOTAL messages over PROCS concurrent smtp-source processes, SESSIONS sessions in
# all; process i sends as sender@bench-i.test. Fails if any smtp-source fails.
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
    if ((rc)); then
        tail -n 5 "$TB_DIR/log/smtp-source.out" >&2 || true
        return 1
    fi
}

# wait_sink_count N: wait (5 s at most) until the sink has counted N messages; prints the count.
wait_sink_count() {
    local want=$1 n i
    for ((i = 0; i < 100; i++)); do
        n=$(tb_sink_count)
        ((n >= want)) && break
        sleep 0.05
    done
    echo "$n"
}

declare -A RATE WALL CPU_US HOST_BUSY IDLE_BUSY DELIVERED NOTE STMTS

# run_phase KEY MILTER_SPEC MILTER_PID: start Postfix (with MILTER_SPEC if not empty), warm up,
# measure, stop Postfix. Results go into RATE/WALL/CPU_US/DELIVERED[KEY].
run_phase() {
    local key=$1 milter=$2 mpid=$3 base c0=0 c1=0 t0 t1 got h0 h1 i0
    log "phase $key: starting Postfix${milter:+ with milter $milter}"
    tb_start_postfix "$milter" || return 1
    drive "$WARMUP" || { log "phase $key: warm-up failed"; return 1; }
    tb_wait_queue_empty 120 || return 1
    base=$(wait_sink_count 0)
    # Background check: machine CPU use for 1 s while this benchmark is idle.
    i0=$(host_cpu)
    sleep 1
    IDLE_BUSY[$key]=$(busy_pct "$i0" "$(host_cpu)")
    [[ -n $mpid ]] && c0=$(cpu_ticks "$mpid")
    [[ $key == e* ]] && pg_psql -c "SELECT pg_stat_statements_reset()" >/dev/null

    h0=$(host_cpu)
    t0=$EPOCHREALTIME
    drive "$MESSAGES" || { log "phase $key: load failed"; return 1; }
    tb_wait_queue_empty 900 || return 1
    t1=$EPOCHREALTIME
    h1=$(host_cpu)

    [[ -n $mpid ]] && c1=$(cpu_ticks "$mpid")
    if [[ $key == e* ]]; then
        # What the milter sent PostgreSQL for these messages: its lease thread reports the last
        # commits within a second of the load's end.
        sleep 2
        STMTS[$key]=$(pg_psql -At -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
                                      WHERE query NOT LIKE '%pg_stat_statements%'")
        pg_psql -At -F' ' -c "SELECT calls, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
                              FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'
                              ORDER BY calls DESC LIMIT 10" >"$TB_DIR/statements.txt"
    fi
    got=$(($(wait_sink_count $((base + MESSAGES))) - base))
    tb_stop_postfix
    DELIVERED[$key]=$got
    WALL[$key]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    RATE[$key]=$(awk -v n="$MESSAGES" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
    HOST_BUSY[$key]=$(busy_pct "$h0" "$h1")
    if [[ -n $mpid ]]; then
        CPU_US[$key]=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$MESSAGES" \
            'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
    fi
    if ((got != MESSAGES)); then
        NOTE[$key]="sink counted $got of $MESSAGES"
    fi
    log "phase $key: ${RATE[$key]} msg/s"
}

# The null milter: build/bin/sg-null-milter if built, else compiled here with cc.
null_milter_bin() {
    if [[ -x $BIN_DIR/sg-null-milter ]]; then
        echo "$BIN_DIR/sg-null-milter"
    else
        cc -O2 -o "$TB_DIR/sg-null-milter" "$ROOT/bench/null_milter.c" -lmilter -lpthread
        echo "$TB_DIR/sg-null-milter"
    fi
}

# populate CTL CONF KEY: the accounts and suppressions of phases (c) and (e): 1000 accounts with
# their own quotas, the PROCS bench accounts, 100,000 global suppressions. Sets POPULATE_OUT.
populate() {
    local sgc=$1 conf=$2 key=$3 d i t0 t1
    d=$(dirname "$conf")
    log "phase $key: populating 1004 account quotas and 100000 suppressions"
    t0=$EPOCHREALTIME
    for ((i = 1; i <= 1000; i++)); do
        if ! "$sgc" -c "$conf" quota set "$(printf 'acct%04d' "$i")" day=5000 hour=500 --create \
            >>"$d/ctl.log" 2>&1; then
            tail -n 5 "$d/ctl.log" >&2
            NOTE[$key]="senderguardctl quota set failed"
            return 1
        fi
    done
    for ((i = 1; i <= PROCS; i++)); do
        if ! "$sgc" -c "$conf" quota set "bench-$i.test" day=1000000000 hour=1000000000 --create \
            >>"$d/ctl.log" 2>&1; then
            tail -n 5 "$d/ctl.log" >&2
            NOTE[$key]="senderguardctl quota set failed"
            return 1
        fi
    done
    t1=$EPOCHREALTIME
    awk 'BEGIN { for (i = 1; i <= 100000; i++) printf "user%d@supp.test\n", i }' >"$d/suppressed.txt"
    if ! "$sgc" -c "$conf" suppress import "$d/suppressed.txt" >>"$d/ctl.log" 2>&1; then
        tail -n 5 "$d/ctl.log" >&2
        NOTE[$key]="senderguardctl suppress import failed"
        return 1
    fi
    POPULATE_OUT=$(awk -v a="$t0" -v b="$t1" -v c="$EPOCHREALTIME" \
        'BEGIN { printf "quota set x1004: %.2f s, suppress import x100000: %.2f s", b - a, c - b }')
    log "phase $key: $POPULATE_OUT"
}

# start_sg KEY CONF SOCK LOG: starts senderguard-milter; sets STARTED_PID.
start_sg() {
    local key=$1 conf=$2 sock=$3 mlog=$4 pid
    "$BIN_DIR/senderguard-milter" -c "$conf" >"$mlog" 2>&1 </dev/null &
    pid=$!
    tb_track_pid "$pid"
    if ! tb_wait_socket "$sock" 30 "$pid"; then
        tail -n 20 "$mlog" >&2
        NOTE[$key]="senderguard-milter did not start"
        return 1
    fi
    STARTED_PID=$pid
}

# Phase (c): configure, populate and start senderguard-milter, then measure.
phase_senderguard() {
    local sgm=$BIN_DIR/senderguard-milter sgc=$BIN_DIR/senderguardctl
    local d=$TB_DIR/sg conf
    if [[ ! -x $sgm ]]; then
        echo "senderguard-milter not built; skipping"
        NOTE[c]="not built; skipped"
        return 0
    fi
    if [[ ! -x $sgc ]]; then
        echo "senderguardctl not built; skipping phase c"
        NOTE[c]="senderguardctl not built; skipped"
        return 0
    fi
    mkdir -p "$d"
    chmod 0755 "$d" # the postfix user must reach sg.sock
    conf=$d/senderguard.toml
    cat >"$conf" <<EOF
[store]
path = "$d/store"

[milter]
socket = "unix:$d/sg.sock"
socket_mode = "0666"

[quota.day]
limit = 100000000

[quota.minute]
limit = 10000000

[dmarc]
mode = "off"
EOF
    populate "$sgc" "$conf" c || return 1
    POPULATE=$POPULATE_OUT
    start_sg c "$conf" "$d/sg.sock" "$d/milter.log" || return 1
    SG_PID=$STARTED_PID
    SG_SOCK=$d/sg.sock
}

# Phase (e): the configuration of (c) on PostgreSQL: a private server (fsync on, like a real one;
# no standby) with pg_stat_statements, the schema by `senderguardctl store init`, the accounts
# and suppressions of (c) copied by `senderguardctl store copy`, the node's own LMDB beside it.
phase_pg() {
    local d=$TB_DIR/sgpg conf
    if [[ ! -x $PG_BIN/initdb ]]; then
        NOTE[e]="postgresql-15 not installed; skipped"
        return 0
    fi
    PG_FSYNC=on PG_EXTRA_CONF="shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top" pg_start || { NOTE[e]="PostgreSQL did not start"; return 1; }
    pg_psql -c "CREATE EXTENSION pg_stat_statements" >/dev/null
    mkdir -p "$d"
    chmod 0755 "$d"
    conf=$d/senderguard.toml
    sed -e "s#^path = .*#backend = \"postgresql\"\npath = \"$d/store\"#" -e "s#$TB_DIR/sg/sg.sock#$d/sg.sock#" \
        "$TB_DIR/sg/senderguard.toml" >"$conf"
    printf '\n[store.postgresql]\nconninfo = "%s"\nnode = "bench"\n' "$PG_CONNINFO" >>"$conf"
    if ! "$BIN_DIR/senderguardctl" -c "$conf" store init >"$d/init.log" 2>&1; then
        tail -n 5 "$d/init.log" >&2
        NOTE[e]="senderguardctl store init failed"
        return 1
    fi
    # The accounts and suppressions of (c), moved by the migration command.
    local t0=$EPOCHREALTIME
    if ! "$BIN_DIR/senderguardctl" -c "$conf" store copy --from "lmdb:$TB_DIR/sg/store" --to postgresql \
        >"$d/copy.log" 2>&1; then
        tail -n 5 "$d/copy.log" >&2
        NOTE[e]="senderguardctl store copy failed"
        return 1
    fi
    POPULATE_PG=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "store copy of (c)'"'"'s store: %.2f s", b - a }')
    log "phase e: $POPULATE_PG"
    start_sg e "$conf" "$d/sg.sock" "$d/milter.log" || return 1
    PG_SG_PID=$STARTED_PID
    PG_SG_SOCK=$d/sg.sock
}

# Phase (d): the same milter and store with [dmarc] mode = "outbound", and a DNS server:
# dnsmasq authoritative for test. (negative answers carry the SOA, so they are cached for its
# TTL as real ones are), each bench-N.test publishing DMARC p=reject and SPF for the egress.
phase_dmarc() {
    local d=$TB_DIR/sg conf=$TB_DIR/sg/senderguard-dmarc.toml dns=$TB_DIR/dnsmasq.conf i port pid
    port=$(_tb_free_port "$TB_SMTP_PORT")
    {
        printf 'port=%s\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\nno-poll\n' "$port"
        printf 'user=nobody\ngroup=nogroup\nauth-server=ns.test,127.0.0.1\nauth-zone=test\nauth-ttl=3600\n'
        printf 'auth-soa=1,hostmaster.test,1200,120,604800\nlocal-ttl=3600\n'
        for ((i = 1; i <= PROCS; i++)); do
            printf 'txt-record=_dmarc.bench-%s.test,"v=DMARC1; p=reject"\n' "$i"
            printf 'txt-record=bench-%s.test,"v=spf1 ip4:192.0.2.10 -all"\n' "$i"
        done
    } >"$dns"
    dnsmasq -k -C "$dns" 2>"$TB_DIR/log/dnsmasq.log" &
    pid=$!
    tb_track_pid "$pid"
    for ((i = 0; i < 100; i++)); do
        [[ -n $(ss -Hlun "( sport = :$port )" 2>/dev/null) ]] && break
        sleep 0.1
    done
    [[ -n $(ss -Hlun "( sport = :$port )" 2>/dev/null) ]] || { NOTE[d]="dnsmasq did not start"; return 1; }
    sed -e "s#$d/sg.sock#$d/sg-dmarc.sock#" -e '/^\[dmarc\]/,$d' "$d/senderguard.toml" >"$conf"
    printf '[dmarc]\nmode = "outbound"\negress = ["192.0.2.10"]\nupstream = ["127.0.0.1@%s"]\ntest_tld = true\n' "$port" >>"$conf"
    "$BIN_DIR/senderguard-milter" -c "$conf" >"$d/milter-dmarc.log" 2>&1 </dev/null &
    pid=$!
    tb_track_pid "$pid"
    if ! tb_wait_socket "$d/sg-dmarc.sock" 30 "$pid"; then
        tail -n 20 "$d/milter-dmarc.log" >&2
        NOTE[d]="senderguard-milter (DMARC) did not start"
        return 1
    fi
    DM_PID=$pid
    DM_SOCK=$d/sg-dmarc.sock
}

# scale_figure: fills the two stores and measures each ROUNDS times, alternately; sets SCALE_OUT
# (the lines to print) or SCALE_NOTE.
scale_figure() {
    local fill=$BIN_DIR/store_fill small=$TB_DIR/scale-small big=$TB_DIR/scale-big r f line
    if [[ ! -x $fill ]]; then
        SCALE_NOTE="store_fill not built (cmake --build build --target store_fill)"
        return 0
    fi
    log "scale: filling a store of 1004 accounts and 100000 suppressed addresses"
    "$fill" --store "$small" --accounts 1004 --suppressed 100000 >"$TB_DIR/log/fill-small.out" 2>&1 ||
        { SCALE_NOTE="store_fill failed: $(tail -n 1 "$TB_DIR/log/fill-small.out")"; return 1; }
    log "scale: filling a store of $SCALE_ACCOUNTS accounts and $SCALE_SUPPRESSED suppressed addresses (minutes)"
    "$fill" --store "$big" --accounts "$SCALE_ACCOUNTS" --suppressed "$SCALE_SUPPRESSED" \
        >"$TB_DIR/log/fill-big.out" 2>&1 ||
        { SCALE_NOTE="store_fill failed: $(tail -n 1 "$TB_DIR/log/fill-big.out")"; return 1; }
    SCALE_OUT=$(printf '  %-44s %6s %11s %12s\n' store size cpu_us/msg wall_us/msg)
    for ((r = 1; r <= ROUNDS; r++)); do
        for f in small big; do
            local acc=1004 sup=100000 dir=$small
            [[ $f == big ]] && { acc=$SCALE_ACCOUNTS; sup=$SCALE_SUPPRESSED; dir=$big; }
            line=$("$fill" --store "$dir" --measure --accounts "$acc" --suppressed "$sup" --messages 20000 2>&1) ||
                { SCALE_NOTE="store_fill --measure failed: $line"; return 1; }
            SCALE_OUT+=$'\n'$(printf '  %-44s %6s %11s %12s' "#$r $acc accounts, $sup suppressed" \
                "$(du -sh "$dir" | cut -f1)" \
                "$(sed -n 's/.*: \([0-9.]*\) us CPU.*/\1/p' <<<"$line")" \
                "$(sed -n 's/.*CPU, \([0-9.]*\) us wall.*/\1/p' <<<"$line")")
        done
    done
    SCALE_OUT+=$'\n'"  big store $(sed -n 's/^filled: //p' "$TB_DIR/log/fill-big.out")"
    rm -rf -- "$big"
}

# pairs KEY_NUM KEY_DEN: the ratio of the two phases round by round (each round ran both, near
# in time), as "median [min..max] of N rounds".
pairs() {
    local r vals=()
    for ((r = 1; r <= ROUNDS; r++)); do
        [[ -n ${RATE[$1$r]:-} && -n ${RATE[$2$r]:-} ]] &&
            vals+=("$(awk -v a="${RATE[$1$r]}" -v b="${RATE[$2$r]}" 'BEGIN { printf "%.4f", a / b }')")
    done
    ((${#vals[@]})) || { echo "n/a"; return; }
    printf '%s\n' "${vals[@]}" | sort -g | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.3f [%.3f..%.3f] of %d rounds", m, v[1], v[NR], NR }'
}

ratio() { # ratio KEY_NUM KEY_DEN
    if [[ -n ${RATE[$1]:-} && -n ${RATE[$2]:-} ]]; then
        awk -v a="${RATE[$1]}" -v b="${RATE[$2]}" 'BEGIN { printf "%.3f", a / b }'
    else
        echo "n/a"
    fi
}

# --------------------------------------------------------------------------------------------
export TB_SINK_KEEP=0
tb_init
# shellcheck disable=SC2119 # (no extra smtp-sink arguments)
tb_start_sink

echo "senderguard milter benchmark"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "host:     nproc=$(nproc), $(uname -sr), $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "postfix:  $(postconf -d -h mail_version)"
echo "load:     $MESSAGES messages per phase (+$WARMUP warm-up), $SESSIONS sessions over $PROCS smtp-source processes, 1 message/connection"

# Milters start once and stay up across rounds.
NULL_BIN=$(null_milter_bin)
"$NULL_BIN" -p "unix:$TB_DIR/null.sock" >"$TB_DIR/log/null-milter.log" 2>&1 </dev/null &
NULL_PID=$!
tb_track_pid "$NULL_PID"
tb_wait_socket "$TB_DIR/null.sock" 10 "$NULL_PID"
POPULATE=
PHASE_C_FAILED=0
SG_PID=
if ! phase_senderguard; then
    PHASE_C_FAILED=1
    log "phase c failed: ${NOTE[c]:-}"
fi
DM_PID=
if [[ -n $SG_PID ]] && ! phase_dmarc; then
    PHASE_C_FAILED=1
    log "phase d failed: ${NOTE[d]:-}"
fi

PG_SG_PID=
POPULATE_PG=
if [[ -n $SG_PID && $WITH_PG == 1 ]] && ! phase_pg; then
    PHASE_C_FAILED=1
    log "phase e failed: ${NOTE[e]:-}"
fi

# One phase of round r: a b c d e.
run_one() { # run_one LETTER
    local r=$ROUND
    case $1 in
    a) run_phase "a$r" "" "" ;;
    b) run_phase "b$r" "unix:$TB_DIR/null.sock" "$NULL_PID" ;;
    c)
        if [[ -n $SG_PID ]] && ! run_phase "c$r" "unix:$SG_SOCK" "$SG_PID"; then
            tb_stop_postfix
            NOTE[c]="failed during load (see stderr)"
            PHASE_C_FAILED=1
            SG_PID=
        fi
        ;;
    d)
        if [[ -n $DM_PID ]] && ! run_phase "d$r" "unix:$DM_SOCK" "$DM_PID"; then
            tb_stop_postfix
            NOTE[d]="failed during load (see stderr)"
            PHASE_C_FAILED=1
            DM_PID=
        fi
        ;;
    e)
        if [[ -n $PG_SG_PID ]] && ! run_phase "e$r" "unix:$PG_SG_SOCK" "$PG_SG_PID"; then
            tb_stop_postfix
            NOTE[e]="failed during load (see stderr)"
            PHASE_C_FAILED=1
            PG_SG_PID=
        fi
        ;;
    esac
}
# Odd rounds run a b c d e, even rounds e d c b a: a drift of the machine over a round (a
# neighbour's load growing or fading) then favours no phase over two rounds.
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    if ((ROUND % 2)); then order="a b c d e"; else order="e d c b a"; fi
    for letter in $order; do
        if [[ " $PHASES " == *" $letter "* ]]; then run_one "$letter"; fi
    done
done

SCALE_OUT=
SCALE_NOTE=
if ((WITH_SCALE)) && ! scale_figure; then
    PHASE_C_FAILED=1
    log "scale figure failed: $SCALE_NOTE"
fi

# median KEY: the median of RATE[KEY1..KEYn] (or CPU_US with a second argument).
median() {
    local key=$1 arr=RATE r vals=()
    [[ ${2:-} == cpu ]] && arr=CPU_US
    for ((r = 1; r <= ROUNDS; r++)); do
        local -n ref=$arr
        [[ -n ${ref[$key$r]:-} ]] && vals+=("${ref[$key$r]}")
    done
    ((${#vals[@]})) || { echo ""; return; }
    printf '%s\n' "${vals[@]}" | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
for key in a b c d e; do
    m=$(median $key)
    [[ -n $m ]] && RATE[$key]=$m
    m=$(median $key cpu)
    [[ -n $m ]] && CPU_US[$key]=$m
done

echo
printf '%-20s %8s %7s %8s %17s %9s %9s %9s\n' phase messages wall_s "msg/s" "milter_cpu_us/msg" "host_cpu%" "idle_cpu%" delivered
for ((r = 1; r <= ROUNDS; r++)); do for key in "a$r" "b$r" "c$r" "d$r" "e$r"; do
    [[ $key == e* && $WITH_PG == 0 ]] && continue
    case ${key:0:1} in a) name="(a) no milter" ;; b) name="(b) null milter" ;; c) name="(c) senderguard" ;; d) name="(d) sg + DMARC" ;; e) name="(e) sg PostgreSQL" ;; esac
    name="$name #$r"
    if [[ -n ${RATE[$key]:-} ]]; then
        printf '%-20s %8d %7s %8s %17s %9s %9s %9s' "$name" "$MESSAGES" "${WALL[$key]}" "${RATE[$key]}" \
            "${CPU_US[$key]:--}" "${HOST_BUSY[$key]}" "${IDLE_BUSY[$key]}" "${DELIVERED[$key]}"
    else
        printf '%-20s %8s %7s %8s %17s %9s %9s %9s' "$name" - - - - - - -
    fi
    [[ -n ${NOTE[$key]:-} ]] && printf '   (%s)' "${NOTE[$key]}"
    echo
done; done
echo
echo "medians over $ROUNDS round(s):"
printf '  %-18s %8s msg/s   milter cpu %s us/msg\n' "(a) no milter" "${RATE[a]:--}" "-" \
    "(b) null milter" "${RATE[b]:--}" "${CPU_US[b]:--}" "(c) senderguard" "${RATE[c]:--}" "${CPU_US[c]:--}" \
    "(d) sg + DMARC" "${RATE[d]:--}" "${CPU_US[d]:--}"
((WITH_PG)) && printf '  %-18s %8s msg/s   milter cpu %s us/msg\n' "(e) sg PostgreSQL" "${RATE[e]:--}" "${CPU_US[e]:--}"
echo "milter_cpu_us/msg: utime+stime of the milter process (all threads) / messages."
echo "host_cpu%: whole machine, all cores, during the measured run. idle_cpu%: the same during 1 s"
echo "just before it with the benchmark idle; above a few % something else is using the machine"
echo "and the figures of that phase are skewed."
[[ -n $POPULATE ]] && echo "senderguard setup: $POPULATE"
[[ -n $POPULATE_PG ]] && echo "senderguard on PostgreSQL setup: $POPULATE_PG"
echo
echo "throughput ratios (of the medians):"
echo "  null/none          $(ratio b a)"
echo "  senderguard/null   $(ratio c b)"
echo "  senderguard/none   $(ratio c a)"
echo "  DMARC cost (d vs c): throughput $(ratio d c) of (c); milter CPU per message" \
    "$(awk -v c="${CPU_US[c]:-}" -v d="${CPU_US[d]:-}" 'BEGIN { if (c > 0 && d > 0) printf "%+.1f%% (%s -> %s us)", 100 * (d - c) / c, c, d; else print "n/a" }')"
echo "  (d) passes DMARC only by SPF from the egress address; a message it refused or deferred"
echo "  would be missing from the delivered column."
if ((WITH_PG)); then
    echo "  senderguard-pg/null   $(ratio e b)   (target >= 0.95)"
    echo "  senderguard-pg/lmdb   $(ratio e c)"
fi
echo
echo "throughput ratios round by round (median [lowest..highest]; the rounds alternate the order):"
echo "  senderguard/null      $(pairs c b)"
echo "  DMARC (d vs c)        $(pairs d c)"
if ((WITH_PG)); then
    echo "  senderguard-pg/null   $(pairs e b)   (target >= 0.95)"
    echo "  senderguard-pg/lmdb   $(pairs e c)"
    echo
    echo "statements sent to PostgreSQL (pg_stat_statements, top level, BEGIN/COMMIT included; from"
    echo "the load's start to 2 s after its end):"
    for ((r = 1; r <= ROUNDS; r++)); do
        [[ -n ${STMTS[e$r]:-} ]] || continue
        printf '  round %d: %s statements for %s messages: %s per message\n' "$r" "${STMTS[e$r]}" "$MESSAGES" \
            "$(awk -v s="${STMTS[e$r]}" -v n="$MESSAGES" 'BEGIN { printf "%.4f", s / n }')"
    done
    if [[ -s $TB_DIR/statements.txt ]]; then
        echo "  the last round's, by calls:"
        sed 's/^/    /' "$TB_DIR/statements.txt"
    fi
fi
if ((WITH_SCALE)); then
    echo
    echo "scale: the store work of one message's decisions (store_fill --measure: GetAccount,"
    echo "FindSuppression, Reserve, Commit with the queue entry; 20000 one-recipient messages, one in"
    echo "ten to a suppressed address; CPU of the process, the store's writer thread included):"
    if [[ -n $SCALE_OUT ]]; then echo "$SCALE_OUT"; else echo "  not measured: $SCALE_NOTE"; fi
fi
exit "$PHASE_C_FAILED"
