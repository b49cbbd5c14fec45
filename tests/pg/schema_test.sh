#!/usr/bin/env bash
# The schema (lib/store/postgresql/schema.sql) on a real private PostgreSQL 15: migrations
# apply once, the change log and its NOTIFY follow accounts, domains and suppression in commit
# order, once-keys, housekeeping.
. "$(dirname "$0")/lib.sh"

pg_start

# ---- migrations
LAST=$(sed -n 's/^-- sg:migration \([0-9][0-9]*\) .*/\1/p' "$PGT_SCHEMA" | tail -1)
expect_eq "an empty database is migrated to version 1" \
    "$(pg_apply_schema "$PGT_SCHEMA" 1)" "schema: version 0 -> 1"
# A database of version 1 with an account, migrated: the account reads as before (2: a timed
# suspension's end, 0 = until reinstated), and a change of the new column alone is logged.
q "INSERT INTO accounts (name, status) VALUES ('old', 'suspended')"
expect_eq "... then to the last version" "$(pg_apply_schema "$PGT_SCHEMA")" "schema: version 1 -> $LAST"
expect_eq "a second run changes nothing" "$(pg_apply_schema "$PGT_SCHEMA")" "schema: version $LAST -> $LAST"
expect_eq "sg_meta holds the version" "$(q "SELECT schema_version FROM sg_meta")" "$LAST"
expect_eq "2: an account of version 1 is suspended until reinstated" \
    "$(q "SELECT status, suspended_until FROM accounts WHERE name = 'old'")" "suspended 0"
q "UPDATE accounts SET suspended_until = 1800000000 WHERE name = 'old'"
expect_eq "2: a change of suspended_until alone is logged for the caches" \
    "$(q "SELECT count(*) FROM changes WHERE kind = 'account' AND account = 'old'")" "2"
err=$(q "UPDATE accounts SET suspended_until = -1 WHERE name = 'old'" 2>&1 || true)
check "2: a negative end is refused" grep -q 'accounts_suspended_until_check' <<<"$err"
# The change log below counts from an empty log.
q "DELETE FROM accounts WHERE name = 'old'"
q "TRUNCATE changes RESTART IDENTITY"
err=$(pg_psql --single-transaction -f "$PGT_SCHEMA" 2>&1 || true)
check "the whole file on a migrated database fails instead of doubling anything" \
    grep -q 'relation "sg_meta" already exists' <<<"$err"
err=$(q "INSERT INTO accounts (name) VALUES (repeat('a', 1025))" 2>&1 || true)
check "an over-long key is refused with a clear error" grep -q 'accounts_name_check' <<<"$err"

# ---- change log and NOTIFY
q "CREATE TABLE listen_stop (x int)"
# The listener: LISTEN, then wait in one command until told to stop; notifications reach an
# idle session, so they are printed after that command, all of them.
pg_psql >"$PG_DIR/listener.out" 2>&1 <<'EOF' &
LISTEN sg_changes;
DO $$ DECLARE n integer := 0; BEGIN
  WHILE NOT EXISTS (SELECT 1 FROM listen_stop) AND n < 1200 LOOP
    PERFORM pg_sleep(0.05); n := n + 1; END LOOP; END $$;
