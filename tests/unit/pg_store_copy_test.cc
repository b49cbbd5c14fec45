// CopyStore (pg_copy.h), `senderguardctl store copy`, between a real LMDB
// store and a private PostgreSQL (run under tests/pg/with_pg.sh): an LMDB
// store filled through its own interface is copied to PostgreSQL and back
// to a fresh LMDB store, record for record; a second copy writes nothing
// either way; a dry run writes nothing and counts what a copy would write;
// a bulk copy logs one "resync" change for the nodes' caches.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lmdb_fixture.h"
#include "pg_fixture.h"
#include "senderguard/store/codec.h"
#include "senderguard/store/postgresql/pg_copy.h"

namespace senderguard {
namespace {

using namespace std::string_literals;

constexpr int64_t kNow = 1'795'622'400;  // 2026-11-25 16:00:00 UTC
constexpr int64_t kToday = kNow / 86400;

AuditEntry Audit(std::string action, std::string account, int64_t time_us = kNow * 1000000) {
  AuditEntry a;
  a.time_us = time_us;
  a.actor = "alice (uid 1000)";
  a.action = std::move(action);
  a.account = std::move(account);
  a.detail = "by the test";
  return a;
}

// Everything a store holds of the kinds a copy moves, each record encoded.
struct Contents {
  std::vector<std::string> accounts, suppressions, days, bounces, audit;
  bool operator==(const Contents& o) const {
    return accounts == o.accounts && suppressions == o.suppressions && days == o.days &&
           bounces == o.bounces && audit == o.audit;
  }
};

Contents Read(LmdbStore& s) {
  Contents c;
  EXPECT_TRUE(s.ForEachAccount([&](const AccountRecord& a) {
                 c.accounts.push_back(a.name + "=" + Encode(a));
                 return Status::Ok();
               }).ok());
  EXPECT_TRUE(s.ForEachSuppression([&](const SuppressionRecord& r) {
                 c.suppressions.push_back(Encode(r));
                 return Status::Ok();
               }).ok());
  EXPECT_TRUE(s.ForEachDays([&](std::string_view account, int64_t day, const DayCountsRecord& d) {
                 c.days.push_back(std::string(account) + "/" + std::to_string(day) + "=" + Encode(d));
                 return Status::Ok();
               }).ok());
  EXPECT_TRUE(s.ForEachBounce([&](const BounceRecord& b) {
                 c.bounces.push_back(Encode(b));
                 return Status::Ok();
               }).ok());
  EXPECT_TRUE(s.ForEachAudit([&](const AuditEntry& e) {
                 c.audit.push_back(Encode(e));
                 return Status::Ok();
               }).ok());
  std::sort(c.audit.begin(), c.audit.end());  // a multiset: equal entries in any order
  return c;
}

std::string Show(const std::vector<StoreCopyCount>& counts) {
  std::string s;
  for (const auto& c : counts)
    s += c.kind + ": read " + std::to_string(c.read) + " written " + std::to_string(c.written) +
         " skipped " + std::to_string(c.skipped) + "\n";
  return s;
}

class PgStoreCopyTest : public PgDatabaseTest {
 protected:
  void SetUp() override {
    PgDatabaseTest::SetUp();
    if (db_.empty()) return;
    sql_ = ConnectDb("pg_store_copy_test");
    ASSERT_NE(sql_, nullptr);
  }

  std::unique_ptr<LmdbStore> OpenLmdb(const std::string& path) {
    auto s = LmdbStore::Open(lmdb_test::TestLmdbOptions(path, &logger_));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s.value()) : nullptr;
  }

