#!/usr/bin/env bash
# DMARC (issue 4) end to end: a real private Postfix with senderguard-milter, a real DNS server
# on loopback (ldns-testns) serving _dmarc, SPF and DKIM key records for *.test domains, and
# messages DKIM-signed with keys made by opendkim-genkey. Each case sends one message and checks
# the SMTP reply Postfix gives at end of DATA (250, 550 5.7.1 or 451 4.7.0).
#
# Part 1, outbound mode (the default): SPF is judged from the platform's egress address
# 192.0.2.10, DKIM from the signatures that verify plus the platform's signing domain esp.test.
# Part 2, inbound mode (XCLIENT ADDR gives the client address): the cases RFC 7489 and RFC 9989
# judge alike are also given to Mail::DMARC (libmail-dmarc-perl), whose verdicts must agree.
# Last, a DNS server that answers too late: 451 4.7.0.
. "$(dirname "$0")/lib.sh"
# Clients at the test's egress and foreign addresses (XCLIENT ADDR) may relay; headers are not
# completed or rewritten by Postfix (so a message without From: or with "From: alice" arrives
# as sent).
export TB_EXTRA_MAIN_CF='mynetworks = 127.0.0.0/8 192.0.2.0/24 198.51.100.0/24
local_header_rewrite_clients ='

SIGN=$E2E_BIN/dkim_sign
EGRESS=192.0.2.10

# ---- the zones -----------------------------------------------------------------------------
# dnsmasq serves test. (anything not listed is NXDOMAIN); servfail.test and slow.test are
# forwarded to an ldns-testns that answers SERVFAIL, or only after 4 s.
DNS=
txt() { DNS+="txt-record=$1,\"$2\""$'\n'; }
dmarc() { txt "_dmarc.$1" "$2"; }
spf_egress() { txt "$1" "v=spf1 ip4:$EGRESS -all"; }
host() { DNS+="host-record=$1,192.0.2.80"$'\n'; }

e2e_pre_start() {
    KEYS=$TB_DIR/keys
    mkdir -p "$KEYS"
    opendkim-genkey -b 1024 -d keys.test -s sel -D "$KEYS" || { echo "opendkim-genkey failed"; exit 1; }
    local p d
    p=$(grep -o '"[^"]*"' "$KEYS/sel.txt" | tr -d '"\n')
    for d in signed.test other.test strictdkim.test; do txt "sel._domainkey.$d" "$p"; done
    # policies
    dmarc reject.test "v=DMARC1; p=reject"
    spf_egress reject.test
    spf_egress bounce.reject.test
    dmarc rejnospf.test "v=DMARC1; p=reject"
    txt rejnospf.test "v=spf1 ip4:198.51.100.1 -all"
    dmarc yahoo.test "v=DMARC1; p=reject; pct=100; rua=mailto:d@yahoo.test"
    txt yahoo.test "v=spf1 ip4:198.51.100.7 ~all"
    dmarc esp.test "v=DMARC1; p=reject"
    spf_egress esp.test
    dmarc quar.test "v=DMARC1; p=quarantine"
    dmarc none.test "v=DMARC1; p=none"
    dmarc strict.test "v=DMARC1; p=reject; aspf=s"
    spf_egress bounce.strict.test
    dmarc relaxed.test "v=DMARC1; p=reject"
    spf_egress bounce.relaxed.test
    dmarc parent.test "v=DMARC1; p=none; sp=reject"
    host sub.parent.test
    dmarc np.test "v=DMARC1; p=none; np=reject"
    host real.np.test
    dmarc testing.test "v=DMARC1; p=reject; t=y"
    dmarc pctzero.test "v=DMARC1; p=reject; pct=0"
    dmarc pct50.test "v=DMARC1; p=reject; pct=50"
    dmarc walk.test "v=DMARC1; p=reject"
    spf_egress bounce.walk.test
    dmarc psd.test "v=DMARC1; p=reject; psd=y"
    spf_egress mx.brand.psd.test
    spf_egress other-brand.psd.test
    dmarc bad.test "v=DMARC1; p=bogus"
    dmarc two.test "v=DMARC1; p=reject"
    dmarc two.test "v=DMARC1; p=none"
    txt _dmarc.notfirst.test "google-site-verification=abc"
    dmarc notfirst.test "v=DMARC1; p=reject"
    dmarc signed.test "v=DMARC1; p=reject"
    dmarc nokey.test "v=DMARC1; p=reject"
    dmarc strictdkim.test "v=DMARC1; p=reject; adkim=s"
    dmarc brand-own.test "v=DMARC1; p=reject"
    dmarc spftemp.test "v=DMARC1; p=reject"
    txt spftemp.test "v=spf1 include:servfail.test -all"
    # Mail::DMARC judges only From: domains that exist (an A/MX/NS record at the domain or
    # its organizational domain); the domains of the inbound cases do.
    for d in reject rejnospf quar none norecord strict relaxed parent signed strictdkim; do host "$d.test"; done
    # The misbehaving servers.
    printf 'ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id\nREPLY QR RD RA SERVFAIL\nSECTION QUESTION\n_dmarc.servfail.test. IN TXT\nENTRY_END\n' >"$TB_DIR/slow.data"
    printf 'ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id\nREPLY QR RD RA SERVFAIL\nSECTION QUESTION\nservfail.test. IN TXT\nENTRY_END\n' >>"$TB_DIR/slow.data"
    printf 'ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id sleep=4\nREPLY QR AA RD RA NOERROR\nSECTION QUESTION\n_dmarc.slow.test. IN TXT\nSECTION ANSWER\n_dmarc.slow.test. 300 IN TXT "v=DMARC1; p=reject"\nENTRY_END\n' >>"$TB_DIR/slow.data"
    e2e_start_dns "$TB_DIR/slow.data"
    DNS+="server=/servfail.test/127.0.0.1#$E2E_DNS_PORT"$'\n'
    DNS+="server=/slow.test/127.0.0.1#$E2E_DNS_PORT"$'\n'
    e2e_start_dnsmasq "$DNS"
}

