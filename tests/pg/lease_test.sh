#!/usr/bin/env bash
# The lease protocol (lib/store/postgresql/schema.sql) on a real private PostgreSQL 15:
# block sizing, retries with the same idempotency key, expiry and the late node, then
# pgbench hammering it from four "nodes" at once, with the invariant
# committed + outstanding <= limit sampled during the load and the ledgers checked after.
. "$(dirname "$0")/lib.sh"

pgt_start

# ---- block sizing: min(want, A, max(1, A / (2n)))
S=1700000000  # window start (a day window: reset = S + 86400)
R=$((S + 86400))
take() { # take NODE ACCOUNT LIMIT WANT KEY [TTL_MS] -> "lease granted available"
    q "SELECT lease_id, granted, available FROM sg_lease_take('$1', '$2', 2, $S, $R, $3, $4, '$5', ${6:-60000})"
}
expect_eq "first take gets its whole want" "$(take n1 size 100 30 s1 | cut -d' ' -f2,3)" "30 70"
expect_eq "a first take is capped at half the window" "$(take n2 size2 100 100 s2 | cut -d' ' -f2)" "50"
expect_eq "a second node gets a quarter of what is left (n = 2)" \
    "$(take n3 size2 100 100 s3 | cut -d' ' -f2)" "12"
expect_eq "a third node a sixth (n = 3)" "$(take n4 size2 100 100 s4 | cut -d' ' -f2)" "6"
# Three nodes draining the rest by taking and committing: down to single units, then 0.
grants=()
for i in $(seq 1 60); do
    node=n$((2 + i % 3))
    read -r lease g _ < <(take "$node" size2 100 100 "drain$i")
    [[ $g == 0 ]] && break
    grants+=("$g")
    q "SELECT 1 FROM sg_lease_commit('$node', $lease, $g, 'drainc$i')" >/dev/null
done
# The first three blocks (50, 12, 6) are still held: commit them.
for n in n2 n3 n4; do
    read -r lease held < <(q "SELECT id, granted - used - returned FROM leases WHERE node = '$n' AND account = 'size2' AND state = 'open'")
    q "SELECT 1 FROM sg_lease_commit('$n', $lease, $held, 'final$n')" >/dev/null
done
echo "# drain blocks: ${grants[*]}"
expect_eq "the blocks shrink down to single units" "${grants[-1]}" "1"
expect_eq "the window fills exactly to its limit" \
    "$(q "SELECT committed, outstanding FROM quota_windows WHERE account = 'size2'")" "100 0"
expect_eq "a take on a full window gets nothing" "$(take n5 size2 100 10 full | cut -d' ' -f2,3)" "0 0"

# ---- retries with the same key change nothing and answer the same
first=$(take n1 idem 1000 40 t1)
expect_eq "a retried take answers the same lease and units" "$(take n1 idem 1000 40 t1)" "$first"
read -r L _ < <(echo "$first")
expect_eq "... and holds the units once" \
    "$(q "SELECT outstanding FROM quota_windows WHERE account = 'idem'")" "40"
c1=$(q "SELECT * FROM sg_lease_commit('n1', $L, 15, 'c1')")
c2=$(q "SELECT * FROM sg_lease_commit('n1', $L, 15, 'c1')")
expect_eq "a retried commit answers the same" "$c2" "$c1"
expect_eq "... and commits once" \
    "$(q "SELECT committed, outstanding FROM quota_windows WHERE account = 'idem'")" "15 25"
r1=$(q "SELECT * FROM sg_lease_return('n1', $L, 5, 'r1')")
r2=$(q "SELECT * FROM sg_lease_return('n1', $L, 5, 'r1')")
expect_eq "a retried return answers the same" "$r2" "$r1"
expect_eq "... and returns once" \
    "$(q "SELECT committed, outstanding FROM quota_windows WHERE account = 'idem'")" "15 20"
err=$(q "SELECT * FROM sg_lease_commit('n1', $L, 16, 'c1')" 2>&1 || true)
check "a key reused for another request is refused" grep -q "used for another request" <<<"$err"
err=$(q "SELECT * FROM sg_lease_take('n1', 'idem', 2, $S, $R, 1000, -1, 'neg', 1000)" 2>&1 || true)
check "a negative want is refused with a clear error" grep -q "sg_lease_take: bad arguments" <<<"$err"
expect_eq "another node's lease is unknown to a node" \
    "$(q "SELECT status, units FROM sg_lease_commit('n2', $L, 1, 'x1')")" "unknown 0"
