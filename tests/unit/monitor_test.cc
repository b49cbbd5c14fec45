// Tests for lib/monitor: the counters (also under concurrent writers), the
// latency buckets and percentiles, and the summary lines and Prometheus
// files compared whole with their expected bytes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "senderguard/monitor/metrics.h"
#include "senderguard/monitor/periodic.h"
#include "senderguard/monitor/prom_read.h"
#include "senderguard/monitor/report.h"
#include "senderguard/monitor/textfile.h"

namespace senderguard::monitor {
namespace {

TEST(Names, RoundTripAndUnknownIsOther) {
  for (size_t i = 0; i < kStageCount; ++i)
    EXPECT_EQ(ParseStage(StageName(static_cast<Stage>(i))), static_cast<Stage>(i));
  for (size_t i = 0; i < kActionCount; ++i)
    EXPECT_EQ(ParseAction(ActionName(static_cast<Action>(i))), static_cast<Action>(i));
  for (size_t i = 0; i < kReasonCount; ++i)
    EXPECT_EQ(ParseReason(ReasonName(static_cast<Reason>(i))), static_cast<Reason>(i));
  for (size_t i = 0; i < kDmarcResultCount; ++i)
    EXPECT_EQ(ParseDmarcResult(DmarcResultName(static_cast<DmarcResult>(i))), static_cast<DmarcResult>(i));
  EXPECT_EQ(ParseStage("data"), Stage::kOther);
  EXPECT_EQ(ParseAction("quarantine"), Action::kOther);
  EXPECT_EQ(ParseReason(""), Reason::kNone);
  EXPECT_EQ(ParseReason("alice@example.org"), Reason::kOther);  // never a label of its own
  EXPECT_EQ(ParseReason("DMARC"), Reason::kOther);              // names are exact
  EXPECT_EQ(ParseDmarcResult(""), DmarcResult::kOther);
  EXPECT_EQ(ReasonName(Reason::kDmarcUnverifiedDomain), "dmarc-unverified-domain");
}

TEST(LatencyBuckets, BoundsAndPlacement) {
  EXPECT_EQ(LatencyBucketBound(0), 1u);
  EXPECT_EQ(LatencyBucketBound(7), 10u);
  EXPECT_EQ(LatencyBucketBound(kLatencyBucketCount - 2), 10'000'000u);
  EXPECT_EQ(LatencyBucketBound(kLatencyBucketCount - 1), UINT64_MAX);
  for (size_t i = 1; i < kLatencyBucketCount; ++i) {
    EXPECT_LT(LatencyBucketBound(i - 1), LatencyBucketBound(i)) << i;
    if (i >= 8 && i + 1 < kLatencyBucketCount) {  // from 10 us on, at most a third apart
      EXPECT_LE(LatencyBucketBound(i) * 3, LatencyBucketBound(i - 1) * 4) << i;
    }
  }
  const struct {
    uint64_t us;
    size_t bucket;
  } cases[] = {{0, 0},  {1, 0},     {2, 1},     {7, 6},          {8, 6},          {9, 7},
               {10, 7}, {11, 8},    {12, 8},    {13, 9},         {99, 17},        {100, 17},
               {101, 18}, {1000, 27}, {10'000'000, 67}, {10'000'001, 68}, {UINT64_MAX, 68}};
  for (const auto& c : cases) EXPECT_EQ(LatencyBucket(c.us), c.bucket) << c.us;
}

LatencyBuckets Buckets(std::initializer_list<uint64_t> latencies_us) {
  LatencyBuckets b{};
  for (uint64_t us : latencies_us) ++b[LatencyBucket(us)];
  return b;
}

TEST(LatencyPercentiles, Table) {
  const struct {
    const char* name;
    LatencyBuckets buckets;
    uint64_t max_us;
    Percentiles want;
  } cases[] = {
      {"empty", {}, 0, {0, 0, 0}},
      {"one", Buckets({90}), 90, {90, 90, 90}},            // bucket 80..100, capped at the max
      {"exact_bound", Buckets({100}), 100, {100, 100, 100}},
      {"two", Buckets({100, 5000}), 5000, {100, 5000, 5000}},
      // 100 values: 98 fast, 2 slow: p99 is the 99th, a slow one.
      {"tail", [] {
         LatencyBuckets b{};
         b[LatencyBucket(200)] = 98;
         b[LatencyBucket(40000)] = 2;
         return b;
       }(), 41000, {200, 40000, 41000}},
      // Above 10 s: the +Inf bucket answers with the maximum.
      {"overflow", Buckets({20'000'000}), 20'000'000, {20'000'000, 20'000'000, 20'000'000}},
      // A bucket's bound above the max (the max is exact, the bound is not).
      {"capped", Buckets({1100, 1150}), 1150, {1150, 1150, 1150}},
      {"max_not_known", Buckets({1100}), 0, {1200, 1200, 0}},
  };
  for (const auto& c : cases) {
    const Percentiles p = LatencyPercentiles(c.buckets, c.max_us);
    EXPECT_EQ(p.p50_us, c.want.p50_us) << c.name;
    EXPECT_EQ(p.p99_us, c.want.p99_us) << c.name;
    EXPECT_EQ(p.max_us, c.want.max_us) << c.name;
  }
}

TEST(Seconds, ExactDecimal) {
  EXPECT_EQ(Seconds(0), "0");
  EXPECT_EQ(Seconds(1), "0.000001");
  EXPECT_EQ(Seconds(25), "0.000025");
  EXPECT_EQ(Seconds(250000), "0.25");
  EXPECT_EQ(Seconds(1000000), "1");
  EXPECT_EQ(Seconds(2500000), "2.5");
  EXPECT_EQ(Seconds(61000123), "61.000123");
}

// ---------------------------------------------------------------- milter

TEST(MilterSummaryLine, NothingHappenedIsAllZeros) {
  EXPECT_EQ(MilterSummaryLine(MilterSnapshot{}, 60),
            "action=summary interval_s=60 accepted=0 rejected=0 tempfailed=0 would_reject=0 "
            "would_tempfail=0 rejected_suspended=0 rejected_suppressed=0 rejected_quota=0 "
            "rejected_dmarc=0 rejected_dmarc_author=0 rejected_dmarc_unverified_domain=0 "
            "rejected_error=0 tempfailed_quota=0 tempfailed_dmarc_temperror=0 tempfailed_error=0 "
            "dmarc_pass=0 dmarc_fail=0 dmarc_none=0 dmarc_temperror=0 dmarc_permerror=0 "
            "store_errors=0 decisions=0 latency_p50_us=0 latency_p99_us=0 latency_max_us=0");
}

// A minute of a small milter, counted through MilterMetrics as the
// program does.
void CountAMinute(MilterMetrics& m) {
  for (int i = 0; i < 5; ++i) m.CountDecision(Stage::kEom, Action::kAccept, Reason::kNone);
  m.CountDecision(Stage::kEom, Action::kAccept, Reason::kDmarcTesting);
  m.CountDecision(Stage::kMail, Action::kReject, Reason::kSuspended);
  m.CountDecision(Stage::kRcpt, Action::kReject, Reason::kSuppressed);
  m.CountDecision(Stage::kRcpt, Action::kReject, Reason::kSuppressed);
  m.CountDecision(Stage::kRcpt, Action::kTempfail, Reason::kQuota);
  m.CountDecision(Stage::kEom, Action::kReject, Reason::kDmarc);
  m.CountDecision(Stage::kMail, Action::kTempfail, Reason::kError);
  m.CountDecision(Stage::kMail, Action::kWouldReject, Reason::kSuspended);
  m.CountDecision(Stage::kMail, Action::kAccept, Reason::kNoIdentity);
  m.CountDecision(Stage::kEom, Action::kReject, Reason::kOther);
  m.CountDmarc(DmarcResult::kPass);
  m.CountDmarc(DmarcResult::kPass);
  m.CountDmarc(DmarcResult::kFail);
  m.CountStoreError();
  for (uint64_t us : {150, 180, 200, 240}) m.RecordLatency(Stage::kMail, us);
  for (uint64_t us : {40, 45, 50}) m.RecordLatency(Stage::kRcpt, us);
  for (uint64_t us : {900, 1100, 7300}) m.RecordLatency(Stage::kEom, us);
}

TEST(MilterSummaryLine, CountsOfTheInterval) {
  MilterMetrics m;
  CountAMinute(m);  // a first interval, already reported
  const MilterSnapshot first = m.Snapshot();
  (void)m.TakeIntervalMax();
  CountAMinute(m);
  MilterSnapshot now = m.Snapshot();
  now.interval_max_us = m.TakeIntervalMax();
  EXPECT_EQ(MilterSummaryLine(Delta(now, first), 61),
            "action=summary interval_s=61 accepted=6 rejected=5 tempfailed=2 would_reject=1 "
            "would_tempfail=0 rejected_suspended=1 rejected_suppressed=2 rejected_quota=0 "
            "rejected_dmarc=1 rejected_dmarc_author=0 rejected_dmarc_unverified_domain=0 "
            "rejected_error=0 rejected_other=1 tempfailed_quota=1 tempfailed_dmarc_temperror=0 "
            "tempfailed_error=1 dmarc_pass=2 dmarc_fail=1 dmarc_none=0 dmarc_temperror=0 "
            "dmarc_permerror=0 store_errors=1 decisions=15 latency_p50_us=200 "
            "latency_p99_us=7300 latency_max_us=7300");
  // The next interval saw nothing: zeros again, including the maximum.
  const MilterSnapshot before = now;
  MilterSnapshot later = m.Snapshot();
  later.interval_max_us = m.TakeIntervalMax();
  EXPECT_EQ(later.interval_max_us, 0u);
  EXPECT_EQ(MilterSummaryLine(Delta(later, before), 60), MilterSummaryLine(MilterSnapshot{}, 60));
}

TEST(MilterMetrics, ConcurrentWritersLoseNothing) {
  MilterMetrics m;
  constexpr int kThreads = 16, kEach = 20000;
  std::vector<std::thread> threads;
  std::atomic<bool> done{false};
  // A reader takes snapshots all along, as the reporter does.
  std::thread reader([&] {
    uint64_t last = 0;
    while (!done) {
      const uint64_t n = m.Snapshot().Decisions(Action::kAccept);
      EXPECT_GE(n, last);
      last = n;
      (void)m.TakeIntervalMax();
    }
  });
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < kEach; ++i) {
        m.CountDecision(Stage::kEom, Action::kAccept, Reason::kNone);
        m.RecordLatency(Stage::kEom, static_cast<uint64_t>(t * 100 + 1));
      }
    });
  }
  for (auto& th : threads) th.join();
  done = true;
  reader.join();
  const MilterSnapshot s = m.Snapshot();
  EXPECT_EQ(s.Decisions(Action::kAccept), uint64_t{kThreads} * kEach);
  uint64_t timed = 0;
  for (uint64_t c : s.latency[static_cast<size_t>(Stage::kEom)]) timed += c;
  EXPECT_EQ(timed, uint64_t{kThreads} * kEach);
  uint64_t sum = 0;
  for (int t = 0; t < kThreads; ++t) sum += uint64_t{kEach} * static_cast<uint64_t>(t * 100 + 1);
  EXPECT_EQ(s.latency_sum_us[static_cast<size_t>(Stage::kEom)], sum);
}

