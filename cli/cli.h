// Shared plumbing of senderguardctl's subcommands: the loaded configuration,
// the store (opened on first use), output helpers and exit statuses.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>

#include "senderguard/base/exit_codes.h"
#include "senderguard/base/text.h"
#include "senderguard/config/config.h"
#include "senderguard/model/records.h"
#include "senderguard/store/store.h"

namespace senderguard::cli {

// Exit statuses (documented in README): 0 ok, 1 not found, 2 usage,
// 74 store failure, 78 configuration.
inline constexpr int kExitNotFound = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitStore = kExitIoError;

// Thrown by a subcommand to end with a message and a status.
struct Failure {
  int status;
  std::string message;
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
  // Normalized address, or a usage Failure.
  std::string Address(const std::string& raw) const;
  int64_t Now() const;

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

// Subcommands, one file each.
void AddListCommand(CLI::App& app, Env& env);
void AddShowCommand(CLI::App& app, Env& env);
void AddQuotaCommand(CLI::App& app, Env& env);
void AddStateCommands(CLI::App& app, Env& env);  // suspend, reinstate, dry-run
void AddSuppressCommand(CLI::App& app, Env& env);
void AddAuditCommand(CLI::App& app, Env& env);
void AddDomainsCommand(CLI::App& app, Env& env);  // add, remove, list, only
void AddStoreCommand(CLI::App& app, Env& env);    // init, migrate, status
void AddStoreCopyCommand(CLI::App& app, Env& env);  // store copy

// Shared by list and show: the account as JSON (state, windows, limits).
nlohmann::json AccountJson(Env& env, const AccountRecord& rec);
std::string LimitText(uint64_t limit);

}  // namespace senderguard::cli