SELECT 'listener done';
EOF
LISTENER=$!
for _ in $(seq 1 200); do
    [[ $(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'DO \$\$ DECLARE n integer%'") == 1 ]] && break
    sleep 0.05
done

q "INSERT INTO accounts (name) VALUES ('acme')"
q "UPDATE accounts SET clean_days = 3, rated_through = 19000 WHERE name = 'acme'"
q "UPDATE accounts SET status = 'suspended', status_reason = 'spam' WHERE name = 'acme'"
q "UPDATE accounts SET status = 'suspended', status_reason = 'spam' WHERE name = 'acme'"
q "INSERT INTO account_domains VALUES ('acme', 'acme.example')"
q "INSERT INTO suppression (account, address) VALUES ('', 'x@y.test')"
q "DELETE FROM suppression WHERE address = 'x@y.test'"
q "INSERT INTO suppression (account, address) SELECT 'acme', 'r' || g || '@big.test' FROM generate_series(1, 150) g"
pg_psql -c "BEGIN" -c "SET LOCAL sg.bulk = 'on'" \
    -c "INSERT INTO suppression (account, address) SELECT 'acme', 'b' || g || '@bulk.test' FROM generate_series(1, 500) g" \
    -c "COMMIT"
# Commit order: a transaction that changed a row first but commits last gets the later seq,
# so a node that read up to the early one still reads the late one.
pg_psql -c "BEGIN" -c "INSERT INTO accounts (name) VALUES ('slow')" -c "SELECT pg_sleep(2)" -c "COMMIT" >/dev/null &
SLOW=$!
for _ in $(seq 1 100); do
    [[ $(q "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(2)'") == 1 ]] && break
    sleep 0.05
done
q "INSERT INTO accounts (name) VALUES ('fast')"
wait "$SLOW"
q "INSERT INTO listen_stop VALUES (1)"
wait "$LISTENER" || true

expect_eq "one change per cached change (no-op and review-only updates log nothing)" \
    "$(q "SELECT kind, count(*) FROM changes GROUP BY kind ORDER BY kind" | tr '\n' ' ')" \
    "account 4 domains 1 resync 1 suppression 152 "
expect_eq "the first changes, in order, with their keys" \
    "$(q "SELECT seq, kind, account, coalesce(address, '-') FROM changes WHERE seq <= 5 ORDER BY seq" | tr '\n' ';')" \
    "1 account acme -;2 account acme -;3 domains acme -;4 suppression  x@y.test;5 suppression  x@y.test;"
expect_eq "a transaction's seq is taken at its commit: the one that committed last is later" \
    "$(q "SELECT (SELECT seq FROM changes WHERE account = 'fast') < (SELECT seq FROM changes WHERE account = 'slow')")" "t"
notes=$(grep -c '^Asynchronous notification "sg_changes"' "$PG_DIR/listener.out" || true)
expect_eq "NOTIFY: one per change, at most 100 per transaction" "$notes" "$((4 + 1 + 2 + 100 + 1))"
check "NOTIFY payload: seq, kind and key" grep -qF 'payload "{"seq": 4, "kind": "suppression", "account": "", "address": "x@y.test"}"' "$PG_DIR/listener.out"
check "NOTIFY payload of a bulk transaction: resync" grep -qE 'payload "\{"seq": [0-9]+, "kind": "resync"\}"' "$PG_DIR/listener.out"
expect_eq "sg_changes_since: what follows a seq, oldest first" \
    "$(q "SELECT seq, kind FROM sg_changes_since(3, 2)" | tr '\n' ';')" "4 suppression;5 suppression;"

# ---- once-keys (FeedbackBatch::once_key)
T=1700000000
expect_eq "a once-key counts the first time, not the second, again after 90 days; a clock gone back is a duplicate" \
    "$(q "SELECT sg_once('arf:acme:<m@x>:abuse', $T), sg_once('arf:acme:<m@x>:abuse', $T + 86400),
                 sg_once('arf:acme:<m@x>:abuse', $T - 10), sg_once('arf:acme:<m@x>:abuse', $T + 91 * 86400),
                 sg_once('arf:acme:<m@x>:abuse', $T + 92 * 86400)")" "t f f t f"

# ---- housekeeping
q "SELECT * FROM sg_lease_take('n1', 'acme', 0, $T, $T + 60, 10, 1, 'p1', 1000)" >/dev/null
L=$(q "SELECT id FROM leases")
q "SELECT * FROM sg_lease_return('n1', $L, NULL, 'p2')" >/dev/null
q "INSERT INTO day_counts (account, day, delivered) VALUES ('acme', 19000, 5)"
purged=$(q "SELECT what || '=' || deleted FROM sg_purge(now() + interval '8 days')" | tr '\n' ' ')
expect_eq "sg_purge: ended leases, their keys, old windows and counts, the old change log" "$purged" \
    "lease_ops=2 leases=1 quota_windows=1 day_counts=1 bounces=0 once_keys=1 changes=157 "
expect_eq "a node behind the purged log is told to reload whole" \
    "$(q "SELECT seq, kind FROM sg_changes_since(3)")" "157 resync"
expect_eq "the newest change is kept, so seq never goes back" "$(q "SELECT max(seq) FROM changes")" "158"

finish