// The histogram lines of one stage with no latency recorded.
std::string EmptyHistogram(const std::string& stage) {
  std::string out;
  for (const char* le : {"0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
                         "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
                         "10", "+Inf"}) {
    out += "senderguard_milter_decision_duration_seconds_bucket{stage=\"" + stage + "\",le=\"" +
           le + "\"} 0\n";
  }
  out += "senderguard_milter_decision_duration_seconds_sum{stage=\"" + stage + "\"} 0\n";
  out += "senderguard_milter_decision_duration_seconds_count{stage=\"" + stage + "\"} 0\n";
  return out;
}

const char kMilterHead[] =
    "# HELP senderguard_build_info The senderguard program running and its version (always 1).\n"
    "# TYPE senderguard_build_info gauge\n"
    "senderguard_build_info{program=\"senderguard-milter\",version=\"1.2.3\"} 1\n"
    "# HELP senderguard_milter_decisions_total Decisions the milter logged (one per decision "
    "line), by stage, action and reason.\n"
    "# TYPE senderguard_milter_decisions_total counter\n";

TEST(MilterPrometheus, NothingHappened) {
  const std::string want =
      std::string(kMilterHead) +
      "# HELP senderguard_milter_dmarc_results_total Messages the milter evaluated for DMARC, by "
      "result (RFC 9989).\n"
      "# TYPE senderguard_milter_dmarc_results_total counter\n"
      "senderguard_milter_dmarc_results_total{result=\"pass\"} 0\n"
      "senderguard_milter_dmarc_results_total{result=\"fail\"} 0\n"
      "senderguard_milter_dmarc_results_total{result=\"none\"} 0\n"
      "senderguard_milter_dmarc_results_total{result=\"temperror\"} 0\n"
      "senderguard_milter_dmarc_results_total{result=\"permerror\"} 0\n"
      "# HELP senderguard_milter_store_errors_total Store operations that failed (the on_error "
      "policy answered).\n"
      "# TYPE senderguard_milter_store_errors_total counter\n"
      "senderguard_milter_store_errors_total 0\n"
      "# HELP senderguard_milter_decision_duration_seconds Time the milter took to answer a step "
      "(MAIL FROM, RCPT TO, end of message).\n"
      "# TYPE senderguard_milter_decision_duration_seconds histogram\n" +
      EmptyHistogram("mail") + EmptyHistogram("rcpt") + EmptyHistogram("eom");
  EXPECT_EQ(MilterPrometheus(MilterSnapshot{}, "1.2.3"), want);
}