e2e_start '
[dmarc]
mode = "outbound"
egress = ["'$EGRESS'"]
signing_domains = ["esp.test"]
exempt_accounts = ["exempt"]
authserv_id = "mx.sg.test"
upstream = ["@DNS@"]
dns_timeout_ms = 1500
test_tld = true
'

# ---- the cases -----------------------------------------------------------------------------
N=0
MSG=$TB_DIR/msg
OUT=$TB_DIR/out
# message FILE FROM-HEADER-LINES...: a message with these header lines (each "Name: value",
# "" for none) and a two-line body.
message() {
    local f=$1
    shift
    {
        local h
        for h in "$@"; do [[ -n $h ]] && printf '%s\n' "$h"; done
        printf 'To: <rcpt@dest.test>\nSubject: case %s\nDate: %s\nMessage-ID: <case%s@sg.test>\n\nHello.\nThis is case %s.\n' \
            "$N" "$(date -R)" "$N" "$N"
    } >"$f"
}
# sign FILE DOMAIN [--tamper-body]
sign() {
    local f=$1 d=$2
    shift 2
    "$SIGN" -d "$d" -s sel -k "$KEYS/sel.private" "$@" <"$f" >"$f.signed" && mv "$f.signed" "$f"
}
# deliver EXPECT ACCOUNT MAIL_FROM WHAT [SWAKS_ARGS...]: sends $MSG, checks the reply.
deliver() {
    local want=$1 account=$2 mail_from=$3 what=$4
    shift 4
    local xclient="LOGIN=$account"
    [[ ${CLIENT_ADDR:-} ]] && xclient="ADDR=$CLIENT_ADDR LOGIN=$account"
    send "$OUT" --xclient "$xclient" --from "$mail_from" --to rcpt@dest.test --data "@$MSG" "$@"
    case $want in
    250) expect "$OUT" '^<-  250 2\.0\.0 Ok: queued' "[$N] $what: 250" ;;
    550) expect "$OUT" '^<\*\* 550 5\.7\.1 ' "[$N] $what: 550 5.7.1" ;;
    451) expect "$OUT" '^<\*\* 451 4\.7\.0 ' "[$N] $what: 451 4.7.0" ;;
    esac
}
# t EXPECT FROM_DOMAIN_OR_HEADER MAIL_FROM WHAT [sign=DOMAIN] [tamper]: one plain case.
t() {
    local want=$1 from=$2 mail_from=$3 what=$4 signer=${5:-} tamper=${6:-}
    N=$((N + 1))
    [[ -z $from || $from == *:* ]] || from="From: Sender <news@$from>"
    message "$MSG" "$from"
    if [[ -n $signer ]]; then
        if [[ -n $tamper ]]; then sign "$MSG" "$signer" --tamper-body; else sign "$MSG" "$signer"; fi
    fi
    deliver "$want" "case$N" "$mail_from" "$what"
}

