#!/usr/bin/env bash
# senderguard-tail --print over a real Postfix's log in each syslog shape the tailer reads: one
# JSON object per delivery outcome line, checked against a count grep makes of the "status="
# lines of each file, and the same objects whatever the shape.
#
# A private Postfix (syslog_name = postfix-out, a second instance's name; senderguard-milter
# attached; notify_classes with bounce, so the postmaster gets a copy of each bounce) delivers to
# smtp_replier: accepted recipients, a refused one (5.1.1: a bounce notice and its postmaster
# copy, Postfix's own mail), one refused with a three-line reply of ~2.7 KB (Postfix cuts the log
# record at 2000 bytes: a cut line, followed by the next), one greylisted and retried (the same
# recipient deferred several times, then force-expired with postsuper -e), one through a
# content-filter transport with its own syslog_name (postfix-out/amavis/smtp), and sendmail -bv
# address probes (status=deliverable and undeliverable). Its maillog_file is then rewritten by awk
# into each shape: RFC 3164 (rsyslog's traditional format), ISO (RSYSLOG_FileFormat), Solaris
# ("[ID 197553 mail.info]"), RFC 5424 with structured data, RFC 5424 as rsyslog writes it
# (APP-NAME "postfix-out", "- -", two spaces), journalctl -o short-iso and -o short-precise.
# Last, the committing tailer over the same log: Postfix's own mail counts for no account.
. "$(dirname "$0")/lib.sh"

# Three 900-byte lines: Postfix joins them into one reply (up to line_length_limit, 2048).
l1=$(printf 'a%.0s' $(seq 1 860))
l2=$(printf 'b%.0s' $(seq 1 860))
l3=$(printf 'c%.0s' $(seq 1 860))
TB_EXTRA_MAIN_CF=$'syslog_name = postfix-out\nnotify_classes = bounce, resource, software'
export TB_EXTRA_MAIN_CF
# master.cf: a content-filter smtp client with its own syslog_name, as amavis setups have.
TB_MASTER_CF_TEMPLATE=$(mktemp /tmp/sg-master.XXXXXX)
cp /etc/postfix/master.cf "$TB_MASTER_CF_TEMPLATE"
printf 'amavis unix - - n - 2 smtp\n  -o syslog_name=postfix-out/amavis\n' >>"$TB_MASTER_CF_TEMPLATE"
export TB_MASTER_CF_TEMPLATE
e2e_start_replier "$(cat <<EOF
unknown*@*  rcpt  550 5.1.1 The email account that you tried to reach does not exist.
long*@*  rcpt  550 5.7.1 $l1\n5.7.1 $l2\n5.7.1 $l3
grey*@*  rcpt  450 4.7.1 Greylisted, please try again later
EOF
)" "$(cat <<'EOF'
[tail]
source = "@TB_DIR@/log/postfix.log"
rules = "@SRC@/conf/bounce-rules.conf"
timezone = "UTC"
EOF
)"
rm -f "$TB_MASTER_CF_TEMPLATE"
# filt.test through that client to the replier (its port is known now).
postconf -c "$TB_CONF_DIR" -e "transport_maps = inline:{ {filt.test = amavis:[127.0.0.1]:$TB_SINK_PORT} }"
postfix -c "$TB_CONF_DIR" reload >/dev/null 2>&1
T=$TB_DIR/t.out
W=$TB_DIR/shapes
mkdir -p "$W"
statuses() { grep -c 'status=' "$TB_LOG" 2>/dev/null || true; }
wait_statuses() { # wait_statuses N: the log holds at least N status= lines
    local i
    for ((i = 0; i < 300; i++)); do
        (($(statuses) >= $1)) && return 0
        sleep 0.1
    done
    return 1
}
pf() { "$1" -c "$TB_CONF_DIR" "${@:2}"; }  # postqueue, postsuper

send "$T" --xclient "LOGIN=alice" --from a@alice.test --to ok1@dest.test,ok2@dest.test
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to unknown1@dest.test
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to long1@dest.test
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to f1@filt.test
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to grey1@dest.test
# sendmail -bv: an address probe per recipient, then a delivery status notification.
sendmail -C "$TB_CONF_DIR" -bv -f a@alice.test probe1@dest.test unknown2@dest.test >/dev/null 2>&1 || true
# 2 sent, 1 bounced (+ notice + postmaster copy), 1 cut bounce (+ 2), f1, grey1, 2 probes (+ 1).
check "Postfix logged the first outcomes" wait_statuses 13
# Each flush retries the greylisted recipient: one more deferral each.
grey_qid=$(sed -n 's/.*: \([0-9A-F]\{6,\}\): to=<grey1@dest.test>.*status=deferred.*/\1/p' "$TB_LOG" | head -n 1)
check "the greylisted message's queue id" test -n "$grey_qid"
for n in 2 3; do
    pf postqueue -i "$grey_qid" >/dev/null 2>&1 || true
    for ((i = 0; i < 300; i++)); do
        (($(grep -c "to=<grey1@dest.test>.*status=deferred" "$TB_LOG" || true) >= n)) && break
        sleep 0.1
    done
done
check "grey1 deferred 3 times" test "$(grep -c 'to=<grey1@dest.test>.*status=deferred' "$TB_LOG")" -ge 3
# postsuper -e: qmgr expires it at its next look ("status=force-expired, returned to sender").
pf postsuper -e "$grey_qid" >/dev/null 2>&1 || true
pf postqueue -i "$grey_qid" >/dev/null 2>&1 || true
for ((i = 0; i < 300; i++)); do
    grep -q "$grey_qid: from=<.*status=force-expired" "$TB_LOG" && break
    sleep 0.1
