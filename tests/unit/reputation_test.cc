// Tests for reputation.h: rates over a window of days (window edges,
// since_day, duplicates, saturation), the score anchors, day verdicts at and
// just past their thresholds, tier sequences (gaps, bad days, bounds,
// idempotence, only complete days), quota multipliers up to UINT64_MAX, the
// suspension decision in each account state, configuration ranges and day
// strings (cross-checked against gmtime_r).
#include "senderguard/decide/reputation.h"

#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "senderguard/decide/quota.h"

namespace senderguard {
namespace {

constexpr int64_t kToday = 20782;  // 2026-11-25
constexpr uint64_t kMax = UINT64_MAX;

DayCounts Delivered(uint64_t n) {
  DayCounts c;
  c.delivered = n;
  return c;
}

DayCounts Counts(uint64_t delivered, uint64_t hard, uint64_t complaints, uint64_t soft = 0) {
  DayCounts c;
  c.delivered = delivered;
  c.hard = hard;
  c.complaints = complaints;
  c.soft = soft;
  return c;
}

// ------------------------------------------------------------------ DayCounts

TEST(DayCounts, AttemptedIsFinalOutcomesOnly) {
  DayCounts c;
  c.delivered = 1;
  c.deferred = 1000;
  c.hard = 2;
  c.soft = 4;
  c.technical = 8;
  c.expired = 16;
  c.complaints = 500;
  EXPECT_EQ(c.attempted(), 31u);
}

TEST(DayCounts, AttemptedAndAddSaturate) {
  DayCounts c;
  c.delivered = kMax;
  c.hard = 5;
  EXPECT_EQ(c.attempted(), kMax);

  DayCounts a;
  a.delivered = kMax - 1;
  a.deferred = 3;
  a.hard = kMax;
  a.soft = 1;
  a.technical = 2;
  a.expired = 0;
  a.complaints = kMax - 10;
  DayCounts b;
  b.delivered = 5;
  b.deferred = 4;
  b.hard = 1;
  b.soft = 1;
  b.technical = kMax;
  b.expired = 7;
  b.complaints = 10;
  a += b;
  EXPECT_EQ(a.delivered, kMax);
  EXPECT_EQ(a.deferred, 7u);
  EXPECT_EQ(a.hard, kMax);
  EXPECT_EQ(a.soft, 2u);
  EXPECT_EQ(a.technical, kMax);
  EXPECT_EQ(a.expired, 7u);
  EXPECT_EQ(a.complaints, kMax);
}

// ------------------------------------------------------------------ DayNumber

TEST(DayNumber, FloorsTowardsMinusInfinity) {
  struct Case {
    int64_t seconds;
    int64_t day;
  };
  const Case cases[] = {
      {0, 0},
      {86399, 0},
      {86400, 1},
      {-1, -1},
      {-86400, -1},
      {-86401, -2},
      {1795564800, kToday},  // 2026-11-25T00:00:00Z
      {1795651199, kToday},  // 2026-11-25T23:59:59Z
      {INT64_MAX, INT64_MAX / 86400},
      {INT64_MIN, INT64_MIN / 86400 - 1},
  };
  for (const Case& c : cases) EXPECT_EQ(DayNumber(c.seconds), c.day) << c.seconds;
}

// ------------------------------------------------------------------ ComputeRates

TEST(ComputeRates, Windows) {
  struct Case {
    const char* name;
    DayBuckets buckets;
    int64_t today;
    int64_t since_day;
    int window_days;
    uint64_t want_delivered;
    int64_t want_first;
    int64_t want_last;
  };
  const std::vector<Case> cases = {
      {"empty", {}, kToday, INT64_MIN, 30, 0, kToday - 29, kToday},
      {"today and the oldest day are in",
       {{kToday, Delivered(1)}, {kToday - 29, Delivered(2)}},
       kToday, INT64_MIN, 30, 3, kToday - 29, kToday},
      {"the day before the window and future days are out",
       {{kToday - 30, Delivered(1)}, {kToday + 1, Delivered(2)}, {kToday - 1, Delivered(4)},
        {INT64_MIN, Delivered(8)}, {INT64_MAX, Delivered(16)}},
       kToday, INT64_MIN, 30, 4, kToday - 29, kToday},
      {"since_day inside the window starts it",
       {{kToday - 6, Delivered(1)}, {kToday - 5, Delivered(2)}, {kToday, Delivered(4)}},
       kToday, kToday - 5, 30, 6, kToday - 5, kToday},
      {"since_day before the window changes nothing",
       {{kToday - 30, Delivered(1)}, {kToday - 29, Delivered(2)}},
       kToday, kToday - 100, 30, 2, kToday - 29, kToday},
      {"since_day after today: empty range",
       {{kToday, Delivered(1)}}, kToday, kToday + 1, 30, 0, kToday + 1, kToday},
      {"since_day = today", {{kToday - 1, Delivered(1)}, {kToday, Delivered(2)}},
       kToday, kToday, 30, 2, kToday, kToday},
      {"window of one day", {{kToday - 1, Delivered(1)}, {kToday, Delivered(2)}},
       kToday, INT64_MIN, 1, 2, kToday, kToday},
      {"window of 0 taken as 1", {{kToday - 1, Delivered(1)}, {kToday, Delivered(2)}},
       kToday, INT64_MIN, 0, 2, kToday, kToday},
      {"window of 90", {{kToday - 89, Delivered(1)}, {kToday - 90, Delivered(2)}},
       kToday, INT64_MIN, 90, 1, kToday - 89, kToday},
      {"duplicate days add up", {{kToday, Delivered(1)}, {kToday, Delivered(2)}},
       kToday, INT64_MIN, 30, 3, kToday - 29, kToday},
      {"today at INT64_MIN", {{INT64_MIN, Delivered(5)}}, INT64_MIN, INT64_MIN, 30, 5,
       INT64_MIN, INT64_MIN},
      {"today at INT64_MAX", {{INT64_MAX, Delivered(5)}, {INT64_MAX - 29, Delivered(1)}},
       INT64_MAX, INT64_MIN, 30, 6, INT64_MAX - 29, INT64_MAX},
      {"huge counts saturate", {{kToday, Delivered(kMax)}, {kToday - 1, Delivered(kMax)}},
       kToday, INT64_MIN, 30, kMax, kToday - 29, kToday},
  };
  for (const Case& c : cases) {
    ReputationConfig cfg;
    cfg.window_days = c.window_days;
    const Rates r = ComputeRates(c.buckets, c.today, c.since_day, cfg);
    EXPECT_EQ(r.totals.delivered, c.want_delivered) << c.name;
    EXPECT_EQ(r.first_day, c.want_first) << c.name;
    EXPECT_EQ(r.last_day, c.want_last) << c.name;
  }
}

TEST(ComputeRates, RatesAndScore) {
  struct Case {
    const char* name;
    DayCounts day;
    double want_complaint_rate;
    double want_hard_rate;
    int want_score;
  };
  const std::vector<Case> cases = {
      {"nothing", DayCounts{}, 0, 0, 100},
      {"clean", Delivered(5000), 0, 0, 100},
      {"3 of 2000 complaints", Counts(2000, 0, 3), 0.0015, 0, 50},
      {"10% hard", Counts(900, 100, 0), 0, 0.10, 75},
      {"complaints over delivered, hard over attempted", Counts(1000, 250, 1, 750), 0.001, 0.125,
       35},  // 1 - 0.3125 - 0.3333 = 0.354
      {"complaints with nothing delivered", Counts(0, 0, 7, 100), 0, 0, 100},
      {"hard with nothing delivered", Counts(0, 40, 0), 0, 1.0, 0},
      {"more complaints than deliveries", Counts(10, 0, 20), 2.0, 0, 0},
      {"soft bounces dilute, never count", Counts(100, 0, 0, 900), 0, 0, 100},
      {"all saturated", Counts(kMax, kMax, kMax, kMax), 1.0, 1.0, 0},
  };
  for (const Case& c : cases) {
    const Rates r = ComputeRates({{kToday, c.day}}, kToday, INT64_MIN, ReputationConfig{});
    EXPECT_DOUBLE_EQ(r.complaint_rate, c.want_complaint_rate) << c.name;
    EXPECT_DOUBLE_EQ(r.hard_rate, c.want_hard_rate) << c.name;
    EXPECT_EQ(r.score, c.want_score) << c.name;
    EXPECT_FALSE(std::isnan(r.complaint_rate)) << c.name;
    EXPECT_FALSE(std::isnan(r.hard_rate)) << c.name;
  }
}

// ------------------------------------------------------------------ Score

TEST(Score, Anchors) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  struct Case {
    double complaint_rate;
    double hard_rate;
    int want;
  };
  const Case cases[] = {
      {0, 0, 100},
      {0, 0.10, 75},          // 10% hard
      {0, 0.40, 0},           // hard bounces alone reach zero at 40%
      {0, 0.05, 88},          // 87.5 rounds half away from zero
      {0, 0.02, 95},
      {0.003, 0, 0},          // Google's 0.3%
      {0.001, 0, 67},         // 0.1%
      {0.0015, 0, 50},
      {0.001, 0.10, 42},      // 1 - 0.25 - 0.333 = 0.4167
      {0.0005, 0.05, 71},     // 1 - 0.125 - 0.1667 = 0.7083
      {0.002, 0.20, 0},       // 1 - 0.5 - 0.667 < 0
      {0, 1.0, 0},
      {1.0, 0, 0},
      {0, 0.399, 0},          // 0.25 rounds to 0
      {-1, -1, 100},          // nonsense in, clamped
      {kInf, 0, 0},
      {0, kInf, 0},
      {kNan, 0, 0},
      {0, kNan, 0},
  };
  const ReputationConfig cfg;
  for (const Case& c : cases) {
    EXPECT_EQ(Score(c.complaint_rate, c.hard_rate, cfg), c.want)
        << "complaints " << c.complaint_rate << " hard " << c.hard_rate;
  }
}

TEST(Score, BadZeroPointsGiveNoNaN) {
  ReputationConfig cfg;
  cfg.score_zero_complaint_rate = 0;
  cfg.score_zero_hard_rate = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(Score(0, 0, cfg), 100);
  EXPECT_EQ(Score(0.0001, 0, cfg), 0);
  EXPECT_EQ(Score(0, 0.0001, cfg), 0);
}

// ------------------------------------------------------------------ JudgeDay

TEST(JudgeDay, Thresholds) {
  DayCounts deferred_only;
  deferred_only.deferred = 1000;
  DayCounts technical_expired;
  technical_expired.technical = 50;
  technical_expired.expired = 50;
  struct Case {
    const char* name;
    DayCounts day;
    DayVerdict want;
  };
  const std::vector<Case> cases = {
      {"nothing", DayCounts{}, DayVerdict::kUnjudged},
      {"99 delivered", Delivered(99), DayVerdict::kUnjudged},
      {"100 delivered", Delivered(100), DayVerdict::kClean},
      {"deferrals are not attempts", deferred_only, DayVerdict::kUnjudged},
      {"technical and expired are attempts", technical_expired, DayVerdict::kClean},
      {"19 attempted, all hard: too few to judge", Counts(0, 19, 0), DayVerdict::kUnjudged},
      {"20 attempted, 2 hard", Counts(18, 2, 0), DayVerdict::kBad},
      {"20 attempted, 1 hard (exactly 5%)", Counts(19, 1, 0), DayVerdict::kUnjudged},
      {"100 attempted, 5 hard (exactly 5%)", Counts(95, 5, 0), DayVerdict::kClean},
      {"100 attempted, 6 hard", Counts(94, 6, 0), DayVerdict::kBad},
      {"1000 delivered, 1 complaint (exactly 0.1%)", Counts(1000, 0, 1), DayVerdict::kClean},
      {"999 delivered, 1 complaint (0.1001%)", Counts(999, 0, 1), DayVerdict::kBad},
      {"1000 delivered, 2 complaints", Counts(1000, 0, 2), DayVerdict::kBad},
      {"20 delivered, 1 complaint", Counts(20, 0, 1), DayVerdict::kBad},
      {"19 delivered, 5 complaints: too few to judge", Counts(19, 0, 5), DayVerdict::kUnjudged},
      {"complaint, nothing delivered, 20 soft", Counts(0, 0, 1, 20), DayVerdict::kBad},
      {"complaint, nothing delivered, 19 soft", Counts(0, 0, 1, 19), DayVerdict::kUnjudged},
      {"soft bounces never count", Counts(100, 0, 0, 900), DayVerdict::kClean},
      {"all saturated", Counts(kMax, kMax, kMax, kMax), DayVerdict::kBad},
      {"saturated delivered, clean", Delivered(kMax), DayVerdict::kClean},
  };
  const ReputationConfig cfg;
  for (const Case& c : cases) {
    EXPECT_EQ(DayVerdictName(JudgeDay(c.day, cfg)), DayVerdictName(c.want)) << c.name;
  }
}

// ------------------------------------------------------------------ StepTier

DayCounts Clean() { return Delivered(1000); }
DayCounts Bad() { return Counts(900, 100, 0); }
DayCounts Small() { return Delivered(10); }

// `n` days of `c` from `first` on.
DayBuckets Days(int64_t first, int n, const DayCounts& c) {
  DayBuckets out;
  for (int i = 0; i < n; ++i) out.push_back({first + i, c});
  return out;
}

DayBuckets Join(std::vector<DayBuckets> parts) {
  DayBuckets out;
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TierState State(int tier, int clean_days, int64_t rated_through) {
  TierState s;
  s.tier = tier;
  s.clean_days = clean_days;
  s.rated_through = rated_through;
  return s;
}

constexpr int64_t D0 = 20000;  // a new account's first day

TEST(StepTier, Sequences) {
  struct Case {
    const char* name;
    TierState start;
    DayBuckets buckets;
    int64_t today;
    TierState want;
  };
  DayBuckets unsorted = Days(D0, 7, Clean());
  std::swap(unsorted[0], unsorted[6]);
  std::swap(unsorted[2], unsorted[4]);
  const std::vector<Case> cases = {
      {"no days", State(1, 0, D0 - 1), {}, D0 + 5, State(1, 0, D0 + 4)},
      {"7 clean days: tier 2", State(1, 0, D0 - 1), Days(D0, 7, Clean()), D0 + 7,
       State(2, 0, D0 + 6)},
      {"6 clean days: still tier 1", State(1, 0, D0 - 1), Days(D0, 6, Clean()), D0 + 6,
       State(1, 6, D0 + 5)},
      {"order of buckets does not matter", State(1, 0, D0 - 1), unsorted, D0 + 7,
       State(2, 0, D0 + 6)},
      {"absent and small days neither count nor reset", State(1, 0, D0 - 1),
       Join({Days(D0, 3, Clean()), Days(D0 + 10, 5, Small()), Days(D0 + 20, 4, Clean())}),
       D0 + 30, State(2, 0, D0 + 29)},
      {"bad day steps down and resets", State(3, 4, D0 - 1), Days(D0, 1, Bad()), D0 + 1,
       State(2, 0, D0)},
      {"clean days after a bad day start over", State(1, 0, D0 - 1),
       Join({Days(D0, 5, Clean()), Days(D0 + 5, 1, Bad()), Days(D0 + 6, 6, Clean())}), D0 + 12,
       State(1, 6, D0 + 11)},
      {"bad then 7 clean", State(1, 0, D0 - 1),
       Join({Days(D0, 5, Clean()), Days(D0 + 5, 1, Bad()), Days(D0 + 6, 7, Clean())}), D0 + 13,
       State(2, 0, D0 + 12)},
      {"never below 1", State(1, 3, D0 - 1), Days(D0, 3, Bad()), D0 + 3, State(1, 0, D0 + 2)},
      {"never above 5", State(5, 0, D0 - 1), Days(D0, 14, Clean()), D0 + 14,
       State(5, 0, D0 + 13)},
      {"28 clean days: tier 5", State(1, 0, D0 - 1), Days(D0, 28, Clean()), D0 + 28,
       State(5, 0, D0 + 27)},
      {"35 clean days: still tier 5", State(1, 0, D0 - 1), Days(D0, 35, Clean()), D0 + 35,
       State(5, 0, D0 + 34)},
      {"3 bad from 5", State(5, 6, D0 - 1), Days(D0, 3, Bad()), D0 + 3, State(2, 0, D0 + 2)},
      {"today is not judged", State(1, 6, D0 - 1), Days(D0, 1, Clean()), D0,
       State(1, 6, D0 - 1)},
      {"today is not judged, bad", State(3, 0, D0 - 1), Days(D0, 1, Bad()), D0,
       State(3, 0, D0 - 1)},
      {"future days are not judged", State(1, 6, D0 - 1), Days(D0 + 1, 3, Clean()), D0,
       State(1, 6, D0 - 1)},
      {"days already judged are skipped", State(1, 0, D0 + 4), Days(D0, 7, Clean()), D0 + 7,
       State(1, 2, D0 + 6)},
      {"same-day entries add up before judging", State(1, 6, D0 - 1),
       DayBuckets{{D0, Delivered(60)}, {D0, Delivered(60)}}, D0 + 1, State(2, 0, D0)},
      {"rated_through ahead of today stays", State(2, 3, D0 + 10), Days(D0, 5, Clean()), D0,
       State(2, 3, D0 + 10)},
      {"tier above 5 clamped", State(9, 0, D0 - 1), {}, D0, State(5, 0, D0 - 1)},
      {"tier below 1 clamped", State(-3, 0, D0 - 1), Days(D0, 1, Bad()), D0 + 1,
       State(1, 0, D0)},
      {"negative clean_days clamped", State(1, -5, D0 - 1), Days(D0, 7, Clean()), D0 + 7,
       State(2, 0, D0 + 6)},
      {"huge clean_days: next clean day steps", State(1, INT_MAX, D0 - 1), Days(D0, 1, Clean()),
       D0 + 1, State(2, 0, D0)},
      {"today INT64_MIN", State(1, 0, INT64_MIN), Days(INT64_MIN, 1, Clean()), INT64_MIN,
       State(1, 0, INT64_MIN)},
      {"day INT64_MAX - 1", State(1, 6, INT64_MIN), Days(INT64_MAX - 1, 1, Clean()), INT64_MAX,
       State(2, 0, INT64_MAX - 1)},
  };
  const ReputationConfig cfg;
  for (const Case& c : cases) {
    const TierState got = StepTier(c.start, c.buckets, c.today, cfg);
    EXPECT_EQ(got.tier, c.want.tier) << c.name;
    EXPECT_EQ(got.clean_days, c.want.clean_days) << c.name;
    EXPECT_EQ(got.rated_through, c.want.rated_through) << c.name;
  }
}

TEST(StepTier, IdempotentForTheSameToday) {
  const DayBuckets b =
      Join({Days(D0, 9, Clean()), Days(D0 + 9, 1, Bad()), Days(D0 + 10, 3, Clean())});
  const ReputationConfig cfg;
  const TierState once = StepTier(State(1, 0, D0 - 1), b, D0 + 13, cfg);
  const TierState twice = StepTier(once, b, D0 + 13, cfg);
  EXPECT_EQ(once, twice);
  EXPECT_EQ(once, State(1, 3, D0 + 12));
}

TEST(StepTier, DailyCallsEqualOneCatchUp) {
  // A mix of clean, bad, small and absent days, judged once a day (with
  // several calls some days) or all at once, ends in the same state.
  DayBuckets b;
  for (int i = 0; i < 120; ++i) {
    if (i % 11 == 3) continue;  // absent
    const DayCounts c = (i % 17 == 5) ? Bad() : (i % 13 == 7) ? Small() : Clean();
    b.push_back({D0 + i, c});
  }
  const ReputationConfig cfg;
  TierState daily = State(1, 0, D0 - 1);
  for (int64_t today = D0; today <= D0 + 120; ++today) {
    daily = StepTier(daily, b, today, cfg);
    daily = StepTier(daily, b, today, cfg);
  }
  const TierState at_once = StepTier(State(1, 0, D0 - 1), b, D0 + 120, cfg);
  EXPECT_EQ(daily, at_once);
  EXPECT_EQ(at_once.rated_through, D0 + 119);
}

TEST(StepTier, LoweredStepAppliesOnTheNextCleanDay) {
  ReputationConfig cfg;
  cfg.clean_days_per_step = 3;
  const TierState s = StepTier(State(2, 5, D0 - 1), Days(D0, 1, Clean()), D0 + 1, cfg);
  EXPECT_EQ(s, State(3, 0, D0));
}

// ------------------------------------------------------------------ ApplyTier

TEST(ApplyTier, Limits) {
  struct Case {
    uint64_t limit;
    int tier;
    uint64_t want;
  };
  const Case cases[] = {
      {kUnlimited, 1, kUnlimited},
      {kUnlimited, 5, kUnlimited},
      {kUnlimited, 0, kUnlimited},
      {1000, 1, 1000},
      {1000, 2, 1500},
      {1000, 3, 2000},
      {1000, 4, 3000},
      {1000, 5, 4000},
      {1000, 0, 1000},         // clamped to tier 1
      {1000, INT_MIN, 1000},   // clamped to tier 1
      {1000, 6, 4000},         // clamped to tier 5
      {1000, INT_MAX, 4000},   // clamped to tier 5
      {1001, 2, 1501},         // floor of 1501.5
      {1, 2, 1},
      {0, 5, 0},
      {kUnlimited - 1, 1, kUnlimited - 1},  // exact at multiplier 1
      {kUnlimited - 1, 2, kUnlimited - 1},  // saturates below unlimited
      {kUnlimited / 2, 2, 13835058055282163710u},  // (2^63 - 1) * 1.5, exact
      {(uint64_t{1} << 62) - 1, 5, kUnlimited - 3},  // 2^64 - 4
      {uint64_t{1} << 62, 5, kUnlimited - 1},
      {(uint64_t{1} << 53) + 1, 3, (uint64_t{1} << 54) + 2},  // beyond double precision
  };
  const ReputationConfig cfg;
  for (const Case& c : cases) {
    EXPECT_EQ(ApplyTier(c.limit, c.tier, cfg), c.want) << c.limit << " tier " << c.tier;
  }
}

TEST(ApplyTier, CustomMultipliers) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  struct Case {
    double multiplier;
    uint64_t limit;
    uint64_t want;
  };
  const Case cases[] = {
      {0.5, 999, 499},
      {0.1, 10, 1},     // double 0.1 is a hair above 0.1
      {0.1, 3, 0},
      {1e-300, kUnlimited - 1, 0},
      {4.9e-324, kUnlimited - 1, 0},  // smallest subnormal
      {1000, 1000, 1000000},
      {1000, kUnlimited / 999, kUnlimited - 1},
      {1e300, 1, kUnlimited - 1},
      {1e300, 0, 0},
      {2.5, 7, 17},
      // Not a positive finite number: the limit is left as it is.
      {0, 1000, 1000},
      {-2, 1000, 1000},
      {kInf, 1000, 1000},
      {kNan, 1000, 1000},
  };
  for (const Case& c : cases) {
    ReputationConfig cfg;
    cfg.tier_multipliers[3] = c.multiplier;
    EXPECT_EQ(ApplyTier(c.limit, 4, cfg), c.want) << c.multiplier << " x " << c.limit;
  }
}

// ------------------------------------------------------------------ DecideSuspension

TEST(DecideSuspension, Rules) {
  struct Case {
    const char* name;
    DayCounts window;  // all on one day of the window
    AccountStatus status;
    uint64_t new_complaints;
    SuspendReason want;
    const char* want_detail;  // nullptr: not checked
  };
  const std::vector<Case> cases = {
      {"clean", Delivered(100000), AccountStatus::kActive, 0, SuspendReason::kNone, ""},
      {"below min volume: never by rate", Counts(900, 99, 100), AccountStatus::kActive, 0,
       SuspendReason::kNone, ""},
      {"exactly 0.1% complaints", Counts(1000, 0, 1), AccountStatus::kActive, 0,
       SuspendReason::kNone, ""},
      {"0.1001% complaints", Counts(9990, 0, 10), AccountStatus::kActive, 0,
       SuspendReason::kComplaintRate,
       "complaint rate 0.1001% (10 of 9990 delivered) over 2026-10-27..2026-11-25 exceeds "
       "0.10%"},
      {"0.15% complaints", Counts(2000, 0, 3), AccountStatus::kActive, 0,
       SuspendReason::kComplaintRate,
       "complaint rate 0.15% (3 of 2000 delivered) over 2026-10-27..2026-11-25 exceeds 0.10%"},
      {"complaint rule before hard-bounce rule", Counts(2000, 1000, 3), AccountStatus::kActive,
       0, SuspendReason::kComplaintRate, nullptr},
      {"exactly 10% hard", Counts(1800, 200, 0), AccountStatus::kActive, 0,
       SuspendReason::kNone, ""},
      {"10.04% hard", Counts(1800, 201, 0), AccountStatus::kActive, 0,
       SuspendReason::kHardBounceRate,
       "hard-bounce rate 10.04% (201 of 2001 attempted) over 2026-10-27..2026-11-25 exceeds "
       "10.00%"},
      {"hard rule counts attempted toward min volume", Counts(500, 4500, 0),
       AccountStatus::kActive, 0, SuspendReason::kHardBounceRate,
       "hard-bounce rate 90.00% (4500 of 5000 attempted) over 2026-10-27..2026-11-25 exceeds "
       "10.00%"},
      {"hard rule below min volume attempted", Counts(100, 899, 0), AccountStatus::kActive, 0,
       SuspendReason::kNone, ""},
      {"soft bounces never suspend", Counts(1000, 0, 0, 100000), AccountStatus::kActive, 0,
       SuspendReason::kNone, ""},
      {"active: new complaints alone do nothing", Delivered(10), AccountStatus::kActive, 5,
       SuspendReason::kNone, ""},
      {"reinstated + one complaint, no volume", DayCounts{}, AccountStatus::kReinstated, 1,
       SuspendReason::kComplaintWhileReinstated, "1 complaint while reinstated"},
      {"reinstated + complaints", Delivered(10), AccountStatus::kReinstated, 4,
       SuspendReason::kComplaintWhileReinstated, "4 complaints while reinstated"},
      {"reinstated + huge count", Delivered(10), AccountStatus::kReinstated, kMax,
       SuspendReason::kComplaintWhileReinstated,
       "18446744073709551615 complaints while reinstated"},
      {"reinstated: the rate rules do not apply", Counts(2000, 1000, 100),
       AccountStatus::kReinstated, 0, SuspendReason::kNone, ""},
      {"suspended: already", Counts(2000, 1000, 100), AccountStatus::kSuspended, 7,
       SuspendReason::kNone, ""},
      {"saturated counts", Counts(kMax, kMax, kMax, kMax), AccountStatus::kActive, 0,
       SuspendReason::kComplaintRate,
       "complaint rate 100.00% (18446744073709551615 of 18446744073709551615 delivered) over "
       "2026-10-27..2026-11-25 exceeds 0.10%"},
  };
  const ReputationConfig cfg;
  for (const Case& c : cases) {
    const Rates r = ComputeRates({{kToday - 3, c.window}}, kToday, INT64_MIN, cfg);
    const SuspendDecision d = DecideSuspension(r, c.status, c.new_complaints, cfg);
    EXPECT_EQ(SuspendReasonName(d.reason), SuspendReasonName(c.want)) << c.name;
    if (c.want_detail != nullptr) {
      EXPECT_EQ(d.detail, c.want_detail) << c.name;
    }
  }
}

TEST(DecideSuspension, SinceReinstatementOldBadDaysDoNotResuspend) {
  // Bad days before an operator's reinstatement (for good: the account is
  // active again) are left out of the window by since_day.
  const DayBuckets b = {{kToday - 20, Counts(5000, 0, 50)},
                        {kToday - 10, Counts(5000, 0, 50)},
                        {kToday - 2, Delivered(3000)},
                        {kToday, Delivered(1000)}};
  const ReputationConfig cfg;
  const Rates all = ComputeRates(b, kToday, INT64_MIN, cfg);
  EXPECT_EQ(DecideSuspension(all, AccountStatus::kActive, 0, cfg).reason,
            SuspendReason::kComplaintRate);
  const int64_t reinstated_on = kToday - 9;
  const Rates since = ComputeRates(b, kToday, reinstated_on + 1, cfg);
  EXPECT_EQ(since.totals.delivered, 4000u);
  EXPECT_EQ(DecideSuspension(since, AccountStatus::kActive, 0, cfg).reason,
            SuspendReason::kNone);
  // New bad days after it still count.
  DayBuckets worse = b;
  worse.push_back({kToday - 1, Counts(1000, 0, 10)});
  const Rates again = ComputeRates(worse, kToday, reinstated_on + 1, cfg);
  const SuspendDecision d = DecideSuspension(again, AccountStatus::kActive, 0, cfg);
  EXPECT_EQ(d.reason, SuspendReason::kComplaintRate);
  EXPECT_EQ(d.detail,
            "complaint rate 0.20% (10 of 5000 delivered) over 2026-11-17..2026-11-25 exceeds "
            "0.10%");
}

TEST(DecideSuspension, NaNRatesNeverSuspend) {
  Rates r;
  r.totals = Counts(5000, 5000, 5000);
  r.complaint_rate = std::numeric_limits<double>::quiet_NaN();
  r.hard_rate = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(DecideSuspension(r, AccountStatus::kActive, 0, ReputationConfig{}).reason,
            SuspendReason::kNone);
}

TEST(Names, Reasons) {
  EXPECT_EQ(SuspendReasonName(SuspendReason::kNone), "none");
  EXPECT_EQ(SuspendReasonName(SuspendReason::kComplaintRate), "complaint-rate");
  EXPECT_EQ(SuspendReasonName(SuspendReason::kHardBounceRate), "hard-bounce-rate");
  EXPECT_EQ(SuspendReasonName(SuspendReason::kComplaintWhileReinstated),
            "complaint-while-reinstated");
  EXPECT_EQ(DayVerdictName(DayVerdict::kUnjudged), "unjudged");
  EXPECT_EQ(DayVerdictName(DayVerdict::kClean), "clean");
  EXPECT_EQ(DayVerdictName(DayVerdict::kBad), "bad");
}

// ------------------------------------------------------------------ Validate

TEST(ReputationConfig, Validate) {
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  using Edit = std::function<void(ReputationConfig&)>;
  struct Case {
    const char* name;
    Edit edit;
    const char* want_error;  // nullptr: ok; else a substring of the message
  };
  const std::vector<Case> cases = {
      {"defaults", [](ReputationConfig&) {}, nullptr},
      {"window 1", [](ReputationConfig& c) { c.window_days = 1; }, nullptr},
      {"window 90", [](ReputationConfig& c) { c.window_days = 90; }, nullptr},
      {"window 0", [](ReputationConfig& c) { c.window_days = 0; }, "window_days"},
      {"window 91", [](ReputationConfig& c) { c.window_days = 91; }, "window_days"},
      {"window negative", [](ReputationConfig& c) { c.window_days = -1; }, "window_days"},
      {"min_volume 0", [](ReputationConfig& c) { c.min_volume = 0; }, "min_volume"},
      {"min_volume 1", [](ReputationConfig& c) { c.min_volume = 1; }, nullptr},
      {"min_volume huge", [](ReputationConfig& c) { c.min_volume = kMax; }, "min_volume"},
      {"rate 1", [](ReputationConfig& c) { c.suspend_hard_rate = 1; }, nullptr},
      {"rate 0", [](ReputationConfig& c) { c.suspend_complaint_rate = 0; },
       "suspend_complaint_rate"},
      {"rate above 1", [](ReputationConfig& c) { c.suspend_hard_rate = 1.01; },
       "suspend_hard_rate"},
      {"rate negative", [](ReputationConfig& c) { c.score_zero_complaint_rate = -0.1; },
       "score_zero_complaint_rate"},
      {"rate NaN", [kNan](ReputationConfig& c) { c.score_zero_hard_rate = kNan; },
       "score_zero_hard_rate"},
      {"rate inf",
       [](ReputationConfig& c) {
         c.day_complaint_max = std::numeric_limits<double>::infinity();
       },
       "day_complaint_max"},
      {"day_hard_max 0", [](ReputationConfig& c) { c.day_hard_max = 0; }, "day_hard_max"},
      {"step 0", [](ReputationConfig& c) { c.clean_days_per_step = 0; }, "clean_days_per_step"},
      {"step 365", [](ReputationConfig& c) { c.clean_days_per_step = 365; }, nullptr},
      {"step 366", [](ReputationConfig& c) { c.clean_days_per_step = 366; },
       "clean_days_per_step"},
      {"day_min_attempted 0", [](ReputationConfig& c) { c.day_min_attempted = 0; },
       "day_min_attempted"},
      {"clean volume below min attempted", [](ReputationConfig& c) { c.day_clean_volume = 19; },
       "day_clean_volume"},
      {"clean volume = min attempted", [](ReputationConfig& c) { c.day_clean_volume = 20; },
       nullptr},
      {"clean volume huge", [](ReputationConfig& c) { c.day_clean_volume = kMax; },
       "day_clean_volume"},
      {"multiplier 0", [](ReputationConfig& c) { c.tier_multipliers[0] = 0; },
       "tier_multipliers: tier 1"},
      {"multiplier 1000", [](ReputationConfig& c) { c.tier_multipliers[4] = 1000; }, nullptr},
      {"multiplier above 1000", [](ReputationConfig& c) { c.tier_multipliers[4] = 1000.5; },
       "tier_multipliers: tier 5"},
      {"multiplier NaN", [kNan](ReputationConfig& c) { c.tier_multipliers[2] = kNan; },
       "tier_multipliers: tier 3"},
      {"multiplier below the tier under it",
       [](ReputationConfig& c) { c.tier_multipliers[3] = 1.9; }, "tier 4 (1.9) is below tier 3"},
      {"equal multipliers", [](ReputationConfig& c) { c.tier_multipliers = {1, 1, 1, 1, 1}; },
       nullptr},
      {"a new account below the configured limits",
       [](ReputationConfig& c) { c.tier_multipliers = {0.5, 1, 1, 2, 2}; }, nullptr},
  };
  for (const Case& c : cases) {
    ReputationConfig cfg;
    c.edit(cfg);
    const Status s = cfg.Validate();
    if (c.want_error == nullptr) {
      EXPECT_TRUE(s.ok()) << c.name << ": " << s.ToString();
    } else {
      EXPECT_FALSE(s.ok()) << c.name;
      EXPECT_NE(s.message().find(c.want_error), std::string::npos)
          << c.name << ": " << s.message();
    }
  }
}

// ------------------------------------------------------------------ DayString

TEST(DayString, Dates) {
  struct Case {
    int64_t day;
    const char* want;
  };
  const Case cases[] = {
      {0, "1970-01-01"},
      {-1, "1969-12-31"},
      {kToday, "2026-11-25"},
      {11016, "2000-02-29"},   // leap: divisible by 400
      {11017, "2000-03-01"},
      {19782, "2024-02-29"},   // leap
      {-25509, "1900-02-28"},  // 1900 is not a leap year
      {-25508, "1900-03-01"},
      {47540, "2100-02-28"},   // nor is 2100
      {47541, "2100-03-01"},
      {-135081, "1600-02-29"},
      {-719162, "0001-01-01"},
      {-719163, "0000-12-31"},
      {-719529, "-0001-12-31"},
      {2932896, "9999-12-31"},
      {2932897, "10000-01-01"},
  };
  for (const Case& c : cases) EXPECT_EQ(DayString(c.day), c.want) << c.day;
}

TEST(DayString, ExtremesDoNotOverflow) {
  const std::string lo = DayString(INT64_MIN);
  const std::string hi = DayString(INT64_MAX);
  EXPECT_EQ(lo.front(), '-') << lo;
  EXPECT_NE(hi.front(), '-') << hi;
  EXPECT_GT(hi.size(), 10u) << hi;
}

TEST(DayString, AgreesWithGmtime) {
  // Every day of 1900..2100, then every 97th day of years 1..9999.
  auto check = [](int64_t day) {
    const std::time_t t = static_cast<std::time_t>(day) * 86400;
    std::tm tm{};
    ASSERT_NE(gmtime_r(&t, &tm), nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    std::string want = buf;
    // glibc does not zero-pad years below 1000 with %Y.
    while (want.size() < 10) want.insert(0, "0");
    ASSERT_EQ(DayString(day), want) << day;
  };
  for (int64_t day = -25567; day <= 47846; ++day) check(day);
  for (int64_t day = -719162; day <= 2932896; day += 97) check(day);
}

}  // namespace
}  // namespace senderguard
