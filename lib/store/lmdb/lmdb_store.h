// LmdbStore: the Store on one LMDB environment (a directory), shared by the
// milter, the CLI and the tailer at the same time.
//
// Named databases: accounts, counters, alerts, suppression, audit, queue,
// meta (schema version); for delivery feedback: days (per-account daily
// counts, kept 90 days), bounces (hard bounces per address), msgid
// (Message-ID + queue id index of the queue map), positions (tailer
// sources), deferred (DeferredRecord per queue id), once (SHA-256 of each
// FeedbackBatch::once_key -> 8-byte big-endian time recorded) and once_time
// (time + digest, empty values: the same keys in age order). Each batch that
// records a key also deletes up to 16 keys older than kOnceRetention from
// the front of once_time, so the two hold about what arrived in the last 90
// days. Then holds, held, owners (below) and leases (a fleet node's lease
// ledger, lmdb_leases.cc): 18 named databases, as in Dbis. The
// environment is opened with MDB_NOTLS because libmilter runs one
// connection's callbacks on several threads; no transaction outlives a call.
//
// Source files: lmdb_env.cc (environment, transactions, group commit, map
// growth), lmdb_records.cc (accounts, audit, suppression, quotas, queue
// map), lmdb_accounts.cc (an account as a whole: delete, rename),
// lmdb_feedback.cc (ApplyFeedback, once keys, days, bounces,
// positions, deferred), lmdb_housekeeping.cc (Purge); lmdb_internal.h holds
// what they share.
//
// Writes are group-committed: a caller that finds no batch in progress writes
// whatever is waiting in one transaction itself (no thread hand-off), each
// caller's part in a nested transaction so one failure does not undo the
// others; callers arriving meanwhile wait and ride in the next batch, which a
// writer thread takes over when the leader's own part is done. A caller
// returns only after its part is committed. With sync_interval_ms > 0 the environment runs
// with MDB_NOSYNC and the writer flushes at that interval: a crash of the
// process loses nothing committed; a crash of the machine may lose the last
// interval. A full map is grown (doubled) and the write retried.
//
// Quota reservations of open SMTP transactions live in LMDB beside the
// committed counts (lmdb_holds.cc): held (counter key -> units held by all
// open transactions), holds (owner id + counter key -> the units one process
// holds) and owners (owner id -> pid, process start time, boot id). Reserve
// reads the count and the holds and adds its hold in one write transaction;
// Commit turns a hold into a count in one. So Reserve is exact across every
// thread of every process on the environment (two Postfix instances with a
// milter each, the CLI's dry run). The holds of a process that died without
// releasing them are given back by any other process on the environment
// within 5 seconds (ReclaimDeadOwners), or at the next Open.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include <lmdb.h>

#include "senderguard/base/kvlog.h"
#include "senderguard/model/lease.h"
#include "senderguard/store/store.h"

namespace senderguard {

// 2: holds, held and owners (open reservations shared by all processes).
// 3: leases (the lease ledger of a fleet node on PostgreSQL).
inline constexpr uint64_t kSchemaVersion = 4;

struct LmdbOptions {
  std::string path;                  // directory; created (0750) if missing
  uint64_t map_size_bytes = 256ull << 20;
  uint64_t sync_interval_ms = 1000;  // 0: durable at every commit
  Logger* logger = nullptr;          // may be null
  // Long-running writers (the milter) delete what has aged out, every
  // 10 minutes: counters and alerts of windows long past (minute windows
  // after 2 hours, hours after 2 days, days after 40, months after 400) and
  // queue-map entries whose last event (or acceptance) is older than
  // queue_retention_s; daily counts after 90 days, bounce counts 90 days
  // after their last bounce.
  bool housekeeping = false;
  int64_t queue_retention_s = 7 * 86400;
};

class LmdbStore final : public Store {
 public:
  static Result<std::unique_ptr<LmdbStore>> Open(const LmdbOptions& options);
  ~LmdbStore() override;
  LmdbStore(const LmdbStore&) = delete;
  LmdbStore& operator=(const LmdbStore&) = delete;

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
  Result<std::optional<std::string>> GetPosition(std::string_view source) override;
  Result<std::vector<DeferredRecord>> GetDeferred(size_t max) override;
  Result<StoredDays> GetDays(std::string_view account, int64_t first_day,
                             int64_t last_day) override;
  Result<std::optional<BounceRecord>> GetBounces(std::string_view address) override;
  Status AddSendingDays(const std::vector<SendingDay>& days) override;
  Status AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> ListAudit(std::string_view account, size_t limit) override;
  Status Maintain() override;
  // Gives back the holds of every owner whose process is gone (another boot,
  // no such pid, or a pid reused by a process started at another time);
  // sets *reclaimed to the number of owners dropped. Runs at Open and every
  // 5 seconds in the writer thread.
  Status ReclaimDeadOwners(size_t* reclaimed = nullptr);

