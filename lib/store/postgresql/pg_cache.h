// PgCache: this node's copy of accounts, domains and suppression in its
// LMDB store, for the milter's common path (PgStore's part; internal).
// Start() loads what changed since the last seq recorded locally (or
// everything, in one REPEATABLE READ transaction, when the local copy is
// empty or behind the change log's purge), then a thread LISTENs on
// sg_changes on its own connection and applies each change within a
// second, in seq order; on a gap, a reconnect (NOTIFY does not survive a
// failover) and every 60 s it reads sg_changes_since(last seq). While
// PostgreSQL is unreachable the cache keeps serving what it has; state
// changes (lost, back) are logged once each.
#pragma once

#include <atomic>
#include <thread>

#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/postgresql/pg_conn.h"
#include "senderguard/store/postgresql/pg_store.h"

namespace senderguard {

class PgCache {
 public:
  PgCache(LmdbStore* local, const PgStoreOptions* options)
      : local_(local), options_(options) {}
  ~PgCache();  // stops the thread
  // The initial load (an error when PostgreSQL cannot be reached and the
  // local cache was never loaded), then the following thread.
  Status Start();
  // Reads and applies every change not yet applied, now (tests; the CLI's
  // `store status`).
  Status SyncNow();
  // Last change applied (its seq), for tests and status.
  int64_t applied_seq() const { return applied_.load(); }

 private:
  void Run();
  LmdbStore* local_;
  const PgStoreOptions* options_;
  std::atomic<int64_t> applied_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace senderguard
