#!/usr/bin/env bash
# The command line of every program, as a new user mistypes it (found by a user test): -c ""
# must be a usage error, never the production default path; an unknown option exits 64
# (EX_USAGE; senderguard-arf 75, so pipe(8) defers) and names the option; senderguardctl names
# an unknown command with the near one and the list, prints its help on "help"; every --help
# fits 80 columns; the configuration check says a file is missing (no "line 0"), a section is
# unknown (not "unknown key"), and the textfile's directory does not exist.
# The real built programs on temporary files: no Postfix, no store.
set -uo pipefail
SRC=${SG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${SG_BIN_DIR:-$SRC/build/bin}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
RULES=$SRC/conf/bounce-rules.conf
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
# expect WANT_RC WHAT COMMAND...: the command (stdin empty) exits WANT_RC; out and err kept.
expect() {
    local want=$1 what=$2 rc
    shift 2
    "$@" </dev/null >"$DIR/out" 2>"$DIR/err"
    rc=$?
    if [[ $rc -eq $want ]]; then ok "$what: exit $rc"; else
        not_ok "$what: exit $rc (want $want)"
        sed 's/^/#   /' "$DIR/out" "$DIR/err"
    fi
}
# says WHAT FILE PATTERN: FILE matches PATTERN (grep -E).
says() {
    if grep -qE -- "$3" "$2"; then ok "$1"; else
        not_ok "$1 (want /$3/ in:)"
        sed 's/^/#   /' "$2"
    fi
}
# fits WHAT FILE: no line of FILE is wider than 80 columns.
fits() {
    local wide
    wide=$(awk 'length($0) > 80' "$2" | head -3)
    if [[ -z $wide && -s $2 ]]; then ok "$1 fits 80 columns"; else
        not_ok "$1 fits 80 columns:"
        printf '%s\n' "$wide" | sed 's/^/#   /'
    fi
}

printf '[store]\npath = "%s/store"\n' "$DIR" >"$DIR/good.conf"

# -c "" and an unknown option, for each program.
for p in senderguard-milter senderguard-tail senderguard-arf senderguardctl; do
    want=64
    [[ $p == senderguard-arf ]] && want=75  # pipe(8): a master.cf typo defers the report
    args=(--check)
    [[ $p == senderguard-arf ]] && args=()
    [[ $p == senderguardctl ]] && args=(list)
    SENDERGUARD_CONF=$DIR/good.conf expect $want "$p -c ''" "$BIN/$p" -c "" "${args[@]}"
    says "$p -c '': says the path is empty" "$DIR/err" "^$p( list)?: .*empty path"
    expect $want "$p --bogus" "$BIN/$p" --bogus "${args[@]}"
    says "$p --bogus: names the option" "$DIR/err" "^$p( list)?: unknown option --bogus"
    expect 0 "$p --help" "$BIN/$p" --help
    fits "$p --help" "$DIR/out"
done
# A write under -c "": were the empty path taken for "not given", $SENDERGUARD_CONF's store
# would be made; the same write without -c makes it (so the check above it can fail).
SENDERGUARD_CONF=$DIR/good.conf expect 64 "ctl -c '' suspend --create" \
    "$BIN/senderguardctl" -c "" suspend bob --reason test --create
if [[ ! -e $DIR/store ]]; then ok "no store made by the usage errors"; else not_ok "a usage error made a store"; fi
SENDERGUARD_CONF=$DIR/good.conf expect 0 "ctl suspend --create (the configuration's store)" \
    "$BIN/senderguardctl" suspend bob --reason test --create
if [[ -e $DIR/store ]]; then ok "that write made the store"; else not_ok "that write made no store"; fi
rm -rf "$DIR/store"

# senderguardctl's command words.
ctl() { "$BIN/senderguardctl" -c "$DIR/good.conf" "$@"; }
expect 64 "ctl lis" ctl lis
says "ctl lis: names it" "$DIR/err" '^senderguardctl: unknown command "lis" \(did you mean "list"\?\)'
says "ctl lis: lists the commands" "$DIR/err" '^commands: list, show, quota, '
says "ctl lis: ... wrapped, every one of them" "$DIR/err" '^    .*domains, store, account$'
fits "ctl lis: the list of commands" "$DIR/err"
expect 64 "ctl suppress lst" ctl suppress lst
says "ctl suppress lst: names it under suppress" "$DIR/err" '^senderguardctl suppress: unknown command "lst" \(did you mean "list"\?\)'
expect 64 "ctl frobnicate" ctl frobnicate
says "ctl frobnicate: no guess" "$DIR/err" '^senderguardctl: unknown command "frobnicate"$'
# A value that starts with '-' is read as an option: the missing argument's message says so.
expect 64 "ctl domains add bob -bad-.example" ctl domains add bob -bad-.example
says "... says the value was read as an option, and what to do" "$DIR/err" \
    "^senderguardctl domains add: DOMAIN is required \('-bad-\.example' was read as an option: put -- before a value that starts with '-'\)$"
expect 64 "ctl suppress add (nothing)" ctl suppress add
says "... no such hint without a stray option" "$DIR/err" '^senderguardctl suppress add: ADDRESS is required$'
expect 64 "ctl (no command)" ctl
says "ctl (no command): lists the commands" "$DIR/err" 'a command is needed: list, show'
expect 0 "ctl help" ctl help
says "ctl help: the commands" "$DIR/out" '^  suppress  +Manage suppressed'
fits "ctl help" "$DIR/out"
expect 0 "ctl help suppress add" ctl help suppress add
says "ctl help suppress add: its usage" "$DIR/out" '^Usage: senderguardctl suppress add \[OPTIONS\] ADDRESS'
expect 64 "ctl help lits" ctl help lits
expect 0 "ctl --version" "$BIN/senderguardctl" --version
says "ctl --version: name and version" "$DIR/out" '^senderguardctl [0-9]+\.[0-9]+\.[0-9]+'
# Every command's --help within 80 columns.
for cmd in list show "quota set" "quota clear" suspend reinstate dry-run "suppress add" \
    "suppress remove" "suppress check" "suppress list" "suppress import" audit "domains add" \
    "domains remove" "domains list" "domains only" store "store init" "store migrate" \
    "store status" "store copy"; do
    # shellcheck disable=SC2086
    "$BIN/senderguardctl" $cmd --help >"$DIR/out" 2>&1
    fits "ctl $cmd --help" "$DIR/out"
done

# The configuration check.
expect 78 "milter --check, missing file" "$BIN/senderguard-milter" -c "$DIR/none.conf" --check
says "missing file: said so, no line number" "$DIR/err" "^senderguard-milter: $DIR/none.conf: no such file\$"
expect 78 "tail --check, missing file" "$BIN/senderguard-tail" -c "$DIR/none.conf" --check --rules "$RULES"
says "tail: missing file: said so" "$DIR/err" "^senderguard-tail: $DIR/none.conf: no such file\$"
expect 78 "milter --check, a directory" "$BIN/senderguard-milter" -c "$DIR" --check
says "a directory: said so" "$DIR/err" "$DIR: is a directory, not a file"
printf '[store]\npath = "%s/store"\n\n[monitorin]\ninterval = "5s"\n' "$DIR" >"$DIR/section.conf"
expect 78 "milter --check, unknown section" "$BIN/senderguard-milter" -c "$DIR/section.conf" --check
says "unknown section: said so, with its line" "$DIR/err" "section.conf:4: monitorin: unknown section \\[monitorin\\]"
printf '[store]\npath = "%s/store"\n[monitoring]\ntextfile = "%s/no/such/dir/{program}.prom"\n' \
    "$DIR" "$DIR" >"$DIR/textfile.conf"
expect 78 "milter --check, textfile in a missing directory" "$BIN/senderguard-milter" -c "$DIR/textfile.conf" --check
says "milter: the directory does not exist" "$DIR/err" "the directory $DIR/no/such/dir does not exist"
expect 78 "tail --check, textfile in a missing directory" "$BIN/senderguard-tail" -c "$DIR/textfile.conf" --check --rules "$RULES"
says "tail: the directory does not exist" "$DIR/err" "the directory $DIR/no/such/dir does not exist"
mkdir -p "$DIR/no/such/dir"
expect 0 "milter --check, textfile directory there" "$BIN/senderguard-milter" -c "$DIR/textfile.conf" --check
expect 0 "tail --check, textfile directory there" "$BIN/senderguard-tail" -c "$DIR/textfile.conf" --check --rules "$RULES"

# A connection string libpq cannot read is a configuration error, found by --check and at start
# (exit 78: systemd does not restart on it), not an outage to retry forever (75; found by a user
# test: "dbnmae=" passed --check and the unit restarted the milter every 5 s).
printf '[store]\nbackend = "postgresql"\npath = "%s/pgstore"\n[store.postgresql]\nconninfo = "host=127.0.0.1 port=1 dbnmae=senderguard"\nnode = "mx1"\n[milter]\nsocket = "unix:%s/pg.sock"\n' \
    "$DIR" "$DIR" >"$DIR/conninfo.conf"
for p in senderguard-milter senderguard-tail; do
    args=(--check)
    [[ $p == senderguard-tail ]] && args+=(--rules "$RULES")
    expect 78 "$p --check, a conninfo key misspelt" "$BIN/$p" -c "$DIR/conninfo.conf" "${args[@]}"
    says "$p --check: names the key" "$DIR/err" "^$p: $DIR/conninfo.conf: \[store.postgresql\] conninfo: invalid connection option \"dbnmae\"\$"
done
expect 78 "senderguard-milter started with it" timeout 20 "$BIN/senderguard-milter" -c "$DIR/conninfo.conf"
says "... names the key" "$DIR/err" 'conninfo: invalid connection option "dbnmae"'
sed -i 's/dbnmae/dbname/' "$DIR/conninfo.conf"
expect 0 "senderguard-milter --check, the key right (nothing listens: not checked)" "$BIN/senderguard-milter" -c "$DIR/conninfo.conf" --check
expect 75 "senderguard-milter started with nothing listening: an outage (retried)" timeout 20 "$BIN/senderguard-milter" -c "$DIR/conninfo.conf"

echo "$PASS passed, $FAIL failed"
((FAIL == 0))
