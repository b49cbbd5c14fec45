// The store: every piece of state senderguard keeps, behind one narrow
// interface. LmdbStore (store/lmdb/, one machine, shared by the milter, the
// CLI and the tailer) implements it today; a network store for fleets of MTAs
// will sit beside it. Programs get one from OpenStore (store/open.h) and never
// see a backend's types.
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

#include "senderguard/model/window.h"
#include "senderguard/model/records.h"
#include "senderguard/base/status.h"

namespace senderguard {


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

// ---- delivery feedback (the tailer and the ARF ingester)

// One outcome to count. Counts go to the account's bucket of the event's UTC
// day (day = time / 86400).
struct FeedbackEvent {
  std::string account;         // "" = not attributed to any account (counted under "")
  int64_t time = 0;            // Unix s of the event
  DayCountsRecord delta;       // what to add, usually one count
  std::string hard_recipient;  // a hard bounce that counts toward suppressing this address
  std::string category;        // ... and its category, for the suppression's reason
  std::string complainer;      // a complaint: suppress this address for `account`
};

// Everything one pass of the tailer (or one complaint) changes, written in
// one transaction together with the source position, so a crash leaves
// either all of it or none.
struct FeedbackBatch {
  std::string source;          // position key ("file:/var/log/mail.log"); "" = none
  std::string position;        // opaque to the store
  std::vector<FeedbackEvent> events;
  std::vector<QueueEntry> queue_puts;   // queue-map entries written whole (links, last events)
  std::vector<QueueEntry> queue_stubs;  // written only where the queue id has no entry yet
  uint32_t suppress_after = 3;  // hard bounces before a global suppression; 0 = never
  int review_days = 30;         // buckets handed to the review, ending with the newest event's day
  // Accounts to review; nullopt = every account counted for. The tailer
  // names the accounts whose bad counts moved and the ones not reviewed for
  // a while, so a busy log does not review every sender on every chunk.
  std::optional<std::vector<std::string>> review_only;
  int64_t now = 0;
  std::string actor;            // for the audit entries and suppression records
  // Exactly once: a name for what this batch counts (the ARF ingester's is
  // account, Message-ID, complainer and feedback type), so the same report
  // delivered twice counts once. "" = none (the batch always applies). Any
  // bytes, any length: stores keep a digest of it, not the key itself.
  // When the key was recorded at most kOnceRetention seconds before `now`
  // (or after it: the clock went back), ApplyFeedback writes nothing of the
  // batch (no counts, queue-map entries, suppressions, audit, reviews or
  // position) and sets FeedbackResult::duplicate. Otherwise it records the
  // key at `now` in the same transaction as the rest, so a failed batch
  // records nothing and its retry counts. A network store does the same
  // with SET key now NX EX kOnceRetention first in the script that applies
  // the batch (Redis: a Lua script): NX refused = duplicate, apply nothing.
  std::string once_key;
  // The tailer's recipients still deferred, per queue id, as they stand
  // after this batch (DeferredRecord); one with no recipients deletes the
  // queue id's. Read back with GetDeferred when the tailer starts, so an
  // expiry after a restart counts them all.
  std::vector<DeferredRecord> deferred;
};

// How long a FeedbackBatch::once_key is remembered. Feedback loops resend
// within hours and Postfix gives up on a pipe delivery after
// maximal_queue_lifetime (5 days by default); 90 days is the span of the
// daily counts (and so of any rate a duplicate could still move).
inline constexpr int64_t kOnceRetention = 90 * 86400;

// Days of one account: (UTC day number, counts), in day order.
using StoredDays = std::vector<std::pair<int64_t, DayCountsRecord>>;

// What a review did to one account.
struct ReviewOutcome {
  std::vector<AuditEntry> audit;    // written in the same transaction
  std::vector<std::string> alerts;  // log lines for the caller (after the commit)
};
// Called inside the transaction for each account the batch counted for (not
// ""), with its record (a fresh one named after it when it has none), its
// buckets and the complaints this batch added. Edits the record (written
// when changed). Must be a pure decision: it may run more than once.
using AccountReview = std::function<void(AccountRecord* account, const StoredDays& days,
                                         uint64_t batch_complaints, ReviewOutcome* out)>;

// What a store holds under one account's name (DeleteAccount, RenameAccount).
struct AccountContents {
  bool record = false;        // its AccountRecord (settings, state, verified domains)
  uint64_t domains = 0;       // verified domains (part of the record)
  uint64_t windows = 0;       // window instances with a committed count (and their alerts)
  uint64_t days = 0;          // daily buckets of delivery outcomes
  uint64_t suppressions = 0;  // entries of its own suppression list
  bool empty() const { return !record && windows == 0 && days == 0 && suppressions == 0; }
};

struct FeedbackResult {
  std::vector<SuppressionRecord> suppressed;  // added by this batch
  std::vector<std::string> alerts;            // from the reviews
  bool duplicate = false;  // once_key already recorded: nothing of the batch was written
};

// Invalid naming the first name given twice; ok when all are distinct (the
// precondition of Store::UpdateAccounts).
Status CheckDistinct(const std::vector<std::string>& names);

// The audit entry of Store::AddSuppressions: a fixed one, or one made from
// how many entries were added (an import says what it added, not what it
// tried to). `make` may run more than once and must not call the store.
class SuppressionAddAudit {
 public:
  SuppressionAddAudit(AuditEntry fixed) : fixed_(std::move(fixed)) {}  // NOLINT(google-explicit-constructor)
  explicit SuppressionAddAudit(std::function<AuditEntry(size_t added)> make) : make_(std::move(make)) {}
  AuditEntry For(size_t added) const { return make_ ? make_(added) : fixed_; }

