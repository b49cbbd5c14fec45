# shellcheck shell=bash
#
# scripts/lib/pg.sh - throwaway private PostgreSQL 15 servers for tests and benchmarks.
#
# Source it from a bash script (safe under `set -euo pipefail`) and call:
#
#   pg_start                  # a primary on 127.0.0.1:$PG_PORT; exports PG_CONNINFO
#   pg_start_standby          # a streaming synchronous standby of it on 127.0.0.1:$PG_PORT2;
#                             # exports PG_CONNINFO_MULTI (both hosts, read-write target)
#   pg_psql [PSQL_ARGS...]    # psql on $PG_CONNINFO, quiet, stops at the first error
#   pg_apply_schema FILE      # applies FILE's numbered migrations (see below)
#   pg_failover               # primary killed (-m immediate), standby promoted and made
#                             # writable alone; PG_CONNINFO then names the new primary
#   pg_stop                   # or let the EXIT trap do it
#
# Debian's postgresql-15 (/usr/lib/postgresql/15/bin). The server refuses to run as root, so
# every server command runs as the `postgres` user (runuser): must be called as root. Nothing
# outside $PG_DIR (mktemp -d, owned by postgres, mode 0700) is written; the package's own
# cluster (15/main, /var/lib/postgresql) is never touched or started. Each server listens on
# 127.0.0.1 only, on a free port, with its unix socket in $PG_DIR/sock (never /var/run).
#
# Speed over durability, on purpose: PG_FSYNC=off (the default) turns fsync off. A test then
# survives any crash of a server *process* (kill -9, pg_ctl -m immediate: the failover test)
# exactly as production would, since the kernel keeps what was written; only a power cut of the
# machine could lose data, which no test simulates. Synchronous replication is unaffected: a
# commit still waits for the standby's acknowledgement. Benchmarks set PG_FSYNC=on.
#
# Traps: pg_start installs an EXIT trap that runs pg_stop and then whatever EXIT trap was set
# before it (so with scripts/lib/testbed.sh, call tb_init first, then pg_start: tb_stop still
# runs). INT/TERM/HUP exit, so the EXIT trap runs when the script is interrupted.
#
# Variables read:
#   PG_FSYNC=off|on     pg_start: the servers' fsync (see above).
#   PG_EXTRA_CONF       pg_start: lines appended to postgresql.conf last (they win).
#   PG_KEEP=1           pg_stop: leave $PG_DIR in place (post-mortem).
#   PG_BIN              default /usr/lib/postgresql/15/bin.
#
# Variables set:
#   PG_DIR  PG_SOCK_DIR  PG_DATA  PG_PORT  PG_CONNINFO
#   PG_DATA2  PG_PORT2  PG_CONNINFO_MULTI                  (pg_start_standby)
#   PG_PRIMARY_PORT                                        (the current primary's port)

_PG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# _tb_free_port, _tb_now_ms: the testbed's conventions (defining functions only).
# shellcheck source=testbed.sh
declare -F _tb_free_port >/dev/null || . "$_PG_LIB_DIR/testbed.sh"

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

_pg_die() {
    echo "pg: $*" >&2
    return 1
}

# _pg_as_postgres CMD...: runs a server command as the postgres user, in a directory it can
# read (runuser keeps the caller's working directory, which postgres may not reach).
_pg_as_postgres() {
    (cd "$PG_DIR" && runuser -u postgres -- "$@")
}

# _pg_conninfo PORT: the conninfo of one local server.
_pg_conninfo() {
    echo "host=127.0.0.1 port=$1 user=postgres dbname=postgres connect_timeout=5"
}

# _pg_conf DATA PORT: appends this instance's settings to DATA/postgresql.conf.
_pg_conf() {
    cat >>"$1/postgresql.conf" <<EOF
# scripts/lib/pg.sh: private test instance, loopback only
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$PG_SOCK_DIR'
fsync = ${PG_FSYNC:-off}
max_connections = 100
shared_buffers = 64MB
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] '
EOF
    if [[ -n ${PG_EXTRA_CONF:-} ]]; then
        printf '# PG_EXTRA_CONF\n%s\n' "$PG_EXTRA_CONF" >>"$1/postgresql.conf"
    fi
}

# _pg_ctl_start DATA LOG: pg_ctl start, waiting until it accepts connections.
_pg_ctl_start() {
    _pg_as_postgres "$PG_BIN/pg_ctl" -D "$1" -l "$2" -w -t 60 start >/dev/null
}

# _pg_exit_trap: stops the servers, then runs the EXIT trap that was there before pg_start.
_pg_exit_trap() {
    local rc=$?
    pg_stop || true
    if [[ -n ${_PG_PREV_EXIT_TRAP:-} ]]; then
        set +e # the shell is exiting: the previous trap sees the exit status as its $?
        (exit "$rc")
        eval "$_PG_PREV_EXIT_TRAP"
    fi
    return "$rc"
}

