// CopyStore (pg_copy.h): LMDB's walks (LmdbStore::ForEach*) into batched
// upserts of PostgreSQL rows, and PostgreSQL's rows (server-side cursors in
// one snapshot) into LmdbStore::Import.
#include "senderguard/store/postgresql/pg_copy.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "pg_rows.h"
#include "senderguard/store/codec.h"
#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/postgresql/pg_conn.h"
#include "senderguard/store/postgresql/pg_records.h"
#include "senderguard/store/postgresql/pg_schema.h"

namespace senderguard {

using namespace pg_rows;

namespace {

// Rows per statement (and records per LMDB transaction).
constexpr size_t kBatch = 2000;

enum Kind : size_t { kAccounts, kSuppression, kDays, kBounces, kAudit, kKinds };
const char* const kKindNames[kKinds] = {"accounts", "suppression", "days", "bounces", "audit"};

using Counts = std::vector<StoreCopyCount>;

Status CheckSchema(PgConn& c) {
  auto v = PgSchemaVersion(c);
  if (!v.ok()) return v.status();
  const int want = PgLatestSchemaVersion();
  if (v.value() == 0)
    return Status::Invalid(
        "postgresql: the database has no senderguard schema: run `senderguardctl store init`");
  if (v.value() != want)
    return Status::Invalid("postgresql: the database's schema is version " +
                           std::to_string(v.value()) + ", this build's is " + std::to_string(want) +
                           (v.value() < want ? ": run `senderguardctl store migrate`"
                                             : ": upgrade senderguard here"));
  return Status::Ok();
}

// The columns of a comma-separated list, after the first `skip`.
std::vector<std::string> Columns(std::string_view list, size_t skip = 0) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= list.size()) {
    size_t end = list.find(", ", at);
    if (end == std::string_view::npos) end = list.size();
    out.emplace_back(list.substr(at, end - at));
    at = end + 2;
  }
  out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(skip));
  return out;
}

// "ON CONFLICT (key) DO UPDATE SET (c...) = (EXCLUDED.c...) WHERE (t.c...)
// IS DISTINCT FROM (EXCLUDED.c...)": a row already equal is not touched (no
// new row version, no change logged).
std::string UpdateIfDifferent(const std::string& table_alias, const std::string& key,
                              const std::vector<std::string>& cols) {
  std::string names, excluded, current;
  for (const auto& c : cols) {
    if (!names.empty()) {
      names += ", ";
      excluded += ", ";
      current += ", ";
    }
    names += c;
    excluded += "EXCLUDED." + c;
    current += table_alias + "." + c;
  }
  const std::string set = cols.size() == 1 ? names + " = " + excluded
                                           : "(" + names + ") = ROW(" + excluded + ")";
  return " ON CONFLICT (" + key + ") DO UPDATE SET " + set + " WHERE (" + current +
         ") IS DISTINCT FROM (" + excluded + ")";
}

// Whether the database's record is `a` as a copy would write it (domains
// are kept in byte order, once each).
bool Same(const AccountRecord& stored, AccountRecord a) {
  std::sort(a.domains.begin(), a.domains.end());
  a.domains.erase(std::unique(a.domains.begin(), a.domains.end()), a.domains.end());
  return Encode(stored) == Encode(a);
}

Result<uint64_t> CountRows(PgConn& c, const std::string& sql, const std::vector<PgParam>& params) {
  auto r = c.Exec(sql, params);
  if (!r.ok()) return r.status();
  return static_cast<uint64_t>(r.value().GetInt(0, 0));
}

// ---- LMDB -> PostgreSQL

class ToPostgresql {
 public:
  ToPostgresql(PgConn* c, Counts* counts) : c_(c), counts_(counts) {}

