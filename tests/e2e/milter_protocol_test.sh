#!/usr/bin/env bash
# The milter protocol as senderguard-milter negotiates it, read on the wire (tests/e2e/
# milter_mta.pl plays the MTA over the milter's unix socket; no Postfix): offered every step,
# it asks only for those it uses, and the MTA need not wait for its answer at CONNECT
# (SMFIP_NR_CONN: one round trip fewer per SMTP connection) nor for each header (SMFIP_NR_HDR).
# Its first reply after CONNECT, the macros and MAIL is MAIL's, here the refusal of a suspended
# account, and nothing else follows. Every Postfix and Sendmail end-to-end test goes through the
# same steps with a real MTA.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_init
SG_CONF=$TB_DIR/senderguard.conf
SG_SOCK=$TB_DIR/milter.sock
SG_LOG=$TB_DIR/log/milter.log
cat >"$SG_CONF" <<EOF
[store]
path = "$TB_DIR/store"
[milter]
socket = "unix:$SG_SOCK"
log_stderr = true
[dmarc]
mode = "off"
EOF
e2e_start_milter
sgctl suspend bob --reason "complaints" --create >/dev/null

OUT=$TB_DIR/wire.txt
if perl "$E2E_SRC/tests/e2e/milter_mta.pl" "$SG_SOCK" bob >"$OUT" 2>&1; then ok "the MTA's side of the dialogue ran"; else
    not_ok "the MTA's side of the dialogue ran"
fi
sed 's/^/# /' "$OUT"
protocol=$(sed -n 's/^optneg .* protocol=\(0x[0-9a-f]*\)$/\1/p' "$OUT")
protocol=$((${protocol:-0}))
has() { (((protocol & $2) == $2)) && ok "negotiated $1" || not_ok "negotiated $1 (protocol $(printf 0x%x "$protocol"))"; }
lacks() { (((protocol & $2) == 0)) && ok "not negotiated: $1" || not_ok "not negotiated: $1"; }
has "SMFIP_NR_CONN (no reply to CONNECT)" 0x1000
has "SMFIP_NR_HDR (no reply to each header)" 0x80
has "SMFIP_NOHELO (DMARC off: HELO unused)" 0x2
has "SMFIP_NOBODY (DMARC off: the body unused)" 0x10
has "SMFIP_NOEOH, SMFIP_NODATA, SMFIP_NOUNKNOWN" $((0x40 | 0x200 | 0x100))
lacks "SMFIP_NR_MAIL (MAIL may be refused)" 0x4000
lacks "SMFIP_NR_RCPT (RCPT may be refused)" 0x8000
lacks "SMFIP_NOHDRS (Message-ID and the feedback header are read)" 0x20
expect "$OUT" '^after-mail y 550 5\.7\.1 .*suspended|^after-mail y 550 5\.7\.1 .*disabled' \
    "the first reply after CONNECT and MAIL is MAIL's refusal (nothing was sent for CONNECT)"
expect "$OUT" '^pending 0$' "nothing else was sent"
grep -q 'milter claimed not to reply' "$SG_LOG" && not_ok "libmilter logged a reply the MTA was told not to expect" ||
    ok "libmilter logged no reply the MTA was told not to expect"
finish
