// senderguardctl quota set ACCOUNT minute=N hour=N day=N month=N (any subset;
// N, "unlimited" or "default"), quota clear ACCOUNT, quota reset ACCOUNT
// WINDOW.
#include <charconv>
#include <cstdio>

#include "cli.h"
#include "senderguard/decide/quota.h"

namespace senderguard::cli {
namespace {

uint64_t ParseLimit(const std::string& item, std::string_view v) {
  if (v == "unlimited") return kUnlimited;
  if (v == "default") return kInheritLimit;
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty() || n > 1'000'000'000'000ULL) {
    throw Failure{kExitUsage, "bad limit in \"" + item.substr(0, 60) +
                                  "\": a number from 0 to 1000000000000, \"unlimited\" or \"default\""};
  }
  return n;
}

}  // namespace

void AddQuotaCommand(CLI::App& app, Env& env) {
  auto* quota = app.add_subcommand("quota", "Set or clear an account's quotas");
  quota->footer(
      "Examples:\n  senderguardctl quota set alice day=10000 minute=200 --create\n"
      "  senderguardctl quota clear alice\n"
      "  senderguardctl quota reset alice day");
  quota->require_subcommand(1);
  static std::string account;
  static std::vector<std::string> items;
  static bool create = false;
  auto* set = quota->add_subcommand("set", "Set limits: minute=N hour=N day=N month=N");
  set->footer("Example:\n  senderguardctl quota set alice day=10000 hour=unlimited month=default");
  set->add_option("ACCOUNT", account, "account name")->required();
  set->add_option("LIMITS", items, "WINDOW=N|unlimited|default")->required();
  Env::AddCreateFlag(set, create);
  set->callback([&env] {
    const std::string name = env.Account(account);
    std::array<std::optional<uint64_t>, kWindowCount> changes;
    std::array<std::string, kWindowCount> given;
    std::string detail;
    for (const auto& it : items) {
      auto eq = it.find('=');
      auto w = ParseWindow(std::string_view(it).substr(0, eq == std::string::npos ? it.size() : eq));
      if (eq == std::string::npos || !w) {
        throw Failure{kExitUsage, "bad item \"" + it.substr(0, 60) +
                                      "\": expected minute=N, hour=N, day=N or month=N"};
      }
      const size_t i = Index(*w);
      if (changes[i]) {  // "day=5 day=7": which one was meant?
        throw Failure{kExitUsage, std::string(WindowName(*w)) + " given twice (\"" + given[i] + "\", \"" +
                                      it.substr(0, 60) + "\")"};
      }
      changes[i] = ParseLimit(it, std::string_view(it).substr(eq + 1));
      given[i] = it.substr(0, 60);
      detail += (detail.empty() ? "" : " ") + it;
    }
    const bool changed = env.ChangeAccount(
        name, create,
        [&](AccountRecord* a, bool* changed) {
          for (size_t i = 0; i < kWindowCount; ++i) {
            if (changes[i] && a->limits[i] != *changes[i]) {
              a->limits[i] = *changes[i];
              *changed = true;
            }
          }
          return Status::Ok();
        },
        env.Audit("quota-set", name, detail));
    std::printf("%s: quota %s%s\n", Printable(name, kMaxShown).c_str(), Printable(detail, kMaxShown).c_str(),
                changed ? "" : " already; nothing changed");
  });
  auto* clear = quota->add_subcommand("clear", "Return every window to the configured default");
  clear->footer("Example:\n  senderguardctl quota clear alice");
  clear->add_option("ACCOUNT", account, "account name")->required();
  clear->callback([&env] {
    const std::string name = env.Account(account);
    const bool changed = env.ChangeAccount(
        name, Env::kNoCreateOption,
        [](AccountRecord* a, bool* changed) {
          for (uint64_t& l : a->limits) {
            *changed = *changed || l != kInheritLimit;
            l = kInheritLimit;
          }
          return Status::Ok();
        },
        env.Audit("quota-clear", name, "all windows back to defaults"));
    std::printf("%s: quotas %s the configured defaults\n", Printable(name, kMaxShown).c_str(),
                changed ? "back to" : "were already");
  });
  static std::string window;
  auto* reset = quota->add_subcommand(
      "reset", "Set the current window's count back to 0 (after an incident; audited)");
  reset->footer("Example:\n  senderguardctl quota reset alice day");
  reset->add_option("ACCOUNT", account, "account name")->required();
  // The choices in the type, as IsMember shows them (the completion offers
  // them); the check stays ParseWindow's, with its own message.
  reset->add_option("WINDOW", window, "minute, hour, day or month")
      ->required()
      ->type_name("TEXT:{minute,hour,day,month}");
  reset->callback([&env] {
    const std::string name = env.Account(account);
    const auto w = ParseWindow(window);
    if (!w) throw Failure{kExitUsage, "bad window \"" + window.substr(0, 60) + "\": minute, hour, day or month"};
    Store& store = env.existing_store();
    if (!Take(store.GetAccount(name))) throw Failure{kExitNotFound, "no such account: " + name};
    const int64_t now = env.Now();
    const WindowSpan span = SpanAt(*w, now, env.config().tz);
    const std::string what = std::string(WindowName(*w)) + " window of " + FormatUtc(span.start);
    const uint64_t was = Take(store.ResetUsage(name, *w, span, [&](uint64_t n) {
      return env.Audit("quota-reset", name, what + ": " + std::to_string(n) + " -> 0");
    }));
    if (was == 0) {
      std::printf("%s: the %s count is 0 already; nothing changed\n", Printable(name, kMaxShown).c_str(),
                  std::string(WindowName(*w)).c_str());
      return;
    }
    std::printf("%s: %s count reset to 0 (was %llu; the window resets %s)\n", Printable(name, kMaxShown).c_str(),
                std::string(WindowName(*w)).c_str(), static_cast<unsigned long long>(was),
                env.HumanTime(span.reset).c_str());
  });
}

}  // namespace senderguard::cli
