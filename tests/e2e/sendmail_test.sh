#!/usr/bin/env bash
# The replies of the spine through a real Sendmail (Debian's 8.17, unpacked privately by
# scripts/lib/sendmail.sh: sendmail-bin conflicts with postfix as a package), as
# replies_test.sh and dmarc_test.sh show them through Postfix: accepted, quota tempfail with
# the reset time, suspended refusal at MAIL FROM, suppressed recipient, DMARC refusal with its
# text, the account taken from {auth_authen} after a real SMTP AUTH (Sendmail has no XCLIENT),
# the queue id Sendmail passes as `i`, the added headers, and F=T when the milter is down.
# Sendmail puts the address before the text of a 550 at MAIL and RCPT
# ("550 5.7.1 <x@y>... text"); the patterns say so.
#
# Exit 77 (ctest SKIP) when not root: the instance needs namespaces and mounts.
if [[ $(id -u) != 0 ]]; then
    echo "SKIP: sendmail_test needs root (a private Sendmail in its own UTS and mount namespaces)"
    exit 77
fi
. "$(dirname "$0")/lib.sh"
# shellcheck disable=SC2034 # read by e2e_start
E2E_MTA=sendmail

# Debian's Sendmail, unpacked once (scripts/setup.sh does it; here only if it has not run).
if [[ ! -f $SM_CACHE/root/.complete ]]; then
    echo "# fetching Debian's Sendmail into $SM_CACHE"
    sm_fetch "$SM_CACHE" || { echo "not ok - could not fetch Debian's Sendmail"; exit 1; }
fi

# DNS for DMARC: dnsmasq serves test. on loopback.
e2e_pre_start() {
    e2e_start_dnsmasq 'txt-record=_dmarc.yahoo.test,"v=DMARC1; p=reject"
txt-record=yahoo.test,"v=spf1 ip4:198.51.100.7 -all"
txt-record=_dmarc.esp.test,"v=DMARC1; p=reject"
txt-record=esp.test,"v=spf1 ip4:192.0.2.10 -all"
txt-record=_dmarc.brand.test,"v=DMARC1; p=reject"'
}
e2e_start '
[dmarc]
mode = "outbound"
egress = ["192.0.2.10"]
signing_domains = ["esp.test"]
upstream = ["@DNS@"]
dns_timeout_ms = 1500
test_tld = true
[feedback]
secret = "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"
'
for u in alice bob dave erin; do sm_add_user "$u" "secret-$u"; done
T=$TB_DIR/t.out
# send_as USER OUT SWAKS_ARGS...: send after SMTP AUTH PLAIN as USER.
send_as() {
    local user=$1 out=$2
    shift 2
    send "$out" --auth PLAIN --auth-user "$user" --auth-password "secret-$user" "$@"
}

# 1. accepted; the account is the SASL login ({auth_authen}), not the sender's domain
sgctl quota set alice day=10 --create >/dev/null
send_as alice "$T" --from a@other.test --to r1@dest.test
expect "$T" '^<-  235 2\.0\.0 OK Authenticated' "SMTP AUTH as alice against the private Sendmail"
expect "$T" '^<-  250 2\.0\.0 [A-Za-z0-9]+ Message accepted for delivery' "accepted message for SASL account alice"
QID=$(sed -n 's/^<-  250 2\.0\.0 \([A-Za-z0-9]*\) Message accepted.*/\1/p' "$T")
grep -q "queue_id=$QID account=alice source=sasl stage=eom action=accept rcpts=1" "$SG_LOG" \
    && ok "account from {auth_authen} (alice, not other.test), Sendmail's queue id $QID at end of message" \
    || not_ok "eom line with queue_id=$QID account=alice source=sasl"

