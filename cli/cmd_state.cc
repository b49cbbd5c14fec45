// senderguardctl suspend ACCOUNT --reason TEXT, reinstate ACCOUNT [--for 24h],
// dry-run ACCOUNT on|off.
#include <cstdio>

#include "cli.h"
#include "senderguard/decide/account_state.h"
#include "senderguard/decide/quota.h"

namespace senderguard::cli {

void AddStateCommands(CLI::App& app, Env& env) {
  static std::string account, reason, duration, onoff;

  auto* suspend = app.add_subcommand("suspend", "Suspend an account: its mail is refused at MAIL FROM");
  suspend->add_option("ACCOUNT", account, "account name")->required();
  suspend->add_option("--reason", reason, "why (kept in the audit log and shown by show)")->required();
  suspend->callback([&env] {
    const std::string name = env.Account(account);
    if (reason.empty() || reason.size() > 1000) throw Failure{kExitUsage, "--reason must be 1 to 1000 bytes"};
    const int64_t now = env.Now();
    const std::string actor = env.Actor();
    Check(env.store().UpdateAccount(
        name,
        [&](AccountRecord* a, bool) {
          Suspend(a, reason, actor, now);
          return Status::Ok();
        },
        env.Audit("suspend", name, reason)));
    std::printf("%s: suspended (%s)\n", Printable(name, kMaxShown).c_str(), Printable(reason, kMaxShown).c_str());
  });

  auto* reinstate = app.add_subcommand("reinstate", "Let a suspended account send again, for good or --for a time");
  reinstate->add_option("ACCOUNT", account, "account name")->required();
  auto* for_opt = reinstate->add_option("--for", duration, "e.g. 24h, 1d, 90m: then suspended again by itself");
  reinstate->callback([&env, for_opt] {
    const std::string name = env.Account(account);
    std::optional<int64_t> secs;
    if (for_opt->count() > 0) {  // given, even empty: "" is not "for good"
      secs = ParseDuration(duration);
      if (!secs) throw Failure{kExitUsage, "bad --for \"" + duration + "\": e.g. 24h, 1d, 90m, 3600s"};
    }
    auto rec = Take(env.existing_store().GetAccount(name));
    if (!rec) throw Failure{kExitNotFound, "no such account: " + name};
    const int64_t now = env.Now();
    const std::string actor = env.Actor();
    const std::string detail = secs ? "until " + FormatUtc(now + *secs) : "for good";
    Check(env.store().UpdateAccount(
        name,
        [&](AccountRecord* a, bool) {
          Status st = Reinstate(a, actor, now, secs);
          // Reputation rates restart the day after: the days that led to
          // the suspension do not suspend the account again.
          if (st.ok()) a->rates_since = now;
          return st;
        },
        env.Audit("reinstate", name, detail)));
    std::printf("%s: reinstated %s\n", Printable(name, kMaxShown).c_str(), detail.c_str());
  });

  auto* dry = app.add_subcommand("dry-run", "Log what would be refused for an account, refuse nothing");
  dry->add_option("ACCOUNT", account, "account name")->required();
  dry->add_option("STATE", onoff, "on or off")->required()->check(CLI::IsMember({"on", "off"}));
  dry->callback([&env] {
    const std::string name = env.Account(account);
    const bool on = onoff == "on";
    Check(env.store().UpdateAccount(
        name,
        [&](AccountRecord* a, bool) {
          a->dry_run = on;
          return Status::Ok();
        },
        env.Audit("dry-run", name, onoff)));
    std::printf("%s: dry run %s\n", Printable(name, kMaxShown).c_str(), onoff.c_str());
  });
}

}  // namespace senderguard::cli
