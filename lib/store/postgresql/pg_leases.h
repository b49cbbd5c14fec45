// PgLeases: quotas spent from blocks leased from PostgreSQL (PgStore's
// part; internal). docs/fleet.md gives the protocol. In short: for each
// enforced window instance an account sends in, the node holds a lease of
// a block of units (sg_lease_take); Reserve holds units against what the
// node was granted and has not yet committed or held, in the local LMDB
// (so every process of the node shares the block and is exact), Commit
// turns a hold into a local count, Release gives it back. A thread in
// each process reports local counts to PostgreSQL in batches
// (sg_lease_commit, idempotency key written locally first), tops a lease
// up before it runs dry, returns an idle lease's rest (sg_lease_return)
// and every lease at its window's end, and runs sg_lease_expire. Reserve
// waits on PostgreSQL only when the lease cannot cover the recipient
// (bounded); when PostgreSQL is unreachable the node spends only what it
// leased, up to each lease's local deadline, then applies on_unavailable.
#pragma once

#include <memory>

#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/postgresql/pg_conn.h"
#include "senderguard/store/postgresql/pg_store.h"

namespace senderguard {

class PgLeases {
 public:
  PgLeases(PgPool* pool, LmdbStore* local, const PgStoreOptions* options);
  ~PgLeases();  // reports what is counted, returns what is left (best effort), stops the thread

  Result<ReserveOutcome> Reserve(std::string_view account, const std::vector<QuotaCharge>& charges,
                                 bool force);
  void Release(std::string_view account, const std::vector<QuotaCharge>& held);
  Result<std::vector<QuotaAlert>> Commit(std::string_view account,
                                         const std::vector<QuotaCharge>& held,
                                         const QueueEntry* queue, int64_t now);
  Result<std::vector<WindowUsage>> Usage(std::string_view account,
                                         const std::vector<WindowUsage>& windows);
  // Reports and returns now (tests; Flush at exit).
  Status Settle();

 private:
  struct State;  // defined in pg_leases.cc
  std::unique_ptr<State> s_;
};

}  // namespace senderguard
