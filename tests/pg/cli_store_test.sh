#!/usr/bin/env bash
# senderguardctl store init|migrate|status (cli/cmd_store.cc), the real built program on a private
# PostgreSQL 15: status and migrate on a database without the schema, init once and refused the
# second time, status naming the node, the schema version and only this node's open leases; a
# database newer than the build; an unreachable one; the same commands with the LMDB backend.
. "$(dirname "$0")/lib.sh"
BIN=${SG_BIN_DIR:-$PGT_SRC/build/bin}
[[ -x $BIN/senderguardctl ]] || { echo "no $BIN/senderguardctl: build it first"; exit 1; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT  # set first: pg_start's EXIT trap stops the server, then runs this one
pg_start
pg_psql -c "CREATE DATABASE fleet" >/dev/null
cat >"$T/pg.conf" <<EOF
[store]
backend = "postgresql"
path = "$T/local"
[store.postgresql]
conninfo = "$PG_CONNINFO dbname=fleet"
node = "mx1"
EOF
cat >"$T/lmdb.conf" <<EOF
[store]
path = "$T/lmdb"
EOF
fq() { psql -qAtX "$PG_CONNINFO dbname=fleet" -c "$1"; }
# expect WANT_RC WHAT ARGS...: senderguardctl ARGS exits WANT_RC (output in $T/out, $T/err).
expect() {
    local want=$1 what=$2 rc
    shift 2
    rc=0
    "$BIN/senderguardctl" "$@" >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc -eq $want ]]; then ok "$what: exit $rc"; else
        not_ok "$what: exit $rc (want $want)"
        sed 's/^/#   /' "$T/out" "$T/err"
    fi
}
says() { # says WHAT FILE TEXT: FILE holds TEXT
    if grep -qF -- "$3" "$2"; then ok "$1"; else
        not_ok "$1: no \"$3\" in:"
        sed 's/^/#   /' "$2"
    fi
}

# ---- a database without the schema
expect 0 "status without a schema" -c "$T/pg.conf" store status
says "status says to init" "$T/out" "schema version   none (run \`senderguardctl store init\`)"
says "status names the node" "$T/out" "node             mx1"
expect 64 "migrate without a schema" -c "$T/pg.conf" store migrate
says "migrate says init is for that" "$T/err" "no senderguard schema: \`senderguardctl store init\` creates it"
expect 74 "list without a schema" -c "$T/pg.conf" list
says "the other commands say to init" "$T/err" "run \`senderguardctl store init\`"
expect_eq "nothing was created" "$(fq "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" "0"

# ---- init, once
expect 0 "init" -c "$T/pg.conf" store init
LATEST=$(fq "SELECT schema_version FROM sg_meta")
says "init names the version" "$T/out" "schema created: version $LATEST"
expect 64 "init again" -c "$T/pg.conf" store init
says "init again says migrate" "$T/err" "already has senderguard's schema (version $LATEST): \`senderguardctl store migrate\`"
expect 0 "migrate" -c "$T/pg.conf" store migrate
says "migrate: up to date" "$T/out" "schema version $LATEST: up to date"

# ---- status with leases of two nodes
fq "SELECT count(*) FROM sg_lease_take('mx1', 'alice', 2, 1795564800, 1795651200, 100, 10, 'k1', 60000)" >/dev/null
fq "SELECT count(*) FROM sg_lease_take('mx2', 'bob', 2, 1795564800, 1795651200, 100, 7, 'k1', 60000)" >/dev/null
expect 0 "status" -c "$T/pg.conf" store status
says "status: version" "$T/out" "schema version   $LATEST (this build: $LATEST, up to date)"
says "status: this node's lease" "$T/out" "open leases      1"
says "status: the lease" "$T/out" "alice                    day    from 2026-11-25T00:00:00Z  held 10"
if grep -q bob "$T/out"; then not_ok "status shows another node's lease"; else ok "only this node's leases"; fi
says "status: target" "$T/out" "target           database fleet as postgres on 127.0.0.1:$PG_PORT (primary"
expect 0 "status --json" -c "$T/pg.conf" store status --json
expect_eq "json: node, version, leases" \
    "$(jq -r '[.node, .schema_version, .schema_latest, .open_leases, .leases[0].account, .leases[0].held, .target.role] | join(" ")' "$T/out")" \
    "mx1 $LATEST $LATEST 1 alice 10 primary"

