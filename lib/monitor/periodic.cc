#include "senderguard/monitor/periodic.h"

#include <cmath>

#include "senderguard/monitor/textfile.h"

namespace senderguard::monitor {

PeriodicReport::PeriodicReport(std::function<int64_t()> interval_s,
                               std::function<void(int64_t seconds)> report)
    : interval_s_(std::move(interval_s)), report_(std::move(report)),
      since_(std::chrono::steady_clock::now()) {
  thread_ = std::thread([this] { Run(); });
}

PeriodicReport::~PeriodicReport() { Stop(); }

void PeriodicReport::Stop() {
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

void PeriodicReport::Run() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    const auto interval = std::chrono::seconds(interval_s_());
    if (cv_.wait_until(lk, since_ + interval, [this] { return stop_; })) return;
    lk.unlock();
    Report();
    lk.lock();
  }
}

void PeriodicReport::Report() {
  const auto now = std::chrono::steady_clock::now();
  report_(std::llround(std::chrono::duration<double>(now - since_).count()));
  since_ = now;
}

void Publish(Logger* logger, const std::string& summary, const std::string& textfile,
             std::string_view prometheus) {
  logger->Log(Logger::Level::kInfo, summary);
  if (textfile.empty()) return;
  const Status st = WriteTextfile(textfile, prometheus);
  if (!st.ok())
    logger->Log(Logger::Level::kWarning, KvLine()
                                             .Add("action", "textfile-error")
                                             .Add("path", textfile)
                                             .Add("error", st.message())
                                             .str());
}

}  // namespace senderguard::monitor
