# bash completion for senderguardctl and the daemons senderguard-milter, senderguard-tail and
# senderguard-arf. Installed as share/bash-completion/completions/senderguardctl (and under each
# daemon's name), which bash-completion loads the first time one of them is completed.
#
# The commands, their options and positionals are read from the program's own --help (CLI11's
# layout), once per shell for each command path, so this file never lists them and cannot fall
# behind the program. Account names come from `senderguardctl list --json`, with the -c FILE
# of the command line, cut off after a second and silent on any error.

# _senderguard_help PROGRAM [COMMAND...]: the --help text of that command, cached.
_senderguard_help() {
    local key="$*"
    if [[ -z ${_senderguard_help_cache[$key]+set} ]]; then
        _senderguard_help_cache[$key]=$(LC_ALL=C timeout 2 "$@" --help 2>/dev/null)
    fi
    printf '%s\n' "${_senderguard_help_cache[$key]}"
}
declare -gA _senderguard_help_cache 2>/dev/null || declare -A _senderguard_help_cache

# _senderguard_section TEXT NAME: the lines of section NAME ("Options", "Subcommands",
# "Positionals") of a help text, continuation lines left out.
_senderguard_section() {
    local line in=0
    while IFS= read -r line; do
        if [[ $line == "$2:" ]]; then in=1; continue; fi
        [[ $line =~ ^[^\ ] ]] && in=0
        ((in)) && [[ $line =~ ^\ \ [^\ ] ]] && printf '%s\n' "$line"
    done <<<"$1"
}

# _senderguard_options HELP: one line per option, "NAME TYPE CHOICES" (TYPE "-" for a flag,
# CHOICES "-" for none, else comma-separated), for -x,--long both names.
_senderguard_options() {
    local line re='^  (-[a-zA-Z],)?(--[a-zA-Z][-a-zA-Z0-9]*)( ([A-Z]+)(:\{([^}]*)\}|:[^ ]*)?)?( |$)'
    while IFS= read -r line; do
        [[ $line =~ $re ]] || continue
        local type=${BASH_REMATCH[4]:--} choices=${BASH_REMATCH[6]:--}
        printf '%s %s %s\n' "${BASH_REMATCH[2]}" "$type" "$choices"
        [[ -n ${BASH_REMATCH[1]} ]] && printf '%s %s %s\n' "${BASH_REMATCH[1]%,}" "$type" "$choices"
    done < <(_senderguard_section "$1" Options)
}

# _senderguard_accounts PROGRAM [CONF]: account names, or nothing.
_senderguard_accounts() {
    local -a conf=()
    [[ -n ${2:-} ]] && conf=(-c "$2")
    LC_ALL=C timeout 1 "$1" "${conf[@]}" list --json 2>/dev/null |
        sed -n 's/^ *"account": "\([^"\\]*\)",\{0,1\}$/\1/p'
}

# _senderguard_value KIND CHOICES PROGRAM CONF: completions of a value: a file, one of the
# choices, an account name, or nothing.
_senderguard_value() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    case $1 in
    FILE)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        ;;
    ACCOUNT) mapfile -t COMPREPLY < <(compgen -W "$(_senderguard_accounts "$3" "$4")" -- "$cur") ;;
    LIMITS)
        compopt -o nospace 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -W "minute= hour= day= month=" -- "$cur")
        ;;
    *) [[ $2 != - ]] && mapfile -t COMPREPLY < <(compgen -W "${2//,/ }" -- "$cur") ;;
    esac
}

_senderguardctl() {
    local prog=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} conf="" i word
    local -a path=()
    local help sub opts npos=0 want=""
    COMPREPLY=()
    help=$(_senderguard_help "$prog")
    opts=$(_senderguard_options "$help")
    # The words before the one completed: the command path, the options' values, the
    # positionals given so far.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ $word == -c || $word == --config ]]; then
            conf=${COMP_WORDS[i + 1]:-}
            ((i++))
            continue
        fi
        if [[ $word == -* ]]; then
            # an option that takes a value: skip the value
            [[ $(awk -v o="$word" '$1 == o {print $2}' <<<"$opts") =~ ^[A-Z] ]] && ((i++))
            continue
        fi
        if ((${#path[@]} == 0)) && [[ $word == help ]]; then continue; fi
        sub=$(_senderguard_section "$help" Subcommands | awk '{print $1}')
        if [[ -n $sub ]] && grep -qxF -- "$word" <<<"$sub"; then
            path+=("$word")
            help=$(_senderguard_help "$prog" "${path[@]}")
            opts=$(_senderguard_options "$help")
        else
            ((npos++))
        fi
    done
    # The value of an option.
    local prev=${COMP_WORDS[COMP_CWORD - 1]:-}
    if ((COMP_CWORD > 1)) && [[ $prev == -* ]]; then
        local type choices
        read -r _ type choices < <(awk -v o="$prev" '$1 == o' <<<"$opts")
        if [[ $prev == -c || $prev == --config ]]; then type=FILE; fi
        if [[ $prev == --account ]]; then type=ACCOUNT; fi
        if [[ -n ${type:-} && $type != - ]]; then
            _senderguard_value "$type" "${choices:--}" "$prog" "$conf"
            return 0
        fi
    fi
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(awk '{print $1}' <<<"$opts") -c --config" -- "$cur")
        return 0
    fi
    sub=$(_senderguard_section "$help" Subcommands | awk '{print $1}')
    if [[ -n $sub ]]; then
        ((${#path[@]} == 0)) && sub+=$'\nhelp'
        mapfile -t COMPREPLY < <(compgen -W "$sub" -- "$cur")
        return 0
    fi
    # A positional: the next one the command takes (the last repeats, as LIMITS... does).
    local -a pos=()
    mapfile -t pos < <(_senderguard_section "$help" Positionals)
    ((${#pos[@]} == 0)) && return 0
    ((npos >= ${#pos[@]})) && npos=$((${#pos[@]} - 1))
    local re='^  ([A-Z]+) [A-Z]+(:\{([^}]*)\})?'
    [[ ${pos[npos]} =~ $re ]] || return 0
    _senderguard_value "${BASH_REMATCH[1]}" "${BASH_REMATCH[3]:--}" "$prog" "$conf"
    return 0
}

# The daemons: their options, and a file after -c.
_senderguard_daemon() {
    local prog=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]:-}
    COMPREPLY=()
    local opts
    opts=$(_senderguard_options "$(_senderguard_help "$prog")")
    if ((COMP_CWORD > 1)) && [[ $prev == -* ]]; then
        local type choices
        read -r _ type choices < <(awk -v o="$prev" '$1 == o' <<<"$opts")
        if [[ -n ${type:-} && $type != - ]]; then
            _senderguard_value "$type" "${choices:--}" "$prog" ""
            return 0
        fi
    fi
    mapfile -t COMPREPLY < <(compgen -W "$(awk '{print $1}' <<<"$opts")" -- "$cur")
    return 0
}

complete -F _senderguardctl senderguardctl
complete -F _senderguard_daemon senderguard-milter senderguard-tail senderguard-arf