TEST(MilterPrometheus, CountsAndHistogram) {
  MilterMetrics m;
  CountAMinute(m);
  const std::string got = MilterPrometheus(m.Snapshot(), "1.2.3");
  const std::string want =
      std::string(kMilterHead) +
      "senderguard_milter_decisions_total{stage=\"mail\",action=\"accept\",reason=\"no-identity\"} 1\n"
      "senderguard_milter_decisions_total{stage=\"mail\",action=\"reject\",reason=\"suspended\"} 1\n"
      "senderguard_milter_decisions_total{stage=\"mail\",action=\"tempfail\",reason=\"error\"} 1\n"
      "senderguard_milter_decisions_total{stage=\"mail\",action=\"would-reject\",reason=\"suspended\"} 1\n"
      "senderguard_milter_decisions_total{stage=\"rcpt\",action=\"reject\",reason=\"suppressed\"} 2\n"
      "senderguard_milter_decisions_total{stage=\"rcpt\",action=\"tempfail\",reason=\"quota\"} 1\n"
      "senderguard_milter_decisions_total{stage=\"eom\",action=\"accept\",reason=\"none\"} 5\n"
      "senderguard_milter_decisions_total{stage=\"eom\",action=\"accept\",reason=\"dmarc-testing\"} 1\n"
      "senderguard_milter_decisions_total{stage=\"eom\",action=\"reject\",reason=\"dmarc\"} 1\n"
      "senderguard_milter_decisions_total{stage=\"eom\",action=\"reject\",reason=\"other\"} 1\n"
      "# HELP senderguard_milter_dmarc_results_total Messages the milter evaluated for DMARC, by "
      "result (RFC 9989).\n"
      "# TYPE senderguard_milter_dmarc_results_total counter\n"
      "senderguard_milter_dmarc_results_total{result=\"pass\"} 2\n"
      "senderguard_milter_dmarc_results_total{result=\"fail\"} 1\n"
      "senderguard_milter_dmarc_results_total{result=\"none\"} 0\n"
      "senderguard_milter_dmarc_results_total{result=\"temperror\"} 0\n"
      "senderguard_milter_dmarc_results_total{result=\"permerror\"} 0\n"
      "# HELP senderguard_milter_store_errors_total Store operations that failed (the on_error "
      "policy answered).\n"
      "# TYPE senderguard_milter_store_errors_total counter\n"
      "senderguard_milter_store_errors_total 1\n"
      "# HELP senderguard_milter_decision_duration_seconds Time the milter took to answer a step "
      "(MAIL FROM, RCPT TO, end of message).\n"
      "# TYPE senderguard_milter_decision_duration_seconds histogram\n"
      // mail: 150, 180, 200, 240 us
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.000025\"} 0\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.00005\"} 0\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.0001\"} 0\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.00025\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.0005\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.001\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.0025\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.005\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.01\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.025\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.05\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.1\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.25\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"0.5\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"1\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"2.5\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"5\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"10\"} 4\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"mail\",le=\"+Inf\"} 4\n"
      "senderguard_milter_decision_duration_seconds_sum{stage=\"mail\"} 0.00077\n"
      "senderguard_milter_decision_duration_seconds_count{stage=\"mail\"} 4\n"
      // rcpt: 40, 45, 50 us
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.000025\"} 0\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.00005\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.0001\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.00025\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.0005\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.001\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.0025\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.005\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.01\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.025\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.05\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.1\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.25\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"0.5\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"1\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"2.5\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"5\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"10\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"rcpt\",le=\"+Inf\"} 3\n"
      "senderguard_milter_decision_duration_seconds_sum{stage=\"rcpt\"} 0.000135\n"
      "senderguard_milter_decision_duration_seconds_count{stage=\"rcpt\"} 3\n"
      // eom: 900, 1100, 7300 us
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.000025\"} 0\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.00005\"} 0\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.0001\"} 0\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.00025\"} 0\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.0005\"} 0\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.001\"} 1\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.0025\"} 2\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.005\"} 2\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.01\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.025\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.05\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.1\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.25\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"0.5\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"1\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"2.5\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"5\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"10\"} 3\n"
      "senderguard_milter_decision_duration_seconds_bucket{stage=\"eom\",le=\"+Inf\"} 3\n"
      "senderguard_milter_decision_duration_seconds_sum{stage=\"eom\"} 0.0093\n"
      "senderguard_milter_decision_duration_seconds_count{stage=\"eom\"} 3\n";
  EXPECT_EQ(got, want);
}

