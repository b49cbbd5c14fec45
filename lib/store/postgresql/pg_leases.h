// PgLeases: quotas spent from blocks leased from PostgreSQL (PgStore's
// part; internal). docs/fleet.md gives the protocol; model/lease.h the
// node's arithmetic. In short: for each enforced window instance an account
// sends in, the node holds a lease of a block of units (sg_lease_take);
// Reserve holds units against what the node was granted and has not yet
// committed or held, in the local LMDB's ledger (LmdbStore's `leases`,
// beside the holds: every process of the node shares the block and is
// exact), Commit turns a hold into a local count ("unreported"), Release
// gives it back. Nothing on that path waits on PostgreSQL, except when the
// lease cannot cover a recipient: then one take, bounded (2 s in all).
//
// A thread in each process that spends (started by the first Reserve or
// Commit; at once in the milter, which opens the store with cached_reads)
// wakes every 200 ms and, for the entries of the node's ledger: reports
// unreported units (sg_lease_commit, several leases in one statement, each
// claim's idempotency key written to LMDB before the call is sent, so a
// lost answer is sent again with the same key and never counted twice);
// tops up a lease in use that fell under half a block (the node's demand of
// the last 4 s); renews one in use near its deadline; gives back the spare
// of a lease idle for a few seconds and of every lease at its window's end
// (sg_lease_return of the units not held); runs sg_lease_expire every 3 s
// and sg_purge hourly (once for the node); creates in PostgreSQL the
// records of the accounts that sent. Quota alerts come with the reports'
// answers (PgStoreOptions::on_alert, else logged); Commit returns none.
//
// PostgreSQL unreachable: the node spends what it leased until each lease's
// local deadline (the time the last call on it was sent + ttl - margin),
// then [store.postgresql] on_unavailable: "tempfail" (Reserve fails with
// kUnavailable: the milter answers its on_error reply) or "local" (up to
// local_allowance units per account and window instance, counted in the
// ledger and reported when the database is back, may go over the limit).
// The loss and the return of the database are logged once each.
//
// Thread safety: every method may be called from any thread at once.
#pragma once

#include <cstdint>
#include <memory>

#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/postgresql/pg_conn.h"
#include "senderguard/store/postgresql/pg_store.h"

namespace senderguard {

class PgLeases {
 public:
  // Keeps the three pointers; they must outlive this object.
  PgLeases(PgPool* pool, LmdbStore* local, const PgStoreOptions* options);
  // Stops the thread, then reports what is counted and gives back what this
  // process leased and does not hold (best effort: what is left is sent by
  // another process of the node or the next start).
  ~PgLeases();

  // kUnavailable when PostgreSQL cannot be reached and the lease cannot
  // cover the charges (on_unavailable "tempfail", or the local allowance is
  // spent); kInvalid for an account name PostgreSQL cannot hold
  // (PgCheckAccountName: a NUL, not UTF-8, too long). A refusal's `used` is the fleet's committed count as last known
  // (this node's own count exactly), `reserved` what this node's open
  // transactions hold.
  Result<ReserveOutcome> Reserve(std::string_view account, const std::vector<QuotaCharge>& charges,
                                 bool force);
  void Release(std::string_view account, const std::vector<QuotaCharge>& held);
  // Local only (one LMDB transaction); returns no alert (see above).
  Result<std::vector<QuotaAlert>> Commit(std::string_view account,
                                         const std::vector<QuotaCharge>& held,
                                         const QueueEntry* queue, int64_t now);
  // The fleet's count of each window instance (committed and late, in
  // PostgreSQL), after this node's unreported units of them are reported.
  Result<std::vector<WindowUsage>> Usage(std::string_view account,
                                         const std::vector<WindowUsage>& windows);
  // Store::ResetUsage on the fleet's count (quota_windows): reports this
  // node's unreported units of the window instance first, then, in one
  // transaction with the window's row locked, sets committed and late to 0
  // (and the alerts announced) and writes the audit entry. The leases other
  // nodes hold are left as they are (see store.h). The nodes' own local
  // counts are not reset: they only bound a node that spends its local
  // allowance (more strictly for the rest of the window) and the `used` of a
  // refusal's log line.
  Result<uint64_t> ResetUsage(std::string_view account, Window window, const WindowSpan& span,
                              const Store::UsageAudit& audit);
  // Reports every unreported unit of the node and, when this process spent
  // leases, gives back what is not held; creates the pending account
  // records. Returns the first error (tests; Flush at exit).
  Status Settle();

  // Statements this object sent to PostgreSQL, in all (for the benchmark's
  // statements per message).
  uint64_t statements() const;
  // Times a Reserve waited on a take (its lease could not cover it).
  uint64_t reserve_takes() const;

 private:
  struct State;  // defined in pg_leases.cc
  std::unique_ptr<State> s_;
};

}  // namespace senderguard
