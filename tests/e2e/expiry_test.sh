#!/usr/bin/env bash
# An expiry counted across a restart of the tailer, with a real Postfix's own lines: the
# receiver (tests/tools/smtp_replier) defers 4 recipients of 2 messages with 450 and accepts a
# fifth; senderguard-tail reads those lines in a first run. Then the messages are expired by
# hand (postsuper -e, what an operator does to give up on a queue): qmgr returns them to the
# sender at once, without another delivery attempt, and logs only "status=force-expired,
# returned to sender". The second run is a new process that sees no deferral line: what it
# knows of the recipients still deferred comes back from the store (the `deferred` table). It
# must count one expiry per such recipient (4), not one per message (2), nor the recipient
# that was delivered.
#
# Also: a broken rules file stops the tailer with 78 and file:line before it creates a store.
#
# (An expiry by maximal_queue_lifetime is less strict a test: Postfix 3.7 tries the message
# once more first and logs each recipient's deferral again right before "status=expired".)
. "$(dirname "$0")/lib.sh"

# No retry during the test: the deferred messages wait for postsuper.
TB_EXTRA_MAIN_CF="$(cat <<'EOF'
queue_run_delay = 300s
minimal_backoff_time = 300s
maximal_backoff_time = 300s
EOF
)"
e2e_start_replier "$(cat <<'EOF'
# recipient pattern, stage, reply
busy*  rcpt  450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. Please resend your message at a later time. - gsmtp
EOF
)" "$(cat <<'EOF'
[tail]
source = "@TB_DIR@/log/postfix.log"
rules = "@SRC@/conf/bounce-rules.conf"
timezone = "localtime"
EOF
)"

T=$TB_DIR/t.out
tail_once() { "$E2E_BIN/senderguard-tail" -c "$SG_CONF" --once --stderr >>"$TB_DIR/log/tail.log" 2>&1; }
rep() { # rep ACCOUNT FIELD: a figure of `show --json`'s reputation
    sgctl show "$1" --json | sed -n "s/.*\"$2\": *\([0-9.e-]*\).*/\1/p" | head -n 1
}
# wait_log PATTERN N TIMEOUT_S: until the Postfix log has N lines matching PATTERN.
wait_log() {
    local pattern=$1 n=$2 i
    for ((i = 0; i < $3 * 10; i++)); do
        (($(grep -cE "$pattern" "$TB_LOG" 2>/dev/null || true) >= n)) && return 0
        sleep 0.1
    done
    return 1
}

send "$T" --xclient "LOGIN=alice" --from a@alice.test --to busy1@dest.test,busy2@dest.test,busy3@dest.test
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to ok1@dest.test,busy4@dest.test
check "Postfix deferred the 4 busy recipients" wait_log 'to=<busy[0-9]@dest\.test>.*status=deferred' 4 30
check "Postfix delivered ok1" wait_log 'to=<ok1@dest\.test>.*status=sent' 1 30
tail_once
check "first run: 1 delivered" test "$(rep alice delivered)" = 1
check "first run: nothing expired yet" test "$(rep alice expired)" = 0
deferrals=$(rep alice deferred)
check "first run: the 4 deferrals counted ($deferrals)" test "${deferrals:-0}" -ge 4

check "both messages wait in the deferred queue" \
    test "$(find "$TB_QUEUE_DIR/deferred" -type f | wc -l)" = 2
postsuper -c "$TB_CONF_DIR" -e ALL deferred >"$T" 2>&1
postqueue -c "$TB_CONF_DIR" -f >>"$T" 2>&1
check "Postfix returned both messages to the sender" \
    wait_log 'from=<a@alice\.test>, status=force-expired, returned to sender' 2 60
check "the expired messages were removed" tb_wait_queue_empty 60
check "no other delivery attempt: still 4 deferral lines" \
    test "$(grep -cE 'to=<busy[0-9]@dest\.test>.*status=deferred' "$TB_LOG")" = 4
tail_once
check "second run (a new process): 4 expired, one per recipient still deferred" \
    test "$(rep alice expired)" = 4
check "second run: still 1 delivered" test "$(rep alice delivered)" = 1
check "second run: no recipient counted hard" test "$(rep alice hard)" = 0
tail_once
check "a third run counts nothing again: 4 expired" test "$(rep alice expired)" = 4
expect "$TB_DIR/log/tail.log" 'action=stop .*unattributed=0' "nothing unattributed (the notices are Postfix's own)"

# ---- a broken rules file: exit 78 with file:line, and a first run leaves no store behind
printf '[[rule]]\nclass = "hard"\n' >"$TB_DIR/bad.rules"
sed -e "s#^rules = .*#rules = \"$TB_DIR/bad.rules\"#" -e "s#^path = .*#path = \"$TB_DIR/store-new\"#" \
    "$SG_CONF" >"$TB_DIR/bad.conf"
rc=0
"$E2E_BIN/senderguard-tail" -c "$TB_DIR/bad.conf" --once 2>"$TB_DIR/bad.err" || rc=$?
check "broken rules file: exit 78 (EX_CONFIG)" test "$rc" = 78
expect "$TB_DIR/bad.err" 'bad\.rules:1: rule\[0\]: missing key "match"' "broken rules file: file:line: key: what is wrong"
check "broken rules file on a first run: no store created" test ! -e "$TB_DIR/store-new"

finish
