#!/usr/bin/env bash
# A pipe(8) content filter end to end: mail received by smtpd goes to the transport "dfilt", a
# pipe that hands it back to Postfix with sendmail (FILTER_README's "simple" filter, the filter
# being sendmail itself). Postfix's log then shows each message twice: the hop
# ("QID1: to=<r>, relay=dfilt, ... status=sent (delivered via dfilt service)") and the copy
# re-injected through pickup under a new queue id with the same Message-ID, which the milter
# does not see and which the tailer links to the account by that Message-ID. With
# [tail] filter_transports = ["dfilt"] each recipient is counted delivered once; without it,
# twice (why the key exists). --print shows the hop as "class":"forwarded".
#
# sendmail -C DIR (as a user other than root, Postfix >= 3.2) and the set-gid postdrop it runs
# accept a configuration directory other than /etc/postfix only if the default main.cf lists it
# in alternate_config_directories; pipe(8) will not run the filter as root, as mail_owner or with
# the postdrop group. So the test runs in a mount namespace of its own in which /etc/postfix is a
# copy that authorizes the testbed's directory; the machine's /etc/postfix is not changed.
if [[ ${SG_PIPE_TEST_NS:-} != 1 ]]; then
    exec unshare --mount --propagation private env SG_PIPE_TEST_NS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

MESSAGES=5   # 3 with one recipient, 2 with two
RCPTS=7
ACCOUNT=pipe.test  # no SASL: the account is the envelope sender's domain

# main.cf's content_filter applies to every way in, pickup included: pickup gets it emptied
# (else the re-injected copy would go through the filter again), and no milter for the copy.
# Not "-o non_smtpd_milters=" on pickup: cleanup(8), not pickup, reads that parameter, so the
# milter still saw each copy (checked on Postfix 3.7.11); receive_override_options travels
# from pickup to cleanup with the message.
TB_EXTRA_MAIN_CF="content_filter = dfilt:dummy"
e2e_pre_start() { # after tb_init (TB_CONF_DIR is known), before Postfix starts
    cp -a /etc/postfix/. "$TB_DIR/etc-postfix"
    printf '# pipe_filter_test: this mount namespace only\nalternate_config_directories = %s\n' \
        "$TB_CONF_DIR" >"$TB_DIR/etc-postfix/main.cf"
    awk -v conf="$TB_CONF_DIR" '
        { print }
        $1 == "pickup" && $2 == "unix" {
            print "  -o content_filter="
            print "  -o receive_override_options=no_milters"
        }
        END {
            print ""
            print "# senderguard pipe_filter_test: a pipe(8) content filter re-injecting with sendmail"
            print "dfilt     unix  -       n       n       -       10      pipe"
            print "  flags=Rq user=nobody null_sender="
            print "  argv=/usr/sbin/sendmail -C " conf " -G -i -f ${sender} -- ${recipient}"
        }' /etc/postfix/master.cf >"$TB_DIR/master.cf.template"
    TB_MASTER_CF_TEMPLATE=$TB_DIR/master.cf.template
    mount --bind "$TB_DIR/etc-postfix" /etc/postfix
}
e2e_start "$(cat <<EOF
[tail]
source = "@TB_DIR@/log/postfix.log"
rules = "$E2E_SRC/conf/bounce-rules.conf"
timezone = "localtime"
filter_transports = ["dfilt"]
EOF
)"

T=$TB_DIR/t.out
n_lines() { grep -cE -- "$1" "$TB_LOG" || true; }
n_json() { grep -cE -- "$2" "$1" || true; }  # n_json FILE PATTERN
delivered() { # delivered CONF: the account's delivered count in CONF's store
    "$E2E_BIN/senderguardctl" -c "$1" show "$ACCOUNT" --json 2>/dev/null |
        sed -n 's/.*"delivered": *\([0-9]*\).*/\1/p' | head -n 1
}
wait_lines() { # wait_lines N PATTERN: until the log has N lines matching PATTERN (30 s)
    local i
    for ((i = 0; i < 300; i++)); do
        (($(n_lines "$2") >= $1)) && return 0
        sleep 0.1
    done
    return 1
}

# ---- the mail: 5 messages, 7 recipients
for i in 1 2 3; do
    send "$T" --from "s$i@$ACCOUNT" --to "r$i@dest.test"
    expect "$T" '^<-  250 .*queued as' "message $i (1 recipient) accepted"
done
for i in 4 5; do
    send "$T" --from "s$i@$ACCOUNT" --to "r$i@dest.test,q$i@dest.test"
    expect "$T" '^<-  250 .*queued as' "message $i (2 recipients) accepted"
done
check "the queue empties" tb_wait_queue_empty 60
HOP=' postfix/pipe\[[0-9]+\]: [0-9A-F]+: to=<[^>]*>, relay=dfilt, .* status=sent \(delivered via dfilt service\)'
FINAL=" postfix/smtp\[[0-9]+\]: [0-9A-F]+: to=<[^>]*>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$TB_SINK_PORT, .* status=sent "
PICKUP=" postfix/pickup\[[0-9]+\]: [0-9A-F]+: uid=[0-9]+ from=<s[0-9]@$ACCOUNT>"
# The pipe logs its hop when sendmail has returned: the copy can be delivered before that.
wait_logged() { wait_lines "$RCPTS" "$HOP" && wait_lines "$RCPTS" "$FINAL"; }
check "Postfix logged the 7 hops and the 7 final deliveries" wait_logged