# pg_start
#   initdb (trust authentication, user postgres, UTF8, C.UTF-8) in $PG_DIR/primary, a free
#   loopback port, then start; retries with another port if the chosen one was taken meanwhile.
#   Exports PG_CONNINFO="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres ...".
pg_start() {
    [[ -z ${PG_DIR:-} || ${_PG_STOPPED:-1} == 1 ]] || { _pg_die "pg_start: already started ($PG_DIR)"; return 1; }
    [[ $(id -u) == 0 ]] || { _pg_die "pg_start: must run as root (servers run as postgres)"; return 1; }
    [[ -x $PG_BIN/initdb ]] || { _pg_die "pg_start: $PG_BIN/initdb missing (apt-get install postgresql-15)"; return 1; }
    getent passwd postgres >/dev/null || { _pg_die "pg_start: no postgres user"; return 1; }
    PG_DIR=$(mktemp -d /tmp/sg-pg.XXXXXX)
    chown postgres: "$PG_DIR"
    chmod 0700 "$PG_DIR"
    PG_SOCK_DIR=$PG_DIR/sock
    PG_DATA=$PG_DIR/primary
    PG_DATA2=
    PG_PORT2=
    PG_CONNINFO_MULTI=
    _PG_DATAS=()
    _PG_STOPPED=0
    # The EXIT trap in place, as `trap -- 'CMD' EXIT` (read in this shell: a pipeline would
    # run `trap` in a subshell, which sees no traps), unquoted back to CMD.
    _PG_PREV_EXIT_TRAP=$(trap -p EXIT)
    if [[ -n $_PG_PREV_EXIT_TRAP ]]; then
        eval "_pg_set_prev() { _PG_PREV_EXIT_TRAP=\$3; }; _pg_set_prev ${_PG_PREV_EXIT_TRAP}"
        unset -f _pg_set_prev
    fi
    [[ $_PG_PREV_EXIT_TRAP == _pg_exit_trap ]] && _PG_PREV_EXIT_TRAP=
    trap _pg_exit_trap EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    _pg_as_postgres mkdir -m 0700 "$PG_SOCK_DIR"
    if ! _pg_as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$PG_DIR/initdb.log" 2>&1; then
        cat "$PG_DIR/initdb.log" >&2
        _pg_die "pg_start: initdb failed"
        return 1
    fi
    local _try
    cp -p "$PG_DATA/postgresql.conf" "$PG_DIR/postgresql.conf.orig"
    for _try in 1 2 3; do
        PG_PORT=$(_tb_free_port)
        _pg_conf "$PG_DATA" "$PG_PORT"
        _PG_DATAS=("$PG_DATA")
        if _pg_ctl_start "$PG_DATA" "$PG_DIR/primary.log"; then
            PG_PRIMARY_PORT=$PG_PORT
            PG_CONNINFO=$(_pg_conninfo "$PG_PORT")
            export PG_CONNINFO
            return 0
        fi
        # The port may have been taken between the choice and the bind: start from the
        # pristine postgresql.conf with another one.
        cp -p "$PG_DIR/postgresql.conf.orig" "$PG_DATA/postgresql.conf"
    done
    tail -n 20 "$PG_DIR/primary.log" >&2 || true
    _pg_die "pg_start: the server did not start"
}

# pg_psql [ARGS...]
#   psql -X -q -v ON_ERROR_STOP=1 on $PG_CONNINFO (or on CONNINFO given as PG_PSQL_CONNINFO).
pg_psql() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "${PG_PSQL_CONNINFO:-$PG_CONNINFO}" "$@"
}