# ---- the node's name held by another machine (a clone): status says so
fq "SELECT count(*) FROM sg_node_seen('mx1', '0123456789abcdef0123456789abcdef', 'another-boot', 'otherhost', 60)" >/dev/null
expect 0 "status of a node whose name another machine holds" -c "$T/pg.conf" store status
says "... names the holder" "$T/out" "node             mx1 (held by another machine: host otherhost, seen "
expect 0 "status --json of it" -c "$T/pg.conf" store status --json
expect_eq "json: node_holder" "$(jq -r '[.node_holder.this_machine, .node_holder.host] | map(tostring) | join(" ")' "$T/out")" \
    "false otherhost"

# ---- a database newer than this build
fq "UPDATE sg_meta SET schema_version = 99"
expect 64 "migrate on a newer database" -c "$T/pg.conf" store migrate
says "migrate: newer" "$T/err" "newer than this build's $LATEST"
expect 0 "status on a newer database" -c "$T/pg.conf" store status
says "status: newer" "$T/out" "99 (this build: $LATEST; the database is newer: upgrade senderguard on this node)"
fq "UPDATE sg_meta SET schema_version = $LATEST"

# ---- unreachable
sed "s/port=$PG_PORT/port=1/" "$T/pg.conf" >"$T/down.conf"
expect 74 "status, database unreachable" -c "$T/down.conf" store status
says "the error names the connection" "$T/err" "postgresql: cannot connect"
says "... and says the local state is shown" "$T/err" "the database cannot be used (this node's local state is shown)"
says "status while unreachable: the target" "$T/out" "target           cannot be used (the error is below)"
says "... the node and its local store" "$T/out" "local store      $T/local"
expect 74 "status --json, database unreachable" -c "$T/down.conf" store status --json
expect_eq "json: the error, the node, no leases from the database" \
    "$(jq -r '[(.target.error | test("cannot connect")), .node, .open_leases, .ledger_entries] | map(tostring) | join(" ")' "$T/out")" \
    "true mx1 null 0"

# ---- LMDB
expect 64 "init with LMDB" -c "$T/lmdb.conf" store init
says "init is for PostgreSQL" "$T/err" "store init is for the PostgreSQL backend"
expect 64 "migrate with LMDB" -c "$T/lmdb.conf" store migrate
expect 74 "status of a missing LMDB store" -c "$T/lmdb.conf" store status
if [[ -e $T/lmdb ]]; then not_ok "status created an LMDB store"; else ok "status creates no store"; fi
expect 0 "a first write" -c "$T/lmdb.conf" suspend bob --reason test --create
expect 0 "status with LMDB" -c "$T/lmdb.conf" store status
says "status: path" "$T/out" "path             $T/lmdb"
version=$(sed -n "s/^inline constexpr uint64_t kSchemaVersion = \([0-9]*\);/\1/p" "$PGT_SRC/lib/store/lmdb/lmdb_store.h")
says "status: schema version" "$T/out" "schema version   $version"

# ---- store copy: LMDB -> PostgreSQL -> a new LMDB store
# The LMDB store above (bob suspended) with more of each kind.
expect 0 "lmdb: a quota" -c "$T/lmdb.conf" quota set alice day=500 --create
expect 0 "lmdb: a global suppression" -c "$T/lmdb.conf" suppress add held@example.com --reason "legal hold"
expect 0 "lmdb: an account's suppression" -c "$T/lmdb.conf" suppress add x@example.org --account alice
expect 0 "lmdb: a verified domain" -c "$T/lmdb.conf" domains add alice a.example
pg_psql -c "CREATE DATABASE copied" >/dev/null
sed "s/dbname=fleet/dbname=copied/" "$T/pg.conf" >"$T/copy.conf"
printf '[store]\npath = "%s/back"\n' "$T" >"$T/back.conf"
cq() { psql -qAtX "$PG_CONNINFO dbname=copied" -c "$1"; }
expect 0 "init the copy's database" -c "$T/copy.conf" store init
# kinds FILE: "kind:read/written/skipped ..." of a --json copy's answer.
kinds() { jq -r '[.kinds[] | "\(.kind):\(.read)/\(.written)/\(.skipped)"] | join(" ")' "$1"; }
rows() { # accounts, suppressions, audit entries in the database
    cq "SELECT (SELECT count(*) FROM accounts) || ' ' || (SELECT count(*) FROM suppression) || ' ' || (SELECT count(*) FROM audit)"
}
versions() { # the row versions of what a copy writes: a rewrite changes them
    cq "SELECT sum(xmin::text::bigint) FROM (SELECT xmin FROM accounts UNION ALL SELECT xmin FROM suppression UNION ALL SELECT xmin FROM account_domains UNION ALL SELECT xmin FROM audit) r"
}
expect_eq "the database is empty" "$(rows)" "0 0 0"
# Two accounts, two suppressions, five audit entries (suspend, quota set, two suppress add,
# domains add); no delivery feedback.
ALL="accounts:2/2/0 suppression:2/2/0 days:0/0/0 bounces:0/0/0 audit:5/5/0"
NONE="accounts:2/0/0 suppression:2/0/0 days:0/0/0 bounces:0/0/0 audit:5/0/0"

