# shellcheck shell=bash
#
# scripts/lib/sendmail.sh - a throwaway private Sendmail (Debian 12, 8.17) beside Postfix, for
# tests. Source it after scripts/lib/testbed.sh.
#
# Debian's sendmail-bin conflicts with postfix as a package, so it is never installed: sm_fetch
# downloads the .debs with `apt-get download` and unpacks them with `dpkg-deb -x` into a cache
# directory (default build/sendmail; scripts/setup.sh fills it once):
#
#   sm_fetch [DIR]                # idempotent; needs root and a Debian mirror the first time
#
# Then, in a testbed (tb_init, tb_start_sink; a milter listening on SM_MILTER):
#
#   sm_start                      # Sendmail on 127.0.0.1:$TB_SMTP_PORT relaying to the sink
#   sm_add_user alice secret      # a SASL login (sasldb in the instance's own directory)
#   tb_swaks --auth PLAIN --auth-user alice --auth-password secret --from ... --to ...
#   sm_stop                       # or let the EXIT trap sm_start installs do it
#
# The instance (everything in $TB_DIR/sendmail):
# - sendmail.mc, built into sendmail.cf with the unpacked m4 and sendmail-cf (SM_MC_EXTRA lines
#   go before the mailers); its own queue, pid file, status file, hosts file and service switch
#   (hosts from files only: no DNS query ever leaves the machine);
# - it listens on 127.0.0.1 only (no MSA on 587), relays everything with the relay mailer to
#   [127.0.0.1]:$TB_SINK_PORT (SMART_HOST([127.0.0.1]) alone would not: 127.0.0.1 is itself);
# - SASL (PLAIN, LOGIN) from a Sendmail.conf and a sasldb in $TB_DIR/sendmail/sasl, mounted in
#   the instance's namespace on /usr/lib/sasl2 (an empty directory of libsasl2-2, on Cyrus
#   SASL's search path): SASL_CONF_PATH in Sendmail's environment is not honoured;
# - it runs in its own UTS and mount namespaces (unshare -u -m): a fully qualified host name
#   (Sendmail sleeps 60 s at start on an unqualified one), a private /etc/hosts, and a private
#   /dev whose log socket is a syslog receiver writing $TB_DIR/log/sendmail.log (Sendmail logs
#   only to syslog; the machine's /dev/log, if any, sees nothing);
# - the unpacked binary is not setgid (sm_fetch drops the bit), so the loader honours
#   LD_LIBRARY_PATH for the unpacked libwrap;
# - sm_stop stops the daemon and then every process left in its UTS namespace (its SMTP and
#   delivery children): nothing is matched by name.
#
# Variables read: SM_CACHE (default build/sendmail of this checkout), SM_MILTER (a Sendmail socket spec,
# e.g. unix:/path/milter.sock; none if empty), SM_MC_EXTRA (.mc lines), SM_HOSTNAME.
# Variables set: SM_DIR, SM_PID, SM_LOG (Sendmail's syslog lines), SM_CF.

SM_PACKAGES=(sendmail-bin sendmail-cf m4 libwrap0 sasl2-bin)

_sm_die() {
    echo "sendmail: $*" >&2
    return 1
}

# sm_root: the unpacked tree in the cache.
sm_root() { echo "${SM_CACHE:?}/root"; }

