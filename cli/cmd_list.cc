// senderguardctl list [--wide] [--json]: every account with a record, its
// state, tier, reputation score and each window's used/limit.
//
// Human output fits 80 columns: names cut with "...", counts written short
// (12k, 1.2M, rounded down); --wide writes both whole.
#include <algorithm>
#include <cstdio>

#include "cli.h"

namespace senderguard::cli {

void AddListCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand("list", "List accounts with their state and usage");
  static bool wide = false;
  cmd->add_flag("--wide", wide, "whole names and counts (wider than 80 columns)");
  cmd->add_flag("--json", env.json, "one JSON document");
  cmd->callback([&env] {
    const auto accounts = Take(env.existing_store().ListAccounts());
    nlohmann::json all = nlohmann::json::array();
    for (const auto& a : accounts) all.push_back(AccountJson(env, a));
    if (env.json) {
      PrintJson(nlohmann::json{{"accounts", all}});
      return;
    }
    struct Row {
      std::string name, state, tier, score, windows[4];
    };
    std::vector<Row> rows;
    for (const auto& j : all) {
      Row r;
      // 17 + 11 + 4 + 5 + 4 x 9 columns and 7 spaces: 80.
      r.name = Cell(j["account"].get<std::string>(), 17, wide);
      // "~": suspended until a time (show gives it), then active by itself.
      r.state = j["state"].get<std::string>() + (j["suspended_until"].is_null() ? "" : "~") +
                (j["dry_run"].get<bool>() ? "*" : "");
      r.tier = std::to_string(j["reputation"]["tier"].get<int>());
      r.score = std::to_string(j["reputation"]["score"].get<int>());
      for (size_t i = 0; i < 4; ++i) {
        const auto& w = j["windows"][i];
        r.windows[i] = Count(w["used"].get<uint64_t>(), wide) + "/" +
                       (w["limit"].is_null() ? std::string("-") : Count(w["limit"].get<uint64_t>(), wide));
      }
      rows.push_back(std::move(r));
    }
    size_t name_w = 17, win_w = 9;
    if (wide) {
      name_w = 7;
      for (const auto& r : rows) {
        name_w = std::max(name_w, r.name.size());
        for (const auto& w : r.windows) win_w = std::max(win_w, w.size());
      }
    }
    const int nw = static_cast<int>(name_w), ww = static_cast<int>(win_w);
    std::printf("%-*s %-11s %4s %5s %*s %*s %*s %*s\n", nw, "ACCOUNT", "STATE", "TIER", "SCORE", ww, "MINUTE",
                ww, "HOUR", ww, "DAY", ww, "MONTH");
    for (const auto& r : rows) {
      std::printf("%-*s %-11s %4s %5s %*s %*s %*s %*s\n", nw, r.name.c_str(), r.state.c_str(), r.tier.c_str(),
                  r.score.c_str(), ww, r.windows[0].c_str(), ww, r.windows[1].c_str(), ww,
                  r.windows[2].c_str(), ww, r.windows[3].c_str());
    }
    bool timed = false;
    for (const auto& j : all) timed = timed || !j["suspended_until"].is_null();
    std::printf("%zu account(s); used/limit, - unlimited, * dry run%s\n", accounts.size(),
                wide ? "" : ", k/M/G/T = 10^3/6/9/12");
    if (timed) std::printf("~ suspended until a time (show ACCOUNT), then active by itself\n");
  });
}

}  // namespace senderguard::cli
