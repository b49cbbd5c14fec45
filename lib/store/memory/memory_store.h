// MemoryStore: a Store that keeps everything in this process's memory, for
// unit tests of the code above the store (the milter's session, the tailer,
// the ARF ingester, the CLI commands) without a directory or LMDB. Not a
// product backend: nothing survives the object, nothing is shared with
// another process, and nothing is ever purged. OpenStore never returns one.
//
// It keeps the observable semantics of LmdbStore (tests/unit/
// store_contract_test.cc runs the same suite on both): the reservation
// ledger and alerts, suppression lookups, audit order, ApplyFeedback through
// the shared rules of store/feedback_rules.h, once_key duplicates, queue-map
// puts and stubs, the Message-ID index. Where LMDB cannot store a key
// (an empty or over-500-byte queue id or position source) it behaves as
// LmdbStore does: the entry is skipped, or the lookup finds nothing.
// Differences: once_key is kept whole rather than as its SHA-256; no write
// ever fails unless a test asks for it (FailNextWrites).
//
// Thread safety: every method may be called from any thread at once; one
// mutex serializes them. The AccountChange and AccountReview callbacks run
// under it and must not call back into the store.
#pragma once

#include <memory>

#include "senderguard/store/store.h"

namespace senderguard {

class MemoryStore;

// Returns a new, empty store. The caller owns it.
std::unique_ptr<MemoryStore> NewMemoryStore();

class MemoryStore : public Store {
 public:
  // Makes the next `n` writes (UpdateAccount, AddSuppressions,
  // RemoveSuppression, Commit, ResetUsage, ApplyFeedback, AddSendingDays,
  // AppendAudit) fail with `status` and change nothing, as a write that a
  // real backend refuses (a full disk, a lost connection). A failed Commit releases its hold.
  // REQUIRES: !status.ok().
  virtual void FailNextWrites(int n, Status status) = 0;
};

}  // namespace senderguard
