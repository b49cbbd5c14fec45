// The milter's monitoring (lib/monitor): LatencyTimer times one step of a
// connection into the process's counters, and Reporter is the thread that,
// each [monitoring] interval, logs the "action=summary" line and rewrites
// the Prometheus text file ([monitoring] textfile, with {program} =
// senderguard-milter). The interval and the file are read from the current
// configuration at each report, so a reload (SIGUSR1) applies from the next.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "senderguard/monitor/metrics.h"

namespace senderguard::milter {

class Context;

// Records the time from its construction to its destruction as the decision
// latency of `stage` (monitor::MilterMetrics::RecordLatency). *ctx must
// outlive it. Costs two reads of the monotonic clock.
class LatencyTimer {
 public:
  LatencyTimer(Context* ctx, monitor::Stage stage);
  ~LatencyTimer();
  LatencyTimer(const LatencyTimer&) = delete;
  LatencyTimer& operator=(const LatencyTimer&) = delete;

 private:
  Context* ctx_;
  monitor::Stage stage_;
  std::chrono::steady_clock::time_point start_;
};

class Reporter {
 public:
  // Starts the reporting thread. *ctx (its metrics, logger and
  // configuration) must outlive Stop().
  explicit Reporter(Context* ctx);
  // Stop().
  ~Reporter();
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  // Ends the thread, then reports once more (the interval so far), so the
  // last counts are logged and written when the milter stops. Idempotent;
  // call from one thread.
  void Stop();

 private:
  void Run();
  void Report();  // on the reporting thread, or after it is joined

  Context* ctx_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool stopped_ = false;
  monitor::MilterSnapshot before_;  // the last report's counters
  std::chrono::steady_clock::time_point since_;  // the last report's time
  std::thread thread_;
};

}  // namespace senderguard::milter
