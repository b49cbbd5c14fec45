#!/usr/bin/env bash
# A pipe(8) content filter end to end: mail received by smtpd goes to the transport "dfilt", a
# pipe that hands it back to Postfix (FILTER_README's "simple" filter, which passes the message
# on unchanged). Postfix's log then shows each message twice: the hop
# ("QID1: to=<r>, relay=dfilt, ... status=sent (delivered via dfilt service)") and the copy
# re-injected under a new queue id with the same Message-ID, which the milter does not see and
# which the tailer links to the account by that Message-ID. With
# [tail] filter_transports = ["dfilt"] each recipient is counted delivered once; without it,
# twice (why the key exists). --print shows the hop as "class":"forwarded".
#
# The filter re-injects over SMTP (a small Net::SMTP script) into a second smtpd on loopback
# without the filter and without milters. FILTER_README's filter uses sendmail, but sendmail -C
# for a private configuration directory needs that directory in alternate_config_directories
# of /etc/postfix/main.cf when not run as root (and pipe(8) never runs it as root): a test must
# not edit the machine's /etc/postfix. The tailer sees the same log either way: the hop's
# "sent" and a new queue id carrying the same Message-ID.
. "$(dirname "$0")/lib.sh"

MESSAGES=5   # 3 with one recipient, 2 with two
RCPTS=7
ACCOUNT=pipe.test  # no SASL: the account is the envelope sender's domain

TB_EXTRA_MAIN_CF="content_filter = dfilt:dummy"
e2e_pre_start() { # after tb_init (TB_DIR and the ports are known), before Postfix starts
    REINJECT_PORT=$(_tb_free_port "$TB_SMTP_PORT" "$TB_SINK_PORT")
    cat >"$TB_DIR/reinject.pl" <<'PERL'
#!/usr/bin/perl
# reinject.pl PORT SENDER RCPT...: the message on stdin back into Postfix over SMTP.
use strict;
use warnings;
use Net::SMTP;
my ($port, $sender, @rcpts) = @ARGV;
my $smtp = Net::SMTP->new("127.0.0.1", Port => $port, Timeout => 30) or exit 75;
$smtp->mail($sender) or exit 75;
for my $r (@rcpts) { $smtp->to($r) or exit 75 }
$smtp->data() or exit 75;
while (my $line = <STDIN>) { $smtp->datasend($line) or exit 75 }
$smtp->dataend() or exit 75;
$smtp->quit;
exit 0;
PERL
    chmod 0755 "$TB_DIR/reinject.pl"
    # The re-injection smtpd: no content filter (else the copy loops), no milter for the copy.
    awk -v script="$TB_DIR/reinject.pl" -v port="$REINJECT_PORT" '
        { print }
        END {
            print ""
            print "# senderguard pipe_filter_test: a pipe(8) content filter and its way back in"
            print "dfilt     unix  -       n       n       -       10      pipe"
            print "  flags=Rq user=nobody null_sender="
            print "  argv=" script " " port " ${sender} ${recipient}"
            print "127.0.0.1:" port " inet n - n - - smtpd"
            print "  -o content_filter="
            print "  -o receive_override_options=no_milters"
        }' /etc/postfix/master.cf >"$TB_DIR/master.cf.template"
    TB_MASTER_CF_TEMPLATE=$TB_DIR/master.cf.template
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
# The pipe logs its hop when sendmail has returned: the copy can be delivered before that.
wait_logged() { wait_lines "$RCPTS" "$HOP" && wait_lines "$RCPTS" "$FINAL"; }
check "Postfix logged the 7 hops and the 7 final deliveries" wait_logged

# ---- the log has what the test is about (so it cannot pass vacuously)
check "7 hops through the pipe: relay=dfilt, status=sent ($(n_lines "$HOP"))" \
    test "$(n_lines "$HOP")" = "$RCPTS"
check "7 final deliveries to the relayhost ($(n_lines "$FINAL"))" test "$(n_lines "$FINAL")" = "$RCPTS"
# cleanup logs each Message-ID twice: for the message from the client and for the copy.
mids=$(sed -n 's/.* postfix\/cleanup\[[0-9]*\]: \([0-9A-F]*\): message-id=\(<[^>]*>\).*/\1 \2/p' "$TB_LOG")
check "10 message-id= lines ($(grep -c . <<<"$mids"))" test "$(grep -c . <<<"$mids")" = $((2 * MESSAGES))
check "5 Message-IDs, each under 2 queue ids" test "$(awk '{ n[$2]++ }
    END { for (m in n) if (n[m] == 2) k++; print k + 0 }' <<<"$mids")" = "$MESSAGES"
check "the sink received each message once ($(tb_sink_count))" test "$(tb_sink_count)" = "$MESSAGES"
# The copies: the second queue id logged with each Message-ID.
reinjected=$(awk '++n[$2] == 2 { print $1 }' <<<"$mids")
check "5 copies re-injected ($(grep -c . <<<"$reinjected"))" test "$(grep -c . <<<"$reinjected")" = "$MESSAGES"
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
