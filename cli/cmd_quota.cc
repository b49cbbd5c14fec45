// senderguardctl quota set ACCOUNT minute=N hour=N day=N month=N (any subset;
// N, "unlimited" or "default"), quota clear ACCOUNT.
#include <charconv>
#include <cstdio>

#include "cli.h"

namespace senderguard::cli {
namespace {

uint64_t ParseLimit(const std::string& item, std::string_view v) {
  if (v == "unlimited") return kUnlimited;
  if (v == "default") return kInheritLimit;
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty() || n > 1'000'000'000'000ULL) {
    throw Failure{kExitUsage, "bad limit in \"" + item + "\": a number, \"unlimited\" or \"default\""};
  }
  return n;
}

}  // namespace

void AddQuotaCommand(CLI::App& app, Env& env) {
  auto* quota = app.add_subcommand("quota", "Set or clear an account's quotas");
  quota->require_subcommand(1);
  static std::string account;
  static std::vector<std::string> items;
  auto* set = quota->add_subcommand("set", "Set limits: minute=N hour=N day=N month=N");
  set->add_option("ACCOUNT", account, "account name")->required();
  set->add_option("LIMITS", items, "WINDOW=N|unlimited|default")->required();
  set->callback([&env] {
    const std::string name = env.Account(account);
    std::array<std::optional<uint64_t>, kWindowCount> changes;
    std::string detail;
    for (const auto& it : items) {
      auto eq = it.find('=');
      auto w = ParseWindow(std::string_view(it).substr(0, eq == std::string::npos ? it.size() : eq));
      if (eq == std::string::npos || !w) {
        throw Failure{kExitUsage, "bad item \"" + it + "\": expected minute=N, hour=N, day=N or month=N"};
      }
      changes[Index(*w)] = ParseLimit(it, std::string_view(it).substr(eq + 1));
      detail += (detail.empty() ? "" : " ") + it;
    }
    Check(env.store().UpdateAccount(
        name,
        [&](AccountRecord* a, bool) {
          for (size_t i = 0; i < kWindowCount; ++i)
            if (changes[i]) a->limits[i] = *changes[i];
          return Status::Ok();
        },
        env.Audit("quota-set", name, detail)));
    std::printf("%s: quota %s\n", Printable(name, kMaxShown).c_str(), Printable(detail, kMaxShown).c_str());
  });
  auto* clear = quota->add_subcommand("clear", "Return every window to the configured default");
  clear->add_option("ACCOUNT", account, "account name")->required();
  clear->callback([&env] {
    const std::string name = env.Account(account);
    auto rec = Take(env.existing_store().GetAccount(name));
    if (!rec) throw Failure{kExitNotFound, "no such account: " + name};
    Check(env.store().UpdateAccount(
        name,
        [](AccountRecord* a, bool) {
          a->limits.fill(kInheritLimit);
          return Status::Ok();
        },
        env.Audit("quota-clear", name, "all windows back to defaults")));
    std::printf("%s: quotas back to the configured defaults\n", Printable(name, kMaxShown).c_str());
  });
}

}  // namespace senderguard::cli
