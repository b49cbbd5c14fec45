// senderguardctl suspend ACCOUNT --reason TEXT [--for 2h] [--create],
// reinstate ACCOUNT [--for 24h], dry-run ACCOUNT on|off [--create].
#include <cstdio>

#include "cli.h"
#include "senderguard/decide/account_state.h"
#include "senderguard/decide/quota.h"

namespace senderguard::cli {

void AddStateCommands(CLI::App& app, Env& env) {
  static std::string account, reason, duration, suspend_for, onoff;
  static bool create = false;

  auto* suspend = app.add_subcommand("suspend", "Suspend an account: its mail is refused at MAIL FROM");
  suspend->footer(
      "Examples:\n  senderguardctl suspend spammy --reason \"FBL complaints, ticket 4711\"\n"
      "  senderguardctl suspend alice --reason \"incident 42\" --for 2h");
  suspend->add_option("ACCOUNT", account, "account name")->required();
  suspend->add_option("--reason", reason, "why (kept in the audit log and shown by show)")->required();
  auto* susp_for = suspend->add_option("--for", suspend_for, "e.g. 2h, 1d, 90m: then active again by itself");
  Env::AddCreateFlag(suspend, create);
  suspend->callback([&env, susp_for] {
    const std::string name = env.Account(account);
    CheckReason("--reason", reason);
    std::optional<int64_t> secs;
    if (susp_for->count() > 0) secs = DurationArg("--for", suspend_for);
    const int64_t now = env.Now();
    const int64_t until = secs ? (*secs > INT64_MAX - now ? INT64_MAX : now + *secs) : 0;
    const std::string actor = env.Actor();
    std::string already;
    const bool changed = env.ChangeAccount(
        name, create,
        [&](AccountRecord* a, bool* changed) {
          already.clear();
          // Suspended for good (not a timed suspension or a reinstatement
          // whose time has run out) for this reason.
          if (!secs && EffectiveAt(*a, now).status == AccountStatus::kSuspended &&
              a->status == AccountStatus::kSuspended && a->suspended_until == 0 &&
              a->status_reason == reason) {
            already = env.HumanTime(a->status_since);
            return Status::Ok();
          }
          if (secs) {
            Status st = SuspendFor(a, reason, actor, now, *secs);
            if (!st.ok()) return st;
          } else {
            Suspend(a, reason, actor, now);
          }
          *changed = true;
          return Status::Ok();
        },
        env.Audit("suspend", name, secs ? reason + " (until " + FormatUtc(until) + ")" : reason));
    if (!changed) {
      std::printf("%s: already suspended since %s for that reason; nothing changed\n",
                  Printable(name, kMaxShown).c_str(), already.c_str());
      return;
    }
    std::printf("%s: suspended%s (%s)\n", Printable(name, kMaxShown).c_str(),
                secs ? (" until " + env.HumanTime(until)).c_str() : "", Printable(reason, kMaxShown).c_str());
  });

  auto* reinstate = app.add_subcommand("reinstate", "Let a suspended account send again, for good or --for a time");
  reinstate->footer("Example:\n  senderguardctl reinstate spammy --for 24h");
  reinstate->add_option("ACCOUNT", account, "account name")->required();
  auto* for_opt = reinstate->add_option("--for", duration, "e.g. 24h, 1d, 90m: then suspended again by itself");
  reinstate->callback([&env, for_opt] {
    const std::string name = env.Account(account);
    std::optional<int64_t> secs;
    if (for_opt->count() > 0) secs = DurationArg("--for", duration);  // given, even empty: "" is not "for good"
    const int64_t now = env.Now();
    const std::string actor = env.Actor();
    const std::string detail = secs ? "until " + FormatUtc(now + *secs) : "for good";
    const bool changed = env.ChangeAccount(
        name, Env::kNoCreateOption,
        [&](AccountRecord* a, bool* changed) {
          // Nothing to reinstate (a timed suspension that ran out is active).
          if (EffectiveAt(*a, now).status == AccountStatus::kActive) return Status::Ok();
          Status st = Reinstate(a, actor, now, secs);
          // Reputation rates restart the day after: the days that led to
          // the suspension do not suspend the account again.
          if (st.ok()) a->rates_since = now;
          *changed = st.ok();
          return st;
        },
        env.Audit("reinstate", name, detail));
    if (!changed) {
      std::printf("%s: already active (not suspended); nothing changed\n", Printable(name, kMaxShown).c_str());
      return;
    }
    std::printf("%s: reinstated %s\n", Printable(name, kMaxShown).c_str(),
                secs ? ("until " + env.HumanTime(now + *secs)).c_str() : "for good");
  });

  auto* dry = app.add_subcommand("dry-run", "Log what would be refused for an account, refuse nothing");
  dry->footer("Example:\n  senderguardctl dry-run newcomer on --create");
  dry->add_option("ACCOUNT", account, "account name")->required();
  dry->add_option("STATE", onoff, "on or off")->required()->check(CLI::IsMember({"on", "off"}));
  Env::AddCreateFlag(dry, create);
  dry->callback([&env] {
    const std::string name = env.Account(account);
    const bool on = onoff == "on";
    const bool changed = env.ChangeAccount(
        name, create,
        [&](AccountRecord* a, bool* changed) {
          *changed = a->dry_run != on;
          a->dry_run = on;
          return Status::Ok();
        },
        env.Audit("dry-run", name, onoff));
    std::printf("%s: dry run %s%s\n", Printable(name, kMaxShown).c_str(), onoff.c_str(),
                changed ? "" : " already; nothing changed");
  });
}

}  // namespace senderguard::cli
