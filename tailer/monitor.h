// The tailer's monitoring (lib/monitor): CountChunk adds what one attributed
// chunk read to the counters, and Reporter is the thread that, each
// [monitoring] interval, logs the "action=summary" line and rewrites the
// Prometheus text file ([monitoring] textfile, with {program} =
// senderguard-tail).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "chunk_reader.h"
#include "senderguard/base/kvlog.h"
#include "senderguard/config/config.h"
#include "senderguard/feedback/feedback.h"
#include "senderguard/monitor/metrics.h"
#include "senderguard/store/store.h"

namespace senderguard::tail {

// After FeedbackEngine::Apply of `chunk` into `batch`: the engine's totals,
// the batch's outcomes by class, the chunk's newest line and whether the
// read that ended it reached the end of the source (a chunk short of
// kCommitLines: nothing more was there).
void CountChunk(const Chunk& chunk, const FeedbackBatch& batch, const EngineStats& totals,
                monitor::TailMetrics* metrics);

class Reporter {
 public:
  // Starts the reporting thread. `cfg`, *logger and *metrics must outlive
  // Stop(). `source` is the position key shown in the summary.
  Reporter(const Config& cfg, std::string source, Logger* logger, const monitor::TailMetrics* metrics);
  // Stop().
  ~Reporter();
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  // Ends the thread, then reports once more (the interval so far: with
  // --once, the whole run). Idempotent; call from one thread.
  void Stop();

 private:
  void Run();
  void Report();  // on the reporting thread, or after it is joined

  const Config& cfg_;
  const std::string source_;
  Logger* logger_;
  const monitor::TailMetrics* metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool stopped_ = false;
  monitor::TailSnapshot before_;
  std::chrono::steady_clock::time_point since_;
  std::thread thread_;
};

}  // namespace senderguard::tail
