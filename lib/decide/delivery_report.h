// An account's (or the platform's) delivery report, day by day: what
// `senderguardctl report` prints. Pure: the caller reads the day counts from
// the store (Store::GetDays, as the tailer and the ARF ingester wrote them)
// and formats the answer; nothing here reads a clock or the store.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "senderguard/decide/reputation.h"

namespace senderguard {

// The longest report: the store keeps 90 days of counts.
inline constexpr int kMaxReportDays = 90;

// What the milter did with an account's mail on one UTC day (the store's
// DayCountsRecord v2, Store::AddSendingDays).
struct SendingFigures {
  uint64_t quota_used = 0;  // units committed against the quota
  uint64_t refused = 0;     // SMTP refusals replied
  int tier = 0;             // the tier in force when it last accepted or refused; 0 = not seen
};
// (UTC day number, figures), any order, days may repeat (summed; the last
// non-zero tier wins).
using SendingBuckets = std::vector<std::pair<int64_t, SendingFigures>>;

struct ReportDay {
  int64_t day = 0;            // UTC day number (DayString for the date)
  DayCounts counts;           // that day's counts (zero when nothing was counted)
  SendingFigures sending;     // the milter's figures that day (zero when none)
  double complaint_rate = 0;  // that day's complaints / delivered (0 when none delivered)
  double hard_rate = 0;       // that day's hard / attempted (0 when none attempted)
  // The reputation score as it stood at the end of that day: over the
  // configured window (cfg.window_days) ending that day; from the
  // reinstatement's day (since_day - 1) on, counting from since_day only (as
  // ComputeRates, the tailer's review and `show` count it: 100 on the
  // reinstatement's day itself).
  int score = 100;
  DayVerdict verdict = DayVerdict::kUnjudged;  // JudgeDay: what the tier steps on
};

struct Report {
  int64_t first_day = 0, last_day = 0;  // the days reported, both included
  std::vector<ReportDay> days;          // every day from first_day to last_day, in order
  DayCounts totals;                     // summed over those days
  uint64_t quota_used = 0, refused = 0;  // the milter's, summed over those days (no tier)
  double complaint_rate = 0;            // totals' complaints / delivered
  double hard_rate = 0;                 // totals' hard / attempted
};

// The report of the `days` days ending with `today` (1..kMaxReportDays; out
// of range is clamped). `buckets` may hold any days, in any order, with
// repeats (they add up); those before the report's first day still count in
// the scores of the first days. `since_day` is the day the rates start again
// after an operator's reinstatement (INT64_MIN for none). `sending` gives
// each day's SendingFigures (a platform's report passes them with tier 0).
Report BuildReport(const DayBuckets& buckets, int64_t today, int days, int64_t since_day,
                   const ReputationConfig& cfg, const SendingBuckets& sending = {});

// `senderguardctl top`: the accounts that matter now, by one figure.
enum class TopBy { kVolume, kComplaints, kBounces, kQuota, kRefusals };

struct TopFigures {
  DayCounts counts;            // summed over the days considered
  uint64_t refused = 0;        // the milter's refusals, summed over the same days
  double quota_fraction = -1;  // the highest used/limit of the account's windows now; < 0: none limited
};

// Indexes into `accounts`, at most `limit`, highest first: by attempted
// (volume), complaints, hard bounces, quota_fraction or refusals; ties go
// to the higher rate (complaint or hard-bounce; for volume, quota and
// refusals, the higher count: delivered, attempted, attempted), then to the
// lower index (the caller's order, e.g. by name). An account whose figure
// is 0 (or with no limited window, for quota) is not listed: "top" names
// only accounts that sent, drew complaints, bounced or were refused.
std::vector<size_t> RankTop(const std::vector<TopFigures>& accounts, TopBy by, size_t limit);

}  // namespace senderguard
