#include "monitor.h"

#include <algorithm>
#include <cmath>

#include "senderguard/base/clock.h"
#include "senderguard/monitor/report.h"
#include "senderguard/monitor/textfile.h"

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

Reporter::Reporter(const Config& cfg, std::string source, Logger* logger,
                   const monitor::TailMetrics* metrics)
    : cfg_(cfg), source_(std::move(source)), logger_(logger), metrics_(metrics),
      since_(std::chrono::steady_clock::now()) {
  thread_ = std::thread([this] { Run(); });
}

Reporter::~Reporter() { Stop(); }

void Reporter::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  Report();
}

void Reporter::Run() {
  std::unique_lock<std::mutex> lk(mu_);
  const auto interval = std::chrono::seconds(cfg_.monitoring_interval_s);
  for (;;) {
    if (cv_.wait_until(lk, since_ + interval, [this] { return stop_; })) return;
    lk.unlock();
    Report();
    lk.lock();
  }
}

void Reporter::Report() {
  const auto now = std::chrono::steady_clock::now();
  const monitor::TailSnapshot snap = metrics_->Snapshot(UnixNow());
  const int64_t seconds = std::llround(std::chrono::duration<double>(now - since_).count());
  logger_->Log(Logger::Level::kInfo,
               monitor::TailSummaryLine(monitor::Delta(snap, before_), source_, seconds));
  const std::string path = MonitoringTextfile(cfg_, "senderguard-tail");
  if (!path.empty()) {
    const Status st = monitor::WriteTextfile(path, monitor::TailPrometheus(snap, monitor::BuildVersion()));
    if (!st.ok()) {
      logger_->Log(Logger::Level::kWarning,
                   KvLine().Add("action", "textfile-error").Add("path", path).Add("error", st.message()).str());
    }
  }
  before_ = snap;
  since_ = now;
}

}  // namespace senderguard::tail
