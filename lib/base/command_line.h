// The command line every senderguard program shares: the -c option, how a
// usage error ends, and help text that fits a terminal.
//
// One policy for the four programs: a usage error (an unknown option, a
// missing or empty value) prints "PROGRAM: what" naming the bad argument and
// "Try 'PROGRAM --help'." on stderr and exits 64 (EX_USAGE), except where a
// program's caller needs another status (senderguard-arf, run by Postfix's
// pipe(8), exits 75 so that a typo in master.cf defers the report instead of
// bouncing it). --help and --version print on stdout and exit 0.
//
// Thread safety: call from main() before any thread starts.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/base/exit_codes.h"

namespace CLI {
class App;
}

namespace senderguard {

// Help text is wrapped to this many columns (a terminal's 80).
inline constexpr size_t kHelpWidth = 80;

// Sets up `app` (before its options and subcommands are added, which inherit
// it): named `program` (not argv[0], in help and errors), help wrapped to
// kHelpWidth columns, "-h,--help".
void PrepareCommandLine(CLI::App& app, std::string_view program);

// Adds "--version", printing "PROGRAM VersionString()" (base/version.h).
void AddVersionFlag(CLI::App& app);

// Adds "-c,--config FILE" storing into *flag (which must outlive `app`). An
// empty FILE is a usage error: ConfigPath() reads "" as "not given" and would
// fall back to $SENDERGUARD_CONF or the production default without a word.
void AddConfigOption(CLI::App& app, std::string* flag);

// Parses argv into `app`. Returns nullopt to go on, or the status to exit
// with: 0 after --help or --version (printed on stdout), `usage_status`
// after a usage error (printed on stderr as above: "unknown option --x",
// "unexpected argument \"x\"", or CLI11's own message naming the option).
std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv,
                                    int usage_status = kExitUsageError);

// The names of `app` and its parents, outermost first: "senderguardctl
// quota set".
std::string CommandPath(const CLI::App& app);

// Prints "PROGRAM: what" and "Try 'PROGRAM --help'." on stderr, PROGRAM
// being CommandPath(app) ("senderguardctl suppress").
void PrintUsageError(const CLI::App& app, std::string_view what);

// Pure: `text` with every line longer than `width` columns broken at spaces.
// A continuation line is indented to where the line's description starts
// (after the first run of two or more spaces that follows its first word,
// as CLI11 lays out an option or a command), else 4 more than the line's
// own indent. A word longer than the room is left whole.
std::string WrapHelp(std::string_view text, size_t width);

// Pure: one line broken at spaces into lines of at most `width` columns,
// each after the first indented by `indent` spaces (at most width / 2); the
// first line is not broken before byte `keep` (a head that stays whole:
// WrapHelp's option name, senderguardctl explain's check and verdict). A
// word longer than the room is left whole. Spaces at a break are dropped.
// No line end at the end. WrapHelp wraps each line with it.
std::string WrapWords(std::string_view line, size_t width, size_t indent, size_t keep);

// Pure: the candidate closest to `word` when it is close enough to be a
// typo (at most 2 edits for words of 5+ letters, 1 for shorter ones, or a
// prefix of exactly one candidate), else "". Ties go to the first candidate.
std::string NearestWord(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace senderguard
