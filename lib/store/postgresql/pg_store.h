// PgStore: the Store of a fleet of MTAs on PostgreSQL 15 (docs/fleet.md).
//
// PostgreSQL holds what the fleet shares: accounts, verified domains,
// suppression, the audit log, quota windows and their leases, daily
// counts, bounce counts, tailer positions, once-keys. Each node keeps its
// own LMDB store ([store] path) beside it: the queue map and deferred
// recipients (queue ids are per MTA), its leases and open reservations
// (shared by every process on the machine, as LmdbStore's holds are), and
// a cache of accounts, domains and suppression kept current by LISTEN/
// NOTIFY, which the milter reads on the common path. So a message's
// decisions never wait on the network, except when a window's lease is
// empty (bounded wait, then the on_unavailable policy).
//
// The parts, one file each:
//   pg_store.cc     Open, the parts' wiring, queue map, Maintain, Flush
//   pg_records.cc   accounts, suppression, audit (PgRecords)
//   pg_cache.cc     the node's cache: initial load, LISTEN sg_changes,
//                   resync (PgCache)
//   pg_leases.cc    Reserve/Release/Commit/Usage on leased blocks, the
//                   lease thread (refill, report, return, expire) (PgLeases)
//   pg_feedback.cc  ApplyFeedback, positions, days, bounces (PgFeedback)
//   pg_conn.cc      libpq connections and the pool
//   pg_schema.cc    schema.sql's migrations
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "senderguard/base/kvlog.h"
#include "senderguard/config/config.h"
#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/store.h"

namespace senderguard {

class PgPool;
class PgRecords;
class PgCache;
class PgLeases;
class PgFeedback;

struct PgStoreOptions {
  std::string conninfo;          // libpq connection string
  std::string node;              // this MTA's name (never empty here: OpenStore fills it)
  std::string program = "senderguard";  // application_name on the server
  LmdbOptions local;             // this node's LMDB store
  Logger* logger = nullptr;      // may be null
  // The milter: accounts and suppression are read from the local cache
  // (kept within a second of PostgreSQL by a listener thread). Others (the
  // CLI, the tailer, the ARF ingester) read PostgreSQL itself.
  bool cached_reads = false;
  OnUnavailable on_unavailable = OnUnavailable::kTempfail;
  uint64_t local_allowance = 100;
  uint32_t lease_ttl_s = 60;
  size_t pool_size = 4;          // connections for this process's callers
  // Quota alerts of the fleet come with the lease thread's reports, not
  // from Commit (which returns none): each is passed here once, from that
  // thread, with the account. Null: logged through `logger` as the milter
  // logs them (action=quota-alert, without a queue id).
  std::function<void(std::string_view account, const QuotaAlert& alert)> on_alert;
  // The milter and the following tailer: claim `node` for this machine at
  // Open and keep the claim (the nodes table, sg_node_seen): a second
  // machine given the same name is refused at start, and its tailer's
  // batches fail, until the first was not seen for node_stale_s.
  bool claim_node = false;
  uint32_t node_stale_s = 60;
  // Filled by Open: this store's instance id (LmdbStore::ClaimNode) and the
  // host name shown to the other machine; `boot` (the kernel's boot id and
  // the machine id) unless set: a clone that copied the store differs there.
  std::string instance;
  std::string host;
  std::string boot;
};

class PgStore final : public Store {
 public:
  // Connects, checks the schema version (kInvalid naming `senderguardctl
  // store init` / `migrate` when it is missing or older than this build),
  // opens the local LMDB store and, with cached_reads, loads the cache and
  // starts following changes.
  static Result<std::unique_ptr<PgStore>> Open(const PgStoreOptions& options);
  ~PgStore() override;
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  Result<std::optional<AccountRecord>> GetAccount(std::string_view name) override;
  Result<std::vector<AccountRecord>> ListAccounts() override;
  Result<std::vector<AccountRecord>> ListAccountsAfter(std::string_view after, size_t limit) override;
  Status UpdateAccounts(const std::vector<std::string>& names, const AccountBatchChange& change) override;
  Status UpdateAccount(std::string_view name, const AccountChange& change,
                       const AuditEntry& audit) override;
  Result<AccountContents> DeleteAccount(std::string_view name,
                                        const ContentsAudit& audit) override;
  Result<AccountContents> RenameAccount(std::string_view from, std::string_view to,
                                        const MoveAudit& audit) override;
  Result<std::optional<SuppressionRecord>> FindSuppression(std::string_view account,
                                                           std::string_view address) override;
  Result<size_t> AddSuppressions(const std::vector<SuppressionRecord>& records,
                                 const SuppressionAddAudit& audit) override;
  Result<bool> RemoveSuppression(std::string_view account, std::string_view address,
                                 const AuditEntry& audit) override;
  Result<std::vector<SuppressionRecord>> ListSuppressions(const std::optional<std::string>& account,
                                                          size_t limit) override;
  Result<uint64_t> CountSuppressions(std::string_view account) override;
  Result<ReserveOutcome> Reserve(std::string_view account, const std::vector<QuotaCharge>& charges,
                                 bool force) override;
  void Release(std::string_view account, const std::vector<QuotaCharge>& held) override;
  Result<std::vector<QuotaAlert>> Commit(std::string_view account,
                                         const std::vector<QuotaCharge>& held,
                                         const QueueEntry* queue, int64_t now) override;
  Result<std::vector<WindowUsage>> Usage(std::string_view account,
                                         const std::vector<WindowUsage>& windows) override;
  Result<uint64_t> ResetUsage(std::string_view account, Window window, const WindowSpan& span,
                              const UsageAudit& audit) override;
  Result<std::optional<QueueEntry>> GetQueueEntry(std::string_view queue_id) override;
  using Store::GetQueueEntries;
  Status GetQueueEntries(const std::vector<std::string>& queue_ids,
                         std::vector<std::optional<QueueEntry>>* out) override;
  Result<std::vector<std::string>> FindByMessageId(std::string_view message_id) override;
  Result<FeedbackResult> ApplyFeedback(const FeedbackBatch& batch,
                                       const AccountReview& review) override;
  Result<std::vector<DeferredRecord>> GetDeferred(size_t max) override;
  Result<std::optional<std::string>> GetPosition(std::string_view source) override;
  Result<StoredDays> GetDays(std::string_view account, int64_t first_day,
                             int64_t last_day) override;
  Result<std::optional<BounceRecord>> GetBounces(std::string_view address) override;
  Status AddSendingDays(const std::vector<SendingDay>& days) override;
  Status AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> ListAudit(std::string_view account, size_t limit) override;
  Status Maintain() override;
  void Flush() override;
  void ReleaseHolds() override;

  // For tests.
  LmdbStore& local() { return *local_; }
  PgLeases& leases() { return *leases_; }

 private:
  explicit PgStore(PgStoreOptions options);

  PgStoreOptions options_;
  std::unique_ptr<LmdbStore> local_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgRecords> records_;
  std::unique_ptr<PgCache> cache_;       // null without cached_reads
  std::unique_ptr<PgLeases> leases_;
  std::unique_ptr<PgFeedback> feedback_;
};

}  // namespace senderguard
