#!/usr/bin/env bash
# Leases per second: take + commit + return cycles (three calls, three transactions) per
# second through pgbench -M prepared, on a private PostgreSQL 15 with fsync on (unlike the
# other tests): from one client, from 8 clients on one account (they queue on its window
# row), from 8 clients on 8 accounts; then the same with a synchronous standby. Every
# cycle must complete and the ledgers must balance. PG_BENCH_SECONDS per run (default 5).
. "$(dirname "$0")/../tests/pg/lib.sh"

SECS=${PG_BENCH_SECONDS:-5}
# shellcheck disable=SC2034 # read by pg_start
PG_FSYNC=on
pgt_start
S=1700000000
R=$((S + 86400))

# bench LABEL CLIENTS ACCOUNTS PREFIX: one pgbench run; prints the figure.
bench() {
    local label=$1 clients=$2 accounts=$3 prefix=$4 out tps failed
    out=$PG_DIR/bench-$prefix.out
    if ! pgt_pgbench -M prepared -c "$clients" -j "$((clients < 2 ? 1 : 2))" -T "$SECS" \
        -f "$PGT_DIR/bench_cycle.pgbench" -D acct="$prefix" -D accounts="$accounts" \
        -D start=$S -D reset=$R >"$out" 2>&1; then
        cat "$out"
        not_ok "$label: pgbench failed"
        return 0
    fi
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$out")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\) .*/\1/p' "$out")
    printf '  %-52s %8.0f leases/s\n' "$label" "$tps"
    [[ $failed == 0 ]] || not_ok "$label: $failed failed cycles"
}

echo "# lease cycles per second (take+commit+return), pgbench -M prepared, ${SECS} s each, fsync on"
echo "# machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
bench "1 client, 1 account, primary alone" 1 1 p1a
bench "8 clients, 1 account, primary alone" 8 1 p8a
bench "8 clients, 8 accounts, primary alone" 8 8 p8b
pg_start_standby
bench "1 client, 1 account, synchronous standby" 1 1 s1a
bench "8 clients, 8 accounts, synchronous standby" 8 8 s8b
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

expect_eq "every lease balances: granted = committed + returned, nothing held" \
    "$(q "SELECT count(*) FROM leases WHERE used + returned + reclaimed <> granted OR granted - used - returned - reclaimed <> 0")" "0"
expect_eq "the windows agree with their leases" \
    "$(q "SELECT count(*) FROM quota_windows w WHERE w.outstanding <> 0 OR w.late <> 0
          OR w.committed <> (SELECT sum(used) FROM leases l WHERE l.account = w.account AND l.win = w.win AND l.start = w.start)")" "0"
finish