 private:
  AuditEntry fixed_;
  std::function<AuditEntry(size_t)> make_;
};

class Store {
 public:
  virtual ~Store() = default;

  // ---- accounts
  // The account's record, or nullopt if it has none (configured defaults apply).
  virtual Result<std::optional<AccountRecord>> GetAccount(std::string_view name) = 0;
  // Every account with a record, in name order.
  virtual Result<std::vector<AccountRecord>> ListAccounts() = 0;
  // One page of them: the accounts whose name is after `after` (bytewise;
  // "" = from the first), in name order, at most `limit`. A caller walks
  // every account in pages, in memory that does not grow with their number;
  // each page is one consistent read, the walk as a whole is not (an
  // account made or changed meanwhile may or may not be seen).
  virtual Result<std::vector<AccountRecord>> ListAccountsAfter(std::string_view after, size_t limit) = 0;
  // Atomically reads the account (a fresh record named `name` when absent,
  // `exists` false), lets `change` edit it, and when `change` returns ok
  // writes it and `audit` in one transaction. `change` may run more than once.
  using AccountChange = std::function<Status(AccountRecord* record, bool exists)>;
  virtual Status UpdateAccount(std::string_view name, const AccountChange& change,
                               const AuditEntry& audit) = 0;
  // Removes everything kept under the account's name: its record (with its
  // verified domains), the committed counts of its window instances and
  // their alerts, its daily buckets and its own suppression list, and writes
  // audit(what was removed) in the same transaction; returns what was
  // removed. Nothing under the name (AccountContents::empty): nothing is
  // written, not even the audit entry. Kept: the audit log (history), the
  // global suppression list and the bounce counts of addresses (not the
  // account's), the queue map (the tailer's: a later outcome of a message
  // it sent counts under its name again and makes a fresh record, as a
  // first message would), and what open transactions hold (they commit
  // into fresh counts). kInvalid for the empty name (the unattributed
  // counts and the global list are no account's). `audit` may run more than
  // once and must not call back into the store. Atomic.
  // A fleet store (PostgreSQL) keeps a window instance that a node still
  // holds a lease on, with its count at 0, so what that node sends next is
  // still counted against the limit; each node's cache loses the account
  // and its suppressions as it learns of the change (LISTEN/NOTIFY, within
  // a second).
  using ContentsAudit = std::function<AuditEntry(const AccountContents& contents)>;
  virtual Result<AccountContents> DeleteAccount(std::string_view name,
                                                const ContentsAudit& audit) = 0;
  // Moves everything kept under `from` to `to` in one transaction: the
  // record (renamed, with its settings, state, reputation and domains), the
  // committed counts of its window instances and their alerts, its daily
  // buckets and its own suppression list (each entry's account renamed);
  // writes the entries audit(what moved) returns (one under each name) in
  // the same transaction, and returns what moved. Errors, with nothing
  // written: kNotFound when nothing is kept under `from`; kInvalid when
  // anything is kept under `to` (a record, counts, days or suppressions:
  // nothing is merged), when the names are equal or one is empty;
  // kCorruption when the record does not decode. Stays under `from`: the audit log (history),
  // the queue map (a late outcome of a message sent before counts under
  // `from` and makes a fresh record there, as after DeleteAccount) and
  // what open transactions hold (they commit into fresh counts of `from`).
  // `audit` may run more than once and must not call back into the store.
  // A fleet store (PostgreSQL) moves each window instance with its leases:
  // a node's report on a lease it took under the old name counts under the
  // new one, once, and the limit holds for the new name; each node's cache
  // learns of both names within a second.
  using MoveAudit = std::function<std::vector<AuditEntry>(const AccountContents& moved)>;
  virtual Result<AccountContents> RenameAccount(std::string_view from, std::string_view to,
                                                const MoveAudit& audit) = 0;
  // Many accounts in one transaction (a bulk import): for each of `names`
  // (distinct; Invalid otherwise), reads its record (a fresh one named after
  // it when absent, `exists` false) and lets `change` edit it; the records
  // for which `change` sets *audit are written, each with that audit entry;
  // the others are left as they were. Any error status from `change`, or
  // from a write, writes nothing at all. `change` may run more than once.
  using AccountBatchChange =
      std::function<Status(size_t index, AccountRecord* record, bool exists, std::optional<AuditEntry>* audit)>;
  virtual Status UpdateAccounts(const std::vector<std::string>& names, const AccountBatchChange& change) = 0;

