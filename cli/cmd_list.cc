// senderguardctl list [--json]: every account with a record, its state and
// today's and this month's usage, tier and reputation score.
#include <cstdio>

#include "cli.h"

namespace senderguard::cli {

void AddListCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand("list", "List accounts with their state and usage");
  cmd->add_flag("--json", env.json, "one JSON document");
  cmd->callback([&env] {
    const auto accounts = Take(env.existing_store().ListAccounts());
    nlohmann::json all = nlohmann::json::array();
    for (const auto& a : accounts) all.push_back(AccountJson(env, a));
    if (env.json) {
      PrintJson(nlohmann::json{{"accounts", all}});
      return;
    }
    std::printf("%-32s %-11s %4s %5s %-21s %-21s %-21s %-21s\n", "ACCOUNT", "STATE", "TIER", "SCORE",
                "MINUTE", "HOUR", "DAY", "MONTH");
    for (const auto& j : all) {
      std::string cells[4];
      for (size_t i = 0; i < 4; ++i) {
        const auto& w = j["windows"][i];
        cells[i] = std::to_string(w["used"].get<uint64_t>()) + "/" +
                   (w["limit"].is_null() ? std::string("-") : std::to_string(w["limit"].get<uint64_t>()));
      }
      std::string state = j["state"].get<std::string>();
      if (j["dry_run"].get<bool>()) state += "*";
      std::printf("%-32s %-11s %4d %5d %-21s %-21s %-21s %-21s\n",
                  Printable(j["account"].get<std::string>(), kMaxShown).c_str(), state.c_str(),
                  j["reputation"]["tier"].get<int>(), j["reputation"]["score"].get<int>(),
                  cells[0].c_str(), cells[1].c_str(), cells[2].c_str(), cells[3].c_str());
    }
    std::printf("%zu account(s); usage is used/limit, '-' = unlimited, '*' = dry run\n", accounts.size());
  });
}

}  // namespace senderguard::cli
