#!/bin/bash
# Runs inside the fresh Debian 12 root of tests/e2e/package_test.sh (copied to /root), as root,
# in two phases; prints "ok - ..." / "not ok - ..." lines.
#   install   (with the network: apt reaches Debian's mirror) apt-get install ./senderguard_*.deb
#             so its Depends resolve; what the package set up; --version and --check with the
#             shipped configuration; then Postfix from Debian.
#   run       (in a private network namespace: loopback only) attaches the milter as README's
#             "Attach to Postfix" says, starts it as its unit does (the unit's User, Group,
#             SupplementaryGroups, UMask, RuntimeDirectory, StateDirectory, ExecStartPre and
#             ExecStart, read from the installed unit file; there is no systemd here), and sees
#             Postfix's chrooted smtpd use it; then a reinstall keeps the edited conffile, and
#             purge removes what the package made.
set -uo pipefail
cd /root || exit 1
PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
# expect FILE PATTERN WHAT: FILE has a line matching PATTERN (grep -E)
expect() {
    if grep -Eq -- "$2" "$1"; then ok "$3"; else
        not_ok "$3 (no line matching '$2')"; sed 's/^/#   /' "$1" | tail -n 20
    fi
}
finish() { echo "# $1: $PASS passed, $FAIL failed"; ((FAIL == 0)); exit $?; }
export DEBIAN_FRONTEND=noninteractive

phase_install() {
    apt-get update -qq >apt-update.log 2>&1 || { not_ok "apt-get update"; tail -n 5 apt-update.log; }
    local deb
    deb=$(ls ./senderguard_*.deb)
    if apt-get install -y -qq --no-install-recommends "./${deb#./}" >apt-sg.log 2>&1; then
        ok "apt-get install ./${deb#./} (its Depends resolved from Debian)"
    else
        not_ok "apt-get install ./${deb#./}"; tail -n 20 apt-sg.log | sed 's/^/#   /'; finish install
    fi
    check "package installed" test "$(dpkg-query -W -f='${Status}' senderguard)" = "install ok installed"
    check "system user senderguard, home /var/lib/senderguard, no login shell" \
        test "$(getent passwd senderguard | cut -d: -f6,7)" = /var/lib/senderguard:/usr/sbin/nologin
    check "its uid is a system uid (< 1000)" test "$(id -u senderguard)" -lt 1000
    if getent group senderguard >/dev/null; then ok "group senderguard"; else not_ok "group senderguard"; fi
    check "/var/lib/senderguard: senderguard:senderguard 750" \
        test "$(stat -c '%U:%G %a' /var/lib/senderguard)" = "senderguard:senderguard 750"
    local conffiles
    conffiles=$(dpkg-query -W -f='${Conffiles}\n' senderguard | awk 'NF {print $1}' | sort | tr '\n' ' ')
    check "conffiles: /etc/senderguard/bounce-rules.conf and senderguard.conf ($conffiles)" \
        test "$conffiles" = "/etc/senderguard/bounce-rules.conf /etc/senderguard/senderguard.conf "
    for u in senderguard-milter senderguard-tail; do
        check "$u.service in /lib/systemd/system" test -f /lib/systemd/system/$u.service
        check "$u.service not enabled" test -z "$(find /etc/systemd -name "$u.service" 2>/dev/null)"
    done
    check "daemons in /usr/sbin" test -x /usr/sbin/senderguard-milter -a -x /usr/sbin/senderguard-tail \
        -a -x /usr/sbin/senderguard-arf
    check "README in /usr/share/doc/senderguard" test -f /usr/share/doc/senderguard/README.md
    local v
    v=$(senderguardctl --version 2>&1) && [[ $v =~ ^senderguardctl\ [0-9]+\.[0-9]+\.[0-9]+ ]] &&
        ok "senderguardctl --version: $v" || not_ok "senderguardctl --version: $v"
    v=$(senderguard-milter --check 2>&1) && ok "senderguard-milter --check, shipped configuration: $v" ||
        not_ok "senderguard-milter --check, shipped configuration: $v"
    v=$(senderguard-tail --check 2>&1) && ok "senderguard-tail --check, shipped configuration: $v" ||
        not_ok "senderguard-tail --check, shipped configuration: $v"

    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    if apt-get install -y -qq --no-install-recommends postfix >apt-postfix.log 2>&1; then
        ok "apt-get install postfix"
    else
        not_ok "apt-get install postfix"; tail -n 20 apt-postfix.log | sed 's/^/#   /'
    fi
    finish install
}

