// senderguardctl suppress add|remove|check ADDRESS [--account A] [--reason TEXT],
// suppress list [--account A | --global] [--limit N] [--wide], suppress import FILE|-,
// suppress export [--account A] (policy/account_import.h says the format).
// Without --account the entry is global: the address refuses mail from every account.
//
// An entry is never overwritten: its reason and date may be a record someone
// relies on (a legal hold), so adding an address already suppressed says so
// and changes nothing (as the feedback engine keeps the first reason).
#include <algorithm>
#include <cstdio>
#include <set>

#include "cli.h"
#include "senderguard/policy/account_import.h"
#include "senderguard/store/open.h"
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

// The entry that already refuses `address` for the list `owner` ("" =
// global): the global one, or the account's own. nullopt when none, or when
// there is no store yet (nothing is suppressed there). *store_exists is
// whether there was one: asked at the first call, before the command writes.
std::optional<SuppressionRecord> Existing(Env& env, std::optional<bool>* store_exists, const std::string& owner,
                                          const std::string& address) {
  if (!store_exists->has_value()) *store_exists = StoreExists(env.config());
  if (!**store_exists) return std::nullopt;
  auto found = Take(env.existing_store().FindSuppression(owner, address));
  if (found && !found->account.empty() && found->account != owner) return std::nullopt;
  return found;
}

std::string ListName(const std::string& owner) { return owner.empty() ? "the global list" : owner + "'s list"; }

}  // namespace

