#!/usr/bin/env bash
# senderguardctl explain predicts the milter's replies (issue 15 item 4): for each kind of
# refusal, and for messages accepted, the same input is first explained (--json, nothing sent),
# then sent through a real private Postfix with senderguard-milter; the refusals Postfix gives
# (swaks's "<** " lines, in order: MAIL FROM, each RCPT TO, end of DATA) must be exactly the
# replies explain predicted, and a message explain accepts must be queued. DMARC is judged
# against a real DNS server on loopback (dnsmasq for test., ldns-testns answering SERVFAIL), with
# messages DKIM-signed by keys from opendkim-genkey. Explain must also leave the store as it was.
. "$(dirname "$0")/lib.sh"
export TB_EXTRA_MAIN_CF='mynetworks = 127.0.0.0/8 192.0.2.0/24
local_header_rewrite_clients ='
EGRESS=192.0.2.10
SIGN=$E2E_BIN/dkim_sign

DNS=
txt() { DNS+="txt-record=$1,\"$2\""$'\n'; }
e2e_pre_start() {
    KEYS=$TB_DIR/keys
    mkdir -p "$KEYS"
    opendkim-genkey -b 1024 -d keys.test -s sel -D "$KEYS" || { echo "opendkim-genkey failed"; exit 1; }
    txt sel._domainkey.signed.test "$(grep -o '"[^"]*"' "$KEYS/sel.txt" | tr -d '"\n')"
    txt _dmarc.signed.test "v=DMARC1; p=reject"
    txt _dmarc.shop.test "v=DMARC1; p=reject"
    txt shop.test "v=spf1 ip4:$EGRESS -all"
    txt _dmarc.yahoo.test "v=DMARC1; p=reject"
    txt yahoo.test "v=spf1 ip4:198.51.100.7 -all"
    txt _dmarc.quar.test "v=DMARC1; p=quarantine"
    printf 'ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id\nREPLY QR RD RA SERVFAIL\nSECTION QUESTION\n_dmarc.servfail.test. IN TXT\nENTRY_END\n' >"$TB_DIR/servfail.data"
    e2e_start_dns "$TB_DIR/servfail.data"
    DNS+="server=/servfail.test/127.0.0.1#$E2E_DNS_PORT"$'\n'
    e2e_start_dnsmasq "$DNS"
}
e2e_start '
[tail]
rules = "'"$E2E_SRC"'/conf/bounce-rules.conf"
[quota.minute]
on_exceed = "reject"
[dmarc]
mode = "outbound"
egress = ["'$EGRESS'"]
authserv_id = "mx.sg.test"
upstream = ["@DNS@"]
dns_timeout_ms = 1500
test_tld = true
'

MSG=$TB_DIR/msg
OUT=$TB_DIR/out
EXP=$TB_DIR/explain.json
N=0
# message FROM_LINE...: a message with these header lines ("" for none).
message() {
    {
        local h
        for h in "$@"; do [[ -n $h ]] && printf '%s\n' "$h"; done
        printf 'To: <r@dest.test>\nSubject: case %s\nMessage-ID: <x%s@sg.test>\n\nHello.\n' "$N" "$N"
    } >"$MSG"
}
sign() { "$SIGN" -d "$1" -s sel -k "$KEYS/sel.private" "${@:2}" <"$MSG" >"$MSG.s" && mv "$MSG.s" "$MSG"; }

# case WHAT LOGIN FROM RCPTS [EXPLAIN_ARGS...]: explain, then send $MSG; the refusals must match.
# RCPTS is comma-separated, as swaks takes them. The explain gets --message $MSG unless
# EXPLAIN_ARGS say otherwise.
case_() {
    local what=$1 login=$2 from=$3 rcpts=$4
    shift 4
    N=$((N + 1))
    local args=(--login "$login" --from "$from") r
    IFS=, read -ra list <<<"$rcpts"
    for r in "${list[@]}"; do args+=(--rcpt "$r"); done
    if (($# > 0)); then args+=("$@"); else args+=(--message "$MSG"); fi
    local rc=0
    sgctl explain --json "${args[@]}" >"$EXP" 2>"$TB_DIR/explain.err" || rc=$?
    if ((rc != 0)); then
        not_ok "[$N] $what: explain exited $rc: $(head -c 300 "$TB_DIR/explain.err")"
        return
    fi
    local predicted actual
    predicted=$(jq -r '[.replies.mail] + [.replies.rcpt[].reply] + [.replies.eom] | map(select(. != null)) | .[]' "$EXP")
    send "$OUT" --xclient "LOGIN=$login" --from "$from" --to "$rcpts" --data "@$MSG"
    actual=$(sed -n 's/^<\*\* //p' "$OUT" | tr -d '\r')
    if [[ $predicted == "$actual" ]]; then
        ok "[$N] $what: $(jq -r .outcome "$EXP")${predicted:+: ${predicted%%$'\n'*}}"
    else
        not_ok "[$N] $what: explain predicted"
        printf '%s\n' "$predicted" | sed 's/^/#   predicted: /'
        printf '%s\n' "$actual" | sed 's/^/#   milter:    /'
    fi
    local accepted
    accepted=$(jq -r '.outcome | startswith("accepted")' "$EXP")
    if [[ $accepted == true ]]; then
        grep -q '^<-  250 2\.0\.0 Ok: queued' "$OUT" && ok "[$N] queued, as explain said" || not_ok "[$N] explain said accepted, not queued"
    fi
}

# ---- accepted, and the store is left alone ----
sgctl quota set alice day=3 --create >/dev/null
message "From: Shop <news@shop.test>"
before=$(sgctl show alice --json)
audit_before=$(sgctl audit --json | jq length)
sgctl explain --login alice --from b@shop.test --rcpt r1@dest.test --message "$MSG" >"$TB_DIR/human.out"
[[ $(sgctl show alice --json) == "$before" && $(sgctl audit --json | jq length) == "$audit_before" ]] \
    && ok "explain changes nothing in the store (counts, state, audit)" || not_ok "explain changed the store"
grep -q '^outcome: accepted$' "$TB_DIR/human.out" && ok "human output ends with the outcome" || not_ok "human outcome"
awk 'length > 80 { bad = 1 } END { exit bad }' "$TB_DIR/human.out" && ok "human output within 80 columns" || not_ok "human output wider than 80"
case_ "accepted: SPF from the egress aligns with p=reject" alice b@shop.test r1@dest.test

# ---- quota: 3 a day; one used; 4 more recipients: the 3rd and 4th are refused (452 4.7.1)
case_ "day quota: the recipients past the limit" alice b@shop.test r2@dest.test,r3@dest.test,r4@dest.test,r5@dest.test
case_ "day quota full: every recipient refused" alice b@shop.test r6@dest.test
# a window configured to reject: 550 5.7.1
sgctl quota set carol minute=1 --create >/dev/null
case_ "minute window with on_exceed=reject" carol b@shop.test x1@dest.test,x2@dest.test

# ---- suppression: global and the account's own list, one of three recipients each
sgctl suppress add dead@dest.test --reason "hard bounce 3 times" >/dev/null
sgctl suppress add only-dave@dest.test --account dave --reason complained >/dev/null
case_ "globally suppressed recipient among others" dave b@shop.test ok1@dest.test,dead@dest.test,ok2@dest.test
case_ "the account's suppressed recipient" dave b@shop.test only-dave@dest.test,ok3@dest.test
case_ "every recipient suppressed" dave b@shop.test dead@dest.test,only-dave@dest.test

# ---- suspension, reinstatement
sgctl suspend bob --reason "complaints" --create >/dev/null
case_ "suspended account refused at MAIL FROM" bob b@shop.test r@dest.test
sgctl reinstate bob --for 1h >/dev/null
case_ "reinstated for an hour" bob b@shop.test r@dest.test
# a timed suspension (suspend --for): refused while it lasts, accepted once it has ended
sgctl suspend fay --reason "incident 7" --for 1h --create >/dev/null
case_ "suspended for an hour, refused at MAIL FROM" fay b@shop.test r@dest.test
# 10 s: long enough for explain and the send to both fall inside it on a loaded machine
sgctl suspend gus --reason "incident 8" --for 10s --create >/dev/null
case_ "suspended for 10 s, refused at MAIL FROM" gus b@shop.test r@dest.test
jq -e '.outcome | startswith("refused")' "$EXP" >/dev/null && ok "[$N] ... explain said refused (within the 10 s)" \
    || not_ok "[$N] the timed suspension had ended before explain ran ($(jq -r .outcome "$EXP"))"
for ((i = 0; i < 300; i++)); do
    [[ $(sgctl show gus --json | jq -r .state) == active ]] && break
    sleep 0.1
done
case_ "a timed suspension that has ended: accepted" gus b@shop.test r@dest.test

# ---- end of message: DMARC, the From: header, verified domains
message "From: Sender <news@yahoo.test>"
case_ "p=reject domain, nothing aligns" erin b@shop.test r@dest.test
case_ "the same, given as --from-header" erin b@shop.test r@dest.test --from-header "Sender <news@yahoo.test>"
message "From: Sender <news@quar.test>"
case_ "p=quarantine refused" erin b@shop.test r@dest.test
message "From: Sender <news@servfail.test>"
case_ "DNS SERVFAIL for the policy: 451 4.7.0" erin b@shop.test r@dest.test
message ""
case_ "no From: header" erin b@shop.test r@dest.test
message "From: a@shop.test" "From: b@shop.test"
case_ "two From: header fields" erin b@shop.test r@dest.test
message "From: Sender <a@signed.test>"
sign signed.test
case_ "aligned DKIM signature verified from --message" erin b@shop.test r@dest.test
message "From: Sender <a@signed.test>"
sign signed.test --tamper-body
case_ "broken DKIM signature" erin b@shop.test r@dest.test
sgctl domains add brand shop.test --create >/dev/null
sgctl domains only brand on >/dev/null
message "From: Brand <news@other.test>"
case_ "domains only: an unverified From: domain" brand b@shop.test r@dest.test
message "From: Brand <news@shop.test>"
case_ "domains only: a verified domain" brand b@shop.test r@dest.test

# ---- dry run: the refusals are logged, nothing refused
sgctl dry-run bob on >/dev/null
sgctl suspend bob --reason "again" >/dev/null
message "From: Sender <news@yahoo.test>"
case_ "dry run: suspended and failing DMARC, accepted" bob b@shop.test dead@dest.test
jq -e '[.steps[] | select(.verdict == "would-refuse")] | length == 3' "$EXP" >/dev/null \
    && ok "[$N] dry run: explain names the three refusals it would log" || not_ok "[$N] dry run: would-refuse steps"

# ---- explain QUEUE_ID: the quota case [2] once more, queued; its lines read back
message "From: Shop <news@shop.test>"
sgctl quota set frank day=2 --create >/dev/null
send "$OUT" --xclient "LOGIN=frank" --from b@shop.test --to q1@dest.test,q2@dest.test,q3@dest.test --data "@$MSG"
QID=$(sed -n 's/^<-  250 2\.0\.0 Ok: queued as \([0-9A-Za-z]*\).*/\1/p' "$OUT" | tr -d '\r')
for ((i = 0; i < 100; i++)); do
    [[ $(grep -c "$QID: to=<q[12]@dest.test>.*status=sent" "$TB_LOG") == 2 ]] && break
    sleep 0.1
done
Q=$TB_DIR/queue.json
if sgctl explain "$QID" --log "$TB_LOG" --log "$SG_LOG" --json >"$Q" 2>"$TB_DIR/q.err"; then
    jq -e '.queue_map.account == "frank" and (.queue_map.recipients | length) == 2' "$Q" >/dev/null \
        && ok "explain $QID: the queue map's account and 2 recipients" || not_ok "explain $QID: queue map ($(head -c 300 "$Q"))"
    jq -e '[.events[] | select(.kind == "decision" and .recipient == "q3@dest.test" and (.text | test("452 4.7.1 daily quota")))] | length == 1' "$Q" >/dev/null \
        && ok "explain $QID: the milter's refusal of the 3rd recipient, with its reply" || not_ok "explain $QID: refusal line"
    jq -e '[.events[] | select(.kind == "decision" and (.text | startswith("eom: accept")))] | length == 1' "$Q" >/dev/null \
        && ok "explain $QID: the milter's acceptance at end of message" || not_ok "explain $QID: eom line"
    jq -e '([.events[] | select(.kind == "delivery" and .outcome == "delivered")] | length) == 2 and .outcomes.delivered == 2' "$Q" >/dev/null \
        && ok "explain $QID: both deliveries, counted as delivered" || not_ok "explain $QID: deliveries ($(jq -c .outcomes "$Q"))"
    jq -e '[.events[] | select(.kind == "queued")] | length == 1' "$Q" >/dev/null \
        && ok "explain $QID: qmgr's queued line" || not_ok "explain $QID: queued line"
else
    not_ok "explain $QID exited $?: $(cat "$TB_DIR/q.err")"
fi
sgctl explain "$QID" --log "$TB_LOG" --log "$SG_LOG" >"$TB_DIR/q.out"
grep -q '^outcome: 2 delivered$' "$TB_DIR/q.out" && ok "explain $QID (human): outcome: 2 delivered" || { not_ok "explain $QID human"; sed 's/^/#   /' "$TB_DIR/q.out"; }
awk 'length > 80 { bad = 1 } END { exit bad }' "$TB_DIR/q.out" && ok "explain $QID within 80 columns" || not_ok "explain $QID wider than 80"
sgctl explain "$QID" --log "$TB_LOG" --log "$TB_DIR/log/../log/postfix.log" --log "$SG_LOG" --json >"$TB_DIR/q2.json"
[[ $(jq '.outcomes.delivered' "$TB_DIR/q2.json") == 2 && $(jq '.logs | length' "$TB_DIR/q2.json") == 2 ]] \
    && ok "explain $QID: the same log named twice is read once" || not_ok "explain $QID: a log named twice ($(jq -c .outcomes "$TB_DIR/q2.json"))"
gzip -c "$TB_LOG" >"$TB_DIR/postfix.log.1.gz"
rc=0; sgctl explain "$QID" --log "$TB_DIR/postfix.log.1.gz" >/dev/null 2>"$TB_DIR/e" || rc=$?
[[ $rc == 64 ]] && grep -q 'compressed.*zcat' "$TB_DIR/e" && ok "explain --log of a .gz: says to decompress it (64)" || not_ok "explain --log .gz (rc=$rc)"
rc=0; sgctl explain "$QID" --log "$TB_DIR" >/dev/null 2>"$TB_DIR/e" || rc=$?
[[ $rc == 1 ]] && grep -q 'is a directory' "$TB_DIR/e" && ok "explain --log DIRECTORY: exit 1, says so" || not_ok "explain --log DIR (rc=$rc)"
rc=0; sgctl explain --login a --from a@shop.test --rcpt r@dest.test --message "$TB_DIR" >/dev/null 2>"$TB_DIR/e" || rc=$?
[[ $rc == 1 ]] && grep -q 'is a directory' "$TB_DIR/e" && ok "explain --message DIRECTORY: exit 1, says so" || not_ok "explain --message DIR (rc=$rc)"
printf '[store]\npath = "%s/no-store-here"\n[tail]\nrules = "%s/conf/bounce-rules.conf"\n' "$TB_DIR" "$E2E_SRC" >"$TB_DIR/nostore.conf"
"$E2E_BIN/senderguardctl" -c "$TB_DIR/nostore.conf" explain "$QID" --log "$TB_LOG" >"$TB_DIR/q.out" 2>&1
grep -q '^outcome: 2 delivered$' "$TB_DIR/q.out" && ok "explain $QID without a store: the log alone" || { not_ok "explain without a store"; sed 's/^/#   /' "$TB_DIR/q.out"; }
rc=0; sgctl explain --login a --from a@shop.test --rcpt r@dest.test --client 999.1.1.1 >/dev/null 2>&1 || rc=$?
[[ $rc == 64 ]] && ok "explain --client 999.1.1.1: not an address (64)" || not_ok "explain --client 999.1.1.1 (rc=$rc)"
rc=0; sgctl explain 0ABCDEF12345 --log "$TB_LOG" >/dev/null 2>"$TB_DIR/e" || rc=$?
[[ $rc == 1 ]] && grep -q 'nothing known about 0ABCDEF12345' "$TB_DIR/e" && ok "explain of an unknown queue id: exit 1, says so" || not_ok "unknown queue id (rc=$rc)"
rc=0; sgctl explain not-an-id >/dev/null 2>&1 || rc=$?
[[ $rc == 64 ]] && ok "explain of a word that is not a queue id: 64" || not_ok "explain not-an-id (rc=$rc)"
rc=0; sgctl explain "$QID" --from a@b.test --rcpt c@d.test >/dev/null 2>&1 || rc=$?
[[ $rc == 64 ]] && ok "explain QUEUE_ID with --from: 64" || not_ok "explain QUEUE_ID --from (rc=$rc)"

# ---- usage
rc=0; sgctl explain --login alice --from a@shop.test >/dev/null 2>&1 || rc=$?
[[ $rc == 64 ]] && ok "explain without --rcpt: usage (64)" || not_ok "explain without --rcpt (rc=$rc)"
rc=0; sgctl explain --login alice --from a@shop.test --rcpt r@dest.test --message "$TB_DIR/none" >/dev/null 2>"$TB_DIR/e" || rc=$?
[[ $rc == 1 ]] && grep -q 'cannot read' "$TB_DIR/e" && ok "explain --message of a missing file: exit 1, says so" || not_ok "--message missing (rc=$rc)"
finish
