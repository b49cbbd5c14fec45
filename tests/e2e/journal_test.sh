#!/usr/bin/env bash
# senderguard-tail reading systemd's journal (sd-journal): a real private Postfix delivers
# through the milter; its log lines become journal entries (SYSLOG_IDENTIFIER, MESSAGE,
# SYSLOG_FACILITY=2) written into real journal files by systemd-journal-remote, and the tailer
# reads them with [tail] source = "journal:DIR". Checks: attribution and classes, exactly once
# across runs (the cursor is stored with the counts), entries appended later are read, and
# forged entries: a bounce for a real queue id written by a user that is not Postfix's (a
# "logger -t postfix/smtp" line; journald records the writer's _UID, which the export format
# carries as it carries the other trusted fields) counts nothing and is logged once.
. "$(dirname "$0")/lib.sh"

JREMOTE=/lib/systemd/systemd-journal-remote
e2e_start_replier "unknown* rcpt 550 5.1.1 <x>: Recipient address rejected: User unknown in virtual mailbox table" \
    "$(cat <<'EOF'
[tail]
source = "journal:@TB_DIR@/journal"
rules = "@SRC@/conf/bounce-rules.conf"
EOF
)"
T=$TB_DIR/t.out
mkdir -p "$TB_DIR/journal"
rep() { sgctl show "$1" --json | sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" | head -n 1; }
POSTFIX_UID=$(id -u postfix)
# to_journal FROM_LINE: Postfix's log lines from FROM_LINE on, as journal entries, each with
# the _UID and _PID journald would record: master(8) and postsuper(1) run as root, the
# daemons as mail_owner (the testbed's is "postfix").
to_journal() {
    local boot=0123456789abcdef0123456789abcdef now
    now=$(date +%s%6N)
    tail -n +"$1" "$TB_LOG" | awk -v t="$now" -v boot="$boot" -v puid="$POSTFIX_UID" '
        $5 ~ /:$/ {
            n++
            ident = $5; sub(/:$/, "", ident); pid = ident
            sub(/\[[0-9]+\]$/, "", ident); sub(/^.*\[/, "", pid); sub(/\]$/, "", pid)
            uid = (ident ~ /\/(master|postsuper|postfix-script)$/) ? 0 : puid
            msg = substr($0, index($0, $5) + length($5) + 1)
            printf "__REALTIME_TIMESTAMP=%.0f\n__MONOTONIC_TIMESTAMP=%.0f\n_BOOT_ID=%s\n_HOSTNAME=mta\n_UID=%s\n_PID=%s\nSYSLOG_FACILITY=2\nSYSLOG_IDENTIFIER=%s\nMESSAGE=%s\n\n", t + n, n, boot, uid, pid, ident, msg
        }' >"$TB_DIR/entries.export"
    "$JREMOTE" -o "$TB_DIR/journal/remote.journal" "$TB_DIR/entries.export" >/dev/null 2>&1
}
# forge UID MESSAGE: one entry as `logger -t postfix/smtp MESSAGE` run by UID would leave
# ("" for none: an entry without _UID).
forge() {
    local now
    now=$(date +%s%6N)
    {
        printf '__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=%s\n' "$now" "$now"
        printf '_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=mta\n'
        [[ -z $1 ]] || printf '_UID=%s\n_PID=4242\n_COMM=logger\n' "$1"
        printf 'SYSLOG_FACILITY=2\nSYSLOG_IDENTIFIER=postfix/smtp\nMESSAGE=%s\n\n' "$2"
    } >"$TB_DIR/forged.export"
    "$JREMOTE" -o "$TB_DIR/journal/remote.journal" "$TB_DIR/forged.export" >/dev/null 2>&1
}
wait_sent() { # wait_sent N: the log holds N status= lines
    local i
    for ((i = 0; i < 300; i++)); do
        (($(grep -c ' to=<.*status=' "$TB_LOG" 2>/dev/null || true) >= $1)) && return 0
        sleep 0.1
    done
    return 1
}

send "$T" --xclient "LOGIN=alice" --from a@alice.test --to j1@dest.test,j2@dest.test
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to unknown1@dest.test
check "Postfix logged 3 outcomes" wait_sent 3
sleep 1
lines_first=$(wc -l <"$TB_LOG")
to_journal 1
check "journal files written" test -s "$TB_DIR/journal/remote.journal"
"$E2E_BIN/senderguard-tail" -c "$SG_CONF" --once --from-start >>"$TB_DIR/log/tail.log" 2>&1
check "alice: 2 delivered from the journal" test "$(rep alice delivered)" = 2
check "alice: 1 hard from the journal" test "$(rep alice hard)" = 1
"$E2E_BIN/senderguard-tail" -c "$SG_CONF" --once --from-start >>"$TB_DIR/log/tail.log" 2>&1
check "a second run from the stored cursor counts nothing again" test "$(rep alice delivered)" = 2

# Forged bounces for a real queue id of alice's (j1's message), by "nobody" and with no _UID:
# nothing counted, one action=forged line, the stop line's forged=2.
qid=$(sed -n 's/.*: \([0-9A-F]\{6,\}\): to=<j1@dest.test>.*status=sent.*/\1/p' "$TB_LOG" | head -n 1)
check "the queue id of a real message" test -n "$qid"
forged="$qid: to=<j1@dest.test>, relay=mx.dest.test[192.0.2.25]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=bounced (host mx.dest.test[192.0.2.25] said: 550 5.1.1 <j1@dest.test>: Recipient address rejected: User unknown (in reply to RCPT TO command))"
forge "$(id -u nobody)" "$forged"
forge "" "$forged"
: >"$TB_DIR/log/tail-forged.log"
"$E2E_BIN/senderguard-tail" -c "$SG_CONF" --once --from-start --stderr >>"$TB_DIR/log/tail-forged.log" 2>&1
cat "$TB_DIR/log/tail-forged.log" >>"$TB_DIR/log/tail.log"
check "forged bounces for a real queue id count nothing: 1 hard" test "$(rep alice hard)" = 1
check "... and delivered stays 2" test "$(rep alice delivered)" = 2
check "... and j1 is not on its way to suppression" \
    bash -c "! grep -q 'action=suppress.*j1@dest.test' '$TB_DIR/log/tail-forged.log'"
check "one action=forged line for two forged entries" \
    test "$(grep -c 'action=forged' "$TB_DIR/log/tail-forged.log")" = 1
check "it names the writer" grep -q "action=forged uid=$(id -u nobody) identifier=postfix/smtp" "$TB_DIR/log/tail-forged.log"
check "the stop line counts both" grep -q 'action=stop .*forged=2' "$TB_DIR/log/tail-forged.log"

send "$T" --xclient "LOGIN=alice" --from a@alice.test --to j3@dest.test
check "Postfix logged the 4th outcome" wait_sent 4
sleep 0.5
to_journal $((lines_first + 1))
"$E2E_BIN/senderguard-tail" -c "$SG_CONF" --once --from-start >>"$TB_DIR/log/tail.log" 2>&1
check "entries appended later are read: 3 delivered" test "$(rep alice delivered)" = 3
check "... and the hard bounce still once" test "$(rep alice hard)" = 1

# An unknown [tail] postfix_user refuses to start (exit 78), before anything is read.
sed -i '/^\[tail\]/a postfix_user = "no-such-user-sg"' "$SG_CONF"
rc=0
"$E2E_BIN/senderguard-tail" -c "$SG_CONF" --once >"$TB_DIR/log/tail-nouser.log" 2>&1 || rc=$?
check "an unknown postfix_user is a configuration error (78)" test "$rc" = 78
check "... that says so" grep -q 'no user "no-such-user-sg"' "$TB_DIR/log/tail-nouser.log"
finish
