// PgFeedback: ApplyFeedback on PostgreSQL (pg_feedback.h), with the rules
// of store/feedback_rules.h that every backend shares, and the reads of what
// it writes (GetPosition, GetDays, GetBounces).
//
// One transaction per batch, in this order, which is also the order rows
// are locked in (so two nodes' batches can only wait on one another; a
// deadlock all the same is retried by PgConn::Transaction): the position's
// row, the once-key, day_counts (keys in byte order), bounces (byte order),
// suppression, accounts (byte order), audit, the position.
#include "senderguard/store/postgresql/pg_feedback.h"

#include <chrono>
#include <map>
#include <set>

#include "pg_rows.h"
#include "senderguard/base/clock.h"
#include "senderguard/base/text.h"
#include "senderguard/store/feedback_rules.h"
#include "senderguard/store/postgresql/pg_records.h"

namespace senderguard {

using namespace pg_rows;

namespace {

// Counts of accounts whose names PostgreSQL cannot hold as a key (not
// UTF-8, a NUL: never a name the milter makes, identity.h) go under "", as
// SumFeedback does with names over 400 bytes, rather than failing the batch
// and every retry of it. Returns how many buckets were moved.
size_t MoveUnstorableAccounts(FeedbackSums* sums) {
  size_t moved = 0;
  for (auto it = sums->days.begin(); it != sums->days.end();) {
    if (DayAccountStorable(it->first.first)) {
      ++it;
      continue;
    }
    AddCounts(&sums->days[{std::string(), it->first.second}], it->second);
    sums->complaints.erase(it->first.first);
    it = sums->days.erase(it);
    ++moved;
  }
  return moved;
}

struct Ctx {
  const PgStoreOptions& options;
  const FeedbackBatch& batch;
  const FeedbackSums& sums;
  const AccountReview& review;
  const std::string& node;
  const std::string& source;    // PgEncodeText(batch.source); "" = none
  const std::string& position;  // PgEncodeText(batch.position)
  LmdbStore* local;             // the node's store
  FeedbackResult* result;
  Logger* logger;               // may be null
};

void Log(const Ctx& x, Logger::Level level, const std::string& line) {
  if (x.logger != nullptr) x.logger->Log(level, line);
}

// Adds each delta into its day_counts row (feedback_rules.h AddCounts):
// counts saturating at the largest bigint (read back as UINT64_MAX), tier
// replaced when the delta's is not 0. One statement; rows in the map's
// (account, day) byte order.
Status AddDayRows(PgConn& c,
                  const std::map<std::pair<std::string, int64_t>, DayCountsRecord>& deltas,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
  if (deltas.empty()) return Status::Ok();
  std::vector<std::vector<PgParam>> rows;
  rows.reserve(deltas.size());
  for (const auto& [key, delta] : deltas) {
    std::vector<PgParam> row = {key.first, PgInt(key.second)};
    for (auto& p : DayCountParams(delta)) row.push_back(std::move(p));
    rows.push_back(std::move(row));
  }
  std::string set;
  for (const char* f : {"delivered", "deferred", "hard", "soft", "technical", "expired",
                        "complaints", "quota_used", "refused"}) {
    if (!set.empty()) set += ", ";
    set += std::string(f) + " = least(d." + f + "::numeric + EXCLUDED." + f +
           ", 9223372036854775807)::bigint";
  }
  set += ", tier = CASE WHEN EXCLUDED.tier > 0 THEN EXCLUDED.tier ELSE d.tier END";
  const std::string sql = std::string("INSERT INTO day_counts AS d (account, day, ") + kDayCountColumns +
                          ") SELECT * FROM " + Unnest(DayRowTypes(), 1) +
                          " ON CONFLICT (account, day) DO UPDATE SET " + set;
  auto r = timeout.count() > 0 ? c.Exec(sql, ColumnArrays(rows, DayRowTypes().size()), timeout)
                               : c.Exec(sql, ColumnArrays(rows, DayRowTypes().size()));
  return r.status();
}

Status CountDays(PgConn& c, const Ctx& x) { return AddDayRows(c, x.sums.days); }

// Hard bounces toward global suppression, then complaints per account; the
// suppressions they add, with their audit entries, into *audit.
Status CountBouncesAndSuppress(PgConn& c, const Ctx& x, std::vector<AuditEntry>* audit) {
  const FeedbackBatch& batch = x.batch;
  std::set<std::string> addresses;
  for (const auto& e : batch.events) {
    if (CountsHardBounce(e, batch) && BounceAddressStorable(e.hard_recipient))
      addresses.insert(e.hard_recipient);
  }
  std::map<std::string, BounceRecord> bounces;
  if (!addresses.empty()) {
    const PgParam arr = PgTextArray(std::vector<std::string>(addresses.begin(), addresses.end()));
    // A row for each address first, so that every one can be locked: two
    // nodes counting the same new address then take turns instead of both
    // writing "1". A row of count 0 is the fresh record.
    auto made = c.Exec("INSERT INTO bounces (address) SELECT a FROM unnest($1::text[]) AS a "
                       "ON CONFLICT DO NOTHING",
                       {arr});
    if (!made.ok()) return made.status();
    auto r = c.Exec(std::string("SELECT ") + kBounceColumns +
                        " FROM bounces WHERE address = ANY($1::text[]) "
                        "ORDER BY address COLLATE \"C\" FOR UPDATE",
                    {arr});
    if (!r.ok()) return r.status();
    for (int i = 0; i < r.value().rows(); ++i) {
      BounceRecord b = BounceFromRow(r.value(), i, 0);
      bounces[b.address] = b;
    }
  }
  std::vector<SuppressionRecord> adds;
  for (const auto& e : batch.events) {
    // A suppression the nodes' caches could not hold is not added
    // (pg_records.h PgCheckSuppressionKey); the bounce still counts.
    if (CountsHardBounce(e, batch) && BounceAddressStorable(e.hard_recipient)) {
      std::optional<SuppressionRecord> s = CountHardBounce(e, batch, &bounces[e.hard_recipient]);
      if (s && PgCheckSuppressionKey(s->account, s->address).ok()) adds.push_back(std::move(*s));
    }
    std::optional<SuppressionRecord> s = ComplaintSuppression(e, batch);
    if (s && PgCheckSuppressionKey(s->account, s->address).ok()) adds.push_back(std::move(*s));
  }
  if (!bounces.empty()) {
    std::vector<std::vector<PgParam>> rows;
    for (const auto& [address, b] : bounces) rows.push_back(BounceParams(b));
    auto r = c.Exec("UPDATE bounces b SET count = u.count, last_account = u.last_account, "
                    "last_category = u.last_category, last_time = u.last_time FROM " +
                        Unnest({"text", "integer", "text", "text", "bigint"}, 1) +
                        " AS u(address, count, last_account, last_category, last_time) "
                        "WHERE b.address = u.address",
                    ColumnArrays(rows, 5));
    if (!r.ok()) return r.status();
  }
  if (adds.empty()) return Status::Ok();
  // One already stored keeps its first reason (no audit entry, not reported).
  std::vector<std::vector<PgParam>> rows;
  for (const auto& s : adds) rows.push_back(SuppressionParams(s));
  auto r = c.Exec("INSERT INTO suppression (account, address, reason, actor, since) SELECT * FROM " +
                      Unnest({"text", "text", "text", "text", "bigint"}, 1) +
                      " ON CONFLICT DO NOTHING RETURNING account, address",
                  ColumnArrays(rows, 5));
  if (!r.ok()) return r.status();
  std::set<std::pair<std::string, std::string>> added;
  for (int i = 0; i < r.value().rows(); ++i)
    added.emplace(std::string(r.value().Get(i, 0)), std::string(r.value().Get(i, 1)));
  for (auto& s : adds) {
    // The first of equal ones in the batch is the one that was inserted.
    if (added.erase({s.account, s.address}) == 0) continue;
    audit->push_back(SuppressionAudit(s, batch));
    x.result->suppressed.push_back(std::move(s));
  }
  return Status::Ok();
}

// The reviews, on the fleet's counts (this batch's included), each stored
// record locked until the commit (FOR NO KEY UPDATE, as PgRecords locks
// it); edits written back (pg_records.h PgWriteAccount: only what
// changed), their audit entries into *audit.
Status Review(PgConn& c, const Ctx& x, std::vector<AuditEntry>* audit) {
  const std::map<std::string, int64_t> accounts = AccountsToReview(x.batch, x.sums);
  if (accounts.empty()) return Status::Ok();
  std::vector<std::string> names, firsts, lasts;
  for (const auto& [name, last_day] : accounts) {
    names.push_back(name);
    firsts.push_back(std::to_string(ReviewFirstDay(x.batch, last_day)));
    lasts.push_back(std::to_string(last_day));
  }
  const PgParam name_array = PgTextArray(names);
  std::map<std::string, Status> unreadable;
  auto read = PgReadAccounts(c, names, /*lock=*/true, &unreadable);
  if (!read.ok()) return read.status();
  std::map<std::string, AccountRecord> records;
  for (auto& a : read.value()) records[a.name] = std::move(a);
  for (const auto& [name, error] : unreadable) {  // never overwritten
    Log(x, Logger::Level::kError, KvLine()
                                      .Add("store", "postgresql")
                                      .Add("action", "review-skip")
                                      .Add("error", error.message())
                                      .str());
  }
  auto days = c.Exec(std::string("SELECT d.account, d.day, ") + kDayCountColumns +
                         " FROM day_counts d JOIN unnest($1::text[], $2::bigint[], $3::bigint[]) "
                         "AS w(account, first_day, last_day) ON d.account = w.account "
                         "AND d.day BETWEEN w.first_day AND w.last_day ORDER BY d.day",
                     {name_array, PgTextArray(firsts), PgTextArray(lasts)});
  if (!days.ok()) return days.status();
  std::map<std::string, StoredDays> stored;
  for (int i = 0; i < days.value().rows(); ++i) {
    stored[std::string(days.value().Get(i, 0))].emplace_back(
        days.value().GetInt(i, 1), DayCountsFromRow(days.value(), i, 2));
  }
  for (const auto& [name, last_day] : accounts) {
    if (unreadable.count(name) != 0) continue;
    auto c_it = x.sums.complaints.find(name);
    const uint64_t complaints = c_it == x.sums.complaints.end() ? 0 : c_it->second;
    std::optional<AccountRecord> before;
    if (auto it = records.find(name); it != records.end()) before = it->second;
    // Up to twice: a record another node creates meanwhile is reviewed
    // again as stored.
    for (int pass = 0; pass < 2; ++pass) {
      AccountRecord a;
      if (before) {
        a = *before;
      } else {
        a.name = name;
        a.created = x.batch.now;  // a fresh record, written even when unchanged
      }
      ReviewOutcome out;
      x.review(&a, stored[name], complaints, &out);
      a.name = name;  // the row it was read from
      Status valid = PgCheckAccount(a);
      if (!valid.ok()) {
        Log(x, Logger::Level::kError, KvLine()
                                          .Add("store", "postgresql")
                                          .Add("action", "review-skip")
                                          .Add("error", valid.message())
                                          .str());
        break;
      }
      bool created = true;
      Status st = PgWriteAccount(c, before, a, &created);
      if (!st.ok()) return st;
      if (!created) {
        auto again = PgReadAccount(c, name, /*lock=*/true);
        if (!again.ok()) return again.status();
        if (!again.value()) break;  // created and deleted meanwhile
        before = std::move(again.value());
        continue;
      }
      for (auto& e : out.audit) audit->push_back(std::move(e));
      for (auto& l : out.alerts) x.result->alerts.push_back(std::move(l));
      break;
    }
  }
  return Status::Ok();
}

Status WriteAudit(PgConn& c, const std::vector<AuditEntry>& audit) {
  if (audit.empty()) return Status::Ok();
  std::vector<std::vector<PgParam>> rows;
  for (const auto& e : audit) rows.push_back(AuditParams(e));
  // In the order given: ids (newest first) follow it.
  auto r = c.Exec(std::string("INSERT INTO audit (") + kAuditColumns +
                      ") SELECT t, ac, an, acc, d FROM " +
                      Unnest({"bigint", "text", "text", "text", "text"}, 1) +
                      " WITH ORDINALITY AS u(t, ac, an, acc, d, n) ORDER BY n",
                  ColumnArrays(rows, 5));
  return r.status();
}

Status Apply(PgConn& c, const Ctx& x) {
  if (!x.source.empty() && x.options.claim_node) {
    // Positions are this node's: a second machine given its name must not
    // move them (each would resume from the other's). Renews the claim too.
    auto claim = PgClaimNode(c, x.options);
    if (!claim.ok()) return claim.status();
    if (!claim.value().ok) return PgNodeClaimRefused(x.options, claim.value());
  }
  if (!x.source.empty()) {
    // The position is the batch's idempotency key: a batch that ends where
    // the stored position already is was committed (its COMMIT's answer was
    // lost, and the tailer retries it). A tailer's chunk always holds a
    // line, so a new batch never ends where the last one did.
    auto r = c.Exec("SELECT position FROM positions WHERE node = $1 AND source = $2 FOR UPDATE",
                    {x.node, x.source});
    if (!r.ok()) return r.status();
    if (r.value().rows() == 1 && r.value().Get(0, 0) == x.position) {
      x.result->duplicate = true;
      return Status::Ok();
    }
  }
  if (!x.batch.once_key.empty()) {
    // First, so a duplicate writes nothing at all; in the transaction, so a
    // failed batch records no key.
    auto r = c.Exec("SELECT sg_once($1::bytea, $2::bigint)",
                    {PgBytes(x.batch.once_key), PgInt(x.batch.now)});
    if (!r.ok()) return r.status();
    if (!r.value().GetBool(0, 0)) {
      x.result->duplicate = true;
      return Status::Ok();
    }
  }
  // The node's part, once PostgreSQL answers and the batch is no duplicate,
  // and before PostgreSQL's part commits: if the process dies between the
  // two commits, the tailer replays the batch from the position PostgreSQL
  // still holds, writing the same queue-map entries again and counting once.
  // (A retried transaction writes them again: the same.)
  Status st = x.local->ApplyLocalFeedback(x.batch);
  if (!st.ok()) return st;
  st = CountDays(c, x);
  if (!st.ok()) return st;
  std::vector<AuditEntry> audit;
  st = CountBouncesAndSuppress(c, x, &audit);
  if (!st.ok()) return st;
  if (x.review) {
    st = Review(c, x, &audit);
    if (!st.ok()) return st;
  }
  st = WriteAudit(c, audit);
  if (!st.ok()) return st;
  if (!x.source.empty()) {
    auto r = c.Exec("INSERT INTO positions (node, source, position) VALUES ($1, $2, $3) "
                    "ON CONFLICT (node, source) DO UPDATE SET position = EXCLUDED.position, "
                    "updated_at = now()",
                    {x.node, x.source, x.position});
    if (!r.ok()) return r.status();
  }
  return Status::Ok();
}

}  // namespace

void PgFeedback::Log(Logger::Level level, const std::string& line) {
  if (options_->logger != nullptr) options_->logger->Log(level, line);
}

void PgFeedback::SetAsideUnstorable(FeedbackSums* sums) {
  if (const size_t moved = MoveUnstorableAccounts(sums); moved > 0) {
    Log(Logger::Level::kWarning, KvLine()
                                     .Add("store", "postgresql")
                                     .Add("action", "unstorable-account")
                                     .Add("buckets", static_cast<uint64_t>(moved))
                                     .str());
  }
}

Result<FeedbackResult> PgFeedback::ApplyFeedback(const FeedbackBatch& batch,
                                                 const AccountReview& review) {
  std::string source, position;
  if (!batch.source.empty()) {
    source = PgEncodeText(batch.source);
    position = PgEncodeText(batch.position);
    if (source.size() > kMaxKey) {
      return Status::Invalid("postgresql: a log source name longer than " +
                             std::to_string(kMaxKey) + " bytes: " + Printable(batch.source, 80));
    }
  }
  FeedbackSums sums = SumFeedback(batch);
  SetAsideUnstorable(&sums);
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  FeedbackResult result;
  const Ctx x{*options_, batch, sums, review, options_->node, source, position, local_, &result,
              options_->logger};
  Status st = conn.value()->Transaction([&](PgConn& tx) {
    result = FeedbackResult{};  // a retried transaction starts over
    return Apply(tx, x);
  });
  if (!st.ok()) return st;
  return result;
}

Result<std::optional<std::string>> PgFeedback::GetPosition(std::string_view source) {
  std::optional<std::string> out;
  if (source.empty()) return out;
  const std::string key = PgEncodeText(source);
  if (key.size() > kMaxKey) return out;
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  auto r = conn.value()->Exec("SELECT position FROM positions WHERE node = $1 AND source = $2",
                              {options_->node, key});
  if (!r.ok()) return r.status();
  if (r.value().rows() == 1) out = PgDecodeText(r.value().Get(0, 0));
  return out;
}

Result<StoredDays> PgFeedback::GetDays(std::string_view account, int64_t first_day,
                                       int64_t last_day) {
  StoredDays out;
  if (!DayAccountStorable(account) || last_day < first_day) return out;
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  auto r = conn.value()->Exec(std::string("SELECT day, ") + kDayCountColumns +
                                  " FROM day_counts WHERE account = $1 AND day BETWEEN $2 AND $3 "
                                  "ORDER BY day",
                              {std::string(account), PgInt(first_day), PgInt(last_day)});
  if (!r.ok()) return r.status();
  for (int i = 0; i < r.value().rows(); ++i)
    out.emplace_back(r.value().GetInt(i, 0), DayCountsFromRow(r.value(), i, 1));
  return out;
}

Status PgFeedback::AddSendingDays(const std::vector<SendingDay>& days) {
  if (days.empty()) return Status::Ok();
  FeedbackSums sums;
  sums.days = SumSendingDays(days);
  SetAsideUnstorable(&sums);
  // Within 5 s: the milter's reporter thread writes this, and its stop
  // waits for it. A statement that timed out may have run: the caller keeps
  // the figures and writes them again (a report figure, counted twice in
  // that rare case; the quota is not counted here).
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  // An account the milter judged without a record gets one (as the lease
  // thread makes it for a first Commit): list, top, report --all, account
  // delete and rename then see an account that was only ever refused. First,
  // and idempotent: when it fails nothing is counted, and when the days'
  // write after it fails, the records made stay and the figures are
  // written again at the next interval.
  std::vector<std::string> names;
  for (const auto& [key, delta] : sums.days)
    if (!key.first.empty() && (names.empty() || names.back() != key.first)) names.push_back(key.first);
  if (!names.empty()) {
    auto r = conn.value()->Exec(
        "INSERT INTO accounts (name, created) SELECT n, $2 FROM unnest($1::text[]) AS u(n) ORDER BY n"
        " ON CONFLICT (name) DO NOTHING",
        {PgTextArray(names), PgInt(UnixNow())}, std::chrono::milliseconds(5000));
    if (!r.ok()) return r.status();
  }
  return AddDayRows(*conn.value(), sums.days, std::chrono::milliseconds(5000));
}

Result<std::optional<BounceRecord>> PgFeedback::GetBounces(std::string_view address) {
  std::optional<BounceRecord> out;
  if (!BounceAddressStorable(address)) return out;
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  auto r = conn.value()->Exec(
      std::string("SELECT ") + kBounceColumns + " FROM bounces WHERE address = $1 AND count > 0",
      {std::string(address)});
  if (!r.ok()) return r.status();
  if (r.value().rows() == 1) out = BounceFromRow(r.value(), 0, 0);
  return out;
}

}  // namespace senderguard
