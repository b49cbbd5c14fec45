#!/usr/bin/env bash
# The main job, on a throwaway machine: sets everything up (scripts/setup.sh), starts a private
# Postfix on 127.0.0.1 with senderguard-milter attached over a unix socket, relaying to a local
# SMTP server that plays the receivers (tests/tools/smtp_replier: it says "no such user" for
# nobody@example.com), and senderguard-tail following Postfix's log. It creates a few demo
# accounts and sends a short workload whose replies show an accepted message, a quota tempfail
# naming its reset time, a suspended account's refusal and a suppressed recipient's refusal;
# then bounces that the tailer turns into a reputation and a global suppression; then a message
# whose From: domain would fail DMARC at the receiver (refused), and the same account's own
# verified domain (passes), with dnsmasq serving the DNS on loopback; then prints
# `senderguardctl list`.
# It keeps running (try your own swaks commands) until Ctrl-C, or exits at once with --once.
# Everything lives in a temp dir and is removed on exit; the system's Postfix is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
once=0
[[ ${1:-} == --once ]] && once=1

scripts/setup.sh >/dev/null

. scripts/lib/testbed.sh
tb_init
CONF=$TB_DIR/senderguard.conf
SOCK=$TB_DIR/milter.sock
# The DNS the receivers would see, served by dnsmasq on loopback: yahoo.example and
# dave.example publish DMARC p=reject; every other name under example. does not exist.
DNS_PORT=$(_tb_free_port "$TB_SMTP_PORT")
cat >"$TB_DIR/dnsmasq.conf" <<EOF2
port=$DNS_PORT
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
no-poll
user=nobody
group=nogroup
local=/example/
local-ttl=300
txt-record=_dmarc.yahoo.example,"v=DMARC1; p=reject"
txt-record=yahoo.example,"v=spf1 ip4:198.51.100.7 -all"
txt-record=_dmarc.dave.example,"v=DMARC1; p=reject"
EOF2
dnsmasq -k -C "$TB_DIR/dnsmasq.conf" 2>"$TB_DIR/log/dnsmasq.log" &
tb_track_pid $!
cat >"$CONF" <<EOF2
[store]
path = "$TB_DIR/store"
[milter]
socket = "unix:$SOCK"
socket_mode = "0666"
[quota.day]
limit = 1000
[tail]
source = "$TB_LOG"
rules = "$PWD/conf/bounce-rules.conf"
poll_interval_ms = 100
[dmarc]
mode = "outbound"
egress = ["192.0.2.10"]
signing_domains = ["esp.example"]
authserv_id = "demo.senderguard.example"
upstream = ["127.0.0.1@$DNS_PORT"]
dns_timeout_ms = 2000
EOF2
# The receivers: Gmail's "no such user" for nobody@example.com, everything else accepted.
printf '%s\n' 'nobody@example.com rcpt 550 5.1.1 The email account that you tried to reach does not exist. https://support.google.com/mail/?p=NoSuchUser - gsmtp' \
  >"$TB_DIR/receivers.rules"
build/bin/smtp_replier --listen "127.0.0.1:$TB_SINK_PORT" --rules "$TB_DIR/receivers.rules" \
  2>"$TB_DIR/log/receivers.log" &
tb_track_pid $!
for _ in $(seq 50); do [[ -n $(ss -Htln "( sport = :$TB_SINK_PORT )") ]] && break; sleep 0.1; done
build/bin/senderguard-milter -c "$CONF" --stderr 2>"$TB_DIR/log/milter.log" &
tb_track_pid $!
tb_wait_socket "$SOCK" 10 $!
tb_start_postfix "unix:$SOCK"
build/bin/senderguard-tail -c "$CONF" --stderr 2>"$TB_DIR/log/tail.log" &
tb_track_pid $!
ctl() { build/bin/senderguardctl -c "$CONF" "$@"; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Shows the client's commands and the server's replies to them (not the banner and EHLO).
show() {
  tb_swaks --timeout 20 "$@" 2>&1 | grep -E '^( -> (MAIL|RCPT)|<-  250 [0-9.]+ Ok: queued|<-  250 2\.1\.[05]|<\*\* [45])' || true
}

say "demo accounts"
ctl quota set alice day=3 --create
ctl suspend spammy --reason "complaint rate 0.42% over 7 days" --create
ctl suppress add gone@example.net --reason "hard-bounced 3 times"

say "1. alice (SASL login) sends one message: accepted"
show --xclient "LOGIN=alice" --from news@alice.example --to reader1@example.org
say "2. alice sends to 3 more recipients: her daily quota is 3, the 4th gets 452 4.7.1 with the reset time"
show --xclient "LOGIN=alice" --from news@alice.example --to reader2@example.org,reader3@example.org,reader4@example.org
say "3. spammy is suspended: refused at MAIL FROM with 550 5.7.1"
show --xclient "LOGIN=spammy" --from deals@spammy.example --to someone@example.org
say "4. bob sends to a suppressed address and a good one: only the suppressed one is refused"
show --xclient "LOGIN=bob" --from hi@bob.example --to gone@example.net,friend@example.org

say "5. carol mails nobody@example.com three times; the receiver answers 550 5.1.1 no such user"
for i in 1 2 3; do show --xclient "LOGIN=carol" --from hi@carol.example --to nobody@example.com; done
for _ in $(seq 100); do ctl suppress check nobody@example.com >/dev/null 2>&1 && break; sleep 0.1; done
say "senderguard-tail read Postfix's log: carol's reputation (senderguardctl show carol)"
ctl show carol | sed -n '/^tier/,/^outcomes/p'
say "... and nobody@example.com is now suppressed for everyone: alice is refused at RCPT"
ctl suppress check nobody@example.com || true
show --xclient "LOGIN=alice" --from news@alice.example --to nobody@example.com

say "6. dave sends From: someone@yahoo.example, which publishes DMARC p=reject: refused at end of DATA"
show --xclient "LOGIN=dave" --from dave@esp.example --to friend@example.org \
  --header "From: Someone <someone@yahoo.example>"
say "7. dave verifies his own domain (senderguardctl domains add dave dave.example); it publishes p=reject too, and passes: the platform signs for it"
ctl domains add dave dave.example --create
show --xclient "LOGIN=dave" --from dave@esp.example --to friend@example.org \
  --header "From: Dave <news@dave.example>"

sleep 0.5
say "senderguardctl list"
ctl list
say "the milter's log lines (key=value, also sent to syslog facility mail)"
sed 's/^senderguard-milter\[[a-z]*\]: //' "$TB_DIR/log/milter.log"
say "the tailer's log lines"
sed 's/^senderguard-tail\[[a-z]*\]: //' "$TB_DIR/log/tail.log"

if ((once)); then
  exit 0
fi
say "running: Postfix on 127.0.0.1:$TB_SMTP_PORT with senderguard-milter attached; Ctrl-C stops and cleans up"
echo "try:  swaks --server 127.0.0.1 --port $TB_SMTP_PORT --xclient LOGIN=alice --from a@alice.example --to x@example.org"
echo "      build/bin/senderguardctl -c $CONF show alice"
echo "      build/bin/senderguard-tail -c $CONF --once --print $TB_LOG   # outcomes as JSON"
while sleep 3600; do :; done
