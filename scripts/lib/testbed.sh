# shellcheck shell=bash
#
# scripts/lib/testbed.sh - a throwaway private Postfix (3.7) instance for tests and benchmarks.
#
# Source it from a bash script (it is safe under `set -euo pipefail`) and call, in order:
#
#   tb_init                       # temp dir, free loopback ports, `trap tb_stop EXIT`
#   tb_start_sink                 # smtp-sink on 127.0.0.1:$TB_SINK_PORT (Postfix's relayhost)
#   tb_start_postfix [MILTER]     # private Postfix, smtpd on 127.0.0.1:$TB_SMTP_PORT
#   tb_swaks --from a@x.test --to b@y.test ...
#   tb_wait_queue_empty 30 && tb_sink_count
#   tb_stop                       # or let the EXIT trap do it
#
# Everything listens on 127.0.0.1 only and every process started here is stopped by tb_stop.
# Nothing outside $TB_DIR is written; the system Postfix in /etc/postfix is never touched
# (its master.cf is only read, as the template for the private one).
#
# Must run as root (Postfix's master and smtp-sink -u need it).
#
# Variables read (set them before the call that uses them):
#   TB_SINK_KEEP=1               tb_start_sink: 1 keeps every message in $TB_DIR/sink (default),
#                                0 keeps nothing (benchmarks); the count then comes from smtp-sink -c.
#   TB_MILTER_DEFAULT_ACTION     tb_start_postfix: milter_default_action (default tempfail).
#   TB_TRANSPORT_MAPS            tb_start_postfix: value for transport_maps, e.g.
#                                'inline:{ {dead.test = error:5.1.1 user unknown} }'.
#   TB_EXTRA_MAIN_CF             tb_start_postfix: lines appended to main.cf last (they win).
#   TB_KEEP=1                    tb_stop: leave $TB_DIR in place (for post-mortem).
#   TB_KILL_GRACE=10             tb_stop/tb_stop_pid: seconds between SIGTERM and SIGKILL.
#   TB_MASTER_CF_TEMPLATE        master.cf to derive from (default /etc/postfix/master.cf).
#
# Variables set:
#   TB_DIR  TB_SMTP_PORT  TB_SINK_PORT  TB_CONF_DIR ($TB_DIR/postfix)  TB_QUEUE_DIR
#   TB_LOG ($TB_DIR/log/postfix.log)  TB_SINK_DIR ($TB_DIR/sink)  TB_SINK_PID

# ---------------------------------------------------------------------------------------------
# Internal helpers (prefix _tb_).

_tb_die() {
    echo "testbed: $*" >&2
    return 1
}

_tb_need_init() {
    [[ -n ${TB_DIR:-} && -d ${TB_DIR:-/nonexistent} && ${_TB_STOPPED:-1} == 0 ]] ||
        _tb_die "call tb_init first"
}

# Milliseconds since the epoch.
_tb_now_ms() {
    local t
    t=$(date +%s%N)
    echo $((t / 1000000))
}

# _tb_free_port [EXCLUDED_PORT...]: print a loopback TCP port nobody uses. Picks from
# 20000-31999, below Linux's default ephemeral range (32768-60999), so that the many outgoing
# connections of a load test cannot take it.
_tb_free_port() {
    local p i
    for ((i = 0; i < 500; i++)); do
        p=$((20000 + RANDOM % 12000))
        [[ " $* " == *" $p "* ]] && continue
        if [[ -z $(ss -Htan "( sport = :$p )" 2>/dev/null) ]]; then
            echo "$p"
            return 0
        fi
    done
    _tb_die "no free TCP port found"
}

# _tb_wait_banner PORT TIMEOUT_S: wait until 127.0.0.1:PORT greets with "220".
_tb_wait_banner() {
    local port=$1 timeout=$2 deadline line fd
    deadline=$(($(_tb_now_ms) + timeout * 1000))
    while (($(_tb_now_ms) < deadline)); do
        if exec {fd}<>"/dev/tcp/127.0.0.1/$port"; then
            line=
            IFS= read -r -t 5 line <&"$fd" || true
            printf 'QUIT\r\n' 1>&"$fd" 2>/dev/null || true
            exec {fd}>&-
            [[ $line == 220* ]] && return 0
        fi 2>/dev/null
        sleep 0.1
    done
    return 1
}

