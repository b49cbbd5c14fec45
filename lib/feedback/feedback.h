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
// line, or by a null sender the milter never saw), nor are address
// verification probes ("deliverable", "undeliverable"); both are still
// handed to the caller's outcomes, with the origin that says why they count
// for no account.
//
// Not thread-safe: one engine per tailer thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <cctz/time_zone.h>

#include "senderguard/feedback/bounce.h"
#include "senderguard/feedback/postfix_log.h"
#include "senderguard/feedback/queue_cache.h"
#include "senderguard/decide/reputation.h"
#include "senderguard/store/store.h"

namespace senderguard {

struct FeedbackSettings {
  uint32_t suppress_after = 3;      // hard bounces before a global suppression; 0 = never
  ReputationConfig reputation;
  cctz::time_zone tz = cctz::utc_time_zone();  // of RFC 3164 timestamps
  std::string actor = "senderguard-tail";
  // An account is reviewed (tier, suspension) when a chunk counts a hard
  // bounce, expiry or complaint for it, and otherwise at most this often.
  int64_t review_every_s = 60;
  // pipe(8) transports (master.cf service names, as logged in relay=) that
  // are content filters re-injecting the message: a "sent" through one is a
  // hop, and the re-injected copy is followed by its Message-ID.
  std::vector<std::string> filter_transports;
};

// Why a delivery outcome counts for no account (--print's "origin").
enum class OutcomeOrigin : uint8_t {
  kAccount = 0,    // counted for Outcome::account
  kUnattributed,   // a queue id the milter never recorded: counted for no account
  kPostfixNotice,  // Postfix's own mail, not counted: a bounce, delay or DSN notice,
                   // the postmaster's copy, or a null-sender message the milter never saw
  kAddressProbe,   // "deliverable" / "undeliverable": an address verification probe
                   // (reject_unverified_*, sendmail -bv), not a delivery; not counted
  kUnknownStatus,  // a status word this build does not read; not counted
};
// "account", "unattributed", "postfix-notice", "address-probe", "unknown-status".
std::string_view OutcomeOriginName(OutcomeOrigin o);

// One delivery outcome, as `senderguard-tail --print` shows it: every
// delivery line of the log (and qmgr's expiry line), counted or not.
struct Outcome {
  std::string queue_id, recipient, account;  // account "": counts for no account
  std::string status, dsn, reply, relay;
  OutcomeClass cls = OutcomeClass::kDelivered;
  BounceCategory category = BounceCategory::kNone;
  OutcomeOrigin origin = OutcomeOrigin::kAccount;
  bool classified = true;  // false for probes and unknown words: cls and category mean nothing
  bool hop = false;        // handed to a local content filter: not counted
  bool cut = false;        // the line was cut inside the reply (PostfixLine::cut)
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
  uint64_t cut = 0;  // delivery lines read as cut (PostfixLine::cut)
  uint64_t outcomes = 0, unattributed = 0, hops = 0, linked = 0;
  uint64_t link_lookups = 0;  // Message-ID searches for stubs (at most one per stub)
  uint64_t queue_reads = 0;   // queue ids Apply read from the store (not read ahead)
};

// A chunk of lines parsed and classified, in log order: the part of the
// engine's work that needs no state (LineParser), so that a tailer can run
// it on another thread than the attribution (FeedbackEngine::Apply). The
// views in `items` point into the lines given to LineParser::Parse: those
// bytes must outlive the chunk.
struct ParsedChunk {
  struct Item {
    PostfixLine p;
    int64_t time = 0;
    Classification cl;  // kDelivery lines whose status is a delivery; else default
    // A "sent" delivery whose reply says "queued as ID" with ID shaped like
    // a queue id: ID (a view into the reply); else empty.
    std::string_view queued_as{};
    // detail::QueueIdHash of p.queue_id, p.new_queue_id and queued_as,
    // computed here rather than on the attribution thread.
    uint64_t queue_id_hash = 0, new_queue_id_hash = 0, queued_as_hash = 0;
  };
  std::vector<Item> items;  // only the lines the engine reads
  int64_t now = 0;          // the reading time given to Parse
  // lines, used, malformed, bad_bytes, too_long, cut of these lines.
  EngineStats counts;
  // Queue-map entries read ahead of Apply (FeedbackEngine::Prefetch): the
  // chunk's queue ids sorted by (QueueIdHash, id), their hashes, and what
  // the store held for each.
  bool prefetched = false;
  std::vector<uint64_t> prefetch_hashes;
  std::vector<std::string> prefetch_ids;
  std::vector<std::optional<QueueEntry>> prefetch_entries;
};

// Parses and classifies lines for FeedbackEngine::Apply. Keeps only a
// cache of the last timestamp converted. Not thread-safe: one per thread;
// `rules` (immutable) may be shared and must outlive the parser.
class LineParser {
 public:
  LineParser(const BounceRules* rules, cctz::time_zone tz);

  // Replaces *out with `lines` read at `now`. Never fails: lines that are
  // not read are counted in out->counts. = ParseLines + Classify.
  void Parse(const std::vector<RawLine>& lines, int64_t now, ParsedChunk* out);
  // The same in two halves, so that a tailer can run them on two threads:
  // everything but the bounce classification, then the classification.
  void ParseLines(const std::vector<RawLine>& lines, int64_t now, ParsedChunk* out);
  void Classify(ParsedChunk* chunk) const;
  // Whether deferrals get a category. Counting needs only their class
  // (deferred, whatever the text): a caller that keeps no outcome (the
  // tailer committing) turns it off and saves the rules' pass over ~60% of
  // the texts. On by default (--print shows the category).
  void set_categorize_deferrals(bool on) { categorize_deferrals_ = on; }