# 2. quota: 10 recipients a day; the 11th gets 452 4.7.1 with the reset time
send_as alice "$T" --from a@alice.test --to r2@dest.test,r3@dest.test,r4@dest.test,r5@dest.test,r6@dest.test,r7@dest.test,r8@dest.test
expect "$T" '^<-  250 2\.0\.0 [A-Za-z0-9]+ Message accepted' "7 more recipients accepted (8 of 10)"
check "80% alert logged with reset time" grep -q 'account=alice action=quota-alert window=day used=8 limit=10 pct=80 resets=20[0-9-]*T00:00:00Z' "$SG_LOG"
send_as alice "$T" --from a@alice.test --to r9@dest.test,r10@dest.test,r11@dest.test
expect "$T" '^<\*\* 452 4\.7\.1 daily quota of 10 recipients reached; resets 20[0-9-]+ 00:00 UTC' \
    "11th recipient: 452 4.7.1 naming window, limit and reset time"
expect "$T" '^<-  250 2\.0\.0 [A-Za-z0-9]+ Message accepted' "the 9th and 10th recipients of that message still go through"
grep -Eq 'queue_id=[A-Za-z0-9]+ account=alice source=sasl stage=rcpt action=tempfail reason=quota rcpt=r11@dest\.test' "$SG_LOG" \
    && ok "quota tempfail logged with Sendmail's queue id at RCPT" || not_ok "quota tempfail logged with a queue id"
sgctl show alice --json | tr -d ' \n' | grep -q '"used":10,"window":"day"' \
    && ok "show: day used=10" || not_ok "show: day used=10"

# 3. suspension: 550 5.7.1 at MAIL FROM
sgctl suspend bob --reason "complaint rate 0.4%" --create >/dev/null
send_as bob "$T" --from b@bob.test --to y@dest.test
expect "$T" '^<\*\* 550 5\.7\.1 <b@bob\.test>\.\.\. account bob is disabled due to poor sending reputation' \
    "suspended account refused at MAIL FROM"
check "suspension logged" grep -q 'account=bob source=sasl stage=mail action=reject reason=suspended' "$SG_LOG"

# 4. suppression: the suppressed recipient is refused, the others go through
sgctl suppress add Dead@Dest.test --reason "hard bounce 3 times" >/dev/null
send_as dave "$T" --from d@dave.test --to ok1@dest.test,dead@dest.test,ok2@dest.test
expect "$T" '^<\*\* 550 5\.7\.1 <dead@dest\.test>\.\.\. recipient dead@dest\.test is suppressed \(hard bounce 3 times\)' \
    "suppressed recipient refused with the reason"
expect "$T" '^<-  250 2\.1\.5 <ok2@dest\.test>\.\.\. Recipient ok' "the next recipient goes through"
expect "$T" '^<-  250 2\.0\.0 [A-Za-z0-9]+ Message accepted' "the message goes to the others"

# 5. DMARC at end of DATA: From: a p=reject domain the platform cannot pass for
MSG=$TB_DIR/msg
printf 'From: Someone <someone@yahoo.test>\nTo: <rcpt@dest.test>\nSubject: dmarc\nDate: %s\nMessage-ID: <dmarc1@sg.test>\n\nHello.\n' "$(date -R)" >"$MSG"
send_as erin "$T" --from bounce@esp.test --to rcpt@dest.test --data "@$MSG"
expect "$T" '^<\*\* 550 5\.7\.1 yahoo\.test publishes DMARC p=reject and this message cannot pass it from our servers; send from a domain you have verified with us' \
    "From: yahoo.test refused at end of DATA with the DMARC text"
check "DMARC refusal logged" grep -q 'account=erin source=sasl stage=eom action=reject reason=dmarc .*from_domain=yahoo.test dmarc=fail policy=reject' "$SG_LOG"
sgctl domains add erin brand.test --create >/dev/null
# (with a forged copy of the feedback-token header, which the milter deletes: SMFIF_CHGHDRS)
sed -i 's/someone@yahoo\.test/news@brand.test/; s/dmarc1@/dmarc2@/; 1i X-Senderguard-ID: forged' "$MSG"
send_as erin "$T" --from bounce@esp.test --to rcpt@dest.test --data "@$MSG"
expect "$T" '^<-  250 2\.0\.0 [A-Za-z0-9]+ Message accepted' "the account's verified domain is accepted"