# _tb_wait_listen PORT TIMEOUT_S: wait until something listens on 127.0.0.1:PORT.
_tb_wait_listen() {
    local port=$1 timeout=$2 deadline
    deadline=$(($(_tb_now_ms) + timeout * 1000))
    while (($(_tb_now_ms) < deadline)); do
        [[ -n $(ss -Htln "( sport = :$port )" 2>/dev/null) ]] && return 0
        sleep 0.05
    done
    return 1
}

# _tb_starttime PID: the process start time (field 22 of /proc/PID/stat), empty if gone.
_tb_starttime() {
    local stat
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
    stat=${stat##*) } # drop "pid (comm) ", comm may contain spaces
    # shellcheck disable=SC2086
    set -- $stat
    echo "${20}"
}

# _tb_kill_pid PID [STARTTIME]: SIGTERM, up to ${TB_KILL_GRACE:-10} s grace, then SIGKILL; reaps
# it if it is our child. With STARTTIME, does nothing if the PID now belongs to another process.
# (A libmilter milter needs about 5 s to leave smfi_main after SIGTERM.)
_tb_kill_pid() {
    local pid=$1 start=${2:-} i grace=$((${TB_KILL_GRACE:-10} * 20))
    [[ -n $pid ]] || return 0
    if [[ -n $start && $(_tb_starttime "$pid") != "$start" ]]; then
        wait "$pid" 2>/dev/null || true
        return 0
    fi
    if kill -TERM "$pid" 2>/dev/null; then
        for ((i = 0; i < grace; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    return 0
}

# _tb_instance_pids: PIDs of every process of this Postfix instance (MAIL_CONFIG=$TB_CONF_DIR
# in its environment). Never matches by program name.
_tb_instance_pids() {
    local f
    [[ -n ${TB_CONF_DIR:-} ]] || return 0
    {
        grep -lzxF -e "MAIL_CONFIG=$TB_CONF_DIR" -e "MAIL_CONFIG=$TB_CONF_DIR/" \
            /proc/[0-9]*/environ 2>/dev/null || true
    } | while IFS= read -r f; do
        f=${f#/proc/}
        f=${f%/environ}
        [[ $f == "$$" || $f == "$BASHPID" ]] || echo "$f"
    done
}

# _tb_queue_count: number of queue files of this instance (all queues).
_tb_queue_count() {
    local q=$TB_QUEUE_DIR
    { find "$q/maildrop" "$q/incoming" "$q/active" "$q/deferred" "$q/hold" "$q/corrupt" \
        -type f 2>/dev/null || true; } | wc -l
}

# _tb_master_cf TEMPLATE PORT: print the private master.cf: the template with every service's
# chroot column set to "n" and the port-25 "smtp inet" service (with its continuation lines)
# replaced by smtpd on 127.0.0.1:PORT.
_tb_master_cf() {
    awk -v port="$2" '
        /^[ \t]*#/ || /^[ \t]*$/ { if (!skip) print; next }
        /^[ \t]/                 { if (!skip) print; next }   # continuation of a service
        {
            skip = 0
            if ($1 == "smtp" && $2 == "inet") { skip = 1; next }
            if (NF >= 8) { $5 = "n" }
            print
        }
        END {
            print ""
            print "# senderguard testbed: smtpd on loopback only"
            print "127.0.0.1:" port " inet n - n - - smtpd"
        }' "$1"
}

# ---------------------------------------------------------------------------------------------
# Public functions.

# tb_init
#   Creates TB_DIR (mktemp -d under /tmp, mode 0755 so the postfix user can reach sockets
#   inside), picks two free loopback TCP ports TB_SMTP_PORT (Postfix smtpd) and TB_SINK_PORT
#   (smtp-sink), and installs `trap tb_stop EXIT` (replacing any EXIT trap; callers call
#   tb_stop themselves or rely on the trap). INT/TERM/HUP are trapped to exit, so the EXIT trap
#   also runs when the script is interrupted.
tb_init() {
    if [[ -n ${TB_DIR:-} && ${_TB_STOPPED:-1} == 0 ]]; then
        _tb_die "tb_init: already initialised ($TB_DIR); call tb_stop first"
        return 1
    fi
    [[ $(id -u) == 0 ]] || { _tb_die "tb_init: must run as root"; return 1; }
    TB_DIR=$(mktemp -d /tmp/sg-testbed.XXXXXX)
    chmod 0755 "$TB_DIR"
    TB_CONF_DIR=$TB_DIR/postfix
    TB_QUEUE_DIR=$TB_DIR/queue
    TB_LOG=$TB_DIR/log/postfix.log
    TB_SINK_DIR=$TB_DIR/sink
    mkdir -p "$TB_CONF_DIR" "$TB_DIR/log" "$TB_QUEUE_DIR"
    chmod 0755 "$TB_CONF_DIR" "$TB_DIR/log" "$TB_QUEUE_DIR"
    TB_SMTP_PORT=$(_tb_free_port)
    TB_SINK_PORT=$(_tb_free_port "$TB_SMTP_PORT")
    TB_SINK_PID=
    _TB_SINK_START=
    _TB_PIDS=()
    _TB_POSTFIX_STARTED=0
    _TB_STOPPED=0
    trap tb_stop EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# tb_start_sink [EXTRA_SMTP_SINK_ARGS...]
#   Starts `smtp-sink -u postfix -c [-d $TB_DIR/sink/%H%M%S.] ARGS 127.0.0.1:$TB_SINK_PORT 256`
#   in the background, records its PID in TB_SINK_PID and waits until it listens.
#   TB_SINK_KEEP=1 (default) keeps each message as one file in $TB_SINK_DIR; 0 keeps none.
tb_start_sink() {
    _tb_need_init || return 1
    [[ -z ${TB_SINK_PID:-} ]] || { _tb_die "tb_start_sink: sink already running"; return 1; }
    local args=(-u postfix -c)
    install -d -o postfix -g postfix -m 0755 "$TB_SINK_DIR"
    if [[ ${TB_SINK_KEEP:-1} == 1 ]]; then
        args+=(-d "$TB_SINK_DIR/%H%M%S.")
    fi
    smtp-sink "${args[@]}" "$@" "127.0.0.1:$TB_SINK_PORT" 256 \
        >"$TB_DIR/log/sink.out" 2>"$TB_DIR/log/sink.err" </dev/null &
    TB_SINK_PID=$!
    _TB_SINK_START=$(_tb_starttime "$TB_SINK_PID")
    if ! _tb_wait_listen "$TB_SINK_PORT" 10; then
        cat "$TB_DIR/log/sink.err" >&2 || true
        _tb_die "tb_start_sink: smtp-sink did not listen on 127.0.0.1:$TB_SINK_PORT"
        return 1
    fi
}

# tb_sink_count
#   Prints how many messages the sink has received: the number of files in $TB_SINK_DIR with
#   TB_SINK_KEEP=1, otherwise smtp-sink's own "mesg=" counter (smtp-sink -c).
tb_sink_count() {
    _tb_need_init || return 1
    if [[ ${TB_SINK_KEEP:-1} == 1 ]]; then
        { find "$TB_SINK_DIR" -type f 2>/dev/null || true; } | wc -l
    else
        local last
        last=$(tr '\r' '\n' <"$TB_DIR/log/sink.out" 2>/dev/null | grep 'mesg=' | tail -n 1 || true)
        last=${last##*mesg=}
        echo "${last:-0}"
    fi
}

# tb_start_postfix [MILTER]
#   Writes $TB_CONF_DIR/main.cf and master.cf, runs `postfix -c $TB_CONF_DIR check` and
#   `start`, then waits until 127.0.0.1:$TB_SMTP_PORT answers with a 220 banner.
#   MILTER (e.g. unix:$TB_DIR/milter.sock) becomes smtpd_milters and non_smtpd_milters, with
#   milter_protocol = 6 and milter_default_action = ${TB_MILTER_DEFAULT_ACTION:-tempfail};
#   macros stay at Postfix defaults. TB_TRANSPORT_MAPS and TB_EXTRA_MAIN_CF are applied after.
#   Can be called again after tb_stop_postfix (same ports, same queue directory).
tb_start_postfix() {
    _tb_need_init || return 1
    local milter=${1:-} template=${TB_MASTER_CF_TEMPLATE:-/etc/postfix/master.cf}
    [[ $_TB_POSTFIX_STARTED == 0 ]] || { _tb_die "tb_start_postfix: already started"; return 1; }
    [[ -r $template ]] || { _tb_die "tb_start_postfix: cannot read $template"; return 1; }

    install -d -o postfix -g postfix -m 0700 "$TB_DIR/data"
    cat >"$TB_CONF_DIR/main.cf" <<EOF
# Generated by scripts/lib/testbed.sh: private test instance, loopback only.
compatibility_level = 3.6
queue_directory = $TB_QUEUE_DIR
data_directory = $TB_DIR/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.testbed.test
mydomain = testbed.test
myorigin = \$myhostname
maillog_file = $TB_LOG
maillog_file_prefixes = $TB_DIR/log
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$TB_SINK_PORT
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_tls_security_level = none
smtp_tls_security_level = none
smtpd_reject_unlisted_recipient = no
biff = no
# throughput
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
default_process_limit = 100
smtp_destination_concurrency_limit = 20
EOF
    if [[ -n $milter ]]; then
        cat >>"$TB_CONF_DIR/main.cf" <<EOF
# milter
smtpd_milters = $milter
non_smtpd_milters = $milter
milter_default_action = ${TB_MILTER_DEFAULT_ACTION:-tempfail}
milter_protocol = 6
EOF
    fi
    if [[ -n ${TB_TRANSPORT_MAPS:-} ]]; then
        printf 'transport_maps = %s\n' "$TB_TRANSPORT_MAPS" >>"$TB_CONF_DIR/main.cf"
    fi
    if [[ -n ${TB_EXTRA_MAIN_CF:-} ]]; then
        printf '# TB_EXTRA_MAIN_CF\n%s\n' "$TB_EXTRA_MAIN_CF" >>"$TB_CONF_DIR/main.cf"
    fi
    _tb_master_cf "$template" "$TB_SMTP_PORT" >"$TB_CONF_DIR/master.cf"

    if ! postfix -c "$TB_CONF_DIR" check >"$TB_DIR/log/postfix-check.out" 2>&1; then
        cat "$TB_DIR/log/postfix-check.out" "$TB_LOG" >&2 2>/dev/null || true
        _tb_die "tb_start_postfix: postfix check failed"
        return 1
    fi
    _TB_POSTFIX_STARTED=1
    if ! postfix -c "$TB_CONF_DIR" start >"$TB_DIR/log/postfix-start.out" 2>&1; then
        cat "$TB_DIR/log/postfix-start.out" "$TB_LOG" >&2 2>/dev/null || true
        _tb_die "tb_start_postfix: postfix start failed"
        return 1
    fi
    if ! _tb_wait_banner "$TB_SMTP_PORT" 20; then
        tail -n 30 "$TB_LOG" >&2 2>/dev/null || true
        _tb_die "tb_start_postfix: no 220 banner on 127.0.0.1:$TB_SMTP_PORT"
        return 1
    fi
}

# tb_stop_postfix
#   Stops this instance only: `postfix -c $TB_CONF_DIR stop`, then SIGTERM/SIGKILL for any
#   process still carrying MAIL_CONFIG=$TB_CONF_DIR. Leaves the sink, tracked PIDs and TB_DIR.
tb_stop_postfix() {
    [[ -n ${TB_CONF_DIR:-} ]] || return 0
    local pids i
    if [[ ${_TB_POSTFIX_STARTED:-0} == 1 && -f $TB_CONF_DIR/main.cf ]]; then
        postfix -c "$TB_CONF_DIR" stop >>"$TB_DIR/log/postfix-stop.out" 2>&1 || true
    fi
    _TB_POSTFIX_STARTED=0
    # Daemons exit on their own once the master is gone; give them a moment, then insist.
    for ((i = 0; i < 30; i++)); do
        pids=$(_tb_instance_pids)
        [[ -z $pids ]] && return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        pids=$(_tb_instance_pids)
        [[ -z $pids ]] && return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    return 0
}

# tb_wait_queue_empty [TIMEOUT_S]
#   Waits (default 60 s) until no queue file of this instance is left in maildrop, incoming,
#   active, deferred, hold or corrupt. Returns 1, with the count on stderr, on timeout.
tb_wait_queue_empty() {
    _tb_need_init || return 1
    local timeout=${1:-60} deadline n
    deadline=$(($(_tb_now_ms) + timeout * 1000))
    while :; do
        n=$(_tb_queue_count)
        ((n == 0)) && return 0
        if (($(_tb_now_ms) >= deadline)); then
            echo "testbed: tb_wait_queue_empty: $n queue file(s) left after ${timeout}s" >&2
            return 1
        fi
        sleep 0.05
    done
}

# tb_track_pid PID
#   Registers a background process (for example the milter) that tb_stop must kill.
tb_track_pid() {
    _tb_need_init || return 1
    local start
    start=$(_tb_starttime "$1")
    _TB_PIDS+=("$1:$start")
}

# tb_stop_pid PID
#   Kills a process now (SIGTERM, TB_KILL_GRACE s grace (default 10), then SIGKILL), waits for
#   it, and forgets it if tracked.
tb_stop_pid() {
    local pid=$1 e keep=()
    local start=
    for e in "${_TB_PIDS[@]}"; do
        if [[ ${e%%:*} == "$pid" ]]; then start=${e#*:}; else keep+=("$e"); fi
    done
    _TB_PIDS=("${keep[@]}")
    _tb_kill_pid "$pid" "$start"
}

# tb_wait_socket PATH [TIMEOUT_S] [PID]
#   Waits (default 10 s) until the unix socket PATH exists; fails early if PID (the process
#   expected to create it) has exited.
tb_wait_socket() {
    local path=$1 timeout=${2:-10} pid=${3:-} deadline
    deadline=$(($(_tb_now_ms) + timeout * 1000))
    while [[ ! -S $path ]]; do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            _tb_die "tb_wait_socket: process $pid exited before creating $path"
            return 1
        fi
        if (($(_tb_now_ms) >= deadline)); then
            _tb_die "tb_wait_socket: $path did not appear within ${timeout}s"
            return 1
        fi
        sleep 0.05
    done
}

# tb_swaks ARGS...
#   swaks --server 127.0.0.1 --port $TB_SMTP_PORT ARGS... (prints the transcript, returns
#   swaks's exit status).
tb_swaks() {
    _tb_need_init || return 1
    swaks --server 127.0.0.1 --port "$TB_SMTP_PORT" "$@"
}

# tb_stop
#   Stops the Postfix instance (see tb_stop_postfix), the sink and every tb_track_pid process,
#   then removes TB_DIR unless TB_KEEP=1. Idempotent; never fails; keeps the caller's $?.
tb_stop() {
    local rc=$? e
    if [[ -z ${TB_DIR:-} || ${_TB_STOPPED:-1} == 1 ]]; then
        return "$rc"
    fi
    tb_stop_postfix || true
    for e in "${_TB_PIDS[@]}"; do
        _tb_kill_pid "${e%%:*}" "${e#*:}" || true
    done
    _TB_PIDS=()
    if [[ -n ${TB_SINK_PID:-} ]]; then
        _tb_kill_pid "$TB_SINK_PID" "${_TB_SINK_START:-}" || true
        TB_SINK_PID=
    fi
    if [[ ${TB_KEEP:-0} == 1 ]]; then
        echo "testbed: kept $TB_DIR" >&2
    else
        rm -rf -- "$TB_DIR" || true
    fi
    _TB_STOPPED=1
    return "$rc"
}
