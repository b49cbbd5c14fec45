#!/usr/bin/env bash
# Every reply of the spine through a real Postfix: accepted, quota tempfail naming the reset
# time, a window configured to reject, messages mode, suspension, reinstatement (for good and
# for a limited time), suppression of one recipient among several, dry run, alerts with the
# notify command, identity by SASL login / sender domain, config reload and a corrupt record.
. "$(dirname "$0")/lib.sh"

e2e_start '
notify_command = ["'"${TMPDIR:-/tmp}"'/sg-notify-PLACEHOLDER"]
[quota.minute]
on_exceed = "reject"
[quota.hour]
count = "messages"
'
# The notify program: writes its environment to a file.
NOTIFY=$TB_DIR/notify.sh
NOTIFY_OUT=$TB_DIR/notify.out
printf '#!/bin/sh\nenv | grep ^SG_ | sort >> %s\necho --- >> %s\n' "$NOTIFY_OUT" "$NOTIFY_OUT" >"$NOTIFY"
chmod 755 "$NOTIFY"
sed -i "s#${TMPDIR:-/tmp}/sg-notify-PLACEHOLDER#$NOTIFY#" "$SG_CONF"
kill -USR1 "$SG_MILTER_PID"; sleep 0.5
T=$TB_DIR/t.out

# 1. accepted (SASL login is the account)
sgctl quota set alice day=10 --create >/dev/null
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to r1@dest.test
expect "$T" '^<-  250 2\.0\.0 Ok: queued as' "accepted message for SASL account alice"
grep -q 'account=alice source=sasl stage=eom action=accept rcpts=1' "$SG_LOG" && ok "accept logged with account and source" || not_ok "accept logged"

# 2. quota: 10 recipients a day; 9 more go through, the 11th recipient gets 452 4.7.1 with the reset time
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to r2@dest.test,r3@dest.test,r4@dest.test,r5@dest.test,r6@dest.test,r7@dest.test,r8@dest.test
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "7 more recipients accepted (8 of 10)"
grep -q 'account=alice action=quota-alert window=day used=8 limit=10 pct=80 resets=20[0-9-]*T00:00:00Z' "$SG_LOG" && ok "80% alert logged with reset time" || not_ok "80% alert logged"
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to r9@dest.test,r10@dest.test,r11@dest.test
expect "$T" '^<\*\* 452 4\.7\.1 daily quota of 10 recipients reached; resets 20[0-9-]+ 00:00 UTC' "11th recipient: 452 4.7.1 naming window, limit and reset time"
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "the 9th and 10th recipients of that message still go through"
sleep 0.5
grep -q 'pct=90' "$SG_LOG" && grep -q 'pct=100' "$SG_LOG" && ok "90% and 100% alerts logged" || not_ok "90/100% alerts"
[[ $(grep -c 'action=quota-alert window=day' "$SG_LOG") == 3 ]] && ok "one alert per threshold" || not_ok "one alert per threshold ($(grep -c 'action=quota-alert' "$SG_LOG"))"
grep -q 'SG_PCT=80' "$NOTIFY_OUT" 2>/dev/null && grep -q 'SG_ACCOUNT=alice' "$NOTIFY_OUT" && grep -q 'SG_RESETS=' "$NOTIFY_OUT" \
    && ok "notify command ran with SG_* facts" || not_ok "notify command ran"
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to r12@dest.test
expect "$T" '^<\*\* 452 4\.7\.1 daily quota' "quota full: next message refused at RCPT"
sgctl show alice --json | tr -d ' \n' | grep -q '"used":10,"window":"day"' \
    && ok "show: day used=10" || not_ok "show: day used=10"

# 3. a window configured to reject: 550 5.7.1
sgctl quota set carol minute=1 --create >/dev/null
send "$T" --xclient "LOGIN=carol" --from c@carol.test --to x1@dest.test,x2@dest.test
expect "$T" '^<\*\* 550 5\.7\.1 per-minute quota of 1 recipients reached; resets' "minute window with on_exceed=reject gives 550 5.7.1"

# 4. messages mode (hour window counts messages): 2 messages of 3 recipients pass, the 3rd is refused
sgctl quota set erin hour=2 --create >/dev/null
send "$T" --xclient "LOGIN=erin" --from e@erin.test --to m1@dest.test,m2@dest.test,m3@dest.test
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "messages mode: message 1 (3 recipients)"
send "$T" --xclient "LOGIN=erin" --from e@erin.test --to m1@dest.test,m2@dest.test,m3@dest.test
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "messages mode: message 2"
send "$T" --xclient "LOGIN=erin" --from e@erin.test --to m1@dest.test
expect "$T" '^<\*\* 452 4\.7\.1 hourly quota of 2 messages reached' "messages mode: message 3 refused"

# 5. suspension: 550 5.7.1 at MAIL FROM
sgctl suspend bob --reason "complaint rate 0.4%" --create >/dev/null
send "$T" --xclient "LOGIN=bob" --from b@bob.test --to y@dest.test
expect "$T" '^<\*\* 550 5\.7\.1 account bob is disabled due to poor sending reputation' "suspended account refused at MAIL FROM"
grep -q 'account=bob source=sasl stage=mail action=reject reason=suspended' "$SG_LOG" && ok "suspension logged" || not_ok "suspension logged"

# 6. reinstated for a limited time, then suspended again by itself
sgctl reinstate bob --for 2s >/dev/null
send "$T" --xclient "LOGIN=bob" --from b@bob.test --to y@dest.test
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "reinstated account sends"
sleep 2.5
send "$T" --xclient "LOGIN=bob" --from b@bob.test --to y@dest.test
expect "$T" '^<\*\* 550 5\.7\.1 account bob is disabled' "reinstatement expired: refused again"
sgctl reinstate bob >/dev/null
send "$T" --xclient "LOGIN=bob" --from b@bob.test --to y@dest.test
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "reinstated for good"

