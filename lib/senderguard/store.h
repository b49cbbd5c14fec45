// The store: every piece of state senderguard keeps, behind one narrow
// interface. LmdbStore (one machine, shared by the milter, the CLI and the
// tailer) implements it today; a network store for fleets of MTAs will sit
// beside it. Callers never see LMDB types.
//
// Thread safety: every method may be called from any thread at once.
// Errors: kCorruption for a record that fails to decode (never trusted),
// kFull when the store cannot grow, kIo/kUnavailable otherwise. Nothing
// already stored is lost by a failed call.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/quota.h"
#include "senderguard/records.h"
#include "senderguard/status.h"

namespace senderguard {

// The outcome of Reserve: ok, or which charge would not fit and why.
struct ReserveOutcome {
  bool ok = true;
  size_t refused = 0;     // index into the charges, when !ok
  uint64_t used = 0;      // committed count of that window
  uint64_t reserved = 0;  // held by open transactions in that window
};

// A threshold of a window instance reached for the first time.
struct QuotaAlert {
  Window window = Window::kDay;
  WindowSpan span;
  uint64_t used = 0;
  uint64_t limit = 0;
  int pct = 0;
};

// Used count of one window instance.
struct WindowUsage {
  Window window = Window::kDay;
  WindowSpan span;
  uint64_t used = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // ---- accounts
  // The account's record, or nullopt if it has none (configured defaults apply).
  virtual Result<std::optional<AccountRecord>> GetAccount(std::string_view name) = 0;
  // Every account with a record, in name order.
  virtual Result<std::vector<AccountRecord>> ListAccounts() = 0;
  // Atomically reads the account (a fresh record named `name` when absent,
  // `exists` false), lets `change` edit it, and when `change` returns ok
  // writes it and `audit` in one transaction. `change` may run more than once.
  using AccountChange = std::function<Status(AccountRecord* record, bool exists)>;
  virtual Status UpdateAccount(std::string_view name, const AccountChange& change,
                               const AuditEntry& audit) = 0;

  // ---- suppression (addresses are normalized by the caller)
  // The global entry for `address`, else the entry of `account`, else nullopt.
  virtual Result<std::optional<SuppressionRecord>> FindSuppression(std::string_view account,
                                                                   std::string_view address) = 0;
  // Adds or replaces entries, with one audit entry, in one transaction.
  virtual Status AddSuppressions(const std::vector<SuppressionRecord>& records,
                                 const AuditEntry& audit) = 0;
  // Removes one entry; false when there was none.
  virtual Result<bool> RemoveSuppression(std::string_view account, std::string_view address,
                                         const AuditEntry& audit) = 0;
  // Entries of one account ("" = global), or of all when `account` is nullopt,
  // at most `limit` of them, in key order.
  virtual Result<std::vector<SuppressionRecord>> ListSuppressions(
      const std::optional<std::string>& account, size_t limit) = 0;
  virtual Result<uint64_t> CountSuppressions(std::string_view account) = 0;

  // ---- quotas
  // Holds `charges` for an open transaction if every one fits beside the
  // committed count and what other open transactions hold; holds nothing
  // when one does not fit. With `force`, holds them regardless (dry run).
  // Exact across all threads of this process.
  virtual Result<ReserveOutcome> Reserve(std::string_view account,
                                         const std::vector<QuotaCharge>& charges, bool force) = 0;
  // Gives back what Reserve held (transaction aborted or refused).
  virtual void Release(std::string_view account, const std::vector<QuotaCharge>& held) = 0;
  // Turns held charges into committed counts, records `queue` (when given)
  // in the queue map and creates the account's record if it has none, all in
  // one durable-to-the-process transaction; returns the alert thresholds
  // reached for the first time. On failure the hold is released.
  virtual Result<std::vector<QuotaAlert>> Commit(std::string_view account,
                                                 const std::vector<QuotaCharge>& held,
                                                 const QueueEntry* queue, int64_t now) = 0;
  // Committed counts of the given window instances.
  virtual Result<std::vector<WindowUsage>> Usage(std::string_view account,
                                                 const std::vector<WindowUsage>& windows) = 0;

  // ---- queue map
  virtual Result<std::optional<QueueEntry>> GetQueueEntry(std::string_view queue_id) = 0;

  // ---- audit
  // Appends one entry by itself (changes made through this interface add
  // their own).
  virtual Status AppendAudit(const AuditEntry& entry) = 0;
  // Newest first, at most `limit`, only `account`'s when it is not empty.
  virtual Result<std::vector<AuditEntry>> ListAudit(std::string_view account, size_t limit) = 0;

  // Housekeeping: clears reader slots of dead processes.
  virtual Status Maintain() = 0;
};

}  // namespace senderguard
