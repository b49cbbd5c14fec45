#include "senderguard/base/command_line.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <sstream>

#include "senderguard/base/text.h"
#include "senderguard/base/version.h"

namespace senderguard {
namespace {

// CLI11's layout, each help text wrapped to kHelpWidth columns afterwards.
class FittingFormatter : public CLI::Formatter {
 public:
  FittingFormatter() { column_width(28); }
  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override {
    return WrapHelp(CLI::Formatter::make_help(app, std::move(name), mode), kHelpWidth);
  }
};

// Where the description of an option or command line starts: after the
// first run of 2+ spaces that follows the line's first word; 0 when none.
size_t DescriptionColumn(std::string_view line) {
  size_t i = line.find_first_not_of(' ');
  if (i == std::string_view::npos) return 0;
  const size_t gap = line.find("  ", i);
  if (gap == std::string_view::npos) return 0;
  const size_t start = line.find_first_not_of(' ', gap);
  return start == std::string_view::npos ? 0 : start;
}

void WrapLine(std::string_view line, size_t width, std::string* out) {
  if (line.size() <= width) {
    out->append(line);
    return;
  }
  const size_t own = std::min(line.find_first_not_of(' '), line.size());
  size_t indent = DescriptionColumn(line);
  if (indent == 0 || indent > width / 2) indent = std::min(own + 4, width / 2);
  out->append(WrapWords(line, width, indent, std::max(indent, own + 1)));
}

}  // namespace

void PrepareCommandLine(CLI::App& app, std::string_view program) {
  app.name(std::string(program));
  app.formatter(std::make_shared<FittingFormatter>());
  app.set_help_flag("-h,--help", "print this help and exit");
}

void AddVersionFlag(CLI::App& app) {
  app.set_version_flag("--version", app.get_name() + " " + VersionString(), "print the version and exit");
}

void AddConfigOption(CLI::App& app, std::string* flag) {
  app.add_option("-c,--config", *flag, "configuration file (default: $SENDERGUARD_CONF, else " +
                                           std::string(kDefaultConfigPath) + ")")
      ->type_name("FILE")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            return v.empty() ? "an empty path names no file (leave -c out for the default)" : "";
          },
          ""));
}

std::string CommandPath(const CLI::App& app) {
  std::string name = app.get_name();
  for (const CLI::App* p = app.get_parent(); p != nullptr; p = p->get_parent()) name = p->get_name() + " " + name;
  return name;
}

void PrintUsageError(const CLI::App& app, std::string_view what) {
  const std::string name = CommandPath(app);
  std::fprintf(stderr, "%s: %.*s\nTry '%s --help'.\n", name.c_str(), static_cast<int>(what.size()), what.data(),
               name.c_str());
}

namespace {

// The first word of argv before any "--" that starts with '-' and names no
// option of `at` or of a command above it (its "=value" aside), or "".
std::string StrayDashWord(const CLI::App& at, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--") break;
    if (word.size() < 2 || word[0] != '-') continue;
    const std::string name = word.substr(0, word.find('='));
    bool known = false;
    for (const CLI::App* a = &at; a != nullptr && !known; a = a->get_parent())
      known = a->get_option_no_throw(name) != nullptr;
    if (!known) return word;
  }
  return "";
}

}  // namespace

std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv, int usage_status) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      return app.exit(e);  // --help, --version: on stdout
    }
    std::string what = e.what();
    // CLI11: "The following argument(s) was/were not expected: A B".
    // Named one at a time: the first unknown option, else the first stray word.
    if (const size_t colon = what.find(" not expected: "); colon != std::string::npos) {
      std::istringstream words(what.substr(colon + 15));
      std::string first, option;
      for (std::string w; words >> w;) {
        if (first.empty()) first = w;
        if (option.empty() && w.size() > 1 && w[0] == '-') option = w;
      }
      what = !option.empty() ? "unknown option " + option : "unexpected argument \"" + first + "\"";
    }
    // Named after the (sub)command being parsed: "senderguardctl suppress add".
    const CLI::App* at = &app;
    for (auto subs = at->get_subcommands(); !subs.empty(); subs = at->get_subcommands()) at = subs.front();
    // A value that starts with '-' ("domains add bob -bad-.example") was
    // taken for an option, so its argument is "required": say which.
    if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
      if (const std::string stray = StrayDashWord(*at, argc, argv); !stray.empty()) {
        what += " ('" + Printable(stray, 64) + "' was read as an option: put -- before a value that starts with '-')";
      }
    }
    PrintUsageError(*at, what);
    return usage_status;
  }
}

std::string WrapWords(std::string_view line, size_t width, size_t indent, size_t keep) {
  indent = std::min(indent, width / 2);
  std::string out;
  bool first = true;
  while (line.size() > (first ? width : width - indent)) {
    const size_t room = first ? width : width - indent;
    // The last space at or before the room, not before `keep` on the first line.
    size_t cut = line.rfind(' ', room);
    if (cut == std::string_view::npos || (first && cut < keep)) {
      cut = line.find(' ', room);  // a word longer than the room: left whole
      if (cut == std::string_view::npos) break;
    }
    std::string_view head = line.substr(0, cut);
    while (!head.empty() && head.back() == ' ') head.remove_suffix(1);
    out.append(head);
    out.push_back('\n');
    out.append(indent, ' ');
    line.remove_prefix(cut);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    first = false;
  }
  out.append(line);
  return out;
}

std::string WrapHelp(std::string_view text, size_t width) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    WrapLine(text.substr(0, nl), width, &out);
    if (nl == std::string_view::npos) break;
    out.push_back('\n');
    text.remove_prefix(nl + 1);
  }
  return out;
}

namespace {

// Edits from a to b: insertions, deletions, substitutions and swaps of two
// neighbours (the optimal string alignment distance: "lsit" is 1 from "list").
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string NearestWord(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.empty() || word.size() > 64) return {};
  const size_t allowed = word.size() >= 5 ? 2 : 1;
  std::string best;
  size_t best_d = allowed + 1;
  for (const auto& c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d < best_d) {
      best = c;
      best_d = d;
    }
  }
  if (!best.empty()) return best;
  std::string prefixed;
  for (const auto& c : candidates) {
    if (c.size() > word.size() && c.compare(0, word.size(), word) == 0) {
      if (!prefixed.empty()) return {};  // several: no guess
      prefixed = c;
    }
  }
  return prefixed;
}

}  // namespace senderguard