TEST(MilterPrometheus, VersionIsEscapedAsALabelValue) {
  const std::string got = MilterPrometheus(MilterSnapshot{}, "1.0-\"x\"\\\n");
  EXPECT_NE(got.find("senderguard_build_info{program=\"senderguard-milter\",version=\"1.0-\\\"x\\\"\\\\\\n\"} 1\n"),
            std::string::npos)
      << got;
}

// ---------------------------------------------------------------- tailer

TEST(TailMetrics, LagIsZeroAtTheEndElseBehindTheNewestLine) {
  TailMetrics m;
  EXPECT_EQ(m.Snapshot(1000).lag_s, 0);  // nothing read yet
  m.AddChunk(100, 0, 0, {}, 900, false);  // a full chunk: more was waiting
  EXPECT_EQ(m.Snapshot(1000).lag_s, 100);
  m.AddChunk(150, 0, 0, {}, 880, false);  // an older line does not move the newest
  EXPECT_EQ(m.Snapshot(1010).lag_s, 110);
  m.AddChunk(160, 0, 0, {}, 1005, true);  // reached the end of the source
  EXPECT_EQ(m.Snapshot(5000).lag_s, 0);   // a quiet log is no lag
  m.AddChunk(170, 0, 0, {}, 2000, false);
  EXPECT_EQ(m.Snapshot(1990).lag_s, 0);  // a line from the future (clock skew): never negative
}

