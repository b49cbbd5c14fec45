# shellcheck shell=bash
# Shared helpers of the PostgreSQL tests: a private server (scripts/lib/pg.sh) with the schema.
#
#   pgt_start            # server + schema (lib/store/postgresql/schema.sql)
#   q SQL                # one statement, unaligned, fields separated by one space
#   ok/not_ok/check/finish as tests/e2e/lib.sh
# Exits 77 (ctest's SKIP_RETURN_CODE) when not root: the server runs as the postgres user.
set -euo pipefail
PGT_SRC=${SG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck disable=SC2034 # for the tests
PGT_DIR=$PGT_SRC/tests/pg
PGT_SCHEMA=$PGT_SRC/lib/store/postgresql/schema.sql
if [[ $(id -u) != 0 ]]; then
    echo "skip: the PostgreSQL tests run servers as the postgres user and must run as root"
    exit 77
fi
# shellcheck source=../../scripts/lib/pg.sh
. "$PGT_SRC/scripts/lib/pg.sh"

PGT_PASS=0
PGT_FAIL=0
ok() { PGT_PASS=$((PGT_PASS + 1)); echo "ok - $*"; }
not_ok() { PGT_FAIL=$((PGT_FAIL + 1)); echo "not ok - $*"; }
check() { # check WHAT COMMAND...: passes when the command succeeds
    local what=$1; shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# expect_eq WHAT GOT WANT
expect_eq() {
    if [[ $2 == "$3" ]]; then ok "$1"; else not_ok "$1: got '$2', want '$3'"; fi
}
finish() {
    echo "# $PGT_PASS passed, $PGT_FAIL failed"
    ((PGT_FAIL == 0))
}

q() { pg_psql -At -F' ' -c "$1"; }

pgt_start() {
    pg_start
    pg_apply_schema "$PGT_SCHEMA" >/dev/null
}

# pgt_pgbench ARGS...: pgbench on $PG_CONNINFO (no vacuum of pgbench's own tables).
pgt_pgbench() {
    "$PG_BIN/pgbench" -n "$@" "$PG_CONNINFO"
}
