#include "senderguard/store/feedback_rules.h"

#include <algorithm>
#include <unordered_set>

namespace senderguard {

namespace {
const std::string kNoAccount;
}  // namespace

void AddCounts(DayCountsRecord* to, const DayCountsRecord& d) {
  auto add = [](uint64_t* a, uint64_t b) { *a = (*a > UINT64_MAX - b) ? UINT64_MAX : *a + b; };
  add(&to->delivered, d.delivered);
  add(&to->deferred, d.deferred);
  add(&to->hard, d.hard);
  add(&to->soft, d.soft);
  add(&to->technical, d.technical);
  add(&to->expired, d.expired);
  add(&to->complaints, d.complaints);
  add(&to->quota_used, d.quota_used);
  add(&to->refused, d.refused);
  if (d.tier != 0) to->tier = d.tier;
}

std::map<std::pair<std::string, int64_t>, DayCountsRecord> SumSendingDays(
    const std::vector<SendingDay>& days) {
  std::map<std::pair<std::string, int64_t>, DayCountsRecord> sums;
  for (const auto& s : days) {
    const std::string& account = s.account.size() > 400 ? kNoAccount : s.account;
    DayCountsRecord delta;
    delta.quota_used = s.quota_used;
    delta.refused = s.refused;
    delta.tier = s.tier;
    AddCounts(&sums[{account, std::max<int64_t>(s.day, 0)}], delta);
  }
  return sums;
}

FeedbackSums SumFeedback(const FeedbackBatch& batch) {
  FeedbackSums sums;
  sums.newest_day = std::max<int64_t>(DayNumber(batch.now), 0);
  for (const auto& e : batch.events) {
    const int64_t day = std::max<int64_t>(DayNumber(e.time), 0);
    // Account names are at most 255 bytes (identity.h); anything longer
    // cannot be a key and is counted as unattributed rather than failing
    // the batch (and every retry of it).
    const std::string& account = e.account.size() > 400 ? kNoAccount : e.account;
    AddCounts(&sums.days[{account, day}], e.delta);
    if (!account.empty()) sums.complaints[account] += e.delta.complaints;
  }
  return sums;
}

bool CountsHardBounce(const FeedbackEvent& e, const FeedbackBatch& batch) {
  return !e.hard_recipient.empty() && batch.suppress_after > 0 && e.hard_recipient.size() < 500;
}

std::optional<SuppressionRecord> CountHardBounce(const FeedbackEvent& e,
                                                 const FeedbackBatch& batch, BounceRecord* b) {
  b->address = e.hard_recipient;
  b->count = b->count == UINT32_MAX ? b->count : b->count + 1;
  b->last_account = e.account;
  b->last_category = e.category;
  b->last_time = e.time;
  if (b->count < batch.suppress_after) return std::nullopt;
  SuppressionRecord r;
  r.address = e.hard_recipient;
  r.reason = std::to_string(b->count) + " hard bounces (" + e.category + "), last for " +
             (e.account.empty() ? std::string("an unknown account") : e.account);
  r.actor = batch.actor;
  r.since = batch.now;
  return r;
}

std::optional<SuppressionRecord> ComplaintSuppression(const FeedbackEvent& e,
                                                      const FeedbackBatch& batch) {
  if (e.complainer.empty() || e.account.empty() || e.complainer.size() >= 400) return std::nullopt;
  SuppressionRecord r;
  r.account = e.account;
  r.address = e.complainer;
  r.reason = "spam complaint";
  r.actor = batch.actor;
  r.since = batch.now;
  return r;
}

AuditEntry SuppressionAudit(const SuppressionRecord& r, const FeedbackBatch& batch) {
  AuditEntry a;
  a.time_us = batch.now * 1000000;
  a.actor = batch.actor;
  a.action = "suppress-add";
  a.account = r.account;
  a.detail = r.address + ": " + r.reason;
  return a;
}

std::map<std::string, int64_t> AccountsToReview(const FeedbackBatch& batch,
                                                const FeedbackSums& sums) {
  std::map<std::string, int64_t> accounts;
  std::unordered_set<std::string_view> only;
  if (batch.review_only) only.insert(batch.review_only->begin(), batch.review_only->end());
  for (const auto& [key, delta] : sums.days) {
    if (key.first.empty()) continue;
    if (batch.review_only && only.count(key.first) == 0) continue;
    auto& d = accounts[key.first];
    d = std::max({d, key.second, sums.newest_day});
  }
  return accounts;
}

int64_t ReviewFirstDay(const FeedbackBatch& batch, int64_t last_day) {
  return last_day - std::max(batch.review_days, 1) + 1;
}

}  // namespace senderguard
