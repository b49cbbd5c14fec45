// What the daemons' reporter threads write each [monitoring] interval, as
// pure functions of the counters (metrics.h): the "action=summary" log line
// (counts of the interval: a Delta of two snapshots) and the Prometheus text
// exposition format 0.0.4 for node_exporter's textfile collector (totals
// since the program started: counters only grow, Prometheus's rate() takes
// the restarts). Same input, same bytes: the unit tests compare them whole.
// Every label value is one of metrics.h's names or the version given.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "senderguard/monitor/metrics.h"

namespace senderguard::monitor {

struct Percentiles {
  uint64_t p50_us = 0, p99_us = 0, max_us = 0;
};

// p50 and p99 of the latencies counted in `buckets`, each as the upper bound
// of the bucket that holds it, capped at `max_us` (the largest latency seen;
// also the answer for the +Inf bucket). All 0 when `buckets` is empty,
// except max_us, which is returned as given.
Percentiles LatencyPercentiles(const LatencyBuckets& buckets, uint64_t max_us);

// "action=summary interval_s=60 accepted=... latency_max_us=...": the
// milter's counts of one interval (`delta` = Delta(now, before)), every key
// always present (0 when nothing happened), in this order:
//   interval_s    seconds the interval lasted
//   accepted      end-of-message decisions "action=accept" (messages accepted)
//   rejected      decisions "action=reject" at any stage (a MAIL FROM, a
//                 RCPT TO or a message refused)
//   tempfailed    decisions "action=tempfail" at any stage
//   would_reject, would_tempfail   the same in dry run (the mail passed)
//   rejected_REASON for suspended, suppressed, quota, dmarc, dmarc_author,
//                 dmarc_unverified_domain, error; rejected_other when another
//                 reason counted (only then)
//   tempfailed_REASON for quota, dmarc_temperror, error; tempfailed_other
//                 likewise
//   dmarc_RESULT  messages evaluated for DMARC, for pass, fail, none,
//                 temperror, permerror
//   store_errors  store operations that failed
//   decisions     every decision line of the interval
//   latency_p50_us, latency_p99_us, latency_max_us   time to answer MAIL
//                 FROM, RCPT TO and end of message, over the three stages
std::string MilterSummaryLine(const MilterSnapshot& delta, int64_t interval_s);

// The milter's Prometheus text file from the totals `total`:
// senderguard_build_info{program="senderguard-milter",version=VERSION} 1,
// senderguard_milter_decisions_total{stage,action,reason} (the series
// counted so far), senderguard_milter_dmarc_results_total{result},
// senderguard_milter_store_errors_total and the histogram
// senderguard_milter_decision_duration_seconds{stage} for mail, rcpt and eom
// (and any other stage that was timed).
std::string MilterPrometheus(const MilterSnapshot& total, std::string_view version);

// "action=summary interval_s=60 source=SOURCE lines=... lag_s=...": the
// tailer's counts of one interval, every key always present:
//   interval_s, source (the position key: file:PATH or journal...),
//   lines, delivered, deferred, hard, soft, technical, expired (outcomes by
//   class; a deferral is counted each time it is logged), unattributed,
//   malformed, lag_s (see TailSnapshot).
std::string TailSummaryLine(const TailSnapshot& delta, std::string_view source, int64_t interval_s);

// The tailer's Prometheus text file: senderguard_build_info{program=
// "senderguard-tail",version}, senderguard_tail_lines_total,
// senderguard_tail_outcomes_total{class}, senderguard_tail_unattributed_total,
// senderguard_tail_malformed_total and the gauge senderguard_tail_lag_seconds.
std::string TailPrometheus(const TailSnapshot& total, std::string_view version);

// Microseconds as decimal seconds, exact and without exponent or trailing
// zeros: 25 -> "0.000025", 2500000 -> "2.5", 0 -> "0".
std::string Seconds(uint64_t us);

// The version of this build (the project's version from CMakeLists.txt).
std::string_view BuildVersion();

}  // namespace senderguard::monitor