 private:
  const BounceRules* rules_;
  cctz::time_zone tz_;
  bool categorize_deferrals_ = true;
  // The Unix time of a syslog timestamp read at `now` (`now` if unreadable).
  int64_t TimeOf(std::string_view ts, int64_t now);
  // TimeOf's cache: the last "Mmm dd hh:mm" converted, at which now, and
  // whether its seconds simply add to the time of its second 0 (minute_base_).
  std::string minute_key_;
  int64_t minute_now_ = 0;
  int64_t minute_base_ = 0;
  bool minute_ok_ = false;
  // ISO timestamps: "YYYY-MM-DDTHH:MM:" + offset of the last minute
  // converted, and the time of its second 0 (iso_ok_: a valid date).
  std::string iso_key_;
  int64_t iso_base_ = 0;
  bool iso_ok_ = false;
  std::string last_ts_;  // other timestamps: the last converted, at which now, its value
  int64_t last_ts_now_ = 0;
  int64_t last_ts_value_ = 0;
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

  // The same in two halves: `chunk` from a LineParser (with the same rules
  // and time zone), chunks in log order. Process = LineParser::Parse +
  // Apply. On failure (the store cannot be read) nothing was appended or
  // counted, and the same chunk should be applied again.
  // The entries read ahead are moved out of `chunk` as they are taken.
  Status Apply(ParsedChunk& chunk, FeedbackBatch* batch, std::vector<Outcome>* outcomes);

  const EngineStats& stats() const { return stats_; }

  // Reads ahead of Apply, on any thread (the store's reads are thread-safe),
  // the queue-map entries of every queue id in `chunk` (Postfix's own
  // notices aside). Apply then takes the entries it has not cached from the
  // chunk rather than from the store, so the reads leave the attribution
  // thread. A read ahead may miss an entry written since; Apply reads again
  // when it needs to (a stub still waiting for the milter's entry is looked
  // up at its next line). On failure chunk->prefetched stays false and Apply
  // reads the store itself.
  static Status Prefetch(Store* store, ParsedChunk* chunk);

  // Queued messages whose deferred recipients are remembered (for the count
  // of an expiry) at most; Store::GetDeferred reads at most this many back.
  static constexpr size_t kMaxPendingMessages = 100000;
  // The deferred recipients the batches stored (Store::GetDeferred), read
  // back at start, so that an expiry after a restart counts them all.
  // Records older than a week are dropped (deleted with the next batch).
  void RestorePending(const std::vector<DeferredRecord>& stored, int64_t now);

 private:
  // The queue-id cache and its entries (queue_cache.h).
  using Cached = detail::CachedQueueEntry;
  // Caches the entries of `wanted` ((QueueIdHash, id) pairs): from `ahead`
  // where it read them, else from the store.
  Status Lookup(const std::vector<std::pair<uint64_t, std::string_view>>& wanted,
                ParsedChunk* ahead);
  Cached* Find(std::string_view qid, uint64_t h) { return cache_.Find(qid, h); }
  Cached* Find(std::string_view qid) { return cache_.Find(qid, detail::QueueIdHash(qid)); }
  void Remember(QueueEntry q, bool stub);
  bool Link(Cached* c, FeedbackBatch* batch);

  Store* store_;
  FeedbackSettings settings_;
  EngineStats stats_;
  LineParser parser_;  // holds the rules
  detail::QueueCache cache_;
  // The log time since which every message-id line applied is in cache_
  // (kNever: none applied since the start or since cache_ was emptied).
  static constexpr int64_t kNever = INT64_MAX;
  int64_t cache_since_ = kNever;
  // Recipients deferred and not yet final, per queue id (for "expired"),
  // written with each batch (FeedbackBatch::deferred) as they change.
  detail::QueueIdMap<detail::Unit> pending_dirty_;  // queue ids changed in this chunk
  std::vector<std::string> pending_dirty_ids_;
  detail::QueueIdMap<std::unordered_set<std::string>> pending_;
  detail::QueueIdMap<detail::Unit> notices_;      // queue ids of Postfix's own notices
  detail::QueueIdMap<detail::Unit> null_sender_;  // queue ids qmgr saw with from=<>
  std::unordered_map<std::string, int64_t> reviewed_;  // account -> when last asked for a review
  ParsedChunk parsed_;  // Process's buffer
  std::vector<Cached*> hints_;  // Apply's, per item of the chunk
  std::vector<std::pair<uint64_t, std::string_view>> removed_;  // Apply's: erased at its end
  // Queue ids removed (and erased from cache_) in the last one to two hours
  // of log, in two generations: a content filter's "queued as ID" may be
  // logged after ID's own "removed" line, and is a hop all the same.
  detail::QueueIdMap<detail::Unit> gone_, gone_before_;
  int64_t gone_since_ = kNever;  // log time gone_ began
  bool Gone(std::string_view id, uint64_t h) {
    return gone_.Contains(id, h) || gone_before_.Contains(id, h);
  }
  std::vector<std::pair<uint64_t, std::string_view>> wanted_;  // Apply's, ids to read (scratch)
  // Apply's: account -> (day, index in the batch's events) of its summed counts.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::vector<std::pair<int64_t, size_t>>, NameHash,
                     std::equal_to<>>
      summed_;
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
