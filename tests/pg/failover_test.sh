#!/usr/bin/env bash
# The lease protocol across a failover: a primary with a synchronous standby, four "nodes"
# taking, committing and returning leases of one window through the two-host conninfo
# (target_session_attrs=read-write), each call retried with its own idempotency key until it
# gets an answer. Mid-load the primary is killed (pg_ctl -m immediate) and the standby
# promoted. Then, on the new primary: every answer a node got is there, unchanged; committed
# is exactly what the nodes were told was committed, and exactly the limit; nothing is held.
# Two calls are caught by the kill on purpose: one committed whose answer the client never
# read (its retry must answer the same and grant nothing more), one that never committed
# (blocked on a lock; its retry must grant once).
. "$(dirname "$0")/lib.sh"

pgt_start
pg_start_standby
echo "# primary 127.0.0.1:$PG_PORT, synchronous standby 127.0.0.1:$PG_PORT2"
CONN="$PG_CONNINFO_MULTI options='-c statement_timeout=20000'"
LIMIT=400
S=1700000000
R=$((S + 86400))
DONE=$PG_DIR/clients-done
mkdir -p "$DONE"

# call VAR SQL: runs SQL through the two-host conninfo until it answers (60 s at most); the
# answer goes to VAR. Each retry is the same statement, so the same idempotency key.
call() {
    local out deadline=$(($(_tb_now_ms) + 60000))
    while :; do
        if out=$(PG_PSQL_CONNINFO=$CONN pg_psql -At -F' ' -c "$2" 2>>"$PG_DIR/client-errors.log"); then
            printf -v "$1" '%s' "$out"
            return 0
        fi
        echo "retry" >>"$PG_DIR/retries.log"
        (($(_tb_now_ms) < deadline)) || return 1
        sleep 0.2
    done
}

# run_node NAME: cycles of take 8 / commit all but one every third time / return the rest, until
# the window is full. Every answer it got is logged ("acknowledged"), one line per call.
run_node() {
    local n=$1 i=0 ans lease g u rest full log=$PG_DIR/acks-$1.log
    while ((i < 2000)); do
        i=$((i + 1))
        call ans "SELECT coalesce(lease_id, 0), granted FROM sg_lease_take('$n', 'fleet', 2, $S, $R, $LIMIT, 8, '$n/t/$i', 60000)" || return 1
        read -r lease g <<<"$ans"
        echo "take $n $n/t/$i $lease $g" >>"$log"
        if ((g == 0)); then
            call full "SELECT committed >= lim FROM quota_windows WHERE account = 'fleet'" || return 1
            [[ $full == t ]] && break
            sleep 0.1
            continue
        fi
        u=$g
        ((i % 3 == 0)) && u=$((g - 1))
        call ans "SELECT status, units FROM sg_lease_commit('$n', $lease, $u, '$n/c/$i')" || return 1
        echo "commit $n $n/c/$i $ans" >>"$log"
        rest=$((g - u))
        if ((rest > 0)); then
            call ans "SELECT status, units FROM sg_lease_return('$n', $lease, $rest, '$n/r/$i')" || return 1
            echo "return $n $n/r/$i $ans" >>"$log"
        fi
    done
    touch "$DONE/$n"
}

# The two calls caught by the kill (accounts "lostA" and "lostB", apart from the load).
takeq() { # takeq ACCOUNT KEY: the take statement of node mx9, 5 units of a limit of 100
    # (a ttl of 10 minutes: the test must not depend on how long the load takes)
    echo "SELECT lease_id, granted FROM sg_lease_take('mx9', '$1', 2, $S, $R, 100, 5, '$2', 600000)"
}
# A: committed (and replicated) before the kill; its answer is thrown away as if lost.
pg_psql -c "$(takeq lostA kA)" -c "SELECT pg_sleep(300)" >/dev/null 2>&1 &
# B: blocked behind a lock on its window when the primary dies: it never commits.
q "$(takeq lostB kB0)" >/dev/null
pg_psql -c "BEGIN" -c "SELECT 1 FROM quota_windows WHERE account = 'lostB' FOR UPDATE" \
    -c "SELECT pg_sleep(300)" >/dev/null 2>&1 &
for _ in $(seq 1 200); do
    [[ $(q "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300)'") == 2 ]] && break
    sleep 0.05
done
pg_psql -c "$(takeq lostB kB)" >/dev/null 2>&1 &
for _ in $(seq 1 200); do
    [[ $(q "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%kB''%'") == 1 ]] && break
    sleep 0.05
