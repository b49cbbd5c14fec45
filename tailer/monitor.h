// The tailer's monitoring (lib/monitor): CountChunk adds what one attributed
// chunk read to the counters, and StartReporter the thread that, each
// [monitoring] interval, logs the "action=summary" line and rewrites the
// Prometheus text file ([monitoring] textfile, with {program} =
// senderguard-tail).
#pragma once

#include <memory>
#include <string>

#include "chunk_reader.h"
#include "senderguard/base/kvlog.h"
#include "senderguard/config/config.h"
#include "senderguard/feedback/feedback.h"
#include "senderguard/monitor/metrics.h"
#include "senderguard/monitor/periodic.h"
#include "senderguard/store/store.h"

namespace senderguard::tail {

// After FeedbackEngine::Apply of `chunk` into `batch`: the engine's totals,
// the batch's outcomes by class, the chunk's newest line and whether the
// read that ended it reached the end of the source (a chunk short of
// kCommitLines: nothing more was there).
void CountChunk(const Chunk& chunk, const FeedbackBatch& batch, const EngineStats& totals,
                monitor::TailMetrics* metrics);

// Starts the thread that, each [monitoring] interval and once more when it
// is stopped (with --once: the whole run), logs the "action=summary" line
// and rewrites the Prometheus text file ([monitoring] textfile, {program} =
// senderguard-tail). `cfg`, *logger and *metrics must outlive the result's
// Stop(). `source` is the position key shown in the summary.
std::unique_ptr<monitor::PeriodicReport> StartReporter(const Config& cfg, std::string source,
                                                       Logger* logger,
                                                       const monitor::TailMetrics* metrics);

}  // namespace senderguard::tail
