// Tests for quota.h: window spans in UTC and in zones with DST (including
// Lord Howe's 30-minute shift and India's +05:30), month ends and leap years,
// the repeated hour on fall-back day, formatting, charges, Fits and alert
// thresholds. Expected instants are written in UTC and converted with
// timegm(), independently of cctz.
#include "senderguard/decide/quota.h"

#include <gtest/gtest.h>

#include <cctz/time_zone.h>

#include <ctime>
#include <string>
#include <vector>

#include "test_time.h"

namespace senderguard {
namespace {

using senderguard::test_support::UtcTime;

cctz::time_zone Zone(const std::string& name) {
  cctz::time_zone tz;
  if (!cctz::load_time_zone(name, &tz)) ADD_FAILURE() << "cannot load zone " << name;
  return tz;
}

std::string Utc(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// ------------------------------------------------------------------ names

TEST(QuotaNames, WindowsAndUnits) {
  EXPECT_EQ(WindowName(Window::kMinute), "minute");
  EXPECT_EQ(WindowName(Window::kHour), "hour");
  EXPECT_EQ(WindowName(Window::kDay), "day");
  EXPECT_EQ(WindowName(Window::kMonth), "month");
  EXPECT_EQ(WindowAdjective(Window::kMinute), "per-minute");
  EXPECT_EQ(WindowAdjective(Window::kHour), "hourly");
  EXPECT_EQ(WindowAdjective(Window::kDay), "daily");
  EXPECT_EQ(WindowAdjective(Window::kMonth), "monthly");
  for (Window w : kAllWindows) EXPECT_EQ(ParseWindow(WindowName(w)), w);
  for (const char* bad : {"", "Day", "days", "week", "year", "day "}) {
    EXPECT_EQ(ParseWindow(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseCountUnit("recipients"), CountUnit::kRecipients);
  EXPECT_EQ(ParseCountUnit("messages"), CountUnit::kMessages);
  EXPECT_EQ(CountUnitName(CountUnit::kRecipients), "recipients");
  EXPECT_EQ(CountUnitName(CountUnit::kMessages), "messages");
  for (const char* bad : {"", "bytes", "Recipients", "message"}) {
    EXPECT_EQ(ParseCountUnit(bad), std::nullopt) << bad;
  }
}

// ---------------------------------------------------------------- SpanAt

struct SpanCase {
  const char* name;
  const char* zone;
  Window window;
  const char* now;    // UTC
  const char* start;  // UTC
  const char* reset;  // UTC
};

std::ostream& operator<<(std::ostream& o, const SpanCase& c) { return o << c.name; }

const std::vector<SpanCase> kSpanCases = {
    // UTC, every window.
    {"utc_minute", "UTC", Window::kMinute, "2026-11-25 13:45:17", "2026-11-25 13:45", "2026-11-25 13:46"},
    {"utc_hour", "UTC", Window::kHour, "2026-11-25 13:45:17", "2026-11-25 13:00", "2026-11-25 14:00"},
    {"utc_day", "UTC", Window::kDay, "2026-11-25 13:45:17", "2026-11-25 00:00", "2026-11-26 00:00"},
    {"utc_month", "UTC", Window::kMonth, "2026-11-25 13:45:17", "2026-11-01 00:00", "2026-12-01 00:00"},
    {"utc_minute_first_second", "UTC", Window::kMinute, "2026-11-25 13:45:00", "2026-11-25 13:45", "2026-11-25 13:46"},
    {"utc_minute_last_second", "UTC", Window::kMinute, "2026-11-25 13:45:59", "2026-11-25 13:45", "2026-11-25 13:46"},
    {"utc_day_at_midnight", "UTC", Window::kDay, "2026-11-26 00:00:00", "2026-11-26 00:00", "2026-11-27 00:00"},
    {"utc_day_last_second", "UTC", Window::kDay, "2026-11-25 23:59:59", "2026-11-25 00:00", "2026-11-26 00:00"},
    {"epoch", "UTC", Window::kDay, "1970-01-01 00:00:00", "1970-01-01 00:00", "1970-01-02 00:00"},
    {"before_epoch_minute", "UTC", Window::kMinute, "1969-12-31 23:59:30", "1969-12-31 23:59", "1970-01-01 00:00"},
    // Month ends.
    {"jan31_day", "UTC", Window::kDay, "2026-01-31 12:00", "2026-01-31 00:00", "2026-02-01 00:00"},
    {"jan31_month", "UTC", Window::kMonth, "2026-01-31 23:59:59", "2026-01-01 00:00", "2026-02-01 00:00"},
    {"feb1_month", "UTC", Window::kMonth, "2026-02-01 00:00:00", "2026-02-01 00:00", "2026-03-01 00:00"},
    {"feb28_2026_day", "UTC", Window::kDay, "2026-02-28 12:00", "2026-02-28 00:00", "2026-03-01 00:00"},
    {"feb_2026_month", "UTC", Window::kMonth, "2026-02-14 12:00", "2026-02-01 00:00", "2026-03-01 00:00"},
    {"feb28_2024_day", "UTC", Window::kDay, "2024-02-28 12:00", "2024-02-28 00:00", "2024-02-29 00:00"},
    {"feb29_2024_day", "UTC", Window::kDay, "2024-02-29 12:00", "2024-02-29 00:00", "2024-03-01 00:00"},
    {"feb_2024_month", "UTC", Window::kMonth, "2024-02-29 23:59:59", "2024-02-01 00:00", "2024-03-01 00:00"},
    {"feb29_2028_day", "UTC", Window::kDay, "2028-02-29 10:00", "2028-02-29 00:00", "2028-03-01 00:00"},
    {"feb28_2028_day", "UTC", Window::kDay, "2028-02-28 10:00", "2028-02-28 00:00", "2028-02-29 00:00"},
    {"feb28_2100_not_leap", "UTC", Window::kDay, "2100-02-28 12:00", "2100-02-28 00:00", "2100-03-01 00:00"},
    {"feb_2100_month", "UTC", Window::kMonth, "2100-02-10 12:00", "2100-02-01 00:00", "2100-03-01 00:00"},
    {"apr30_day", "UTC", Window::kDay, "2026-04-30 18:00", "2026-04-30 00:00", "2026-05-01 00:00"},
    {"dec31_minute", "UTC", Window::kMinute, "2026-12-31 23:59:59", "2026-12-31 23:59", "2027-01-01 00:00"},
    {"dec31_hour", "UTC", Window::kHour, "2026-12-31 23:59:59", "2026-12-31 23:00", "2027-01-01 00:00"},
    {"dec31_day", "UTC", Window::kDay, "2026-12-31 23:59:59", "2026-12-31 00:00", "2027-01-01 00:00"},
    {"dec_month", "UTC", Window::kMonth, "2026-12-31 23:59:59", "2026-12-01 00:00", "2027-01-01 00:00"},
    {"jan1_month", "UTC", Window::kMonth, "2027-01-01 00:00:00", "2027-01-01 00:00", "2027-02-01 00:00"},

    // Europe/Berlin: CET +1, CEST +2. 2026-03-29 01:00 UTC spring forward,
    // 2026-10-25 01:00 UTC fall back.
    {"berlin_day_winter", "Europe/Berlin", Window::kDay, "2026-11-25 12:00", "2026-11-24 23:00", "2026-11-25 23:00"},
    {"berlin_day_summer", "Europe/Berlin", Window::kDay, "2026-07-01 12:00", "2026-06-30 22:00", "2026-07-01 22:00"},
    {"berlin_day_23h", "Europe/Berlin", Window::kDay, "2026-03-29 12:00", "2026-03-28 23:00", "2026-03-29 22:00"},
    {"berlin_day_25h", "Europe/Berlin", Window::kDay, "2026-10-25 12:00", "2026-10-24 22:00", "2026-10-25 23:00"},
    {"berlin_day_25h_in_repeat", "Europe/Berlin", Window::kDay, "2026-10-25 01:30", "2026-10-24 22:00", "2026-10-25 23:00"},
    {"berlin_hour_before_gap", "Europe/Berlin", Window::kHour, "2026-03-29 00:30", "2026-03-29 00:00", "2026-03-29 01:00"},
    {"berlin_hour_after_gap", "Europe/Berlin", Window::kHour, "2026-03-29 01:30", "2026-03-29 01:00", "2026-03-29 02:00"},
    {"berlin_hour_repeat_first", "Europe/Berlin", Window::kHour, "2026-10-25 00:30", "2026-10-25 00:00", "2026-10-25 01:00"},
    {"berlin_hour_repeat_second", "Europe/Berlin", Window::kHour, "2026-10-25 01:30", "2026-10-25 01:00", "2026-10-25 02:00"},
    {"berlin_hour_repeat_second_start", "Europe/Berlin", Window::kHour, "2026-10-25 01:00:00", "2026-10-25 01:00", "2026-10-25 02:00"},
    {"berlin_hour_repeat_first_end", "Europe/Berlin", Window::kHour, "2026-10-25 00:59:59", "2026-10-25 00:00", "2026-10-25 01:00"},
    {"berlin_minute_repeat_first", "Europe/Berlin", Window::kMinute, "2026-10-25 00:30:30", "2026-10-25 00:30", "2026-10-25 00:31"},
    {"berlin_minute_repeat_second", "Europe/Berlin", Window::kMinute, "2026-10-25 01:30:30", "2026-10-25 01:30", "2026-10-25 01:31"},
    {"berlin_month_october", "Europe/Berlin", Window::kMonth, "2026-10-15 12:00", "2026-09-30 22:00", "2026-10-31 23:00"},
    {"berlin_new_year", "Europe/Berlin", Window::kDay, "2026-12-31 23:30", "2026-12-31 23:00", "2027-01-01 23:00"},
    {"berlin_new_year_month", "Europe/Berlin", Window::kMonth, "2026-12-31 23:30", "2026-12-31 23:00", "2027-01-31 23:00"},
    {"berlin_old_year_month", "Europe/Berlin", Window::kMonth, "2026-12-31 22:30", "2026-11-30 23:00", "2026-12-31 23:00"},

    // America/New_York: EST -5, EDT -4. 2026-03-08 07:00 UTC spring forward,
    // 2026-11-01 06:00 UTC fall back (01:00-02:00 local repeats).
    {"ny_day_23h", "America/New_York", Window::kDay, "2026-03-08 12:00", "2026-03-08 05:00", "2026-03-09 04:00"},
    {"ny_day_25h", "America/New_York", Window::kDay, "2026-11-01 12:00", "2026-11-01 04:00", "2026-11-02 05:00"},
    {"ny_hour_before_gap", "America/New_York", Window::kHour, "2026-03-08 06:59:59", "2026-03-08 06:00", "2026-03-08 07:00"},
    {"ny_hour_after_gap", "America/New_York", Window::kHour, "2026-03-08 07:00:00", "2026-03-08 07:00", "2026-03-08 08:00"},
    {"ny_hour_repeat_first", "America/New_York", Window::kHour, "2026-11-01 05:30", "2026-11-01 05:00", "2026-11-01 06:00"},
    {"ny_hour_repeat_second", "America/New_York", Window::kHour, "2026-11-01 06:30", "2026-11-01 06:00", "2026-11-01 07:00"},
    {"ny_minute_repeat_second", "America/New_York", Window::kMinute, "2026-11-01 06:30:10", "2026-11-01 06:30", "2026-11-01 06:31"},
    {"ny_feb29_2028", "America/New_York", Window::kDay, "2028-02-29 03:00", "2028-02-28 05:00", "2028-02-29 05:00"},
    {"ny_month_march", "America/New_York", Window::kMonth, "2026-03-20 12:00", "2026-03-01 05:00", "2026-04-01 04:00"},

    // Australia/Lord_Howe: +10:30 standard, +11 DST (a 30-minute shift).
    // 2026-04-04 15:00 UTC falls back 02:00 -> 01:30; 2026-10-03 15:30 UTC
    // springs forward 02:00 -> 02:30.
    {"lhi_day_24h30", "Australia/Lord_Howe", Window::kDay, "2026-04-04 20:00", "2026-04-04 13:00", "2026-04-05 13:30"},
    {"lhi_day_23h30", "Australia/Lord_Howe", Window::kDay, "2026-10-04 00:00", "2026-10-03 13:30", "2026-10-04 13:00"},
    // The local hour 01:00 runs 01:00-02:00 +11, then 01:30-02:00 +10:30:
    // it ends when the local clock next shows 02:00 (90 minutes).
    {"lhi_hour_fallback_first", "Australia/Lord_Howe", Window::kHour, "2026-04-04 14:45", "2026-04-04 14:00", "2026-04-04 15:30"},
    {"lhi_hour_fallback_second", "Australia/Lord_Howe", Window::kHour, "2026-04-04 15:15", "2026-04-04 14:00", "2026-04-04 15:30"},
    {"lhi_hour_before_gap", "Australia/Lord_Howe", Window::kHour, "2026-10-03 15:20", "2026-10-03 14:30", "2026-10-03 15:30"},
    {"lhi_hour_after_gap", "Australia/Lord_Howe", Window::kHour, "2026-10-03 15:45", "2026-10-03 15:30", "2026-10-03 16:00"},
    {"lhi_minute_fallback_first", "Australia/Lord_Howe", Window::kMinute, "2026-04-04 14:45:30", "2026-04-04 14:45", "2026-04-04 14:46"},
    {"lhi_minute_fallback_second", "Australia/Lord_Howe", Window::kMinute, "2026-04-04 15:15:30", "2026-04-04 15:15", "2026-04-04 15:16"},

    // Asia/Kolkata: +05:30, no DST.
    {"kolkata_minute", "Asia/Kolkata", Window::kMinute, "2026-11-25 10:45:10", "2026-11-25 10:45", "2026-11-25 10:46"},
    {"kolkata_hour", "Asia/Kolkata", Window::kHour, "2026-11-25 10:45:10", "2026-11-25 10:30", "2026-11-25 11:30"},
    {"kolkata_day", "Asia/Kolkata", Window::kDay, "2026-11-25 20:00", "2026-11-25 18:30", "2026-11-26 18:30"},
    {"kolkata_month_next_local", "Asia/Kolkata", Window::kMonth, "2026-11-30 19:00", "2026-11-30 18:30", "2026-12-31 18:30"},
    {"kolkata_month_prev_local", "Asia/Kolkata", Window::kMonth, "2026-11-30 18:29:59", "2026-10-31 18:30", "2026-11-30 18:30"},
};

class SpanAtTest : public ::testing::TestWithParam<SpanCase> {};

TEST_P(SpanAtTest, Table) {
  const SpanCase& c = GetParam();
  const cctz::time_zone tz = Zone(c.zone);
  const int64_t now = UtcTime(c.now);
  const WindowSpan s = SpanAt(c.window, now, tz);
  EXPECT_EQ(Utc(s.start), Utc(UtcTime(c.start))) << "start";
  EXPECT_EQ(Utc(s.reset), Utc(UtcTime(c.reset))) << "reset";
  EXPECT_LE(s.start, now);
  EXPECT_LT(now, s.reset);
}

INSTANTIATE_TEST_SUITE_P(Cases, SpanAtTest, ::testing::ValuesIn(kSpanCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Properties over a sweep of instants: the span contains now, the window
// instance starting at `start` is the same one, and the next one starts at
// `reset` (windows tile time without gaps or overlaps).
struct SweepCase {
  const char* zone;
  const char* from;  // UTC
  const char* to;
  int64_t step;
};

TEST(SpanAt, SweepSpansTileTime) {
  const std::vector<SweepCase> sweeps = {
      {"UTC", "2026-01-01 00:00", "2027-01-01 00:00", 3 * 3600 + 7},
      {"Europe/Berlin", "2026-03-28 20:00", "2026-03-29 06:00", 60 * 7 + 13},
      {"Europe/Berlin", "2026-10-24 20:00", "2026-10-25 06:00", 60 * 7 + 13},
      {"America/New_York", "2026-03-08 02:00", "2026-03-08 12:00", 60 * 7 + 13},
      {"America/New_York", "2026-11-01 02:00", "2026-11-01 12:00", 60 * 7 + 13},
      {"Australia/Lord_Howe", "2026-04-04 10:00", "2026-04-04 20:00", 60 * 7 + 13},
      {"Australia/Lord_Howe", "2026-10-03 10:00", "2026-10-03 20:00", 60 * 7 + 13},
      {"Asia/Kolkata", "2026-01-01 00:00", "2027-01-01 00:00", 3 * 3600 + 7},
      {"Europe/Berlin", "2026-01-01 00:00", "2027-01-01 00:00", 3 * 3600 + 7},
      {"America/Havana", "2026-03-07 20:00", "2026-03-08 12:00", 60 * 7 + 13},
      {"America/Havana", "2026-10-31 20:00", "2026-11-01 12:00", 60 * 7 + 13},
  };
  int failures = 0;
  for (const SweepCase& sw : sweeps) {
    const cctz::time_zone tz = Zone(sw.zone);
    for (Window w : kAllWindows) {
      int here = 0;  // report the first two of each zone and window
      for (int64_t t = UtcTime(sw.from); t < UtcTime(sw.to); t += sw.step) {
        const WindowSpan s = SpanAt(w, t, tz);
        const WindowSpan again = SpanAt(w, s.start, tz);
        const WindowSpan next = SpanAt(w, s.reset, tz);
        const WindowSpan last = SpanAt(w, s.reset - 1, tz);
        const bool ok = s.start <= t && t < s.reset && again.start == s.start &&
                        again.reset == s.reset && next.start == s.reset &&
                        last.start == s.start && last.reset == s.reset;
        if (!ok && ++here <= 2) {
          ADD_FAILURE() << sw.zone << " " << WindowName(w) << " now=" << Utc(t) << " span=["
                        << Utc(s.start) << ", " << Utc(s.reset) << ") next.start="
                        << Utc(next.start) << " span(start)=[" << Utc(again.start) << ", "
                        << Utc(again.reset) << ")";
        }
      }
      if (here > 0) {
        ADD_FAILURE() << sw.zone << " " << WindowName(w) << " " << sw.from << ": " << here
                      << " bad instants";
      }
      failures += here;
    }
  }
  EXPECT_EQ(failures, 0);
}

// A skipped local midnight (America/Havana springs forward at 00:00): the
// day starts at the first valid instant.
TEST(SpanAt, SkippedMidnightStartsAtTransition) {
  // Past years only: future Cuban DST dates differ between tzdata releases.
  const cctz::time_zone tz = Zone("America/Havana");
  // 2023-03-12 00:00 CST (-5) = 05:00 UTC jumps to 01:00 CDT (-4).
  const WindowSpan s = SpanAt(Window::kDay, UtcTime("2023-03-12 12:00"), tz);
  EXPECT_EQ(Utc(s.start), Utc(UtcTime("2023-03-12 05:00")));
  EXPECT_EQ(Utc(s.reset), Utc(UtcTime("2023-03-13 04:00")));
  // Its fall-back (2023-11-05 01:00 CDT -> 00:00 CST) repeats 00:00-01:00
  // local: the day starts at the first 00:00 and ends at the next midnight.
  const WindowSpan f = SpanAt(Window::kDay, UtcTime("2023-11-05 05:30"), tz);
  EXPECT_EQ(Utc(f.start), Utc(UtcTime("2023-11-05 04:00")));
  EXPECT_EQ(Utc(f.reset), Utc(UtcTime("2023-11-06 05:00")));
}

// ----------------------------------------------------------- formatting

struct FormatCase {
  const char* zone;
  const char* t;  // UTC
  const char* local;
};

TEST(FormatLocal, Table) {
  const std::vector<FormatCase> cases = {
      {"UTC", "2026-11-26 00:00", "2026-11-26 00:00 UTC"},
      {"Europe/Berlin", "2026-11-25 23:00", "2026-11-26 00:00 CET"},
      {"Europe/Berlin", "2026-07-01 22:00", "2026-07-02 00:00 CEST"},
      // The 25-hour day's reset and the repeated hour's two halves.
      {"Europe/Berlin", "2026-10-25 23:00", "2026-10-26 00:00 CET"},
      {"Europe/Berlin", "2026-10-25 00:30", "2026-10-25 02:30 CEST"},
      {"Europe/Berlin", "2026-10-25 01:30", "2026-10-25 02:30 CET"},
      {"Europe/Berlin", "2026-03-29 01:00", "2026-03-29 03:00 CEST"},
      {"America/New_York", "2026-11-02 05:00", "2026-11-02 00:00 EST"},
      {"Asia/Kolkata", "2026-11-25 18:30", "2026-11-26 00:00 IST"},
      {"Australia/Lord_Howe", "2026-04-05 13:30", "2026-04-06 00:00 +1030"},
      {"Australia/Lord_Howe", "2026-10-04 13:00", "2026-10-05 00:00 +11"},
      {"UTC", "2028-02-29 23:59:59", "2028-02-29 23:59 UTC"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FormatLocal(UtcTime(c.t), Zone(c.zone)), c.local) << c.zone << " " << c.t;
  }
}

TEST(FormatUtc, Table) {
  EXPECT_EQ(FormatUtc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatUtc(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatUtc(UtcTime("2026-11-25 00:00:00")), "2026-11-25T00:00:00Z");
  EXPECT_EQ(FormatUtc(UtcTime("2028-02-29 13:14:15")), "2028-02-29T13:14:15Z");
  EXPECT_EQ(FormatUtc(UtcTime("2100-03-01 00:00:00")), "2100-03-01T00:00:00Z");
}

// ------------------------------------------------------------ ChargesFor

std::array<WindowPolicy, kWindowCount> Policies(CountUnit unit) {
  std::array<WindowPolicy, kWindowCount> p{};
  for (auto& w : p) w.unit = unit;
  return p;
}

TEST(ChargesFor, RecipientsModeChargesEveryRecipient) {
  const cctz::time_zone tz = cctz::utc_time_zone();
  const int64_t now = UtcTime("2026-11-25 13:45:17");
  const std::array<uint64_t, kWindowCount> limits = {10, 100, 1000, 10000};
  for (bool first : {true, false}) {
    const auto c = ChargesFor(limits, Policies(CountUnit::kRecipients), now, tz, first);
    ASSERT_EQ(c.size(), 4u);
    for (size_t i = 0; i < c.size(); ++i) {
      EXPECT_EQ(c[i].window, kAllWindows[i]);
      EXPECT_EQ(c[i].limit, limits[i]);
      EXPECT_EQ(c[i].amount, 1u) << "first=" << first;
      EXPECT_EQ(c[i].span.start, SpanAt(kAllWindows[i], now, tz).start);
      EXPECT_EQ(c[i].span.reset, SpanAt(kAllWindows[i], now, tz).reset);
    }
  }
}

TEST(ChargesFor, MessagesModeChargesFirstRecipientOnly) {
  const cctz::time_zone tz = cctz::utc_time_zone();
  const int64_t now = UtcTime("2026-11-25 13:45:17");
  const std::array<uint64_t, kWindowCount> limits = {10, 100, 1000, 10000};
  auto first = ChargesFor(limits, Policies(CountUnit::kMessages), now, tz, true);
  auto later = ChargesFor(limits, Policies(CountUnit::kMessages), now, tz, false);
  ASSERT_EQ(first.size(), 4u);
  ASSERT_EQ(later.size(), 4u);  // still checked, but adds nothing
  for (const auto& c : first) EXPECT_EQ(c.amount, 1u);
  for (const auto& c : later) EXPECT_EQ(c.amount, 0u);
}

TEST(ChargesFor, MixedModesAndUnlimitedWindowsLeftOut) {
  const cctz::time_zone tz = Zone("Europe/Berlin");
  const int64_t now = UtcTime("2026-10-25 01:30");
  auto policy = Policies(CountUnit::kRecipients);
  policy[Index(Window::kDay)].unit = CountUnit::kMessages;
  const std::array<uint64_t, kWindowCount> limits = {kUnlimited, 0, 500, kUnlimited};
  const auto c = ChargesFor(limits, policy, now, tz, false);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].window, Window::kHour);
  EXPECT_EQ(c[0].limit, 0u);
  EXPECT_EQ(c[0].amount, 1u);
  EXPECT_EQ(c[1].window, Window::kDay);
  EXPECT_EQ(c[1].amount, 0u);
  EXPECT_EQ(Utc(c[1].span.reset), Utc(UtcTime("2026-10-25 23:00")));
}

TEST(ChargesFor, AllUnlimitedGivesNothing) {
  const std::array<uint64_t, kWindowCount> limits = {kUnlimited, kUnlimited, kUnlimited,
                                                     kUnlimited};
  EXPECT_TRUE(ChargesFor(limits, Policies(CountUnit::kRecipients), 0, cctz::utc_time_zone(), true)
                  .empty());
}

// ------------------------------------------------------------------ Fits

struct FitsCase {
  const char* name;
  uint64_t used, reserved, amount, limit;
  bool want;
};

TEST(Fits, Table) {
  constexpr uint64_t kMax = UINT64_MAX;
  const std::vector<FitsCase> cases = {
      {"empty", 0, 0, 1, 10, true},
      {"reaches_limit", 9, 0, 1, 10, true},
      {"over_by_one", 10, 0, 1, 10, false},
      {"reserved_counts", 5, 4, 1, 10, true},
      {"reserved_fills", 5, 5, 1, 10, false},
      {"zero_amount_at_limit", 10, 0, 0, 10, true},
      {"zero_amount_over_limit", 11, 0, 0, 10, false},
      {"limit_zero", 0, 0, 1, 0, false},
      {"limit_zero_zero_amount", 0, 0, 0, 0, true},
      {"unlimited", kMax - 1, kMax - 1, kMax, kUnlimited, true},
      {"huge_amount", 0, 0, kMax, 1000, false},
      {"huge_amount_huge_limit", 1, 0, kMax - 1, kMax - 1, false},
      {"fits_huge_limit", 1, 1, kMax - 3, kMax - 1, true},
      {"used_over_limit", kMax - 1, 0, 1, 1000, false},
      // used + reserved wraps around 2^64: must not read as room.
      {"overflow_used_plus_reserved", kMax - 1, 2, 0, 1000, false},
      {"overflow_used_plus_reserved_2", kMax, 1, 1, 1000, false},
      {"overflow_reserved_huge", 5, kMax - 2, 1, 1000, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Fits(c.used, c.reserved, c.amount, c.limit), c.want) << c.name;
  }
}

// ---------------------------------------------------- ThresholdsReached

struct ThresholdCase {
  const char* name;
  uint64_t used, limit;
  std::vector<int> want;
};

TEST(ThresholdsReached, Table) {
  const std::vector<ThresholdCase> cases = {
      {"none", 0, 1000, {}},
      {"just_under_80", 799, 1000, {}},
      {"79_9_percent", 7990, 10000, {}},
      {"80_percent", 800, 1000, {80}},
      {"between", 850, 1000, {80}},
      {"89_99", 8999, 10000, {80}},
      {"90_percent", 900, 1000, {80, 90}},
      {"99_9", 999, 1000, {80, 90}},
      {"100_percent", 1000, 1000, {80, 90, 100}},
      {"over", 5000, 1000, {80, 90, 100}},
      {"limit_one_used_zero", 0, 1, {}},
      {"limit_one_used_one", 1, 1, {80, 90, 100}},
      {"limit_three", 3, 3, {80, 90, 100}},
      {"limit_three_two", 2, 3, {}},  // 66%
      {"limit_five_four", 4, 5, {80}},
      {"limit_zero", 0, 0, {}},
      {"limit_zero_used", 5, 0, {}},
      {"unlimited", UINT64_MAX - 1, kUnlimited, {}},
      {"huge_no_overflow", UINT64_MAX - 2, UINT64_MAX - 1, {80, 90}},
      {"huge_reached", UINT64_MAX - 1, UINT64_MAX - 1, {80, 90, 100}},
      {"huge_used_small_limit", UINT64_MAX, 10, {80, 90, 100}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ThresholdsReached(c.used, c.limit), c.want) << c.name;
  }
}

}  // namespace
}  // namespace senderguard
