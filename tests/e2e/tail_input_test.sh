#!/usr/bin/env bash
# e2e tail_input: senderguard-tail on careless input, as a postmaster gives it, with the real
# programs and a store filled by bench/tail_gen (the queue map the milter would have written):
#   - two committing tailers on one source and store: the second is refused (75, naming the
#     first's pid) and nothing counts twice; a follower holds it against a --once too;
#   - --once on a [tail] source that is not there: 74, not an empty log; --check warns;
#   - --print: a line longer than one read (2.5 MB) and one longer than 4 MiB do not end
#     the file; a last line without its newline; NUL padding before a line (a log writer's
#     crash); standard input and a pipe; a compressed file refused with advice (65); a
#     missing file named with its reason (66); an empty name (64);
#   - conflicting options (64).
# Needs no Postfix and no root; its own temp dir, removed at the end.
set -uo pipefail
BIN=${SG_BIN_DIR:?}
SRC=${SG_SOURCE_DIR:?}
DIR=$(mktemp -d /tmp/sg-tailinput.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
FAIL=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAIL=1; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
TAIL=$BIN/senderguard-tail
CTL=$BIN/senderguardctl
RULES=$SRC/conf/bounce-rules.conf

conf() { # conf NAME STORE SOURCE
    cat >"$DIR/$1" <<EOC
[store]
path = "$2"
[tail]
source = "$3"
rules = "$RULES"
timezone = "UTC"
EOC
}

# ---- one reader per source and store
"$BIN/tail_gen" --lines 100000 --log "$DIR/mail.log" --store "$DIR/store" --truth "$DIR/truth.txt" \
    --seed 7 --start $(($(date +%s) - 86400)) >/dev/null 2>"$DIR/gen.err" || { cat "$DIR/gen.err"; exit 1; }
cp -a "$DIR/store" "$DIR/store0"  # as the milter left it, for the rotation below
conf sg.conf "$DIR/store" "$DIR/mail.log"
"$TAIL" -c "$DIR/sg.conf" --once >"$DIR/a.out" 2>&1 &
a=$!
"$TAIL" -c "$DIR/sg.conf" --once >"$DIR/b.out" 2>&1 &
b=$!
rca=0; wait $a || rca=$?
rcb=0; wait $b || rcb=$?
check "two tailers at once: one reads (0), the other is refused (75)" \
    test "$(printf '%s\n' "$rca" "$rcb" | sort | tr '\n' ' ')" = "0 75 "
check "... the refusal names the other's pid and says why" \
    grep -q 'another senderguard-tail (pid [0-9]*) is reading file:.* into the store' "$DIR/a.out" "$DIR/b.out"
delivered=$("$CTL" -c "$DIR/sg.conf" list --json | jq '[.accounts[].reputation.delivered] | add')
truth=$(awk '{ s += $2 } END { print s }' "$DIR/truth.txt")
check "... and every delivery counted once ($delivered, the generator wrote $truth)" test "$delivered" = "$truth"
"$TAIL" -c "$DIR/sg.conf" --stderr >"$DIR/follow.out" 2>&1 &
f=$!
for ((i = 0; i < 50; i++)); do [[ -n $(find "$DIR/store" -name 'tail-*.lock' -newer "$DIR/a.out") ]] && break; sleep 0.1; done
sleep 0.5
rc=0; "$TAIL" -c "$DIR/sg.conf" --once >"$DIR/c.out" 2>&1 || rc=$?
check "a --once while a follower runs: refused (75)" test "$rc" = 75
mv "$DIR/mail.log" "$DIR/mail.log.gone"
for ((i = 0; i < 100; i++)); do grep -q 'action=source-missing' "$DIR/follow.out" && break; sleep 0.1; done
check "the followed file removed: source-missing is logged after a few seconds, once" \
    test "$(grep -c 'action=source-missing' "$DIR/follow.out")" = 1
mv "$DIR/mail.log.gone" "$DIR/mail.log"
kill "$f"; wait "$f" 2>/dev/null
rc=0; "$TAIL" -c "$DIR/sg.conf" --once >"$DIR/c.out" 2>&1 || rc=$?
check "... and read once the follower stopped (0)" test "$rc" = 0

# ---- rotated while its last line had no newline yet: that line counts, once
cut_at=$(head -n 30000 "$DIR/mail.log" | grep -n 'status=' | tail -n 1 | cut -d: -f1)  # a delivery line
head -n "$cut_at" "$DIR/mail.log" | head -c -1 >"$DIR/rot.log"
tail -n +"$((cut_at + 1))" "$DIR/mail.log" >"$DIR/rest.log"
cp -a "$DIR/store0" "$DIR/store_r"
conf rot.conf "$DIR/store_r" "$DIR/rot.log"
"$TAIL" -c "$DIR/rot.conf" --once >/dev/null 2>&1
mv "$DIR/rot.log" "$DIR/rot.log.1"
cp "$DIR/rest.log" "$DIR/rot.log"
"$TAIL" -c "$DIR/rot.conf" --once >/dev/null 2>&1
sums() { "$CTL" -c "$DIR/rot.conf" list --json |
    jq -r '[([.accounts[].reputation.delivered] | add), ([.accounts[].reputation.deferred] | add),
            ([.accounts[].reputation.hard] | add), ([.accounts[].reputation.soft] | add),
            ([.accounts[].reputation.technical] | add)] | join(" ")'; }
want=$(awk '{ d += $2; f += $3; h += $4; s += $5; t += $6 } END { print d, f, h, s, t }' "$DIR/truth.txt")
check "a last line without its newline, then rotation: every outcome counted once ($want)" \
    test "$(sums)" = "$want"

# ---- a source that is not there
conf missing.conf "$DIR/store" "$DIR/nope.log"
rc=0; "$TAIL" -c "$DIR/missing.conf" --once >"$DIR/m.out" 2>&1 || rc=$?
check "--once on a missing source: 74" test "$rc" = 74
check "... naming it" grep -q "nope.log: no such file" "$DIR/m.out"
rc=0; "$TAIL" -c "$DIR/missing.conf" --check >"$DIR/m.out" 2>&1 || rc=$?
check "--check on a missing source: 0, with a warning" test "$rc" = 0
check "... the warning names it" grep -q "warning: \[tail\] source .*nope.log: No such file" "$DIR/m.out"

# ---- --print on awkward files
line() { # line QUEUEID STATUS DSN REPLY
    printf 'Dec  6 10:00:01 mx postfix/smtp[1]: %s: to=<u@b.example>, relay=x[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=%s, status=%s (%s)' "$1" "$3" "$2" "$4"
}
print_count() { "$TAIL" --rules "$RULES" --once --print "$@" 2>"$DIR/p.err" | wc -l; }
{ line 3B7C8A720C1 sent 2.0.0 "250 ok"; echo; head -c 2500000 /dev/zero | tr '\0' x; echo
  line 3B7C8A720C2 bounced 5.1.1 "host x said: 550 5.1.1 no such user"; echo; } >"$DIR/long.log"
check "a 2.5 MB line does not end the file: 2 outcomes" test "$(print_count "$DIR/long.log")" = 2
{ cat "$DIR/long.log"; head -c 9000000 /dev/zero | tr '\0' y; echo; line 3B7C8A720C3 sent 2.0.0 "250 ok"; echo; } >"$DIR/long9.log"
check "nor a 9 MB line: 3 outcomes" test "$(print_count "$DIR/long9.log")" = 3
line 3B7C8A720C4 sent 2.0.0 "250 ok" >"$DIR/nonl.log"
check "a last line without its newline is printed" test "$(print_count "$DIR/nonl.log")" = 1
{ line 3B7C8A720C5 sent 2.0.0 "250 ok"; echo; head -c 3000 /dev/zero
  line 3B7C8A720C6 bounced 5.1.1 "host x said: 550 5.1.1 no such user"; echo; } >"$DIR/nul.log"
check "a line behind NUL padding is read: 2 outcomes" test "$(print_count "$DIR/nul.log")" = 2
check "... and the bounce is one of them" \
    test "$("$TAIL" --rules "$RULES" --once --print "$DIR/nul.log" 2>/dev/null | jq -r .status | tail -n 1)" = bounced
{ line 3B7C8A720C7 sent 2.0.0 "$(printf '250 o\001k')"; echo; } >"$DIR/bad.log"
print_count "$DIR/bad.log" >/dev/null
check "a control byte in a line is counted as bad_bytes" grep -q 'bad_bytes=1' "$DIR/p.err"
check "standard input (-)" test "$(print_count - <"$DIR/nul.log")" = 2
gzip -c "$DIR/nul.log" >"$DIR/nul.log.gz"
check "a pipe (zcat | ... /dev/stdin)" test "$(zcat "$DIR/nul.log.gz" | print_count /dev/stdin)" = 2
rc=0; "$TAIL" --rules "$RULES" --once --print "$DIR/nul.log.gz" >/dev/null 2>"$DIR/p.err" || rc=$?
check "a gzip file by name: 65" test "$rc" = 65
check "... with the advice to pipe it" grep -q 'compressed .*zcat .*FILE | senderguard-tail --once --print -' "$DIR/p.err"
rc=0; "$TAIL" --rules "$RULES" --once --print "$DIR/none.log" >/dev/null 2>"$DIR/p.err" || rc=$?
check "a missing file: 66, with the reason" test "$rc:$(grep -c 'cannot read: No such file' "$DIR/p.err")" = 66:1
rc=0; "$TAIL" --rules "$RULES" --once --print "$DIR" >/dev/null 2>"$DIR/p.err" || rc=$?
check "a directory: 66, saying so" test "$rc:$(grep -c 'cannot read: Is a directory' "$DIR/p.err")" = 66:1
rc=0; "$TAIL" --rules "$RULES" --once --print "" >/dev/null 2>&1 || rc=$?
check "--print \"\": 64" test "$rc" = 64

# ---- options that exclude each other
for args in "--check --once" "--explain-reply x --once" "--explain-reply x --check"; do
    rc=0
    # shellcheck disable=SC2086 # (split the arguments)
    "$TAIL" --rules "$RULES" $args >/dev/null 2>&1 || rc=$?
    check "$args: 64" test "$rc" = 64
done

((FAIL == 0)) && echo "PASS" || echo "FAIL"
exit "$FAIL"
