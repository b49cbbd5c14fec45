// senderguardctl export --csv, import --csv FILE|- [--dry-run]: every
// account's settings (quotas, state, dry run, verified domains) as CSV, and
// back (policy/account_import.h says the columns). An import checks every
// line first and names each bad one; then it writes every changed account in
// one transaction (Store::UpdateAccounts), so a file imports whole or not at
// all, and 100,000 accounts take seconds, not one sync each.
#include <cstdio>

#include "cli.h"
#include "senderguard/policy/account_import.h"
#include "senderguard/store/open.h"

namespace senderguard::cli {
namespace {

constexpr size_t kPage = 1000;

}  // namespace

void AddBulkCommands(CLI::App& app, Env& env) {
  static bool csv = false, dry = false;
  static std::string file;

  auto* exp = app.add_subcommand("export", "Every account's quotas, state, dry run and domains, as CSV");
  exp->add_flag("--csv", csv, "CSV (the only format; the header first)")->required();
  exp->footer("Example:\n  senderguardctl export --csv > accounts.csv");
  exp->callback([&env] {
    Store& store = env.existing_store();
    const int64_t now = env.Now();
    std::printf("%.*s\n", static_cast<int>(kAccountCsvHeader.size()), kAccountCsvHeader.data());
    std::string after;
    while (true) {
      const auto page = Take(store.ListAccountsAfter(after, kPage));
      for (const auto& a : page) std::printf("%s\n", NoControls(AccountCsvLine(a, now), true).c_str());
      if (page.size() < kPage) break;
      after = page.back().name;
    }
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) throw Failure{kExitStore, "export: writing failed"};
  });

  auto* imp = app.add_subcommand("import", "Create or change accounts from a CSV file (as export writes), all or none");
  imp->add_flag("--csv", csv, "the file is CSV (the only format)")->required();
  imp->add_option("FILE", file, "the file, or - for standard input")->required();
  imp->add_flag("--dry-run", dry, "check the file and say what would change; write nothing");
  imp->footer(
      "Columns:\n  " + std::string(kAccountCsvHeader) +
      "\n(as export --csv writes them)\nExample:\n  senderguardctl import --csv accounts.csv --dry-run\n"
      "  senderguardctl import --csv accounts.csv");
  imp->callback([&env] {
    const std::string text = ReadInput(file);
    const int64_t now = env.Now();
    const VerifiedDomainCheck checker;
    const AccountCsv parsed = ParseAccountCsv(
        text, now, [&checker](std::string_view raw, std::string* why) { return checker(raw, why); });
    const std::string shown = file == "-" ? std::string("standard input") : file;
    if (parsed.error_count > 0) {
      std::vector<std::string> lines;
      for (const auto& e : parsed.errors) lines.push_back(shown + ": " + e);
      if (parsed.error_count > parsed.errors.size()) {
        lines.push_back("(and " + std::to_string(parsed.error_count - parsed.errors.size()) + " more)");
      }
      throw Failure{kExitUsage,
                    std::to_string(parsed.bad_lines) + " bad line(s) in " + shown + " (" +
                        std::to_string(parsed.error_count) + " error(s)); nothing imported",
                    lines};
    }
    const std::string actor = env.Actor();
    std::vector<std::string> names;
    names.reserve(parsed.rows.size());
    for (const auto& r : parsed.rows) names.push_back(r.account);
    size_t changed = 0, created = 0;
    std::vector<std::string> changes;  // --dry-run: what each change is
    if (dry) {
      // Read only, and only where a store exists: a first import into a new
      // install makes every account.
      const bool exists = StoreExists(env.config());
      for (const auto& r : parsed.rows) {
        std::optional<AccountRecord> rec;
        if (exists) rec = Take(env.existing_store().GetAccount(r.account));
        AccountRecord a = rec ? *rec : AccountRecord{};
        a.name = r.account;
        const std::string what = ApplySettings(r, &a, actor, now);
        if (what.empty() && rec) continue;
        ++changed;
        created += rec ? 0 : 1;
        changes.push_back(r.account + ": " + (rec ? "" : "new; ") + (what.empty() ? "defaults" : what));
      }
    } else if (!names.empty()) {  // a header alone makes no store
      Check(env.store().UpdateAccounts(
          names, [&](size_t i, AccountRecord* a, bool exists, std::optional<AuditEntry>* audit) {
            if (i == 0) changed = created = 0;  // a store may run the batch again
            const std::string what = ApplySettings(parsed.rows[i], a, actor, now);
            if (what.empty() && exists) return Status::Ok();
            ++changed;
            created += exists ? 0 : 1;
            *audit = env.Audit("import", a->name,
                               shown + ":" + std::to_string(parsed.rows[i].line) + ": " +
                                   (exists ? "" : "new; ") + (what.empty() ? "defaults" : what));
            return Status::Ok();
          }));
    }
    if (dry) {
      for (const auto& c : changes) std::printf("%s\n", Printable(c, kMaxShown).c_str());
      std::printf("dry run: %zu account(s) read; %zu would change (%zu new), %zu unchanged; nothing written\n",
                  parsed.rows.size(), changed, created, parsed.rows.size() - changed);
      return;
    }
    std::printf("imported %s: %zu account(s) read; %zu changed (%zu new), %zu unchanged\n",
                Printable(shown, kMaxShown).c_str(), parsed.rows.size(), changed, created,
                parsed.rows.size() - changed);
  });
}

}  // namespace senderguard::cli
