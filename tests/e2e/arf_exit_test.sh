#!/usr/bin/env bash
# senderguard-arf's exit status on every path, as Postfix's pipe(8) reads it: 75 (EX_TEMPFAIL:
# Postfix defers and retries) for everything that is not the report's fault, 65 (EX_DATAERR:
# Postfix bounces) only for a message that is not a report, 0 for a report counted. A bounce
# over a typo in master.cf or in the configuration would lose a provider's report for good.
# Empty input is no message at all (the MTA always hands one over): 75, the delivery lost it.
# The real built senderguard-arf on a store in a temporary directory: no Postfix, no milter.
set -uo pipefail
SRC=${SG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${SG_BIN_DIR:-$SRC/build/bin}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
conf() { # conf NAME STORE_PATH [MORE_TOML]: a configuration file
    printf '[store]\npath = "%s"\n%s\n' "$2" "${3:-}" >"$DIR/$1.conf"
}
conf good "$DIR/store"
conf badkey "$DIR/store" $'[feedback]\nno_such_key = 1'
touch "$DIR/a-file"
conf notdir "$DIR/a-file/store"
mkdir -p "$DIR/corrupt"
head -c 65536 /dev/urandom >"$DIR/corrupt/data.mdb"
conf corrupt "$DIR/corrupt"

# shellcheck source=arf_report.sh
. "$SRC/tests/e2e/arf_report.sh"
# An abuse report attributed by nothing (no token, a Message-ID never sent).
report() { arf "" "<m1@alice.test>" someone@dest.test; }
report >"$DIR/report.eml"
printf 'From: a@b.test\nSubject: hi\n\nnot a report\n' >"$DIR/not-arf.eml"

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
# expect WANT_RC STDIN WHAT ARGS...: senderguard-arf ARGS < STDIN exits WANT_RC.
expect() {
    local want=$1 in=$2 what=$3 rc
    shift 3
    "$BIN/senderguard-arf" "$@" <"$in" >"$DIR/out" 2>"$DIR/err"
    rc=$?
    if [[ $rc -eq $want ]]; then ok "$what: exit $rc"; else
        not_ok "$what: exit $rc (want $want)"
        sed 's/^/#   /' "$DIR/out" "$DIR/err"
    fi
}
R=$DIR/report.eml

# Not the report's fault: 75.
expect 75 "$R" "unknown option (a master.cf typo)" -c "$DIR/good.conf" --confg x
grep -q -- '--confg' "$DIR/err" && ok "... the error names the option" ||
    not_ok "... the error names the option: $(cat "$DIR/err")"
expect 75 "$R" "-c without its file" -c
expect 75 "$R" "-c '' (an empty variable in master.cf; never the default path)" -c ""
grep -q 'empty path' "$DIR/err" && ok "... said on stderr" || not_ok "... said on stderr: $(cat "$DIR/err")"
expect 75 "$R" "stray argument" -c "$DIR/good.conf" extra
expect 75 "$R" "configuration file missing" -c "$DIR/no-such.conf"
expect 75 "$R" "configuration with an unknown key" -c "$DIR/badkey.conf"
grep -q 'no_such_key' "$DIR/err" && ok "... the error names the key" || not_ok "... the error names the key"
# Empty input: no message at all; the MTA always hands one over (with its Received:), so the
# delivery lost it: defer, never bounce an empty message to the provider.
expect 75 /dev/null "empty stdin" -c "$DIR/good.conf"
grep -q 'no report: the input is empty' "$DIR/err" && ok "... said on stderr" ||
    not_ok "... said on stderr: $(cat "$DIR/err")"
printf '\n\r\n \n' >"$DIR/blank.eml"
expect 75 "$DIR/blank.eml" "blank stdin" -c "$DIR/good.conf"
expect 75 / "stdin unreadable (a directory: read() fails with EISDIR)" -c "$DIR/good.conf"
expect 75 "$R" "store path under a regular file (store cannot open)" -c "$DIR/notdir.conf"
expect 75 "$R" "store file corrupt (not an LMDB environment)" -c "$DIR/corrupt.conf"
[[ ! -e $DIR/store ]] && ok "no store created by the failures above" || not_ok "no store created by the failures above"

# The report's fault: 65.
expect 65 "$DIR/not-arf.eml" "a message that is not a feedback report" -c "$DIR/good.conf"
grep -q 'not a feedback report' "$DIR/err" && ok "... said on stderr" || not_ok "... said on stderr"
# 16 MiB and one byte: over the cap.
head -c $((16 * 1024 * 1024 + 1)) /dev/zero | tr '\0' 'x' >"$DIR/huge.eml"
expect 65 "$DIR/huge.eml" "a message over 16 MiB" -c "$DIR/good.conf"

# Fine: 0.
expect 0 "$R" "a report (unattributed: counted against nobody)" -c "$DIR/good.conf"
expect 0 /dev/null "--help" --help
expect 0 /dev/null "--version" --version
grep -Eq '^senderguard-arf [0-9]+\.[0-9]+\.[0-9]+' "$DIR/out" && ok "... prints the name and version" ||
    not_ok "... prints the name and version: $(cat "$DIR/out")"

echo "$PASS passed, $FAIL failed"
((FAIL == 0))
