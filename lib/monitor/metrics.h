// The daemons' counters for monitoring: what the milter decided and how long
// each decision took, what the tailer read. The milter's are written on its
// hot path by every libmilter worker thread and read once per [monitoring]
// interval by the program's reporter thread, which renders them (report.h)
// as the "action=summary" log line and the Prometheus text file.
//
// Every label value is from a closed set (the enums below): a label can
// never carry an account, an address or any other text from outside, and
// the number of series is fixed.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace senderguard::monitor {

// ---- Labels. Each Name is the text the log line and the file show; each
// Parse maps a name back and anything unknown to kOther (never fails).

// The milter step a decision or a latency belongs to, as the decision line's
// stage= field names it.
enum class Stage : uint8_t { kConnect, kHelo, kMail, kRcpt, kHeader, kBody, kEom, kAbort, kClose, kOther };
inline constexpr size_t kStageCount = 10;
std::string_view StageName(Stage s);
Stage ParseStage(std::string_view name);

// A decision's action= field (policy.h Decision::action).
enum class Action : uint8_t { kAccept, kReject, kTempfail, kWouldReject, kWouldTempfail, kOther };
inline constexpr size_t kActionCount = 6;
std::string_view ActionName(Action a);
Action ParseAction(std::string_view name);

// A decision's reason= field (policy.h Decision::reason); kNone for none.
enum class Reason : uint8_t {
  kNone,
  kSuspended,
  kSuppressed,
  kQuota,
  kDmarc,
  kDmarcAuthor,
  kDmarcUnverifiedDomain,
  kDmarcTemperror,
  kDmarcTesting,
  kDmarcQuarantineAccepted,
  kDmarcTemperrorAccepted,
  kError,
  kNoIdentity,
  kOther
};
inline constexpr size_t kReasonCount = 14;
std::string_view ReasonName(Reason r);  // kNone: "none"
Reason ParseReason(std::string_view name);  // "" and "none": kNone

// The DMARC result a message got (the decision line's dmarc= field, RFC 9989).
enum class DmarcResult : uint8_t { kPass, kFail, kNone, kTempError, kPermError, kOther };
inline constexpr size_t kDmarcResultCount = 6;
std::string_view DmarcResultName(DmarcResult r);
DmarcResult ParseDmarcResult(std::string_view name);

// A delivery outcome's class, as the tailer counts it (bounce.h OutcomeClass).
enum class OutcomeClass : uint8_t { kDelivered, kDeferred, kHard, kSoft, kTechnical, kExpired };
inline constexpr size_t kOutcomeClassCount = 6;
std::string_view OutcomeClassName(OutcomeClass c);

// ---- Latency buckets: upper bounds in microseconds (inclusive), about 25%
// apart from 10 us to 10 s, then everything above. A percentile is reported
// as the upper bound of the bucket that holds it (so at most ~33% above the
// true value), never above the interval's maximum.
inline constexpr size_t kLatencyBucketCount = 69;  // the last one is +Inf
// Upper bound of bucket i in microseconds; UINT64_MAX for the last.
uint64_t LatencyBucketBound(size_t i);
// The bucket a latency of `us` microseconds falls in.
size_t LatencyBucket(uint64_t us);

using LatencyBuckets = std::array<uint64_t, kLatencyBucketCount>;

// ---- The milter.

// The milter's counters at one moment, summed over its threads. Counters
// only grow; a delta between two snapshots (Delta) is what an interval saw.
struct MilterSnapshot {
  // decisions[stage][action][reason]: one per decision line logged.
  std::array<std::array<std::array<uint64_t, kReasonCount>, kActionCount>, kStageCount> decisions{};
  std::array<uint64_t, kDmarcResultCount> dmarc{};  // messages evaluated, by result
  uint64_t store_errors = 0;  // store operations that failed (on_error applied)
  // Decision latency per stage (only the timed ones, mail, rcpt and eom,
  // are recorded): counts per bucket (not cumulative) and the sum.
  std::array<LatencyBuckets, kStageCount> latency{};
  std::array<uint64_t, kStageCount> latency_sum_us{};
  // The largest latency of the interval (MilterMetrics::TakeIntervalMax),
  // 0 when nothing was timed. Not a counter: Delta keeps `now`'s.
  uint64_t interval_max_us = 0;

