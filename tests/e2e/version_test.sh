#!/usr/bin/env bash
# --version on every program: "NAME VERSION (git DESCRIBE)" on stdout and exit 0, the version
# being project(VERSION) of CMakeLists.txt (SG_VERSION, given by ctest) and DESCRIBE the
# checkout's `git describe --always --dirty` at build time; and lib/base/version.cmake, which
# writes that git part, gives none for sources that are not a git checkout (a release tarball),
# even unpacked inside another repository.
set -uo pipefail
SRC=${SG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${SG_BIN_DIR:-$SRC/build/bin}
VERSION=${SG_VERSION:?SG_VERSION: the project version (set by tests/e2e/CMakeLists.txt)}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }

# The commit the build described: today's HEAD, unless the build is older than it (then the
# test says so rather than passing on a stale build).
head=""
if git -C "$SRC" rev-parse --show-toplevel >/dev/null 2>&1; then
    head=$(git -C "$SRC" describe --always)
fi
for p in senderguard-milter senderguard-tail senderguard-arf senderguardctl; do
    rc=0
    out=$("$BIN/$p" --version 2>"$DIR/err") || rc=$?
    if [[ $rc -eq 0 ]]; then ok "$p --version: exit 0"; else not_ok "$p --version: exit $rc"; fi
    if [[ -n $head ]]; then
        want="^$p ${VERSION//./\\.} \\(git ${head}(-dirty)?\\)\$"
    else
        want="^$p ${VERSION//./\\.}\$"
    fi
    if [[ $out =~ $want && ! -s $DIR/err ]]; then ok "$p --version prints '$out'"; else
        not_ok "$p --version prints '$out' (want /$want/, nothing on stderr: $(head -c 200 "$DIR/err"))"
    fi
done

# The generator alone, outside a checkout, and inside another repository.
gen() { # gen SOURCE_DIR: what GitDescribe() returns for sources in SOURCE_DIR
    cmake -DSOURCE_DIR="$1" -DIN="$SRC/lib/base/version.cc.in" -DOUT="$DIR/version.cc" \
        -P "$SRC/lib/base/version.cmake" >/dev/null 2>&1 || { echo "(cmake failed)"; return; }
    sed -n 's/.*GitDescribe() { return "\([^"]*\)"; }.*/\1/p' "$DIR/version.cc"
}
mkdir -p "$DIR/tarball" "$DIR/repo/vendor/senderguard"
got=$(gen "$DIR/tarball")
[[ -z $got ]] && ok "sources outside git: no git part" || not_ok "sources outside git: got '$got'"
git -C "$DIR/repo" init -q && git -C "$DIR/repo" -c user.name=t -c user.email=t@t.test \
    commit -q --allow-empty -m init
got=$(gen "$DIR/repo/vendor/senderguard")
[[ -z $got ]] && ok "sources unpacked inside another repository: no git part (not the repository's)" ||
    not_ok "sources unpacked inside another repository: got '$got'"
got=$(gen "$DIR/repo")
[[ $got =~ ^[0-9a-f]{7,}$ ]] && ok "the top of a checkout: its describe ('$got')" ||
    not_ok "the top of a checkout: got '$got'"
touch "$DIR/repo/new" && git -C "$DIR/repo" add new
got=$(gen "$DIR/repo")
[[ $got =~ ^[0-9a-f]{7,}-dirty$ ]] && ok "uncommitted changes: '-dirty' ('$got')" ||
    not_ok "uncommitted changes: got '$got'"

echo "$PASS passed, $FAIL failed"
((FAIL == 0))