expect_eq "a return of everything held closes the lease" \
    "$(q "SELECT status, units FROM sg_lease_return('n1', $L, NULL, 'r2')"; q "SELECT state FROM leases WHERE id = $L")" \
    "$(printf 'ok 20\nclosed')"
alerts=()
for i in $(seq 1 10); do
    read -r La _ < <(take n1 alert 10 1 "al$i")
    a=$(q "SELECT alerts FROM sg_lease_commit('n1', $La, 1, 'alc$i')")
    [[ $a == '{}' ]] || alerts+=("$i:$a")
done
expect_eq "alerts fire once each, at 80, 90 and 100 percent" "${alerts[*]}" "8:{80} 9:{90} 10:{100}"

# ---- expiry: a node that stops calling loses what it held after the TTL, keeps what it
# committed, and cannot commit against the dead lease.
read -r E g _ < <(take n1 exp 100 10 e1 3000)
q "SELECT 1 FROM sg_lease_commit('n1', $E, 4, 'e2')" >/dev/null
expect_eq "before the TTL the block is held" "$(take n2 exp 100 0 e3 | cut -d' ' -f3)" "90"
sleep 3.5
expect_eq "sg_lease_expire reclaims the 6 units held" "$(q "SELECT * FROM sg_lease_expire()")" "1 6"
expect_eq "... committed stays committed" \
    "$(q "SELECT committed, outstanding, late FROM quota_windows WHERE account = 'exp'")" "4 0 0"
expect_eq "the late node's commit is refused (counted late, not committed)" \
    "$(q "SELECT status, units FROM sg_lease_commit('n1', $E, 3, 'e4')")" "expired 0"
expect_eq "... the window says so" \
    "$(q "SELECT committed, outstanding, late FROM quota_windows WHERE account = 'exp'")" "4 0 3"
expect_eq "... its return gives nothing back twice" \
    "$(q "SELECT status, units FROM sg_lease_return('n1', $E, NULL, 'e5')")" "expired 0"
read -r E2 _ < <(take n1 exp 100 10 e6 3000)
check "the node must re-take: a new lease" test "$E2" != "$E"
before=$(q "SELECT extract(epoch FROM expires_at) FROM leases WHERE id = $E2")
sleep 0.3
expect_eq "a renewal (want 0) answers the same lease" "$(take n1 exp 100 0 e7 3000 | cut -d' ' -f1,2)" "$E2 0"
check "... and pushes its expiry" test "$(q "SELECT extract(epoch FROM expires_at) > $before FROM leases WHERE id = $E2")" = t
sleep 3.2
# Without any sweep, the next take of the window reclaims on its own.
expect_eq "a take reclaims expired leases of its window itself" \
    "$(take n2 exp 100 100 e8 | cut -d' ' -f2)" "48"
expect_eq "... and the dead lease is marked expired" "$(q "SELECT state, reclaimed FROM leases WHERE id = $E2")" "expired 10"

# ---- load: four nodes, two connections each, cycles of take / commit part / return rest,
# on one account whose day limit the demand exceeds; a sampler checks the invariant
# throughout, in fresh snapshots.
LIMIT=3000
q "CREATE TABLE sampler_stop (x int); CREATE TABLE sampler (samples int, bad int, ledger_bad int)"
pg_psql >"$PG_DIR/sampler.out" 2>&1 <<'EOF' &
DO $$
DECLARE n integer := 0; bad integer := 0; lbad integer := 0; v bigint;
BEGIN
  WHILE NOT EXISTS (SELECT 1 FROM sampler_stop) AND n < 100000 LOOP
    SELECT count(*) INTO v FROM quota_windows WHERE committed + outstanding > lim;
    bad := bad + v;
    SELECT count(*) INTO v FROM quota_windows w, LATERAL (SELECT coalesce(sum(CASE
      WHEN l.state = 'open' THEN l.granted - l.used - l.returned END), 0) AS held,
      coalesce(sum(l.used), 0) AS used FROM leases l WHERE l.account = w.account
      AND l.win = w.win AND l.start = w.start) s
      WHERE (w.outstanding, w.committed) IS DISTINCT FROM (s.held, s.used);
    lbad := lbad + v;
    n := n + 1;
    PERFORM pg_sleep(0.02);
  END LOOP;
  INSERT INTO sampler VALUES (n, bad, lbad);
