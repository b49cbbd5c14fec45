#!/usr/bin/env bash
# senderguard-tail reading systemd's journal (sd-journal): a real private Postfix delivers
# through the milter; its log lines become journal entries (SYSLOG_IDENTIFIER, MESSAGE,
# SYSLOG_FACILITY=2) written into real journal files by systemd-journal-remote, and the tailer
# reads them with [tail] source = "journal:DIR". Checks: attribution and classes, exactly once
# across runs (the cursor is stored with the counts), entries appended later are read.
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
# to_journal FROM_LINE: Postfix's log lines from FROM_LINE on, as journal entries.
to_journal() {
    local boot=0123456789abcdef0123456789abcdef now
    now=$(date +%s%6N)
    tail -n +"$1" "$TB_LOG" | awk -v t="$now" -v boot="$boot" '
        $5 ~ /:$/ {
            n++
            ident = $5; sub(/:$/, "", ident); sub(/\[[0-9]+\]$/, "", ident)
            msg = substr($0, index($0, $5) + length($5) + 1)
            printf "__REALTIME_TIMESTAMP=%.0f\n__MONOTONIC_TIMESTAMP=%.0f\n_BOOT_ID=%s\n_HOSTNAME=mta\nSYSLOG_FACILITY=2\nSYSLOG_IDENTIFIER=%s\nMESSAGE=%s\n\n", t + n, n, boot, ident, msg
        }' >"$TB_DIR/entries.export"
    "$JREMOTE" -o "$TB_DIR/journal/remote.journal" "$TB_DIR/entries.export" >/dev/null 2>&1
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

send "$T" --xclient "LOGIN=alice" --from a@alice.test --to j3@dest.test
check "Postfix logged the 4th outcome" wait_sent 4
sleep 0.5
to_journal $((lines_first + 1))
"$E2E_BIN/senderguard-tail" -c "$SG_CONF" --once --from-start >>"$TB_DIR/log/tail.log" 2>&1
check "entries appended later are read: 3 delivered" test "$(rep alice delivered)" = 3
check "... and the hard bounce still once" test "$(rep alice hard)" = 1
finish