  uint64_t Decisions(Action a) const;  // summed over stages and reasons
  uint64_t Decisions(Action a, Reason r) const;
  uint64_t Decisions(Stage s, Action a) const;
};

// now - before, counter by counter (interval_max_us: now's). REQUIRES:
// `before` is an earlier snapshot of the same MilterMetrics.
MilterSnapshot Delta(const MilterSnapshot& now, const MilterSnapshot& before);

// The milter's counters. Thread-safe and lock-free: each thread counts into
// one of kShards cache-line-aligned shards (chosen once per thread), with
// relaxed atomic adds, so the hot path costs a few uncontended
// increments; Snapshot sums the shards. About 100 KiB; make one per process
// and keep it for its life.
class MilterMetrics {
 public:
  static constexpr size_t kShards = 8;

  void CountDecision(Stage s, Action a, Reason r);
  void CountDmarc(DmarcResult r);
  void CountStoreError();
  void RecordLatency(Stage s, uint64_t us);

  // The counters now. Each counter is exact; the set is not taken
  // atomically (counting goes on), which a next snapshot makes up for.
  // interval_max_us is left 0 (see TakeIntervalMax).
  MilterSnapshot Snapshot() const;
  // The largest latency recorded since the last call (0: none), and a new
  // interval begins. Called by the one reporter thread.
  uint64_t TakeIntervalMax();

 private:
  struct alignas(64) Shard {
    std::array<std::array<std::array<std::atomic<uint64_t>, kReasonCount>, kActionCount>, kStageCount>
        decisions{};
    std::array<std::atomic<uint64_t>, kDmarcResultCount> dmarc{};
    std::atomic<uint64_t> store_errors{0};
    std::array<std::array<std::atomic<uint64_t>, kLatencyBucketCount>, kStageCount> latency{};
    std::array<std::atomic<uint64_t>, kStageCount> latency_sum_us{};
    std::atomic<uint64_t> interval_max_us{0};
  };
  Shard& Mine();
  std::array<Shard, kShards> shards_{};
};

// ---- The tailer.

// The tailer's counters at one moment (as of the last chunk it attributed).
struct TailSnapshot {
  uint64_t lines = 0;         // log lines read
  uint64_t malformed = 0;     // lines from Postfix that could not be parsed
  std::array<uint64_t, kOutcomeClassCount> outcomes{};  // delivery outcomes by class
  uint64_t unattributed = 0;  // final outcomes no account was found for
  // Seconds behind the log (not a counter: Delta keeps `now`'s): 0 when the
  // last read reached the end of the source (nothing was waiting), else
  // the time of the snapshot minus the timestamp of the newest line
  // attributed so far; while commits fail, at least how long they have.
  int64_t lag_s = 0;
};

// now - before, counter by counter (lag_s: now's).
TailSnapshot Delta(const TailSnapshot& now, const TailSnapshot& before);

// The tailer's counters: written by its follow loop after each chunk,
// read by the reporter thread. Thread-safe (atomics); one writer.
class TailMetrics {
 public:
  // After a chunk: the engine's running totals (lines, malformed,
  // unattributed), the chunk's outcomes by class, the timestamp of its
  // newest line (0: none) and whether the read that ended it reached the
  // end of the source.
  void AddChunk(uint64_t lines_total, uint64_t malformed_total, uint64_t unattributed_total,
                const std::array<uint64_t, kOutcomeClassCount>& outcomes, int64_t newest_line,
                bool reached_end);
  // The committer's state: since when (Unix seconds) its batch has been
  // failing to commit, 0 once one lands. While it fails, the lag is at
  // least that long: what was read has not reached the store (a quiet log
  // would otherwise show no lag at all).
  void CommitFailing(int64_t since);
  // The counters and the lag at `now` (Unix seconds).
  TailSnapshot Snapshot(int64_t now) const;

 private:
  std::atomic<int64_t> failing_since_{0};
  std::atomic<uint64_t> lines_{0}, malformed_{0}, unattributed_{0};
  std::array<std::atomic<uint64_t>, kOutcomeClassCount> outcomes_{};
  std::atomic<int64_t> newest_{0};
  std::atomic<bool> reached_end_{true};
};

}  // namespace senderguard::monitor
