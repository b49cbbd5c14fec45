#!/usr/bin/env bash
# senderguardctl with careless input, as a postmaster types it or a script passes it: a read-only
# command on a mistyped [store] path must say there is no store (exit 74) and create nothing; an
# empty --account (an unset variable) is an empty account name (exit 64), never the global list;
# an empty --for is a bad duration (exit 64), never "reinstated for good".
# The real built senderguardctl on a store in a temporary directory: no Postfix, no milter.
set -uo pipefail
SRC=${SG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${SG_BIN_DIR:-$SRC/build/bin}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
cat >"$DIR/senderguard.conf" <<EOF
[store]
path = "$DIR/store"
EOF
cat >"$DIR/typo.conf" <<EOF
[store]
path = "$DIR/no/such/store"
EOF
ctl() { "$BIN/senderguardctl" -c "$DIR/senderguard.conf" "$@"; }

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
# expect WANT_RC WHAT COMMAND...: the command exits WANT_RC.
expect() {
    local want=$1 what=$2 rc
    shift 2
    "$@" >"$DIR/out" 2>"$DIR/err"
    rc=$?
    if [[ $rc -eq $want ]]; then ok "$what: exit $rc"; else
        not_ok "$what: exit $rc (want $want)"
        sed 's/^/#   /' "$DIR/out" "$DIR/err"
    fi
}

# Read-only commands on a store that does not exist: an error naming the path, no store made.
for cmd in "list" "show alice" "audit" "suppress list" "suppress check a@example.com" \
    "domains list alice"; do
    # shellcheck disable=SC2086
    expect 74 "$cmd on a missing store" "$BIN/senderguardctl" -c "$DIR/typo.conf" $cmd
    grep -q "no store at $DIR/no/such/store" "$DIR/err" || not_ok "$cmd: message names the path"
done
if [[ -e $DIR/no ]]; then not_ok "a read-only command created $DIR/no"; else
    ok "no store created by read-only commands"
fi

# An empty --account is refused, whatever the subcommand; the global entry stays.
expect 0 "global suppression" ctl suppress add foo@example.com
expect 0 "bob's suppression" ctl suppress add foo@example.com --account bob
expect 64 "suppress remove --account ''" ctl suppress remove foo@example.com --account ""
expect 64 "suppress add --account ''" ctl suppress add zz@example.com --account ""
expect 64 "suppress check --account ''" ctl suppress check zz@example.com --account ""
expect 64 "suppress list --account ''" ctl suppress list --account ""
printf 'x@example.com\n' >"$DIR/import.txt"
expect 64 "suppress import --account ''" ctl suppress import "$DIR/import.txt" --account ""
expect 0 "the global entry is still there" ctl suppress check foo@example.com
grep -q "global" "$DIR/out" || not_ok "foo@example.com is on the global list"
expect 1 "zz@example.com was not added" ctl suppress check zz@example.com

# An empty --for is a bad duration; the account stays suspended.
expect 0 "suspend alice" ctl suspend alice --reason "test" --create
expect 64 "reinstate --for ''" ctl reinstate alice --for ""
ctl show alice --json | grep -q '"state": *"suspended"' && ok "alice still suspended" ||
    not_ok "alice still suspended"
expect 0 "reinstate --for 1h" ctl reinstate alice --for 1h

echo "$PASS passed, $FAIL failed"
((FAIL == 0))
