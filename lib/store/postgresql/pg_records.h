// PgRecords: accounts (with their verified domains), suppression and the
// audit log in PostgreSQL (PgStore's part; internal to the backend).
// Writes go to PostgreSQL in one transaction with their audit entry; the
// nodes' caches learn of them through the change log (pg_cache). With
// cached_reads, GetAccount and FindSuppression read the local cache.
#pragma once

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
  Status UpdateAccount(std::string_view name, const Store::AccountChange& change,
                       const AuditEntry& audit);
  Result<std::optional<SuppressionRecord>> FindSuppression(std::string_view account,
                                                           std::string_view address);
  Status AddSuppressions(const std::vector<SuppressionRecord>& records, const AuditEntry& audit);
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

}  // namespace senderguard