void AddSuppressCommand(CLI::App& app, Env& env) {
  auto* sup = app.add_subcommand("suppress", "Manage suppressed recipient addresses");
  sup->footer(
      "Examples:\n  senderguardctl suppress add gone@example.net --reason \"mailbox closed\"\n"
      "  senderguardctl suppress check gone@example.net --account alice");
  sup->require_subcommand(1);
  static std::string address, account, reason = "added by postmaster", file;
  static int64_t limit = 1000;
  static bool global_only = false, wide = false;
  // Whether --account was given at all: `--account ""` (an empty variable in
  // a script) is an empty account name, refused, never the global list.
  static bool account_given = false;
  auto add_account = [](CLI::App* sub, const char* help) {
    return sub->add_option("--account", account, help)->each([](const std::string&) { account_given = true; });
  };

  auto scope = [&env]() { return account_given ? env.Account(account) : std::string(); };

  auto* add = sup->add_subcommand("add", "Suppress an address (globally, or for --account)");
  add->footer(
      "Example:\n  senderguardctl suppress add gone@example.net --reason \"mailbox closed\"");
  add->add_option("ADDRESS", address, "the recipient address")->required();
  add_account(add, "only for this account");
  add->add_option("--reason", reason, "shown in the SMTP refusal (1 to 1000 bytes)");
  add->callback([&env, scope] {
    CheckReason("--reason", reason);
    SuppressionRecord r;
    r.account = scope();
    r.address = env.Address(address);
    std::optional<bool> store_exists;
    auto already = [&](const SuppressionRecord& old) {
      std::printf("%s: already suppressed %s since %s (%s); nothing changed\n",
                  Printable(r.address, kMaxShown).c_str(),
                  old.account.empty() ? "globally" : ("for " + Printable(old.account, kMaxShown)).c_str(),
                  env.HumanTime(old.since).c_str(), Printable(old.reason, kMaxShown).c_str());
    };
    if (auto old = Existing(env, &store_exists, r.account, r.address)) return already(*old);
    r.reason = reason;
    r.actor = env.Actor();
    r.since = env.Now();
    // The store adds it only if it is still absent: another add of the same
    // address since the check above keeps its reason and date.
    if (Take(env.store().AddSuppressions({r}, env.Audit("suppress-add", r.account, r.address + ": " + reason))) == 0) {
      store_exists = true;
      if (auto old = Existing(env, &store_exists, r.account, r.address)) return already(*old);
    }
    std::printf("%s: suppressed %s (%s)\n", Printable(r.address, kMaxShown).c_str(),
                r.account.empty() ? "globally" : ("for " + Printable(r.account, kMaxShown)).c_str(),
                Printable(reason, kMaxShown).c_str());
  });

  auto* rm = sup->add_subcommand("remove", "Remove an address from the global list or --account's");
  rm->footer("Example:\n  senderguardctl suppress remove gone@example.net --account alice");
  rm->add_option("ADDRESS", address, "the recipient address")->required();
  add_account(rm, "the account's list");
  rm->callback([&env, scope] {
    const std::string owner = scope();
    const std::string addr = env.Address(address);
    bool removed = Take(env.existing_store().RemoveSuppression(owner, addr, env.Audit("suppress-remove", owner, addr)));
    if (!removed) throw Failure{kExitNotFound, addr + " is not on " + ListName(owner)};
    std::printf("%s: removed from %s\n", Printable(addr, kMaxShown).c_str(),
                Printable(ListName(owner), kMaxShown).c_str());
  });

  auto* check = sup->add_subcommand("check", "Is an address refused (globally, or for --account)? exit 0 yes, 1 no");
  check->footer(
      "Example:\n  senderguardctl suppress check gone@example.net --account alice && echo refused");
  check->add_option("ADDRESS", address, "the recipient address")->required();
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
      std::printf("%s: suppressed (%s list since %s): %s\n", Printable(addr, kMaxShown).c_str(),
                  found->account.empty() ? "global" : Printable(found->account, kMaxShown).c_str(),
                  env.HumanTime(found->since).c_str(), Printable(found->reason, kMaxShown).c_str());
    } else {
      std::printf("%s: not suppressed\n", Printable(addr, kMaxShown).c_str());
    }
    if (!found) throw Failure{kExitNotFound, ""};
  });

  auto* list = sup->add_subcommand("list", "List suppressed addresses");
  list->footer("Example:\n  senderguardctl suppress list --global --limit 50");
  auto* list_account = add_account(list, "only this account's list (default: all lists)");
  list->add_flag("--global", global_only, "only the global list")->excludes(list_account);
  list->add_option("--limit", limit, "at most this many (default 1000; 0: all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000}));
  list->add_flag("--wide", wide, "whole addresses, lists and reasons (wider than 80 columns)");
  list->add_flag("--json", env.json, "one JSON document");
  list->callback([&env] {
    std::optional<std::string> owner;
    if (global_only) owner = std::string();
    else if (account_given) owner = env.Account(account);
    // One more than asked: whether the list goes on.
    const size_t shown = limit == 0 ? SIZE_MAX : static_cast<size_t>(limit);
    auto entries = Take(env.existing_store().ListSuppressions(owner, limit == 0 ? SIZE_MAX : shown + 1));
    const bool truncated = entries.size() > shown;
    if (truncated) entries.resize(shown);
    // The size of one list is counted; of all lists, only known when all were read.
    std::optional<uint64_t> total;
    if (!truncated) total = entries.size();
    else if (owner) total = Take(env.existing_store().CountSuppressions(*owner));
    if (env.json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& e : entries) arr.push_back(EntryJson(e));
      PrintJson(nlohmann::json{{"suppressed", arr}, {"shown", entries.size()},
                               {"total", total ? nlohmann::json(*total) : nlohmann::json(nullptr)},
                               {"truncated", truncated}});
      return;
    }
    // 80 columns: ADDRESS 30, LIST 12, SINCE 10 (the day, configured zone), REASON 25.
    std::printf("%-30s %-12s %-10s %s\n", "ADDRESS", "LIST", "SINCE", "REASON");
    for (const auto& e : entries) {
      const std::string since = env.HumanTime(e.since);
      std::printf("%-30s %-12s %-10s %s\n", Cell(e.address, 30, wide).c_str(),
                  e.account.empty() ? "(global)" : Cell(e.account, 12, wide).c_str(),
                  wide ? since.c_str() : since.substr(0, 10).c_str(), Cell(e.reason, 25, wide).c_str());
    }
    if (truncated && total) {
      std::printf("%zu of %llu entries shown (--limit N for more, --limit 0 for all)\n", entries.size(),
                  static_cast<unsigned long long>(*total));
    } else if (truncated) {
      std::printf("first %zu entries shown; there are more (--limit N for more, --limit 0 for all)\n",
                  entries.size());
    } else {
      std::printf("%zu entr%s\n", entries.size(), entries.size() == 1 ? "y" : "ies");
    }
  });

  auto* exp = sup->add_subcommand("export", "Print a list as CSV in the import format (address,reason,added,by)");
  add_account(exp, "this account's list (default: the global list)");
  exp->footer("Example:\n  senderguardctl suppress export > global.csv\n"
              "  senderguardctl suppress export --account alice > alice.csv");
  exp->callback([&env, scope] {
    const std::string owner = scope();
    Store& store = env.existing_store();
    const auto entries = Take(store.ListSuppressions(owner, SIZE_MAX));
    // An account with neither a record nor a list of its own is a typo:
    // an empty export would pass for an empty list.
    if (!owner.empty() && entries.empty() && !Take(store.GetAccount(owner))) {
      throw Failure{kExitNotFound, "no such account: " + owner};
    }
    std::printf("# senderguard suppression list: %s; %zu address(es)\n%.*s\n",
                Printable(ListName(owner), kMaxShown).c_str(), entries.size(),
                static_cast<int>(kSuppressionCsvHeader.size()), kSuppressionCsvHeader.data());
    // A line break in a reason is kept in its quoted field (import reads it
    // back); no other control byte reaches the terminal.
    for (const auto& e : entries) std::printf("%s\n", NoControls(SuppressionCsvLine(e), true).c_str());
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) throw Failure{kExitStore, "export: writing failed"};
  });

  auto* imp = sup->add_subcommand(
      "import", "Suppress every address in FILE or - (as export writes it, or ADDRESS[,REASON] a line)");
  imp->footer("Examples:\n  senderguardctl suppress import closed.txt --reason \"mailbox closed\"\n"
              "  senderguardctl suppress import - < global.csv");
  imp->add_option("FILE", file, "the file to read, or - for standard input")->required();
  add_account(imp, "for this account (default: global)");
  imp->add_option("--reason", reason, "reason for lines without one (1 to 1000 bytes)");
  imp->callback([&env, scope] {
    CheckReason("--reason", reason);
    const std::string text = ReadInput(file);
    const std::string shown = file == "-" ? std::string("standard input") : file;
    const std::string owner = scope();
    const int64_t now = env.Now();
    const std::string actor = env.Actor();
    // Every line is checked before anything is written: a bad file imports nothing.
    const SuppressionList parsed = ParseSuppressionList(text, now);
    if (parsed.error_count > 0) {
      std::vector<std::string> errors;
      for (const auto& [line, why] : parsed.errors) errors.push_back(shown + ":" + std::to_string(line) + ": " + why);
      if (parsed.error_count > parsed.errors.size()) {
        errors.push_back("(and " + std::to_string(parsed.error_count - parsed.errors.size()) + " more)");
      }
      throw Failure{kExitUsage, std::to_string(parsed.error_count) + " bad line(s) in " + shown + "; nothing imported",
                    errors};
    }
    std::vector<SuppressionRecord> batch;
    std::set<std::string> seen;
    std::optional<bool> store_exists;
    size_t kept = 0, imported = 0;
    for (const auto& row : parsed.rows) {
      if (!seen.insert(row.address).second || Existing(env, &store_exists, owner, row.address)) {
        ++kept;  // already there (or twice in the file): left as it is
        continue;
      }
      // The date and who added it, when the file says (a legal hold moved
      // from another store keeps its date); else now, by whoever imports.
      SuppressionRecord r;
      r.account = owner;
      r.address = row.address;
      r.reason = row.reason.empty() ? reason : row.reason;
      r.actor = row.by.empty() ? actor : row.by;
      r.since = row.added.value_or(now);
      batch.push_back(std::move(r));
    }
    for (size_t i = 0; i < batch.size(); i += 10000) {
      const std::vector<SuppressionRecord> part(batch.begin() + i,
                                                batch.begin() + std::min(batch.size(), i + 10000));
      // What the store added: an address another writer added since the
      // check above is left as it is, and counted with those kept.
      const size_t added = Take(env.store().AddSuppressions(part, SuppressionAddAudit([&](size_t n) {
        return env.Audit("suppress-import", owner, shown + ": " + std::to_string(n) + (n == 1 ? " address" : " addresses"));
      })));
      imported += added;
      kept += part.size() - added;
    }
    std::printf("imported %zu address(es) into %s", imported, Printable(ListName(owner), kMaxShown).c_str());
    if (kept > 0) std::printf("; %zu already suppressed (or repeated), left as they were", kept);
    std::printf("\n");
  });
}

}  // namespace senderguard::cli
