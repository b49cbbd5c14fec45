// PgCache: this node's copy of accounts, domains and suppression in its
// LMDB store, for the milter's common path (PgStore's part; internal).
// Start() loads what changed since the last seq recorded locally (or
// everything, in one REPEATABLE READ transaction, when the local copy is
// empty, from another database, or behind the change log's purge), then a
// thread LISTENs on sg_changes on its own connection and applies each change
// within a second, in seq order; on a gap, a reconnect (NOTIFY does not
// survive a failover) and every 60 s it reads sg_changes_since(last seq).
// While PostgreSQL is unreachable the cache keeps serving what it has;
// state changes (lost, back) are logged once each.
//
// How a change is applied: a notification (or a change read from the log)
// names a row (kind account/domains: the account; suppression: account and
// address), and the cache reads that row from PostgreSQL as it stands and
// writes it, or deletes it when it is gone. So applying a change twice, or
// out of a burst, is harmless: the cache converges on the database. Every
// notification is a cue to read the log from the last applied seq (one
// statement for a burst of them), so a gap is never skipped. A 'resync' row
// (a bulk writer, or a node behind the purge) reloads whole. Rows whose keys
// LMDB cannot hold (written by hand in SQL, over 511 bytes) are skipped and
// logged.
//
// Log lines (options->logger), key=value:
//   store=postgresql action=cache-load reason=start|resync|source accounts=N suppressions=N seq=N ms=N
//   store=postgresql action=cache-lost error=...     (once per loss)
//   store=postgresql action=cache-back seq=N down_ms=N
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/postgresql/pg_conn.h"
#include "senderguard/store/postgresql/pg_store.h"

namespace senderguard {

class PgCache {
 public:
  // `local` and `options` must outlive the cache.
  PgCache(LmdbStore* local, const PgStoreOptions* options)
      : local_(local), options_(options) {}
  ~PgCache();  // stops the thread
  // The initial load (an error when PostgreSQL cannot be reached and the
  // local cache was never loaded), then the following thread.
  Status Start();

  // How often the log is read without being told (and the longest back-off
  // between reconnections).
  static constexpr auto kPeriodicSync = std::chrono::seconds(60);
  static constexpr auto kMinBackoff = std::chrono::milliseconds(500);
  static constexpr auto kMaxBackoff = std::chrono::seconds(10);

 private:
  void Run();
  // Connects the listener: LISTEN first, then the catch-up (so nothing
  // committed in between is missed).
  Status Connect();
  // Reads the log after the local seq and applies it, reloading whole when
  // the cache is from another database, ahead of it, or told to. Runs in
  // Start (before the thread) and then only in the thread.
  Status CatchUp(PgConn& conn);
  Status Reload(PgConn& conn, const std::string& source, const char* reason);
  void Log(Logger::Level level, const std::string& line);
  void Lost(const Status& why);
  void Back();

  LmdbStore* local_;
  const PgStoreOptions* options_;
  int64_t applied_ = 0;   // the last change applied (its seq)
  std::atomic<bool> stop_{false};
  std::unique_ptr<PgConn> conn_;   // the listener's; only the thread uses it once started
  bool lost_ = false;    // the thread's view: logged as lost, not yet back
  std::chrono::steady_clock::time_point lost_at_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::thread thread_;
};

}  // namespace senderguard