  // Forces committed data to disk (fsync).
  void Flush() override;
  void ReleaseHolds() override;
  // Current map size in bytes (for tests and stats).
  uint64_t MapSize();

  // ---- the PostgreSQL backend's cache (lmdb_cache.cc)
  // A fleet node (PgStore) keeps a copy of the shared accounts and
  // suppression in this store's own accounts and suppression databases, so
  // the milter's reads are the reads above. These write cached rows as they
  // stand in PostgreSQL: no audit entry, no change of their own. The cache's
  // position is kept in meta: the seq of the last change of PostgreSQL's
  // change log applied ("pg_cache_seq") and which database it came from
  // ("pg_cache_source"). Thread safe, as every write.
  struct CacheRows {
    std::vector<AccountRecord> accounts;   // written whole (domains included)
    std::vector<std::string> gone_accounts;
    std::vector<SuppressionRecord> suppressions;
    std::vector<std::pair<std::string, std::string>> gone_suppressions;  // (account, address)
  };
  struct CacheState {
    int64_t seq = 0;       // 0: never loaded
    std::string source;    // "" when never loaded
  };
  // Writes `rows` (deletes of rows already gone are no-ops) and raises the
  // recorded seq to `seq` (never lowers it: two processes of one node may
  // apply the same changes), in one transaction. kInvalid for a key LMDB
  // cannot hold (empty, over 511 bytes).
  Status CacheApply(const CacheRows& rows, int64_t seq);
  // A whole reload. `next` fills *chunk (given empty) with the next rows:
  // every account, in name order, then every suppression entry, in
  // (account, address) order, both bytewise (PostgreSQL: COLLATE "C"), and
  // returns false once there are none (with *chunk empty). Each chunk is
  // written in its own transaction, so the milter's writes never wait for
  // the whole; cached rows between the previous chunk and this one that it
  // does not hold are deleted with it. The last transaction deletes what
  // lies after the last row and records `seq` and `source` (set exactly).
  // A failure leaves the old state recorded (a later reload redoes it).
  // kInvalid when the rows are out of order. *accounts and *suppressions
  // (may be null) get the number of rows loaded.
  Status CacheReplaceAll(const std::function<Result<bool>(CacheRows* chunk)>& next, int64_t seq,
                         std::string_view source, size_t* accounts = nullptr,
                         size_t* suppressions = nullptr);
  Result<CacheState> GetCacheState();
  // The fleet node this store is the cache and ledger of (meta "pg_node"):
  // recorded by the first PostgreSQL-backed open, then every open must name
  // the same node. Two processes that share a store with different names
  // would each see the other's leases as unknown (refusals far below the
  // quota, units reported nowhere: found by a user test). kInvalid, saying
  // what to do, when `node` is not the recorded one. *instance (may be null)
  // gets this store's instance id (meta "pg_node_instance", 32 hex digits,
  // made at the first claim): what tells two machines that were given one
  // node name apart (PostgreSQL's nodes table, sg_node_seen). With `record`
  // false a store that names no node yet is left unnamed (the CLI, and the
  // milter before its name is granted in the fleet): only the programs that
  // act as the node bind a store to a name.
  Status ClaimNode(std::string_view node, std::string* instance = nullptr, bool record = true);
  // ---- the node's part of a fleet's feedback, and `senderguardctl store
  // copy` (lmdb_feedback.cc, lmdb_copy.cc; used by the PostgreSQL backend)

  // Writes only batch.queue_puts, queue_stubs and deferred, as ApplyFeedback
  // writes them, in one transaction: the node's own parts of a batch whose
  // counts go elsewhere. Idempotent: writing a batch again writes the same.
  Status ApplyLocalFeedback(const FeedbackBatch& batch);

  // Walks every record of one kind in key order (audit: oldest first) in one
  // read transaction, calling fn for each; stops at fn's first error and
  // returns it. A record that fails to decode is skipped and counted in
  // *corrupt (when not null). fn must not write to this store (it runs
  // inside the read transaction). Accounts come with the name of their key.
  Status ForEachAccount(const std::function<Status(const AccountRecord&)>& fn,
                        size_t* corrupt = nullptr);
  Status ForEachSuppression(const std::function<Status(const SuppressionRecord&)>& fn,
                            size_t* corrupt = nullptr);
  Status ForEachDays(
      const std::function<Status(std::string_view account, int64_t day, const DayCountsRecord&)>& fn,
      size_t* corrupt = nullptr);
  Status ForEachBounce(const std::function<Status(const BounceRecord&)>& fn,
                       size_t* corrupt = nullptr);
  Status ForEachAudit(const std::function<Status(const AuditEntry&)>& fn,
                      size_t* corrupt = nullptr);

