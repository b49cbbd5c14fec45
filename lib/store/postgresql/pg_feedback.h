// PgFeedback: delivery feedback of every node in PostgreSQL (PgStore's
// part; internal). ApplyFeedback writes the batch's counts, bounce counts,
// suppressions, reviews (decided on the fleet's counts), audit, once-key
// and the node's log position in one PostgreSQL transaction, after the
// queue-map entries and deferred recipients, which stay in the node's
// LMDB (queue ids are per MTA; writing them first and idempotently means a
// crash between the two replays the batch, which then counts once).
//
// Beyond store.h, because a network store can lose the answer to a COMMIT:
// - a batch with a source whose position equals the one stored for (node,
//   source) was committed already, and writes nothing (result.duplicate);
//   the tailer's batches always move the position, so this is how its retry
//   of a batch whose COMMIT may have landed counts once;
// - a batch with a once_key already recorded writes nothing, not even the
//   node's part (checked before it is written).
// Keys PostgreSQL (or the nodes' caches) cannot hold (not UTF-8, a NUL,
// too long: pg_records.h): an account name counts under "" (as names over
// 400 bytes do), a bounced address is not counted, a suppression is not
// added. Free text, and a tailer's source and position (opaque bytes), are
// stored through PgEncodeText, reversibly. So a batch never fails for its
// text, except for a source name over 1024 bytes once encoded (kInvalid,
// before anything is written). Counts saturate at INT64_MAX in the
// database and read back as UINT64_MAX.
//
// Errors: kUnavailable when PostgreSQL cannot be reached or the connection
// broke (nothing written there; the node's part is written only once the
// transaction has begun and found no duplicate), kIo/kInvalid for a
// statement the server refused. The
// transaction is retried on serialization failures and deadlocks. Thread
// safe (one pooled connection per call).
#pragma once

#include "senderguard/base/kvlog.h"
#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/postgresql/pg_conn.h"
#include "senderguard/store/postgresql/pg_store.h"

namespace senderguard {

struct FeedbackSums;  // feedback_rules.h

class PgFeedback {
 public:
  // *pool, *local and *options must outlive this.
  PgFeedback(PgPool* pool, LmdbStore* local, const PgStoreOptions* options)
      : pool_(pool), local_(local), options_(options) {}

  Result<FeedbackResult> ApplyFeedback(const FeedbackBatch& batch, const AccountReview& review);
  // Positions are the node's: (node, source) in PostgreSQL.
  Result<std::optional<std::string>> GetPosition(std::string_view source);
  // The fleet's counts.
  Result<StoredDays> GetDays(std::string_view account, int64_t first_day, int64_t last_day);
  Result<std::optional<BounceRecord>> GetBounces(std::string_view address);
  // The milter's figures (Store::AddSendingDays): one statement, an upsert
  // that adds, rows in (account, day) byte order as ApplyFeedback locks
  // them. Names PostgreSQL cannot hold count under "", as above.
  Status AddSendingDays(const std::vector<SendingDay>& days);

 private:
  void Log(Logger::Level level, const std::string& line);
  // Moves the counts of names PostgreSQL cannot hold under "" (logged once
  // per batch: action=unstorable-account).
  void SetAsideUnstorable(FeedbackSums* sums);

  PgPool* pool_;
  LmdbStore* local_;
  const PgStoreOptions* options_;
};

}  // namespace senderguard
