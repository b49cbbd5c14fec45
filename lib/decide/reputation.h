// Sending reputation of an account: rates over a window of days, a score,
// a tier that multiplies the quota, and the automatic-suspension decision.
//
// Pure functions: the caller fetches the per-day counters from the store,
// passes today's UTC day number and the account's effective status, and acts
// on the answer. Nothing here reads a clock, the store or the network, and
// nothing logs. All functions are thread-safe (no shared state).
//
// Every function is safe for any input values: counters saturate instead of
// wrapping, no division by zero happens, and no NaN or infinity reaches an
// output (rates, score, limits, messages). Rates are doubles; counters and
// limits stay integers.
//
// Where the defaults come from:
//  - mailbox providers act on more than 1 spam complaint per 1,000 messages
//    (0.1%), and Google's bulk-sender rule is never to exceed 0.3%;
//  - a hard-bounce rate of 5% is a concern and 10% a bad sending;
//  - soft bounces (and deferrals, technical failures, expiries) never count
//    against a sender: only hard bounces and complaints do.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "senderguard/model/records.h"
#include "senderguard/base/status.h"

namespace senderguard {

// Counts of one account on one UTC day.
struct DayCounts {
  uint64_t delivered = 0;   // final: accepted by the receiving server
  uint64_t deferred = 0;    // not final (a later attempt decides): not in attempted()
  uint64_t hard = 0;        // final: permanent failure blamed on the sender's list
  uint64_t soft = 0;        // final: permanent failure not blamed on the sender
  uint64_t technical = 0;   // final: our side or the receiver's configuration
  uint64_t expired = 0;     // final: gave up after the queue lifetime
  uint64_t complaints = 0;  // feedback-loop (ARF) reports received that day

  // Final outcomes: delivered + hard + soft + technical + expired, saturating
  // at UINT64_MAX.
  uint64_t attempted() const;
  // Adds field by field, each saturating at UINT64_MAX.
  DayCounts& operator+=(const DayCounts& o);
  bool operator==(const DayCounts&) const = default;
};

// One day's counts: (UTC day number, counts). Order does not matter; two
// entries for the same day are added together.
using DayBuckets = std::vector<std::pair<int64_t, DayCounts>>;

struct ReputationConfig {
  int window_days = 30;  // rates over this many days, today included (1..90)
  // The automatic rate rules need at least this many messages in the window
  // (1..1e12): delivered for the complaint rule (its denominator), attempted
  // for the hard-bounce rule (its denominator).
  uint64_t min_volume = 1000;
  double suspend_complaint_rate = 0.001;     // complaint rate strictly above this suspends (0.1%)
  double suspend_hard_rate = 0.10;           // hard-bounce rate strictly above this suspends (10%)
  double score_zero_complaint_rate = 0.003;  // complaints alone bring the score to 0 here (0.3%)
  double score_zero_hard_rate = 0.40;        // hard bounces alone bring the score to 0 here

  // Tiers 1..5; a new account starts at 1.
  int clean_days_per_step = 7;       // clean days needed to step up one tier (1..365)
  uint64_t day_clean_volume = 100;   // a day needs at least this many attempted to count as clean
  uint64_t day_min_attempted = 20;   // a day with fewer attempted is never judged bad
  double day_complaint_max = 0.001;  // a day with complaints/delivered above this is bad
  double day_hard_max = 0.05;        // a day with hard/attempted above this is bad (5%)
  // Quota multiplier per tier; tier 1 = the configured limits.
  std::array<double, 5> tier_multipliers = {1.0, 1.5, 2.0, 3.0, 4.0};

