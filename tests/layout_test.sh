#!/usr/bin/env bash
# The rules of the layout (README, "Layout") that the build alone does not hold: the build
# refuses an #include of a header whose target is not linked, but not a relative path
# ("../store/lmdb/lmdb_store.h"), a system header such as <lmdb.h>, or a program grown fat.
# Checks the source tree; prints every breach and exits 1 if there is one.
# Usage: tests/layout_test.sh [SOURCE_DIR]   (default: this checkout)
set -uo pipefail
cd "${1:-$(dirname "$0")/..}" || exit 2

fail=0
breach() { echo "layout: $*"; fail=1; }

# <lmdb.h> only in the LMDB backend.
while read -r f; do
    [[ $f == lib/store/lmdb/* ]] || breach "$f includes <lmdb.h> (only lib/store/lmdb/ may)"
done < <(grep -rl --include='*.h' --include='*.cc' '#include <lmdb.h>' lib cli milter tailer arf)

# Programs name Store, never a backend.
while read -r f; do
    breach "$f names LmdbStore/LmdbOptions (programs use OpenStore, store/open.h)"
done < <(grep -rlE --include='*.h' --include='*.cc' '\bLmdb(Store|Options)\b' cli milter tailer arf)

# Every include inside lib/ names a lib/ header by its full path (no "../", no program).
while IFS=: read -r f line text; do
    breach "$f:$line: $text (include lib headers as \"senderguard/<folder>/<file>.h\")"
done < <(grep -rnE --include='*.h' --include='*.cc' '#include "(\.\./|[^s"][^"]*/|cli\.h|session\.h|auth\.h)' lib)

# decide/ is pure: no store, no DNS, no policy, no config, no I/O headers.
while IFS=: read -r f line text; do
    breach "$f:$line: $text (decide/ includes neither store/, auth/, config/ nor policy/)"
done < <(grep -rnE '#include "senderguard/(store|auth|config|policy|feedback)/' lib/decide)
while IFS=: read -r f line text; do
    breach "$f:$line: $text (decide/ reads no clock, file, environment or log: the caller passes them)"
done < <(grep -rnE '_clock::now|\btime\(nullptr\)|gettimeofday|clock_gettime|\bf?open\(|fstream|getenv|syslog\(|printf\(' \
    --include='*.h' --include='*.cc' lib/decide | grep -v snprintf)

# store/ (and its backends) includes no decision module.
while IFS=: read -r f line text; do
    breach "$f:$line: $text (store/ includes no decision module)"
done < <(grep -rnE '#include "senderguard/(decide|policy|feedback|auth)/' lib/store)

# Thin programs: every main.cc under 200 lines.
for f in milter/main.cc tailer/main.cc arf/main.cc cli/main.cc; do
    n=$(wc -l <"$f")
    ((n < 200)) || breach "$f has $n lines (a program's main.cc stays under 200)"
done

if ((fail)); then
    echo "layout: FAILED"
    exit 1
fi
echo "layout: ok"
