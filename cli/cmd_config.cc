// senderguardctl config [--changed | --defaults]: the configuration in
// force, one "section.key = value" line per key the configuration accepts
// (ConfigEntries, config.h), as `postconf` prints Postfix's: all of them,
// each that is the default marked "# default"; --changed only those the file
// sets to another value (postconf -n); --defaults the defaults alone, without
// reading any file (postconf -d). The lines are TOML (dotted keys), so
// --changed's output is itself a configuration with the same effect, except
// for secrets, shown "(set, hidden)". A value is never cut: lines may be
// wider than 80 columns (the reply texts).
#include <cstdio>
#include <map>

#include "cli.h"

namespace senderguard::cli {

void AddConfigCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand(
      "config", "The configuration in force, one key a line, defaults marked (as postconf)");
  cmd->footer("Example:\n  senderguardctl config --changed");
  static bool changed = false, defaults = false;
  auto* ch = cmd->add_flag("--changed", changed, "only the keys set to another value than the default");
  cmd->add_flag("--defaults", defaults, "the defaults alone (reads no file)")->excludes(ch);
  cmd->callback([&env] {
    auto def = ParseConfig("", "(defaults)");
    if (!def.ok()) throw Failure{kExitConfig, def.status().message()};
    const std::vector<ConfigEntry> base = ConfigEntries(**def);
    if (defaults) {
      for (const auto& e : base) std::printf("%s = %s\n", e.key.c_str(), e.value.c_str());
      return;
    }
    std::map<std::string, std::string> default_value;
    for (const auto& e : base) default_value[e.key] = e.value;
    for (const auto& e : ConfigEntries(env.config())) {
      const bool is_default = default_value[e.key] == e.value;
      if (changed && is_default) continue;
      std::printf("%s = %s%s\n", e.key.c_str(), e.value.c_str(), !changed && is_default ? "  # default" : "");
    }
  });
}

}  // namespace senderguard::cli
