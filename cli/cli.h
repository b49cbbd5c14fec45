// Shared plumbing of senderguardctl's subcommands: the loaded configuration,
// the store (opened on first use), output helpers and exit statuses.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "senderguard/base/exit_codes.h"
#include "senderguard/base/text.h"
#include "senderguard/config/config.h"
#include "senderguard/model/records.h"
#include "senderguard/store/store.h"

namespace senderguard::cli {

// Exit statuses (documented in README and senderguardctl(8)): 0 ok, 1 not
// found, 64 usage (EX_USAGE, as every senderguard program), 74 store
// failure, 78 configuration.
inline constexpr int kExitNotFound = 1;
inline constexpr int kExitUsage = kExitUsageError;
inline constexpr int kExitStore = kExitIoError;

// Thrown by a subcommand to end with a message and a status.
struct Failure {
  Failure(int s, std::string m, std::vector<std::string> more_lines = {})
      : status(s), message(std::move(m)), more(std::move(more_lines)) {}
  int status;
  std::string message;
  std::vector<std::string> more;  // further lines (each printed escaped, as `message`)
};

class Env {
 public:
  std::string config_flag;
  bool json = false;

  const Config& config();
  // The store, opened (and created when missing) on first use: for commands
  // that write.
  Store& store();
  // The store, which must exist already: for commands that only read (and
  // those that change an account that must exist), so that a mistyped
  // [store] path is an error, not an empty store made there. Throws
  // Failure{kExitStore} naming the path when there is none.
  Store& existing_store();
  // "alice" or "root (sudo alice)": who runs this command, for the audit log.
  std::string Actor() const;
  AuditEntry Audit(std::string action, std::string account, std::string detail) const;
  // Normalized account name, or a usage Failure.
  std::string Account(const std::string& raw) const;
  // Normalized address (NormalizeAddress), or a usage Failure saying what
  // is wrong with it, quoting at most its first 60 bytes.
  std::string Address(const std::string& raw) const;
  int64_t Now() const;

  // Applies `edit` to the record of account `name` and, when it changed
  // something, writes the record and `audit` in one transaction. `edit`
  // sets *changed; an edit that changes nothing writes nothing, not even
  // its audit entry (the audit log records what happened); an error status
  // from it aborts (and is thrown as Failure by Check). An account without
  // a record is refused (exit 1, naming --create) unless `create`, so a
  // typo does not become a permanent record; a record made here is the one
  // the milter makes when the account first sends (name and creation time).
  // `edit` may run more than once. Returns whether it wrote.
  using AccountEdit = std::function<Status(AccountRecord* record, bool* changed)>;
  // `create`: make the record when there is none (--create given). A
  // command without --create passes kNoCreateOption: the same as false, but
  // its "no such account" error does not suggest an option it lacks.
  static constexpr int kNoCreateOption = 2;
  bool ChangeAccount(const std::string& name, int create, const AccountEdit& edit, const AuditEntry& audit);
  // The --create flag of a command that changes an account (ChangeAccount's
  // `create`), with its one help text.
  static void AddCreateFlag(CLI::App* cmd, bool& create);

  // A time for human output: in the configured [quota] timezone, as
  // "2026-11-25 18:27 CET" (FormatLocal, as quota resets are shown); JSON
  // gives ISO 8601 UTC (FormatUtc).
  std::string HumanTime(int64_t t);

