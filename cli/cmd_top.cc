// senderguardctl top [--by volume|complaints|bounces|quota|refusals] [--days N]
// [--limit N] [--json] [--wide]: the accounts that matter now, one line each,
// highest first (RankTop, decide/delivery_report.h). Volume, complaints,
// hard bounces and refusals are summed over the last N UTC days of the
// stored day counts (default 1: today; refusals are the milter's, written
// once per [monitoring] interval); quota is the highest share of a window's
// limit used now. Accounts whose figure is 0 are not listed.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "senderguard/decide/delivery_report.h"
#include "senderguard/feedback/feedback.h"

namespace senderguard::cli {

namespace {

double Rate(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

// part/whole as a percentage, "-" with nothing to divide by.
std::string PercentOf(uint64_t part, uint64_t whole) {
  return whole == 0 ? "-" : Percent(Rate(part, whole));
}

}  // namespace

void AddTopCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand("top", "The accounts that matter now, one line each");
  cmd->footer("Example:\n  senderguardctl top --by complaints --days 7");
  static std::string by = "volume";
  static int days = 1;
  static size_t limit = 10;
  static bool wide = false;
  cmd->add_option("--by", by, "volume, complaints, bounces, quota or refusals (default volume)")
      ->check(CLI::IsMember({"volume", "complaints", "bounces", "quota", "refusals"}));
  cmd->add_option("--days", days, "UTC days ending today, 1 to 90 (default 1: today)")
      ->check(CLI::Range(1, kMaxReportDays));
  cmd->add_option("--limit", limit, "at most N accounts, 1 to 100000 (default 10)")
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  cmd->add_flag("--json", env.json, "one JSON document");
  cmd->add_flag("--wide", wide, "whole names and counts (wider than 80 columns)");
  cmd->callback([&env] {
    const TopBy key = by == "complaints" ? TopBy::kComplaints
                      : by == "bounces"  ? TopBy::kBounces
                      : by == "quota"    ? TopBy::kQuota
                      : by == "refusals" ? TopBy::kRefusals
                                         : TopBy::kVolume;
    Store& store = env.existing_store();
    const int64_t today = DayNumber(env.Now());
    const auto accounts = Take(store.ListAccounts());
    std::vector<TopFigures> figures(accounts.size());
    for (size_t i = 0; i < accounts.size(); ++i) {
      for (const auto& [day, counts] : Take(store.GetDays(accounts[i].name, today - days + 1, today))) {
        figures[i].counts += ToDayCounts(counts);
        figures[i].refused += counts.refused;
      }
      if (key == TopBy::kQuota) {
        // The windows as `show` gives them: used and limit now.
        const nlohmann::json j = AccountJson(env, accounts[i]);
        for (const auto& w : j["windows"]) {
          if (w["limit"].is_null()) continue;
          const double limit_n = static_cast<double>(w["limit"].get<uint64_t>());
          const double used = static_cast<double>(w["used"].get<uint64_t>());
          const double f = limit_n > 0 ? used / limit_n : (used > 0 ? 1e9 : 0);
          figures[i].quota_fraction = std::max(figures[i].quota_fraction, f);
        }
      }
    }
    const std::vector<size_t> top = RankTop(figures, key, limit);
    if (env.json) {
      nlohmann::json arr = nlohmann::json::array();
      for (size_t i : top) {
        const DayCounts& c = figures[i].counts;
        nlohmann::json a;
        a["account"] = accounts[i].name;
        a["attempted"] = c.attempted();
        a["delivered"] = c.delivered;
        a["hard"] = c.hard;
        a["complaints"] = c.complaints;
        a["refused"] = figures[i].refused;
        a["hard_bounce_rate"] = RateJson(Rate(c.hard, c.attempted()), c.attempted());
        a["complaint_rate"] = RateJson(Rate(c.complaints, c.delivered), c.delivered);
        a["quota_used"] = figures[i].quota_fraction < 0 ? nlohmann::json(nullptr)
                                                        : nlohmann::json(figures[i].quota_fraction);
        arr.push_back(std::move(a));
      }
      PrintJson(nlohmann::json{{"by", by}, {"days", days}, {"accounts", std::move(arr)}});
      return;
    }
    // 24 + 5 x 3 + 8 + 5 + 8 + 5 + 7 and 8 spaces: 80.
    std::printf("%-24s %5s %5s %5s %8s %5s %8s %5s %7s\n", "ACCOUNT", "ATT", "DLVD", "HARD", "HARD%",
                "CMPL", "CMPL%", "RFSD", "QUOTA");
    for (size_t i : top) {
      const DayCounts& c = figures[i].counts;
      const double q = figures[i].quota_fraction;
      std::printf("%-24s %5s %5s %5s %8s %5s %8s %5s %7s\n", Cell(accounts[i].name, 24, wide).c_str(),
                  Count(c.attempted(), wide).c_str(), Count(c.delivered, wide).c_str(),
                  Count(c.hard, wide).c_str(), PercentOf(c.hard, c.attempted()).c_str(),
                  Count(c.complaints, wide).c_str(), PercentOf(c.complaints, c.delivered).c_str(),
                  Count(figures[i].refused, wide).c_str(), q < 0 ? "-" : Percent(q).c_str());
    }
    std::printf("%zu of %zu account(s) by %s, %s\n", top.size(), accounts.size(), by.c_str(),
                days == 1 ? "today (UTC)" : ("the last " + std::to_string(days) + " UTC days").c_str());
    std::printf("RFSD: the milter's refusals. QUOTA: the share of its fullest window used now%s\n",
                key == TopBy::kQuota ? "" : "\n(shown with --by quota)");
  });
}

}  // namespace senderguard::cli