  // Accounts through pg_records.h's mapping: each batch's stored records
  // read (locked), and only a new or different one written (PgWriteAccount
  // writes only the columns and domains that differ).
  Status Account(const AccountRecord& a) {
    (*counts_)[kAccounts].read++;
    if (!PgCheckAccount(a).ok()) {
      (*counts_)[kAccounts].skipped++;
      return Status::Ok();
    }
    accounts_.push_back(a);
    return accounts_.size() >= kBatch ? FlushAccounts() : Status::Ok();
  }
  Status FlushAccounts() {
    if (accounts_.empty()) return Status::Ok();
    std::vector<std::string> names;
    for (const auto& a : accounts_) names.push_back(a.name);  // in key order, unique
    std::map<std::string, Status> unreadable;
    auto read = PgReadAccounts(*c_, names, /*lock=*/true, &unreadable);
    if (!read.ok()) return read.status();
    std::map<std::string, AccountRecord> stored;
    for (auto& a : read.value()) stored[a.name] = std::move(a);
    Status st;
    for (const auto& a : accounts_) {
      std::optional<AccountRecord> before;
      if (auto it = stored.find(a.name); it != stored.end()) before = it->second;
      if (!before && unreadable.count(a.name) != 0) {
        (*counts_)[kAccounts].skipped++;  // a row we cannot read is not overwritten
        continue;
      }
      if (before && Same(*before, a)) continue;
      bool created = true;
      st = PgWriteAccount(*c_, before, a, &created);
      if (st.ok() && !created) {  // made meanwhile by someone else: write over it
        auto now = PgReadAccount(*c_, a.name, /*lock=*/true);
        if (!now.ok()) return now.status();
        st = PgWriteAccount(*c_, now.value(), a);
      }
      if (!st.ok()) return st;
      (*counts_)[kAccounts].written++;
    }
    accounts_.clear();
    return Status::Ok();
  }

  Status Suppression(const SuppressionRecord& s) {
    (*counts_)[kSuppression].read++;
    if (!PgCheckSuppressionKey(s.account, s.address).ok()) {
      (*counts_)[kSuppression].skipped++;
      return Status::Ok();
    }
    suppressions_.push_back(s);
    return suppressions_.size() >= kBatch ? FlushSuppressions() : Status::Ok();
  }
  Status FlushSuppressions() {
    if (suppressions_.empty()) return Status::Ok();
    std::vector<std::pair<std::string, std::string>> keys;
    for (const auto& s : suppressions_) keys.emplace_back(s.account, s.address);
    auto stored = PgReadSuppressions(*c_, keys);
    if (!stored.ok()) return stored.status();
    std::map<std::pair<std::string, std::string>, std::string> have;
    for (const auto& s : stored.value()) have[{s.account, s.address}] = Encode(s);
    for (const auto& s : suppressions_) {
      auto it = have.find({s.account, s.address});
      if (it == have.end() || it->second != Encode(s)) (*counts_)[kSuppression].written++;
    }
    // An entry equal to the stored one is not rewritten.
    Status st = PgUpsertSuppressions(*c_, suppressions_);
    if (!st.ok()) return st;
    suppressions_.clear();
    return Status::Ok();
  }

  Status Day(std::string_view account, int64_t day, const DayCountsRecord& d) {
    (*counts_)[kDays].read++;
    if (!DayAccountStorable(account)) {
      (*counts_)[kDays].skipped++;
      return Status::Ok();
    }
    std::vector<PgParam> row = {std::string(account), PgInt(day)};
    for (auto& p : DayCountParams(d)) row.push_back(std::move(p));
    days_.push_back(std::move(row));
    return days_.size() >= kBatch ? FlushDays() : Status::Ok();
  }
  Status FlushDays() {
    if (days_.empty()) return Status::Ok();
    auto n = CountRows(*c_,
                       std::string("WITH up AS (INSERT INTO day_counts AS d (account, day, ") +
                           kDayCountColumns + ") SELECT * FROM " +
                           Unnest(DayRowTypes(), 1) +
                           UpdateIfDifferent("d", "account, day", Columns(kDayCountColumns)) +
                           " RETURNING 1) SELECT count(*) FROM up",
                       ColumnArrays(days_, DayRowTypes().size()));
    if (!n.ok()) return n.status();
    (*counts_)[kDays].written += n.value();
    days_.clear();
    return Status::Ok();
  }

