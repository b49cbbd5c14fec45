// senderguardctl domains add|remove|list|only: the From: domains an account
// has verified with the platform (DMARC, issue 4 item 7).
//
// A verified domain counts, in outbound DMARC mode, as a domain the platform
// signs for on the account's mail; with "only on", the milter refuses any
// other From: domain for the account (550 5.7.1).
#include <algorithm>
#include <cstdio>

#include "cli.h"

namespace senderguard::cli {
namespace {

constexpr size_t kMaxAccountDomains = 1000;  // records.cc keeps at most this many

std::string Domain(const std::string& raw) {
  static const VerifiedDomainCheck check;
  std::string why;
  auto d = check(raw, &why);
  if (!d) throw Failure{kExitUsage, why};
  return *d;
}

}  // namespace

void AddDomainsCommand(CLI::App& app, Env& env) {
  static std::string account, domain, onoff;
  static bool create = false;
  auto* cmd = app.add_subcommand("domains", "Manage an account's verified From: domains (DMARC)");
  cmd->footer(
      "Examples:\n  senderguardctl domains add alice brand.example\n"
      "  senderguardctl domains only alice on");
  cmd->require_subcommand(1);

  auto* add = cmd->add_subcommand("add", "Record DOMAIN as verified for ACCOUNT");
  add->footer("Example:\n  senderguardctl domains add alice brand.example");
  add->add_option("ACCOUNT", account, "account name")->required();
  add->add_option("DOMAIN", domain, "a From: domain the account has proven it controls")->required();
  Env::AddCreateFlag(add, create);
  add->callback([&env] {
    const std::string name = env.Account(account);
    const std::string d = Domain(domain);
    const bool added = env.ChangeAccount(
        name, create,
        [&](AccountRecord* a, bool* changed) {
          if (std::find(a->domains.begin(), a->domains.end(), d) != a->domains.end()) return Status::Ok();
          if (a->domains.size() >= kMaxAccountDomains) {
            return Status::Invalid("account has " + std::to_string(kMaxAccountDomains) +
                                   " verified domains already");
          }
          a->domains.push_back(d);
          std::sort(a->domains.begin(), a->domains.end());
          *changed = true;
          return Status::Ok();
        },
        env.Audit("domain-add", name, d));
    std::printf("%s: %s %s\n", Printable(name, kMaxShown).c_str(), Printable(d, kMaxShown).c_str(),
                added ? "verified" : "was already verified; nothing changed");
  });

  auto* remove = cmd->add_subcommand("remove", "Forget a verified domain of ACCOUNT");
  remove->footer("Example:\n  senderguardctl domains remove alice brand.example");
  remove->add_option("ACCOUNT", account, "account name")->required();
  remove->add_option("DOMAIN", domain, "the domain")->required();
  remove->callback([&env] {
    const std::string name = env.Account(account);
    const std::string d = Domain(domain);
    env.ChangeAccount(
        name, Env::kNoCreateOption,
        [&](AccountRecord* a, bool* changed) {
          auto it = std::find(a->domains.begin(), a->domains.end(), d);
          // Not there: an error, so nothing is written (nor audited).
          if (it == a->domains.end()) return Status::NotFound(name + ": " + d + " is not a verified domain");
          if (a->domains_only && a->domains.size() == 1) {
            return Status::Invalid(d + " is the account's last verified domain and \"domains only\" "
                                   "is on (all its mail would be refused): turn it off first");
          }
          a->domains.erase(it);
          *changed = true;
          return Status::Ok();
        },
        env.Audit("domain-remove", name, d));
    std::printf("%s: %s removed\n", Printable(name, kMaxShown).c_str(), Printable(d, kMaxShown).c_str());
  });

  auto* list = cmd->add_subcommand("list", "List ACCOUNT's verified domains");
  list->footer("Example:\n  senderguardctl domains list alice --json");
  list->add_option("ACCOUNT", account, "account name")->required();
  list->add_flag("--json", env.json, "one JSON document");
  list->callback([&env] {
    const std::string name = env.Account(account);
    auto rec = Take(env.existing_store().GetAccount(name));
    if (!rec) throw Failure{kExitNotFound, "no such account: " + name};
    if (env.json) {
      PrintJson({{"account", name}, {"only", rec->domains_only}, {"domains", rec->domains}});
      return;
    }
    std::printf("# %s: %zu verified domain(s); other From: domains are %s\n", Printable(name, kMaxShown).c_str(),
                rec->domains.size(), rec->domains_only ? "refused" : "allowed");
    for (const auto& d : rec->domains) std::printf("%s\n", Printable(d, kMaxShown).c_str());
  });

  auto* only = cmd->add_subcommand("only", "Refuse (on) or allow (off) From: domains ACCOUNT has not verified");
  only->footer("Example:\n  senderguardctl domains only alice on");
  only->add_option("ACCOUNT", account, "account name")->required();
  only->add_option("STATE", onoff, "on or off")->required()->check(CLI::IsMember({"on", "off"}));
  only->callback([&env] {
    const std::string name = env.Account(account);
    const bool on = onoff == "on";
    const bool changed = env.ChangeAccount(
        name, Env::kNoCreateOption,
        [&](AccountRecord* a, bool* changed) {
          if (on && a->domains.empty()) {
            return Status::Invalid("account has no verified domain: add one first, or all its mail is refused");
          }
          *changed = a->domains_only != on;
          a->domains_only = on;
          return Status::Ok();
        },
        env.Audit("domains-only", name, onoff));
    std::printf("%s: From: domains other than the verified ones are %s%s\n", Printable(name, kMaxShown).c_str(),
                on ? "refused" : "allowed", changed ? "" : " already; nothing changed");
  });
}

}  // namespace senderguard::cli