  // Records copied in from another store: each written as given, replacing
  // what is stored under its key (accounts by name, suppressions by account
  // and address, days by account and day, bounces by address); audit
  // entries appended as they are (the caller leaves out what is here
  // already). One transaction; no audit entry of its own. *written gets,
  // per kind, how many records were new or different (audit: how many were
  // appended); *skipped how many could not be stored (a key over LMDB's
  // limit, a day before 1970). With dry_run nothing is written, only
  // counted.
  struct ImportDay {
    std::string account;
    int64_t day = 0;
    DayCountsRecord counts;
  };
  struct ImportBatch {
    std::vector<AccountRecord> accounts;
    std::vector<SuppressionRecord> suppressions;
    std::vector<ImportDay> days;
    std::vector<BounceRecord> bounces;
    std::vector<AuditEntry> audit;
  };
  struct ImportCounts {
    uint64_t accounts = 0, suppressions = 0, days = 0, bounces = 0, audit = 0;
  };
  Status Import(const ImportBatch& batch, bool dry_run, ImportCounts* written,
                ImportCounts* skipped);
  // ---- the lease ledger of a fleet node (lmdb_leases.cc), for PgLeases
  // (store/postgresql/pg_leases.cc). Database `leases`: a window instance's
  // counter key (as in `counters`) -> its LeaseEntry (model/lease.h), shared
  // by every process on the environment like the holds; meta
  // "lease-chore:NAME" -> when a node-wide chore last ran. LmdbStore's own
  // Reserve and Commit never read it. Thread-safe, as every method.

  // The key of a window instance (the same as the counters').
  static std::string LeaseKey(std::string_view account, Window window, int64_t start);
  // Splits a LeaseKey; false when it is not one.
  static bool ParseLeaseKey(std::string_view key, std::string* account, Window* window,
                            int64_t* start);
  // One window instance of a Reserve or Commit, inside its transaction.
  struct LeaseSlot {
    std::string key;
    size_t first = 0;        // the first charge with this key (charges of one key are summed)
    uint64_t amount = 0;     // the units the call's charges of this key add
    uint64_t committed = 0;  // this node's count of the window instance (`counters`)
    uint64_t held = 0;       // held by the open transactions of every process
    std::optional<LeaseEntry> entry;  // the ledger's entry, nullopt when none
    bool write = false;      // the callback sets it to store `entry` (erase when nullopt)
  };
  // Reserve against the ledger, in one write transaction: reads the slot of
  // each distinct window instance of `charges`, calls `decide` (which may
  // edit entries, and runs again if the transaction is retried), stores the
  // entries it marked and, when it returns true, holds every charge as
  // Reserve does. Returns what `decide` returned.
  Result<bool> ReserveLeased(std::string_view account, const std::vector<QuotaCharge>& charges,
                             const std::function<bool(std::vector<LeaseSlot>& slots)>& decide);
  // Commit against the ledger, in one durable write transaction: takes the
  // holds, adds the counts, records `queue` (when given), calls `note` to
  // edit the slots' entries and stores the marked ones. Unlike Commit: no
  // alert and no account record (the fleet's store keeps both). On failure
  // nothing is written and the holds stay (the caller releases them).
  Status CommitLeased(std::string_view account, const std::vector<QuotaCharge>& held,
                      const QueueEntry* queue,
                      const std::function<void(std::vector<LeaseSlot>& slots)>& note);
  // The ledger inside one transaction; valid only during the callback.
  class LeaseLedger {
   public:
    virtual ~LeaseLedger() = default;
    // kCorruption for an entry that does not decode.
    virtual Status Get(std::string_view key, std::optional<LeaseEntry>* out) = 0;
    // kInvalid in a read transaction.
    virtual Status Put(std::string_view key, const LeaseEntry& entry) = 0;
    virtual Status Erase(std::string_view key) = 0;
    virtual Status Held(std::string_view key, uint64_t* out) = 0;
    virtual Status Committed(std::string_view key, uint64_t* out) = 0;
    // Every entry in key order, until fn returns false; an entry that does
    // not decode is passed as null (the caller may erase it).
    virtual Status Scan(
        const std::function<bool(std::string_view key, const LeaseEntry* entry)>& fn) = 0;
  };
  Status ReadLeases(const std::function<Status(LeaseLedger& ledger)>& fn);
  // `fn` runs again when the transaction is retried; nothing is written
  // when it fails.
  Status WriteLeases(const std::function<Status(LeaseLedger& ledger)>& fn);
  // A chore the node's processes share (sg_lease_expire every few seconds):
  // sets *due, and records `now_ms`, when it last ran `every_ms` or more
  // before now_ms (monotonic milliseconds; a time later than now_ms, from
  // another boot, is due too).
  Status ClaimChore(std::string_view name, int64_t now_ms, int64_t every_ms, bool* due);