t 250 reject.test bounce@reject.test "p=reject, SPF passes from egress and aligns"
t 550 rejnospf.test bounce@rejnospf.test "p=reject, SPF fails from egress"
expect "$OUT" 'rejnospf\.test publishes DMARC p=reject and this message cannot pass it from our servers; send from a domain you have verified with us' \
    "[$N] the reply says what to do"
t 550 yahoo.test cust@esp.test "yahoo-like p=reject, SPF passes for the platform's own envelope domain, unaligned"
t 550 quar.test cust@esp.test "p=quarantine refused by default"
t 250 none.test cust@esp.test "p=none accepted"
t 250 norecord.test cust@esp.test "no DMARC record accepted"
t 550 strict.test b@bounce.strict.test "aspf=s: SPF passes for a subdomain, strict alignment fails"
t 250 relaxed.test b@bounce.relaxed.test "aspf=r: SPF passes for a subdomain, relaxed alignment"
t 550 sub.parent.test cust@esp.test "sp=reject applies to an existing subdomain"
t 250 parent.test cust@esp.test "p=none applies to the organizational domain itself"
t 550 ghost.np.test cust@esp.test "np=reject applies to a subdomain that does not exist"
t 250 real.np.test cust@esp.test "np= does not apply to an existing subdomain (p=none)"
t 250 testing.test cust@esp.test "t=y (testing) accepted"
t 250 pctzero.test cust@esp.test "leftover pct=0 read as t=y"
t 550 pct50.test cust@esp.test "leftover pct=50 ignored: p=reject applies"
t 250 a.b.c.walk.test b@bounce.walk.test "tree walk 3 labels up finds walk.test; SPF aligns relaxed"
t 550 a.b.c.walk.test cust@esp.test "tree walk finds p=reject 3 labels up; nothing aligns"
t 550 mail.brand.psd.test cust@esp.test "psd=y record gives the policy (no org-domain record)"
t 250 brand.psd.test b@mx.brand.psd.test "psd=y: org domain brand.psd.test; SPF of mx.brand.psd.test aligns"
t 550 brand.psd.test b@other-brand.psd.test "org_domain=both: aligned by the PSL, not by the tree walk"
grep -q 'account=case'$N' .*org_methods_disagree=yes' "$SG_LOG" && ok "[$N] disagreement logged" || not_ok "[$N] disagreement logged"
t 250 bad.test cust@esp.test "malformed record (p=bogus) treated as no record"
t 250 two.test cust@esp.test "two DMARC records: no policy"
t 550 notfirst.test cust@esp.test "a non-DMARC TXT before the record does not hide it"
t 550 "From: Sender <a@signed.test>" cust@esp.test "valid DKIM signature needed: unsigned"
t 250 "From: Sender <a@signed.test>" cust@esp.test "valid aligned DKIM signature (d=signed.test)" signed.test
t 550 "From: Sender <a@signed.test>" cust@esp.test "valid DKIM signature of another domain (d=other.test)" other.test
t 550 "From: Sender <a@signed.test>" cust@esp.test "broken DKIM signature (body changed after signing)" signed.test tamper
t 550 "From: Sender <a@nokey.test>" cust@esp.test "DKIM signature whose key is not in DNS" nokey.test
t 250 "From: Sender <a@news.signed.test>" cust@esp.test "relaxed DKIM: d=signed.test aligns with news.signed.test" signed.test
t 550 "From: Sender <a@news.strictdkim.test>" cust@esp.test "adkim=s: d=strictdkim.test does not align with a subdomain" strictdkim.test
t 250 "From: Sender <a@strictdkim.test>" cust@esp.test "adkim=s: exact d= aligns" strictdkim.test
t 250 news.esp.test cust@esp.test "the platform's signing domain aligns (relaxed) with its subdomain"
t 250 'From: "Doe, John (Sales)" <john@reject.test>' bounce@reject.test "From: quoted display name with comma"
t 250 'From: =?utf-8?q?J=C3=B6rg?= <j@reject.test> (comment)' bounce@reject.test "From: encoded word and comment"
t 250 "$(printf 'From: A very long display name that the client folded\n\t<folded@reject.test>')" bounce@reject.test "From: folded"
t 250 'From: Team: a@reject.test, b@reject.test;' bounce@reject.test "From: group of one domain"
t 550 '' bounce@reject.test "no From: header"
expect "$OUT" 'From' "[$N] the reply names the From: problem"
t 550 "$(printf 'From: a@reject.test\nFrom: b@reject.test')" bounce@reject.test "two From: headers"
t 550 'From: a@reject.test, b@yahoo.test' bounce@reject.test "two authors with different domains"
t 550 'From: alice' bounce@reject.test "an author without a domain"