# unit_get KEY: the value of KEY= in the installed milter unit (last one wins, as systemd reads it)
UNIT=/lib/systemd/system/senderguard-milter.service
unit_get() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }

# as_unit COMMAND...: becomes COMMAND (exec) with the unit's credentials, umask and no new
# privileges; call it in a subshell, "(as_unit ...)", or in the background, "as_unit ... &".
as_unit() {
    local groups
    groups=$(unit_get SupplementaryGroups | tr ' ' ',')
    umask "$(unit_get UMask)"
    cd / || return  # systemd starts system services in /
    exec setpriv --reuid="$(unit_get User)" --regid="$(unit_get Group)" \
        --groups="${groups:-senderguard}" --no-new-privs -- "$@"
}

# smtp FROM TO: one message over SMTP to 127.0.0.1:25, the whole transcript on stdout.
smtp() {
    exec 3<>/dev/tcp/127.0.0.1/25 || { echo "cannot connect"; return; }
    reply() { local l; while IFS= read -r -t 30 l <&3; do l=${l%$'\r'}; echo "<- $l"; [[ $l =~ ^[0-9]{3}(\ |$) ]] && break; done; }
    send() { echo "-> $1"; printf '%s\r\n' "$1" >&3; }
    local r
    reply
    send "EHLO client.test"; reply
    send "MAIL FROM:<$1>"; r=$(reply); echo "$r"
    if [[ $r == "<- 250"* ]]; then
        send "RCPT TO:<$2>"; r=$(reply); echo "$r"
        if [[ $r == "<- 250"* ]]; then
            send DATA; reply
            printf 'From: <%s>\r\nTo: <%s>\r\nSubject: package test\r\nMessage-ID: <%s@client.test>\r\n\r\nhello\r\n.\r\n' \
                "$1" "$2" "$RANDOM$RANDOM" >&3
            echo "-> (message)"; reply
        fi
    fi
    send QUIT; reply
    exec 3>&-
}