// A tailer whose commits fail (the store full, PostgreSQL refusing its
// node name) is stuck even when its log is quiet: a user test saw lag_s=0
// beside a commit-error every 5 s.
TEST(TailMetrics, LagGrowsWhileCommitsFail) {
  TailMetrics m;
  m.AddChunk(10, 0, 0, {}, 990, true);  // read to the end
  EXPECT_EQ(m.Snapshot(1000).lag_s, 0);
  m.CommitFailing(1000);
  EXPECT_EQ(m.Snapshot(1030).lag_s, 30);
  m.AddChunk(20, 0, 0, {}, 900, false);  // not at the end: behind the newest line (990), the larger
  EXPECT_EQ(m.Snapshot(1040).lag_s, 50);
  m.CommitFailing(0);  // landed
  m.AddChunk(30, 0, 0, {}, 1040, true);
  EXPECT_EQ(m.Snapshot(1050).lag_s, 0);
}

TEST(TailSummaryLine, NothingHappenedIsAllZeros) {
  EXPECT_EQ(TailSummaryLine(TailSnapshot{}, "file:/var/log/mail.log", 60),
            "action=summary interval_s=60 source=file:/var/log/mail.log lines=0 delivered=0 "
            "deferred=0 hard=0 soft=0 technical=0 expired=0 unattributed=0 malformed=0 lag_s=0");
}

TEST(TailSummaryLine, CountsOfTheInterval) {
  TailMetrics m;
  m.AddChunk(1000, 2, 1, {400, 10, 3, 1, 2, 0}, 5000, true);
  const TailSnapshot first = m.Snapshot(5000);
  m.AddChunk(1843, 3, 4, {12, 1, 2, 0, 0, 1}, 5050, false);
  EXPECT_EQ(TailSummaryLine(Delta(m.Snapshot(5060), first), "file:/var/log/my mail.log", 60),
            "action=summary interval_s=60 source=\"file:/var/log/my mail.log\" lines=843 "
            "delivered=12 deferred=1 hard=2 soft=0 technical=0 expired=1 unattributed=3 "
            "malformed=1 lag_s=10");
}

