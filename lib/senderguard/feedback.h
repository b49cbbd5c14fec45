// Delivery feedback: Postfix's log lines in, what to count out.
//
// FeedbackEngine turns chunks of log lines into a FeedbackBatch for
// Store::ApplyFeedback: each delivery outcome classified (bounce.h),
// attributed to the account the milter recorded for its queue id (the queue
// map), and the queue-map entries to write. It reads the store (one lookup
// per chunk for the queue ids it has not cached) but never writes it: the
// caller commits the batch with its source position, so counts and position
// land together or not at all.
//
// Attribution:
//   - by queue id through the queue map, written by the milter at end of
//     message, before Postfix can log any delivery of it;
//   - a queue id the milter never saw (re-queued by a content filter) by
//     its Message-ID: cleanup's "message-id=" line leaves a stub entry, and
//     at its first outcome the stub is linked to the newest entry with the
//     same Message-ID that has an account (that entry is marked forwarded);
//   - a "sent" whose reply says "queued as ID" where ID is a queue id of this
//     Postfix is a hop to a content filter, not a delivery: not counted, and
//     ID is linked to the account at once;
//   - otherwise the outcome is counted as unattributed (account "").
// Bounce notices Postfix queues about a message are its own mail: their
// outcomes are not counted (known by the bounce daemon's "notification"
// line, or by a null sender the milter never saw).
//
// Not thread-safe: one engine per tailer thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <cctz/time_zone.h>

#include "senderguard/bounce.h"
#include "senderguard/postfix_log.h"
#include "senderguard/reputation.h"
#include "senderguard/store.h"

namespace senderguard {

struct FeedbackSettings {
  uint32_t suppress_after = 3;      // hard bounces before a global suppression; 0 = never
  ReputationConfig reputation;
  cctz::time_zone tz = cctz::utc_time_zone();  // of RFC 3164 timestamps
  std::string actor = "senderguard-tail";
  // An account is reviewed (tier, suspension) when a chunk counts a hard
  // bounce, expiry or complaint for it, and otherwise at most this often.
  int64_t review_every_s = 60;
};

// One delivery outcome, as `senderguard-tail --print` shows it.
struct Outcome {
  std::string queue_id, recipient, account;  // account "" = unattributed
  std::string status, dsn, reply, relay;
  OutcomeClass cls = OutcomeClass::kDelivered;
  BounceCategory category = BounceCategory::kNone;
  bool hop = false;  // handed to a local content filter: not counted
  int64_t time = 0;
};

// One line to read: a whole syslog/maillog_file line (program empty), or a
// journal entry's SYSLOG_IDENTIFIER and MESSAGE with its time.
struct RawLine {
  std::string_view text;
  std::string_view program;  // empty: `text` is a whole line
  int64_t time = 0;          // journal: its time; lines: 0 (read from the line)
};

struct EngineStats {
  uint64_t lines = 0, used = 0, malformed = 0, bad_bytes = 0, too_long = 0;
  uint64_t outcomes = 0, unattributed = 0, hops = 0, linked = 0;
};

class FeedbackEngine {
 public:
  // `store` may be null (nothing is attributed then); `rules` must outlive
  // the engine.
  FeedbackEngine(Store* store, const BounceRules* rules, FeedbackSettings settings);

  // Reads `lines` (complete lines, in log order) and appends what they count
  // to `batch` (events, queue-map entries) and, when not null, every
  // delivery outcome to `outcomes`. `now` is the reading time. Fails only
  // when the store cannot be read; then nothing was appended and the chunk
  // should be retried.
  Status Process(const std::vector<RawLine>& lines, int64_t now, FeedbackBatch* batch,
                 std::vector<Outcome>* outcomes);

  const EngineStats& stats() const { return stats_; }

 private:
  struct Cached {
    QueueEntry entry;
    bool stub = false;  // written by us from a message-id line, no account yet
  };
  Status Lookup(const std::vector<std::string>& ids);
  Cached* Find(std::string_view qid);
  void Remember(const QueueEntry& q, bool stub);
  bool Link(Cached* c, FeedbackBatch* batch);

  Store* store_;
  const BounceRules* rules_;
  FeedbackSettings settings_;
  EngineStats stats_;
  std::unordered_map<std::string, Cached> cache_;
  // Recipients deferred and not yet final, per queue id (for "expired").
  std::unordered_map<std::string, std::unordered_set<std::string>> pending_;
  std::unordered_set<std::string> notices_;  // queue ids of Postfix's own notices
  std::unordered_set<std::string> null_sender_;  // queue ids qmgr saw with from=<>
  std::unordered_map<std::string, int64_t> reviewed_;  // account -> when last asked for a review
  std::string last_ts_;    // the last syslog timestamp converted ...
  int64_t last_ts_value_ = 0;  // ... and its value (the text changes once a second)
};

// The review Store::ApplyFeedback runs for every account a batch counted for:
// steps the tier (reputation.h StepTier) and suspends the account when
// DecideSuspension says so, with the reason and figures in the record, an
// audit entry and an alert line. Pure: a function of its arguments.
void ReviewAccount(const ReputationConfig& cfg, int64_t now, const std::string& actor,
                   AccountRecord* account, const StoredDays& days, uint64_t batch_complaints,
                   ReviewOutcome* out);

// The reputation of an account at `now` from its stored days (for `show`).
Rates AccountRates(const ReputationConfig& cfg, int64_t now, const AccountRecord& account,
                   const StoredDays& days);

DayCounts ToDayCounts(const DayCountsRecord& r);
DayCountsRecord ToRecord(const DayCounts& d);

}  // namespace senderguard
