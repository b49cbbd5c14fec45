#!/usr/bin/env bash
# Quota exactness under concurrency: 50 SMTP clients at once (swaks, XCLIENT LOGIN=conc) send
# 300 one-recipient messages for one account whose daily quota is 100 recipients. Exactly 100
# must be accepted — not one more, not one fewer — and the store must say 100. (smtp-source
# cannot be used here: it stops every session at the first refused recipient.)
. "$(dirname "$0")/lib.sh"

e2e_start
sgctl quota set conc day=100 --create >/dev/null
mkdir -p "$TB_DIR/out"
seq 1 300 | xargs -P 50 -I{} sh -c 'swaks --server 127.0.0.1 --port "$1" --xclient LOGIN=conc \
    --from s@conc.test --to "r$2@dest.test" --timeout 60 >"$3/out/$2" 2>&1 || true' _ "$TB_SMTP_PORT" {} "$TB_DIR"
accepted=$(cat "$TB_DIR"/out/* | grep -c '^<-  250 2.0.0 Ok: queued' || true)
tempfailed=$(cat "$TB_DIR"/out/* | grep -c '^<\*\* 452 4.7.1 daily quota' || true)
[[ $accepted == 100 ]] && ok "exactly 100 of 300 messages accepted with 50 concurrent clients" || not_ok "accepted $accepted, expected 100"
[[ $tempfailed == 200 ]] && ok "the other 200 got 452 4.7.1" || not_ok "452 replies: $tempfailed, expected 200"
tb_wait_queue_empty 60 || true
n=$(tb_sink_count)
[[ $n == 100 ]] && ok "the sink received exactly 100" || not_ok "delivered $n, expected 100"
used=$(sgctl show conc --json | tr -d ' \n' | grep -o '"used":[0-9]*,"window":"day"' | grep -o '[0-9]\+' | head -n1)
[[ $used == 100 ]] && ok "store: day used=100" || not_ok "store: day used=$used"
refused=$(grep -c 'account=conc .*action=tempfail reason=quota' "$SG_LOG" || true)
[[ $refused == 200 ]] && ok "200 refusals logged" || not_ok "refusals logged: $refused"
held=$(grep -c "action=tempfail reason=quota.* reserved=[1-9]" "$SG_LOG" || true)
echo "# refusals decided while other transactions held reservations: $held"
finish
