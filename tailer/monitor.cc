#include "monitor.h"

#include <algorithm>

#include "senderguard/base/clock.h"
#include "senderguard/monitor/report.h"

namespace senderguard::tail {

void CountChunk(const Chunk& chunk, const FeedbackBatch& batch, const EngineStats& totals,
                monitor::TailMetrics* metrics) {
  using monitor::OutcomeClass;
  std::array<uint64_t, monitor::kOutcomeClassCount> by_class{};
  for (const FeedbackEvent& e : batch.events) {
    by_class[static_cast<size_t>(OutcomeClass::kDelivered)] += e.delta.delivered;
    by_class[static_cast<size_t>(OutcomeClass::kDeferred)] += e.delta.deferred;
    by_class[static_cast<size_t>(OutcomeClass::kHard)] += e.delta.hard;
    by_class[static_cast<size_t>(OutcomeClass::kSoft)] += e.delta.soft;
    by_class[static_cast<size_t>(OutcomeClass::kTechnical)] += e.delta.technical;
    by_class[static_cast<size_t>(OutcomeClass::kExpired)] += e.delta.expired;
  }
  int64_t newest = 0;
  for (const auto& item : chunk.parsed.items) newest = std::max(newest, item.time);
  metrics->AddChunk(totals.lines, totals.malformed, totals.unattributed, by_class, newest,
                    chunk.lines.size() < kCommitLines);
}

std::unique_ptr<monitor::PeriodicReport> StartReporter(const Config& cfg, std::string source,
                                                       Logger* logger,
                                                       const monitor::TailMetrics* metrics) {
  monitor::TailSnapshot before;  // the last report's counters
  return std::make_unique<monitor::PeriodicReport>(
      [&cfg] { return static_cast<int64_t>(cfg.monitoring_interval_s); },
      [&cfg, source = std::move(source), logger, metrics, before](int64_t seconds) mutable {
        const monitor::TailSnapshot snap = metrics->Snapshot(UnixNow());
        monitor::Publish(logger, monitor::TailSummaryLine(monitor::Delta(snap, before), source, seconds),
                         MonitoringTextfile(cfg, "senderguard-tail"),
                         monitor::TailPrometheus(snap, monitor::BuildVersion()));
        before = snap;
      });
}

}  // namespace senderguard::tail