expect 0 "to postgresql --dry-run" -c "$T/copy.conf" store copy --from "lmdb:$T/lmdb" --to postgresql --dry-run --json
cp "$T/out" "$T/dry.json"
expect_eq "to postgresql, dry run: says so" "$(jq -r .dry_run "$T/dry.json")" "true"
expect_eq "to postgresql, dry run: what a copy writes" "$(kinds "$T/dry.json")" "$ALL"
expect_eq "to postgresql, dry run: nothing written" "$(rows)" "0 0 0"
expect 0 "to postgresql" -c "$T/copy.conf" store copy --from "lmdb:$T/lmdb" --to postgresql --json
expect_eq "to postgresql: the dry run's figures" "$(kinds "$T/out")" "$ALL"
expect_eq "to postgresql: the rows" "$(rows)" "2 2 5"
expect 0 "postgresql: show bob" -c "$T/copy.conf" show bob
says "postgresql: bob is suspended" "$T/out" "suspended"
expect_eq "postgresql: alice's day limit and domain" \
    "$(cq "SELECT limit_day || ' ' || (SELECT string_agg(domain, ',') FROM account_domains WHERE account = 'alice') FROM accounts WHERE name = 'alice'")" \
    "500 a.example"
expect 0 "postgresql: the global suppression" -c "$T/copy.conf" suppress check held@example.com
expect 0 "postgresql: alice's suppression" -c "$T/copy.conf" suppress check x@example.org --account alice
before=$(versions)
changes=$(cq "SELECT count(*) FROM changes")
expect 0 "to postgresql again" -c "$T/copy.conf" store copy --from "lmdb:$T/lmdb" --to postgresql --json
expect_eq "to postgresql again: all read, nothing written" "$(kinds "$T/out")" "$NONE"
expect_eq "to postgresql again: no row rewritten" "$(versions)" "$before"
expect_eq "to postgresql again: no change logged" "$(cq "SELECT count(*) FROM changes")" "$changes"

expect 0 "to lmdb --dry-run" -c "$T/copy.conf" store copy --from postgresql --to "lmdb:$T/back" --dry-run --json
cp "$T/out" "$T/dry.json"
expect_eq "to lmdb, dry run: what a copy writes" "$(kinds "$T/dry.json")" "$ALL"
expect 1 "to lmdb, dry run: nothing written" -c "$T/back.conf" suppress check held@example.com
expect 0 "to lmdb" -c "$T/copy.conf" store copy --from postgresql --to "lmdb:$T/back" --json
expect_eq "to lmdb: the dry run's figures" "$(kinds "$T/out")" "$ALL"
expect 0 "lmdb: show bob" -c "$T/back.conf" show bob
says "lmdb: bob is suspended" "$T/out" "suspended"
expect 0 "lmdb: show alice" -c "$T/back.conf" show alice --json
expect_eq "lmdb: alice's day limit" "$(jq -c '.windows[] | select(.window == "day") | .limit' "$T/out")" "500"
expect 0 "lmdb: alice's domains" -c "$T/back.conf" domains list alice
says "lmdb: alice's domain" "$T/out" "a.example"
expect 0 "lmdb: the global suppression" -c "$T/back.conf" suppress check held@example.com
expect 0 "lmdb: alice's suppression" -c "$T/back.conf" suppress check x@example.org --account alice
expect 0 "lmdb: the audit log" -c "$T/back.conf" audit --limit 0 --json
expect_eq "lmdb: the audit entries" "$(jq -c '[.audit[].action]' "$T/out")" \
    "$("$BIN/senderguardctl" -c "$T/lmdb.conf" audit --limit 0 --json | jq -c '[.audit[].action]')"
expect 0 "to lmdb again" -c "$T/copy.conf" store copy --from postgresql --to "lmdb:$T/back" --json
expect_eq "to lmdb again: all read, nothing written" "$(kinds "$T/out")" "$NONE"
finish