  // ---- suppression (addresses are normalized by the caller)
  // The global entry for `address`, else the entry of `account`, else nullopt.
  virtual Result<std::optional<SuppressionRecord>> FindSuppression(std::string_view account,
                                                                   std::string_view address) = 0;
  // Adds the entries that are absent, in one transaction; an entry already
  // there (same account and address, or earlier in `records`) stays as it
  // was: a reason and date are never overwritten, also when two writers add
  // one address at once. Writes the audit entry for what was added, in the
  // same transaction, when anything was. Returns how many were added.
  virtual Result<size_t> AddSuppressions(const std::vector<SuppressionRecord>& records,
                                         const SuppressionAddAudit& audit) = 0;
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
  // Exact across all threads of this process; a backend shared by several
  // processes (LMDB) or nodes is exact across all of them.
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
  // Sets the committed count of one window instance (`window` starting at
  // span.start) back to 0 and forgets the alert thresholds it reached (they
  // are announced again), writing audit(the count it replaced) in the same
  // transaction; returns that count. A count of 0 writes nothing, not even
  // the audit entry, and returns 0. What open transactions hold is kept:
  // they commit into the new count. `audit` may run more than once and must
  // not call back into the store. Atomic: the count, the alerts and the
  // audit entry are written together or not at all.
  // A fleet store (PostgreSQL) resets the fleet's count: this node reports
  // its unreported units first (so they go with the reset); the blocks
  // other nodes hold stay theirs, and what they sent before the reset and
  // report after it counts toward the new count, once; the limit still
  // bounds committed + what the leases hold, so the fleet never goes over
  // it after the reset.
  using UsageAudit = std::function<AuditEntry(uint64_t was)>;
  virtual Result<uint64_t> ResetUsage(std::string_view account, Window window,
                                      const WindowSpan& span, const UsageAudit& audit) = 0;

