// senderguardctl account delete NAME [--yes] [--json], account rename OLD
// NEW [--json]: an account as a whole, with everything kept under its name.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <vector>

#include "cli.h"

namespace senderguard::cli {
namespace {

// "record (2 domains), 3 window counts, 30 days, 12 suppressions": what
// AccountContents holds, for messages and the audit log.
std::string ContentsText(const AccountContents& c) {
  std::string s;
  auto add = [&s](const std::string& part) { s += (s.empty() ? "" : ", ") + part; };
  if (c.record) add("record (" + std::to_string(c.domains) + " verified domain(s))");
  add(std::to_string(c.windows) + " window count(s)");
  add(std::to_string(c.days) + " day(s) of outcomes");
  add(std::to_string(c.suppressions) + " suppression(s) of its own");
  return s;
}

nlohmann::json ContentsJson(const AccountContents& c) {
  return nlohmann::json{{"record", c.record},
                        {"domains", c.domains},
                        {"windows", c.windows},
                        {"days", c.days},
                        {"suppressions", c.suppressions}};
}

// Asks on the terminal; false unless the answer is y or yes.
bool Confirm(const std::string& question) {
  std::fprintf(stderr, "%s [y/N] ", question.c_str());
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace

void AddAccountCommand(CLI::App& app, Env& env) {
  auto* account = app.add_subcommand("account", "Delete or rename an account with all it has");
  account->footer(
      "Examples:\n  senderguardctl account delete typo --yes\n"
      "  senderguardctl account rename alice alice-corp");
  account->require_subcommand(1);
  static std::string name;
  static bool yes = false;

  auto* del = account->add_subcommand(
      "delete", "Delete an account: its record, counts, days, own suppressions (audited)");
  del->footer("Example:\n  senderguardctl account delete typo --yes");
  del->add_option("NAME", name, "account name")->required();
  del->add_flag("--yes", yes, "do not ask (needed when standard input is not a terminal)");
  del->add_flag("--json", env.json, "one JSON document");
  del->callback([&env] {
    const std::string n = env.Account(name);
    Store& store = env.existing_store();
    const auto rec = Take(store.GetAccount(n));
    if (!rec) throw Failure{kExitNotFound, "no such account: " + n};
    if (!yes) {
      if (isatty(STDIN_FILENO) == 0) {
        throw Failure{kExitUsage, "account " + n + " not deleted: give --yes (standard input is not a terminal to ask on)"};
      }
      const uint64_t supp = Take(store.CountSuppressions(n));
      if (!Confirm("delete account " + Printable(n, kMaxShown) + " with its quotas, counts, days and " +
                   std::to_string(supp) + " suppression(s) of its own?")) {
        throw Failure{kExitNotFound, "account " + n + " not deleted"};
      }
    }
    const AccountContents gone = Take(store.DeleteAccount(n, [&](const AccountContents& c) {
      return env.Audit("account-delete", n, ContentsText(c));
    }));
    // Deleted meanwhile by another command: nothing left to delete.
    if (gone.empty()) throw Failure{kExitNotFound, "no such account: " + n};
    if (env.json) {
      PrintJson(nlohmann::json{{"account", n}, {"deleted", ContentsJson(gone)}});
      return;
    }
    std::printf("%s: deleted: %s; its audit entries stay\n", Printable(n, kMaxShown).c_str(),
                ContentsText(gone).c_str());
  });

  static std::string new_name;
  auto* ren = account->add_subcommand(
      "rename", "Rename an account: its record, counts, days, own suppressions (audited)");
  ren->footer("Example:\n  senderguardctl account rename alice alice-corp");
  ren->add_option("OLD", name, "the account's name")->required();
  ren->add_option("NEW", new_name, "its new name (no account may have it)")->required();
  ren->add_flag("--json", env.json, "one JSON document");
  ren->callback([&env] {
    const std::string from = env.Account(name), to = env.Account(new_name);
    if (from == to) throw Failure{kExitUsage, "account " + from + ": OLD and NEW are the same name"};
    Store& store = env.existing_store();
    auto moved = store.RenameAccount(from, to, [&](const AccountContents& c) {
      return std::vector<AuditEntry>{env.Audit("account-rename", from, "to " + to + ": " + ContentsText(c)),
                                     env.Audit("account-rename", to, "from " + from + ": " + ContentsText(c))};
    });
    if (!moved.ok() && moved.status().code() == Status::Code::kNotFound)
      throw Failure{kExitNotFound, "no such account: " + from};
    const AccountContents c = Take(std::move(moved));
    if (env.json) {
      PrintJson(nlohmann::json{{"account", to}, {"renamed_from", from}, {"moved", ContentsJson(c)}});
      return;
    }
    std::printf("%s: renamed to %s: %s moved; its audit entries stay under the old name\n",
                Printable(from, kMaxShown).c_str(), Printable(to, kMaxShown).c_str(), ContentsText(c).c_str());
  });
}

}  // namespace senderguard::cli
