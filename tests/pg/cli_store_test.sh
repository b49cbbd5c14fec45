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
finish