# 6. header changes reach the receiver (Sendmail granted SMFIF_ADDHDRS and SMFIF_CHGHDRS)
for ((i = 0; i < 100; i++)); do
    grep -lq 'news@brand.test' "$TB_SINK_DIR"/* 2>/dev/null && break
    sleep 0.1
done
F=$(grep -l 'news@brand.test' "$TB_SINK_DIR"/* 2>/dev/null | head -n 1 || true)
if [[ -n $F ]] && [[ $(grep -c '^X-Senderguard-ID: v1\.' "$F") == 1 ]] && ! grep -q '^X-Senderguard-ID: forged' "$F" &&
    grep -q '^Authentication-Results: ' "$F"; then
    ok "delivered message carries our feedback token (the forged copy deleted) and Authentication-Results"
else
    not_ok "delivered message headers (${F:-no message in the sink})"
    [[ -z $F ]] || sed 's/^/#   /' "$F" | head -n 20
fi

# 7. without SMTP AUTH the account is the envelope sender's domain
send "$T" --from someone@Shop.Test --to z@dest.test
expect "$T" '^<-  250 2\.0\.0 [A-Za-z0-9]+ Message accepted' "no SASL: accepted"
check "no SASL: the account is the sender domain" grep -q 'account=shop.test source=sender-domain stage=eom action=accept' "$SG_LOG"

# 8. the milter asks for its macros itself (SMFIF_SETSYMLIST at negotiation): with Sendmail's
# global lists holding none of them, {auth_authen} and i still arrive. A new Sendmail and
# milter on the same store and port.
sm_stop
tb_stop_pid "$SG_MILTER_PID"
e2e_start_milter
# (A list with commas needs m4's quotes twice, as README says.)
SM_MC_EXTRA="define(\`confMILTER_MACROS_ENVFROM', \`{mail_addr}')dnl
define(\`confMILTER_MACROS_ENVRCPT', \`\`{rcpt_addr}, {rcpt_host}'')dnl
define(\`confMILTER_MACROS_EOM', \`{msg_id}')dnl" SM_MILTER="unix:$SG_SOCK" sm_start
grep -q '^O Milter.macros.envrcpt={rcpt_addr}, {rcpt_host}$' "$SM_CF" && grep -q '^O Milter.macros.eom={msg_id}$' "$SM_CF" \
    && ok "restarted with lists lacking {auth_authen} and i" || not_ok "restarted with stripped macro lists"
send_as dave "$T" --from d@dave.test --to dead@dest.test,ok3@dest.test
expect "$T" '^<\*\* 550 5\.7\.1 <dead@dest\.test>\.\.\. recipient dead@dest\.test is suppressed' "suppression still applies"
QID=$(sed -n 's/^<-  250 2\.0\.0 \([A-Za-z0-9]*\) Message accepted.*/\1/p' "$T")
grep -q "queue_id=$QID account=dave source=sasl stage=rcpt action=reject reason=suppressed" "$SG_LOG" \
    && grep -q "queue_id=$QID account=dave source=sasl stage=eom action=accept" "$SG_LOG" \
    && ok "{auth_authen} at MAIL, i ($QID) at RCPT and end of message without confMILTER_MACROS_*" \
    || not_ok "macros without confMILTER_MACROS_* (queue id ${QID:-none})"

# 9. milter down, F=T: Sendmail tempfails MAIL FROM (and AUTH) instead of passing mail unchecked
tb_stop_pid "$SG_MILTER_PID"
send "$T" --from a@alice.test --to r1@dest.test
expect "$T" '^<\*\* 451 4\.3\.2 Please try again later' "milter down (F=T): 451 4.3.2 at MAIL FROM"
send_as alice "$T" --from a@alice.test --to r1@dest.test
expect "$T" '^<\*\* 454 4\.3\.0 Please try again later' "milter down (F=T): 454 4.3.0 at AUTH"

check "Sendmail's own log (its private syslog) has the milter's refusal" \
    grep -q 'Milter: to=<dead@dest.test>, reject=550 5.7.1 recipient dead@dest.test is suppressed' "$SM_LOG"
if ((E2E_FAIL > 0)); then
    echo "# sendmail log tail:"; tail -n 30 "$SM_LOG" | sed 's/^/#   /'
fi
finish
