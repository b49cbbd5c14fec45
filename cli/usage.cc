// The command words of senderguardctl, checked before CLI11 parses them:
// CLI11 answers a mistyped command ("lis"), a missing one and "help" alike
// with "A subcommand is required".
#include <cstdio>
#include <cstring>
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

}  // namespace

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
      what += "\ncommands: " + Join(names);
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