  Status Bounce(const BounceRecord& b) {
    (*counts_)[kBounces].read++;
    if (!BounceAddressStorable(b.address)) {
      (*counts_)[kBounces].skipped++;
      return Status::Ok();
    }
    bounces_.push_back(BounceParams(b));
    return bounces_.size() >= kBatch ? FlushBounces() : Status::Ok();
  }
  Status FlushBounces() {
    if (bounces_.empty()) return Status::Ok();
    auto n = CountRows(*c_,
                       std::string("WITH up AS (INSERT INTO bounces AS b (") + kBounceColumns +
                           ") SELECT * FROM " +
                           Unnest({"text", "integer", "text", "text", "bigint"}, 1) +
                           UpdateIfDifferent("b", "address", Columns(kBounceColumns, 1)) +
                           " RETURNING 1) SELECT count(*) FROM up",
                       ColumnArrays(bounces_, 5));
    if (!n.ok()) return n.status();
    (*counts_)[kBounces].written += n.value();
    bounces_.clear();
    return Status::Ok();
  }

  // Audit entries go to a temporary table first, in the source's order;
  // MergeAudit appends those the database does not hold yet.
  Status Audit(const AuditEntry& e) {
    (*counts_)[kAudit].read++;
    // Stored as PgRecords stores it: text through PgEncodeText.
    audit_.push_back(AuditParams(e));
    return audit_.size() >= kBatch ? FlushAudit() : Status::Ok();
  }
  Status FlushAudit() {
    if (audit_.empty()) return Status::Ok();
    if (!audit_table_) {
      auto t = c_->Exec(
          "CREATE TEMPORARY TABLE sg_copy_audit (ord bigserial, time_us bigint, actor text, "
          "action text, account text, detail text) ON COMMIT DROP");
      if (!t.ok()) return t.status();
      audit_table_ = true;
    }
    auto r = c_->Exec("INSERT INTO sg_copy_audit (time_us, actor, action, account, detail) "
                      "SELECT t, ac, an, acc, d FROM " +
                          Unnest({"bigint", "text", "text", "text", "text"}, 1) +
                          " WITH ORDINALITY AS u(t, ac, an, acc, d, n) ORDER BY n",
                      ColumnArrays(audit_, 5));
    if (!r.ok()) return r.status();
    audit_.clear();
    return Status::Ok();
  }
  Status MergeAudit() {
    Status st = FlushAudit();
    if (!st.ok() || !audit_table_) return st;
    // The n-th copy of an entry in the source is appended only when the
    // database holds fewer than n of it.
    auto n = CountRows(
        *c_,
        "WITH src AS (SELECT s.*, row_number() OVER (PARTITION BY time_us, actor, action, "
        "account, detail ORDER BY ord) AS nth FROM sg_copy_audit s), "
        "have AS (SELECT time_us, actor, action, account, detail, count(*) AS held FROM audit "
        "GROUP BY 1, 2, 3, 4, 5), "
        "ins AS (INSERT INTO audit (time_us, actor, action, account, detail) "
        "SELECT s.time_us, s.actor, s.action, s.account, s.detail FROM src s "
        "LEFT JOIN have h USING (time_us, actor, action, account, detail) "
        "WHERE s.nth > coalesce(h.held, 0) ORDER BY s.ord RETURNING 1) "
        "SELECT count(*) FROM ins",
        {});
    if (!n.ok()) return n.status();
    (*counts_)[kAudit].written += n.value();
    return Status::Ok();
  }

 private:
  PgConn* c_;
  Counts* counts_;
  std::vector<AccountRecord> accounts_;
  std::vector<SuppressionRecord> suppressions_;
  std::vector<std::vector<PgParam>> days_, bounces_, audit_;
  bool audit_table_ = false;
};

