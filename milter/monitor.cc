#include "monitor.h"

#include <cmath>
#include <string>

#include "senderguard/monitor/report.h"
#include "senderguard/monitor/textfile.h"
#include "session.h"

namespace senderguard::milter {

LatencyTimer::LatencyTimer(Context* ctx, monitor::Stage stage)
    : ctx_(ctx), stage_(stage), start_(std::chrono::steady_clock::now()) {}

LatencyTimer::~LatencyTimer() {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start_);
  ctx_->metrics()->RecordLatency(stage_, static_cast<uint64_t>(us.count()));
}

Reporter::Reporter(Context* ctx) : ctx_(ctx), since_(std::chrono::steady_clock::now()) {
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
  for (;;) {
    const auto interval = std::chrono::seconds(ctx_->config()->monitoring_interval_s);
    if (cv_.wait_until(lk, since_ + interval, [this] { return stop_; })) return;
    lk.unlock();
    Report();
    lk.lock();
  }
}

void Reporter::Report() {
  const auto now = std::chrono::steady_clock::now();
  monitor::MilterMetrics* metrics = ctx_->metrics();
  monitor::MilterSnapshot snap = metrics->Snapshot();
  snap.interval_max_us = metrics->TakeIntervalMax();
  const int64_t seconds = std::llround(std::chrono::duration<double>(now - since_).count());
  Logger* logger = ctx_->logger();
  logger->Log(Logger::Level::kInfo, monitor::MilterSummaryLine(monitor::Delta(snap, before_), seconds));
  const std::string path = MonitoringTextfile(*ctx_->config(), "senderguard-milter");
  if (!path.empty()) {
    const Status st = monitor::WriteTextfile(path, monitor::MilterPrometheus(snap, monitor::BuildVersion()));
    if (!st.ok()) {
      logger->Log(Logger::Level::kWarning,
                  KvLine().Add("action", "textfile-error").Add("path", path).Add("error", st.message()).str());
    }
  }
  before_ = snap;
  since_ = now;
}

}  // namespace senderguard::milter
