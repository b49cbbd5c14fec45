#!/usr/bin/env bash
# The catalogue of log lines in the manual pages (man/*.scd, "LOG LINES") against the code:
# every action= a program can log must be documented, and every action= the pages name must
# be one the code can log. Fails, naming each difference.
#
# How the code logs an action (each way is searched; a new way fails the last check below
# until this script learns it):
#   - KvLine().Add("action", "NAME")                 a literal
#   - "... action=NAME ..." inside a string literal  lines built by hand (store, reviews)
#   - Add("action", d.action) in milter/session.cc   a Decision's action (lib/policy): the
#     literals assigned to `action` there, and "would-" + reject / tempfail (dry run applies
#     only to refusals, policy.cc MaybeDry)
#   - Add("action", action) in arf/main.cc           report_line("NAME")
# Usage: man/catalogue_test.sh [SOURCE_DIR]
set -uo pipefail
cd "${1:-$(dirname "$0")/..}" || exit 2

DIRS=(lib milter tailer arf cli)
# Code lines, without whole-line comments.
code() { grep -rhE --include='*.cc' --include='*.h' "$@" "${DIRS[@]}" | grep -vE '^\s*//'; }

{
    code -o 'Add\("action", *"[a-z-]+"\)' | sed -E 's/.*"([a-z-]+)"\)$/\1/'
    code -o '"[^"]*\baction=[a-z-]+' | grep -oE 'action=[a-z-]+$' | cut -d= -f2
    grep -hoE 'action = [^;]*;' lib/policy/policy.h lib/policy/policy.cc | grep -oE '"[a-z]+"' | tr -d '"'
    grep -hoE 'action = "would-" \+' lib/policy/policy.cc >/dev/null && printf 'would-reject\nwould-tempfail\n'
    grep -hoE 'report_line\("[a-z-]+"\)' arf/main.cc | sed -E 's/.*"([a-z-]+)".*/\1/'
} | sort -u >"${TMPDIR:-/tmp}/sg-actions-code.$$"
grep -hoE 'action=[a-z][a-z-]*' man/*.scd | cut -d= -f2 | sort -u >"${TMPDIR:-/tmp}/sg-actions-man.$$"
trap 'rm -f "${TMPDIR:-/tmp}/sg-actions-code.$$" "${TMPDIR:-/tmp}/sg-actions-man.$$"' EXIT

fail=0
n=$(wc -l <"${TMPDIR:-/tmp}/sg-actions-code.$$")
if ((n < 40)); then
    echo "catalogue: only $n actions found in the code: the search is broken"
    fail=1
fi
while read -r a; do
    echo "catalogue: action=$a can be logged but is not in the manual pages' LOG LINES"
    fail=1
done < <(comm -23 "${TMPDIR:-/tmp}/sg-actions-code.$$" "${TMPDIR:-/tmp}/sg-actions-man.$$")
while read -r a; do
    echo "catalogue: the manual pages name action=$a, which no code logs"
    fail=1
done < <(comm -13 "${TMPDIR:-/tmp}/sg-actions-code.$$" "${TMPDIR:-/tmp}/sg-actions-man.$$")
# Every way the code passes a non-literal action must be one of those searched above.
while IFS= read -r line; do
    case $line in
    *'Add("action", d.action)'* | *'l.Add("action", action)'*) ;;
    *) echo "catalogue: an action this test cannot read: $line (teach man/catalogue_test.sh)"; fail=1 ;;
    esac
done < <(code -n 'Add\("action", *[^" ]')
if ((fail)); then
    echo "catalogue: FAILED"
    exit 1
fi
echo "catalogue: ok ($n actions, each in the manual pages)"
