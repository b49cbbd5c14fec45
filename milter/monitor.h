// The milter's monitoring (lib/monitor): LatencyTimer times one step of a
// connection into the process's counters, and StartReporter the thread that,
// each [monitoring] interval, logs the "action=summary" line and rewrites
// the Prometheus text file ([monitoring] textfile, with {program} =
// senderguard-milter). The interval and the file are read from the current
// configuration at each report, so a reload (SIGUSR1) applies from the next.
#pragma once

#include <chrono>
#include <memory>

#include "senderguard/monitor/metrics.h"
#include "senderguard/monitor/periodic.h"

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

// Starts the thread that, each [monitoring] interval and once more when it
// is stopped, logs the "action=summary" line, rewrites the Prometheus text
// file ([monitoring] textfile, {program} = senderguard-milter) and writes
// the accounts' daily figures (FlushSendingDays). *ctx (its metrics,
// logger, configuration and store) must outlive the result's Stop().
std::unique_ptr<monitor::PeriodicReport> StartReporter(Context* ctx);

// Writes what Context::sending() counted since the last call to the store
// in one call (Store::AddSendingDays). A failed write is logged
// (action=sending-days-error) and its figures go back into the tally for
// the next call; keys the full tally dropped are logged once
// (action=sending-days-dropped keys=N).
void FlushSendingDays(Context* ctx);

}  // namespace senderguard::milter
