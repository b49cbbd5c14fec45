#!/usr/bin/env bash
# Monitoring end to end ([monitoring], issue 14 item 6): a real private Postfix with
# senderguard-milter (DMARC outbound against dnsmasq on loopback) and senderguard-tail
# following Postfix's log, both with interval = "1s" and a Prometheus text file each. A known
# set of messages is sent: accepted, refused at MAIL FROM (suspended), at RCPT TO (suppressed),
# tempfailed (quota), refused at end of message (DMARC p=reject), DMARC pass / fail / none,
# one hard bounce. Checks: a summary line every interval, all zeros before any mail; the
# summary lines' counts add up to what was sent, and so do the .prom files' totals; the
# latency histogram counted every MAIL FROM, RCPT TO and end of message; each .prom file is
# valid text format (tests/e2e/prom_check.pl) with no account or address in a label; the
# milter's daily figures (report: quota used, refusals, tier; top --by refusals) match what
# was sent, written by its reporter within an interval and at its stop.
. "$(dirname "$0")/lib.sh"

# A hard bounce without a remote server: Postfix's error agent. (The message that bounces has
# a null envelope sender, so Postfix sends no bounce notice through the milter.)
export TB_TRANSPORT_MAPS='inline:{ {dead.test = error:5.1.1 user unknown} }'
e2e_pre_start() {
    e2e_start_dnsmasq 'txt-record=_dmarc.esp.test,"v=DMARC1; p=reject"
txt-record=_dmarc.yahoo.test,"v=DMARC1; p=reject"'
}
e2e_start '
[monitoring]
interval = "1s"
textfile = "@TB_DIR@/prom/{program}.prom"
[tail]
source = "@TB_DIR@/log/postfix.log"
rules = "'"$E2E_SRC"'/conf/bounce-rules.conf"
timezone = "localtime"
[dmarc]
mode = "outbound"
signing_domains = ["esp.test"]
egress = ["192.0.2.10"]
upstream = ["@DNS@"]
dns_timeout_ms = 1500
test_tld = true
'
MPROM=$TB_DIR/prom/senderguard-milter.prom
TPROM=$TB_DIR/prom/senderguard-tail.prom
TLOG=$TB_DIR/log/tail.log
T=$TB_DIR/t.out

