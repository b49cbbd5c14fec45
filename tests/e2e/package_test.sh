#!/usr/bin/env bash
# The Debian package, as a sysadmin meets it: scripts/package.sh builds it; lintian reports no
# error; its control data (Depends from dpkg-shlibdeps, conffiles, maintainer scripts); then, in
# a fresh Debian 12 root, tests/e2e/package_root.sh installs it with apt-get (so its Depends
# resolve from Debian's mirror), checks what it set up, runs the programs with the shipped
# configuration, starts the milter as its unit does and sees a Postfix in that root use it.
#
# The fresh root: the tarball ../shared/tools/fresh-debian.sh caches
# (/var/cache/sg-fresh/bookworm-minbase.tar, made by mmdebstrap) when this machine has it, else
# a new one from `mmdebstrap --variant=minbase bookworm` (what that tool runs; about 3 minutes);
# SG_FRESH_TARBALL names another. It runs in its own mount and PID namespaces (everything
# started inside dies with it), with the machine's network for apt, then in a private network
# namespace (loopback only) for Postfix and the milter: no port of this machine is used.
# Needs root (chroot, mounts, namespaces); skipped otherwise (exit 77). Takes 4-8 minutes.
set -uo pipefail
SRC=${SG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
if [[ $(id -u) != 0 ]]; then
    echo "SKIP: needs root (chroot, mounts, namespaces)"
    exit 77
fi
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
finish() { echo "$PASS passed, $FAIL failed"; ((FAIL == 0)); exit $?; }
t0=$SECONDS
stage() { echo "# [$((SECONDS - t0)) s] $*"; }

DIR=$(mktemp -d /var/tmp/sg-package-test.XXXXXX)
ROOT_PID=
cleanup() {
    [[ -n $ROOT_PID ]] && kill -KILL "$ROOT_PID" 2>/dev/null && wait "$ROOT_PID" 2>/dev/null
    rm -rf --one-file-system "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

stage "scripts/package.sh"
if (cd "$SRC" && scripts/package.sh) >"$DIR/package.log" 2>&1; then
    deb=$SRC/$(tail -n 1 "$DIR/package.log")
    ok "scripts/package.sh: ${deb#"$SRC"/}"
else
    not_ok "scripts/package.sh"; tail -n 30 "$DIR/package.log" | sed 's/^/#   /'; finish
fi
[[ $(basename "$deb") =~ ^senderguard_[0-9][^_]*_$(dpkg --print-architecture)\.deb$ ]] &&
    ok "named senderguard_VERSION_ARCH.deb" || not_ok "named senderguard_VERSION_ARCH.deb: $deb"

stage "lintian"
lintian --tag-display-limit 0 "$deb" >"$DIR/lintian.out" 2>&1
if grep -q '^E: ' "$DIR/lintian.out"; then
    not_ok "lintian: errors"; sed 's/^/#   /' "$DIR/lintian.out"
else
    ok "lintian: no error ($(grep -c '^W: ' "$DIR/lintian.out") warnings)"
    sed 's/^/#   /' "$DIR/lintian.out"
fi

depends=$(dpkg-deb -f "$deb" Depends)
for lib in libmilter1.0.1 liblmdb0 libunbound8 libopendkim11 libspf2-2 libc6 adduser; do
    [[ $depends == *"$lib"* ]] && ok "Depends names $lib" || not_ok "Depends names $lib: $depends"
done
dpkg-deb -e "$deb" "$DIR/control"
[[ $(sort "$DIR/control/conffiles" | tr '\n' ' ') == "/etc/senderguard/bounce-rules.conf /etc/senderguard/senderguard.conf " ]] &&
    ok "conffiles: the configuration and the bounce rules" || not_ok "conffiles: $(cat "$DIR/control/conffiles")"
for s in postinst prerm postrm; do
    [[ -x $DIR/control/$s ]] && ok "maintainer script $s" || not_ok "maintainer script $s"
done
dpkg-deb -c "$deb" >"$DIR/contents"
for f in ./lib/systemd/system/senderguard-milter.service ./lib/systemd/system/senderguard-tail.service \
    ./etc/senderguard/senderguard.conf ./etc/senderguard/bounce-rules.conf ./usr/sbin/senderguard-milter \
    ./usr/sbin/senderguard-tail ./usr/sbin/senderguard-arf ./usr/bin/senderguardctl \
    ./usr/share/doc/senderguard/README.md ./usr/share/doc/senderguard/copyright \
    ./usr/share/man/man8/senderguard-milter.8.gz ./usr/share/man/man8/senderguard-tail.8.gz \
    ./usr/share/bash-completion/completions/senderguardctl \
    ./usr/share/bash-completion/completions/senderguard-milter; do
    grep -q " $f\$" "$DIR/contents" && ok "ships $f" || not_ok "ships $f"
done

stage "fresh Debian 12 root"
R=$DIR/root
mkdir "$R"
tarball=${SG_FRESH_TARBALL:-/var/cache/sg-fresh/bookworm-minbase.tar}
if [[ -f $tarball ]]; then
    tar -xf "$tarball" -C "$R" && ok "fresh root from $tarball" || { not_ok "unpack $tarball"; finish; }
elif mmdebstrap --variant=minbase bookworm "$R" >"$DIR/mmdebstrap.log" 2>&1; then
    ok "fresh root from mmdebstrap --variant=minbase bookworm"
else
    not_ok "mmdebstrap --variant=minbase bookworm"; tail -n 20 "$DIR/mmdebstrap.log" | sed 's/^/#   /'; finish
fi
cp /etc/resolv.conf "$R/etc/resolv.conf"
# As in container images: no service starts at install time (Postfix's postinst would).
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
cp "$deb" "$SRC/tests/e2e/package_root.sh" "$R/root/"

stage "in the root: install (network), then run (private network namespace)"
# Nothing mounted for the root may show outside its namespace: all mounts private. Inside a
# chroot (CI runs this test in fresh-debian.sh's root) / is not a mount point and cannot be made
# private (EINVAL); there the surrounding namespace must already be private (fresh-debian.sh's
# is), which is checked rather than assumed.
prop=private
if ! mountpoint -q /; then
    if grep -q ' shared:' /proc/self/mountinfo; then
        not_ok "/ is not a mount point (a chroot) and this namespace has shared mounts: the root's mounts would show outside"
        finish
    fi
    prop=unchanged
fi
# shellcheck disable=SC2016 # expanded by the inner bash
unshare --mount --pid --fork --kill-child --propagation "$prop" bash -c '
    R=$1
    mount -t proc proc "$R/proc"
    mount --rbind /dev "$R/dev" && mount --make-rslave "$R/dev"
    mount -t sysfs sys "$R/sys"
    mount -t tmpfs tmpfs "$R/tmp" && mount -t tmpfs tmpfs "$R/run"
    inroot() { chroot "$R" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin bash /root/package_root.sh "$1"; }
    export R; export -f inroot
    inroot install || exit 1
    unshare --net bash -c "ip link set lo up && inroot run"
' _ "$R" >"$DIR/root.log" 2>&1 </dev/null &
ROOT_PID=$!
wait "$ROOT_PID"
rc=$?
ROOT_PID=
cat "$DIR/root.log"
PASS=$((PASS + $(grep -c '^ok - ' "$DIR/root.log")))
FAIL=$((FAIL + $(grep -c '^not ok - ' "$DIR/root.log")))
((rc == 0)) || not_ok "the root's phases exited $rc"
stage "done"
finish
