#!/usr/bin/env bash
# senderguardctl's usability commands (issue 15, items 8 and 9) on temporary files, without
# Postfix: `stats` over a store and the daemons' Prometheus files (and without [monitoring]
# textfile, where it says the counters are not available); `config` with --changed,
# --defaults and --json; the bash completion sourced and driven as bash does; every command's --help ends
# with an example and fits 80 columns. (stats against a real run: monitoring_test.sh.)
set -uo pipefail
SRC=${SG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${SG_BIN_DIR:-$SRC/build/bin}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
# ctl CONF ARGS...: senderguardctl -c CONF ARGS, output in $DIR/out and $DIR/err, status in $RC
ctl() {
    local conf=$1
    shift
    "$BIN/senderguardctl" -c "$conf" "$@" </dev/null >"$DIR/out" 2>"$DIR/err"
    RC=$?
}
# same WHAT GOT WANT
same() {
    if [[ $2 == "$3" ]]; then ok "$1"; else
        not_ok "$1: got '$2', want '$3'"
        sed 's/^/#   /' "$DIR/out" "$DIR/err"
    fi
}
# says WHAT PATTERN: $DIR/out has a line matching PATTERN (grep -E)
says() {
    if grep -qE -- "$2" "$DIR/out"; then ok "$1"; else
        not_ok "$1 (want /$2/ in:)"
        sed 's/^/#   /' "$DIR/out" "$DIR/err"
    fi
}
# fits WHAT FILE: no line over 80 columns
fits() {
    local wide
    wide=$(awk 'length($0) > 80' "$2" | head -3)
    if [[ -z $wide && -s $2 ]]; then ok "$1 fits 80 columns"; else
        not_ok "$1 fits 80 columns:"
        printf '%s\n' "$wide" | sed 's/^/#   /'
    fi
}

# ---- stats
printf '[store]\npath = "%s/store"\n' "$DIR" >"$DIR/plain.conf"
ctl "$DIR/plain.conf" stats
same "stats on a store that is not there: exit 74" "$RC" 74
[[ -e $DIR/store ]] && not_ok "stats made a store" || ok "stats made no store (read-only)"
ctl "$DIR/plain.conf" suspend bob --reason test --create
ctl "$DIR/plain.conf" dry-run carol on --create
ctl "$DIR/plain.conf" quota set dave day=5 --create
ctl "$DIR/plain.conf" reinstate bob --for 1d
ctl "$DIR/plain.conf" suspend erin --reason test --create
ctl "$DIR/plain.conf" suppress add gone@example.org
ctl "$DIR/plain.conf" suppress add old@example.org
ctl "$DIR/plain.conf" suppress add x@example.org --account carol
ctl "$DIR/plain.conf" stats
same "stats: exit 0" "$RC" 0
says "stats: accounts by state" '^accounts: 4 \(2 active, 1 suspended, 1 reinstated; 1 in dry run\)$'
says "stats: suppressions" '^suppressed addresses: 2 in the global list, 1 in accounts. own lists$'
says "stats: outcomes of today and 30 days" '^  delivered +0 +0$'
says "stats: rates with nothing to divide by are -" '^  complaint rate +- +-$'
says "stats without [monitoring] textfile says so" \
    '^daemon counters: not available \(\[monitoring\] textfile is not set\)$'
fits "stats" "$DIR/out"
ctl "$DIR/plain.conf" stats --json
same "stats --json: accounts" "$(jq -c .accounts "$DIR/out")" \
    '{"active":2,"dry_run":1,"reinstated":1,"suspended":1,"total":4}'
same "stats --json: suppressions" "$(jq -c .suppressions "$DIR/out")" '{"accounts":1,"global":2}'
same "stats --json: daemons null, and why" "$(jq -c '[.daemons, .daemons_note]' "$DIR/out")" \
    '[null,"not available ([monitoring] textfile is not set)"]'
same "stats --json: the time in ISO 8601 UTC" \
    "$(jq -r .time "$DIR/out" | grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$')" 1
same "stats --json: 30 days" "$(jq -r '.outcomes.last_30_days | [.from, .to, .delivered, .complaint_rate] | @tsv' "$DIR/out")" \
    "$(date -u -d '29 days ago' +%F)	$(date -u +%F)	0	"

# The daemons' files: the milter's as it writes it, the tailer's missing, then garbage.
mkdir "$DIR/prom"
printf '[store]\npath = "%s/store"\n[monitoring]\ntextfile = "%s/prom/{program}.prom"\n' "$DIR" "$DIR" \
    >"$DIR/mon.conf"
cat >"$DIR/prom/senderguard-milter.prom" <<'EOF'
# HELP senderguard_build_info The senderguard program running and its version (always 1).
# TYPE senderguard_build_info gauge
senderguard_build_info{program="senderguard-milter",version="9.8.7"} 1
# TYPE senderguard_milter_decisions_total counter
senderguard_milter_decisions_total{stage="eom",action="accept",reason="none"} 7
senderguard_milter_decisions_total{stage="mail",action="reject",reason="suspended"} 2
senderguard_milter_decisions_total{stage="rcpt",action="reject",reason="suspended"} 3
senderguard_milter_decisions_total{stage="rcpt",action="tempfail",reason="quota"} 1
senderguard_milter_dmarc_results_total{result="pass"} 6
senderguard_milter_dmarc_results_total{result="fail"} 1
senderguard_milter_store_errors_total 0
senderguard_milter_decision_duration_seconds_count{stage="mail"} 10
EOF
touch -d '90 seconds ago' "$DIR/prom/senderguard-milter.prom"
ctl "$DIR/mon.conf" stats
same "stats with the milter's file: exit 0" "$RC" 0
says "stats: the milter's file and its age" '^  written .* \(9[0-9] s ago\), version 9\.8\.7$'
says "stats: decisions by action and reason, summed over stages" '^  reject +suspended +5$'
says "stats: tempfail quota" '^  tempfail +quota +1$'
says "stats: DMARC results" '^ +fail +1$'
says "stats: no tailer file, said" '^  no file yet'
fits "stats with the daemons' files" "$DIR/out"
ctl "$DIR/mon.conf" stats --json
same "stats --json: the milter's decisions" \
    "$(jq -c '.daemons["senderguard-milter"] | [.decisions, .accepted, .dmarc.pass, .version, .age_s >= 90]' "$DIR/out")" \
    '[[{"action":"accept","count":7,"reason":"none"},{"action":"reject","count":5,"reason":"suspended"},{"action":"tempfail","count":1,"reason":"quota"}],7,6,"9.8.7",true]'
same "stats --json: written in ISO 8601 UTC" \
    "$(jq -r '.daemons["senderguard-milter"].written' "$DIR/out")" \
    "$(date -u -d "@$(stat -c %Y "$DIR/prom/senderguard-milter.prom")" +%FT%TZ)"
printf 'senderguard_build_info{program="senderguard-tail",version="1"} 1\nsenderguard_tail_lines_total 12x\n' \
    >"$DIR/prom/senderguard-tail.prom"
ctl "$DIR/mon.conf" stats
same "stats with a broken tailer file: still exit 0" "$RC" 0
says "stats: the broken file's line named" '^  not readable: line 2: bad value "12x"$'
cp "$DIR/prom/senderguard-milter.prom" "$DIR/prom/senderguard-tail.prom"
ctl "$DIR/mon.conf" stats --json
same "stats: the milter's file in the tailer's place is refused" \
    "$(jq -r '.daemons["senderguard-tail"].error' "$DIR/out")" \
    'not readable: not senderguard-tail'"'"'s file (no senderguard_build_info{program="senderguard-tail"})'

# ---- config
# Two keys changed, and one set to its default (not a change).
printf '[milter]\nsocket_mode = "0600"\ndry_run = false\n[quota.day]\nlimit = 500\n' >"$DIR/two.conf"
ctl "$DIR/two.conf" config --changed
same "config --changed: exit 0" "$RC" 0
same "config --changed: exactly the two keys set to another value" "$(cat "$DIR/out")" \
"milter.socket_mode = \"0600\"
quota.day.limit = 500"
cp "$DIR/out" "$DIR/changed.conf"
ctl "$DIR/changed.conf" config --changed
same "config --changed's output is a configuration with the same effect" "$(cat "$DIR/out")" \
    "$(cat "$DIR/changed.conf")"
ctl "$DIR/two.conf" config
n_all=$(wc -l <"$DIR/out")
same "config: every key, the others marked default" "$(grep -Evc '  # default(: .*)?$' "$DIR/out")" 2
says "config: dry_run set to its default is a default" '^milter\.dry_run = false  # default$'
ctl /nonexistent/senderguard.conf config --defaults
same "config --defaults reads no file: exit 0" "$RC" 0
same "config --defaults: as many keys as config" "$(wc -l <"$DIR/out")" "$n_all"
says "config --defaults: the default socket" '^milter\.socket = "unix:/run/senderguard/milter\.sock"$'
ctl "$DIR/two.conf" config --defaults --changed
same "config --defaults --changed: usage error" "$RC" 64
printf '[feedback]\nsecret = "0123456789abcdef-secret"\n[store]\npath = "/x"\n' >"$DIR/secret.conf"
ctl "$DIR/secret.conf" config --changed
says "config: a secret is shown set and hidden" '^feedback\.secret = \(set, hidden\)$'
grep -q 0123456789abcdef "$DIR/out" && not_ok "config shows the secret" || ok "config does not show the secret"
ctl /nonexistent/senderguard.conf config
same "config of a missing file: exit 78" "$RC" 78
# --json: the sections as objects, each key's value typed; at_default the same shape, true or false.
ctl "$DIR/two.conf" config --json
same "config --json: exit 0" "$RC" 0
same "config --json: the file" "$(jq -r .file "$DIR/out")" "$DIR/two.conf"
same "config --json: a number" "$(jq -c .config.quota.day.limit "$DIR/out")" 500
same "config --json: a string" "$(jq -c .config.milter.socket_mode "$DIR/out")" '"0600"'
same "config --json: a list" "$(jq -c .config.milter.identity "$DIR/out")" '["sasl","sender-domain","client-address"]'
same "config --json: a float" "$(jq -c .config.reputation.suspend_hard_rate "$DIR/out")" 0.1
same "config --json: a boolean" "$(jq -c .config.milter.dry_run "$DIR/out")" false
same "config --json: a subsection" "$(jq -c .config.store.postgresql.lease_ttl_s "$DIR/out")" 60
same "config --json: every key once" "$(jq '[.config | paths(type != "object") | select(all(.[]; type == "string"))] | length' "$DIR/out")" "$n_all"
same "config --json: at_default has the same keys" \
    "$(jq '[.at_default | paths(type == "boolean")] | length' "$DIR/out")" "$n_all"
same "config --json: the keys not at their default" \
    "$(jq -c '.at_default | [paths(type == "boolean") as $p | select(getpath($p) == false) | $p | join(".")]' "$DIR/out")" \
    '["milter.socket_mode","quota.day.limit"]'
ctl "$DIR/two.conf" config --changed --json
same "config --changed --json: only those" "$(jq -c .config "$DIR/out")" '{"milter":{"socket_mode":"0600"},"quota":{"day":{"limit":500}}}'
ctl /nonexistent/senderguard.conf config --defaults --json
same "config --defaults --json: reads no file" "$RC $(jq -c .file "$DIR/out")" "0 null"
same "config --defaults --json: all at their default" \
    "$(jq '[.at_default | paths(type == "boolean") as $p | getpath($p)] | all' "$DIR/out")" true
same "config --defaults --json: the default socket" "$(jq -r .config.milter.socket "$DIR/out")" \
    unix:/run/senderguard/milter.sock
ctl "$DIR/secret.conf" config --json
same "config --json: a secret shown set and hidden" "$(jq -r .config.feedback.secret "$DIR/out")" '(set, hidden)'
grep -q 0123456789abcdef "$DIR/out" && not_ok "config --json shows the secret" || ok "config --json does not show the secret"

# The fleet's node defaults to the host name: config shows that name, not "" (which a file
# refuses), so that its output read back means the same (a user test fed it back and failed).
printf '[store]\nbackend = "postgresql"\npath = "%s/pg"\n[store.postgresql]\nconninfo = "host=127.0.0.1 port=1"\n' "$DIR" >"$DIR/pg.conf"
ctl "$DIR/pg.conf" config
same "config: the node by default is the host name" \
    "$(grep '^store.postgresql.node' "$DIR/out")" "store.postgresql.node = \"$(hostname)\"  # default: the host name"
ctl "$DIR/pg.conf" config --json
same "config --json: the node is the host name" "$(jq -r .config.store.postgresql.node "$DIR/out")" "$(hostname)"
printf '[store]\nbackend = "postgresql"\npath = "%s/pg"\n[store.postgresql]\nconninfo = "host=127.0.0.1 port=1"\nnode = "%s"\n' "$DIR" "$(hostname)" >"$DIR/pg2.conf"
ctl "$DIR/pg2.conf" config
same "... and that value, written in the file, is accepted" "$RC" 0

# ---- bash completion: the file sourced in a new bash, its function driven as bash drives it
# (COMP_WORDS, COMP_CWORD), the program given by the path it was typed as.
COMPLETION=$SRC/completion/senderguardctl.bash
# completes WHAT WANT WORD...: completing the last WORD offers exactly WANT (sorted, spaces)
completes() {
    local what=$1 want=$2 got
    shift 2
    got=$(cd "$DIR" && bash -c '
        . "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        case $1 in *senderguardctl) _senderguardctl ;; *) _senderguard_daemon ;; esac
        printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION" "$@" 2>&1 | sort | tr '\n' ' ')
    same "completion: $what" "${got% }" "$want"
}
CTL=$BIN/senderguardctl
completes "every command" \
    "$("$CTL" --help | sed -n '/^Subcommands:/,$s/^  \([a-z][-a-z]*\) .*/\1/p' | { cat; echo help; } | sort | tr '\n' ' ' | sed 's/ $//')" \
    "$CTL" ""
completes "commands by prefix" "show stats store suppress suspend" "$CTL" s
completes "a subcommand" "add check export import list remove" "$CTL" suppress ""
completes "a subcommand after -c FILE" "add list only remove" "$CTL" -c "$DIR/plain.conf" domains ""
completes "options of a subcommand" "--account --config --global --help --json --limit --wide" \
    "$CTL" suppress list --
completes "an option's choices" "bounces complaints quota refusals volume" "$CTL" top --by ""
completes "a positional's choices" "off on" "$CTL" dry-run carol ""
completes "account names from the store of -c" "bob carol dave erin" "$CTL" -c "$DIR/plain.conf" show ""
completes "account names after --account" "bob carol dave erin" \
    "$CTL" -c "$DIR/plain.conf" suppress add x@example.org --account ""
completes "no store: no names, no error" "" "$CTL" -c "$DIR/none.conf" show ""
completes "a window of quota set" "minute= month=" "$CTL" quota set bob m
completes "the window of quota reset" "day hour minute month" "$CTL" quota reset bob ""
completes "a file after -c" "plain.conf" "$CTL" -c pla
completes "help COMMAND" "stats store" "$CTL" help st
completes "config's options" "--changed --config --defaults --help --json" "$CTL" config --
completes "senderguard-milter's options" "--check --config --help --stderr --version" \
    "$BIN/senderguard-milter" --
completes "senderguard-tail: a file after --config" "plain.conf" "$BIN/senderguard-tail" --config pl

# ---- --help: every command and subcommand that `senderguardctl help` lists ends with an example
# of itself, within 80 columns.
# subcommands HELPFILE: the names its "Subcommands:" section lists
subcommands() { sed -n '/^Subcommands:/,/^$/s/^  \([a-z][-a-z]*\) .*/\1/p' "$1"; }
"$CTL" help >"$DIR/help.top"
n_cmds=0
while read -r cmd; do
    "$CTL" "$cmd" --help >"$DIR/help.$cmd" 2>&1
    list=("$cmd")
    while read -r sub; do list+=("$cmd $sub"); done < <(subcommands "$DIR/help.$cmd")
    for c in "${list[@]}"; do
        n_cmds=$((n_cmds + 1))
        # shellcheck disable=SC2086 # "suppress add": two words
        "$CTL" $c --help >"$DIR/help.one" 2>&1
        # The footer: "Example:" (or "Examples:"), then only "  senderguardctl CMD ..." lines
        # and their indented continuations, to the end.
        if awk -v c="  senderguardctl $c" '
            /^Examples?:$/ {ex = 1; n = 0; bad = 0; next}
            ex && index($0, c) == 1 && (length($0) == length(c) || substr($0, length(c) + 1, 1) == " ") {n++; next}
            ex && /^      / && n > 0 {next}
            ex && /^$/ {next}
            ex {bad = 1}
            END {exit !(ex && n > 0 && !bad)}' "$DIR/help.one"; then
            ok "senderguardctl $c --help ends with an example of it"
        else
            not_ok "senderguardctl $c --help ends with an example of it:"
            tail -n 4 "$DIR/help.one" | sed 's/^/#   /'
        fi
        fits "senderguardctl $c --help" "$DIR/help.one"
    done
done < <(subcommands "$DIR/help.top")
((n_cmds >= 29)) && ok "$n_cmds commands' help checked" || not_ok "only $n_cmds commands' help checked"

echo "$PASS passed, $FAIL failed"
((FAIL == 0))
