// The account review (feedback.h): ReviewAccount, an account's tier and
// suspension from its stored days, for every account a batch counts for
// (Store::ApplyFeedback, from senderguard-tail and senderguard-arf); and
// AccountRates, its reputation for `senderguardctl show`. Pure: no store,
// clock or log.
#include "senderguard/feedback/feedback.h"

#include <algorithm>
#include <climits>

#include "senderguard/decide/account_state.h"
#include "senderguard/base/kvlog.h"

namespace senderguard {

DayCounts ToDayCounts(const DayCountsRecord& r) {
  DayCounts d;
  d.delivered = r.delivered;
  d.deferred = r.deferred;
  d.hard = r.hard;
  d.soft = r.soft;
  d.technical = r.technical;
  d.expired = r.expired;
  d.complaints = r.complaints;
  return d;
}

DayCountsRecord ToRecord(const DayCounts& d) {
  return DayCountsRecord{d.delivered, d.deferred, d.hard, d.soft, d.technical, d.expired,
                         d.complaints};
}

namespace {
DayBuckets ToBuckets(const StoredDays& days) {
  DayBuckets b;
  b.reserve(days.size());
  for (const auto& [day, counts] : days) b.emplace_back(day, ToDayCounts(counts));
  return b;
}
int64_t SinceDay(const AccountRecord& a) {
  return a.rates_since > 0 ? DayNumber(a.rates_since) + 1 : INT64_MIN;
}
}  // namespace

Rates AccountRates(const ReputationConfig& cfg, int64_t now, const AccountRecord& account,
                   const StoredDays& days) {
  return ComputeRates(ToBuckets(days), DayNumber(now), SinceDay(account), cfg);
}

void ReviewAccount(const ReputationConfig& cfg, int64_t now, const std::string& actor,
                   AccountRecord* a, const StoredDays& days, uint64_t batch_complaints,
                   ReviewOutcome* out) {
  const DayBuckets buckets = ToBuckets(days);
  const int64_t today = DayNumber(now);
  TierState ts{a->tier, static_cast<int>(std::min<uint32_t>(a->clean_days, INT_MAX)),
               a->rated_through};
  if (ts.rated_through == 0 && a->created > 0) ts.rated_through = DayNumber(a->created) - 1;
  const TierState next = StepTier(ts, buckets, today, cfg);
  if (next.tier != a->tier) {
    AuditEntry e;
    e.time_us = now * 1000000;
    e.actor = actor;
    e.action = "tier";
    e.account = a->name;
    e.detail = "tier " + std::to_string(a->tier) + " -> " + std::to_string(next.tier);
    out->audit.push_back(e);
    out->alerts.push_back("account=" + KvEscape(a->name) + " action=tier from=" +
                          std::to_string(a->tier) + " to=" + std::to_string(next.tier));
  }
  a->tier = static_cast<uint8_t>(next.tier);
  a->clean_days = static_cast<uint32_t>(std::max(0, next.clean_days));
  a->rated_through = next.rated_through;

  const Rates rates = ComputeRates(buckets, today, SinceDay(*a), cfg);
  const EffectiveState eff = EffectiveAt(*a, now);
  const SuspendDecision d = DecideSuspension(rates, eff.status, batch_complaints, cfg);
  if (d.reason == SuspendReason::kNone) return;
  const std::string reason = std::string(SuspendReasonName(d.reason)) + ": " + d.detail;
  Suspend(a, reason, actor, now);
  AuditEntry e;
  e.time_us = now * 1000000;
  e.actor = actor;
  e.action = "suspend";
  e.account = a->name;
  e.detail = reason;
  out->audit.push_back(e);
  out->alerts.push_back("account=" + KvEscape(a->name) + " action=suspend reason=" +
                        std::string(SuspendReasonName(d.reason)) +
                        " complaint_rate=" + std::to_string(rates.complaint_rate) +
                        " hard_rate=" + std::to_string(rates.hard_rate) +
                        " delivered=" + std::to_string(rates.totals.delivered) +
                        " detail=" + KvEscape(d.detail));
}

}  // namespace senderguard