# The directory is not there yet: the milter says so, and keeps running.
# wait_line FILE PATTERN: waits up to 10 s for a line of FILE matching PATTERN (grep -E)
wait_line() {
    local i
    for ((i = 0; i < 100; i++)); do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
check "a textfile that cannot be written is logged (action=textfile-error)" \
    wait_line "$SG_LOG" "action=textfile-error path=$MPROM error=\"$MPROM\.tmp: cannot create: No such file"
mkdir "$TB_DIR/prom"

"$E2E_BIN/senderguard-tail" -c "$SG_CONF" --stderr >>"$TLOG" 2>&1 &
SG_TAIL_PID=$!
tb_track_pid "$SG_TAIL_PID"

# waits up to 10 s for FILE to have N summary lines
wait_summaries() {
    local file=$1 n=$2 i
    for ((i = 0; i < 100; i++)); do
        (($(grep -c 'action=summary' "$file" 2>/dev/null || true) >= n)) && return 0
        sleep 0.1
    done
    return 1
}
check "milter: summary lines once a second" wait_summaries "$SG_LOG" 3
check "tailer: summary lines once a second" wait_summaries "$TLOG" 2
check "milter: the .prom file appears" test -s "$MPROM"
check "tailer: the .prom file appears" test -s "$TPROM"
ZERO=' accepted=0 rejected=0 tempfailed=0 would_reject=0 would_tempfail=0 rejected_suspended=0 rejected_suppressed=0 rejected_quota=0 rejected_dmarc=0 rejected_dmarc_author=0 rejected_dmarc_unverified_domain=0 rejected_error=0 tempfailed_quota=0 tempfailed_dmarc_temperror=0 tempfailed_error=0 dmarc_pass=0 dmarc_fail=0 dmarc_none=0 dmarc_temperror=0 dmarc_permerror=0 store_errors=0 decisions=0 latency_p50_us=0 latency_p99_us=0 latency_max_us=0'
# (interval_s is 1, or more when this busy machine woke the reporter late)
grep -E '^senderguard-milter\[info\]: action=summary interval_s=[0-9]+ ' "$SG_LOG" | grep -qF "$ZERO" \
    && ok "milter: nothing happened yet, the summary is written all zeros" \
    || not_ok "milter: all-zero summary ($(grep -m1 'action=summary' "$SG_LOG"))"
grep -qE 'senderguard-tail\[info\]: action=summary interval_s=[0-9]+ source=file:[^ ]*postfix\.log lines=[0-9]+ delivered=0 deferred=0 hard=0 soft=0 technical=0 expired=0 unattributed=0 malformed=0 lag_s=0$' "$TLOG" \
    && ok "tailer: nothing delivered yet, the summary is written with zeros" \
    || not_ok "tailer: zero summary ($(grep -m1 'action=summary' "$TLOG"))"

# ---- the messages (From: header = envelope sender unless said)
sgctl suspend bob --reason test --create >/dev/null
sgctl suppress add dead@dest.test >/dev/null
sgctl quota set dave day=1 --create >/dev/null
for i in 1 2 3; do
    send "$T" --xclient "LOGIN=alice" --from a@esp.test --to "ok$i@dest.test"
    expect "$T" '^<-  250 2\.0\.0 Ok: queued' "alice #$i accepted (DMARC pass: esp.test is signed by the platform)"
done
send "$T" --xclient "LOGIN=alice" --from '' --header 'From: <a@esp.test>' --to gone@dead.test
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "alice: a message that will hard-bounce, accepted"
for i in 1 2; do
    send "$T" --xclient "LOGIN=bob" --from b@esp.test --to x@dest.test
    expect "$T" '^<\*\* 550 5\.7\.1 account bob is disabled' "bob #$i refused at MAIL FROM (suspended)"
done
send "$T" --xclient "LOGIN=carol" --from c@esp.test --to ok4@dest.test,dead@dest.test
expect "$T" '^<\*\* 550 5\.7\.1 recipient dead@dest\.test is suppressed' "carol: suppressed recipient refused"
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "carol: the other recipient accepted"
send "$T" --xclient "LOGIN=dave" --from d@esp.test --to ok5@dest.test,over@dest.test
expect "$T" '^<\*\* 452 4\.7\.1 daily quota of 1 recipients reached' "dave: second recipient tempfailed (quota)"
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "dave: the first accepted"
send "$T" --xclient "LOGIN=erin" --from e@yahoo.test --to ok6@dest.test
expect "$T" '^<\*\* 550 5\.7\.1 yahoo\.test publishes DMARC p=reject' "erin: From: yahoo.test refused at end of message (DMARC fail)"
send "$T" --xclient "LOGIN=frank" --from f@norecord.test --to ok7@dest.test
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "frank: no DMARC record, accepted (DMARC none)"
# What was sent: 7 messages accepted, 4 refusals (2 suspended, 1 suppressed, 1 DMARC), 1
# tempfail (quota); DMARC pass 6, fail 1, none 1; MAIL FROM 10 times, RCPT TO 10, end of
# message 8. Postfix delivers 6 to the sink and bounces 1 (hard).
tb_wait_queue_empty 30 || true

# sum KEY FILE: the sum of KEY over FILE's summary lines
sum() { grep 'action=summary' "$2" | grep -oE "(^| )$1=[0-9]+" | cut -d= -f2 | awk '{s += $1} END {print s + 0}'; }
wait_tail_counts() {
    local i
    for ((i = 0; i < 100; i++)); do
        (($(sum delivered "$TLOG") >= 6 && $(sum hard "$TLOG") >= 1)) && return 0
        sleep 0.1
    done
    return 1
}
check "tailer: the deliveries reach its summaries" wait_tail_counts
sleep 1.2  # one more interval of each

# ---- the milter's daily figures (report, top --by refusals): written by its reporter each
# interval, not per message; two UTC days in case the run crosses midnight.
# figures ACCOUNT: "quota_used refused tier" of `report --json` (the last day's tier seen)
figures() {
    sgctl report "$1" --days 2 --json |
        jq -r '"\(.totals.quota_used) \(.totals.refused) \([.days[].tier | select(. != null)] | last)"'
}
check "report bob while the milter runs: its 2 refusals written within an interval" \
    test "$(figures bob)" = "0 2 1"

# Stop both: each writes a last summary and its file with the totals.
kill -TERM "$SG_TAIL_PID"
wait "$SG_TAIL_PID" || true
kill -TERM "$SG_MILTER_PID"
wait "$SG_MILTER_PID" || true
grep -q 'action=stop status=0' "$SG_LOG" && ok "milter stopped" || not_ok "milter stopped"

# ---- the milter's summaries
m_expect() { # m_expect KEY WANT
    local got
    got=$(sum "$1" "$SG_LOG")
    [[ $got == "$2" ]] && ok "milter summaries: $1 adds up to $2" || not_ok "milter summaries: $1 = $got, want $2"
}
m_expect accepted 7
m_expect rejected 4
m_expect tempfailed 1
m_expect rejected_suspended 2
m_expect rejected_suppressed 1
m_expect rejected_dmarc 1
m_expect rejected_quota 0
m_expect tempfailed_quota 1
m_expect dmarc_pass 6
m_expect dmarc_fail 1
m_expect dmarc_none 1
m_expect store_errors 0
m_expect decisions 12
m_expect would_reject 0
# The summaries that saw mail have latencies; p50 <= p99 <= max.
if grep 'action=summary' "$SG_LOG" | grep -v ' decisions=0 ' |
    awk '{for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
          if (!(v["latency_max_us"] > 0 && v["latency_p50_us"] <= v["latency_p99_us"] && v["latency_p99_us"] <= v["latency_max_us"])) bad = 1}
          END {exit bad}'; then
    ok "milter summaries: latency p50 <= p99 <= max, max > 0"