# pg_start_standby
#   pg_basebackup of the primary into $PG_DIR/standby, started on another free port as a
#   streaming replica (application_name s1); then the primary is given
#   synchronous_standby_names = '*' (a commit returns only once s1 has flushed it) and this
#   waits until pg_stat_replication shows s1 as sync. Exports PG_CONNINFO_MULTI, the
#   two-host conninfo that finds whichever is the primary (target_session_attrs=read-write).
pg_start_standby() {
    [[ ${_PG_STOPPED:-1} == 0 ]] || { _pg_die "pg_start_standby: call pg_start first"; return 1; }
    [[ -z ${PG_DATA2:-} ]] || { _pg_die "pg_start_standby: already started"; return 1; }
    PG_DATA2=$PG_DIR/standby
    if ! _pg_as_postgres "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U postgres \
        -D "$PG_DATA2" -R -X stream -c fast --no-sync >"$PG_DIR/basebackup.log" 2>&1; then
        cat "$PG_DIR/basebackup.log" >&2
        _pg_die "pg_start_standby: pg_basebackup failed"
        return 1
    fi
    PG_PORT2=$(_tb_free_port "$PG_PORT")
    printf '# scripts/lib/pg.sh: the standby\nport = %s\n' "$PG_PORT2" >>"$PG_DATA2/postgresql.conf"
    printf "primary_conninfo = 'host=127.0.0.1 port=%s user=postgres application_name=s1'\n" \
        "$PG_PORT" >>"$PG_DATA2/postgresql.auto.conf"
    _PG_DATAS+=("$PG_DATA2")
    if ! _pg_ctl_start "$PG_DATA2" "$PG_DIR/standby.log"; then
        tail -n 20 "$PG_DIR/standby.log" >&2 || true
        _pg_die "pg_start_standby: the standby did not start"
        return 1
    fi
    pg_psql -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
    local deadline state
    deadline=$(($(_tb_now_ms) + 30000))
    while :; do
        state=$(pg_psql -At -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 's1'")
        [[ $state == sync ]] && break
        if (($(_tb_now_ms) >= deadline)); then
            tail -n 20 "$PG_DIR/standby.log" >&2 || true
            _pg_die "pg_start_standby: s1 is not a synchronous standby (state '${state}')"
            return 1
        fi
        sleep 0.1
    done
    PG_CONNINFO_MULTI="host=127.0.0.1,127.0.0.1 port=$PG_PORT,$PG_PORT2 user=postgres dbname=postgres connect_timeout=2 target_session_attrs=read-write"
    export PG_CONNINFO_MULTI
}

# pg_failover
#   The primary dies (pg_ctl -m immediate: no shutdown checkpoint, clients cut off), the
#   standby is promoted and, having inherited synchronous_standby_names = '*', would make
#   every commit wait for a standby that does not exist: it is cleared (what a manager such
#   as Patroni does). PG_CONNINFO and PG_PRIMARY_PORT then name the new primary.
pg_failover() {
    [[ -n ${PG_DATA2:-} ]] || { _pg_die "pg_failover: no standby (pg_start_standby)"; return 1; }
    _pg_as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -t 30 stop >/dev/null 2>&1 || true
    _pg_as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA2" -w -t 60 promote >/dev/null
    PG_PSQL_CONNINFO=$(_pg_conninfo "$PG_PORT2") pg_psql \
        -c "ALTER SYSTEM SET synchronous_standby_names = ''" -c "SELECT pg_reload_conf()" >/dev/null
    # shellcheck disable=SC2034 # for the caller
    PG_PRIMARY_PORT=$PG_PORT2
    PG_CONNINFO=$(_pg_conninfo "$PG_PORT2")
    export PG_CONNINFO
}

# pg_apply_schema FILE [TARGET]
#   Applies FILE's migrations in order, each one not yet applied (sg_meta.schema_version below
#   its number) in its own transaction, under an advisory lock so two runners do not race;
#   TARGET stops at that version. FILE is split at lines "-- sg:migration N title"; each step
#   sets sg_meta.schema_version to N itself. Prints "schema: version A -> B".
pg_apply_schema() {
    local file=$1 target=${2:-999999} have n steps=() step
    [[ -r $file ]] || { _pg_die "pg_apply_schema: cannot read $file"; return 1; }
    mapfile -t steps < <(sed -n 's/^-- sg:migration \([0-9][0-9]*\) .*/\1/p' "$file")
    ((${#steps[@]} > 0)) || { _pg_die "pg_apply_schema: no migration in $file"; return 1; }
    have=0
    if [[ $(pg_psql -At -c "SELECT to_regclass('sg_meta') IS NOT NULL") == t ]]; then
        have=$(pg_psql -At -c "SELECT schema_version FROM sg_meta")
    fi
    local from=$have
    for n in "${steps[@]}"; do
        ((n > have && n <= target)) || continue
        step=$(awk -v n="$n" '/^-- sg:migration [0-9]+ /{on = ($3 == n)} on' "$file")
        {
            echo "SELECT pg_advisory_xact_lock(5347);"
            echo "DO \$g\$ DECLARE v integer := 0; BEGIN"
            echo "  IF to_regclass('sg_meta') IS NOT NULL THEN"
            echo "    EXECUTE 'SELECT schema_version FROM sg_meta' INTO v; END IF;"
            echo "  IF v <> $((n - 1)) THEN"
            echo "    RAISE EXCEPTION 'schema: migration $n needs version $((n - 1)), found %', v; END IF;"
            echo "END \$g\$;"
            printf '%s\n' "$step"
            echo "DO \$g\$ BEGIN IF (SELECT schema_version FROM sg_meta) <> $n THEN"
            echo "  RAISE EXCEPTION 'schema: migration $n did not set version $n'; END IF; END \$g\$;"
        } | pg_psql --single-transaction -f - >/dev/null || { _pg_die "pg_apply_schema: migration $n failed"; return 1; }
        have=$n
    done
    echo "schema: version $from -> $have"
}

# pg_stop
#   Stops every server started here (-m immediate: the directory is thrown away) and removes
#   $PG_DIR unless PG_KEEP=1. Idempotent; never fails; keeps the caller's $?.
pg_stop() {
    local rc=$? d
    if [[ -z ${PG_DIR:-} || ${_PG_STOPPED:-1} == 1 ]]; then
        return "$rc"
    fi
    for d in "${_PG_DATAS[@]}"; do
        [[ -f $d/postmaster.pid ]] || continue
        _pg_as_postgres "$PG_BIN/pg_ctl" -D "$d" -m immediate -t 30 stop >/dev/null 2>&1 || true
    done
    _PG_DATAS=()
    if [[ ${PG_KEEP:-0} == 1 ]]; then
        echo "pg: kept $PG_DIR" >&2
    else
        rm -rf -- "$PG_DIR" || true
    fi
    _PG_STOPPED=1
    return "$rc"
}