# sm_fetch [DIR]: download SM_PACKAGES (the candidate versions of the machine's apt sources)
# and unpack them into DIR/root, unless a complete tree is there. Needs root and a mirror;
# runs `apt-get update` once if the package lists do not know the packages.
sm_fetch() {
    local dir=${1:-${SM_CACHE:?}} root deb missing
    root=$dir/root
    [[ -f $root/.complete && -x $root/usr/libexec/sendmail/sendmail ]] && return 0
    [[ $(id -u) == 0 ]] || { _sm_die "sm_fetch: must run as root"; return 1; }
    rm -rf -- "$dir/debs" "$root" "$root.new"
    mkdir -p "$dir/debs" "$root.new"
    # (apt's download sandbox user cannot write into a root-owned directory; root then does it.)
    if ! (cd "$dir/debs" && apt-get download -q -o APT::Sandbox::User=root "${SM_PACKAGES[@]}") \
        >"$dir/download.log" 2>&1; then
        apt-get update -qq >>"$dir/download.log" 2>&1 || true
        if ! (cd "$dir/debs" && apt-get download -q -o APT::Sandbox::User=root "${SM_PACKAGES[@]}") \
            >>"$dir/download.log" 2>&1; then
            cat "$dir/download.log" >&2
            _sm_die "sm_fetch: apt-get download ${SM_PACKAGES[*]} failed"
            return 1
        fi
    fi
    for deb in "$dir"/debs/*.deb; do
        dpkg-deb -x "$deb" "$root.new" || { _sm_die "sm_fetch: dpkg-deb -x $deb failed"; return 1; }
    done
    # The binary is setgid (group smmsp on a real install): the loader would ignore
    # LD_LIBRARY_PATH (the unpacked libwrap).
    chmod g-s "$root.new/usr/libexec/sendmail/sendmail"
    missing=$(LD_LIBRARY_PATH=$root.new/usr/lib/x86_64-linux-gnu \
        ldd "$root.new/usr/libexec/sendmail/sendmail" "$root.new/usr/sbin/saslpasswd2" |
        grep 'not found' || true)
    if [[ -n $missing ]]; then
        _sm_die "sm_fetch: libraries missing for the unpacked sendmail: $missing"
        return 1
    fi
    (cd "$dir/debs" && ls) >"$root.new/.complete"
    mv "$root.new" "$root"
}

# _sm_in_ns PID: true if PID lives in the instance's UTS namespace.
_sm_in_ns() {
    [[ -n ${_SM_NS:-} && $(readlink "/proc/$1/ns/uts" 2>/dev/null) == "$_SM_NS" ]]
}

# _sm_ns_pids: every process in the instance's UTS namespace (one stat for all of /proc).
_sm_ns_pids() {
    [[ -n ${_SM_NS:-} ]] || return 0
    QUOTING_STYLE=literal stat -c '%N' /proc/[0-9]*/ns/uts 2>/dev/null |
        awk -v ns="$_SM_NS" '$2 == "->" && $3 == ns { split($1, a, "/"); print a[3] }'
    return 0
}

