// PeriodicReport: the daemons' reporting thread. Each interval, and once
// more when it stops (the interval so far: with `senderguard-tail --once`,
// the whole run), it calls `report` with the seconds since the previous
// call; the daemon logs its "action=summary" line and rewrites its
// Prometheus text file there (Publish).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "senderguard/base/kvlog.h"

namespace senderguard::monitor {

class PeriodicReport {
 public:
  // `interval_s` is asked before each wait (a reload may change it);
  // `report` runs on the thread, or on the caller of Stop() after the thread
  // ended, never on two threads at once. Both must stay valid until Stop().
  PeriodicReport(std::function<int64_t()> interval_s, std::function<void(int64_t seconds)> report);
  // Stop().
  ~PeriodicReport();
  PeriodicReport(const PeriodicReport&) = delete;
  PeriodicReport& operator=(const PeriodicReport&) = delete;

  // Ends the thread, then reports once more. Idempotent; call from one thread.
  void Stop();

 private:
  void Run();
  void Report();

  std::function<int64_t()> interval_s_;
  std::function<void(int64_t)> report_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool stopped_ = false;
  std::chrono::steady_clock::time_point since_;
  std::thread thread_;
};

// Logs `summary` at info and, when `textfile` is not empty, replaces it with
// `prometheus` (WriteTextfile), logging "action=textfile-error" when that
// fails.
void Publish(Logger* logger, const std::string& summary, const std::string& textfile,
             std::string_view prometheus);

}  // namespace senderguard::monitor
