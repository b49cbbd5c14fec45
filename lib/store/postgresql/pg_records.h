// PgRecords: accounts (with their verified domains), suppression and the
// audit log in PostgreSQL (PgStore's part; internal to the backend).
// Writes go to PostgreSQL in one transaction with their audit entry; the
// nodes' caches learn of them through the change log (pg_cache). With
// cached_reads, GetAccount and FindSuppression read the local cache.
//
// Mapping (schema.sql, migrations 1 and 2): AccountRecord -> accounts (limits:
// kInheritLimit <-> NULL, kUnlimited <-> -1, else the limit up to INT64_MAX;
// status as its name) and account_domains (one row per domain, read back in
// bytewise order, as the CLI keeps them); SuppressionRecord -> suppression
// (account "" = global); AuditEntry -> audit (newest first by id).
//
// Keys and text. PostgreSQL's text holds neither NUL nor bytes that are not
// UTF-8, while the records carry any bytes. Keys (account names, addresses,
// domains) must be storable as they are (PgStorableKey): a write with any
// other key is refused (kInvalid) and a read finds nothing. Account names
// and suppression keys are also capped so that every node's LMDB cache can
// hold them (LMDB keys: 511 bytes). Free text (reasons, actors, audit
// actions, details and account) is stored through PgEncodeText, a
// reversible escape that leaves ordinary text as it is.
//
// Errors as store.h; kInvalid for a key or a value the schema cannot hold
// (over-long, not UTF-8, a limit above INT64_MAX, a tier outside 1..5).
// Thread safe: each call takes its own pooled connection.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/postgresql/pg_conn.h"
#include "senderguard/store/postgresql/pg_store.h"

namespace senderguard {

class PgRecords {
 public:
  PgRecords(PgPool* pool, LmdbStore* local, const PgStoreOptions* options)
      : pool_(pool), local_(local), options_(options) {}

  Result<std::optional<AccountRecord>> GetAccount(std::string_view name);
  Result<std::vector<AccountRecord>> ListAccounts();
  Result<std::vector<AccountRecord>> ListAccountsAfter(std::string_view after, size_t limit);
  Status UpdateAccounts(const std::vector<std::string>& names, const Store::AccountBatchChange& change);
  Status UpdateAccount(std::string_view name, const Store::AccountChange& change,
                       const AuditEntry& audit);
  // Store::DeleteAccount: in one transaction, the account's row locked
  // first, then its quota windows in key order (the schema's lock order);
  // a window no node holds an open lease on is deleted (with its closed
  // leases), one still leased is kept with its counts at 0, so that what
  // the node holding it sends next is counted and bounded by the limit
  // (as after a quota reset); then its day counts, its suppressions and the
  // row (with its domains). The change log tells the caches (the account's
  // row and each suppression gone).
  Result<AccountContents> DeleteAccount(std::string_view name, const Store::ContentsAudit& audit);
  // Store::RenameAccount: in one transaction, both names' rows and quota
  // windows locked (as DeleteAccount), a new accounts row copied from the
  // old, the domains, suppressions and day counts moved, the quota windows
  // copied under the new name with their leases moved to them (a node
  // reporting on a lease counts under the new name), the old windows and
  // row deleted. The change log tells the caches (both names' rows, each
  // moved suppression).
  Result<AccountContents> RenameAccount(std::string_view from, std::string_view to,
                                        const Store::MoveAudit& audit);
  Result<std::optional<SuppressionRecord>> FindSuppression(std::string_view account,
                                                           std::string_view address);
  Result<size_t> AddSuppressions(const std::vector<SuppressionRecord>& records,
                                 const SuppressionAddAudit& audit);
  Result<bool> RemoveSuppression(std::string_view account, std::string_view address,
                                 const AuditEntry& audit);
  Result<std::vector<SuppressionRecord>> ListSuppressions(const std::optional<std::string>& account,
                                                          size_t limit);
  Result<uint64_t> CountSuppressions(std::string_view account);
  Status AppendAudit(const AuditEntry& entry);
  Result<std::vector<AuditEntry>> ListAudit(std::string_view account, size_t limit);

