// senderguardctl audit [ACCOUNT] [--limit N] [--wide] [--json]: state
// changes, newest first.
//
// Human output fits 80 columns: time, actor, action, account, detail, each
// column as wide as its longest entry up to a cap (actor and account 16,
// cut with "..."), the detail cut to what is left; --wide writes every field
// whole. JSON gives every field whole.
#include <algorithm>
#include <cstdio>

#include "cli.h"
#include "senderguard/decide/quota.h"

namespace senderguard::cli {

void AddAuditCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand("audit", "Show the audit log of state changes, newest first");
  cmd->footer("Example:\n  senderguardctl audit alice --limit 20");
  static std::string account;
  static int64_t limit = 50;
  static bool wide = false;
  cmd->add_option("ACCOUNT", account, "only this account");
  cmd->add_option("--limit", limit, "at most this many (default 50; 0: all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000}));
  cmd->add_flag("--wide", wide, "every field whole (wider than 80 columns)");
  cmd->add_flag("--json", env.json, "one JSON document");
  cmd->callback([&env] {
    const std::string name = account.empty() ? std::string() : env.Account(account);
    auto entries = Take(env.existing_store().ListAudit(name, limit == 0 ? SIZE_MAX : static_cast<size_t>(limit)));
    if (env.json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& e : entries) {
        arr.push_back(nlohmann::json{{"time", FormatUtc(e.time_us / 1000000)}, {"time_us", e.time_us},
                                     {"actor", e.actor}, {"action", e.action},
                                     {"account", e.account.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.account)},
                                     {"detail", e.detail}});
      }
      PrintJson(nlohmann::json{{"audit", arr}});
      return;
    }
    // Each column as wide as its longest field, the actor and the account
    // at most 16 (cut with "..."), the action at most 16 (the longest,
    // "suppress-import", has 15); the detail gets the rest of 80, at least
    // 20: when it would get less, the actor and the account give up room.
    constexpr size_t kCap = 16, kMinDetail = 20, kMinCut = 8;
    std::vector<std::string> times;
    times.reserve(entries.size());
    size_t tw = 0, aw = 0, xw = 0, cw = 1;
    for (const auto& e : entries) {
      // The configured zone, as every human time (JSON: ISO 8601 UTC).
      times.push_back(env.HumanTime(e.time_us / 1000000));
      tw = std::max(tw, times.back().size());
      aw = std::max(aw, Cell(e.actor, kCap, wide).size());
      xw = std::max(xw, Cell(e.action, kCap, wide).size());
      if (!e.account.empty()) cw = std::max(cw, Cell(e.account, kCap, wide).size());
    }
    if (!wide) {
      const size_t fixed = tw + xw + 4 + kMinDetail;  // a space after each of the four columns
      const size_t room = fixed < kColumns ? kColumns - fixed : 0;
      while (aw + cw > room && (aw > kMinCut || cw > kMinCut)) {
        if (aw >= cw && aw > kMinCut) --aw;
        else --cw;
      }
    }
    const size_t used = tw + aw + xw + cw + 4;
    const size_t detail_w = used + kMinDetail <= kColumns ? kColumns - used : kMinDetail;
    for (size_t i = 0; i < entries.size(); ++i) {
      const AuditEntry& e = entries[i];
      std::printf("%-*s %-*s %-*s %-*s %s\n", static_cast<int>(tw), times[i].c_str(), static_cast<int>(aw),
                  Cell(e.actor, aw, wide).c_str(), static_cast<int>(xw), Cell(e.action, xw, wide).c_str(),
                  static_cast<int>(cw), e.account.empty() ? "-" : Cell(e.account, cw, wide).c_str(),
                  Cell(e.detail, detail_w, wide).c_str());
    }
  });
}

}  // namespace senderguard::cli