# Per-account verified domains: the platform signs for them.
N=$((N + 1))
sgctl domains add brand brand-own.test --create >/dev/null
message "$MSG" "From: Brand <news@brand-own.test>"
deliver 250 brand cust@esp.test "account's verified domain counts as signed by the platform"
N=$((N + 1))
message "$MSG" "From: Brand <news@brand-own.test>"
deliver 550 other cust@esp.test "another account's verified domain does not"
sgctl domains only brand on >/dev/null
N=$((N + 1))
message "$MSG" "From: Brand <news@none.test>"
deliver 550 brand cust@esp.test "domains only: an unverified From: domain"
expect "$OUT" 'From: domain none\.test is not verified for account brand' "[$N] the reply names the domain and account"
sgctl domains list brand | grep -qx 'brand-own.test' && ok "domains list shows the domain" || not_ok "domains list"
rc=0; sgctl domains add brand co.uk >/dev/null 2>&1 || rc=$?
[[ $rc == 64 ]] && ok "domains add refuses a public suffix (co.uk)" || not_ok "domains add co.uk (rc=$rc)"
rc=0; sgctl domains remove brand brand-own.test >/dev/null 2>"$TB_DIR/rm.err" || rc=$?
[[ $rc == 64 ]] && grep -q 'last verified domain' "$TB_DIR/rm.err" && ok "domains remove refuses the last domain while only is on" \
    || not_ok "domains remove of the last domain (rc=$rc)"
N=$((N + 1))
message "$MSG" "From: Sender <news@rejnospf.test>"
deliver 250 exempt bounce@rejnospf.test "exempt account is not checked"
sgctl dry-run dryacct on --create >/dev/null
N=$((N + 1))
message "$MSG" "From: Sender <news@rejnospf.test>"
deliver 250 dryacct bounce@rejnospf.test "dry run: would be refused, accepted"
grep -q 'account=dryacct .*action=would-reject reason=dmarc' "$SG_LOG" && ok "[$N] dry run logged would-reject" || not_ok "[$N] dry run logged"
t 451 spftemp.test b@spftemp.test "SPF temporary error (SERVFAIL in an include) leaves p=reject open: 451 4.7.0"
t 451 servfail.test cust@esp.test "DNS SERVFAIL for the policy: 451 4.7.0"
expect "$OUT" 'cannot check the DMARC policy of servfail\.test' "[$N] the tempfail reply says why"

# Authentication-Results: ours added on top, a forged one under our authserv-id removed.
N=$((N + 1))
message "$MSG" "Authentication-Results: mx.sg.test; dmarc=pass header.from=rejnospf.test" \
    "Authentication-Results: other.example; spf=pass" "From: Sender <news@reject.test>"