  // Ok, or Invalid naming the first key out of range:
  //   window_days 1..90; min_volume 1..1e12; clean_days_per_step 1..365;
  //   day_min_attempted 1..1e12; day_clean_volume day_min_attempted..1e12
  //   (a day that can count as clean must also be judgeable as bad);
  //   every rate in (0, 1]; every multiplier in (0, 1000] and no tier's
  //   multiplier below the tier under it (stepping up never shrinks a quota).
  Status Validate() const;
};

inline constexpr int kMinTier = 1;
inline constexpr int kMaxTier = 5;

struct Rates {
  DayCounts totals;           // summed over the days considered
  double complaint_rate = 0;  // complaints / delivered (0 when delivered == 0); may exceed 1
  double hard_rate = 0;       // hard / attempted (0 when attempted == 0)
  int score = 100;            // 0..100, see Score()
  int64_t first_day = 0, last_day = 0;  // the day range considered (empty if first > last)
};

// Sums the buckets with first_day <= day <= today, where
// first_day = max(today - window_days + 1, since_day), last_day = today.
// `since_day` lets the caller start the window after an operator's
// reinstatement (see DecideSuspension); pass INT64_MIN for no lower bound.
// A window_days below 1 is taken as 1.
Rates ComputeRates(const DayBuckets& buckets, int64_t today, int64_t since_day,
                   const ReputationConfig& cfg);

// round(100 * max(0, 1 - hard_rate/score_zero_hard_rate
//                        - complaint_rate/score_zero_complaint_rate)),
// clamped to 0..100. A NaN rate, or a positive rate whose zero point is not a
// positive number, gives 0.
int Score(double complaint_rate, double hard_rate, const ReputationConfig& cfg);

// What StepTier remembers per account.
struct TierState {
  int tier = kMinTier;        // 1..5
  int clean_days = 0;         // clean days since the last step or bad day
  int64_t rated_through = 0;  // last day already judged; a new account should
                              // start at the day before its first day
  bool operator==(const TierState&) const = default;
};

enum class DayVerdict { kUnjudged, kClean, kBad };
std::string_view DayVerdictName(DayVerdict v);  // "unjudged", "clean", "bad"

// One complete day:
//   bad:   attempted >= day_min_attempted and (complaints/delivered >
//          day_complaint_max or hard/attempted > day_hard_max); complaints on
//          a day with nothing delivered count as an infinite rate;
//   clean: attempted >= day_clean_volume and not bad;
//   else unjudged (too little mail to say).
// Exactly at a threshold is not bad ("strictly above").
DayVerdict JudgeDay(const DayCounts& day, const ReputationConfig& cfg);

// Judges each day d with state.rated_through < d < today (complete days
// only; today is still being counted), in order, and returns the new state:
//   clean:    clean_days + 1; on reaching clean_days_per_step, tier + 1
//             (at most 5) and clean_days = 0;
//   bad:      tier - 1 (at least 1) and clean_days = 0;
//   unjudged: nothing; days absent from `buckets` are unjudged (they neither
//             count nor reset).
// rated_through becomes today - 1 if that is larger, so calling twice for
// the same today changes nothing the second time. An out-of-range tier or
// negative clean_days in `state` is clamped first.
TierState StepTier(TierState state, const DayBuckets& buckets, int64_t today,
                   const ReputationConfig& cfg);

// The limit a tier's multiplier gives: floor(limit * multiplier).
// kUnlimited stays kUnlimited; a finite limit saturates at kUnlimited - 1 (it
// never becomes unlimited); the tier is clamped to 1..5; a multiplier that is
// not a positive finite number leaves the limit unchanged. Exact for every
// uint64 limit when the multiplier is 1.
uint64_t ApplyTier(uint64_t limit, int tier, const ReputationConfig& cfg);

enum class SuspendReason { kNone, kComplaintRate, kHardBounceRate, kComplaintWhileReinstated };
// "none", "complaint-rate", "hard-bounce-rate", "complaint-while-reinstated"
std::string_view SuspendReasonName(SuspendReason r);

struct SuspendDecision {
  SuspendReason reason = SuspendReason::kNone;
  // For the audit log and the account's status_reason, e.g.
  // "complaint rate 0.15% (3 of 2000 delivered) over 2026-10-27..2026-11-25
  // exceeds 0.10%". Empty when reason is kNone.
  std::string detail;
};

// Whether to suspend an account automatically now.
//  - suspended (effective status): kNone, it already is.
//  - reinstated (a time-limited reinstatement still running): any new
//    complaint (`new_complaints` > 0, counted by the caller since the
//    reinstatement) suspends at once, whatever the volume:
//    kComplaintWhileReinstated. The rate rules do not apply.
//  - active: the rate rules over `rates`, complaint rule first:
//    totals.delivered >= min_volume and complaint_rate >
//    suspend_complaint_rate: kComplaintRate; else totals.attempted() >=
//    min_volume and hard_rate > suspend_hard_rate: kHardBounceRate.
//    The caller computes `rates` with since_day = the day after the
//    operator's last reinstatement when that day is inside the window, so
//    old bad days do not re-suspend an account a human just reinstated.
SuspendDecision DecideSuspension(const Rates& rates, AccountStatus effective_status,
                                 uint64_t new_complaints, const ReputationConfig& cfg);

// Day number -> "YYYY-MM-DD" in the proleptic Gregorian calendar (UTC);
// day 0 is "1970-01-01". Years before 1 are written with a sign ("-0001-...",
// astronomical numbering, as ISO 8601), years past 9999 with more digits.
std::string DayString(int64_t day);

}  // namespace senderguard