# sm_write_mc FILE: the instance's .mc (also what README's Sendmail section shows).
sm_write_mc() {
    cat >"$1" <<EOF
divert(-1)
# Written by scripts/lib/sendmail.sh: a private Sendmail for senderguard's tests.
divert(0)dnl
OSTYPE(\`linux')dnl
dnl --- the instance's own files, loopback only, no DNS
define(\`QUEUE_DIR', \`$SM_DIR/mqueue')dnl
define(\`confPID_FILE', \`$SM_DIR/sendmail.pid')dnl
define(\`STATUS_FILE', \`$SM_DIR/sendmail.st')dnl
define(\`ALIAS_FILE', \`$SM_DIR/aliases')dnl
define(\`HELP_FILE', \`$SM_DIR/helpfile')dnl
define(\`confCW_FILE', \`-o $SM_DIR/local-host-names')dnl
define(\`confHOSTS_FILE', \`$SM_DIR/hosts')dnl
define(\`confSERVICE_SWITCH_FILE', \`$SM_DIR/service.switch')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confTO_IDENT', \`0')dnl
define(\`confQUEUE_LA', \`500')dnl
define(\`confREFUSE_LA', \`1000')dnl
define(\`confDELAY_LA', \`0')dnl
dnl the milter's socket is under /tmp (world-writable, sticky): Sendmail refuses it otherwise
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
DAEMON_OPTIONS(\`Port=$TB_SMTP_PORT, Addr=127.0.0.1, Name=MTA')dnl
dnl --- everything to the sink
define(\`SMART_HOST', \`relay:[127.0.0.1]')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $TB_SINK_PORT')dnl
dnl --- SMTP AUTH: the login becomes {auth_authen}
define(\`confAUTH_MECHANISMS', \`PLAIN LOGIN')dnl
TRUST_AUTH_MECH(\`PLAIN LOGIN')dnl
define(\`confAUTH_REALM', \`$SM_HOSTNAME')dnl
EOF
    if [[ -n ${SM_MILTER:-} ]]; then
        cat >>"$1" <<EOF
dnl --- senderguard
INPUT_MAIL_FILTER(\`senderguard', \`S=$SM_MILTER, F=T, T=S:10s;R:30s;E:2m')dnl
EOF
    fi
    [[ -z ${SM_MC_EXTRA:-} ]] || printf '%s\n' "$SM_MC_EXTRA" >>"$1"
    cat >>"$1" <<EOF
MAILER(\`smtp')dnl
EOF
}

# sm_add_user USER PASSWORD: a SASL login for this instance (its own sasldb).
sm_add_user() {
    local root
    root=$(sm_root)
    printf '%s' "$2" | LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu \
        "$root/usr/sbin/saslpasswd2" -p -c -f "$SM_DIR/sasl/sasldb2" -u "$SM_HOSTNAME" "$1" ||
        { _sm_die "sm_add_user: saslpasswd2 failed"; return 1; }
    chmod 0600 "$SM_DIR/sasl/sasldb2"
}

# sm_start: build the .cf and start the daemon (see the top of this file). Installs
# `trap 'set +e; sm_stop; tb_stop' EXIT`.
sm_start() {
    _tb_need_init || return 1
    local root n
    SM_CACHE=${SM_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/sendmail}
    SM_HOSTNAME=${SM_HOSTNAME:-mta.sendmail.test}
    root=$(sm_root)
    [[ -x $root/usr/libexec/sendmail/sendmail ]] ||
        { _sm_die "sm_start: no unpacked Sendmail in $root (run sm_fetch)"; return 1; }
    [[ -d /usr/lib/sasl2 ]] ||
        { _sm_die "sm_start: /usr/lib/sasl2 (of libsasl2-2) is missing: nowhere to mount Sendmail.conf"; return 1; }
    SM_DIR=$TB_DIR/sendmail
    SM_CF=$SM_DIR/sendmail.cf
    SM_LOG=$TB_DIR/log/sendmail.log
    mkdir -p "$SM_DIR/mqueue" "$SM_DIR/sasl" "$SM_DIR/dev"
    chmod 0700 "$SM_DIR/mqueue" "$SM_DIR/sasl"
    printf '127.0.0.1\t%s localhost\n' "$SM_HOSTNAME" >"$SM_DIR/hosts"
    printf 'hosts\tfiles\naliases\tfiles\n' >"$SM_DIR/service.switch"
    : >"$SM_DIR/aliases"
    : >"$SM_DIR/sendmail.st"
    # Inside the namespace this directory is mounted on /usr/lib/sasl2 (below).
    printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: /usr/lib/sasl2/sasldb2\nmech_list: PLAIN LOGIN\n' \
        >"$SM_DIR/sasl/Sendmail.conf"
    # (errexit off in the trap: sm_stop returns the exit status it was given, and tb_stop must
    # still run.)
    trap 'set +e; sm_stop; tb_stop' EXIT

    sm_write_mc "$SM_DIR/sendmail.mc"
    if ! "$root/usr/bin/m4" -D_CF_DIR_="$root/usr/share/sendmail/cf/" \
        "$root/usr/share/sendmail/cf/m4/cf.m4" "$SM_DIR/sendmail.mc" >"$SM_CF" 2>"$SM_DIR/m4.err"; then
        cat "$SM_DIR/m4.err" >&2
        _sm_die "sm_start: m4 failed"
        return 1
    fi

    # The syslog receiver behind the instance's /dev/log.
    touch "$SM_LOG"
    rm -f "$SM_DIR/dev/log"
    perl -MIO::Socket::UNIX -MSocket -e '
        my ($path, $out) = @ARGV;
        my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $path) or die "$path: $!\n";
        chmod 0666, $path;
        open(my $o, ">>", $out) or die "$out: $!\n";
        $o->autoflush(1);
        my $m;
        while (defined $s->recv($m, 65536)) { $m =~ s/\0?\n?\z//; print $o "$m\n"; }
    ' "$SM_DIR/dev/log" "$SM_LOG" 2>>"$TB_DIR/log/sendmail-syslog.err" &
    _SM_SYSLOG_PID=$!
    tb_track_pid "$_SM_SYSLOG_PID"
    for ((n = 0; n < 100; n++)); do [[ -S $SM_DIR/dev/log ]] && break; sleep 0.05; done
    for n in null zero full random urandom; do : >"$SM_DIR/dev/$n"; done

    # Own host name, /etc/hosts and /dev (with the log socket); then the daemon in the
    # foreground (-bD), so $! is Sendmail itself once sh has exec'd it.
    # shellcheck disable=SC2016 # expanded by the inner sh
    # In a chroot (CI's fresh root) / is not a mount point and cannot be made private (EINVAL):
    # leave propagation unchanged there, but only when no mount around us is shared.
    local prop=private
    if ! mountpoint -q / && ! grep -q ' shared:' /proc/self/mountinfo; then prop=unchanged; fi
    # The bind mounts below need their targets (a minimal root may have no /etc/hosts).
    [[ -e /etc/hosts ]] || : >/etc/hosts
    mkdir -p /usr/lib/sasl2
    LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu \
        unshare -u -m --propagation "$prop" sh -ec '
            d=$1 cf=$2 bin=$3
            echo "$4" >/proc/sys/kernel/hostname
            mount --bind "$d/hosts" /etc/hosts
            mount --bind "$d/sasl" /usr/lib/sasl2
            for n in null zero full random urandom; do
                if [ -e "/dev/$n" ]; then mount --bind "/dev/$n" "$d/dev/$n"; fi
            done
            mount --rbind "$d/dev" /dev
            exec "$bin" -C "$cf" -bD
        ' sm "$SM_DIR" "$SM_CF" "$root/usr/libexec/sendmail/sendmail" "$SM_HOSTNAME" \
        </dev/null >>"$TB_DIR/log/sendmail.out" 2>&1 &
    SM_PID=$!
    _SM_NS=
    if ! _tb_wait_banner "$TB_SMTP_PORT" 20; then
        cat "$TB_DIR/log/sendmail.out" "$SM_LOG" >&2 2>/dev/null || true
        _SM_NS=$(readlink "/proc/$SM_PID/ns/uts" 2>/dev/null || true)
        _sm_die "sm_start: no 220 banner on 127.0.0.1:$TB_SMTP_PORT"
        return 1
    fi
    _SM_NS=$(readlink "/proc/$SM_PID/ns/uts")
    [[ $_SM_NS != "$(readlink /proc/self/ns/uts)" ]] ||
        { _SM_NS=; _sm_die "sm_start: sendmail is not in its own UTS namespace"; return 1; }
}

# sm_stop: SIGTERM to the daemon (it stops its children), then SIGTERM and SIGKILL to anything
# still in its namespace, then the syslog receiver. Keeps the caller's $?; idempotent. A later
# sm_start starts the instance again with the same directory (queue, sasldb) and port.
sm_stop() {
    local rc=$? i pids
    [[ -n ${SM_PID:-} ]] || return "$rc"
    if _sm_in_ns "$SM_PID" || [[ -z ${_SM_NS:-} ]]; then kill -TERM "$SM_PID" 2>/dev/null || true; fi
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SM_PID" 2>/dev/null || break
        sleep 0.05
    done
    wait "$SM_PID" 2>/dev/null || true
    for i in TERM TERM KILL; do
        pids=$(_sm_ns_pids)
        [[ -z $pids ]] && break
        # shellcheck disable=SC2086
        kill -$i $pids 2>/dev/null || true
        sleep 0.5
    done
    SM_PID=
    if [[ -n ${_SM_SYSLOG_PID:-} ]]; then
        tb_stop_pid "$_SM_SYSLOG_PID"
        _SM_SYSLOG_PID=
    fi
    return "$rc"
}
