#include "senderguard/decide/delivery_report.h"

#include <algorithm>
#include <map>
#include <utility>

namespace senderguard {

namespace {

uint64_t AddSaturating(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

double Rate(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

Report BuildReport(const DayBuckets& buckets, int64_t today, int days, int64_t since_day,
                   const ReputationConfig& cfg, const SendingBuckets& sending) {
  days = std::clamp(days, 1, kMaxReportDays);
  Report r;
  r.last_day = today;
  r.first_day = today - days + 1;
  // One sum per day: the buckets may repeat a day.
  std::map<int64_t, DayCounts> by_day;
  for (const auto& [day, counts] : buckets) by_day[day] += counts;
  std::map<int64_t, SendingFigures> sending_by_day;
  for (const auto& [day, f] : sending) {
    SendingFigures& to = sending_by_day[day];
    to.quota_used = AddSaturating(to.quota_used, f.quota_used);
    to.refused = AddSaturating(to.refused, f.refused);
    if (f.tier != 0) to.tier = f.tier;
  }
  r.days.reserve(static_cast<size_t>(days));
  for (int64_t d = r.first_day; d <= r.last_day; ++d) {
    ReportDay rd;
    rd.day = d;
    if (auto it = by_day.find(d); it != by_day.end()) rd.counts = it->second;
    if (auto it = sending_by_day.find(d); it != sending_by_day.end()) rd.sending = it->second;
    rd.complaint_rate = Rate(rd.counts.complaints, rd.counts.delivered);
    rd.hard_rate = Rate(rd.counts.hard, rd.counts.attempted());
    // From the reinstatement's own day on, the rates count from since_day
    // (an empty window on that day: the score restarts at 100), as the
    // tailer's review and `show` count them; before it, as they stood.
    const bool restarted = since_day != INT64_MIN && d >= since_day - 1;
    rd.score = ComputeRates(buckets, d, restarted ? since_day : INT64_MIN, cfg).score;
    rd.verdict = JudgeDay(rd.counts, cfg);
    r.totals += rd.counts;
    r.quota_used = AddSaturating(r.quota_used, rd.sending.quota_used);
    r.refused = AddSaturating(r.refused, rd.sending.refused);
    r.days.push_back(rd);
  }
  r.complaint_rate = Rate(r.totals.complaints, r.totals.delivered);
  r.hard_rate = Rate(r.totals.hard, r.totals.attempted());
  return r;
}

std::vector<size_t> RankTop(const std::vector<TopFigures>& accounts, TopBy by, size_t limit) {
  // The figure ranked, then the tie-break: both as doubles (counts below
  // 2^53 compare exactly; above, they are far beyond any real volume).
  auto key = [by](const TopFigures& f) -> std::pair<double, double> {
    const DayCounts& c = f.counts;
    switch (by) {
      case TopBy::kVolume:
        return {static_cast<double>(c.attempted()), static_cast<double>(c.delivered)};
      case TopBy::kComplaints:
        return {static_cast<double>(c.complaints), Rate(c.complaints, c.delivered)};
      case TopBy::kBounces:
        return {static_cast<double>(c.hard), Rate(c.hard, c.attempted())};
      case TopBy::kQuota:
        return {f.quota_fraction, static_cast<double>(c.attempted())};
      case TopBy::kRefusals:
        return {static_cast<double>(f.refused), static_cast<double>(c.attempted())};
    }
    return {0, 0};
  };
  std::vector<size_t> order;
  for (size_t i = 0; i < accounts.size(); ++i) {
    if (key(accounts[i]).first > 0) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return key(accounts[a]) > key(accounts[b]);
  });
  if (order.size() > limit) order.resize(limit);
  return order;
}

}  // namespace senderguard