 private:
  PgPool* pool_;
  LmdbStore* local_;
  const PgStoreOptions* options_;
};

// ---- rows of the shared tables, for every part that reads or writes them
// in its own transaction (PgCache; PgFeedback's reviews and suppressions).
// Pure functions over a connection the caller holds; none commits.

// Longest account name and longest account+NUL+address a node's LMDB cache
// can hold (its key limit); the programs stay well below (identity.h:
// 255 and 254).
inline constexpr size_t kPgMaxAccountKey = 511;
inline constexpr size_t kPgMaxSuppressionKey = 511;
// Longest domain (schema.sql's CHECK) and most domains per account (the
// LMDB record's, codec.cc).
inline constexpr size_t kPgMaxDomain = 1024;
inline constexpr size_t kPgMaxDomains = 1000;

// Whether `key` can be a key column as it is: 1..max bytes of UTF-8 without
// NUL.
bool PgStorableKey(std::string_view key, size_t max);
// kInvalid naming what is wrong with the key, or ok.
Status PgCheckAccountName(std::string_view name);
Status PgCheckSuppressionKey(std::string_view account, std::string_view address);

// Free text to a text column and back. Valid UTF-8 other than NUL and '\'
// is kept; '\' is written "\\"; NUL and every byte that is not part of
// valid UTF-8 are written "\xHH" (lower-case hex). PgDecodeText undoes it
// exactly, and keeps any other backslash (text written by hand in SQL) as
// it is.
std::string PgEncodeText(std::string_view bytes);
std::string PgDecodeText(std::string_view stored);

// A text[] parameter: `{"a","b"}` with '"' and '\' escaped (REQUIRES:
// elements hold no NUL, as PgEncodeText's output and storable keys).
std::string PgTextArray(const std::vector<std::string>& elements);
// Parses PostgreSQL's text output of a one-dimensional text[] without NULL
// elements; false when `text` is not one.
bool PgParseTextArray(std::string_view text, std::vector<std::string>* out);

// The columns PgReadAccountRow reads, for "SELECT <kPgAccountColumns> FROM
// accounts a ..." (the table must be aliased a; the last column is the
// account's domains as a text[]).
extern const char kPgAccountColumns[];
// The account of row `row` of a result selected with kPgAccountColumns
// from column `col` on. kCorruption for a value the record cannot hold.
Status PgReadAccountRow(const PgResult& r, int row, int col, AccountRecord* out);
// The accounts named in `names` that exist, with their domains (names that
// cannot be stored are left out). With `lock`, their rows are locked (FOR
// NO KEY UPDATE, in byte order of the names, as every writer locks them)
// until the caller's transaction ends, and come in that order; else in no
// particular order. A row that cannot be read as a record fails the call
// (kCorruption), or with `unreadable`, is left out and its name and error
// put into *unreadable.
Result<std::vector<AccountRecord>> PgReadAccounts(PgConn& conn,
                                                  const std::vector<std::string>& names, bool lock,
                                                  std::map<std::string, Status>* unreadable = nullptr);
// One account (PgReadAccounts of one name): nothing when it does not exist
// or its name cannot be stored.
Result<std::optional<AccountRecord>> PgReadAccount(PgConn& conn, std::string_view name, bool lock);
// kInvalid when `a` cannot be written (name, limits, tier, clean days,
// domains).
Status PgCheckAccount(const AccountRecord& a);
// Writes `after` over `before` (nullopt: a new account, inserted; *created
// false when another transaction inserted that name first: the caller
// retries from the read). Writes only the columns and domain rows that
// changed, so a change that changes nothing logs no change for the caches.
// REQUIRES: PgCheckAccount(after) ok; before read with lock in this
// transaction.
Status PgWriteAccount(PgConn& conn, const std::optional<AccountRecord>& before,
                      const AccountRecord& after, bool* created = nullptr);

// The columns PgReadSuppressionRow reads ("s" aliases suppression).
extern const char kPgSuppressionColumns[];
SuppressionRecord PgReadSuppressionRow(const PgResult& r, int row, int col);
// The entries with these (account, address) keys that exist.
Result<std::vector<SuppressionRecord>> PgReadSuppressions(
    PgConn& conn, const std::vector<std::pair<std::string, std::string>>& keys);
// Adds or replaces entries (the last of several with one key wins), in key
// order; an entry equal to the stored one is not rewritten. kInvalid for a
// key that cannot be stored (nothing written).
Status PgUpsertSuppressions(PgConn& conn, const std::vector<SuppressionRecord>& records);

Status PgInsertAudit(PgConn& conn, const AuditEntry& e);

// Claims or renews o.node for this machine (o.instance) in the nodes table.
// ok false: another machine holds it; holder_host and seen_s_ago say which
// and when it was last seen (nothing changed).
struct PgNodeClaim {
  bool ok = false;
  std::string holder_host;
  int64_t seen_s_ago = 0;
};
Result<PgNodeClaim> PgClaimNode(PgConn& conn, const PgStoreOptions& o);
// kUnavailable naming the holder and what to do (a refused claim).
Status PgNodeClaimRefused(const PgStoreOptions& o, const PgNodeClaim& c);

}  // namespace senderguard
