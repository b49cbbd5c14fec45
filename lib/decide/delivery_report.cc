#include "senderguard/decide/delivery_report.h"

#include <algorithm>
#include <map>

namespace senderguard {

namespace {

double Rate(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

Report BuildReport(const DayBuckets& buckets, int64_t today, int days, int64_t since_day,
                   const ReputationConfig& cfg) {
  days = std::clamp(days, 1, kMaxReportDays);
  Report r;
  r.last_day = today;
  r.first_day = today - days + 1;
  // One sum per day: the buckets may repeat a day.
  std::map<int64_t, DayCounts> by_day;
  for (const auto& [day, counts] : buckets) by_day[day] += counts;
  r.days.reserve(static_cast<size_t>(days));
  for (int64_t d = r.first_day; d <= r.last_day; ++d) {
    ReportDay rd;
    rd.day = d;
    if (auto it = by_day.find(d); it != by_day.end()) rd.counts = it->second;
    rd.complaint_rate = Rate(rd.counts.complaints, rd.counts.delivered);
    rd.hard_rate = Rate(rd.counts.hard, rd.counts.attempted());
    rd.score = ComputeRates(buckets, d, d >= since_day ? since_day : INT64_MIN, cfg).score;
    rd.verdict = JudgeDay(rd.counts, cfg);
    r.totals += rd.counts;
    r.days.push_back(rd);
  }
  r.complaint_rate = Rate(r.totals.complaints, r.totals.delivered);
  r.hard_rate = Rate(r.totals.hard, r.totals.attempted());
  return r;
}

}  // namespace senderguard