else
    not_ok "milter summaries: latencies"
fi
n=$(grep -c 'senderguard-milter\[info\]: action=summary interval_s=' "$SG_LOG")
n1=$(grep -c 'senderguard-milter\[info\]: action=summary interval_s=1 ' "$SG_LOG")
((n >= 5 && n1 >= n / 2)) && ok "milter: $n summaries, $n1 of them of 1 s" || not_ok "milter: $n summaries, $n1 of 1 s"

# ---- the milter's daily figures, after its last write at the stop
f_expect() { # f_expect ACCOUNT WANT WHAT
    local got
    got=$(figures "$1" 2>&1)
    [[ $got == "$2" ]] && ok "report $1 --json: quota_used refused tier = $2 ($3)" ||
        not_ok "report $1 --json: quota_used refused tier = '$got', want $2 ($3)"
}
f_expect alice "4 0 1" "4 messages of 1 recipient accepted"
f_expect bob "0 2 1" "2 refused at MAIL FROM (suspended)"
f_expect carol "1 1 1" "1 recipient accepted, 1 refused (suppressed)"
f_expect dave "1 1 1" "1 recipient accepted, 1 tempfailed (quota)"
f_expect erin "0 1 1" "refused at end of message (DMARC); only refused"
sgctl show erin >/dev/null 2>&1 && ok "erin, only ever refused, has a record (the milter's figures made it)" ||
    not_ok "erin has no record"
f_expect frank "1 0 1" "1 accepted"
# The platform's days: the quota used is the accepted messages' recipients (one each here);
# the refusals are the summaries' rejected + tempfailed (erin's too: only refused, she has a
# record all the same).
all=$(sgctl report --all --days 2 --json | jq -r '"\(.totals.quota_used) \(.totals.refused) \([.days[].tier] | unique)"')
[[ $all == "7 $(($(sum rejected "$SG_LOG") + $(sum tempfailed "$SG_LOG"))) [null]" ]] &&
    ok "report --all: 7 units used, the summaries' refusals, no tier ($all)" ||
    not_ok "report --all: '$all'"