 private:
  struct Job;
  struct Dbis {
    MDB_dbi accounts, counters, alerts, suppression, audit, queue, meta;
    MDB_dbi days, bounces, msgid, positions;
    MDB_dbi once, once_time, deferred;
    MDB_dbi holds, held, owners;
    MDB_dbi leases;
  };

  explicit LmdbStore(LmdbOptions options);
  Status OpenEnv();
  // Runs `fn` in a read transaction.
  Status Read(const std::function<Status(MDB_txn*)>& fn, size_t* txn_id = nullptr);
  // Queues `apply` for the writer and waits until it is committed. A write
  // that is not `durable` (holds alone) is not synced to disk by itself.
  Status Write(std::function<Status(MDB_txn*)> apply, bool durable = true);
  void WriterLoop();
  // REQUIRES: lk holds queue_mu_ and no batch is being written. Writes queued
  // jobs in batches, unlocking while each is written, until the queue is
  // empty or the batch holding `until` is done; returns with lk held.
  void WriteQueued(std::unique_lock<std::mutex>& lk, const Job* until);
  void RunBatch(std::vector<Job*>& batch);
  // Deletes aged-out records (see LmdbOptions::housekeeping); returns how
  // many, and sets *more when it stopped at its per-pass cap.
  Status Purge(MDB_txn* txn, int64_t now, size_t* deleted, bool* more);
  void RunHousekeeping();
  Status Grow();
  void AdoptMapSize();
  void Log(Logger::Level level, const std::string& line);
  Status PutAudit(MDB_txn* txn, const AuditEntry& e);
  // What is kept under an account's name (lmdb_accounts.cc); with `erase`,
  // deletes it too (holds and the queue map are not looked at).
  Status AccountRows(MDB_txn* txn, const std::string& name, bool erase, AccountContents* out);
  Status PutQueue(MDB_txn* txn, const QueueEntry& q);
  // The node's own parts of a feedback batch (lmdb_feedback.cc).
  Status PutLocalParts(MDB_txn* txn, const FeedbackBatch& batch);
  // Adds each delta into its (account, day) bucket (feedback_rules.h
  // AddCounts); a corrupt bucket is replaced (lmdb_feedback.cc).
  Status AddDays(MDB_txn* txn,
                 const std::map<std::pair<std::string, int64_t>, DayCountsRecord>& deltas);
  // Looks up `once_key` (REQUIRES: not empty) at `now`: sets *duplicate when
  // it is recorded and not expired, else records it and prunes expired keys.
  Status CheckAndRecordOnce(MDB_txn* txn, std::string_view once_key, int64_t now,
                            bool* duplicate);
  // Holds (lmdb_holds.cc). AddHolds registers this process as an owner when
  // it is not yet; DropHolds gives back at most what this owner holds.
  Status AddHolds(MDB_txn* txn, const std::vector<std::string>& keys,
                  const std::vector<QuotaCharge>& charges);
  Status DropHolds(MDB_txn* txn, const std::vector<std::string>& keys,
                   const std::vector<QuotaCharge>& charges);
  // Deletes an owner and every hold it has, taking them off held; adds what
  // it gave back to *units and *holds.
  Status ReleaseOwner(MDB_txn* txn, std::string_view owner, uint64_t* units, size_t* holds);
  void InitOwner();

  LmdbOptions options_;
  MDB_env* env_ = nullptr;
  Dbis dbi_{};
  // Shared by every transaction of this process; exclusive only to change
  // the map size (LMDB requires no open transaction then).
  std::shared_mutex env_mu_;

  // This process's owner id in holds/owners: pid, process start time and a
  // sequence number (two stores in one process are two owners).
  std::string owner_;
  std::string owner_record_;   // its value in owners

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Job*> queue_;
  bool stopping_ = false;
  bool leader_active_ = false;  // a thread is writing a batch
  bool wrote_ = false;          // committed since the last fsync
  std::thread writer_;
  uint32_t audit_seq_ = 0;
};

}  // namespace senderguard