  // An LMDB store with some of everything, written through its interface.
  void Fill(LmdbStore& s) {
    auto set = [&](const std::string& name, const std::function<void(AccountRecord*)>& f) {
      ASSERT_TRUE(s.UpdateAccount(name,
                                  [&](AccountRecord* a, bool exists) {
                                    if (!exists) a->created = kNow - 100;
                                    f(a);
                                    return Status::Ok();
                                  },
                                  Audit("edit", name))
                      .ok());
    };
    set("alice", [](AccountRecord* a) {
      a->limits = {kInheritLimit, 500, kUnlimited, 0};
      a->status = AccountStatus::kReinstated;
      a->status_reason = "complaint-rate: 0.2%";
      a->status_actor = "bob (sudo alice)";
      a->status_since = kNow - 50;
      a->reinstated_until = kNow + 86400;
      a->tier = 3;
      a->clean_days = 5;
      a->rated_through = kToday - 1;
      a->rates_since = kNow - 10;
      a->domains_only = true;
      a->domains = {"a.example", "b.example", "xn--jrgen-kva.example"};
    });
    set("bob", [](AccountRecord* a) {
      a->dry_run = true;
      a->status = AccountStatus::kSuspended;
      a->status_reason = "line\nbreak and \"quotes\" \\ backslash";
    });
    set("jürgen", [](AccountRecord* a) { a->limits[2] = 1000; });
    set("bad\xff", [](AccountRecord* a) { a->tier = 2; });  // not UTF-8: PostgreSQL cannot hold it
    for (int i = 0; i < 2500; ++i)  // more than one batch
      set("bulk" + std::to_string(i), [i](AccountRecord* a) { a->limits[3] = static_cast<uint64_t>(i); });
    std::vector<SuppressionRecord> supp;
    for (int i = 0; i < 2100; ++i) {
      SuppressionRecord r;
      r.account = i % 3 == 0 ? "" : "alice";
      r.address = "user" + std::to_string(i) + "@example.org";
      r.reason = i % 2 ? "manual" : "spam complaint";
      r.actor = "test";
      r.since = kNow - i;
      supp.push_back(r);
    }
    ASSERT_TRUE(s.AddSuppressions(supp, Audit("suppress-add", "")).ok());
    FeedbackBatch b;
    b.now = kNow;
    b.actor = "senderguard-tail";
    b.suppress_after = 3;
    for (int d = 0; d < 5; ++d) {
      FeedbackEvent e;
      e.account = d % 2 ? "alice" : "";
      e.time = kNow - d * 86400;
      e.delta = {static_cast<uint64_t>(d + 1), 1, 2, 3, 4, 5, 6};
      b.events.push_back(e);
    }
    FeedbackEvent huge;
    huge.account = "bob";
    huge.time = kNow;
    huge.delta = {UINT64_MAX, 0, 0, 0, 0, 0, 0};
    b.events.push_back(huge);
    for (int i = 0; i < 4; ++i) {
      FeedbackEvent h;
      h.account = "alice";
      h.time = kNow + i;
      h.delta.hard = 1;
      h.hard_recipient = i < 3 ? "dead@x.org" : "once@x.org";
      h.category = "recipient-unknown";
      b.events.push_back(h);
    }
    ASSERT_TRUE(s.ApplyFeedback(b, nullptr).ok());
    // The milter's figures on some of those days (and one of their own).
    ASSERT_TRUE(s.AddSendingDays({SendingDay{"alice", kToday, 40, 3, 4},
                                  SendingDay{"", kToday - 2, 0, 2, 0},
                                  SendingDay{"bob", kToday, UINT64_MAX, 1, 255},
                                  SendingDay{"carol", kToday - 1, 7, 0, 1}})
                    .ok());
    // Two equal audit entries: both are copied, once.
    ASSERT_TRUE(s.AppendAudit(Audit("note", "alice", kNow * 1000000 + 7)).ok());
    ASSERT_TRUE(s.AppendAudit(Audit("note", "alice", kNow * 1000000 + 7)).ok());
  }

