// PgFeedback: delivery feedback of every node in PostgreSQL (PgStore's
// part; internal). ApplyFeedback writes the batch's counts, bounce counts,
// suppressions, reviews (decided on the fleet's counts), audit, once-key
// and the node's log position in one PostgreSQL transaction, after the
// queue-map entries and deferred recipients, which stay in the node's
// LMDB (queue ids are per MTA; writing them first and idempotently means a
// crash between the two replays the batch, which then counts once).
#pragma once

#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/postgresql/pg_conn.h"
#include "senderguard/store/postgresql/pg_store.h"

namespace senderguard {

class PgFeedback {
 public:
  PgFeedback(PgPool* pool, LmdbStore* local, const PgStoreOptions* options)
      : pool_(pool), local_(local), options_(options) {}

  Result<FeedbackResult> ApplyFeedback(const FeedbackBatch& batch, const AccountReview& review);
  // Positions are the node's: (node, source) in PostgreSQL.
  Result<std::optional<std::string>> GetPosition(std::string_view source);
  Result<StoredDays> GetDays(std::string_view account, int64_t first_day, int64_t last_day);
  Result<std::optional<BounceRecord>> GetBounces(std::string_view address);

 private:
  PgPool* pool_;
  LmdbStore* local_;
  const PgStoreOptions* options_;
};

}  // namespace senderguard