TEST(TailPrometheus, Totals) {
  TailMetrics m;
  m.AddChunk(1843, 3, 4, {412, 11, 5, 1, 2, 1}, 5050, false);
  EXPECT_EQ(TailPrometheus(m.Snapshot(5060), "0.1.0"),
            "# HELP senderguard_build_info The senderguard program running and its version (always 1).\n"
            "# TYPE senderguard_build_info gauge\n"
            "senderguard_build_info{program=\"senderguard-tail\",version=\"0.1.0\"} 1\n"
            "# HELP senderguard_tail_lines_total Log lines the tailer read.\n"
            "# TYPE senderguard_tail_lines_total counter\n"
            "senderguard_tail_lines_total 1843\n"
            "# HELP senderguard_tail_outcomes_total Delivery outcomes the tailer counted, by class "
            "(a deferral each time it is logged).\n"
            "# TYPE senderguard_tail_outcomes_total counter\n"
            "senderguard_tail_outcomes_total{class=\"delivered\"} 412\n"
            "senderguard_tail_outcomes_total{class=\"deferred\"} 11\n"
            "senderguard_tail_outcomes_total{class=\"hard\"} 5\n"
            "senderguard_tail_outcomes_total{class=\"soft\"} 1\n"
            "senderguard_tail_outcomes_total{class=\"technical\"} 2\n"
            "senderguard_tail_outcomes_total{class=\"expired\"} 1\n"
            "# HELP senderguard_tail_unattributed_total Final delivery outcomes no account was "
            "found for.\n"
            "# TYPE senderguard_tail_unattributed_total counter\n"
            "senderguard_tail_unattributed_total 4\n"
            "# HELP senderguard_tail_malformed_total Postfix log lines that could not be parsed.\n"
            "# TYPE senderguard_tail_malformed_total counter\n"
            "senderguard_tail_malformed_total 3\n"
            "# HELP senderguard_tail_lag_seconds How far behind the log the tailer is: 0 when its "
            "last read reached the end of the source, else seconds since the newest line it "
            "attributed.\n"
            "# TYPE senderguard_tail_lag_seconds gauge\n"
            "senderguard_tail_lag_seconds 10\n");
}

// ---------------------------------------------------------------- the file

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(WriteTextfile, ReplacesWholeReadableByOthers) {
  char dir_template[] = "/tmp/sg-monitor-test.XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string path = dir + "/senderguard-milter.prom";
  const mode_t old_mask = umask(077);  // as strict as systemd's UMask=0007, and more
  ASSERT_TRUE(WriteTextfile(path, "a 1\n").ok());
  ASSERT_TRUE(WriteTextfile(path, "b 2\n").ok());
  umask(old_mask);
  EXPECT_EQ(ReadAll(path), "b 2\n");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0) << "temporary file left behind";
  unlink(path.c_str());
  rmdir(dir.c_str());
}

TEST(WriteTextfile, MissingDirectoryIsAnErrorNamingThePath) {
  const Status st = WriteTextfile("/nonexistent-sg-dir/x.prom", "a 1\n");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kIo);
  EXPECT_EQ(st.message().rfind("/nonexistent-sg-dir/x.prom.tmp: cannot create: ", 0), 0u) << st.message();
}

// ------------------------------------------------------------ PeriodicReport

class LinesLogger : public Logger {
 public:
  void Log(Level level, std::string_view line) override {
    std::lock_guard<std::mutex> lk(mu);
    lines.emplace_back(level, std::string(line));
  }
  std::mutex mu;
  std::vector<std::pair<Level, std::string>> lines;
};

// Each report's seconds, and whether it came from the reporting thread or
// from the caller of Stop() (the test's thread).
struct Reports {
  std::mutex mu;
  std::vector<int64_t> seconds;
  std::vector<bool> on_caller;
  void Add(int64_t s) {
    std::lock_guard<std::mutex> lk(mu);
    seconds.push_back(s);
    on_caller.push_back(std::this_thread::get_id() == caller);
  }
  size_t Size() {
    std::lock_guard<std::mutex> lk(mu);
    return seconds.size();
  }
  const std::thread::id caller = std::this_thread::get_id();
};