  Result<std::vector<StoreCopyCount>> Copy(StoreCopyRequest::Direction dir, const std::string& path,
                                           bool dry_run = false) {
    StoreCopyRequest r;
    r.direction = dir;
    r.lmdb_path = path;
    r.map_size_bytes = 64ull << 20;
    r.conninfo = db_;
    r.dry_run = dry_run;
    return CopyStore(r);
  }
  std::vector<StoreCopyCount> MustCopy(StoreCopyRequest::Direction dir, const std::string& path,
                                       bool dry_run = false) {
    auto r = Copy(dir, path, dry_run);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : std::vector<StoreCopyCount>{};
  }
  // A second copy: every kind of the first, each record read again (an
  // empty or short answer fails), none written.
  static void ExpectNothingWritten(const std::vector<StoreCopyCount>& again,
                                   const std::vector<StoreCopyCount>& first) {
    ASSERT_EQ(again.size(), first.size()) << Show(again);
    for (size_t i = 0; i < again.size(); ++i) {
      EXPECT_EQ(again[i].kind, first[i].kind) << Show(again);
      EXPECT_EQ(again[i].read, first[i].read) << Show(again);
      EXPECT_EQ(again[i].written, 0u) << Show(again);
    }
  }
  int64_t Int(const std::string& sql) {
    auto r = sql_->Exec(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && r.value().rows() > 0 ? r.value().GetInt(0, 0) : -1;
  }
  // Rows per table, and what an unchanged copy must leave as it is.
  std::map<std::string, int64_t> Rows() {
    std::map<std::string, int64_t> out;
    for (const char* t : {"accounts", "account_domains", "suppression", "day_counts", "bounces",
                          "audit", "changes"})
      out[t] = Int(std::string("SELECT count(*) FROM ") + t);
    out["xmin-sum"] = Int(
        "SELECT sum(x) FROM (SELECT xmin::text::bigint AS x FROM accounts UNION ALL "
        "SELECT xmin::text::bigint FROM suppression UNION ALL SELECT xmin::text::bigint FROM "
        "day_counts UNION ALL SELECT xmin::text::bigint FROM bounces) s");
    return out;
  }

  std::unique_ptr<PgConn> sql_;
  lmdb_test::CapturingLogger logger_;
  lmdb_test::TempDir dir_;
};

constexpr auto kToPg = StoreCopyRequest::Direction::kLmdbToPostgresql;
constexpr auto kToLmdb = StoreCopyRequest::Direction::kPostgresqlToLmdb;

TEST_F(PgStoreCopyTest, ToPostgresqlAndBackRecordForRecordAndAgainNothing) {
  const std::string src_path = dir_.path() + "/src";
  Contents src;
  {
    auto src_store = OpenLmdb(src_path);
    ASSERT_NE(src_store, nullptr);
    Fill(*src_store);
    src = Read(*src_store);
  }
  ASSERT_EQ(src.accounts.size(), 2505u);  // and carol, whose record the milter's figures made
  ASSERT_EQ(src.audit.size(), 2504u + 1 + 1 + 2);  // edits, suppressions, the bounce's, two notes

  // A dry run counts and writes nothing.
  const std::map<std::string, int64_t> empty = Rows();
  const auto dry = MustCopy(kToPg, src_path, /*dry_run=*/true);
  EXPECT_EQ(Rows(), empty);
  // The copy.
  const auto counts = MustCopy(kToPg, src_path);
  SCOPED_TRACE(Show(counts));
  ASSERT_EQ(counts.size(), 5u);
  EXPECT_EQ(Show(dry), Show(counts)) << "the dry run's figures are the copy's";
  struct Want {
    const char* kind;
    uint64_t read, written, skipped;
  };
  // bad\xff is skipped (carol is an account: the milter's figures made her
  // record); days: 5 (3 under "", 2 of alice's) + bob's + the
  // day of alice's bounces + carol's (the milter's figures alone); the
  // bounces of "dead@x.org" made a global suppression.
  for (const Want& w : std::vector<Want>{{"accounts", 2505, 2504, 1},
                                         {"suppression", 2101, 2101, 0},
                                         {"days", 8, 8, 0},
                                         {"bounces", 2, 2, 0},
                                         {"audit", 2508, 2508, 0}}) {
    auto it = std::find_if(counts.begin(), counts.end(), [&](const StoreCopyCount& c) { return c.kind == w.kind; });
    ASSERT_NE(it, counts.end()) << w.kind;
    EXPECT_EQ(it->read, w.read) << w.kind;
    EXPECT_EQ(it->written, w.written) << w.kind;
    EXPECT_EQ(it->skipped, w.skipped) << w.kind;
  }
  // What PostgreSQL holds, read as the other parts read it.
  auto alice = sql_->Exec(
      "SELECT limit_minute IS NULL, limit_hour, limit_day, limit_month, status, status_reason, "
      "status_actor, reinstated_until, tier, clean_days, domains_only, created, "
      "(SELECT string_agg(domain, ',' ORDER BY domain) FROM account_domains WHERE account = name) "
      "FROM accounts WHERE name = 'alice'");
  ASSERT_TRUE(alice.ok() && alice.value().rows() == 1);
  const PgResult& a = alice.value();
  EXPECT_TRUE(a.GetBool(0, 0));
  EXPECT_EQ(a.GetInt(0, 1), 500);
  EXPECT_EQ(a.GetInt(0, 2), -1) << "unlimited";
  EXPECT_EQ(a.GetInt(0, 3), 0);
  EXPECT_EQ(a.Get(0, 4), "reinstated");
  EXPECT_EQ(a.Get(0, 5), "complaint-rate: 0.2%");
  EXPECT_EQ(a.Get(0, 6), "bob (sudo alice)");
  EXPECT_EQ(a.GetInt(0, 7), kNow + 86400);
  EXPECT_EQ(a.GetInt(0, 8), 3);
  EXPECT_EQ(a.GetInt(0, 9), 5);
  EXPECT_TRUE(a.GetBool(0, 10));
  EXPECT_EQ(a.GetInt(0, 11), kNow - 100);
  EXPECT_EQ(a.Get(0, 12), "a.example,b.example,xn--jrgen-kva.example");
  EXPECT_EQ(Int("SELECT count(*) FROM suppression WHERE account = ''"), 701);
  EXPECT_EQ(Int("SELECT hard FROM day_counts WHERE account = 'alice' AND day = " +
                std::to_string(kToday)),
            4);
  EXPECT_EQ(Int("SELECT delivered FROM day_counts WHERE account = 'bob'"), INT64_MAX);
  EXPECT_EQ(Int("SELECT quota_used + 1000 * refused + 1000000 * tier FROM day_counts "
                "WHERE account = 'alice' AND day = " + std::to_string(kToday)),
            4003040);
  EXPECT_EQ(Int("SELECT quota_used FROM day_counts WHERE account = 'bob'"), INT64_MAX);
  EXPECT_EQ(Int("SELECT tier FROM day_counts WHERE account = 'bob'"), 255);
  EXPECT_EQ(Int("SELECT count FROM bounces WHERE address = 'dead@x.org'"), 3);
  EXPECT_EQ(Int("SELECT count(*) FROM audit WHERE action = 'note'"), 2);
  // The nodes' caches are told once to reload, not once per row.
  EXPECT_EQ(Int("SELECT count(*) FROM changes"), 1);
  EXPECT_EQ(Int("SELECT count(*) FROM changes WHERE kind = 'resync'"), 1);

  // Again: nothing written, not a row version nor a change.
  const std::map<std::string, int64_t> before = Rows();
  const auto again = MustCopy(kToPg, src_path);
  ExpectNothingWritten(again, counts);
  EXPECT_EQ(Rows(), before);

  // Back into a fresh LMDB store: the same records (but the one PostgreSQL
  // could not hold), then again nothing.
  const std::string back_path = dir_.path() + "/back";
  const auto dry_back = MustCopy(kToLmdb, back_path, /*dry_run=*/true);
  {
    auto back = OpenLmdb(back_path);
    ASSERT_NE(back, nullptr);
    EXPECT_TRUE(Read(*back).accounts.empty()) << "a dry run writes nothing";
  }
  const auto back_counts = MustCopy(kToLmdb, back_path);
  EXPECT_EQ(Show(dry_back), Show(back_counts));
  Contents want = src;
  want.accounts.erase(std::remove_if(want.accounts.begin(), want.accounts.end(),
                                     [](const std::string& s) { return s.rfind("bad\xff=", 0) == 0; }),
                      want.accounts.end());
  // Audit text PostgreSQL cannot hold as it is (the account name of
  // bad\xff's edit) is stored escaped, and comes back as it was.
  EXPECT_EQ(Int("SELECT count(*) FROM audit WHERE account = 'bad\\xff'"), 1);
  {
    auto back = OpenLmdb(back_path);
    ASSERT_NE(back, nullptr);
    const Contents got = Read(*back);
    EXPECT_EQ(got.accounts, want.accounts);
    EXPECT_EQ(got.suppressions, want.suppressions);
    EXPECT_EQ(got.days, want.days);
    EXPECT_EQ(got.bounces, want.bounces);
    EXPECT_EQ(got.audit, want.audit);
  }
  const auto back_again = MustCopy(kToLmdb, back_path);
  ExpectNothingWritten(back_again, back_counts);
  {
    auto back = OpenLmdb(back_path);
    ASSERT_NE(back, nullptr);
    EXPECT_TRUE(Read(*back) == want);
  }
}

// A change in the source reaches the destination on the next copy, and
// only it: one account written, one more "resync" change.
TEST_F(PgStoreCopyTest, SecondCopyWritesOnlyWhatChanged) {
  const std::string src_path = dir_.path() + "/src";
  {
    auto s = OpenLmdb(src_path);
    ASSERT_NE(s, nullptr);
    Fill(*s);
  }
  MustCopy(kToPg, src_path);
  {
    auto s = OpenLmdb(src_path);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->UpdateAccount("bob",
                                 [](AccountRecord* a, bool) {
                                   a->status = AccountStatus::kActive;
                                   a->domains = {"bob.example"};
                                   return Status::Ok();
                                 },
                                 Audit("reinstate", "bob"))
                    .ok());
    ASSERT_TRUE(s->UpdateAccount("alice",
                                 [](AccountRecord* a, bool) {
                                   a->domains = {"b.example"};  // two removed
                                   return Status::Ok();
                                 },
                                 Audit("domains-remove", "alice"))
                    .ok());
  }
  const auto counts = MustCopy(kToPg, src_path);
  SCOPED_TRACE(Show(counts));
  EXPECT_EQ(counts[0].kind, "accounts");
  EXPECT_EQ(counts[0].written, 2u);
  EXPECT_EQ(counts[4].kind, "audit");
  EXPECT_EQ(counts[4].written, 2u);
  for (size_t i = 1; i < 4; ++i) EXPECT_EQ(counts[i].written, 0u);
  EXPECT_EQ(Int("SELECT count(*) FROM accounts WHERE name = 'bob' AND status = 'active'"), 1);
  EXPECT_EQ(Int("SELECT count(*) FROM account_domains WHERE account = 'alice'"), 1);
  EXPECT_EQ(Int("SELECT count(*) FROM account_domains WHERE account = 'bob'"), 1);
  EXPECT_EQ(Int("SELECT count(*) FROM changes WHERE kind = 'resync'"), 2);
  EXPECT_EQ(Int("SELECT count(*) FROM changes"), 2);
}

TEST_F(PgStoreCopyTest, RefusesWhatItCannotDo) {
  // No LMDB store to copy from: not one made there.
  auto none = Copy(kToPg, dir_.path() + "/nothing-here");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Status::Code::kInvalid);
  EXPECT_NE(none.status().message().find("no LMDB store"), std::string::npos);
  // A database without the schema names the command that makes it.
  std::string err;
  const std::string bare = PgTestDatabase(&err, /*migrate=*/false);
  ASSERT_FALSE(bare.empty()) << err;
  StoreCopyRequest r;
  r.direction = kToLmdb;
  r.lmdb_path = dir_.path() + "/dest";
  r.conninfo = bare;
  auto no_schema = CopyStore(r);
  ASSERT_FALSE(no_schema.ok());
  EXPECT_EQ(no_schema.status().code(), Status::Code::kInvalid);
  EXPECT_NE(no_schema.status().message().find("store init"), std::string::npos);
  // PostgreSQL unreachable.
  r.conninfo = "host=127.0.0.1 port=1 dbname=x connect_timeout=2";
  auto down = CopyStore(r);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), Status::Code::kUnavailable);
}

}  // namespace
}  // namespace senderguard
