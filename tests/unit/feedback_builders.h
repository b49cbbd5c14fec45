// Builders of delivery-feedback records and batches, and their comparison
// and display, shared by the tests of the feedback engine and of the stores'
// ApplyFeedback (feedback_test, lmdb_feedback_test, pg_feedback_test,
// store_contract_test).
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "senderguard/model/records.h"
#include "senderguard/store/store.h"

namespace senderguard::feedback_builders {

inline constexpr int64_t kNow = 1'795'622'400;  // 2026-11-25 16:00:00 UTC
inline constexpr int64_t kToday = kNow / 86400;

inline auto Tie(const DayCountsRecord& d) {
  return std::make_tuple(d.delivered, d.deferred, d.hard, d.soft, d.technical, d.expired,
                         d.complaints, d.quota_used, d.refused, d.tier);
}
inline bool Same(const DayCountsRecord& a, const DayCountsRecord& b) { return Tie(a) == Tie(b); }
inline std::string Show(const DayCountsRecord& d) {
  return "{dl=" + std::to_string(d.delivered) + " df=" + std::to_string(d.deferred) +
         " h=" + std::to_string(d.hard) + " s=" + std::to_string(d.soft) +
         " t=" + std::to_string(d.technical) + " x=" + std::to_string(d.expired) +
         " c=" + std::to_string(d.complaints) + " u=" + std::to_string(d.quota_used) +
         " r=" + std::to_string(d.refused) + " tier=" + std::to_string(d.tier) + "}";
}
inline std::string Show(const StoredDays& days) {
  std::string s;
  for (const auto& [day, d] : days) s += std::to_string(day) + ":" + Show(d) + " ";
  return s;
}

// One event of `account` at `time` counting `delta`.
inline FeedbackEvent Ev(std::string account, int64_t time, DayCountsRecord delta) {
  FeedbackEvent e;
  e.account = std::move(account);
  e.time = time;
  e.delta = delta;
  return e;
}
// A hard bounce of `rcpt` (recipient-unknown).
inline FeedbackEvent Hard(std::string account, std::string rcpt, int64_t time = kNow) {
  FeedbackEvent e = Ev(std::move(account), time, {0, 0, 1, 0, 0, 0, 0});
  e.hard_recipient = std::move(rcpt);
  e.category = "recipient-unknown";
  return e;
}
// A complaint by `who`.
inline FeedbackEvent Complaint(std::string account, std::string who, int64_t time = kNow) {
  FeedbackEvent e = Ev(std::move(account), time, {0, 0, 0, 0, 0, 0, 1});
  e.complainer = std::move(who);
  return e;
}
// A queue entry as the milter commits it, to one recipient.
inline QueueEntry Q(std::string qid, std::string account, int64_t time, std::string msgid = "",
                    std::string rcpt = "r@example.org") {
  QueueEntry q;
  q.queue_id = std::move(qid);
  q.account = std::move(account);
  q.time = time;
  q.recipients = {std::move(rcpt)};
  q.message_id = std::move(msgid);
  return q;
}
// A batch of the tailer (actor "test-tail").
inline FeedbackBatch Batch(std::vector<FeedbackEvent> events, int64_t now = kNow) {
  FeedbackBatch b;
  b.events = std::move(events);
  b.now = now;
  b.actor = "test-tail";
  return b;
}
// A batch of one complaint, applied once under `key`.
inline FeedbackBatch Once(std::string key, std::string account = "alice",
                          std::string who = "c@example.org", int64_t now = kNow) {
  FeedbackBatch b = Batch({Complaint(std::move(account), std::move(who), now)}, now);
  b.once_key = std::move(key);
  return b;
}

}  // namespace senderguard::feedback_builders