 private:
  std::shared_ptr<const Config> config_;
  std::unique_ptr<Store> store_;
};

// Throws Failure{kExitStore} unless ok.
void Check(const Status& s);
template <typename T>
T Take(Result<T> r) {
  Check(r.status());
  return std::move(r.value());
}

void PrintJson(const nlohmann::json& j);

// The human (table and plain) output prints every text that is stored or
// comes from a user or a remote party (reasons, actors, addresses, account
// names, audit details, error messages quoting an argument) through
// Printable (text.h): one line of printable ASCII, so a newline cannot forge
// a row and no ESC or C1 control reaches the terminal. kMaxShown is its cap
// here: enough for a whole 1000-byte reason even if every byte is escaped.
// JSON output keeps the text as it is (nlohmann escapes it).
inline constexpr size_t kMaxShown = 4096;

// Checks the command words of argv before CLI11 parses them (usage.cc): an
// unknown command is named, with the near one and the list; a missing one
// lists them; "help [COMMAND...]" prints that command's help. Returns the
// status to exit with, or nullopt to parse.
std::optional<int> CheckCommandWords(CLI::App& app, int argc, char** argv);

// One wording for a bad number, whatever the command: every option checked
// by CLI::Range, in `app` and its subcommands, says "--days: 'abc' is not a
// number (1..90)" (or "is not a whole number", "is out of range") instead of
// CLI11's "Value abc not in range 1 to 90". Commands declare their ranges
// with CLI::Range as usual; main calls this once, after adding them all.
void RewordNumberChecks(CLI::App& app);

// Subcommands, one file each.
void AddListCommand(CLI::App& app, Env& env);
void AddShowCommand(CLI::App& app, Env& env);
void AddQuotaCommand(CLI::App& app, Env& env);
void AddStateCommands(CLI::App& app, Env& env);  // suspend, reinstate, dry-run
void AddSuppressCommand(CLI::App& app, Env& env);
void AddAuditCommand(CLI::App& app, Env& env);
void AddReportCommand(CLI::App& app, Env& env);
void AddTopCommand(CLI::App& app, Env& env);
void AddStatsCommand(CLI::App& app, Env& env);
void AddConfigCommand(CLI::App& app, Env& env);
void AddExplainCommand(CLI::App& app, Env& env);
void AddBulkCommands(CLI::App& app, Env& env);  // import, export
void AddDomainsCommand(CLI::App& app, Env& env);  // add, remove, list, only
void AddStoreCommand(CLI::App& app, Env& env);    // init, migrate, status
void AddStoreCopyCommand(CLI::App& app, Env& env);  // store copy
void AddAccountCommand(CLI::App& app, Env& env);    // account delete, rename

// Shared by list and show: the account as JSON (state, windows, limits).
nlohmann::json AccountJson(Env& env, const AccountRecord& rec);
std::string LimitText(uint64_t limit);

// Human output within 80 columns (format.cc).
inline constexpr size_t kColumns = 80;
// `text` escaped (Printable) and cut to at most `width` columns, the cut
// marked "..."; `wide` keeps it whole.
std::string Cell(std::string_view text, size_t width, bool wide);
// A count in at most 4 columns: 9999, 12k, 1.2M, 3G (rounded down, so a
// count below its limit never reads as the limit); `wide` writes it whole.
std::string Count(uint64_t n, bool wide);
// "bad --for \"24\"..." unless `text` is a duration with its unit (24h, 1d,
// 90m, 3600s) from 1 second to ten years: its seconds, or a usage Failure.
int64_t DurationArg(const std::string& option, const std::string& text);
// A reason given on the command line: 1 to 1000 bytes, or a usage Failure.
void CheckReason(const std::string& option, const std::string& reason);
// `text` for an export (a file meant to be read back): control bytes (C0
// but tab, and line feed when `keep_newlines`; DEL; C1 in UTF-8) written
// as \xNN, so none reaches a terminal; everything else, UTF-8 included,
// as it is.
std::string NoControls(std::string_view text, bool keep_newlines);
// The whole of a file an import reads, or of standard input when `path` is
// "-". A directory, a file that cannot be opened (exit 1) and one over 256
// MiB (exit 64) are Failures naming it.
std::string ReadInput(const std::string& path);
// A From: domain an account may verify (domains add, import): a host name of
// two labels or more, normalized (A-labels, lower case), that is not a public
// suffix; nullopt with *why otherwise. Holds one public suffix list: make one
// for a whole file.
class VerifiedDomainCheck {
 public:
  VerifiedDomainCheck();
  ~VerifiedDomainCheck();
  VerifiedDomainCheck(const VerifiedDomainCheck&) = delete;
  VerifiedDomainCheck& operator=(const VerifiedDomainCheck&) = delete;
  std::optional<std::string> operator()(std::string_view raw, std::string* why) const;

 private:
  struct psl_ctx_st* psl_;
};
// A rate as a percentage in at most 7 columns: "0.08%", "12.50%", "250%".
std::string Percent(double rate);
// A rate for JSON: null when there was nothing to divide by (`whole` 0).
nlohmann::json RateJson(double rate, uint64_t whole);

}  // namespace senderguard::cli