TEST(PeriodicReport, ReportsEachIntervalAndOnceMoreAtStop) {
  Reports got;
  size_t at_stop = 0;
  {
    PeriodicReport r([] { return int64_t{1}; }, [&](int64_t s) { got.Add(s); });
    // Two intervals, however late a loaded machine runs the thread.
    for (int i = 0; i < 1000 && got.Size() < 2; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    r.Stop();
    r.Stop();  // idempotent
    at_stop = got.Size();
  }  // and the destructor adds nothing more
  ASSERT_GE(at_stop, 3u) << "two intervals, then the stop's";
  EXPECT_EQ(got.seconds.size(), at_stop) << "the destructor after Stop() reports nothing";
  for (size_t i = 0; i + 1 < got.seconds.size(); ++i) {
    EXPECT_FALSE(got.on_caller[i]) << "report " << i << " is an interval's";
    // Never before the interval (1 s, rounded); a late thread may make it more.
    EXPECT_GE(got.seconds[i], 1) << "report " << i;
  }
  EXPECT_TRUE(got.on_caller.back()) << "the last report is the stop's";
}

TEST(PeriodicReport, TheDestructorStopsAndReportsOnce) {
  Reports got;
  {
    PeriodicReport r([] { return int64_t{3600}; }, [&](int64_t s) { got.Add(s); });
  }
  ASSERT_EQ(got.seconds.size(), 1u);
  EXPECT_TRUE(got.on_caller[0]) << "reported by the destructor's caller, after the thread ended";
  EXPECT_LE(got.seconds[0], 1) << "the time since the start: next to none";
}

TEST(PeriodicReport, StopBeforeTheFirstIntervalStillReports) {
  int calls = 0;
  int64_t got = -1;
  PeriodicReport r([] { return int64_t{3600}; }, [&](int64_t s) {
    ++calls;
    got = s;
  });
  r.Stop();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, 0);
}

TEST(Publish, LogsTheSummaryAndWritesTheTextfileOrSaysWhyNot) {
  LinesLogger log;
  char dir[] = "/tmp/sg-publish.XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/m.prom";
  Publish(&log, "action=summary x=1", path, "m 1\n");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "m 1\n");
  Publish(&log, "action=summary x=2", "/nonexistent-sg-dir/m.prom", "m 2\n");
  Publish(&log, "action=summary x=3", "", "m 3\n");  // no textfile: the line alone
  ASSERT_EQ(log.lines.size(), 4u);
  EXPECT_EQ(log.lines[0].second, "action=summary x=1");
  EXPECT_EQ(log.lines[1].second, "action=summary x=2");
  EXPECT_EQ(log.lines[2].first, Logger::Level::kWarning);
  EXPECT_EQ(log.lines[2].second.rfind("action=textfile-error path=/nonexistent-sg-dir/m.prom error=", 0),
            0u)
      << log.lines[2].second;
  EXPECT_EQ(log.lines[3].second, "action=summary x=3");
  std::string cmd = std::string("rm -rf ") + dir;
  (void)std::system(cmd.c_str());
}

// ---- Reading the files back (prom_read.h), for senderguardctl stats.