END $$;
EOF
SAMPLER=$!
t0=$(date +%s%N)
pids=()
for n in 1 2 3 4; do
    pgt_pgbench -M prepared -c 2 -j 1 -t 150 -f "$PGT_DIR/cycle.pgbench" -D node=node$n -D acct=hot \
        -D start=$S -D reset=$R -D lim=$LIMIT -D want=20 -D ttl=60000 >"$PG_DIR/pgbench$n.out" 2>&1 &
    pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
ms=$((($(date +%s%N) - t0) / 1000000))
q "INSERT INTO sampler_stop VALUES (1)"
wait "$SAMPLER" || true
check "every pgbench client finished without error" test "$rc" = 0
((rc == 0)) || cat "$PG_DIR"/pgbench*.out
echo "# 4 nodes x 2 connections x 150 cycles in $ms ms"
read -r samples bad lbad < <(q "SELECT * FROM sampler") || cat "$PG_DIR/sampler.out"
echo "# sampler: $samples snapshots during the load"
check "the sampler ran during the load" test "${samples:-0}" -gt 5
expect_eq "committed + outstanding <= limit in every snapshot" "$bad" "0"
expect_eq "the window's counts match its leases in every snapshot" "$lbad" "0"
read -r committed outstanding late < <(q "SELECT committed, outstanding, late FROM quota_windows WHERE account = 'hot'")
echo "# after the load: committed $committed, outstanding $outstanding, late $late (limit $LIMIT)"
check "committed <= limit" test "$committed" -le "$LIMIT"
expect_eq "every node drained: nothing outstanding" "$outstanding" "0"
expect_eq "no commit was refused" "$late" "0"
expect_eq "granted = committed + returned, lease by lease" \
    "$(q "SELECT count(*) FROM leases WHERE account = 'hot' AND used + returned + reclaimed <> granted")" "0"
expect_eq "committed = the sum of the commits the nodes were told ok" \
    "$(q "SELECT sum(units) FROM lease_ops WHERE op = 'commit' AND status = 'ok' AND node LIKE 'node%'")" "$committed"
# Demand exceeded the limit: what the cycles returned is taken and sent now.
for i in $(seq 1 200); do
    read -r lease g _ < <(take node1 hot $LIMIT 1000 "tail$i")
    [[ $g == 0 ]] && break
    q "SELECT 1 FROM sg_lease_commit('node1', $lease, $g, 'tailc$i')" >/dev/null
done
expect_eq "then the window fills exactly to the limit" \
    "$(q "SELECT committed, outstanding FROM quota_windows WHERE account = 'hot'")" "$LIMIT 0"

# ---- load where every unit granted is sent: the fleet stops at exactly the limit.
LIMIT2=2000
pids=()
for n in 1 2 3 4; do
    pgt_pgbench -M prepared -c 2 -j 1 -t 150 -f "$PGT_DIR/commit_all.pgbench" -D node=node$n -D acct=all \
        -D start=$S -D reset=$R -D lim=$LIMIT2 -D want=10 -D ttl=60000 >"$PG_DIR/pgbench-all$n.out" 2>&1 &
    pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
check "every commit-all client finished without error" test "$rc" = 0
expect_eq "demand 12000 > limit $LIMIT2: committed exactly the limit, nothing outstanding" \
    "$(q "SELECT committed, outstanding, late FROM quota_windows WHERE account = 'all'")" "$LIMIT2 0 0"

# ---- the same requests retried at once: each key counts once.
pgt_pgbench -M prepared -c 8 -j 2 -t 200 -f "$PGT_DIR/dup.pgbench" -D acct=dup -D start=$S -D reset=$R \
    >"$PG_DIR/pgbench-dup.out" 2>&1 || { cat "$PG_DIR/pgbench-dup.out"; not_ok "dup pgbench"; }
read -r takes commits < <(q "SELECT count(*) FILTER (WHERE op = 'take'), count(*) FILTER (WHERE op = 'commit') FROM lease_ops WHERE node LIKE 'dup%'")
echo "# 1600 calls of each kind over $takes distinct take keys and $commits commit keys"
expect_eq "committed = one unit per distinct commit key" \
    "$(q "SELECT committed FROM quota_windows WHERE account = 'dup'")" "$commits"
expect_eq "committed + outstanding = what the distinct takes granted" \
    "$(q "SELECT w.committed + w.outstanding - (SELECT sum(units) FROM lease_ops WHERE op = 'take' AND node LIKE 'dup%') FROM quota_windows w WHERE account = 'dup'")" "0"

finish