done
check "grey1's message force-expired" grep -q "$grey_qid: from=<.*status=force-expired" "$TB_LOG"
check "Postfix's queue is empty" tb_wait_queue_empty 60
sleep 1
# Complete lines only (the log may be written to while we copy).
head -n "$(wc -l <"$TB_LOG")" "$TB_LOG" >"$W/maillog.log"

# ---- the shapes
year=$(date -u +%Y)
for form in rfc3164 iso solaris rfc5424 rfc5424-rsyslog short-iso short-precise; do
    awk -v form="$form" -v year="$year" '
        BEGIN {
            split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", M, " ")
            for (i = 1; i <= 12; i++) mon[M[i]] = i
        }
        $5 !~ /\]:$/ { print; next }
        {
            m = $1; d = $2 + 0; t = $3; host = $4; tag = $5
            msg = substr($0, index($0, $5) + length($5) + 1)
            app = tag; sub(/:$/, "", app); pid = app
            sub(/\[[0-9]+\]$/, "", app); sub(/^.*\[/, "", pid); sub(/\]:?$/, "", pid)
            frac = sprintf("%06d", (NR * 7919) % 1000000)
            iso = sprintf("%04d-%02d-%02dT%s", year, mon[m], d, t)
            if (form == "rfc3164") printf "%s %2d %s %s %s %s\n", m, d, t, host, tag, msg
            else if (form == "iso") printf "%s.%s+00:00 %s %s %s\n", iso, frac, host, tag, msg
            else if (form == "solaris") printf "%s %2d %s %s %s [ID 197553 mail.info] %s\n", m, d, t, host, tag, msg
            else if (form == "rfc5424")
                printf "<22>1 %s.%sZ %s %s %s - [meta sequenceId=\"%d\"][x@32473 v=\"a\\]b\\\"c\"] %s\n", iso, frac, host, app, pid, NR, msg
            else if (form == "rfc5424-rsyslog") {
                prog = app; sub(/\/.*/, "", prog)
                printf "<22>1 %s.%s+00:00 %s %s %s - -  %s\n", iso, frac, host, prog, pid, msg
            }
            else if (form == "short-iso") printf "%s+0000 %s %s %s\n", iso, host, tag, msg
            else if (form == "short-precise") printf "%s %02d %s.%s %s %s %s\n", m, d, t, frac, host, tag, msg
        }' "$W/maillog.log" >"$W/$form.log"
done

# --print over each: as many objects as grep counts "status=" lines, the same ones in the same
# order as over the maillog_file, whatever the shape.
key() { jq -r '[.queue_id, .recipient, .status, (.origin // "-"), (.class // "-"), (.cut // false)] | join(" ")' "$1"; }
for form in maillog rfc3164 iso solaris rfc5424 rfc5424-rsyslog short-iso short-precise; do
    rc=0
    "$E2E_BIN/senderguard-tail" -c "$SG_CONF" --once --print "$W/$form.log" >"$W/$form.json" \
        2>"$W/$form.err" || rc=$?
    want=$(grep -c 'status=' "$W/$form.log")
    got=$(wc -l <"$W/$form.json")
    check "$form: exit 0" test "$rc" = 0
    check "$form: $got objects for $want status= lines" test "$got" = "$want"
    key "$W/$form.json" >"$W/$form.key"
    check "$form: the same outcomes as the maillog_file's" cmp -s "$W/maillog.key" "$W/$form.key"
    check "$form: one cut line counted" grep -q ' cut=1 ' "$W/$form.err"
done
ref=$(grep -c 'status=' "$W/maillog.log")
check "the log has the outcomes this test made ($ref)" test "$ref" -ge 16
J=$W/maillog.json
count() { jq -c "select($1)" "$J" | wc -l; }
check "bounce notices and the postmaster's copies: postfix-notice, account null" \
    test "$(count '.origin == "postfix-notice" and .account == null')" -ge 4
check "address probes: deliverable and undeliverable, class null" \
    test "$(count '.origin == "address-probe" and .class == null and (.status == "deliverable" or .status == "undeliverable")')" -ge 2
check "every deferral of grey1" test "$(count '.recipient == "grey1@dest.test" and .status == "deferred"')" -ge 3
check "the force-expiry" test "$(count '.status == "expired" and .queue_id == "'"$grey_qid"'"')" = 1
check "the cut line: long1, hard or technical, its reply cut" \
    test "$(count '.recipient == "long1@dest.test" and .cut == true and (.reply | length) > 1800')" = 1
check "the per-service syslog_name's delivery (postfix-out/amavis/smtp)" \
    test "$(count '.recipient == "f1@filt.test" and .account == "alice"')" = 1
check "alice's outcomes are hers (origin null)" \
    test "$(count '.account == "alice" and .origin == null')" -ge 5
check "time is ISO 8601 UTC" \
    test "$(count '.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$") | not')" = 0

# ---- counting is unchanged: Postfix's own mail and the probes count for no account.
"$E2E_BIN/senderguard-tail" -c "$SG_CONF" --once --stderr >"$W/tail.log" 2>&1
rep() { sgctl show "$1" --json | sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" | head -n 1; }
check "alice: 3 delivered (ok1, ok2, f1)" test "$(rep alice delivered)" = 3
check "alice: 1 hard (unknown1)" test "$(rep alice hard)" = 1
check "nothing unattributed (notices and probes are not)" grep -q 'action=stop .*unattributed=0 ' "$W/tail.log"
finish
