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
  # tools the scripts use
  iproute2 procps findutils openssl
  # the manual pages: scdoc turns man/*.scd into roff at build time; groff-base and man-db
  # render them in the man_render test (groff -ww, man -l); perl checks the .prom files
  scdoc groff-base man-db perl
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
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# SG_WERROR=ON (scripts/test.sh) makes compiler warnings errors.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSG_WERROR="${SG_WERROR:-OFF}" >/dev/null
cmake --build build -j"$(nproc)"
