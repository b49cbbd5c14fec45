// The command words of senderguardctl, checked before CLI11 parses them:
// CLI11 answers a mistyped command ("lis"), a missing one and "help" alike
// with "A subcommand is required". And the one wording of a bad number.
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cli.h"
#include "senderguard/base/command_line.h"

namespace senderguard::cli {
namespace {

std::vector<std::string> CommandNames(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::App* sub : app.get_subcommands({})) out.push_back(sub->get_name());
  return out;
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

// The options of the top level that take a value (-c FILE): its value is no
// command word.
bool TakesValue(const char* arg) { return std::strcmp(arg, "-c") == 0 || std::strcmp(arg, "--config") == 0; }

bool AsksForHelpOrVersion(const char* arg) {
  return std::strcmp(arg, "-h") == 0 || std::strcmp(arg, "--help") == 0 || std::strcmp(arg, "--version") == 0;
}

// A number option's check: `integer` (a whole number) or not, from `lo` to
// `hi` (their texts as help shows them). "'abc' is not a number (1..90)",
// "'1.5' is not a whole number (1..90)", "'500' is out of range (1..90)";
// CLI11 puts the option's name in front.
std::function<std::string(std::string&)> NumberCheck(bool integer, long double lo, long double hi,
                                                    const std::string& lo_text, const std::string& hi_text) {
  return [=](std::string& input) -> std::string {
    const std::string shown = "'" + Printable(input, 40) + "'";
    const std::string range = " (" + lo_text + ".." + hi_text + ")";
    const char* begin = input.c_str();
    char* end = nullptr;
    errno = 0;
    const long double v = input.empty() || std::isspace(static_cast<unsigned char>(input[0])) != 0
                              ? 0
                              : std::strtold(begin, &end);
    if (end == nullptr || end == begin || *end != '\0' || !std::isfinite(v) ||
        input.find_first_of("xXpPnN") != std::string::npos) {  // no hex, inf or nan
      return shown + " is not a number" + range;
    }
    if (integer && input.find_first_not_of("-+0123456789") != std::string::npos) {
      return shown + " is not a whole number" + range;
    }
    if (errno == ERANGE || v < lo || v > hi) return shown + " is out of range" + range;
    return "";
  };
}

// CLI::Range's description: "INT in [1 - 90]" (the type CLI11 names the
// option's: INT, UINT, FLOAT), the bounds as a stream writes them.
bool ParseRangeDescription(const std::string& d, bool* integer, long double* lo, long double* hi, std::string* lo_text,
                           std::string* hi_text) {
  const size_t in = d.find(" in [");
  const size_t dash = d.find(" - ", in == std::string::npos ? 0 : in);
  if (in == std::string::npos || dash == std::string::npos || d.back() != ']') return false;
  const std::string type = d.substr(0, in);
  if (type != "INT" && type != "UINT" && type != "FLOAT") return false;
  *integer = type != "FLOAT";
  *lo_text = d.substr(in + 5, dash - in - 5);
  *hi_text = d.substr(dash + 3, d.size() - dash - 4);
  char* e1 = nullptr;
  char* e2 = nullptr;
  *lo = std::strtold(lo_text->c_str(), &e1);
  *hi = std::strtold(hi_text->c_str(), &e2);
  return !lo_text->empty() && !hi_text->empty() && *e1 == '\0' && *e2 == '\0';
}

}  // namespace

void RewordNumberChecks(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    for (int i = 0;; ++i) {
      CLI::Validator* v = nullptr;
      try {
        v = opt->get_validator(i);
      } catch (const CLI::OptionNotFound&) {
        break;
      }
      if (v == nullptr) break;
      bool integer = false;
      long double lo = 0, hi = 0;
      std::string lo_text, hi_text;
      if (ParseRangeDescription(v->get_description(), &integer, &lo, &hi, &lo_text, &hi_text)) {
        v->operation(NumberCheck(integer, lo, hi, lo_text, hi_text));
      }
    }
  }
  for (CLI::App* sub : app.get_subcommands({})) RewordNumberChecks(*sub);
}

std::optional<int> CheckCommandWords(CLI::App& app, int argc, char** argv) {
  CLI::App* at = &app;
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (std::strcmp(arg, "--") == 0) break;
    if (arg[0] == '-' && arg[1] != '\0') {
      if (AsksForHelpOrVersion(arg)) return std::nullopt;  // CLI11 prints them
      if (TakesValue(arg)) ++i;
      continue;
    }
    if (at == &app && !help && std::strcmp(arg, "help") == 0) {
      help = true;  // "help [COMMAND...]": that command's --help
      continue;
    }
    const std::string word = Printable(arg, 64);
    CLI::App* sub = nullptr;
    for (CLI::App* s : at->get_subcommands({})) {
      if (s->get_name() == arg) sub = s;
    }
    if (sub == nullptr) {
      const std::vector<std::string> names = CommandNames(*at);
      std::string what = "unknown command \"" + word + "\"";
      const std::string near = NearestWord(arg, names);
      if (!near.empty()) what += " (did you mean \"" + near + "\"?)";
      what += "\n" + WrapWords("commands: " + Join(names), 80, 4, 0);
      PrintUsageError(*at, what);
      return kExitUsage;
    }
    at = sub;
    if (at->get_subcommands({}).empty()) break;  // the rest is the command's own
  }
  if (help) {
    // "senderguardctl suppress" for add's usage line
    const std::string parents = at->get_parent() != nullptr ? CommandPath(*at->get_parent()) : "";
    std::fputs(at->help(parents).c_str(), stdout);
    return 0;
  }
  if (!at->get_subcommands({}).empty()) {
    PrintUsageError(*at, "a command is needed: " + Join(CommandNames(*at)));
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace senderguard::cli
