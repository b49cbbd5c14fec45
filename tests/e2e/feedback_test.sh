#!/usr/bin/env bash
# Delivery feedback end to end: a real private Postfix with the milter relays to
# tests/tools/smtp_replier, which answers chosen receivers' replies per recipient, so the log
# lines are Postfix's own (maillog_file). senderguard-tail reads them into the store; the
# checks look at what `senderguardctl` then shows and what the milter then refuses:
#   classification and attribution (hard / soft / deferred / delivered on the right account),
#   exactly once across repeated runs, --print JSON, global suppression after 3 hard bounces,
#   automatic suspension by hard-bounce rate refused at the next MAIL FROM, ARF complaints
#   by token and by Message-ID, each report counted once however often it is delivered,
#   a complaint re-suspending a reinstated account, a non-ARF message refused with EX_DATAERR.
. "$(dirname "$0")/lib.sh"

SECRET=0123456789abcdef0123456789abcdef
# keep.test goes to an smtp-sink that keeps each message (to look at the headers).
KEEP_PORT=$(_tb_free_port)
TB_TRANSPORT_MAPS="inline:{ {keep.test = smtp:[127.0.0.1]:$KEEP_PORT} }"
e2e_start_replier "$(cat <<'EOF'
# recipient pattern, stage, reply (as receivers word them)
unknown*  rcpt  550 5.1.1 The email account that you tried to reach does not exist. Please try\n5.1.1 double-checking the recipient's email address for typos or\n5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser x1si - gsmtp
full*     rcpt  552 5.2.2 The email account that you tried to reach is over quota. https://support.google.com/mail/?p=OverQuotaPerm - gsmtp
busy*     rcpt  421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes
spamtrap* data  550 5.7.1 Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked.
EOF
)" "$(cat <<EOF
[tail]
source = "@TB_DIR@/log/postfix.log"
rules = "@SRC@/conf/bounce-rules.conf"
timezone = "localtime"
[feedback]
secret = "$SECRET"
[reputation]
min_volume = 20
EOF
)"