Status CopyToPostgresql(LmdbStore& from, PgConn& c, bool dry_run, Counts* counts) {
  auto begun = c.Exec("BEGIN");
  if (!begun.ok()) return begun.status();
  auto run = [&]() -> Status {
    Status st = CheckSchema(c);
    if (!st.ok()) return st;
    // One "resync" change for the whole copy instead of one per row.
    auto bulk = c.Exec("SET LOCAL sg.bulk = 'on'");
    if (!bulk.ok()) return bulk.status();
    ToPostgresql to(&c, counts);
    size_t corrupt = 0;
    st = from.ForEachAccount([&](const AccountRecord& a) { return to.Account(a); }, &corrupt);
    if (st.ok()) st = to.FlushAccounts();
    (*counts)[kAccounts].read += corrupt;
    (*counts)[kAccounts].skipped += corrupt;
    if (!st.ok()) return st;
    corrupt = 0;
    st = from.ForEachSuppression([&](const SuppressionRecord& s) { return to.Suppression(s); },
                                 &corrupt);
    if (st.ok()) st = to.FlushSuppressions();
    (*counts)[kSuppression].read += corrupt;
    (*counts)[kSuppression].skipped += corrupt;
    if (!st.ok()) return st;
    corrupt = 0;
    st = from.ForEachDays(
        [&](std::string_view account, int64_t day, const DayCountsRecord& d) {
          return to.Day(account, day, d);
        },
        &corrupt);
    if (st.ok()) st = to.FlushDays();
    (*counts)[kDays].read += corrupt;
    (*counts)[kDays].skipped += corrupt;
    if (!st.ok()) return st;
    corrupt = 0;
    st = from.ForEachBounce([&](const BounceRecord& b) { return to.Bounce(b); }, &corrupt);
    if (st.ok()) st = to.FlushBounces();
    (*counts)[kBounces].read += corrupt;
    (*counts)[kBounces].skipped += corrupt;
    if (!st.ok()) return st;
    corrupt = 0;
    st = from.ForEachAudit([&](const AuditEntry& e) { return to.Audit(e); }, &corrupt);
    if (st.ok()) st = to.MergeAudit();
    (*counts)[kAudit].read += corrupt;
    (*counts)[kAudit].skipped += corrupt;
    return st;
  };
  Status st = run();
  if (!st.ok()) {
    if (c.Healthy()) (void)c.Exec("ROLLBACK");
    return st;
  }
  auto end = c.Exec(dry_run ? "ROLLBACK" : "COMMIT");
  return end.status();
}

// ---- PostgreSQL -> LMDB

// Runs `query` as a cursor of the open transaction and hands its rows to fn
// a batch at a time.
Status EachBatch(PgConn& c, const std::string& query,
                 const std::function<Status(const PgResult&)>& fn) {
  auto d = c.Exec("DECLARE sg_copy NO SCROLL CURSOR FOR " + query);
  if (!d.ok()) return d.status();
  for (;;) {
    auto r = c.Exec("FETCH " + std::to_string(kBatch) + " FROM sg_copy");
    if (!r.ok()) return r.status();
    if (r.value().rows() == 0) break;
    Status st = fn(r.value());
    if (!st.ok()) return st;
  }
  return c.Exec("CLOSE sg_copy").status();
}

using AuditKey = std::tuple<int64_t, std::string, std::string, std::string, std::string>;
AuditKey KeyOf(const AuditEntry& e) {
  return {e.time_us, e.actor, e.action, e.account, e.detail};
}

