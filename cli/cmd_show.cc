// senderguardctl show ACCOUNT [--json]: state, each window's used / limit /
// reset time, and the suppression count.
#include <algorithm>
#include <cstdio>

#include "cli.h"
#include "senderguard/decide/account_state.h"
#include "senderguard/feedback/feedback.h"
#include "senderguard/policy/policy.h"
#include "senderguard/decide/reputation.h"

namespace senderguard::cli {

std::string LimitText(uint64_t limit) {
  return limit == kUnlimited ? "unlimited" : std::to_string(limit);
}

nlohmann::json AccountJson(Env& env, const AccountRecord& rec) {
  const Config& cfg = env.config();
  const int64_t now = env.Now();
  const EffectiveState st = EffectiveAt(rec, now);
  nlohmann::json j;
  j["account"] = rec.name;
  // The state as it stands now: a timed reinstatement that ran out reads as
  // suspended since the moment it ran out, not reinstated until the past.
  j["state"] = std::string(AccountStatusName(st.status));
  j["reason"] = rec.status_reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(rec.status_reason);
  const int64_t since = st.reinstatement_expired ? rec.reinstated_until
                        : st.suspension_expired  ? rec.suspended_until
                                                 : rec.status_since;
  j["since"] = since ? nlohmann::json(FormatUtc(since)) : nlohmann::json(nullptr);
  j["changed_by"] = rec.status_actor.empty() ? nlohmann::json(nullptr) : nlohmann::json(rec.status_actor);
  j["reinstated_until"] = st.status == AccountStatus::kReinstated ? nlohmann::json(FormatUtc(rec.reinstated_until))
                                                                  : nlohmann::json(nullptr);
  j["reinstatement_ended"] =
      st.reinstatement_expired ? nlohmann::json(FormatUtc(rec.reinstated_until)) : nlohmann::json(nullptr);
  // A timed suspension: its end while it runs; once it ran out, the state
  // is active again and suspension_ended says since when.
  j["suspended_until"] = st.status == AccountStatus::kSuspended && rec.suspended_until > 0
                             ? nlohmann::json(FormatUtc(rec.suspended_until))
                             : nlohmann::json(nullptr);
  j["suspension_ended"] =
      st.suspension_expired ? nlohmann::json(FormatUtc(rec.suspended_until)) : nlohmann::json(nullptr);
  j["dry_run"] = IsDryRun(cfg, &rec);
  const auto limits = EffectiveLimits(cfg, &rec);
  std::vector<WindowUsage> want;
  for (Window w : kAllWindows) want.push_back(WindowUsage{w, SpanAt(w, now, cfg.tz), 0});
  const auto usage = Take(env.existing_store().Usage(rec.name, want));
  nlohmann::json windows = nlohmann::json::array();
  for (const auto& u : usage) {
    const size_t i = Index(u.window);
    nlohmann::json w;
    w["window"] = std::string(WindowName(u.window));
    w["used"] = u.used;
    w["limit"] = limits[i] == kUnlimited ? nlohmann::json(nullptr) : nlohmann::json(limits[i]);
    w["limit_source"] = rec.limits[i] == kInheritLimit ? "default" : "account";
    w["count"] = std::string(CountUnitName(cfg.windows[i].unit));
    w["resets"] = FormatUtc(u.span.reset);
    w["resets_local"] = FormatLocal(u.span.reset, cfg.tz);
    windows.push_back(w);
  }
  j["windows"] = windows;

  // Reputation over the configured window, from the tailer's daily counts.
  const ReputationConfig& rc = cfg.reputation;
  const int64_t today = DayNumber(now);
  const StoredDays days = Take(env.existing_store().GetDays(rec.name, today - rc.window_days + 1, today));
  const Rates r = AccountRates(rc, now, rec, days);
  nlohmann::json rep;
  rep["window_days"] = rc.window_days;
  // Empty after a reinstatement today: the rates start again tomorrow.
  const bool counted = r.first_day <= r.last_day;
  rep["from"] = counted ? nlohmann::json(DayString(r.first_day)) : nlohmann::json(nullptr);
  rep["to"] = counted ? nlohmann::json(DayString(r.last_day)) : nlohmann::json(nullptr);
  rep["restarts"] = counted ? nlohmann::json(nullptr) : nlohmann::json(DayString(r.first_day));
  rep["delivered"] = r.totals.delivered;
  rep["deferred"] = r.totals.deferred;
  rep["hard"] = r.totals.hard;
  rep["soft"] = r.totals.soft;
  rep["technical"] = r.totals.technical;
  rep["expired"] = r.totals.expired;
  rep["complaints"] = r.totals.complaints;
  rep["attempted"] = r.totals.attempted();
  // null with nothing to divide by, as top and report give it.
  rep["complaint_rate"] = r.totals.delivered == 0 ? nlohmann::json(nullptr) : nlohmann::json(r.complaint_rate);
  rep["hard_bounce_rate"] = r.totals.attempted() == 0 ? nlohmann::json(nullptr) : nlohmann::json(r.hard_rate);
  rep["score"] = r.score;
  rep["tier"] = rec.tier;
  rep["tier_multiplier"] = rc.tier_multipliers[std::clamp<int>(rec.tier, 1, 5) - 1];
  rep["clean_days"] = rec.clean_days;
  j["reputation"] = rep;
  j["domains"] = rec.domains;
  j["domains_only"] = rec.domains_only;
  return j;
}

void AddShowCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand("show", "Show an account's state, quotas and suppressions");
  cmd->footer("Example:\n  senderguardctl show alice --json | jq .reputation");
  static std::string account;
  cmd->add_option("ACCOUNT", account, "account name")->required();
  cmd->add_flag("--json", env.json, "one JSON document");
  cmd->callback([&env] {
    const std::string name = env.Account(account);
    auto rec = Take(env.existing_store().GetAccount(name));
    if (!rec) throw Failure{kExitNotFound, "no such account: " + name};
    nlohmann::json j = AccountJson(env, *rec);
    j["suppressed"] = Take(env.existing_store().CountSuppressions(name));
    if (env.json) {
      PrintJson(j);
      return;
    }
    // Human times in the configured zone, all of them ([quota] timezone).
    const int64_t now = env.Now();
    const EffectiveState st = EffectiveAt(*rec, now);
    const std::string by = rec->status_actor.empty() ? "" : " by " + Printable(rec->status_actor, kMaxShown);
    const std::string reason = Printable(rec->status_reason, kMaxShown);
    std::printf("account:    %s\n", Printable(name, kMaxShown).c_str());
    if (st.reinstatement_expired) {
      std::printf("state:      suspended again since %s (the reinstatement%s ended)\n",
                  env.HumanTime(rec->reinstated_until).c_str(), by.c_str());
    } else if (st.status == AccountStatus::kReinstated) {
      std::printf("state:      reinstated until %s (since %s%s)\n", env.HumanTime(rec->reinstated_until).c_str(),
                  env.HumanTime(rec->status_since).c_str(), by.c_str());
    } else if (st.status == AccountStatus::kSuspended && rec->suspended_until > 0) {
      std::printf("state:      suspended until %s (since %s%s)\n", env.HumanTime(rec->suspended_until).c_str(),
                  env.HumanTime(rec->status_since).c_str(), by.c_str());
    } else if (st.status == AccountStatus::kSuspended) {
      std::printf("state:      suspended%s%s\n",
                  rec->status_since > 0 ? (" since " + env.HumanTime(rec->status_since)).c_str() : "", by.c_str());
    } else if (st.suspension_expired) {
      std::printf("state:      active again since %s (the suspension%s ended)\n",
                  env.HumanTime(rec->suspended_until).c_str(), by.c_str());
    } else {
      std::printf("state:      active\n");
    }
    if ((st.status != AccountStatus::kActive || st.suspension_expired) && !rec->status_reason.empty()) {
      std::printf("reason:     %s\n", reason.c_str());
    }
    std::printf("dry-run:    %s\n", j["dry_run"].get<bool>() ? "yes" : "no");
    if (!rec->domains.empty() || rec->domains_only) {
      std::string list;
      for (const auto& d : rec->domains) list += (list.empty() ? "" : ", ") + Printable(d, kMaxShown);
      std::printf("domains:    %s%s\n", list.empty() ? "(none)" : list.c_str(),
                  rec->domains_only ? " (only these From: domains)" : "");
    }
    std::printf("suppressed: %llu address(es) on the account's list\n",
                static_cast<unsigned long long>(j["suppressed"].get<uint64_t>()));
    const auto& rep = j["reputation"];
    std::printf("tier:       %d (quota x%g; %u clean day(s) toward the next)\n",
                rep["tier"].get<int>(), rep["tier_multiplier"].get<double>(),
                rep["clean_days"].get<unsigned>());
    if (rep["from"].is_null()) {
      std::printf("score:      %d/100 (no day counted: rates restart %s, after the reinstatement)\n",
                  rep["score"].get<int>(), rep["restarts"].get<std::string>().c_str());
    } else {
      std::printf("score:      %d/100 over %s..%s (UTC days)\n", rep["score"].get<int>(),
                  rep["from"].get<std::string>().c_str(), rep["to"].get<std::string>().c_str());
    }
    auto pct = [](const nlohmann::json& rate, int decimals) {
      if (rate.is_null()) return std::string("-");
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.*f%%", decimals, 100 * rate.get<double>());
      return std::string(buf);
    };
    std::printf("complaints: %s (%llu of %llu delivered)\n", pct(rep["complaint_rate"], 3).c_str(),
                static_cast<unsigned long long>(rep["complaints"].get<uint64_t>()),
                static_cast<unsigned long long>(rep["delivered"].get<uint64_t>()));
    std::printf("hard:       %s (%llu of %llu attempted)\n", pct(rep["hard_bounce_rate"], 2).c_str(),
                static_cast<unsigned long long>(rep["hard"].get<uint64_t>()),
                static_cast<unsigned long long>(rep["attempted"].get<uint64_t>()));
    std::printf("outcomes:   delivered %llu, soft %llu, technical %llu, expired %llu, deferrals %llu\n",
                static_cast<unsigned long long>(rep["delivered"].get<uint64_t>()),
                static_cast<unsigned long long>(rep["soft"].get<uint64_t>()),
                static_cast<unsigned long long>(rep["technical"].get<uint64_t>()),
                static_cast<unsigned long long>(rep["expired"].get<uint64_t>()),
                static_cast<unsigned long long>(rep["deferred"].get<uint64_t>()));
    std::printf("\n%-7s %13s %13s %-7s %-10s %s\n", "WINDOW", "USED", "LIMIT", "SOURCE", "COUNTS", "RESETS");
    for (const auto& w : j["windows"]) {
      std::printf("%-7s %13llu %13s %-7s %-10s %s\n", w["window"].get<std::string>().c_str(),
                  static_cast<unsigned long long>(w["used"].get<uint64_t>()),
                  w["limit"].is_null() ? "unlimited" : std::to_string(w["limit"].get<uint64_t>()).c_str(),
                  w["limit_source"].get<std::string>().c_str(), w["count"].get<std::string>().c_str(),
                  w["resets_local"].get<std::string>().c_str());
    }
  });
}

}  // namespace senderguard::cli