deliver 250 case$N bounce@reject.test "message with a forged Authentication-Results"
sleep 2
SINKED=$(grep -l "case$N@sg.test" "$TB_SINK_DIR"/* 2>/dev/null | head -n 1)
if [[ -n $SINKED ]]; then
    [[ $(grep -c '^Authentication-Results: mx\.sg\.test' "$SINKED") == 1 ]] && ok "[$N] one Authentication-Results under our id" || not_ok "[$N] one A-R under our id"
    grep -q 'dmarc=pass.*header\.from=reject\.test' <(tr -d '\r' <"$SINKED" | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n\t/ /g') \
        && ok "[$N] ours says dmarc=pass header.from=reject.test" || not_ok "[$N] ours says dmarc=pass"
    grep -q 'header.from=rejnospf.test' "$SINKED" && not_ok "[$N] the forged one is gone" || ok "[$N] the forged one is gone"
    grep -q '^Authentication-Results: other\.example' "$SINKED" && ok "[$N] another server's A-R is kept" || not_ok "[$N] other A-R kept"
else
    not_ok "[$N] message not found at the sink"
fi
grep -q 'account=case1 .*stage=eom action=accept .*spf=pass .*from_domain=reject\.test dmarc=pass policy=reject' "$SG_LOG" \
    && ok "verdict line: from_domain, policy, spf, dkim, alignment, action" || not_ok "verdict line"

# ---- part 2: inbound mode, cross-checked against Mail::DMARC ----------------------------------
sed -i 's/^mode = "outbound"/mode = "inbound"/' "$SG_CONF"
kill -USR1 "$SG_MILTER_PID"
sleep 0.5
CLIENT_ADDR=$EGRESS
FIRST_INBOUND=$((N + 1))
t 250 reject.test bounce@reject.test "inbound: SPF passes for the client address and aligns"
t 550 rejnospf.test bounce@rejnospf.test "inbound: SPF fails"
t 550 quar.test bounce@quar.test "inbound: p=quarantine, no SPF record"
t 250 none.test bounce@none.test "inbound: p=none"
t 250 norecord.test bounce@norecord.test "inbound: no record"
t 550 strict.test b@bounce.strict.test "inbound: aspf=s"
t 250 relaxed.test b@bounce.relaxed.test "inbound: aspf=r"
t 550 sub.parent.test b@sub.parent.test "inbound: sp=reject"
t 250 "From: Sender <a@signed.test>" b@other.test "inbound: aligned DKIM" signed.test
t 550 "From: Sender <a@signed.test>" b@other.test "inbound: unaligned DKIM" other.test
t 550 "From: Sender <a@signed.test>" b@other.test "inbound: broken DKIM" signed.test tamper
t 250 "From: Sender <a@news.signed.test>" b@other.test "inbound: relaxed DKIM" signed.test
t 550 "From: Sender <a@news.strictdkim.test>" b@other.test "inbound: adkim=s" strictdkim.test
CLIENT_ADDR=198.51.100.99
t 550 reject.test bounce@reject.test "inbound: another client address fails SPF"
LAST_INBOUND=$N

# The same facts to Mail::DMARC: header From domain, envelope domain, SPF and DKIM results
# from our verdict lines; its result and disposition must match ours.
CASES=$TB_DIR/mail-dmarc.in
: >"$CASES"
for ((i = FIRST_INBOUND; i <= LAST_INBOUND; i++)); do
    line=$(grep "account=case$i " "$SG_LOG" | grep 'stage=eom' | tail -n 1)
    field() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<"$line"; }
    dk=$(field dkim)
    printf '%s\t%s\t%s\t%s\t%s\n' "$i" "$(field from_domain)" "$(field spf_domain)" "$(field spf)" "${dk:--}" >>"$CASES"
    printf '%s\t%s\t%s\n' "$i" "$(field dmarc)" "$(field disposition)" >>"$TB_DIR/ours"
done
if perl "$(dirname "$0")/mail_dmarc_verdict.pl" --dns "127.0.0.1:$E2E_DNS_PORT" <"$CASES" >"$TB_DIR/theirs" 2>"$TB_DIR/log/mail-dmarc.err"; then
    agree=0 total=0
    while IFS=$'\t' read -r id res dis; do
        total=$((total + 1))
        theirs=$(awk -F'\t' -v id="$id" '$1 == id {print $2 "\t" $3}' "$TB_DIR/theirs")
        t_res=${theirs%%$'\t'*} t_dis=${theirs#*$'\t'}
        [[ $dis == accept ]] && dis=none
        if [[ $res == "$t_res" && $dis == "$t_dis" ]]; then
            agree=$((agree + 1))
        else
            echo "# case $id: senderguard $res/$dis, Mail::DMARC $t_res/$t_dis"
        fi
    done <"$TB_DIR/ours"
    ((total > 0 && agree == total)) && ok "Mail::DMARC agrees on all $total inbound cases" || not_ok "Mail::DMARC agrees on $agree of $total"
else
    not_ok "Mail::DMARC ran"; sed 's/^/#   /' "$TB_DIR/log/mail-dmarc.err" | tail -n 10
fi

# ---- last: a DNS answer that comes too late ------------------------------------------------
CLIENT_ADDR=
sed -i 's/^mode = "inbound"/mode = "outbound"/' "$SG_CONF"
kill -USR1 "$SG_MILTER_PID"
sleep 0.5
t 451 slow.test cust@esp.test "DNS timeout for the policy: 451 4.7.0"
finish
