#!/usr/bin/env bash
# Installs what senderguard needs from Debian 12's packages (as root, non-interactively, only
# what is missing) and builds it into build/. Idempotent: a second run installs nothing and
# rebuilds only what changed. Nothing is downloaded but Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # build
  build-essential cmake pkg-config
  # libraries (README says why each is there)
  libmilter-dev liblmdb-dev libtoml11-dev libcli11-dev nlohmann-json3-dev libcctz-dev tzdata
  libre2-dev libssl-dev libsystemd-dev libidn2-dev libjemalloc-dev
  libunbound-dev libpsl-dev publicsuffix libopendmarc-dev libspf2-dev libopendkim-dev
  # tests: GoogleTest, clang for libFuzzer and the sanitizers, a real Postfix with smtp-sink
  # and smtp-source, swaks as the SMTP client, LMDB's tools
  libgtest-dev clang libclang-rt-14-dev postfix swaks lmdb-utils
  # the tailer's benchmark runs Debian's pflogsumm beside it
  pflogsumm
  # the journal test writes real journal files with systemd-journal-remote
  systemd-journal-remote
  # the DNS tests serve test zones on loopback with ldns-testns, and dnsmasq (the program
  # alone: dnsmasq-base installs no system service) as the authoritative server of "test."
  ldnsutils dnsmasq-base
  # test messages are signed with keys made by opendkim-genkey; DMARC verdicts are cross-checked
  # against Mail::DMARC (libmail-dmarc-perl), an independent implementation
  opendkim-tools libmail-dmarc-perl
  # the PostgreSQL store: libpq for the backend; the server (with pgbench) and psql for
  # tests/pg, which start private servers (scripts/lib/pg.sh), never the package's cluster
  postgresql-15 postgresql-client-15 libpq-dev
  # the Sendmail test authenticates (SMTP AUTH PLAIN) through Cyrus SASL's PLAIN/LOGIN plugins
  libsasl2-modules
  # `senderguardctl report --svg`'s test (e2e feedback): Debian's Chromium renders the chart
  # headless into a PNG, netpbm's pngtopnm decodes it for perl to count its pixels (test only)
  chromium netpbm
  # tools the scripts use (jq: e2e tail_shapes reads --print's JSON; time: /usr/bin/time -f %M,
  # the peak memory e2e cli_defects holds list and import to; a minimal Debian lacks it)
  iproute2 procps findutils openssl jq time
  # the manual pages: scdoc turns man/*.scd into roff at build time; groff-base and man-db
  # render them in the man_render test (groff -ww, man -l); perl checks the .prom files
  scdoc groff-base man-db perl
  # the Debian package (scripts/package.sh, CPack): dpkg-shlibdeps for Depends:, dpkg-buildflags
  # for Debian's hardening flags; its test checks it with lintian and installs it into a fresh
  # Debian 12 root made by mmdebstrap (no fakeroot or debhelper: CPack writes the archive itself)
  dpkg-dev lintian mmdebstrap
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) != 0 ]]; then
    echo "setup: run as root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  # Postfix must not ask questions or configure (and start) a system mail server.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # postgresql-15's postinst creates a cluster 15/main on port 5432 and starts it through
  # invoke-rc.d: in a container without systemd, Docker's policy-rc.d (exit 101) keeps it
  # down; without a policy-rc.d the init script would start it, and under systemd it is
  # enabled and started. The tests never use it, so none is created: postgresql-common goes
  # in first and create_main_cluster is turned off (createcluster.conf(5)) before the server.
  # (`pg_createcluster 15 main --start` makes one later if wanted.)
  if [[ " ${missing[*]} " == *" postgresql-15 "* ]]; then
    apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
    sed -i -E 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
      /etc/postgresql-common/createcluster.conf
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's Sendmail for tests/e2e/sendmail_test.sh: sendmail-bin conflicts with postfix as a
# package, so its .debs (and m4, libwrap0, sasl2-bin) are downloaded and unpacked, once, into
# build/sendmail (scripts/lib/sendmail.sh); nothing of it is installed.
# shellcheck source=lib/sendmail.sh
. scripts/lib/sendmail.sh
if [[ $(id -u) == 0 ]]; then
  sm_fetch build/sendmail
elif [[ ! -f build/sendmail/root/.complete ]]; then
  echo "setup: not root: Debian's Sendmail for the tests not fetched into build/sendmail" >&2
fi

# SG_WERROR=ON (scripts/test.sh) makes compiler warnings errors.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSG_WERROR="${SG_WERROR:-OFF}" >/dev/null
cmake --build build -j"$(nproc)"
