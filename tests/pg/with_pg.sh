#!/bin/bash
# with_pg.sh COMMAND [ARGS...]: runs COMMAND (a unit test binary) beside a private
# PostgreSQL 15 server (scripts/lib/pg.sh, 127.0.0.1, a free port), with
# SG_TEST_PG_CONNINFO naming it; the server stops when COMMAND ends. Each test makes its
# own database on it (tests/unit/pg_fixture.h). Exits 77 (skip) when not root: the server
# runs as the postgres user.
set -euo pipefail
SRC=${SG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
if [[ $(id -u) != 0 ]]; then
    echo "skip: the PostgreSQL tests run a server as the postgres user and must run as root"
    exit 77
fi
# shellcheck source=../../scripts/lib/pg.sh
. "$SRC/scripts/lib/pg.sh"
pg_start
export SG_TEST_PG_CONNINFO=$PG_CONNINFO
rc=0
"$@" || rc=$?
exit "$rc"
