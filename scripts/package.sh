#!/usr/bin/env bash
# Builds the Debian package build/senderguard_VERSION_ARCH.deb and prints its path (README,
# "Install"; the contract outside tests use). CPack's DEB generator over the project's own
# install rules, in build-deb/ (prefix /usr, so /etc/senderguard and /lib/systemd/system; tests
# and benchmarks not built), with Debian's compiler and linker flags (dpkg-buildflags, hardening
# on). Depends: come from dpkg-shlibdeps. Needs what scripts/setup.sh installs; run it first on
# a new machine. Incremental: a second run rebuilds only what changed.
#   SG_WERROR=ON   warnings are errors (as scripts/test.sh builds)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's flags for packages: -O2 (Release's -O3 comes after and wins), -fstack-protector-strong,
# -D_FORTIFY_SOURCE=2 (CPPFLAGS, which CMake does not read: folded into C/CXXFLAGS as debhelper
# does), -z relro -z now. No -g: the files are stripped.
eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all DEB_CFLAGS_MAINT_STRIP=-g DEB_CXXFLAGS_MAINT_STRIP=-g \
    dpkg-buildflags --export=sh)"
export CFLAGS="$CFLAGS $CPPFLAGS" CXXFLAGS="$CXXFLAGS $CPPFLAGS"
# The changelog's date, reproducible: the last commit's time (or now, outside a checkout).
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DSG_TESTS=OFF \
    -DSG_WERROR="${SG_WERROR:-OFF}" >/dev/null
cmake --build build-deb -j"$(nproc)"
mkdir -p build
rm -f build/senderguard_*.deb build-deb/cpack/*.deb
(cd build-deb && cpack -G DEB -B "$PWD/cpack" >cpack.log) || { cat build-deb/cpack.log >&2; exit 1; }
deb=$(find build-deb/cpack -maxdepth 1 -name 'senderguard_*.deb' | head -n 1)
[[ -n $deb ]] || { echo "package: cpack made no .deb" >&2; cat build-deb/cpack.log >&2; exit 1; }
mv "$deb" build/
echo "build/$(basename "$deb")"
