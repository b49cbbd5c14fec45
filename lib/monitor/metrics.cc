#include "senderguard/monitor/metrics.h"

#include <algorithm>
#include <limits>

namespace senderguard::monitor {
namespace {

constexpr std::array<std::string_view, kStageCount> kStageNames = {
    "connect", "helo", "mail", "rcpt", "header", "body", "eom", "abort", "close", "other"};
constexpr std::array<std::string_view, kActionCount> kActionNames = {
    "accept", "reject", "tempfail", "would-reject", "would-tempfail", "other"};
constexpr std::array<std::string_view, kReasonCount> kReasonNames = {
    "none",        "suspended",       "suppressed",   "quota",
    "dmarc",       "dmarc-author",    "dmarc-unverified-domain",
    "dmarc-temperror", "dmarc-testing", "dmarc-quarantine-accepted",
    "dmarc-temperror-accepted", "error", "no-identity", "other"};
constexpr std::array<std::string_view, kDmarcResultCount> kDmarcNames = {
    "pass", "fail", "none", "temperror", "permerror", "other"};
constexpr std::array<std::string_view, kOutcomeClassCount> kOutcomeNames = {
    "delivered", "deferred", "hard", "soft", "technical", "expired"};

// The last name of each table is the catch-all.
template <size_t N>
size_t Find(const std::array<std::string_view, N>& names, std::string_view s) {
  for (size_t i = 0; i + 1 < N; ++i)
    if (names[i] == s) return i;
  return N - 1;
}

// 1..8 us one by one, then 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 per decade from
// 10 us to 8 s, then 10 s and +Inf: 7 + 60 + 2 = 69. Each bound of the
// Prometheus histogram (report.cc) is one of these.
constexpr std::array<uint64_t, kLatencyBucketCount> MakeBounds() {
  std::array<uint64_t, kLatencyBucketCount> b{};
  size_t i = 0;
  for (uint64_t us : {1, 2, 3, 4, 5, 6, 8}) b[i++] = us;
  constexpr uint64_t kSteps[] = {10, 12, 15, 20, 25, 30, 40, 50, 60, 80};
  for (uint64_t decade = 1; decade <= 100'000; decade *= 10)
    for (uint64_t s : kSteps) b[i++] = s * decade;
  b[i++] = 10'000'000;
  b[i++] = std::numeric_limits<uint64_t>::max();
  return b;
}
constexpr std::array<uint64_t, kLatencyBucketCount> kBounds = MakeBounds();
static_assert(kBounds[kLatencyBucketCount - 2] == 10'000'000);

void Max(std::atomic<uint64_t>& m, uint64_t v) {
  uint64_t cur = m.load(std::memory_order_relaxed);
  while (v > cur && !m.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

uint64_t Sub(uint64_t a, uint64_t b) { return a >= b ? a - b : 0; }

}  // namespace

std::string_view StageName(Stage s) { return kStageNames[static_cast<size_t>(s)]; }
Stage ParseStage(std::string_view name) { return static_cast<Stage>(Find(kStageNames, name)); }
std::string_view ActionName(Action a) { return kActionNames[static_cast<size_t>(a)]; }
Action ParseAction(std::string_view name) { return static_cast<Action>(Find(kActionNames, name)); }
std::string_view ReasonName(Reason r) { return kReasonNames[static_cast<size_t>(r)]; }
Reason ParseReason(std::string_view name) {
  if (name.empty()) return Reason::kNone;
  return static_cast<Reason>(Find(kReasonNames, name));
}
std::string_view DmarcResultName(DmarcResult r) { return kDmarcNames[static_cast<size_t>(r)]; }
DmarcResult ParseDmarcResult(std::string_view name) {
  return static_cast<DmarcResult>(Find(kDmarcNames, name));
}
std::string_view OutcomeClassName(OutcomeClass c) { return kOutcomeNames[static_cast<size_t>(c)]; }

uint64_t LatencyBucketBound(size_t i) { return kBounds[std::min(i, kLatencyBucketCount - 1)]; }

size_t LatencyBucket(uint64_t us) {
  return static_cast<size_t>(std::lower_bound(kBounds.begin(), kBounds.end(), us) - kBounds.begin());
}

uint64_t MilterSnapshot::Decisions(Action a) const {
  uint64_t n = 0;
  for (const auto& by_action : decisions)
    for (uint64_t v : by_action[static_cast<size_t>(a)]) n += v;
  return n;
}

uint64_t MilterSnapshot::Decisions(Action a, Reason r) const {
  uint64_t n = 0;
  for (const auto& by_action : decisions) n += by_action[static_cast<size_t>(a)][static_cast<size_t>(r)];
  return n;
}

uint64_t MilterSnapshot::Decisions(Stage s, Action a) const {
  uint64_t n = 0;
  for (uint64_t v : decisions[static_cast<size_t>(s)][static_cast<size_t>(a)]) n += v;
  return n;
}

MilterSnapshot Delta(const MilterSnapshot& now, const MilterSnapshot& before) {
  MilterSnapshot d;
  for (size_t s = 0; s < kStageCount; ++s) {
    for (size_t a = 0; a < kActionCount; ++a)
      for (size_t r = 0; r < kReasonCount; ++r)
        d.decisions[s][a][r] = Sub(now.decisions[s][a][r], before.decisions[s][a][r]);
    for (size_t b = 0; b < kLatencyBucketCount; ++b)
      d.latency[s][b] = Sub(now.latency[s][b], before.latency[s][b]);
    d.latency_sum_us[s] = Sub(now.latency_sum_us[s], before.latency_sum_us[s]);
  }
  for (size_t i = 0; i < kDmarcResultCount; ++i) d.dmarc[i] = Sub(now.dmarc[i], before.dmarc[i]);
  d.store_errors = Sub(now.store_errors, before.store_errors);
  d.interval_max_us = now.interval_max_us;
  return d;
}

MilterMetrics::Shard& MilterMetrics::Mine() {
  // Threads take the shards in turn, once each: libmilter's workers spread
  // over them, and a thread always counts into the same cache lines.
  static std::atomic<size_t> next{0};
  thread_local const size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shards_[index];
}

void MilterMetrics::CountDecision(Stage s, Action a, Reason r) {
  Mine().decisions[static_cast<size_t>(s)][static_cast<size_t>(a)][static_cast<size_t>(r)].fetch_add(
      1, std::memory_order_relaxed);
}

void MilterMetrics::CountDmarc(DmarcResult r) {
  Mine().dmarc[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed);
}

void MilterMetrics::CountStoreError() { Mine().store_errors.fetch_add(1, std::memory_order_relaxed); }

void MilterMetrics::RecordLatency(Stage s, uint64_t us) {
  Shard& m = Mine();
  const size_t i = static_cast<size_t>(s);
  m.latency[i][LatencyBucket(us)].fetch_add(1, std::memory_order_relaxed);
  m.latency_sum_us[i].fetch_add(us, std::memory_order_relaxed);
  Max(m.interval_max_us, us);
}

MilterSnapshot MilterMetrics::Snapshot() const {
  MilterSnapshot out;
  for (const Shard& m : shards_) {
    for (size_t s = 0; s < kStageCount; ++s) {
      for (size_t a = 0; a < kActionCount; ++a)
        for (size_t r = 0; r < kReasonCount; ++r)
          out.decisions[s][a][r] += m.decisions[s][a][r].load(std::memory_order_relaxed);
      for (size_t b = 0; b < kLatencyBucketCount; ++b)
        out.latency[s][b] += m.latency[s][b].load(std::memory_order_relaxed);
      out.latency_sum_us[s] += m.latency_sum_us[s].load(std::memory_order_relaxed);
    }
    for (size_t i = 0; i < kDmarcResultCount; ++i) out.dmarc[i] += m.dmarc[i].load(std::memory_order_relaxed);
    out.store_errors += m.store_errors.load(std::memory_order_relaxed);
  }
  return out;
}

uint64_t MilterMetrics::TakeIntervalMax() {
  uint64_t m = 0;
  for (Shard& s : shards_) m = std::max(m, s.interval_max_us.exchange(0, std::memory_order_relaxed));
  return m;
}

TailSnapshot Delta(const TailSnapshot& now, const TailSnapshot& before) {
  TailSnapshot d;
  d.lines = Sub(now.lines, before.lines);
  d.malformed = Sub(now.malformed, before.malformed);
  d.unattributed = Sub(now.unattributed, before.unattributed);
  for (size_t i = 0; i < kOutcomeClassCount; ++i) d.outcomes[i] = Sub(now.outcomes[i], before.outcomes[i]);
  d.lag_s = now.lag_s;
  return d;
}

void TailMetrics::AddChunk(uint64_t lines_total, uint64_t malformed_total,
                           uint64_t unattributed_total,
                           const std::array<uint64_t, kOutcomeClassCount>& outcomes,
                           int64_t newest_line, bool reached_end) {
  lines_.store(lines_total, std::memory_order_relaxed);
  malformed_.store(malformed_total, std::memory_order_relaxed);
  unattributed_.store(unattributed_total, std::memory_order_relaxed);
  for (size_t i = 0; i < kOutcomeClassCount; ++i) outcomes_[i].fetch_add(outcomes[i], std::memory_order_relaxed);
  if (newest_line > newest_.load(std::memory_order_relaxed)) newest_.store(newest_line, std::memory_order_relaxed);
  reached_end_.store(reached_end, std::memory_order_relaxed);
}

TailSnapshot TailMetrics::Snapshot(int64_t now) const {
  TailSnapshot s;
  s.lines = lines_.load(std::memory_order_relaxed);
  s.malformed = malformed_.load(std::memory_order_relaxed);
  s.unattributed = unattributed_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < kOutcomeClassCount; ++i) s.outcomes[i] = outcomes_[i].load(std::memory_order_relaxed);
  const int64_t newest = newest_.load(std::memory_order_relaxed);
  if (!reached_end_.load(std::memory_order_relaxed) && newest > 0) s.lag_s = std::max<int64_t>(0, now - newest);
  const int64_t failing = failing_since_.load(std::memory_order_relaxed);
  if (failing > 0) s.lag_s = std::max<int64_t>(s.lag_s, now - failing);
  return s;
}

void TailMetrics::CommitFailing(int64_t since) { failing_since_.store(since, std::memory_order_relaxed); }

}  // namespace senderguard::monitor
