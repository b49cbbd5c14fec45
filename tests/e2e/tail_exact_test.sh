#!/usr/bin/env bash
# Exactly once: senderguard-tail follows a real Postfix's maillog_file under load while it is
# killed with SIGKILL and restarted, while the log is rotated by rename (`postfix logrotate`,
# also while the tailer is stopped) and by copytruncate. At the end the account's delivered
# count in the store must equal the number of "status=sent" lines in all the log files:
# nothing lost, nothing counted twice.
. "$(dirname "$0")/lib.sh"

# maillog_file_compressor: keep the renamed files readable (the default gzips them).
TB_EXTRA_MAIN_CF="maillog_file_compressor = /bin/true"
e2e_start_replier "unknown* rcpt 550 5.1.1 no such user" "$(cat <<'EOF'
[tail]
source = "@TB_DIR@/log/postfix.log"
rules = "@SRC@/conf/bounce-rules.conf"
timezone = "localtime"
poll_interval_ms = 50
EOF
)"
TAIL_LOG=$TB_DIR/log/tail.log
TAIL_PID=

start_tail() {
    "$E2E_BIN/senderguard-tail" -c "$SG_CONF" --stderr >>"$TAIL_LOG" 2>&1 &
    TAIL_PID=$!
    tb_track_pid "$TAIL_PID"
}
kill9_tail() {
    kill -9 "$TAIL_PID" 2>/dev/null || true
    wait "$TAIL_PID" 2>/dev/null || true
}
delivered() { sgctl show load.test --json 2>/dev/null | sed -n 's/.*"delivered": *\([0-9]*\).*/\1/p' | head -n 1; }
sent_lines() { cat "$TB_DIR"/log/postfix.log* 2>/dev/null | grep ' to=<r@dest.test>' | grep -c ' status=sent ' || true; }
hard_lines() { cat "$TB_DIR"/log/postfix.log* 2>/dev/null | grep -c ' status=bounced ' || true; }
load() { # load MESSAGES: smtp-source as account load.test (identity by sender domain)
    smtp-source -s 8 -m "$1" -f s@load.test -t r@dest.test "127.0.0.1:$TB_SMTP_PORT" \
        >>"$TB_DIR/log/source.log" 2>&1
}
rotate() { postfix -c "$TB_CONF_DIR" logrotate >/dev/null 2>&1; }
# settle SECONDS: until every message in the queue has been delivered or bounced. Not "until the
# queue is empty": `postfix logrotate` reloads Postfix, and a message whose delivery was in flight
# at that moment is delivered (its status=sent line is logged) while its queue file can stay
# behind ("skipped, still being delivered") until a later queue manager removes it.
undelivered() {
    awk 'FILENAME == ARGV[1] { done[$1]; next } !($1 in done) { n++ } END { print n + 0 }' \
        <(cat "$TB_DIR"/log/postfix.log* 2>/dev/null |
            awk '/ status=(sent|bounced) / { sub(/:$/, "", $6); print $6 }') \
        <(find "$TB_QUEUE_DIR"/{maildrop,incoming,active,deferred,hold} -type f -printf '%f\n' 2>/dev/null)
}
settle() {
    local i
    for ((i = 0; i < $1 * 10; i++)); do
        [[ $(undelivered) == 0 ]] && return 0
        sleep 0.1
    done
    echo "# settle: $(undelivered) message(s) still undelivered after $1 s" >&2
}
wait_caught_up() { # until the store counts every sent line so far (or 30 s)
    local i
    for ((i = 0; i < 300; i++)); do
        [[ "$(delivered)" == "$(sent_lines)" ]] && return 0
        sleep 0.1
    done
    return 1
}

# ---- SIGKILL and rename rotation under load
start_tail
load 1500 &
LOAD=$!
sleep 1.0; kill9_tail; start_tail
sleep 0.7; rotate
sleep 0.8; kill9_tail; start_tail
sleep 0.5; kill9_tail; start_tail
wait "$LOAD" || true
settle 120
check "caught up after 3 SIGKILLs and a rotation under load" wait_caught_up
echo "# delivered=$(delivered) sent-lines=$(sent_lines) files=$(ls "$TB_DIR"/log/postfix.log* | wc -l)"

# ---- copytruncate (in a quiet moment: lines written between the copy and the truncation
# would be lost by copytruncate itself), then more load with a SIGKILL
cp "$TB_LOG" "$TB_LOG.copied"
: >"$TB_LOG"
load 400 &
LOAD=$!
sleep 0.8; kill9_tail; start_tail
wait "$LOAD" || true
settle 120
check "caught up after copytruncate and a SIGKILL" wait_caught_up
expect "$TAIL_LOG" 'action=truncated' "the tailer noticed the truncation"

# ---- rotated while the tailer is stopped: it finishes the old file first
kill -TERM "$TAIL_PID"; wait "$TAIL_PID" 2>/dev/null || true
load 200
settle 60
rotate
load 200
settle 60
start_tail
check "caught up after a rotation while stopped" wait_caught_up
expect "$TAIL_LOG" 'action=resume-rotated' "it resumed in the renamed file"

# ---- hard bounces too, and a partial last line
smtp-source -s 2 -m 20 -f s@load.test -t unknown1@dest.test "127.0.0.1:$TB_SMTP_PORT" >/dev/null 2>&1 || true
settle 60
printf 'Nov 25 10:00:00 mta postfix/smtp[1]: ABCDEF123: to=<x@y>, relay=none, delay=1, delays=1/0/0/0, dsn=2.0.0, status=se' >>"$TB_LOG"
sleep 1
check "caught up (the partial line is not read)" wait_caught_up
kill -TERM "$TAIL_PID"; wait "$TAIL_PID" 2>/dev/null || true

d=$(delivered); s=$(sent_lines)
check "delivered in the store ($d) == status=sent lines in all log files ($s)" test "$d" = "$s"
h=$(sgctl show load.test --json | sed -n 's/.*"hard": *\([0-9]*\).*/\1/p' | head -n 1)
check "hard bounces in the store ($h) == status=bounced lines ($(hard_lines))" test "$h" = "$(hard_lines)"
check "the log files held at least 2300 deliveries ($s)" test "$s" -ge 2300
finish