# ---- the log has what the test is about (so it cannot pass vacuously)
check "7 hops through the pipe: relay=dfilt, status=sent ($(n_lines "$HOP"))" \
    test "$(n_lines "$HOP")" = "$RCPTS"
check "7 final deliveries to the relayhost ($(n_lines "$FINAL"))" test "$(n_lines "$FINAL")" = "$RCPTS"
check "5 copies re-injected through pickup ($(n_lines "$PICKUP"))" \
    test "$(n_lines "$PICKUP")" = "$MESSAGES"
# cleanup logs each Message-ID twice: for the copy from smtpd and for the one from pickup.
mids=$(sed -n 's/.* postfix\/cleanup\[[0-9]*\]: \([0-9A-F]*\): message-id=\(<[^>]*>\).*/\1 \2/p' "$TB_LOG")
check "10 message-id= lines ($(grep -c . <<<"$mids"))" test "$(grep -c . <<<"$mids")" = $((2 * MESSAGES))
check "5 Message-IDs, each under 2 queue ids" test "$(awk '{ n[$2]++ }
    END { for (m in n) if (n[m] == 2) k++; print k + 0 }' <<<"$mids")" = "$MESSAGES"
check "the sink received each message once ($(tb_sink_count))" test "$(tb_sink_count)" = "$MESSAGES"
reinjected=$(grep -E -- "$PICKUP" "$TB_LOG" | sed -E 's/.*: ([0-9A-F]+): uid=.*/\1/')
seen=0
for q in $reinjected; do grep -q -- "queue_id=$q " "$SG_LOG" && seen=$((seen + 1)); done
check "the milter saw the 5 messages from smtpd ($(n_json "$SG_LOG" "queue_id=.* action=accept"))" \
    test "$(n_json "$SG_LOG" "queue_id=.* action=accept")" = "$MESSAGES"
check "... and none of the re-injected copies ($seen)" test "$seen" = 0

# ---- the tailer with the setting, and without it on a copy of the store
mkdir "$TB_DIR/store-nokey"
mdb_copy "$TB_DIR/store" "$TB_DIR/store-nokey"  # a consistent snapshot of the milter's records
NOKEY_CONF=$TB_DIR/nokey.conf
sed -e '/^filter_transports *=/d' -e "s|^path = .*|path = \"$TB_DIR/store-nokey\"|" \
    "$SG_CONF" >"$NOKEY_CONF"
expect_not "$NOKEY_CONF" 'filter_transports' "the second config has no filter_transports"
tail_once() { "$E2E_BIN/senderguard-tail" -c "$1" --once >>"$TB_DIR/log/tail.log" 2>&1; }
check "senderguard-tail --once (filter_transports = [\"dfilt\"])" tail_once "$SG_CONF"
check "senderguard-tail --once (no filter_transports)" tail_once "$NOKEY_CONF"
check "with the setting: delivered = 7, once per recipient ($(delivered "$SG_CONF"))" \
    test "$(delivered "$SG_CONF")" = "$RCPTS"
check "without it: delivered = 14, the hop counted too ($(delivered "$NOKEY_CONF"))" \
    test "$(delivered "$NOKEY_CONF")" = $((2 * RCPTS))
tail_once "$SG_CONF"
check "a second run counts nothing again ($(delivered "$SG_CONF"))" \
    test "$(delivered "$SG_CONF")" = "$RCPTS"

# ---- --print: the hops are "forwarded", the re-injected copies the account's deliveries
P=$TB_DIR/print.json
"$E2E_BIN/senderguard-tail" -c "$SG_CONF" --once --print "$TB_LOG" >"$P" 2>/dev/null
A="\"account\":\"$ACCOUNT\""
check "--print: 14 outcomes ($(grep -c . "$P"))" test "$(grep -c . "$P")" = $((2 * RCPTS))
check "--print: 7 \"class\":\"forwarded\" with \"relay\":\"dfilt\"" \
    test "$(n_json "$P" "$A,.*\"class\":\"forwarded\",.*\"relay\":\"dfilt\"")" = "$RCPTS"
check "--print: 7 \"class\":\"delivered\" to the relayhost" \
    test "$(n_json "$P" "$A,.*\"class\":\"delivered\",.*\"relay\":\"127\\.0\\.0\\.1\\[")" = "$RCPTS"
expect_not "$P" '"class":"delivered",.*"relay":"dfilt"' "--print: no hop counted as delivered"
expect_not "$P" '"account":null' "--print: every outcome attributed (the copies by their Message-ID)"
"$E2E_BIN/senderguard-tail" -c "$NOKEY_CONF" --once --print "$TB_LOG" >"$P.nokey" 2>/dev/null
check "--print without the setting: 14 \"class\":\"delivered\"" \
    test "$(n_json "$P.nokey" "$A,.*\"class\":\"delivered\"")" = $((2 * RCPTS))
expect_not "$P.nokey" '"class":"forwarded"' "... and no \"forwarded\""
finish