T=$TB_DIR/t.out
tail_once() { "$E2E_BIN/senderguard-tail" -c "$SG_CONF" --once >>"$TB_DIR/log/tail.log" 2>&1; }
rep() { # rep ACCOUNT FIELD: a figure of `show --json`'s reputation
    sgctl show "$1" --json | sed -n "s/.*\"$2\": *\([0-9.e-]*\).*/\1/p" | head -n 1
}
state() { sgctl show "$1" --json | sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p' | head -n 1; }
# Waits until the log holds N delivery outcomes (status= lines with to=) or 30 s pass.
wait_outcomes() {
    local n=$1 i
    for ((i = 0; i < 300; i++)); do
        (($(grep -c ' to=<.*status=' "$TB_LOG" 2>/dev/null || true) >= n)) && return 0
        sleep 0.1
    done
    return 1
}

# ---- classification and attribution
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to ok1@dest.test,ok2@dest.test,ok3@dest.test
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to unknown1@dest.test
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to full1@dest.test
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to busy1@dest.test
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to spamtrap1@dest.test
check "Postfix logged the 7 outcomes" wait_outcomes 7
sleep 1  # the bounce notices' own lines
tail_once
check "alice: 3 delivered" test "$(rep alice delivered)" = 3
check "alice: 1 hard (550 5.1.1 no such user)" test "$(rep alice hard)" = 1
check "alice: 1 soft (552 5.2.2 over quota)" test "$(rep alice soft)" = 1
check "alice: 1 deferral (421 4.7.0 TSS04)" test "$(rep alice deferred)" = 1
check "alice: 1 technical (550 5.7.1 spam block)" test "$(rep alice technical)" = 1
check "alice: still active (below min volume)" test "$(state alice)" = active

tail_once
check "a second run counts nothing again: 3 delivered" test "$(rep alice delivered)" = 3
check "... and 1 hard" test "$(rep alice hard)" = 1

"$E2E_BIN/senderguard-tail" -c "$SG_CONF" --once --print "$TB_LOG" >"$TB_DIR/print.json" 2>/dev/null
expect "$TB_DIR/print.json" '"recipient":"unknown1@dest.test","account":"alice","origin":null,"status":"bounced","dsn":"5.1.1","class":"hard","category":"recipient-unknown"' \
    "--print: unknown1 is hard / recipient-unknown for alice"
expect "$TB_DIR/print.json" '"recipient":"full1@dest.test","account":"alice","origin":null,"status":"bounced","dsn":"5.2.2","class":"soft","category":"mailbox-full"' \
    "--print: full1 is soft / mailbox-full (the text says over quota)"
expect "$TB_DIR/print.json" '"class":"deferred"' "--print: busy1 is deferred"
expect "$TB_DIR/print.json" '"dsn":"5.1.1"' "--print: dsn field"
expect "$TB_DIR/print.json" '"status":"bounced"' "--print: status field"
expect "$TB_DIR/print.json" '"reply":"host 127.0.0.1' "--print: reply field"
expect_not "$TB_DIR/print.json" '"account":null,"origin":"unattributed"' \
    "--print: nothing unattributed (bounce notices are Postfix's own)"
expect "$TB_DIR/print.json" '"account":null,"origin":"postfix-notice","status":"sent"' \
    "--print shows the bounce notices too, for no account"
check "--print wrote nothing: still 3 delivered" test "$(rep alice delivered)" = 3

# ---- three hard bounces suppress the address for everyone; bob's hard-bounce rate suspends him
for i in 1 2 3; do
    send "$T" --xclient "LOGIN=carol" --from c@carol.test --to unknown2@dest.test
done
check "Postfix logged carol's 3 bounces" wait_outcomes 10
tail_once
sgctl suppress check unknown2@dest.test >"$T" 2>&1 || true
expect "$T" 'hard bounces' "unknown2 suppressed globally after 3 hard bounces"
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to unknown2@dest.test
expect "$T" '^<\*\* 550 5\.7\.1 recipient unknown2@dest.test is suppressed' "another account's RCPT to unknown2: 550 5.7.1"

rcpts=$(for i in $(seq 10 34); do printf 'unknown%s@dest.test,' "$i"; done)
send "$T" --xclient "LOGIN=bob" --from b@bob.test --to "${rcpts%,}"
check "Postfix logged bob's 25 bounces" wait_outcomes 35
tail_once
check "bob: 25 hard" test "$(rep bob hard)" = 25
check "bob suspended by the tailer (hard-bounce rate 100% over 25 >= 20)" test "$(state bob)" = suspended
sgctl audit bob >"$T" 2>&1 || true
expect "$T" 'senderguard-tail.*suspend.*hard-bounce-rate' "audit: suspension by senderguard-tail with the reason"
expect "$TB_DIR/log/tail.log" 'action=suspend reason=hard-bounce-rate' "syslog alert line for the suspension"
send "$T" --xclient "LOGIN=bob" --from b@bob.test --to ok9@dest.test
expect "$T" '^<\*\* 550 5\.7\.1 account bob is disabled' "bob's next MAIL FROM: 550 5.7.1"

# ---- complaints (ARF)
# shellcheck source=arf_report.sh
. "$(dirname "${BASH_SOURCE[0]}")/arf_report.sh"  # arf TOKEN MESSAGE-ID RCPT [FIELDS]
token() { printf 'v1.%s' "$(printf '%s' "$1" | openssl dgst -sha256 -hmac "$SECRET" -binary | head -c 16 |
    base64 | tr '+/' '-_' | tr -d '=')"; }

send "$T" --xclient "LOGIN=dave" --from d@dave.test --to ok20@dest.test,ok21@dest.test --header "Message-Id: <fixed-id-1@dave.test>"
check "Postfix delivered dave's message" wait_outcomes 37
rc=0; arf "" "<fixed-id-1@dave.test>" ok20@dest.test | "$E2E_BIN/senderguard-arf" -c "$SG_CONF" >"$T" 2>&1 || rc=$?
check "ARF by Message-ID: exit 0" test "$rc" = 0
check "dave: 1 complaint" test "$(rep dave complaints)" = 1
sgctl suppress check ok20@dest.test --account dave >"$T" 2>&1 || true
expect "$T" 'complaint' "the complainer is suppressed for dave"

# ---- each report counts once (providers resend; pipe(8) retries after a late temporary failure)
rc=0; arf "" "<fixed-id-1@dave.test>" ok20@dest.test | "$E2E_BIN/senderguard-arf" -c "$SG_CONF" >"$T" 2>&1 || rc=$?
check "the same report again: exit 0 (Postfix must not bounce it)" test "$rc" = 0
check "... and dave still has 1 complaint" test "$(rep dave complaints)" = 1
expect "$T" 'action=duplicate account=dave .*message_id=<fixed-id-1@dave.test>' "... logged as action=duplicate"
arf "" "<fixed-id-1@dave.test>" ok21@dest.test | "$E2E_BIN/senderguard-arf" -c "$SG_CONF" >"$T" 2>&1 || true
check "another recipient's report on the same message counts: dave 2 complaints" \
    test "$(rep dave complaints)" = 2
expect_not "$T" 'action=duplicate' "... not logged as a duplicate"
sgctl suppress check ok21@dest.test --account dave >"$T" 2>&1 || true
expect "$T" 'complaint' "... and its complainer is suppressed for dave"

send "$T" --xclient "LOGIN=frank" --from f@frank.test --to ok40@dest.test  # frank's record
for i in 1 2; do  # no Message-ID: Arrival-Date, Source-IP and the complainer name the report
    arf "$(token frank)" "" ok40@dest.test $'Arrival-Date: Thu, 26 Nov 2026 10:00:00 +0000\nSource-IP: 192.0.2.9' |
        "$E2E_BIN/senderguard-arf" -c "$SG_CONF" >"$T" 2>&1 || true
done
check "a report without Message-ID fed twice: frank 1 complaint (by Arrival-Date)" \
    test "$(rep frank complaints)" = 1
for i in 1 2; do  # nothing that names the report: counted each time, as before
    arf "$(token frank)" "" ok41@dest.test | "$E2E_BIN/senderguard-arf" -c "$SG_CONF" >"$T" 2>&1 || true
done
check "a report naming nothing fed twice counts twice: frank 3 complaints" \
    test "$(rep frank complaints)" = 3

rc=0; arf "$(token alice)" "<unrelated@x.test>" ok1@dest.test | "$E2E_BIN/senderguard-arf" -c "$SG_CONF" >"$T" 2>&1 || rc=$?
check "ARF by token: exit 0" test "$rc" = 0
check "alice: 1 complaint (by the token)" test "$(rep alice complaints)" = 1

arf "v1.AAAAAAAAAAAAAAAAAAAAAA" "<nobody@x.test>" z@dest.test | "$E2E_BIN/senderguard-arf" -c "$SG_CONF" >"$T" 2>&1 || true
check "a forged token blames nobody" test "$(rep alice complaints)" = 1

# ---- report: the same counts day by day, from the store this run filled (two days, in case
# the run crosses midnight UTC)
report_total() { sgctl report "$1" --days 2 --json | jq -r ".totals.$2"; }
for f in delivered hard soft technical deferred complaints; do
    check "report alice --json: totals.$f equals show's" test "$(report_total alice "$f")" = "$(rep alice "$f")"
done
check "report bob --json: 25 hard, a hard-bounce rate of 1" \
    test "$(sgctl report bob --days 2 --json | jq -r '[.totals.hard, .totals.hard_bounce_rate] | @tsv')" = "$(printf '25\t1')"
check "report bob: today judged bad (25 hard of 25 attempted)" \
    test "$(sgctl report bob --days 1 --json | jq -r '.days[0].verdict')" = bad
sum_accounts() { sgctl list --json | jq "[.accounts[].reputation.$1] | add"; }
check "report --all: the accounts' hard bounces summed (and of no account: none)" \
    test "$(report_total --all hard)" = "$(sum_accounts hard)"
# The forged token's complaint above blamed no account: --all counts it (the platform's).
check "report --all: complaints summed, and the one of no account" \
    test "$(report_total --all complaints)" = "$(($(sum_accounts complaints) + 1))"
sgctl report alice --days 3 --csv >"$T"
check "report --csv: a header and one line per day" test "$(wc -l <"$T")" = 4
check "... the header names the columns" grep -q '^account,day,attempted,delivered,hard,soft,technical,deferred,expired,complaints,complaint_rate,hard_bounce_rate,score,verdict,quota_used,refused,tier$' "$T"
sgctl report alice --days 90 >"$T"
check "report (table): 90 days, within 80 columns" test "$(awk 'length($0) > 80' "$T" | wc -l)" = 0
check "... one row per day (MM-DD) and a total" test "$(grep -c '^[01][0-9]-[0-3][0-9] \|^total ' "$T")" = 91
rc=0; sgctl report nosuch >"$T" 2>&1 || rc=$?
check "report of an unknown account: exit 1" test "$rc" = 1
check "top --by bounces: bob first (25 hard)" \
    test "$(sgctl top --by bounces --days 2 --json | jq -r '.accounts[0] | "\(.account) \(.hard)"')" = "bob 25"
check "top --by volume: alice's 6 final outcomes attempted (the deferral is not final)" \
    test "$(sgctl top --days 2 --limit 100 --json | jq -r '.accounts[] | select(.account == "alice") | .attempted')" = 6
sgctl top --days 2 >"$T"
check "top (table): within 80 columns" test "$(awk 'length($0) > 80' "$T" | wc -l)" = 0

# ---- report --svg: the chart, rendered by a real browser (Debian's chromium, headless) to a
# PNG that netpbm's pngtopnm decodes; perl counts the pixels. The window is larger than the
# chart (800x600), so the chart's own size shows as the box of non-white pixels (its frame).
CHART_DIR=$TB_DIR/chart
mkdir -p "$CHART_DIR"
# svg_png SVG PNG: renders SVG at 1000x800 into PNG. Chromium's profile and caches stay in
# $CHART_DIR/chromium; `timeout` ends its whole process group if it hangs.
svg_png() {
    local home=$CHART_DIR/chromium rc=0
    mkdir -p "$home"
    HOME=$home XDG_CONFIG_HOME=$home/config XDG_CACHE_HOME=$home/cache timeout -k 5 90 \
        chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
        --disable-extensions --disable-background-networking --disable-component-update \
        --disable-sync --hide-scrollbars --force-device-scale-factor=1 \
        --user-data-dir="$home/profile" --window-size=1000,800 --screenshot="$2" "file://$1" \
        >>"$TB_DIR/log/chromium.log" 2>&1 || rc=$?
    return "$rc"
}
# png_figures PNG: " size=WxH box=X0,Y0-X1,Y1 colours=N nonwhite=N" and the pixel count of
# each colour the chart documents: the two suspension thresholds, the delivered bars.
png_figures() {
    pngtopnm "$1" 2>/dev/null | perl -e '
        binmode STDIN; local $/; my $d = <STDIN>;
        $d =~ s/\AP6\s+(\d+)\s+(\d+)\s+255\s//s or die "not a P6 image\n";
        my ($w, $h) = ($1, $2);
        my (%n, $nonwhite); my ($x0, $y0, $x1, $y1) = ($w, $h, -1, -1);
        for my $y (0 .. $h - 1) {
            my $row = substr($d, 3 * $w * $y, 3 * $w);
            for my $x (0 .. $w - 1) {
                my $p = unpack("H6", substr($row, 3 * $x, 3));
                $n{$p}++;
                next if $p eq "ffffff";
                $nonwhite++;
                $x0 = $x if $x < $x0; $x1 = $x if $x > $x1;
                $y0 = $y if $y < $y0; $y1 = $y if $y > $y1;
            }
        }
        printf " size=%dx%d box=%d,%d-%d,%d colours=%d nonwhite=%d", $w, $h, $x0, $y0, $x1, $y1,
            scalar(keys %n), $nonwhite // 0;
        printf " %s=%d", $_, $n{$_} // 0 for qw(d62728 7b2cbf 3b6ea5);
        print "\n";'
}
fig() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
# chart_ok FIGURES: the window's size, the chart's 800x600 at its corner, not blank (many
# colours, 5% of the chart not white), each threshold a whole line of its own colour (the
# line alone is 716x2 pixels; its legend swatch and label add about 300).
chart_ok() {
    [[ $(fig "$1" size) == 1000x800 && $(fig "$1" box) == 0,0-799,599 ]] &&
        (($(fig "$1" colours) >= 50 && $(fig "$1" nonwhite) >= 24000)) &&
        (($(fig "$1" d62728) >= 1400 && $(fig "$1" 7b2cbf) >= 1400))
}
chart_fails() { ! chart_ok "$1"; }
# no_chromium_left: no process of the profile directory outlived its screenshot.
no_chromium_left() { ! pgrep -f -- "--user-data-dir=$CHART_DIR/chromium/profile" >/dev/null; }

rc=0; sgctl report alice --days 30 --svg "$CHART_DIR/alice.svg" >"$T" 2>&1 || rc=$?
check "report alice --svg FILE: exit 0, one line naming the file" \
    test "$rc:$(cat "$T")" = "0:wrote $CHART_DIR/alice.svg (800x600, 30 days)"
check "... the file is an SVG document naming alice" grep -q '<title>Delivery report: alice, ' "$CHART_DIR/alice.svg"
check "... and no temporary file is left beside it" test "$(ls "$CHART_DIR")" = alice.svg
sgctl report --all --days 90 --svg - >"$CHART_DIR/all.svg"
check "report --all --svg -: the platform's 90 days on stdout" \
    grep -q '<title>Delivery report: all accounts, .*(90 UTC days)</title>' "$CHART_DIR/all.svg"
rc=0; sgctl report alice --svg "$CHART_DIR/no/such/dir.svg" >"$T" 2>&1 || rc=$?
check "report --svg into a missing directory: exit 74" test "$rc" = 74
expect "$T" "cannot write $CHART_DIR/no/such/dir.svg: No such file or directory" "... saying why"
rc=0; sgctl report alice --svg "$CHART_DIR/x.svg" --json >"$T" 2>&1 || rc=$?
check "report --svg with --json: a usage error (64), no file" test "$rc:$(ls "$CHART_DIR" | grep -c x.svg)" = "64:0"

if command -v chromium >/dev/null && command -v pngtopnm >/dev/null; then
    for c in alice all; do
        rc=0; svg_png "$CHART_DIR/$c.svg" "$CHART_DIR/$c.png" || rc=$?
        check "chromium rendered the $c chart (exit $rc)" test "$rc" = 0 -a -s "$CHART_DIR/$c.png"
        figs=$(png_figures "$CHART_DIR/$c.png")
        echo "# $c.png:$figs"
        check "... $c.png: 1000x800, the chart 800x600, not blank, both thresholds drawn" chart_ok "$figs"
        # The legend's swatch is 14x10 pixels of that blue: more is a bar.
    check "... $c.png: the delivered bars are there" test "$(fig "$figs" 3b6ea5)" -gt 150
        check "... chromium left no process behind" no_chromium_left
    done
    # The check must be able to fail: the same chart without its two threshold lines (their
    # legend entries and labels kept) does not pass.
    grep -v 'id="threshold-' "$CHART_DIR/alice.svg" >"$CHART_DIR/nolines.svg"
    svg_png "$CHART_DIR/nolines.svg" "$CHART_DIR/nolines.png" || true
    figs=$(png_figures "$CHART_DIR/nolines.png")
    echo "# nolines.png:$figs"
    check "a chart without the threshold lines fails the check" test -s "$CHART_DIR/nolines.png" -a "$(fig "$figs" size)" = 1000x800
    check "... (it is not passed)" chart_fails "$figs"
else
    not_ok "report --svg in a browser: chromium and netpbm are needed (scripts/setup.sh installs them)"
fi

sgctl suspend erin --reason "complaints" --create >/dev/null
sgctl reinstate erin --for 1d >/dev/null
check "erin reinstated" test "$(state erin)" = reinstated
arf "$(token erin)" "<e1@erin.test>" ok30@dest.test | "$E2E_BIN/senderguard-arf" -c "$SG_CONF" >"$T" 2>&1 || true
check "erin suspended again by a complaint while reinstated" test "$(state erin)" = suspended

# ---- the milter adds the token and removes one the client brought
install -d -o postfix -g postfix "$TB_DIR/keep"
smtp-sink -u postfix -d "$TB_DIR/keep/%H%M%S." "127.0.0.1:$KEEP_PORT" 16 >/dev/null 2>&1 &
tb_track_pid $!
sleep 0.5
send "$T" --xclient "LOGIN=alice" --from a@alice.test --to k1@keep.test --header "X-Senderguard-ID: $(token bob)"
for ((i = 0; i < 100; i++)); do [[ -n $(find "$TB_DIR/keep" -type f 2>/dev/null) ]] && break; sleep 0.1; done
kept=$(find "$TB_DIR/keep" -type f | head -n 1)
check "the delivered message carries exactly one token header" \
    test "$(grep -ci '^X-Senderguard-ID:' "$kept" 2>/dev/null)" = 1
check "... and it is alice's (the client's forged one for bob is gone)" \
    grep -q "^X-Senderguard-ID: $(token alice)" "$kept"

rc=0; printf 'From: a@b.test\nSubject: hi\n\nnot a report\n' | "$E2E_BIN/senderguard-arf" -c "$SG_CONF" >"$T" 2>&1 || rc=$?
check "a non-ARF message: exit 65 (EX_DATAERR)" test "$rc" = 65
expect "$T" 'not a feedback report' "a clear line on stderr"

finish