  // ---- queue map
  virtual Result<std::optional<QueueEntry>> GetQueueEntry(std::string_view queue_id) = 0;
  // Several at once, in one read (the tailer's lookups), in the order asked:
  // *out is replaced (its storage reused: the tailer asks for thousands per
  // chunk). On failure *out is left empty.
  virtual Status GetQueueEntries(const std::vector<std::string>& queue_ids,
                                 std::vector<std::optional<QueueEntry>>* out) = 0;
  Result<std::vector<std::optional<QueueEntry>>> GetQueueEntries(
      const std::vector<std::string>& queue_ids) {
    std::vector<std::optional<QueueEntry>> out;
    Status st = GetQueueEntries(queue_ids, &out);
    if (!st.ok()) return st;
    return out;
  }
  // Queue ids of the entries recorded with this Message-ID, oldest first.
  virtual Result<std::vector<std::string>> FindByMessageId(std::string_view message_id) = 0;

  // ---- delivery feedback
  // Applies the batch atomically (counts, queue-map entries, bounce counts,
  // suppressions, reviews, position, once_key). Nothing is written when it
  // fails, nor for a duplicate once_key (ok, with result.duplicate set).
  virtual Result<FeedbackResult> ApplyFeedback(const FeedbackBatch& batch,
                                               const AccountReview& review) = 0;
  // Every stored DeferredRecord, at most `max` of them (oldest queue ids
  // first is not promised).
  virtual Result<std::vector<DeferredRecord>> GetDeferred(size_t max) = 0;
  // The position stored with the last batch of `source`, nullopt if none.
  virtual Result<std::optional<std::string>> GetPosition(std::string_view source) = 0;
  // The account's buckets with first_day <= day <= last_day.
  virtual Result<StoredDays> GetDays(std::string_view account, int64_t first_day,
                                     int64_t last_day) = 0;
  // Hard bounces counted for an address, nullopt if none.
  virtual Result<std::optional<BounceRecord>> GetBounces(std::string_view address) = 0;
  // The milter's figures of each (account, UTC day) of `days`, written in
  // one transaction into its bucket (the one GetDays reads): quota_used and
  // refused are added (saturating), tier replaces the stored one when not 0;
  // the delivery counts are kept, as ApplyFeedback keeps these. Keys as
  // ApplyFeedback's (feedback_rules.h SumSendingDays). Creates no account
  // record. Nothing is written when it fails: the caller may retry the same
  // batch. The milter calls it once per [monitoring] interval, never per
  // message.
  virtual Status AddSendingDays(const std::vector<SendingDay>& days) = 0;

  // ---- audit
  // Appends one entry by itself (changes made through this interface add
  // their own).
  virtual Status AppendAudit(const AuditEntry& entry) = 0;
  // Newest first, at most `limit`, only `account`'s when it is not empty.
  virtual Result<std::vector<AuditEntry>> ListAudit(std::string_view account, size_t limit) = 0;

  // Housekeeping: clears reader slots of dead processes.
  virtual Status Maintain() = 0;
  // Makes everything committed so far durable (a program calls it before it
  // exits: with [store] sync_interval_ms > 0 the last interval may not be).
  virtual void Flush() = 0;
  // For a program that exits without destroying the store (the milter, whose
  // MTA threads may still hold it): gives back what this process's open
  // transactions still hold, as the store's destructor does, so that the
  // next start has nothing to reclaim. Reserve works again afterwards.
  virtual void ReleaseHolds() {}
};

}  // namespace senderguard
