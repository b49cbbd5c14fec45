// senderguardctl suppress add|remove|check ADDRESS [--account A] [--reason TEXT],
// suppress list [--account A] [--limit N], suppress import FILE.
// Without --account the entry is global: the address refuses mail from every account.
#include <cstdio>
#include <fstream>

#include "cli.h"
#include "senderguard/decide/quota.h"

namespace senderguard::cli {
namespace {

nlohmann::json EntryJson(const SuppressionRecord& r) {
  return nlohmann::json{{"address", r.address},
                        {"account", r.account.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.account)},
                        {"scope", r.account.empty() ? "global" : "account"},
                        {"reason", r.reason},
                        {"added_by", r.actor},
                        {"since", FormatUtc(r.since)}};
}

}  // namespace

void AddSuppressCommand(CLI::App& app, Env& env) {
  auto* sup = app.add_subcommand("suppress", "Manage suppressed recipient addresses");
  sup->require_subcommand(1);
  static std::string address, account, reason = "added by postmaster", file;
  static size_t limit = 1000;
  static bool global_only = false;
  // Whether --account was given at all: `--account ""` (an empty variable in
  // a script) is an empty account name, refused, never the global list.
  static bool account_given = false;
  auto add_account = [](CLI::App* sub, const char* help) {
    sub->add_option("--account", account, help)->each([](const std::string&) { account_given = true; });
  };

  auto scope = [&env]() { return account_given ? env.Account(account) : std::string(); };

  auto* add = sup->add_subcommand("add", "Suppress an address (globally, or for --account)");
  add->add_option("ADDRESS", address)->required();
  add_account(add, "only for this account");
  add->add_option("--reason", reason, "shown in the SMTP refusal");
  add->callback([&env, scope] {
    SuppressionRecord r;
    r.account = scope();
    r.address = env.Address(address);
    r.reason = reason;
    r.actor = env.Actor();
    r.since = env.Now();
    Check(env.store().AddSuppressions({r}, env.Audit("suppress-add", r.account, r.address + ": " + reason)));
    std::printf("%s: suppressed %s (%s)\n", Printable(r.address, kMaxShown).c_str(),
                r.account.empty() ? "globally" : ("for " + Printable(r.account, kMaxShown)).c_str(),
                Printable(reason, kMaxShown).c_str());
  });

  auto* rm = sup->add_subcommand("remove", "Remove an address from the global list or --account's");
  rm->add_option("ADDRESS", address)->required();
  add_account(rm, "the account's list");
  rm->callback([&env, scope] {
    const std::string owner = scope();
    const std::string addr = env.Address(address);
    bool removed = Take(env.store().RemoveSuppression(owner, addr, env.Audit("suppress-remove", owner, addr)));
    if (!removed) throw Failure{kExitNotFound, addr + " is not on the " + (owner.empty() ? "global" : owner + "'s") + " list"};
    std::printf("%s: removed from the %s list\n", Printable(addr, kMaxShown).c_str(),
                owner.empty() ? "global" : (Printable(owner, kMaxShown) + "'s").c_str());
  });

  auto* check = sup->add_subcommand("check", "Is an address refused (globally, or for --account)? exit 0 yes, 1 no");
  check->add_option("ADDRESS", address)->required();
  add_account(check, "check as this account would send");
  check->add_flag("--json", env.json, "one JSON document");
  check->callback([&env, scope] {
    const std::string owner = scope();
    const std::string addr = env.Address(address);
    auto found = Take(env.existing_store().FindSuppression(owner, addr));
    if (env.json) {
      PrintJson(nlohmann::json{{"address", addr}, {"suppressed", found.has_value()},
                               {"entry", found ? EntryJson(*found) : nlohmann::json(nullptr)}});
    } else if (found) {
      std::printf("%s: suppressed (%s list): %s\n", Printable(addr, kMaxShown).c_str(),
                  found->account.empty() ? "global" : Printable(found->account, kMaxShown).c_str(),
                  Printable(found->reason, kMaxShown).c_str());
    } else {
      std::printf("%s: not suppressed\n", Printable(addr, kMaxShown).c_str());
    }
    if (!found) throw Failure{kExitNotFound, ""};
  });

  auto* list = sup->add_subcommand("list", "List suppressed addresses");
  add_account(list, "only this account's list (default: all lists)");
  list->add_flag("--global", global_only, "only the global list");
  list->add_option("--limit", limit, "at most this many (default 1000)");
  list->add_flag("--json", env.json, "one JSON document");
  list->callback([&env] {
    std::optional<std::string> owner;
    if (global_only) owner = std::string();
    else if (account_given) owner = env.Account(account);
    auto entries = Take(env.existing_store().ListSuppressions(owner, limit));
    if (env.json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& e : entries) arr.push_back(EntryJson(e));
      PrintJson(nlohmann::json{{"suppressed", arr}});
      return;
    }
    std::printf("%-40s %-24s %-20s %s\n", "ADDRESS", "LIST", "SINCE", "REASON");
    for (const auto& e : entries) {
      std::printf("%-40s %-24s %-20s %s\n", Printable(e.address, kMaxShown).c_str(),
                  e.account.empty() ? "(global)" : Printable(e.account, kMaxShown).c_str(),
                  FormatUtc(e.since).c_str(), Printable(e.reason, kMaxShown).c_str());
    }
    std::printf("%zu entr%s\n", entries.size(), entries.size() == 1 ? "y" : "ies");
  });

  auto* imp = sup->add_subcommand("import", "Suppress every address in FILE (one per line, '#' comments; ADDRESS[,REASON])");
  imp->add_option("FILE", file)->required();
  add_account(imp, "for this account (default: global)");
  imp->add_option("--reason", reason, "reason for lines without one");
  imp->callback([&env, scope] {
    std::ifstream in(file);
    if (!in) throw Failure{kExitNotFound, "cannot open " + file};
    const std::string owner = scope();
    const int64_t now = env.Now();
    const std::string actor = env.Actor();
    std::vector<SuppressionRecord> batch;
    std::string line;
    size_t lineno = 0, total = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      const auto comma = line.find(',');
      SuppressionRecord r;
      r.account = owner;
      auto addr = NormalizeAddress(line.substr(0, comma));
      if (!addr) throw Failure{kExitUsage, file + ":" + std::to_string(lineno) + ": invalid address"};
      r.address = *addr;
      r.reason = comma == std::string::npos ? reason : line.substr(comma + 1);
      r.actor = actor;
      r.since = now;
      batch.push_back(std::move(r));
      if (batch.size() == 10000) {
        total += batch.size();
        Check(env.store().AddSuppressions(batch, env.Audit("suppress-import", owner, file + ": " + std::to_string(batch.size()) + " addresses")));
        batch.clear();
      }
    }
    if (!batch.empty()) {
      total += batch.size();
      Check(env.store().AddSuppressions(batch, env.Audit("suppress-import", owner, file + ": " + std::to_string(batch.size()) + " addresses")));
    }
    std::printf("imported %zu address(es) into the %s list\n", total,
                owner.empty() ? "global" : (Printable(owner, kMaxShown) + "'s").c_str());
  });
}

}  // namespace senderguard::cli