Status CopyToLmdb(PgConn& c, LmdbStore& to, bool dry_run, Counts* counts) {
  // What the destination's audit log holds already, entry by entry.
  std::map<AuditKey, uint64_t> held;
  Status st = to.ForEachAudit([&](const AuditEntry& e) {
    ++held[KeyOf(e)];
    return Status::Ok();
  });
  if (!st.ok()) return st;
  auto import = [&](const LmdbStore::ImportBatch& batch) {
    LmdbStore::ImportCounts written, skipped;
    Status s = to.Import(batch, dry_run, &written, &skipped);
    if (!s.ok()) return s;
    const uint64_t w[kKinds] = {written.accounts, written.suppressions, written.days,
                                written.bounces, written.audit};
    const uint64_t k[kKinds] = {skipped.accounts, skipped.suppressions, skipped.days,
                                skipped.bounces, skipped.audit};
    for (size_t i = 0; i < kKinds; ++i) {
      (*counts)[i].written += w[i];
      (*counts)[i].skipped += k[i];
    }
    return Status::Ok();
  };
  auto begun = c.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!begun.ok()) return begun.status();
  auto run = [&]() -> Status {
    Status s = CheckSchema(c);
    if (!s.ok()) return s;
    s = EachBatch(c, std::string("SELECT ") + kPgAccountColumns +
                         " FROM accounts a ORDER BY a.name COLLATE \"C\"",
                  [&](const PgResult& r) {
                    LmdbStore::ImportBatch batch;
                    for (int i = 0; i < r.rows(); ++i) {
                      AccountRecord a;
                      if (PgReadAccountRow(r, i, 0, &a).ok()) {
                        batch.accounts.push_back(std::move(a));
                      } else {
                        (*counts)[kAccounts].skipped++;
                      }
                    }
                    (*counts)[kAccounts].read += static_cast<uint64_t>(r.rows());
                    return import(batch);
                  });
    if (!s.ok()) return s;
    s = EachBatch(c, std::string("SELECT ") + kPgSuppressionColumns +
                         " FROM suppression s ORDER BY s.account COLLATE \"C\", "
                         "s.address COLLATE \"C\"",
                  [&](const PgResult& r) {
                    LmdbStore::ImportBatch batch;
                    for (int i = 0; i < r.rows(); ++i)
                      batch.suppressions.push_back(PgReadSuppressionRow(r, i, 0));
                    (*counts)[kSuppression].read += batch.suppressions.size();
                    return import(batch);
                  });
    if (!s.ok()) return s;
    s = EachBatch(c, std::string("SELECT account, day, ") + kDayCountColumns +
                         " FROM day_counts ORDER BY account COLLATE \"C\", day",
                  [&](const PgResult& r) {
                    LmdbStore::ImportBatch batch;
                    for (int i = 0; i < r.rows(); ++i) {
                      batch.days.push_back(LmdbStore::ImportDay{
                          std::string(r.Get(i, 0)), r.GetInt(i, 1), DayCountsFromRow(r, i, 2)});
                    }
                    (*counts)[kDays].read += batch.days.size();
                    return import(batch);
                  });
    if (!s.ok()) return s;
    // A bounce row of count 0 is no record (pg_feedback.cc makes one to lock
    // it, inside its transaction).
    s = EachBatch(c, std::string("SELECT ") + kBounceColumns +
                         " FROM bounces WHERE count > 0 ORDER BY address COLLATE \"C\"",
                  [&](const PgResult& r) {
                    LmdbStore::ImportBatch batch;
                    for (int i = 0; i < r.rows(); ++i)
                      batch.bounces.push_back(BounceFromRow(r, i, 0));
                    (*counts)[kBounces].read += batch.bounces.size();
                    return import(batch);
                  });
    if (!s.ok()) return s;
    return EachBatch(c, std::string("SELECT ") + kAuditColumns + " FROM audit ORDER BY id",
                     [&](const PgResult& r) {
                       LmdbStore::ImportBatch batch;
                       for (int i = 0; i < r.rows(); ++i) {
                         AuditEntry e = AuditFromRow(r, i, 0);
                         auto it = held.find(KeyOf(e));
                         if (it != held.end() && it->second > 0) {
                           --it->second;  // the destination has this one
                           continue;
                         }
                         batch.audit.push_back(std::move(e));
                       }
                       (*counts)[kAudit].read += static_cast<uint64_t>(r.rows());
                       return import(batch);
                     });
  };
  st = run();
  if (c.Healthy()) (void)c.Exec("ROLLBACK");  // read only: nothing to keep
  // No Flush: CopyStore opens the store with sync_interval_ms = 0, so
  // every Import was on disk when it returned.
  return st;
}

}  // namespace

Result<std::vector<StoreCopyCount>> CopyStore(const StoreCopyRequest& request) {
  const bool into_pg = request.direction == StoreCopyRequest::Direction::kLmdbToPostgresql;
  if (request.lmdb_path.empty()) return Status::Invalid("store copy: no LMDB path");
  if (into_pg && ::access((request.lmdb_path + "/data.mdb").c_str(), F_OK) != 0)
    return Status::Invalid("store copy: no LMDB store at " + request.lmdb_path);
  auto conn = PgConn::Connect(request.conninfo, request.program);
  if (!conn.ok()) return conn.status();
  LmdbOptions o;
  o.path = request.lmdb_path;
  o.map_size_bytes = request.map_size_bytes;
  o.sync_interval_ms = 0;  // every import durable when it returns
  auto lmdb = LmdbStore::Open(o);
  if (!lmdb.ok()) return lmdb.status();
  Counts counts(kKinds);
  for (size_t i = 0; i < kKinds; ++i) counts[i].kind = kKindNames[i];
  Status st = into_pg ? CopyToPostgresql(*lmdb.value(), *conn.value(), request.dry_run, &counts)
                      : CopyToLmdb(*conn.value(), *lmdb.value(), request.dry_run, &counts);
  if (!st.ok()) return st;
  return counts;
}

}  // namespace senderguard