sgctl report dave --days 2 --csv >"$T"
check "report --csv: quota_used, refused, tier at the end of each line" \
    grep -qE '^dave,[0-9-]+,1,1,.*,1,1,1$' "$T"
top=$(sgctl top --by refusals --json | jq -r '[.accounts[] | "\(.account)=\(.refused)"] | join(" ")')
[[ $top == "bob=2 carol=1 dave=1 erin=1" ]] &&
    ok "top --by refusals: bob first, erin (only refused) listed ($top)" || not_ok "top --by refusals: '$top'"
sgctl top --by refusals >"$T"
check "top --by refusals (table): within 80 columns, bob first" \
    test "$(awk 'length($0) > 80' "$T" | wc -l):$(sed -n 2p "$T" | awk '{print $1, $(NF - 1)}')" = "0:bob 2"
sgctl report dave --days 3 >"$T"
check "report (table): within 80 columns" test "$(awk 'length($0) > 80' "$T" | wc -l)" = 0
today_row=$(grep -E "^$(date -u +%m-%d) " "$T" || true)
check "report (table): today's USED 1, RFSD 1, T 1 ($today_row)" \
    test "$(awk '{print $10, $11, $15}' <<<"$today_row")" = "1 1 1"

# ---- the milter's file: the totals, valid text format
check "milter .prom is valid Prometheus text format, no address in a label" perl "$E2E_SRC/tests/e2e/prom_check.pl" "$MPROM"
p_expect() { # p_expect FILE SERIES WANT
    local got
    got=$(awk -v s="$2 " 'index($0, s) == 1 {print $NF}' "$1")
    [[ $got == "$3" ]] && ok "${1##*/}: $2 $3" || not_ok "${1##*/}: $2 is '$got', want $3"
}
p_expect "$MPROM" 'senderguard_milter_decisions_total{stage="eom",action="accept",reason="none"}' 7
p_expect "$MPROM" 'senderguard_milter_decisions_total{stage="mail",action="reject",reason="suspended"}' 2
p_expect "$MPROM" 'senderguard_milter_decisions_total{stage="rcpt",action="reject",reason="suppressed"}' 1
p_expect "$MPROM" 'senderguard_milter_decisions_total{stage="rcpt",action="tempfail",reason="quota"}' 1
p_expect "$MPROM" 'senderguard_milter_decisions_total{stage="eom",action="reject",reason="dmarc"}' 1
p_expect "$MPROM" 'senderguard_milter_dmarc_results_total{result="pass"}' 6
p_expect "$MPROM" 'senderguard_milter_dmarc_results_total{result="fail"}' 1
p_expect "$MPROM" 'senderguard_milter_dmarc_results_total{result="none"}' 1
p_expect "$MPROM" 'senderguard_milter_store_errors_total' 0
p_expect "$MPROM" 'senderguard_milter_decision_duration_seconds_count{stage="mail"}' 10
p_expect "$MPROM" 'senderguard_milter_decision_duration_seconds_count{stage="rcpt"}' 10
p_expect "$MPROM" 'senderguard_milter_decision_duration_seconds_count{stage="eom"}' 8
[[ $(grep -c '^senderguard_milter_decisions_total' "$MPROM") == 5 ]] \
    && ok "milter .prom: exactly the 5 decision series counted" || not_ok "milter .prom: decision series: $(grep '^senderguard_milter_decisions_total' "$MPROM")"
version=$(sed -n 's/^project(senderguard VERSION \([0-9.]*\).*/\1/p' "$E2E_SRC/CMakeLists.txt")
grep -qx "senderguard_build_info{program=\"senderguard-milter\",version=\"$version\"} 1" "$MPROM" \
    && ok "milter .prom: senderguard_build_info with version $version" || not_ok "milter .prom: build_info"