phase_run() {
    local conf=/etc/senderguard/senderguard.conf
    # README, "Attach to Postfix": the socket inside Postfix's chroot, group postfix; a feedback
    # secret so the milter adds its token; no DMARC (no DNS in this network namespace).
    sed -i -e 's|^socket = .*|socket = "unix:/var/spool/postfix/senderguard/milter.sock"|' \
        -e 's|^socket_group = .*|socket_group = "postfix"|' \
        -e 's|^secret = .*|secret = "package-test-secret-0123456789abcdef"|' \
        -e '/^\[dmarc\]/,/^\[/ s|^mode = .*|mode = "off"|' "$conf"
    install -d -o senderguard -g postfix -m 0750 /var/spool/postfix/senderguard

    # What systemd does before ExecStart: the unit's RuntimeDirectory and StateDirectory.
    local rd sd
    rd=/run/$(unit_get RuntimeDirectory) sd=/var/lib/$(unit_get StateDirectory)
    install -d -o "$(unit_get User)" -g "$(unit_get Group)" -m "$(unit_get RuntimeDirectoryMode)" "$rd"
    install -d -o "$(unit_get User)" -g "$(unit_get Group)" -m "$(unit_get StateDirectoryMode)" "$sd"
    local pre start
    pre=$(unit_get ExecStartPre) start=$(unit_get ExecStart)
    check "unit ExecStart is $start" test "$start" = "/usr/sbin/senderguard-milter -c $conf"
    # shellcheck disable=SC2086 # the unit's command line, split as systemd splits this one
    if (as_unit $pre) >pre.out 2>&1; then ok "ExecStartPre as the unit's user: $(cat pre.out)"; else
        not_ok "ExecStartPre as the unit's user: $(cat pre.out)"
    fi
    # shellcheck disable=SC2086
    as_unit $start >milter.out 2>&1 &
    local milter=$! i
    for ((i = 0; i < 100; i++)); do [[ -S /var/spool/postfix/senderguard/milter.sock ]] && break; sleep 0.1; done
    check "milter listening on /var/spool/postfix/senderguard/milter.sock" \
        test -S /var/spool/postfix/senderguard/milter.sock
    check "milter runs as senderguard" test "$(stat -c %U "/proc/$milter")" = senderguard
    check "socket: group postfix, mode 660 ([milter] socket_group, socket_mode)" \
        test "$(stat -c '%G %a' /var/spool/postfix/senderguard/milter.sock)" = "postfix 660"

    # A private Postfix: Debian's master.cf (smtpd chrooted), a main.cf relaying to smtp-sink.
    cat >/etc/postfix/main.cf <<EOF
compatibility_level = 3.6
myhostname = mx.package.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:2525
smtp_dns_support_level = disabled
smtpd_tls_security_level = none
maillog_file = /var/log/postfix.log
smtpd_milters = unix:/senderguard/milter.sock
non_smtpd_milters = unix:/senderguard/milter.sock
milter_default_action = tempfail
milter_protocol = 6
EOF
    check "smtpd is chrooted in Debian's master.cf" \
        grep -Eq '^smtp[[:space:]]+inet[[:space:]]+n[[:space:]]+-[[:space:]]+y' /etc/postfix/master.cf
    install -d -o postfix -g postfix /var/tmp/sink
    smtp-sink -u postfix -d /var/tmp/sink/%H%M%S. 127.0.0.1:2525 16 >/dev/null 2>&1 &
    [[ -x /usr/lib/postfix/configure-instance.sh ]] && /usr/lib/postfix/configure-instance.sh >/dev/null 2>&1
    postfix check >postfix-check.out 2>&1 || { not_ok "postfix check"; sed 's/^/#   /' postfix-check.out; }
    if postfix start >postfix-start.out 2>&1; then ok "postfix start"; else
        not_ok "postfix start"; sed 's/^/#   /' postfix-start.out
    fi
    for ((i = 0; i < 100; i++)); do (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null && break; sleep 0.1; done

    smtp news@alice.test someone@dest.test >t1.out
    expect t1.out '^<- 250 2\.0\.0 Ok: queued' "a message through Postfix's smtpd and the milter: 250 queued"
    for ((i = 0; i < 100; i++)); do [[ -n $(ls /var/tmp/sink) ]] && break; sleep 0.1; done
    local kept
    kept=$(find /var/tmp/sink -type f | head -n 1)
    check "smtp-sink received it with the milter's X-Senderguard-ID header" \
        grep -q '^X-Senderguard-ID: v1\.' "$kept"
    (as_unit senderguardctl suspend bob.test --reason "package test" --create) >ctl.out 2>&1 ||
        { not_ok "senderguardctl suspend"; cat ctl.out; }
    smtp news@bob.test someone@dest.test >t2.out
    expect t2.out '^<- 550 5\.7\.1 .*account bob\.test is disabled' \
        "a suspended account: refused at MAIL FROM by the milter's reply"
    if (as_unit senderguardctl show alice.test) >show.out 2>&1; then
        ok "senderguardctl show alice.test: the account the milter created"
    else
        not_ok "senderguardctl show alice.test: the account the milter created"; sed 's/^/#   /' show.out
    fi
    expect /var/log/postfix.log 'milter-reject: MAIL from .*550 5\.7\.1' "Postfix's log: milter-reject"

    kill "$milter"; wait "$milter" 2>/dev/null
    smtp news@alice.test someone@dest.test >t3.out
    expect t3.out '^<- 451 4\.7\.1' "milter stopped: 451 4.7.1 (milter_default_action = tempfail)"
    postfix stop >/dev/null 2>&1

    # dpkg keeps the edited conffile when the package is installed again; purge removes the
    # conffiles and the store, and keeps the user.
    dpkg -i ./senderguard_*.deb >dpkg-i.log 2>&1 || { not_ok "dpkg -i again"; tail dpkg-i.log; }
    check "reinstall keeps the edited senderguard.conf" grep -q 'package-test-secret' "$conf"
    dpkg --purge senderguard >purge.log 2>&1 || { not_ok "dpkg --purge"; tail purge.log; }
    check "purge removes /etc/senderguard" test ! -e /etc/senderguard
    check "purge removes the store /var/lib/senderguard" test ! -e /var/lib/senderguard
    if getent passwd senderguard >/dev/null; then ok "purge keeps the senderguard user"; else
        not_ok "purge keeps the senderguard user"
    fi
    finish run
}

case ${1:-} in
install) phase_install ;;
run) phase_run ;;
*) echo "usage: $0 install|run" >&2; exit 2 ;;
esac