# 7. suppression: the suppressed recipient is refused, the others go through
sgctl suppress add Dead@Dest.test --reason "hard bounce 3 times" >/dev/null
sgctl suppress add only-dave@dest.test --account dave --reason "complained" >/dev/null
send "$T" --xclient "LOGIN=dave" --from d@dave.test --to ok1@dest.test,dead@dest.test,only-dave@dest.test,ok2@dest.test
expect "$T" '^<\*\* 550 5\.7\.1 recipient dead@dest\.test is suppressed \(hard bounce 3 times\)' "globally suppressed recipient refused with the reason"
expect "$T" '^<\*\* 550 5\.7\.1 recipient only-dave@dest\.test is suppressed \(complained\)' "account-suppressed recipient refused"
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "other recipients of the message go through"
send "$T" --xclient "LOGIN=alice2" --from a@x.test --to only-dave@dest.test
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "an account's suppression does not apply to others"

# 8. dry run per account: logged as would-..., mail passes
sgctl suspend frank --reason test --create >/dev/null
sgctl dry-run frank on >/dev/null
send "$T" --xclient "LOGIN=frank" --from f@frank.test --to dead@dest.test
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "dry run: suspended account's mail passes"
grep -q 'account=frank source=sasl stage=mail action=would-reject reason=suspended' "$SG_LOG" && ok "dry run logs action=would-reject (suspended)" || not_ok "would-reject suspended"
grep -q 'account=frank .*stage=rcpt action=would-reject reason=suppressed' "$SG_LOG" && ok "dry run logs action=would-reject (suppressed)" || not_ok "would-reject suppressed"

# 9. identity without SASL: the envelope sender's domain
send "$T" --from someone@Shop.Example --to z@dest.test
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "no SASL: accepted"
sgctl show shop.example >/dev/null && ok "no SASL: account is the sender domain (shop.example)" || not_ok "sender-domain identity"

# 10. reload: a new reply text applies to new connections; a broken file keeps the old one
sed -i 's/^\[milter\]$/[replies]\nsuspended = "RELOADED 100% {account}"\n[milter]/' "$SG_CONF"
kill -USR1 "$SG_MILTER_PID"; sleep 0.5
sgctl suspend bob --reason again --create >/dev/null
send "$T" --xclient "LOGIN=bob" --from b@bob.test --to y@dest.test
expect "$T" '^<\*\* 550 5\.7\.1 RELOADED 100% bob' "SIGUSR1 reload changes the reply text"
cp "$SG_CONF" "$SG_CONF.good"; echo 'bogus_key = 1' >>"$SG_CONF"
kill -USR1 "$SG_MILTER_PID"; sleep 0.5
grep -q 'action=reload-failed kept=previous' "$SG_LOG" && ok "bad reload logged, previous kept" || not_ok "bad reload logged"
send "$T" --xclient "LOGIN=bob" --from b@bob.test --to y@dest.test
expect "$T" '^<\*\* 550 5\.7\.1 RELOADED 100% bob' "after a bad reload the milter still works with the old config"
kill -0 "$SG_MILTER_PID" && ok "milter still running" || not_ok "milter still running"
cp "$SG_CONF.good" "$SG_CONF"

# 11. bad config refuses to start with file:line and status 78
printf '[milter]\nsocket = "tcp:1"\n' >"$TB_DIR/bad.conf"
set +e; "$E2E_BIN/senderguard-milter" -c "$TB_DIR/bad.conf" 2>"$TB_DIR/bad.err"; rc=$?; set -e
[[ $rc == 78 ]] && grep -q 'bad.conf:2: milter.socket:' "$TB_DIR/bad.err" && ok "bad config: exit 78 with file:line: key" || not_ok "bad config: rc=$rc $(cat "$TB_DIR/bad.err")"

# 12. audit log has every change with the invoking user
sgctl audit --json >"$T"
grep -q '"action": "suspend"' "$T" && grep -q '"actor": "root' "$T" && ok "audit log records changes and actor" || not_ok "audit log"

# 13. a corrupt record is reported, not trusted: on_error (tempfail) applies; others still readable
printf 'mallory\ngarbage\n' | mdb_load -T -s accounts "$TB_DIR/store"
send "$T" --xclient "LOGIN=mallory" --from m@mallory.test --to y@dest.test
expect "$T" '^<\*\* 451 4\.3\.0 temporary local problem' "corrupt account record: 451 4.3.0 (on_error = tempfail)"
grep -q 'account=mallory .*action=tempfail reason=error error="accounts/mallory: ' "$SG_LOG" && ok "corruption logged with the record's name" || not_ok "corruption logged"
set +e; sgctl show mallory >/dev/null 2>"$TB_DIR/ctl.err"; rc=$?; set -e
[[ $rc == 74 ]] && grep -q 'accounts/mallory' "$TB_DIR/ctl.err" && ok "CLI reports the corrupt record (exit 74)" || not_ok "CLI corrupt record rc=$rc"
sgctl show alice >/dev/null && ok "other records still readable" || not_ok "other records still readable"
send "$T" --xclient "LOGIN=alice2" --from a@x.test --to y@dest.test
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "other accounts still send"

# 14. SIGTERM stops the milter cleanly (libmilter's signal thread, not a kill by the signal)
tb_wait_queue_empty 30 || true
kill -TERM "$SG_MILTER_PID"
set +e; wait "$SG_MILTER_PID"; rc=$?; set -e
[[ $rc == 0 ]] && grep -q 'action=stop status=0' "$SG_LOG" && ok "SIGTERM: clean stop, exit 0" || not_ok "SIGTERM: exit $rc"
finish
