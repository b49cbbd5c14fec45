#include "monitor.h"

#include "senderguard/monitor/report.h"
#include "session.h"

namespace senderguard::milter {

LatencyTimer::LatencyTimer(Context* ctx, monitor::Stage stage)
    : ctx_(ctx), stage_(stage), start_(std::chrono::steady_clock::now()) {}

LatencyTimer::~LatencyTimer() {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start_);
  ctx_->metrics()->RecordLatency(stage_, static_cast<uint64_t>(us.count()));
}

void FlushSendingDays(Context* ctx) {
  monitor::SendingTally* tally = ctx->sending();
  std::vector<SendingDay> batch = tally->Take();
  if (!batch.empty()) {
    const size_t keys = batch.size();
    const Status st = ctx->store()->AddSendingDays(batch);
    if (!st.ok()) {
      tally->MergeBack(std::move(batch));  // tried again at the next report
      ctx->logger()->Log(Logger::Level::kWarning, KvLine()
                                                      .Add("action", "sending-days-error")
                                                      .Add("keys", static_cast<uint64_t>(keys))
                                                      .Add("error", st.message())
                                                      .str());
    }
  }
  if (const uint64_t dropped = tally->TakeDropped(); dropped > 0) {
    ctx->logger()->Log(Logger::Level::kWarning,
                       KvLine()
                           .Add("action", "sending-days-dropped")
                           .Add("keys", dropped)
                           .Add("max_keys", static_cast<uint64_t>(monitor::SendingTally::kDefaultMaxKeys))
                           .str());
  }
}

std::unique_ptr<monitor::PeriodicReport> StartReporter(Context* ctx) {
  monitor::MilterSnapshot before;  // the last report's counters
  return std::make_unique<monitor::PeriodicReport>(
      [ctx] { return static_cast<int64_t>(ctx->config()->monitoring_interval_s); },
      [ctx, before](int64_t seconds) mutable {
        monitor::MilterMetrics* metrics = ctx->metrics();
        monitor::MilterSnapshot snap = metrics->Snapshot();
        snap.interval_max_us = metrics->TakeIntervalMax();
        monitor::Publish(ctx->logger(), monitor::MilterSummaryLine(monitor::Delta(snap, before), seconds),
                         MonitoringTextfile(*ctx->config(), "senderguard-milter"),
                         monitor::MilterPrometheus(snap, monitor::BuildVersion()));
        before = snap;
        FlushSendingDays(ctx);
      });
}

}  // namespace senderguard::milter
