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

#include <map>
#include <set>

#include "pg_rows.h"
#include "senderguard/base/text.h"
#include "senderguard/store/codec.h"
#include "senderguard/store/feedback_rules.h"

namespace senderguard {

using namespace pg_rows;

namespace {

// Counts of accounts whose names PostgreSQL cannot hold as a key (not
// UTF-8, a NUL: never a name the milter makes, identity.h) go under "", as
// SumFeedback does with names over 400 bytes, rather than failing the batch
// and every retry of it. Returns how many names were moved.
size_t MoveUnstorableAccounts(FeedbackSums* sums) {
  size_t moved = 0;
  for (auto it = sums->days.begin(); it != sums->days.end();) {
    if (IsKey(it->first.first)) {
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
  const FeedbackBatch& batch;
  const FeedbackSums& sums;
  const AccountReview& review;
  const std::string& node;
  const std::string& source;    // OpaqueToText(batch.source); "" = none
  const std::string& position;  // OpaqueToText(batch.position)
  LmdbStore* local;             // the node's store
  FeedbackResult* result;
};

Status CountDays(PgConn& c, const Ctx& x) {
  if (x.sums.days.empty()) return Status::Ok();
  std::vector<std::vector<PgParam>> rows;
  rows.reserve(x.sums.days.size());
  for (const auto& [key, delta] : x.sums.days) {  // (account, day) in byte order
    std::vector<PgParam> row = {key.first, PgInt(key.second)};
    for (auto& p : DayCountParams(delta)) row.push_back(std::move(p));
    rows.push_back(std::move(row));
  }
  // Adds, saturating at the largest bigint (read back as UINT64_MAX).
  std::string set;
  for (const char* f : {"delivered", "deferred", "hard", "soft", "technical", "expired",
                        "complaints"}) {
    if (!set.empty()) set += ", ";
    set += std::string(f) + " = least(d." + f + "::numeric + EXCLUDED." + f +
           ", 9223372036854775807)::bigint";
  }
  auto r = c.Exec(std::string("INSERT INTO day_counts AS d (account, day, ") + kDayCountColumns +
                      ") SELECT * FROM " +
                      Unnest({"text", "bigint", "bigint", "bigint", "bigint", "bigint", "bigint",
                              "bigint", "bigint"},
                             1) +
                      " ON CONFLICT (account, day) DO UPDATE SET " + set,
                  ColumnArrays(rows, 9));
  return r.status();
}

// Hard bounces toward global suppression, then complaints per account; the
// suppressions they add, with their audit entries, into *audit.
Status CountBouncesAndSuppress(PgConn& c, const Ctx& x, std::vector<AuditEntry>* audit) {
  const FeedbackBatch& batch = x.batch;
  std::set<std::string> addresses;
  for (const auto& e : batch.events) {
    if (CountsHardBounce(e, batch) && IsKey(e.hard_recipient)) addresses.insert(e.hard_recipient);
  }
  std::map<std::string, BounceRecord> bounces;
  if (!addresses.empty()) {
    std::vector<PgParam> list;
    for (const auto& a : addresses) list.push_back(a);
    const PgParam arr = Array(list);
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
    if (CountsHardBounce(e, batch) && IsKey(e.hard_recipient)) {
      std::optional<SuppressionRecord> s = CountHardBounce(e, batch, &bounces[e.hard_recipient]);
      if (s) adds.push_back(std::move(*s));
    }
    std::optional<SuppressionRecord> s = ComplaintSuppression(e, batch);
    if (s && IsKey(s->account) && IsKey(s->address)) adds.push_back(std::move(*s));
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
  auto r = c.Exec(std::string("INSERT INTO suppression (") + kSuppressionColumns +
                      ") SELECT * FROM " + Unnest({"text", "text", "text", "text", "bigint"}, 1) +
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

// The reviews, on the fleet's counts (this batch's included), each account
// locked until the commit; edits written back, their audit into *audit.
Status Review(PgConn& c, const Ctx& x, std::vector<AuditEntry>* audit) {
  const std::map<std::string, int64_t> accounts = AccountsToReview(x.batch, x.sums);
  if (accounts.empty()) return Status::Ok();
  std::vector<PgParam> names, firsts, lasts;
  for (const auto& [name, last_day] : accounts) {
    names.push_back(name);
    firsts.push_back(PgInt(ReviewFirstDay(x.batch, last_day)));
    lasts.push_back(PgInt(last_day));
  }
  const PgParam name_array = Array(names);
  // A fresh record (named, created now) for an account that has none, as
  // the review is promised one; then every record locked.
  auto made = c.Exec("INSERT INTO accounts (name, created) SELECT n, $2::bigint "
                     "FROM unnest($1::text[]) AS n ON CONFLICT DO NOTHING",
                     {name_array, PgInt(x.batch.now)});
  if (!made.ok()) return made.status();
  auto rec = c.Exec(std::string("SELECT ") + kAccountColumns +
                        " FROM accounts WHERE name = ANY($1::text[]) "
                        "ORDER BY name COLLATE \"C\" FOR UPDATE",
                    {name_array});
  if (!rec.ok()) return rec.status();
  std::map<std::string, AccountRecord> records;
  for (int i = 0; i < rec.value().rows(); ++i) {
    AccountRecord a = AccountFromRow(rec.value(), i, 0);
    records[a.name] = std::move(a);
  }
  auto dom = c.Exec("SELECT account, domain FROM account_domains WHERE account = ANY($1::text[]) "
                    "ORDER BY account, domain COLLATE \"C\"",
                    {name_array});
  if (!dom.ok()) return dom.status();
  for (int i = 0; i < dom.value().rows(); ++i) {
    auto it = records.find(std::string(dom.value().Get(i, 0)));
    if (it != records.end()) it->second.domains.emplace_back(dom.value().Get(i, 1));
  }
  auto days = c.Exec(std::string("SELECT d.account, d.day, ") + kDayCountColumns +
                         " FROM day_counts d JOIN unnest($1::text[], $2::bigint[], $3::bigint[]) "
                         "AS w(account, first_day, last_day) ON d.account = w.account "
                         "AND d.day BETWEEN w.first_day AND w.last_day ORDER BY d.day",
                     {name_array, Array(firsts), Array(lasts)});
  if (!days.ok()) return days.status();
  std::map<std::string, StoredDays> stored;
  for (int i = 0; i < days.value().rows(); ++i) {
    stored[std::string(days.value().Get(i, 0))].emplace_back(
        days.value().GetInt(i, 1), DayCountsFromRow(days.value(), i, 2));
  }
  for (const auto& [name, last_day] : accounts) {
    auto it = records.find(name);
    if (it == records.end()) continue;  // deleted since: nothing to review
    AccountRecord a = it->second;
    const AccountRecord& before = it->second;
    ReviewOutcome out;
    auto c_it = x.sums.complaints.find(name);
    x.review(&a, stored[name], c_it == x.sums.complaints.end() ? 0 : c_it->second, &out);
    a.name = name;  // the row it was read from
    if (Encode(a) != Encode(before)) {
      std::vector<PgParam> p = AccountParams(a);
      std::string sql = "UPDATE accounts SET (";
      std::string cols = kAccountColumns;
      sql += cols.substr(cols.find(',') + 2) + ") = (";  // every column but the name
      for (size_t i = 2; i <= kAccountColumnCount; ++i) {
        if (i > 2) sql += ", ";
        sql += "$" + std::to_string(i) + "::" + AccountTypes()[i - 1];
      }
      sql += ") WHERE name = $1";
      auto u = c.Exec(sql, p);
      if (!u.ok()) return u.status();
      if (a.domains != before.domains) {
        auto d = c.Exec("DELETE FROM account_domains WHERE account = $1", {name});
        if (!d.ok()) return d.status();
        std::vector<PgParam> list;
        for (const auto& domain : a.domains) {
          if (IsKey(domain)) list.push_back(domain);
        }
        auto ins = c.Exec("INSERT INTO account_domains (account, domain) SELECT $1, d "
                          "FROM unnest($2::text[]) AS d ON CONFLICT DO NOTHING",
                          {name, Array(list)});
        if (!ins.ok()) return ins.status();
      }
    }
    for (auto& e : out.audit) audit->push_back(std::move(e));
    for (auto& l : out.alerts) x.result->alerts.push_back(std::move(l));
  }
  return Status::Ok();
}

Status WriteAudit(PgConn& c, const std::vector<AuditEntry>& audit) {
  if (audit.empty()) return Status::Ok();
  std::vector<std::vector<PgParam>> rows;
  for (const auto& e : audit) rows.push_back(AuditParams(e));
  // In the order given: ids (newest first) follow it.
  auto r = c.Exec(std::string("INSERT INTO audit (") + kAuditColumns + ") SELECT " + kAuditColumns +
                      " FROM " + Unnest({"bigint", "text", "text", "text", "text"}, 1) +
                      " WITH ORDINALITY AS u(" + kAuditColumns + ", n) ORDER BY n",
                  ColumnArrays(rows, 5));
  return r.status();
}

Status Apply(PgConn& c, const Ctx& x) {
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

Result<FeedbackResult> PgFeedback::ApplyFeedback(const FeedbackBatch& batch,
                                                 const AccountReview& review) {
  std::string source, position;
  if (!batch.source.empty()) {
    source = OpaqueToText(batch.source);
    position = OpaqueToText(batch.position);
    if (source.size() > kMaxKey) {
      return Status::Invalid("postgresql: a log source name longer than " +
                             std::to_string(kMaxKey) + " bytes: " + Printable(batch.source, 80));
    }
  }
  FeedbackSums sums = SumFeedback(batch);
  if (const size_t moved = MoveUnstorableAccounts(&sums); moved > 0) {
    Log(Logger::Level::kWarning, KvLine()
                                     .Add("store", "postgresql")
                                     .Add("action", "unattributed-unstorable-account")
                                     .Add("buckets", static_cast<uint64_t>(moved))
                                     .str());
  }
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  FeedbackResult result;
  const Ctx x{batch, sums, review, options_->node, source, position, local_, &result};
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
  const std::string key = OpaqueToText(source);
  if (key.size() > kMaxKey) return out;
  auto conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  auto r = conn.value()->Exec("SELECT position FROM positions WHERE node = $1 AND source = $2",
                              {options_->node, key});
  if (!r.ok()) return r.status();
  if (r.value().rows() == 1) out = OpaqueFromText(r.value().Get(0, 0));
  return out;
}

Result<StoredDays> PgFeedback::GetDays(std::string_view account, int64_t first_day,
                                       int64_t last_day) {
  StoredDays out;
  if (!IsKey(account) || last_day < first_day) return out;
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

Result<std::optional<BounceRecord>> PgFeedback::GetBounces(std::string_view address) {
  std::optional<BounceRecord> out;
  if (!IsKey(address)) return out;
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
