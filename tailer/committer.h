// Committer: writes the tailer's batches to the store on a thread of its
// own, in order, one at a time, so that the next chunk is attributed while
// the previous one is written (and read and classified on the ChunkReader's
// threads: four stages over the cores). Each batch carries its own source
// position, committed in the same transaction as its counts: whatever is
// committed is consistent with it. A batch that fails to commit is retried
// (with a growing pause, up to 5 s) until it lands or `stop` is set.
//
// Logs, per batch committed: one "action=suppress" line per recipient
// suppressed and the store's alerts; per failed attempt, "action=commit-error".
//
// Thread safety: Submit and Wait are called from one thread (the follow
// loop); the Committer runs at most one commit thread of its own.
#pragma once

#include <atomic>
#include <thread>

#include "senderguard/base/kvlog.h"
#include "senderguard/feedback/feedback.h"
#include "senderguard/monitor/metrics.h"
#include "senderguard/store/store.h"

namespace senderguard::tail {

class Committer {
 public:
  // *store, *logger and `stop` must outlive the Committer; *logger is
  // called from the commit thread. `rep` decides the review of each account
  // a batch touches (sg::ReviewAccount).
  // *metrics (may be null) is told when commits start and stop failing.
  Committer(Store* store, Logger* logger, ReputationConfig rep, const std::atomic<bool>& stop,
            monitor::TailMetrics* metrics = nullptr);
  // Waits for the batch in flight.
  ~Committer();
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Waits for the batch in flight (if any), then starts committing this
  // one. False, and `batch` dropped, if the one in flight failed.
  bool Submit(FeedbackBatch batch);
  // Waits for the batch in flight; false if it could not be committed
  // (only when stopping: otherwise it retries until it can).
  bool Wait();

 private:
  bool Run(const FeedbackBatch& batch);

  Store* store_;
  Logger* logger_;
  ReputationConfig rep_;
  const std::atomic<bool>& stop_;
  monitor::TailMetrics* metrics_;
  std::thread inflight_;
  bool ok_ = true;  // written by inflight_, read after joining it
};

}  // namespace senderguard::tail
