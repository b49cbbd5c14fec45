#!/usr/bin/env bash
# senderguardctl's human output never passes a control byte through (STYLE.md, "One function
# for all attacker text"). Texts it prints come from whoever wrote them: a suspension reason
# (an operator's argument, or a script that copies a complaint into it), SUDO_USER, a
# suppression's reason (an import file, or the feedback engine from a remote server's reply)
# and 8-bit addresses (SMTPUTF8). Printed raw, a newline inside a reason forges a whole line of
# `audit`, and an ESC or a UTF-8 C1 control (U+009B, CSI) reaches the terminal.
#
# The real built senderguardctl on a store in a temporary directory: no Postfix, no milter.
# Each listing must keep every hostile text on its own line, escaped, with no ESC or C1 byte.
set -euo pipefail
SRC=${SG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${SG_BIN_DIR:-$SRC/build/bin}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
cat >"$DIR/senderguard.conf" <<EOF
[store]
path = "$DIR/store"
EOF
ctl() { "$BIN/senderguardctl" -c "$DIR/senderguard.conf" "$@"; }

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }

ESC=$'\e'
C1=$'\xc2\x9b'  # U+009B CSI, a control to a terminal in UTF-8 mode
# A reason that forges an audit line, in the real format, and clears the screen.
REASON=$'abuse\n2026-01-01T00:00:00Z  root                 reinstate        alice                    FORGED\e[2J'
ACTOR=$'mallory\n\e[31mFORGED'

# The same hostile text through each way in.
ctl suspend plain --reason "a plain reason" --create >/dev/null  # the shape of a clean listing
SUDO_USER=$ACTOR ctl suspend alice --reason "$REASON" --create >"$DIR/suspend.out"
ctl suppress add $'bob\xc2\x9b2J@example.com' --account alice --reason "$REASON" >"$DIR/add.out"
printf 'carol@example.com,import %s[2Jreason\n' "$ESC" >"$DIR/import.txt"
ctl suppress import "$DIR/import.txt" >"$DIR/import.out"

# no_raw WHAT FILE: neither ESC nor the C1 control's bytes in FILE.
no_raw() {
    if grep -q "$ESC" "$2" || grep -q "$C1" "$2"; then
        not_ok "$1: raw ESC or C1 byte on the terminal"
        sed 's/^/#   /' "$2" | cat -v
    else
        ok "$1: no raw ESC or C1 byte"
    fi
}
# lines WHAT FILE N PATTERN: FILE has N lines, and every line that shows the hostile text
# (FORGED) also matches PATTERN (grep -E), i.e. it is the field's own line, not a forged one.
lines() {
    local what=$1 file=$2 want=$3 pattern=$4 got bad
    got=$(wc -l <"$file")
    bad=$(grep FORGED "$file" | grep -cvE -- "$pattern" || true)
    if [[ $got -eq $want && $bad -eq 0 ]]; then
        ok "$what: $want line(s), no forged line"
    else
        not_ok "$what: $got line(s) (want $want), $bad line(s) with FORGED not matching $pattern"
        sed 's/^/#   /' "$file" | cat -v
    fi
}

ctl audit --wide >"$DIR/audit.out"  # every field whole: the escapes, not the width, are checked here
no_raw audit "$DIR/audit.out"
# Two suspensions, suppress-add, suppress-import: one line each; FORGED only after the escaped newline.
lines audit "$DIR/audit.out" 4 'abuse\\x0a2026-01-01T.*FORGED\\x1b\[2J|mallory\\x0a\\x1b\[31mFORGED'
if grep -q 'abuse\\x0a2026-01-01T' "$DIR/audit.out"; then ok "audit: the newline shown as \\x0a"
else not_ok "audit: the newline not shown as \\x0a"; fi

ctl show alice >"$DIR/show.out"
no_raw show "$DIR/show.out"
lines show "$DIR/show.out" "$(ctl show plain | wc -l)" \
    '^state: +suspended since .* by .*mallory\\x0a\\x1b\[31mFORGED\)$|^reason: +abuse\\x0a2026'
if [[ $(grep -c '^state:' "$DIR/show.out") -eq 1 && $(grep -c '^reason:' "$DIR/show.out") -eq 1 ]] &&
    grep -q '^state: .* by .*mallory\\x0a\\x1b\[31mFORGED' "$DIR/show.out" &&
    grep -qE '^reason: +abuse\\x0a2026-01-01T.*FORGED\\x1b\[2J$' "$DIR/show.out"; then
    ok "show: the actor on the state line, the reason on its own"
else
    not_ok "show: the actor on the state line, the reason on its own"; sed 's/^/#   /' "$DIR/show.out" | cat -v
fi

ctl list >"$DIR/list.out"
no_raw list "$DIR/list.out"
# A header, alice, plain, a summary line.
lines list "$DIR/list.out" 4 '^alice '

ctl suppress list >"$DIR/suppress.out"
no_raw "suppress list" "$DIR/suppress.out"
# A header, two entries, a summary line.
lines "suppress list" "$DIR/suppress.out" 4 '^bob\\xc2\\x9b2j@example\.com +alice '
if grep -q '^bob\\xc2\\x9b2j@example.com' "$DIR/suppress.out"; then ok "suppress list: 8-bit address as \\xNN"
else not_ok "suppress list: 8-bit address not as \\xNN"; fi

ctl suppress check $'bob\xc2\x9b2J@example.com' --account alice >"$DIR/check.out"
no_raw "suppress check" "$DIR/check.out"
lines "suppress check" "$DIR/check.out" 1 '^bob\\xc2\\x9b2j@example\.com: suppressed'

for f in suspend add import; do no_raw "$f" "$DIR/$f.out"; done

# JSON keeps the text as it is (nlohmann escapes it): nothing is lost for a program.
if ctl audit --json | grep -qF '"detail": "abuse\n2026-01-01'; then ok "audit --json: the reason as written"
else not_ok "audit --json: the reason changed"; fi

echo "$PASS passed, $FAIL failed"
((FAIL == 0))