if grep -qE 'alice|bob|carol|dave|erin|frank|esp\.test|dest\.test' "$MPROM" "$TPROM"; then
    not_ok "no account or address in the .prom files"
else
    ok "no account or address in the .prom files"
fi
check "milter .prom: mode 0644 for node_exporter" test "$(stat -c %a "$MPROM")" = 644
check "no temporary file left" test ! -e "$MPROM.tmp" -a ! -e "$TPROM.tmp"

# ---- the tailer's summaries and file
t_expect() { # t_expect KEY WANT
    local got
    got=$(sum "$1" "$TLOG")
    [[ $got == "$2" ]] && ok "tailer summaries: $1 adds up to $2" || not_ok "tailer summaries: $1 = $got, want $2"
}
t_expect delivered 6
t_expect hard 1
t_expect deferred 0
t_expect soft 0
t_expect unattributed 0
check "tailer .prom is valid Prometheus text format" perl "$E2E_SRC/tests/e2e/prom_check.pl" "$TPROM"
p_expect "$TPROM" 'senderguard_tail_outcomes_total{class="delivered"}' 6
p_expect "$TPROM" 'senderguard_tail_outcomes_total{class="hard"}' 1
p_expect "$TPROM" 'senderguard_tail_unattributed_total' 0
p_expect "$TPROM" 'senderguard_tail_lines_total' "$(sum lines "$TLOG")"
p_expect "$TPROM" 'senderguard_tail_lag_seconds' 0
[[ $(grep -c ' lag_s=0$' "$TLOG") == $(grep -c 'action=summary' "$TLOG") ]] \
    && ok "tailer: lag 0 in every summary (it keeps up with the log)" || not_ok "tailer: lag: $(grep -o 'lag_s=[0-9]*' "$TLOG" | sort | uniq -c | tr '\n' ' ')"

# ---- senderguardctl stats over this run: the store's counts and both files read back
sgctl stats --json >"$TB_DIR/stats.json" 2>"$TB_DIR/stats.err"
s_expect() { # s_expect WHAT JQ WANT
    local got
    got=$(jq -c "$2" "$TB_DIR/stats.json" 2>&1)
    [[ $got == "$3" ]] && ok "stats: $1 $3" || not_ok "stats: $1 is '$got', want $3 ($(cat "$TB_DIR/stats.err"))"
}
s_expect "accounts suspended, reinstated" '[.accounts.suspended, .accounts.reinstated]' '[1,0]'
s_expect "accounts as list counts them" '.accounts.total' "$(sgctl list --json | jq '.accounts | length')"
s_expect "global suppressions" '.suppressions.global' 1
s_expect "30 days: attempted, delivered, hard, complaints" \
    '.outcomes.last_30_days | [.attempted, .delivered, .hard, .complaints]' '[7,6,1,0]'
s_expect "30 days: hard-bounce rate" '.outcomes.last_30_days.hard_bounce_rate * 7 | round' 1
s_expect "milter: decisions by action and reason" \
    '.daemons["senderguard-milter"].decisions | map("\(.action)/\(.reason)=\(.count)") | join(" ")' \
    '"accept/none=7 reject/suspended=2 reject/suppressed=1 reject/dmarc=1 tempfail/quota=1"'
s_expect "milter: DMARC pass, fail, none" '.daemons["senderguard-milter"].dmarc | [.pass, .fail, .none]' '[6,1,1]'
s_expect "milter: the version" '.daemons["senderguard-milter"].version' "\"$version\""
s_expect "tailer: outcomes, lag" '.daemons["senderguard-tail"] | [.outcomes.delivered, .outcomes.hard, .lag_s]' '[6,1,0]'
s_expect "tailer: its file's age" '.daemons["senderguard-tail"].age_s < 60' true
sgctl stats >"$TB_DIR/stats.txt" 2>&1
grep -qE '^  reject +suspended +2$' "$TB_DIR/stats.txt" && ok "stats: the human table" \
    || not_ok "stats: human output: $(cat "$TB_DIR/stats.txt")"
finish
