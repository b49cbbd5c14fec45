#!/usr/bin/env bash
# Renders each manual page built by man/CMakeLists.txt (scdoc -> roff) as man(1) would, and
# fails on any warning: groff -ww (all warnings) with tbl, and man -l at 80 columns. Also
# checks that each page has the sections the issue asks for.
# Usage: man/render_test.sh PAGE...   (the built roff files, e.g. build/man/senderguard-tail.8)
set -uo pipefail
# A locale that always exists, so that man(1) has nothing to say about it.
export LC_ALL=C.UTF-8
fail=0
for page in "$@"; do
    name=${page##*/}
    if [[ ! -s $page ]]; then
        echo "render: $name: missing or empty (was it built?)"
        fail=1
        continue
    fi
    warnings=$(groff -t -ww -man -Tutf8 -z "$page" 2>&1)
    if [[ -n $warnings ]]; then
        echo "render: $name: groff -ww:"
        printf '%s\n' "$warnings" | sed 's/^/    /'
        fail=1
    fi
    text=$(MANWIDTH=80 MAN_KEEP_FORMATTING= man -l "$page" 2>"${TMPDIR:-/tmp}/sg-man-err.$$")
    if [[ -s ${TMPDIR:-/tmp}/sg-man-err.$$ ]]; then
        echo "render: $name: man -l:"
        sed 's/^/    /' "${TMPDIR:-/tmp}/sg-man-err.$$"
        fail=1
    fi
    rm -f "${TMPDIR:-/tmp}/sg-man-err.$$"
    sections=(NAME SYNOPSIS DESCRIPTION)
    case $name in
    *.5) sections+=(EXAMPLES "SEE ALSO") ;;
    senderguardctl.8) sections+=(OPTIONS COMMANDS "EXIT STATUS" FILES "LOG LINES" EXAMPLES "SEE ALSO") ;;
    senderguard-arf.8) sections+=(OPTIONS "EXIT STATUS" FILES "LOG LINES" EXAMPLES "SEE ALSO") ;;
    *.8) sections+=(OPTIONS "EXIT STATUS" SIGNALS FILES MONITORING "LOG LINES" EXAMPLES "SEE ALSO") ;;
    esac
    for s in "${sections[@]}"; do
        grep -qx "$s" <<<"$text" || { echo "render: $name: no $s section"; fail=1; }
    done
done
((fail)) && { echo "render: FAILED"; exit 1; }
echo "render: ok ($# pages)"
