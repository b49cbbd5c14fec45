// senderguardctl config [--changed | --defaults] [--json]: the configuration
// in force, one "section.key = value" line per key the configuration accepts
// (ConfigEntries, config.h), as `postconf` prints Postfix's: all of them,
// each that is the default marked "# default"; --changed only those the file
// sets to another value (postconf -n); --defaults the defaults alone, without
// reading any file (postconf -d). The lines are TOML (dotted keys), so
// --changed's output is itself a configuration with the same effect, except
// for secrets, shown "(set, hidden)". A value is never cut: lines may be
// wider than 80 columns (the reply texts).
//
// --json: the same keys as one object, for scripts:
//   {"file": "/etc/senderguard/senderguard.conf",        (null with --defaults)
//    "config": {"store": {"path": "/var/lib/senderguard", ...},
//               "quota": {"day": {"limit": 500, ...}, ...}, ...},
//    "at_default": {"store": {"path": true, ...}, "quota": {"day": {"limit": false}}}}
// "config" nests as the file does (its sections and keys), each value typed
// (a string, number, boolean or list); "at_default" has the same shape, each
// key true when its value is the default. So `jq .config.store.path` reads a
// value and `jq .at_default.store.path` whether it was changed.
#include <cstdio>
#include <map>
#include <string_view>

#include "cli.h"
#include "senderguard/store/open.h"

namespace senderguard::cli {
namespace {

// The TOML value ConfigEntries writes as JSON: its strings, numbers,
// booleans and lists are written in the subset of TOML that JSON shares
// (basic strings with \" \\ \n \t \r \uXXXX escapes); a hidden secret is the
// string "(set, hidden)".
nlohmann::ordered_json ValueJson(const ConfigEntry& e) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(e.value, nullptr, false);
  if (j.is_discarded()) return e.value;  // "(set, hidden)"
  return j;
}

// The member of `j` at the dotted `key` ("store.postgresql.node"): made as needed.
nlohmann::ordered_json& At(nlohmann::ordered_json& j, std::string_view key) {
  nlohmann::ordered_json* at = &j;
  while (true) {
    const size_t dot = key.find('.');
    at = &(*at)[std::string(key.substr(0, dot))];
    if (dot == std::string_view::npos) return *at;
    key.remove_prefix(dot + 1);
  }
}

}  // namespace

void AddConfigCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand(
      "config", "The configuration in force, one key a line, defaults marked (as postconf)");
  cmd->footer("Examples:\n  senderguardctl config --changed\n  senderguardctl config --json | jq .config.store");
  static bool changed = false, defaults = false;
  auto* ch = cmd->add_flag("--changed", changed, "only the keys set to another value than the default");
  cmd->add_flag("--defaults", defaults, "the defaults alone (reads no file)")->excludes(ch);
  cmd->add_flag("--json", env.json, "one JSON object: config (the values), at_default (true or false each)");
  cmd->callback([&env] {
    auto def = ParseConfig("", "(defaults)");
    if (!def.ok()) throw Failure{kExitConfig, def.status().message()};
    const std::vector<ConfigEntry> base = ConfigEntries(**def);
    std::map<std::string, std::string> default_value;
    for (const auto& e : base) default_value[e.key] = e.value;
    const std::vector<ConfigEntry> in_force = defaults ? base : ConfigEntries(env.config());
    // In the file's order (ordered_json), as the text form.
    nlohmann::ordered_json values = nlohmann::ordered_json::object(), at_default = nlohmann::ordered_json::object();
    for (const auto& entry : in_force) {
      const bool is_default = default_value[entry.key] == entry.value;
      if (changed && is_default) continue;
      // The node's default is this host's name, not "" (which the file
      // refuses): shown as used, so that the output read back means the same.
      ConfigEntry e = entry;
      const bool host_node = e.key == "store.postgresql.node" && is_default && !defaults;
      if (host_node) e.value = "\"" + FleetNodeName(env.config()) + "\"";
      if (env.json) {
        At(values, e.key) = ValueJson(e);
        At(at_default, e.key) = is_default;
      } else {
        std::printf("%s = %s%s\n", e.key.c_str(), e.value.c_str(),
                    host_node ? "  # default: the host name"
                    : !changed && !defaults && is_default ? "  # default" : "");
      }
    }
    if (env.json) {
      nlohmann::ordered_json j;
      j["file"] = defaults ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(env.config().source);
      j["config"] = std::move(values);
      j["at_default"] = std::move(at_default);
      std::printf("%s\n", j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
    }
  });
}

}  // namespace senderguard::cli
