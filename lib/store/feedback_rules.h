// How a FeedbackBatch turns into record changes: the pure part of
// Store::ApplyFeedback, shared by every backend so they cannot drift. A
// backend reads and writes the records; these functions decide what the
// records become. No I/O, no clock; thread-compatible (no shared state).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "senderguard/model/records.h"
#include "senderguard/store/store.h"

namespace senderguard {

// Adds `d` into `*to` count by count, saturating at UINT64_MAX; `d`'s tier
// replaces `to`'s when it is not 0 (the tailer's deltas carry none, so they
// keep the milter's).
void AddCounts(DayCountsRecord* to, const DayCountsRecord& d);

// Store::AddSendingDays' input summed per (account, UTC day) before any
// record is read, as DayCountsRecord deltas (quota_used, refused, tier; the
// last non-zero tier of a key wins). The same keys as SumFeedback's: days
// before 1970 count on day 0, a name over 400 bytes under "".
std::map<std::pair<std::string, int64_t>, DayCountsRecord> SumSendingDays(
    const std::vector<SendingDay>& days);

// A batch's counts summed before any record is read: one read-modify-write
// per bucket.
struct FeedbackSums {
  // (account, UTC day) -> what to add. Days before 1970 count on day 0; an
  // account name over 400 bytes (names are at most 255, identity.h) counts
  // under "" rather than failing the batch and every retry of it.
  std::map<std::pair<std::string, int64_t>, DayCountsRecord> days;
  std::map<std::string, uint64_t> complaints;  // per account, not ""
  int64_t newest_day = 0;                      // day of batch.now (at least 0)
};
FeedbackSums SumFeedback(const FeedbackBatch& batch);

// Whether `e` counts a hard bounce toward global suppression in `batch`.
bool CountsHardBounce(const FeedbackEvent& e, const FeedbackBatch& batch);
// Counts `e`'s hard bounce into `*b` (the address's stored record, or a
// fresh one). Returns the global suppression to add when the count has
// reached batch.suppress_after (again after a manual removal).
// REQUIRES: CountsHardBounce(e, batch).
std::optional<SuppressionRecord> CountHardBounce(const FeedbackEvent& e,
                                                 const FeedbackBatch& batch, BounceRecord* b);
// The account's suppression of `e`'s complainer, or nullopt when `e` has
// none (or names no account).
std::optional<SuppressionRecord> ComplaintSuppression(const FeedbackEvent& e,
                                                      const FeedbackBatch& batch);
// The audit entry written with a suppression the batch adds. A suppression
// already stored (global or of that account) is kept with its first reason:
// no entry, nothing reported.
AuditEntry SuppressionAudit(const SuppressionRecord& r, const FeedbackBatch& batch);

// The accounts to review (not "", filtered by batch.review_only), each with
// the last day of its review window: the newest of its counted days and the
// day of batch.now. The window is ReviewFirstDay(batch, last)..last.
std::map<std::string, int64_t> AccountsToReview(const FeedbackBatch& batch,
                                                const FeedbackSums& sums);
int64_t ReviewFirstDay(const FeedbackBatch& batch, int64_t last_day);

}  // namespace senderguard
