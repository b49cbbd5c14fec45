#include "senderguard/decide/reputation.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>

#include "senderguard/decide/quota.h"

namespace senderguard {
namespace {

uint64_t SatAdd(uint64_t a, uint64_t b) { return b > UINT64_MAX - a ? UINT64_MAX : a + b; }

// num / den as a rate; 0 when den == 0. Never NaN.
double Ratio(uint64_t num, uint64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

// A rate as a percentage with two decimals ("0.15%"). When that would print
// the same as `threshold` although the rate is above it (0.1001% against
// 0.10%), more decimals are shown (up to six) so the message never reads
// "0.10% exceeds 0.10%".
std::string Percent(double rate, double threshold) {
  // Large enough for any finite double printed with %f.
  char a[400];
  char b[400];
  std::snprintf(b, sizeof b, "%.2f%%", threshold * 100);
  for (int decimals = 2; decimals <= 6; ++decimals) {
    std::snprintf(a, sizeof a, "%.*f%%", decimals, rate * 100);
    if (std::string_view(a) != std::string_view(b)) break;
    std::snprintf(b, sizeof b, "%.*f%%", decimals + 1, threshold * 100);
  }
  return a;
}

std::string PercentOfThreshold(double threshold) {
  char b[400];
  std::snprintf(b, sizeof b, "%.2f%%", threshold * 100);
  return b;
}

std::string Double(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

bool RateInRange(double v) { return v > 0 && v <= 1; }  // false for NaN

}  // namespace

uint64_t DayCounts::attempted() const {
  uint64_t n = delivered;
  n = SatAdd(n, hard);
  n = SatAdd(n, soft);
  n = SatAdd(n, technical);
  n = SatAdd(n, expired);
  return n;
}

DayCounts& DayCounts::operator+=(const DayCounts& o) {
  delivered = SatAdd(delivered, o.delivered);
  deferred = SatAdd(deferred, o.deferred);
  hard = SatAdd(hard, o.hard);
  soft = SatAdd(soft, o.soft);
  technical = SatAdd(technical, o.technical);
  expired = SatAdd(expired, o.expired);
  complaints = SatAdd(complaints, o.complaints);
  return *this;
}

Status ReputationConfig::Validate() const {
  constexpr uint64_t kMaxVolume = 1'000'000'000'000;
  if (window_days < 1 || window_days > 90) {
    return Status::Invalid("window_days must be 1..90 (got " + std::to_string(window_days) + ")");
  }
  if (min_volume < 1 || min_volume > kMaxVolume) {
    return Status::Invalid("min_volume must be 1..1000000000000 (got " +
                           std::to_string(min_volume) + ")");
  }
  const std::pair<const char*, double> rates[] = {
      {"suspend_complaint_rate", suspend_complaint_rate},
      {"suspend_hard_rate", suspend_hard_rate},
      {"score_zero_complaint_rate", score_zero_complaint_rate},
      {"score_zero_hard_rate", score_zero_hard_rate},
      {"day_complaint_max", day_complaint_max},
      {"day_hard_max", day_hard_max},
  };
  for (const auto& [name, v] : rates) {
    if (!RateInRange(v)) {
      return Status::Invalid(std::string(name) + " must be in (0, 1] (got " + Double(v) + ")");
    }
  }
  if (clean_days_per_step < 1 || clean_days_per_step > 365) {
    return Status::Invalid("clean_days_per_step must be 1..365 (got " +
                           std::to_string(clean_days_per_step) + ")");
  }
  if (day_min_attempted < 1 || day_min_attempted > kMaxVolume) {
    return Status::Invalid("day_min_attempted must be 1..1000000000000 (got " +
                           std::to_string(day_min_attempted) + ")");
  }
  if (day_clean_volume < day_min_attempted || day_clean_volume > kMaxVolume) {
    return Status::Invalid("day_clean_volume must be day_min_attempted (" +
                           std::to_string(day_min_attempted) + ")..1000000000000 (got " +
                           std::to_string(day_clean_volume) + ")");
  }
  for (size_t i = 0; i < tier_multipliers.size(); ++i) {
    const double m = tier_multipliers[i];
    if (!(m > 0 && m <= 1000)) {
      return Status::Invalid("tier_multipliers: tier " + std::to_string(i + 1) +
                             " must be in (0, 1000] (got " + Double(m) + ")");
    }
    if (i > 0 && m < tier_multipliers[i - 1]) {
      return Status::Invalid("tier_multipliers: tier " + std::to_string(i + 1) + " (" + Double(m) +
                             ") is below tier " + std::to_string(i) + " (" +
                             Double(tier_multipliers[i - 1]) + ")");
    }
  }
  return Status::Ok();
}

Rates ComputeRates(const DayBuckets& buckets, int64_t today, int64_t since_day,
                   const ReputationConfig& cfg) {
  const int64_t back = std::max(1, cfg.window_days) - 1;
  int64_t first = today < INT64_MIN + back ? INT64_MIN : today - back;
  first = std::max(first, since_day);
  Rates r;
  r.first_day = first;
  r.last_day = today;
  for (const auto& [day, counts] : buckets) {
    if (day >= first && day <= today) r.totals += counts;
  }
  r.complaint_rate = Ratio(r.totals.complaints, r.totals.delivered);
  r.hard_rate = Ratio(r.totals.hard, r.totals.attempted());
  r.score = Score(r.complaint_rate, r.hard_rate, cfg);
  return r;
}

int Score(double complaint_rate, double hard_rate, const ReputationConfig& cfg) {
  if (std::isnan(complaint_rate) || std::isnan(hard_rate)) return 0;
  // How far a rate goes towards its zero point; +inf when the zero point is
  // not a positive number (NaN included) and the rate is positive.
  auto share = [](double rate, double zero) {
    if (rate <= 0) return 0.0;
    if (!(zero > 0)) return std::numeric_limits<double>::infinity();
    return rate / zero;  // rate or zero may be +inf: gives +inf or 0, never NaN
  };
  const double x = 1 - share(hard_rate, cfg.score_zero_hard_rate) -
                   share(complaint_rate, cfg.score_zero_complaint_rate);
  if (!(x > 0)) return 0;
  if (x >= 1) return 100;
  return static_cast<int>(std::lround(100 * x));
}

std::string_view DayVerdictName(DayVerdict v) {
  switch (v) {
    case DayVerdict::kUnjudged:
      return "unjudged";
    case DayVerdict::kClean:
      return "clean";
    case DayVerdict::kBad:
      return "bad";
  }
  return "unknown";
}

DayVerdict JudgeDay(const DayCounts& day, const ReputationConfig& cfg) {
  const uint64_t attempted = day.attempted();
  if (attempted >= cfg.day_min_attempted) {
    // Complaints with nothing delivered: an infinite rate.
    const bool complaints_bad = day.delivered == 0
                                    ? day.complaints > 0
                                    : Ratio(day.complaints, day.delivered) > cfg.day_complaint_max;
    const bool hard_bad = Ratio(day.hard, attempted) > cfg.day_hard_max;
    if (complaints_bad || hard_bad) return DayVerdict::kBad;
  }
  if (attempted >= cfg.day_clean_volume) return DayVerdict::kClean;
  return DayVerdict::kUnjudged;
}

TierState StepTier(TierState state, const DayBuckets& buckets, int64_t today,
                   const ReputationConfig& cfg) {
  const int step = std::max(1, cfg.clean_days_per_step);
  state.tier = std::clamp(state.tier, kMinTier, kMaxTier);
  // A state with more clean days than a (since lowered) step steps up on its
  // next clean day; clamping here also keeps clean_days + 1 from overflowing.
  state.clean_days = std::clamp(state.clean_days, 0, step - 1);
  if (today == INT64_MIN) return state;  // no complete day before it

  DayBuckets days;
  for (const auto& b : buckets) {
    if (b.first > state.rated_through && b.first < today) days.push_back(b);
  }
  std::sort(days.begin(), days.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  for (size_t i = 0; i < days.size();) {
    DayCounts sum = days[i].second;
    size_t j = i + 1;
    for (; j < days.size() && days[j].first == days[i].first; ++j) sum += days[j].second;
    i = j;
    switch (JudgeDay(sum, cfg)) {
      case DayVerdict::kUnjudged:
        break;
      case DayVerdict::kClean:
        if (++state.clean_days >= step) {
          state.tier = std::min(state.tier + 1, kMaxTier);
          state.clean_days = 0;
        }
        break;
      case DayVerdict::kBad:
        state.tier = std::max(state.tier - 1, kMinTier);
        state.clean_days = 0;
        break;
    }
  }
  state.rated_through = std::max(state.rated_through, today - 1);
  return state;
}

uint64_t ApplyTier(uint64_t limit, int tier, const ReputationConfig& cfg) {
  if (limit == kUnlimited) return kUnlimited;
  constexpr uint64_t kCap = kUnlimited - 1;
  const double m =
      cfg.tier_multipliers[static_cast<size_t>(std::clamp(tier, kMinTier, kMaxTier) - 1)];
  if (!(m > 0) || !std::isfinite(m)) return limit;
  // Exact floor(limit * m): m = mant * 2^exp with a 53-bit integer mant, and
  // limit * mant < 2^117 fits in 128 bits.
  int e = 0;
  const double f = std::frexp(m, &e);  // m = f * 2^e, f in [0.5, 1)
  const auto mant = static_cast<uint64_t>(std::ldexp(f, 53));
  const int shift = e - 53;
  const unsigned __int128 product = static_cast<unsigned __int128>(limit) * mant;
  unsigned __int128 result = 0;
  if (shift >= 0) {
    if (product == 0) return 0;
    if (shift >= 64 || product > (static_cast<unsigned __int128>(kCap) >> shift)) return kCap;
    result = product << shift;
  } else {
    const int right = -shift;
    result = right >= 128 ? 0 : product >> right;
  }
  return result > kCap ? kCap : static_cast<uint64_t>(result);
}

std::string_view SuspendReasonName(SuspendReason r) {
  switch (r) {
    case SuspendReason::kNone:
      return "none";
    case SuspendReason::kComplaintRate:
      return "complaint-rate";
    case SuspendReason::kHardBounceRate:
      return "hard-bounce-rate";
    case SuspendReason::kComplaintWhileReinstated:
      return "complaint-while-reinstated";
  }
  return "unknown";
}

SuspendDecision DecideSuspension(const Rates& rates, AccountStatus effective_status,
                                 uint64_t new_complaints, const ReputationConfig& cfg) {
  SuspendDecision d;
  switch (effective_status) {
    case AccountStatus::kSuspended:
      return d;
    case AccountStatus::kReinstated:
      if (new_complaints > 0) {
        d.reason = SuspendReason::kComplaintWhileReinstated;
        d.detail = std::to_string(new_complaints) +
                   (new_complaints == 1 ? " complaint" : " complaints") + " while reinstated";
      }
      return d;
    case AccountStatus::kActive:
      break;
  }
  // Built only when a rule fires: this runs for every review.
  auto range = [&rates] { return DayString(rates.first_day) + ".." + DayString(rates.last_day); };
  const DayCounts& t = rates.totals;
  if (t.delivered >= cfg.min_volume && rates.complaint_rate > cfg.suspend_complaint_rate) {
    d.reason = SuspendReason::kComplaintRate;
    d.detail = "complaint rate " + Percent(rates.complaint_rate, cfg.suspend_complaint_rate) +
               " (" + std::to_string(t.complaints) + " of " + std::to_string(t.delivered) +
               " delivered) over " + range() + " exceeds " +
               PercentOfThreshold(cfg.suspend_complaint_rate);
    return d;
  }
  const uint64_t attempted = t.attempted();
  if (attempted >= cfg.min_volume && rates.hard_rate > cfg.suspend_hard_rate) {
    d.reason = SuspendReason::kHardBounceRate;
    d.detail = "hard-bounce rate " + Percent(rates.hard_rate, cfg.suspend_hard_rate) + " (" +
               std::to_string(t.hard) + " of " + std::to_string(attempted) + " attempted) over " +
               range() + " exceeds " + PercentOfThreshold(cfg.suspend_hard_rate);
  }
  return d;
}

std::string DayString(int64_t day) {
  // civil_from_days (H. Hinnant, "chrono-Compatible Low-Level Date
  // Algorithms"), in 128 bits so that every int64 day is in range.
  using i128 = __int128;
  const i128 z = static_cast<i128>(day) + 719468;
  const i128 era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<int64_t>(z - era * 146097);                    // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);               // [1, 31]
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);                  // [1, 12]
  // |year| < 2^55 for any int64 day.
  const auto y = static_cast<int64_t>(yoe + era * 400 + (m <= 2 ? 1 : 0));
  char buf[48];
  if (y < 0) {
    std::snprintf(buf, sizeof buf, "-%04" PRId64 "-%02d-%02d", -y, m, d);
  } else {
    std::snprintf(buf, sizeof buf, "%04" PRId64 "-%02d-%02d", y, m, d);
  }
  return buf;
}

}  // namespace senderguard
