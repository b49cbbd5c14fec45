// Tests for delivery_report.h: every day of the range in order with zeros
// where nothing was counted, repeated buckets added, each day's own rates,
// the score at each day's end over the reputation window (days before the
// range included), a reinstatement's since_day, the day verdicts, the
// totals and the range's bounds.
#include "senderguard/decide/delivery_report.h"

#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <vector>

namespace senderguard {
namespace {

constexpr int64_t kToday = 20794;  // 2026-12-07

DayCounts Counts(uint64_t delivered, uint64_t hard, uint64_t complaints, uint64_t soft = 0) {
  DayCounts c;
  c.delivered = delivered;
  c.hard = hard;
  c.complaints = complaints;
  c.soft = soft;
  return c;
}

TEST(DeliveryReportTest, EveryDayOfTheRangeInOrderWithZerosWhereNothingWasCounted) {
  const DayBuckets b = {{kToday - 1, Counts(100, 0, 0)}};
  const Report r = BuildReport(b, kToday, 3, INT64_MIN, ReputationConfig{});
  EXPECT_EQ(r.first_day, kToday - 2);
  EXPECT_EQ(r.last_day, kToday);
  ASSERT_EQ(r.days.size(), 3u);
  EXPECT_EQ(r.days[0].day, kToday - 2);
  EXPECT_EQ(r.days[1].day, kToday - 1);
  EXPECT_EQ(r.days[2].day, kToday);
  EXPECT_EQ(r.days[0].counts, DayCounts{});
  EXPECT_EQ(r.days[1].counts.delivered, 100u);
  EXPECT_EQ(r.days[2].counts, DayCounts{});
  EXPECT_EQ(r.days[0].score, 100);
  EXPECT_EQ(r.days[0].complaint_rate, 0.0);
  EXPECT_EQ(r.days[0].hard_rate, 0.0);
}

TEST(DeliveryReportTest, BucketsOfOneDayAddUpAndDaysOutsideTheRangeAreNotInTheTotals) {
  const DayBuckets b = {{kToday, Counts(10, 1, 0)},
                        {kToday, Counts(30, 3, 2)},
                        {kToday - 5, Counts(1000, 0, 0)},
                        {kToday + 1, Counts(7, 7, 7)}};
  const Report r = BuildReport(b, kToday, 2, INT64_MIN, ReputationConfig{});
  ASSERT_EQ(r.days.size(), 2u);
  EXPECT_EQ(r.days[1].counts.delivered, 40u);
  EXPECT_EQ(r.days[1].counts.hard, 4u);
  EXPECT_EQ(r.days[1].counts.complaints, 2u);
  EXPECT_EQ(r.totals.delivered, 40u);
  EXPECT_EQ(r.totals.hard, 4u);
  EXPECT_EQ(r.totals.complaints, 2u);
}

TEST(DeliveryReportTest, EachDayHasItsOwnRatesAndTheTotalsTheirs) {
  const DayBuckets b = {{kToday - 1, Counts(1000, 0, 3)}, {kToday, Counts(80, 20, 0)}};
  const Report r = BuildReport(b, kToday, 2, INT64_MIN, ReputationConfig{});
  EXPECT_DOUBLE_EQ(r.days[0].complaint_rate, 0.003);
  EXPECT_DOUBLE_EQ(r.days[0].hard_rate, 0.0);
  EXPECT_DOUBLE_EQ(r.days[1].complaint_rate, 0.0);
  EXPECT_DOUBLE_EQ(r.days[1].hard_rate, 0.2);  // 20 of 100 attempted
  EXPECT_DOUBLE_EQ(r.complaint_rate, 3.0 / 1080.0);
  EXPECT_DOUBLE_EQ(r.hard_rate, 20.0 / 1100.0);
  // Complaints with nothing delivered: a rate of 0 shown, the day judged bad.
  const Report z = BuildReport({{kToday, Counts(0, 0, 5, 30)}}, kToday, 1, INT64_MIN,
                               ReputationConfig{});
  EXPECT_EQ(z.days[0].complaint_rate, 0.0);
  EXPECT_EQ(z.days[0].verdict, DayVerdict::kBad);
}

TEST(DeliveryReportTest, TheScoreIsTheReputationWindowEndingThatDay) {
  ReputationConfig cfg;
  cfg.window_days = 3;
  // A bad day ten days ago, before the report's first day: it weighs on the
  // score of the days whose window holds it, and on no later day.
  const DayBuckets b = {{kToday - 10, Counts(900, 100, 0)}};
  const Report r = BuildReport(b, kToday, 12, INT64_MIN, cfg);
  ASSERT_EQ(r.days.size(), 12u);
  EXPECT_EQ(r.days[0].day, kToday - 11);
  EXPECT_EQ(r.days[0].score, 100);  // before it
  const int bad = ComputeRates(b, kToday - 10, INT64_MIN, cfg).score;
  EXPECT_LT(bad, 100);
  EXPECT_EQ(r.days[1].score, bad);  // that day
  EXPECT_EQ(r.days[2].score, bad);  // its window still holds it
  EXPECT_EQ(r.days[3].score, bad);
  EXPECT_EQ(r.days[4].score, 100);  // out of the window
  EXPECT_EQ(r.days[11].score, 100);
  // The same bad day just before a one-day report still counts in its score.
  const Report one = BuildReport(b, kToday - 9, 1, INT64_MIN, cfg);
  EXPECT_EQ(one.days[0].score, bad);
  EXPECT_EQ(one.totals, DayCounts{});
}

TEST(DeliveryReportTest, AReinstatementRestartsTheScoreFromItsDayOnlyForTheDaysAfter) {
  ReputationConfig cfg;
  cfg.window_days = 30;
  const DayBuckets b = {{kToday - 3, Counts(500, 500, 0)}};
  const int64_t since = kToday;  // reinstated yesterday (kToday - 1): rates count from today
  const Report r = BuildReport(b, kToday, 4, since, cfg);
  EXPECT_LT(r.days[0].score, 100);  // the bad day itself, before the reinstatement
  EXPECT_LT(r.days[1].score, 100);  // the day before the reinstatement: as it stood
  EXPECT_EQ(r.days[1].score, ComputeRates(b, kToday - 2, INT64_MIN, cfg).score);
  EXPECT_EQ(r.days[2].score, 100);  // the reinstatement's day (since - 1): restarted, as show says
  EXPECT_EQ(r.days[3].score, 100);  // from since on: counted again from zero
}

TEST(DeliveryReportTest, DayVerdictsAreThoseTheTierStepsOn) {
  const ReputationConfig cfg;
  const DayBuckets b = {{kToday - 2, Counts(1000, 0, 0)},   // clean
                        {kToday - 1, Counts(50, 50, 0)},    // bad: half hard
                        {kToday, Counts(5, 0, 0)}};         // too little to judge
  const Report r = BuildReport(b, kToday, 3, INT64_MIN, cfg);
  EXPECT_EQ(r.days[0].verdict, DayVerdict::kClean);
  EXPECT_EQ(r.days[1].verdict, DayVerdict::kBad);
  EXPECT_EQ(r.days[2].verdict, DayVerdict::kUnjudged);
}

TEST(DeliveryReportTest, TheRangeIsOneToNinetyDays) {
  const ReputationConfig cfg;
  EXPECT_EQ(BuildReport({}, kToday, 0, INT64_MIN, cfg).days.size(), 1u);
  EXPECT_EQ(BuildReport({}, kToday, -5, INT64_MIN, cfg).days.size(), 1u);
  EXPECT_EQ(BuildReport({}, kToday, 90, INT64_MIN, cfg).days.size(), 90u);
  const Report r = BuildReport({}, kToday, 1000, INT64_MIN, cfg);
  EXPECT_EQ(r.days.size(), static_cast<size_t>(kMaxReportDays));
  EXPECT_EQ(r.first_day, kToday - kMaxReportDays + 1);
}

TEST(DeliveryReportTest, CountsSaturateInTheTotals) {
  DayCounts big;
  big.delivered = UINT64_MAX - 1;
  const Report r =
      BuildReport({{kToday - 1, big}, {kToday, big}}, kToday, 2, INT64_MIN, ReputationConfig{});
  EXPECT_EQ(r.totals.delivered, UINT64_MAX);
}

// The milter's figures (quota used, refusals, tier) per day: added for
// repeated days (the last non-zero tier wins), 0 and tier 0 (not seen) on
// days without any, summed in the totals; days outside the range left out.
TEST(DeliveryReportTest, TheMiltersFiguresPerDayAndInTheTotals) {
  const DayBuckets b = {{kToday, Counts(10, 0, 0)}};
  const SendingBuckets s = {{kToday, {7, 2, 2}},
                            {kToday, {3, 1, 0}},
                            {kToday - 2, {0, 4, 1}},
                            {kToday - 9, {100, 100, 5}},
                            {kToday + 1, {100, 100, 5}}};
  const Report r = BuildReport(b, kToday, 3, INT64_MIN, ReputationConfig{}, s);
  ASSERT_EQ(r.days.size(), 3u);
  EXPECT_EQ(r.days[0].sending.quota_used, 0u);
  EXPECT_EQ(r.days[0].sending.refused, 4u);
  EXPECT_EQ(r.days[0].sending.tier, 1);
  EXPECT_EQ(r.days[1].sending.refused, 0u);
  EXPECT_EQ(r.days[1].sending.tier, 0) << "no mail seen that day";
  EXPECT_EQ(r.days[2].sending.quota_used, 10u);
  EXPECT_EQ(r.days[2].sending.refused, 3u);
  EXPECT_EQ(r.days[2].sending.tier, 2) << "tier 0 of a repeated day does not erase it";
  EXPECT_EQ(r.days[2].counts.delivered, 10u);
  EXPECT_EQ(r.quota_used, 10u);
  EXPECT_EQ(r.refused, 7u);
  // Without them (the default), zeros.
  const Report none = BuildReport(b, kToday, 3, INT64_MIN, ReputationConfig{});
  EXPECT_EQ(none.days[2].sending.refused, 0u);
  EXPECT_EQ(none.refused, 0u);
  // Saturating, as the counts.
  const Report big = BuildReport({}, kToday, 2, INT64_MIN, ReputationConfig{},
                                 {{kToday, {UINT64_MAX, 1, 1}}, {kToday - 1, {5, UINT64_MAX, 1}},
                                  {kToday, {0, UINT64_MAX, 1}}});
  EXPECT_EQ(big.quota_used, UINT64_MAX);
  EXPECT_EQ(big.refused, UINT64_MAX);
  EXPECT_EQ(big.days[1].sending.refused, UINT64_MAX);
}

TopFigures Fig(uint64_t delivered, uint64_t hard, uint64_t complaints, double quota = -1,
               uint64_t refused = 0) {
  TopFigures f;
  f.counts = Counts(delivered, hard, complaints);
  f.quota_fraction = quota;
  f.refused = refused;
  return f;
}

// --by refusals: the milter's refusals, ties to the higher volume; an
// account refused everything (nothing attempted) is listed.
TEST(DeliveryReportTest, TopByRefusals) {
  const std::vector<TopFigures> a = {Fig(100, 0, 0, -1, 3), Fig(5000, 10, 1), Fig(0, 0, 0, -1, 9),
                                     Fig(300, 30, 4, 0.95, 3), Fig(0, 0, 0, -1, 0)};
  EXPECT_EQ(RankTop(a, TopBy::kRefusals, 10), (std::vector<size_t>{2, 3, 0}));
  EXPECT_EQ(RankTop(a, TopBy::kRefusals, 1), (std::vector<size_t>{2}));
  EXPECT_EQ(RankTop(a, TopBy::kVolume, 10), (std::vector<size_t>{1, 3, 0}))
      << "refusals are not volume";
}

TEST(DeliveryReportTest, TopRanksByTheFigureAndLeavesOutThoseWithNone) {
  const std::vector<TopFigures> a = {Fig(100, 0, 0), Fig(5000, 10, 1), Fig(0, 0, 0),
                                     Fig(300, 30, 4, 0.95), Fig(20, 20, 0, 0.5)};
  EXPECT_EQ(RankTop(a, TopBy::kVolume, 10), (std::vector<size_t>{1, 3, 0, 4}));
  EXPECT_EQ(RankTop(a, TopBy::kComplaints, 10), (std::vector<size_t>{3, 1}));
  EXPECT_EQ(RankTop(a, TopBy::kBounces, 10), (std::vector<size_t>{3, 4, 1}));
  EXPECT_EQ(RankTop(a, TopBy::kQuota, 10), (std::vector<size_t>{3, 4}));
  EXPECT_EQ(RankTop(a, TopBy::kVolume, 2), (std::vector<size_t>{1, 3}));
  EXPECT_TRUE(RankTop(a, TopBy::kVolume, 0).empty());
  EXPECT_TRUE(RankTop({}, TopBy::kBounces, 10).empty());
}

TEST(DeliveryReportTest, TopBreaksTiesByTheRateThenByTheCallersOrder) {
  // The same 10 hard bounces: 10 of 20 attempted before 10 of 1010.
  const std::vector<TopFigures> a = {Fig(1000, 10, 0), Fig(10, 10, 0), Fig(1000, 10, 0)};
  EXPECT_EQ(RankTop(a, TopBy::kBounces, 10), (std::vector<size_t>{1, 0, 2}));
  // The same 2 complaints: 2 of 10 delivered before 2 of 1000.
  const std::vector<TopFigures> b = {Fig(1000, 0, 2), Fig(10, 0, 2)};
  EXPECT_EQ(RankTop(b, TopBy::kComplaints, 10), (std::vector<size_t>{1, 0}));
}

}  // namespace
}  // namespace senderguard
