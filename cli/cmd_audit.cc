// senderguardctl audit [ACCOUNT] [--limit N] [--json]: state changes, newest first.
#include <cstdio>

#include "cli.h"
#include "senderguard/decide/quota.h"

namespace senderguard::cli {

void AddAuditCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand("audit", "Show the audit log of state changes, newest first");
  cmd->footer("Example:\n  senderguardctl audit alice --limit 20");
  static std::string account;
  static int64_t limit = 50;
  cmd->add_option("ACCOUNT", account, "only this account");
  cmd->add_option("--limit", limit, "at most this many (default 50; 0: all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000}));
  cmd->add_flag("--json", env.json, "one JSON document");
  cmd->callback([&env] {
    const std::string name = account.empty() ? std::string() : env.Account(account);
    auto entries = Take(env.existing_store().ListAudit(name, limit == 0 ? SIZE_MAX : static_cast<size_t>(limit)));
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : entries) {
      arr.push_back(nlohmann::json{{"time", FormatUtc(e.time_us / 1000000)}, {"time_us", e.time_us},
                                   {"actor", e.actor}, {"action", e.action},
                                   {"account", e.account.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.account)},
                                   {"detail", e.detail}});
    }
    if (env.json) {
      PrintJson(nlohmann::json{{"audit", arr}});
      return;
    }
    for (const auto& e : entries) {
      // The configured zone, as every human time (JSON: ISO 8601 UTC).
      std::printf("%s  %-20s %-16s %-24s %s\n", env.HumanTime(e.time_us / 1000000).c_str(),
                  Printable(e.actor, kMaxShown).c_str(), Printable(e.action, kMaxShown).c_str(),
                  e.account.empty() ? "-" : Printable(e.account, kMaxShown).c_str(),
                  Printable(e.detail, kMaxShown).c_str());
    }
  });
}

}  // namespace senderguard::cli
