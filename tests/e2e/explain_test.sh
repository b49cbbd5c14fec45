#!/usr/bin/env bash
# senderguard-tail --explain-reply "TEXT" [--dsn X.Y.Z], as a postmaster runs it on a reply pasted
# from a log line: it names the rule that matched and its line in the rules file (the line must
# hold that rule's `match`), the class and category and what they count toward; with nothing
# matched, the fallback; exit codes per sysexits (64 bad usage, 78 rules that do not load).
# The real built senderguard-tail and the shipped rules; no Postfix, no store, no configuration
# file (the defaults do, as for --print).
set -uo pipefail
SRC=${SG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${SG_BIN_DIR:-$SRC/build/bin}
RULES=$SRC/conf/bounce-rules.conf
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
# No configuration file: explain needs none. An empty environment variable would name one.
export SENDERGUARD_CONF=$DIR/none.conf

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
# expect WANT_RC WHAT ARGS...: senderguard-tail ARGS exits WANT_RC; output in $DIR/out, $DIR/err.
expect() {
    local want=$1 what=$2 rc
    shift 2
    "$BIN/senderguard-tail" "$@" >"$DIR/out" 2>"$DIR/err"
    rc=$?
    if [[ $rc -eq $want ]]; then ok "$what: exit $rc"; else
        not_ok "$what: exit $rc (want $want)"
        sed 's/^/#   /' "$DIR/out" "$DIR/err"
    fi
}
has() { # has WHAT PATTERN: $DIR/out holds a line matching PATTERN (grep -E)
    if grep -Eq -- "$2" "$DIR/out"; then ok "$1"; else
        not_ok "$1: no line matching /$2/"
        sed 's/^/#   /' "$DIR/out"
    fi
}
# rule_line_holds WHAT: the "matched:" line names FILE:LINE, and that line of the rules file is
# the `match = '...'` printed below it.
rule_line_holds() {
    local line match
    line=$(sed -nE 's/^matched: .* at [^ ]*:([0-9]+) .*/\1/p' "$DIR/out")
    match=$(sed -nE "s/^ +match = (.*)$/match = \1/p" "$DIR/out")
    if [[ -n $line && -n $match && $(sed -n "${line}p" "$RULES") == "$match" ]]; then
        ok "$1: line $line of the rules file is the match printed"
    else
        not_ok "$1: line '$line' of $RULES is not '$match'"
    fi
}

# A Postfix receiver's unknown user, as Postfix logs the reply: a text rule, hard.
expect 0 "user unknown" --rules "$RULES" --explain-reply \
    "host mx.example.net[192.0.2.1] said: 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)"
has "the server's words are what the rules read" '^read: +550 5\.1\.1 <bob@example\.net>'
has "dsn taken from the reply" '^dsn: +5\.1\.1 \(taken from the reply'
has "a text rule matched" '^matched: +rule\[[0-9]+\] at .*bounce-rules\.conf:[0-9]+ '
rule_line_holds "user unknown"
has "its source" "^source: .*User unknown in virtual mailbox table"
has "hard/recipient-unknown" '^verdict: +hard/recipient-unknown$'
has "counts toward suppression" '^meaning: +hard: .*suppressing the recipient'

# Postfix's own null-MX text with its dsn.
expect 0 "null MX" --rules "$RULES" --explain-reply \
    "Domain example.com does not accept mail (nullMX)" --dsn 5.1.0
has "dsn given" '^dsn: +5\.1\.0 \(--dsn\)'
rule_line_holds "null MX"
has "hard/domain-unknown" '^verdict: +hard/domain-unknown$'

# A receiver's expiry text: soft/expired, never a hard bounce.
expect 0 "expiry" --rules "$RULES" --explain-reply \
    "host relay.example.net[192.0.2.2] said: 550 4.4.7 QUEUE.Expired; message expired (in reply to end of DATA command)"
has "soft/expired" '^verdict: +soft/expired$'
has "never counted" '^meaning: +soft: reported, never counted'

# A [[code]] entry decides: no text rule knows the words.
expect 0 "by dsn" --rules "$RULES" --explain-reply \
    "host mx.example.net[192.0.2.1] said: 550 5.2.1 Nope (in reply to RCPT TO command)"
has "the dsn entry and its line" '^matched: +no text rule; \[\[code\]\] dsn = "5\.2\.1" at .*:[0-9]+ '
has "hard/mailbox-disabled" '^verdict: +hard/mailbox-disabled$'

# The basic reply code decides.
expect 0 "by reply code" --rules "$RULES" --explain-reply \
    "host mx.example.net[192.0.2.1] said: 550 Nein, danke (in reply to RCPT TO command)"
has "the reply entry" '^matched: .*\[\[code\]\] reply = "550" at '
has "technical/other" '^verdict: +technical/other$'

# Nothing matches: the fallback is said.
expect 0 "nothing matches" --rules "$RULES" --explain-reply "hello world"
has "no dsn for a text without a reply code" '^dsn: +- \(none'
has "the fallback" '^matched: +nothing: .*fallback: a bounce nothing recognizes is technical/other'

# A hard rule on an answer to MAIL FROM: the guard.
expect 0 "guard" --rules "$RULES" --explain-reply \
    "host smarthost.test[192.0.2.26] said: 550 5.2.1 Account disabled (in reply to MAIL FROM command)"
has "the guard says why" '^guard: .*names no recipient'
has "technical/policy" '^verdict: +technical/policy$'

# A hard rule on a 4xx reply: temporary, so soft.
expect 0 "temporary guard" --rules "$RULES" --explain-reply \
    "host mx.example.net[192.0.2.25] said: 450 4.2.1 Mailbox disabled, not accepting messages (in reply to RCPT TO command)"
has "the temporary guard says why" '^guard: .*4xx, temporary'
has "soft/mailbox-disabled" '^verdict: +soft/mailbox-disabled$'

# Hostile text is escaped, never printed raw.
expect 0 "control characters" --rules "$RULES" --explain-reply $'550 x\x1b[31mred\ry'
if grep -q $'\x1b' "$DIR/out" || grep -q $'\r' "$DIR/out"; then not_ok "escape or CR printed raw"; else
    ok "escape and CR are escaped"
fi

# Usage and configuration errors.
expect 64 "a dsn that is not one" --rules "$RULES" --explain-reply x --dsn 5.1
grep -q "expected an enhanced status code" "$DIR/err" || not_ok "the --dsn error says what is expected"
expect 64 "--dsn alone" --rules "$RULES" --dsn 5.1.1
expect 78 "rules that do not exist" --rules "$DIR/none.conf" --explain-reply x
printf '[[rule]]\nmatch = "("\nclass = "hard"\ncategory = "other"\n' >"$DIR/bad.conf"
expect 78 "rules that do not load" --rules "$DIR/bad.conf" --explain-reply x
grep -q "bad.conf:2" "$DIR/err" || not_ok "the rules error names file:line"

echo "$PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