done
expect_eq "before the kill: A committed, B waiting on the lock" \
    "$(q "SELECT (SELECT count(*) FROM lease_ops WHERE idem_key = 'kA'),
                 (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%kB''%')")" "1 1"
answer_a=$(q "SELECT lease_id, units FROM lease_ops WHERE idem_key = 'kA'")

pids=()
for n in mx1 mx2 mx3 mx4; do
    run_node "$n" &
    pids+=($!)
done
# A sampler of the invariant, through whichever server is the primary.
(
    while [[ $(find "$DONE" -type f | wc -l) -lt 4 ]]; do
        if v=$(PG_PSQL_CONNINFO=$CONN pg_psql -At -c "SELECT count(*) FROM quota_windows WHERE committed + outstanding > lim" 2>/dev/null); then
            echo "$v" >>"$PG_DIR/samples.log"
        fi
        sleep 0.1
    done
) &
SAMPLER=$!

# Kill the primary once a third of the limit is committed.
deadline=$(($(_tb_now_ms) + 120000))
while :; do
    c=$(q "SELECT coalesce((SELECT committed FROM quota_windows WHERE account = 'fleet'), 0)")
    ((c >= LIMIT / 3)) && break
    (($(_tb_now_ms) < deadline)) || { not_ok "the load did not reach a third of the limit"; break; }
    sleep 0.05
done
t0=$(_tb_now_ms)
pg_failover
echo "# primary killed at committed=$c; standby promoted and writable in $(($(_tb_now_ms) - t0)) ms"

rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
wait "$SAMPLER" || true
check "every node finished (each call answered within 60 s)" test "$rc" = 0
retries=$(wc -l <"$PG_DIR/retries.log" 2>/dev/null || echo 0)
echo "# calls of the load retried across the failover: $retries"
expect_eq "the new primary is the promoted standby" "$(q "SELECT pg_is_in_recovery()")" "f"
expect_eq "A's retry (its answer lost) answers what A committed" "$(q "$(takeq lostA kA)")" "$answer_a"
expect_eq "... and grants its units once" \
    "$(q "SELECT sum(granted), max(w.outstanding) FROM leases JOIN quota_windows w USING (account, win, start) WHERE account = 'lostA'")" "5 5"
expect_eq "B never committed: no trace on the new primary" \
    "$(q "SELECT count(*) FROM lease_ops WHERE idem_key = 'kB'")" "0"
q "$(takeq lostB kB)" >/dev/null
q "$(takeq lostB kB)" >/dev/null
expect_eq "B's retries grant once" \
    "$(q "SELECT sum(granted), max(w.outstanding) FROM leases JOIN quota_windows w USING (account, win, start) WHERE account = 'lostB'")" "10 10"
samples=$(wc -l <"$PG_DIR/samples.log")
expect_eq "committed + outstanding <= limit in every snapshot ($samples)" \
    "$(sort -u "$PG_DIR/samples.log" | tr '\n' ' ')" "0 "

# Every acknowledged answer is on the new primary, as it was given.
cat "$PG_DIR"/acks-*.log >"$PG_DIR/acks.all"
chmod 0644 "$PG_DIR/acks.all"
acks=$(wc -l <"$PG_DIR/acks.all")
pg_psql -c "CREATE TEMP TABLE acks (op text, node text, key text, a text, b bigint)" \
    -c "\\copy acks FROM '$PG_DIR/acks.all' WITH (FORMAT text, DELIMITER ' ')" \
    -c "SELECT count(*) FROM acks a LEFT JOIN lease_ops o ON o.node = a.node AND o.idem_key = a.key
        WHERE o.op IS DISTINCT FROM a.op
           OR (a.op = 'take' AND (coalesce(o.lease_id, 0)::text, o.units) IS DISTINCT FROM (a.a, a.b))
           OR (a.op <> 'take' AND (o.status, o.units) IS DISTINCT FROM (a.a, a.b))" \
    -At >"$PG_DIR/lost.out"
expect_eq "all $acks acknowledged answers survived the failover unchanged" "$(cat "$PG_DIR/lost.out")" "0"
acked=$(awk '$1 == "commit" && $4 == "ok" { s += $5 } END { print s + 0 }' "$PG_DIR/acks.all")
read -r committed outstanding late < <(q "SELECT committed, outstanding, late FROM quota_windows WHERE account = 'fleet'")
echo "# committed $committed (acknowledged commits $acked), outstanding $outstanding, late $late, limit $LIMIT"
expect_eq "committed = the units the nodes were told were committed" "$committed" "$acked"
expect_eq "exactly the limit, nothing held, nothing late" "$committed $outstanding $late" "$LIMIT 0 0"
expect_eq "no key recorded twice or left pending" \
    "$(q "SELECT count(*) FROM lease_ops WHERE status = 'pending'")" "0"

finish
