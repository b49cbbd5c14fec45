#!/usr/bin/env bash
# A milter killed with SIGKILL under load loses no committed count: every message Postfix
# accepted was counted before the milter answered, so after the kill the store's count is at
# least the number delivered (and at most that plus the messages in flight, which Postfix
# refused with milter_default_action = tempfail). The milter then restarts on the same store
# (stale reader slots cleared) and goes on counting.
. "$(dirname "$0")/lib.sh"

e2e_start
sgctl quota set load.test day=1000000 --create >/dev/null
smtp-source -s 20 -m 5000 -f s@load.test -t r@dest.test "127.0.0.1:$TB_SMTP_PORT" \
    >"$TB_DIR/source.out" 2>&1 &
SRC=$!
tb_track_pid "$SRC"
# Let load build up, then kill the milter mid-flight.
for _ in $(seq 1 100); do
    (( $(grep -c 'action=accept' "$SG_LOG" || true) >= 300 )) && break
    sleep 0.1
done
kill -9 "$SG_MILTER_PID"
wait "$SG_MILTER_PID" 2>/dev/null || true
wait "$SRC" 2>/dev/null || true
grep -q '451 4.7.1 Service unavailable' "$TB_DIR/source.out" \
    && ok "Postfix applied milter_default_action (tempfail) after the kill" || not_ok "no tempfail seen after the kill"
tb_wait_queue_empty 60 || true
delivered=$(tb_sink_count)
used=$(sgctl show load.test --json | tr -d ' \n' | grep -o '"used":[0-9]*,"window":"day"' | grep -o '[0-9]\+' | head -n1)
echo "# delivered=$delivered counted=$used"
((delivered >= 300)) && ok "load was running when the milter died ($delivered delivered)" || not_ok "only $delivered delivered"
((used >= delivered)) && ok "no committed count lost (counted $used >= delivered $delivered)" || not_ok "counted $used < delivered $delivered"
((used - delivered <= 20)) && ok "over-count bounded by the messages in flight ($((used - delivered)) <= 20)" || not_ok "over-count $((used - delivered))"

e2e_start_milter
T=$TB_DIR/t.out
send "$T" --from s@load.test --to r@dest.test
expect "$T" '^<-  250 2\.0\.0 Ok: queued' "restarted milter accepts mail on the same store"
used2=$(sgctl show load.test --json | tr -d ' \n' | grep -o '"used":[0-9]*,"window":"day"' | grep -o '[0-9]\+' | head -n1)
[[ $used2 == $((used + 1)) ]] && ok "counting goes on after the restart ($used2)" || not_ok "count after restart $used2, expected $((used + 1))"
finish