TEST(ReadMilterPrometheus, RoundTripsWhatTheMilterWrites) {
  MilterMetrics m;
  for (int i = 0; i < 5; ++i) m.CountDecision(Stage::kEom, Action::kAccept, Reason::kNone);
  m.CountDecision(Stage::kMail, Action::kReject, Reason::kSuspended);
  m.CountDecision(Stage::kRcpt, Action::kReject, Reason::kSuppressed);
  m.CountDecision(Stage::kRcpt, Action::kReject, Reason::kSuppressed);
  m.CountDecision(Stage::kRcpt, Action::kTempfail, Reason::kQuota);
  m.CountDecision(Stage::kEom, Action::kReject, Reason::kDmarcUnverifiedDomain);
  m.CountDecision(Stage::kMail, Action::kWouldReject, Reason::kSuspended);
  m.CountDmarc(DmarcResult::kPass);
  m.CountDmarc(DmarcResult::kFail);
  m.CountStoreError();
  m.RecordLatency(Stage::kMail, 300);
  const MilterSnapshot want = m.Snapshot();
  auto got = ReadMilterPrometheus(MilterPrometheus(want, "1.2.3"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->version, "1.2.3");
  EXPECT_EQ(got->totals.decisions, want.decisions);
  EXPECT_EQ(got->totals.dmarc, want.dmarc);
  EXPECT_EQ(got->totals.store_errors, 1u);
  EXPECT_EQ(got->totals.Decisions(Action::kReject, Reason::kSuppressed), 2u);
}

TEST(ReadTailPrometheus, RoundTripsWhatTheTailerWrites) {
  TailSnapshot want;
  want.lines = 1843;
  want.malformed = 2;
  want.unattributed = 3;
  want.outcomes = {400, 5, 3, 1, 2, 7};
  want.lag_s = 12;
  auto got = ReadTailPrometheus(TailPrometheus(want, "0.9"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->version, "0.9");
  EXPECT_EQ(got->totals.lines, 1843u);
  EXPECT_EQ(got->totals.malformed, 2u);
  EXPECT_EQ(got->totals.unattributed, 3u);
  EXPECT_EQ(got->totals.outcomes, want.outcomes);
  EXPECT_EQ(got->totals.lag_s, 12);
}

TEST(ReadPrometheus, TheOtherDaemonsFileIsRefused) {
  const std::string tail = TailPrometheus(TailSnapshot{}, "1");
  auto r = ReadMilterPrometheus(tail);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "not senderguard-milter's file (no senderguard_build_info{program=\"senderguard-milter\"})");
  EXPECT_FALSE(ReadTailPrometheus(MilterPrometheus(MilterSnapshot{}, "1")).ok());
  EXPECT_FALSE(ReadTailPrometheus("").ok());
}

TEST(ParsePrometheusText, Forms) {
  auto r = ParsePrometheusText(
      "# HELP x y\n# TYPE x counter\n\n  a 1\nb{k=\"v\"} 2.5 1700000000000\n"
      "c{k=\"a\\\\b\\\"c\\nd\",l=\"\",} +Inf\nd NaN\ne -Inf\r\nf{} 1e3\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ((*r)[0].name, "a");
  EXPECT_EQ((*r)[0].value, 1);
  EXPECT_EQ((*r)[1].Label("k"), "v");
  EXPECT_EQ((*r)[1].value, 2.5);
  EXPECT_EQ((*r)[2].Label("k"), "a\\b\"c\nd");
  EXPECT_EQ((*r)[2].labels.size(), 2u);
  EXPECT_TRUE(std::isinf((*r)[2].value));
  EXPECT_TRUE(std::isnan((*r)[3].value));
  EXPECT_EQ((*r)[5].value, 1000);
  EXPECT_EQ((*r)[5].Label("missing"), "");
}

TEST(ParsePrometheusText, HostileInputIsAnErrorNamingTheLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"1abc 1\n", "line 1: a metric name must start with a letter, '_' or ':'"},
      {"# c\na\n", "line 2: expected a space and a value after the name"},
      {"a{k=\"v} 1\n", "line 1: unterminated value of label k"},
      {"a{k=\"v\\\"} 1\n", "line 1: unterminated value of label k"},
      {"a{k=\"\\t\"} 1\n", "line 1: bad escape \\t in label k"},
      {"a{k=v} 1\n", "line 1: expected =\" after label k"},
      {"a{k=\"v\" l=\"w\"} 1\n", "line 1: expected , or } after label k"},
      {"a{=\"v\"} 1\n", "line 1: bad label name"},
      {"a 1x\n", "line 1: bad value \"1x\""},
      {"a 0x10\n", "line 1: bad value \"0x10\""},
      {"a 1 12z\n", "line 1: bad timestamp"},
      {"a{" + std::string(40000, 'k') + "\n", "line 1: expected =\" after label " + std::string(40, 'k') + "..."},
      {std::string(kMaxPromTextBytes + 1, '#'), "larger than 4 MiB"},
  };
  for (const auto& [text, want] : cases) {
    auto r = ParsePrometheusText(text);
    ASSERT_FALSE(r.ok()) << text.substr(0, 60);
    EXPECT_EQ(r.status().message(), want) << text.substr(0, 60);
  }
  std::string many;
  for (size_t i = 0; i <= kMaxPromSamples; ++i) many += "a 1\n";
  EXPECT_EQ(ParsePrometheusText(many).status().message(), "more than 100000 samples");
  std::string labels = "a{";
  for (int i = 0; i < 33; ++i) labels += "l" + std::to_string(i) + "=\"\",";
  EXPECT_EQ(ParsePrometheusText(labels + "} 1\n").status().message(), "line 1: more than 32 labels");
}

TEST(ReadMilterPrometheus, ACountThatIsNotOneIsRefused) {
  const std::string head = "senderguard_build_info{program=\"senderguard-milter\",version=\"1\"} 1\n";
  for (const char* bad : {"-1", "1.5", "NaN", "+Inf", "1e20"}) {
    auto r = ReadMilterPrometheus(head + "senderguard_milter_store_errors_total " + bad + "\n");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().rfind("senderguard_milter_store_errors_total: bad count", 0), 0u)
        << r.status().message();
  }
  // Series of a newer daemon are skipped; unknown label values count as "other".
  auto r = ReadMilterPrometheus(head + "senderguard_milter_new_total 5\n"
                                "senderguard_milter_decisions_total{stage=\"data\",action=\"accept\",reason=\"x\"} 4\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->totals.Decisions(Stage::kOther, Action::kAccept), 4u);
  EXPECT_EQ(r->totals.Decisions(Action::kAccept, Reason::kOther), 4u);
}

}  // namespace
}  // namespace senderguard::monitor
