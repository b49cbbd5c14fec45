#!/usr/bin/env bash
# Two Postfix instances on one machine, each with its own senderguard-milter, on ONE store: the
# quota is exact across both. 50 concurrent clients per instance (100 at once) send 300
# one-recipient messages for one account whose daily quota is 100: exactly 100 are accepted over
# the two, and the store says 100. Then a milter is killed with SIGKILL while an SMTP transaction
# holds recipients: the surviving milter gives the dead one's holds back within seconds, and
# they are not counted.
#
# The second instance is this script run again with --second (its own testbed: Postfix, ports,
# milter), relaying to the first instance's sink and using the first's store.
. "$(dirname "$0")/lib.sh"

if [[ ${1:-} == --second ]]; then
    sink_port=$2 store=$3 ready=$4
    tb_init
    TB_SINK_PORT=$sink_port
    SG_CONF=$TB_DIR/senderguard.conf
    SG_SOCK=$TB_DIR/milter.sock
    SG_LOG=$TB_DIR/log/milter.log
    printf '[store]\npath = "%s"\n[milter]\nsocket = "unix:%s"\nsocket_mode = "0666"\nlog_stderr = true\n[dmarc]\nmode = "off"\n' \
        "$store" "$SG_SOCK" >"$SG_CONF"
    e2e_start_milter
    tb_start_postfix "unix:$SG_SOCK"
    echo "$TB_SMTP_PORT $SG_MILTER_PID $SG_LOG $TB_DIR" >"$ready.tmp"
    mv "$ready.tmp" "$ready"
    while :; do sleep 0.2; done  # until the first instance stops it (TERM: the EXIT trap stops all)
fi

e2e_start
bash "$0" --second "$TB_SINK_PORT" "$TB_DIR/store" "$TB_DIR/second.ready" >"$TB_DIR/log/second.out" 2>&1 &
tb_track_pid $!
for _ in $(seq 1 300); do [[ -s $TB_DIR/second.ready ]] && break; sleep 0.1; done
[[ -s $TB_DIR/second.ready ]] || { cat "$TB_DIR/log/second.out"; not_ok "second instance did not start"; finish; }
read -r B_PORT B_MILTER_PID B_LOG B_DIR <"$TB_DIR/second.ready"
ok "two Postfix instances with a milter each on one store ($TB_SMTP_PORT, $B_PORT)"

sgctl quota set conc day=100 --create >/dev/null
mkdir -p "$TB_DIR/out"
send_many() { # PORT TAG
    seq 1 150 | xargs -P 50 -I{} sh -c 'swaks --server 127.0.0.1 --port "$1" --xclient LOGIN=conc \
        --from s@conc.test --to "r$2-$3@dest.test" --timeout 60 >"$4/out/$2-$3" 2>&1 || true' \
        _ "$1" "$2" {} "$TB_DIR"
}
send_many "$TB_SMTP_PORT" a &
A=$!
send_many "$B_PORT" b &
B=$!
wait "$A" "$B"
accepted_a=$(cat "$TB_DIR"/out/a-* | grep -c '^<-  250 2.0.0 Ok: queued' || true)
accepted_b=$(cat "$TB_DIR"/out/b-* | grep -c '^<-  250 2.0.0 Ok: queued' || true)
tempfailed=$(cat "$TB_DIR"/out/* | grep -c '^<\*\* 452 4.7.1 daily quota' || true)
echo "# accepted: $accepted_a through the first, $accepted_b through the second"
(( accepted_a + accepted_b == 100 )) && ok "exactly 100 of 300 accepted across the two instances" \
    || not_ok "accepted $((accepted_a + accepted_b)), expected 100"
(( accepted_a > 0 && accepted_b > 0 )) && ok "both instances accepted some" || not_ok "one instance accepted none"
[[ $tempfailed == 200 ]] && ok "the other 200 got 452 4.7.1" || not_ok "452 replies: $tempfailed, expected 200"
used=$(sgctl show conc --json | tr -d ' \n' | grep -o '"used":[0-9]*,"window":"day"' | grep -o '[0-9]\+' | head -n1)
[[ $used == 100 ]] && ok "store: day used=100" || not_ok "store: day used=$used"
for _ in $(seq 1 600); do (( $(tb_sink_count) >= 100 )) && break; sleep 0.1; done
sleep 1
n=$(tb_sink_count)
[[ $n == 100 ]] && ok "the sink received exactly 100" || not_ok "delivered $n, expected 100"

# A transaction on the second instance holds 5 recipients (quota 5) when its milter is killed.
sgctl quota set held day=5 --create >/dev/null
exec 7<>"/dev/tcp/127.0.0.1/$B_PORT"
smtp() { printf '%s\r\n' "$1" >&7; IFS= read -r -t 10 reply <&7 || reply=timeout; while [[ $reply == ???-* ]]; do IFS= read -r -t 10 reply <&7 || break; done; }
IFS= read -r -t 10 reply <&7   # banner
smtp "EHLO held.test"
smtp "XCLIENT LOGIN=held"
IFS= read -r -t 10 reply <&7 || true  # XCLIENT answers with a new banner after its own reply
smtp "EHLO held.test"
smtp "MAIL FROM:<s@held.test>"
for i in 1 2 3 4 5; do smtp "RCPT TO:<h$i@dest.test>"; done
[[ $reply == 250* ]] && ok "second instance: 5 recipients held in an open transaction" || not_ok "RCPT reply: $reply"
send "$TB_DIR/refused.out" --xclient LOGIN=held --from s@held.test --to one@dest.test
expect "$TB_DIR/refused.out" '^<\*\* 452 4.7.1 daily quota' "first instance: refused while the other holds all 5"
kill -9 "$B_MILTER_PID"
t0=$(date +%s%N)
for _ in $(seq 1 150); do grep -q 'action=reclaim-holds' "$SG_LOG" && break; sleep 0.1; done
t1=$(date +%s%N)
grep -q 'action=reclaim-holds owners=1 .*units=5' "$SG_LOG" \
    && ok "the first milter gave back the killed one's 5 units ($(( (t1 - t0) / 1000000 )) ms after the kill)" \
    || not_ok "no reclaim-holds line for 5 units: $(grep reclaim "$SG_LOG" || echo none)"
exec 7>&- 7<&-
send "$TB_DIR/after.out" --xclient LOGIN=held --from s@held.test --to a1@dest.test,a2@dest.test,a3@dest.test,a4@dest.test,a5@dest.test
expect "$TB_DIR/after.out" '^<-  250 2.0.0 Ok: queued' "first instance: all 5 accepted after the reclaim"
used=$(sgctl show held --json | tr -d ' \n' | grep -o '"used":[0-9]*,"window":"day"' | grep -o '[0-9]\+' | head -n1)
[[ $used == 5 ]] && ok "store: held used=5 (the killed transaction counted nothing)" || not_ok "store: held used=$used"

# A third milter started by hand with the first's configuration must not take over its socket.
set +e
timeout 20 "$E2E_BIN/senderguard-milter" -c "$SG_CONF" >"$TB_DIR/third.out" 2>&1
rc=$?
set -e
[[ $rc == 75 ]] && grep -q 'another milter is listening there' "$TB_DIR/third.out" \
    && ok "a second milter on the same socket refuses to start (exit 75)" \
    || not_ok "second milter on the same socket: exit $rc, $(tail -n 2 "$TB_DIR/third.out")"
send "$TB_DIR/still.out" --xclient LOGIN=still --from s@still.test --to one@dest.test
expect "$TB_DIR/still.out" '^<-  250 2.0.0 Ok: queued' "the first milter still serves its socket"
finish
