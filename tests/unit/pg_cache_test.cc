// The node caches of the PostgreSQL store (pg_cache.h): two nodes (two
// PgStores with cached_reads, each with its own LMDB directory, as two
// milters on two MTAs) on one database of a private server (run under
// tests/pg/with_pg.sh). A change made through one node must be read from
// the other's cache within one second; a change made while a listener is
// cut arrives after it reconnects; a bulk write reloads the caches whole.
// The delays are measured and printed.
#include <chrono>
#include <cstdio>
#include <thread>

#include <gtest/gtest.h>

#include "lmdb_fixture.h"
#include "pg_fixture.h"
#include "senderguard/store/codec.h"
#include "senderguard/store/postgresql/pg_records.h"
#include "senderguard/store/postgresql/pg_store.h"

namespace senderguard {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kNow = 1'795'622'400;

// One MTA: a PgStore reading accounts and suppression from its cache.
struct Node {
  std::string name;
  lmdb_test::TempDir dir;
  // Every line kept, to count how often a state change was logged.
  std::unique_ptr<lmdb_test::CapturingLogger> log = std::make_unique<lmdb_test::CapturingLogger>();
  std::unique_ptr<PgStore> store;

  // A new log (what the next Open logs). REQUIRES: the store is closed.
  void NewLog() { log = std::make_unique<lmdb_test::CapturingLogger>(); }

  Status Open(const std::string& conninfo) {
    store.reset();
    // The listener is "<program>/cache".
    PgStoreOptions o = PgTestStoreOptions(conninfo, name, "pg_cache_test-" + name,
                                          dir.path() + "/local", log.get());
    o.cached_reads = true;
    auto r = PgStore::Open(o);
    if (!r.ok()) return r.status();
    store = std::move(r.value());
    return Status::Ok();
  }
};

AuditEntry Audit(std::string action, std::string account = "") {
  AuditEntry a;
  a.time_us = kNow * 1000000;
  a.actor = "pg_cache_test";
  a.action = std::move(action);
  a.account = std::move(account);
  return a;
}

Status SetStatus(Store& s, const std::string& account, AccountStatus status) {
  return s.UpdateAccount(
      account,
      [&](AccountRecord* r, bool) {
        r->status = status;
        r->status_reason = "pg_cache_test";
        return Status::Ok();
      },
      Audit(status == AccountStatus::kSuspended ? "suspend" : "reinstate", account));
}

SuppressionRecord Supp(std::string account, std::string address) {
  SuppressionRecord r;
  r.account = std::move(account);
  r.address = std::move(address);
  r.reason = "pg_cache_test";
  r.actor = "test";
  r.since = kNow;
  return r;
}

// Milliseconds until `seen()` holds, polling every millisecond; -1 when it
// does not within `limit`.
template <typename F>
int64_t MsUntil(F seen, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  const auto t0 = Clock::now();
  for (;;) {
    if (seen()) {
      return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count() /
             1000;
    }
    if (Clock::now() - t0 > limit) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool Suspended(Store& s, const std::string& account) {
  auto a = s.GetAccount(account);
  return a.ok() && a.value().has_value() && a.value()->status == AccountStatus::kSuspended;
}
bool Active(Store& s, const std::string& account) {
  auto a = s.GetAccount(account);
  return a.ok() && a.value().has_value() && a.value()->status == AccountStatus::kActive;
}
bool Suppressed(Store& s, const std::string& account, const std::string& address) {
  auto f = s.FindSuppression(account, address);
  return f.ok() && f.value().has_value();
}

class PgCacheTest : public PgDatabaseTest {
 protected:
  void SetUp() override {
    PgDatabaseTest::SetUp();
    if (db_.empty()) return;
    a_.name = "mx1";
    b_.name = "mx2";
    Status st = a_.Open(db_);
    ASSERT_TRUE(st.ok()) << st.ToString();
    st = b_.Open(db_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  std::unique_ptr<PgConn> Admin(const std::string& conninfo) {
    auto c = PgConn::Connect(conninfo, "pg_cache_test-admin");
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c.value()) : nullptr;
  }
  std::string DbName() const { return db_.substr(db_.rfind("dbname=") + 7); }

  Node a_, b_;
};

TEST_F(PgCacheTest, SuspensionOnOneNodeIsReadOnTheOtherWithinOneSecond) {
  std::vector<int64_t> delays;
  for (int i = 0; i < 6; ++i) {
    const bool suspend = i % 2 == 0;
    Store& from = i % 4 < 2 ? *a_.store : *b_.store;  // both directions
    Store& to = &from == a_.store.get() ? *b_.store : *a_.store;
    ASSERT_TRUE(
        SetStatus(from, "alice", suspend ? AccountStatus::kSuspended : AccountStatus::kActive).ok());
    const int64_t ms = MsUntil([&] { return suspend ? Suspended(to, "alice") : Active(to, "alice"); });
    ASSERT_GE(ms, 0) << "change " << i << " never reached the other node's cache";
    delays.push_back(ms);
    // The writing node's own cache follows too.
    EXPECT_GE(MsUntil([&] { return suspend ? Suspended(from, "alice") : Active(from, "alice"); }), 0);
  }
  std::printf("# suspension/reinstatement seen by the other node's cache after (ms):");
  for (int64_t d : delays) std::printf(" %lld", static_cast<long long>(d));
  std::printf("\n");
  for (int64_t d : delays) EXPECT_LT(d, 1000);

  // Every field, domains included, arrives as written; as domains change
  // alone, too.
  auto edit = [](AccountRecord* r, bool) {
    r->limits = {10, kUnlimited, kInheritLimit, 5000};
    r->dry_run = true;
    r->domains_only = true;
    r->domains = {"a.example", "b.example"};
    r->status_reason = std::string("odd \0\xff\\ bytes", 14);
    r->tier = 3;
    r->reinstated_until = kNow + 86400;
    return Status::Ok();
  };
  ASSERT_TRUE(a_.store->UpdateAccount("bob", edit, Audit("quota-set", "bob")).ok());
  auto admin = Admin(db_);
  ASSERT_NE(admin, nullptr);
  auto stored = PgReadAccount(*admin, "bob", false);
  ASSERT_TRUE(stored.ok() && stored.value().has_value());
  auto same = [&] {
    auto c = b_.store->GetAccount("bob");
    return c.ok() && c.value().has_value() && Encode(**c) == Encode(*stored.value());
  };
  EXPECT_GE(MsUntil(same), 0);
  EXPECT_EQ(stored.value()->status_reason, std::string("odd \0\xff\\ bytes", 14));
  ASSERT_TRUE(a_.store
                  ->UpdateAccount(
                      "bob",
                      [](AccountRecord* r, bool) {
                        r->domains.push_back("c.example");
                        return Status::Ok();
                      },
                      Audit("domains-add", "bob"))
                  .ok());
  const int64_t ms = MsUntil([&] {
    auto c = b_.store->GetAccount("bob");
    return c.ok() && c.value().has_value() && c.value()->domains.size() == 3;
  });
  std::printf("# a verified domain added, seen by the other node after %lld ms\n",
              static_cast<long long>(ms));
  EXPECT_GE(ms, 0);
  EXPECT_LT(ms, 1000);
}

TEST_F(PgCacheTest, SuppressionAddedAndRemovedOnOneNodeIsReadOnTheOtherWithinOneSecond) {
  std::vector<int64_t> add_ms, remove_ms;
  for (int i = 0; i < 3; ++i) {
    const std::string global = "g" + std::to_string(i) + "@example.org";
    const std::string own = "o" + std::to_string(i) + "@example.org";
    ASSERT_TRUE(a_.store->AddSuppressions({Supp("", global), Supp("carol", own)},
                                          Audit("suppress-add"))
                    .ok());
    int64_t ms = MsUntil([&] {
      return Suppressed(*b_.store, "dave", global) && Suppressed(*b_.store, "carol", own);
    });
    ASSERT_GE(ms, 0);
    add_ms.push_back(ms);
    EXPECT_FALSE(Suppressed(*b_.store, "dave", own)) << "carol's entry applies to carol only";
    auto f = b_.store->FindSuppression("carol", global);
    ASSERT_TRUE(f.ok() && f.value().has_value());
    EXPECT_EQ(f.value()->account, "") << "the global entry first";
    EXPECT_EQ(f.value()->reason, "pg_cache_test");

    auto removed = a_.store->RemoveSuppression("", global, Audit("suppress-remove"));
    ASSERT_TRUE(removed.ok() && removed.value());
    removed = a_.store->RemoveSuppression("carol", own, Audit("suppress-remove"));
    ASSERT_TRUE(removed.ok() && removed.value());
    ms = MsUntil([&] {
      return !Suppressed(*b_.store, "dave", global) && !Suppressed(*b_.store, "carol", own);
    });
    ASSERT_GE(ms, 0);
    remove_ms.push_back(ms);
  }
  std::printf("# suppression added, seen by the other node after (ms):");
  for (int64_t d : add_ms) std::printf(" %lld", static_cast<long long>(d));
  std::printf("\n# suppression removed, gone from the other node after (ms):");
  for (int64_t d : remove_ms) std::printf(" %lld", static_cast<long long>(d));
  std::printf("\n");
  for (int64_t d : add_ms) EXPECT_LT(d, 1000);
  for (int64_t d : remove_ms) EXPECT_LT(d, 1000);

  // A transaction of more changes than NOTIFY carries (100) arrives whole.
  std::vector<SuppressionRecord> many;
  for (int i = 0; i < 250; ++i) many.push_back(Supp("", "bulk" + std::to_string(i) + "@example.org"));
  ASSERT_TRUE(a_.store->AddSuppressions(many, Audit("import")).ok());
  const int64_t ms = MsUntil([&] { return Suppressed(*b_.store, "x", "bulk249@example.org"); });
  std::printf("# 250 suppressions in one transaction, the last seen after %lld ms\n",
              static_cast<long long>(ms));
  EXPECT_GE(ms, 0);
  EXPECT_LT(ms, 1000);
  EXPECT_EQ(b_.store->local().CountSuppressions("").value(), 250u);
}

// `account delete` on one node: the other node's cache loses the account
// and its own suppressions within a second (the milter there then sees no
// record, as for an account that never sent); the global list stays.
TEST_F(PgCacheTest, DeletedAccountLeavesTheOtherNodesCacheWithinOneSecond) {
  ASSERT_TRUE(SetStatus(*a_.store, "carol", AccountStatus::kSuspended).ok());
  ASSERT_TRUE(a_.store
                  ->AddSuppressions({Supp("carol", "own@example.org"), Supp("", "g@example.org")},
                                    Audit("suppress-add"))
                  .ok());
  ASSERT_GE(MsUntil([&] {
              return Suspended(*b_.store, "carol") &&
                     Suppressed(*b_.store, "carol", "own@example.org");
            }),
            0);
  auto gone = a_.store->DeleteAccount(
      "carol", [](const AccountContents&) { return Audit("account-delete", "carol"); });
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  EXPECT_EQ(gone->suppressions, 1u);
  const int64_t ms = MsUntil([&] {
    auto acc = b_.store->GetAccount("carol");
    return acc.ok() && !acc.value().has_value() &&
           !Suppressed(*b_.store, "dave", "own@example.org") &&
           b_.store->local().CountSuppressions("carol").value() == 0;
  });
  std::printf("# a deleted account gone from the other node's cache after %lld ms\n",
              static_cast<long long>(ms));
  ASSERT_GE(ms, 0);
  EXPECT_LT(ms, 1000);
  EXPECT_TRUE(Suppressed(*b_.store, "carol", "g@example.org")) << "the global entry stays";
}

// `account rename` on one node: the other node's cache has the account and
// its own suppressions under the new name, and nothing under the old one,
// within a second.
TEST_F(PgCacheTest, RenamedAccountMovesInTheOtherNodesCacheWithinOneSecond) {
  ASSERT_TRUE(SetStatus(*a_.store, "erin", AccountStatus::kSuspended).ok());
  ASSERT_TRUE(a_.store->AddSuppressions({Supp("erin", "own@example.org")}, Audit("suppress-add")).ok());
  ASSERT_GE(MsUntil([&] { return Suppressed(*b_.store, "erin", "own@example.org"); }), 0);
  auto moved = a_.store->RenameAccount("erin", "fred", [](const AccountContents&) {
    return std::vector<AuditEntry>{Audit("account-rename", "erin"), Audit("account-rename", "fred")};
  });
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  const int64_t ms = MsUntil([&] {
    auto old = b_.store->GetAccount("erin");
    return old.ok() && !old.value().has_value() && Suspended(*b_.store, "fred") &&
           Suppressed(*b_.store, "fred", "own@example.org") &&
           !Suppressed(*b_.store, "erin", "own@example.org");
  });
  std::printf("# a renamed account moved in the other node's cache after %lld ms\n",
              static_cast<long long>(ms));
  ASSERT_GE(ms, 0);
  EXPECT_LT(ms, 1000);
  auto f = b_.store->FindSuppression("fred", "own@example.org");
  ASSERT_TRUE(f.ok() && f.value().has_value());
  EXPECT_EQ(f.value()->account, "fred");
}

TEST_F(PgCacheTest, ChangeMadeWhileTheListenerIsCutArrivesAfterItReconnects) {
  ASSERT_TRUE(SetStatus(*a_.store, "erin", AccountStatus::kActive).ok());
  ASSERT_GE(MsUntil([&] { return Active(*b_.store, "erin"); }), 0);
  auto server = Admin(PgTestServer());
  ASSERT_NE(server, nullptr);
  // No new connection to the database (superusers included), then mx2's
  // listener cut: it cannot come back until connections are allowed again.
  ASSERT_TRUE(server->Exec("ALTER DATABASE " + DbName() + " ALLOW_CONNECTIONS false").ok());
  auto cut = server->Exec(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE application_name = 'pg_cache_test-mx2/cache'");
  ASSERT_TRUE(cut.ok()) << cut.status().ToString();
  ASSERT_EQ(cut.value().GetInt(0, 0), 1);
  // The change, through mx1's open connection, while mx2 cannot listen.
  Status st = SetStatus(*a_.store, "erin", AccountStatus::kSuspended);
  const auto changed = Clock::now();
  EXPECT_TRUE(st.ok()) << st.ToString();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(Suspended(*b_.store, "erin")) << "the listener was cut: nothing can have arrived";
  EXPECT_TRUE(Active(*b_.store, "erin")) << "the cache keeps serving what it has";
  EXPECT_TRUE(b_.log->Saw("store=postgresql action=cache-lost"));
  ASSERT_TRUE(server->Exec("ALTER DATABASE " + DbName() + " ALLOW_CONNECTIONS true").ok());
  const int64_t ms = MsUntil([&] { return Suspended(*b_.store, "erin"); },
                             std::chrono::milliseconds(15000));
  ASSERT_GE(ms, 0) << "the change never arrived";
  std::printf(
      "# change made while the listener was cut: seen %lld ms after connections were allowed "
      "again (%lld ms after the change)\n",
      static_cast<long long>(ms),
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - changed).count()));
  EXPECT_LT(ms, 11000) << "reconnection backs off to 10 s at most";
  EXPECT_GE(MsUntil([&] { return b_.log->Saw("store=postgresql action=cache-back"); }), 0);
  // Logged once each, however many reconnections failed meanwhile.
  EXPECT_EQ(b_.log->Count("action=cache-lost"), 1u);
  EXPECT_EQ(b_.log->Count("action=cache-back"), 1u);
  // And it follows notifications again.
  ASSERT_TRUE(SetStatus(*a_.store, "erin", AccountStatus::kActive).ok());
  const int64_t again = MsUntil([&] { return Active(*b_.store, "erin"); });
  std::printf("# after the reconnection, the next change seen after %lld ms\n",
              static_cast<long long>(again));
  EXPECT_GE(again, 0);
  EXPECT_LT(again, 1000);
}

TEST_F(PgCacheTest, BulkWriteReloadsTheCachesWhole) {
  ASSERT_TRUE(a_.store->AddSuppressions({Supp("", "old@example.org")}, Audit("suppress-add")).ok());
  ASSERT_TRUE(SetStatus(*a_.store, "frank", AccountStatus::kSuspended).ok());
  ASSERT_GE(MsUntil([&] {
              return Suppressed(*b_.store, "x", "old@example.org") && Suspended(*b_.store, "frank");
            }),
            0);
  auto admin = Admin(db_);
  ASSERT_NE(admin, nullptr);
  auto last = admin->Exec("SELECT coalesce(max(seq), 0) FROM changes");
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  const std::string before = std::string(last.value().Get(0, 0));
  // A bulk writer (store copy) logs one 'resync' change, not its rows.
  Status st = admin->Transaction([](PgConn& c) -> Status {
    for (const char* sql :
         {"SET LOCAL sg.bulk = 'on'",
          "INSERT INTO accounts (name, status, status_reason) VALUES ('bulk1', 'suspended', 'copy'), "
          "('bulk2', 'active', '')",
          "INSERT INTO account_domains (account, domain) VALUES ('bulk2', 'bulk.example')",
          "DELETE FROM suppression WHERE address = 'old@example.org'",
          "DELETE FROM accounts WHERE name = 'frank'",
          "INSERT INTO suppression (account, address, reason) VALUES ('bulk1', 'new@example.org', 'copy')"}) {
      auto r = c.Exec(sql);
      if (!r.ok()) return r.status();
    }
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  // Every change logged since: one, the resync.
  auto logged = admin->Exec("SELECT count(*), min(kind), max(kind) FROM changes WHERE seq > $1",
                            {before});
  ASSERT_TRUE(logged.ok()) << logged.status().ToString();
  EXPECT_EQ(logged.value().GetInt(0, 0), 1);
  EXPECT_EQ(logged.value().Get(0, 1), "resync");
  EXPECT_EQ(logged.value().Get(0, 2), "resync");
  const int64_t ms = MsUntil([&] {
    return Suspended(*b_.store, "bulk1") && !Suppressed(*b_.store, "x", "old@example.org") &&
           !b_.store->GetAccount("frank").value().has_value() &&
           Suppressed(*b_.store, "bulk1", "new@example.org");
  });
  std::printf("# bulk write (resync): the other node's cache reloaded whole after %lld ms\n",
              static_cast<long long>(ms));
  ASSERT_GE(ms, 0);
  EXPECT_LT(ms, 1000);
  auto bulk2 = b_.store->GetAccount("bulk2");
  ASSERT_TRUE(bulk2.ok() && bulk2.value().has_value());
  EXPECT_EQ(bulk2.value()->domains, std::vector<std::string>{"bulk.example"});
  // (Logged once the reload is written: a moment after the rows are read.)
  EXPECT_GE(MsUntil([&] { return b_.log->Saw("store=postgresql action=cache-load reason=resync"); }), 0);
  EXPECT_GE(MsUntil([&] { return a_.log->Saw("store=postgresql action=cache-load reason=resync"); }), 0);
}

TEST_F(PgCacheTest, ReopenedNodeCatchesUpFromItsSeqAndAnotherDatabaseReloadsWhole) {
  ASSERT_TRUE(SetStatus(*a_.store, "gina", AccountStatus::kSuspended).ok());
  ASSERT_GE(MsUntil([&] { return Suspended(*b_.store, "gina"); }), 0);
  EXPECT_TRUE(b_.log->Saw("action=cache-load reason=start"));
  b_.store.reset();  // mx2 stops
  ASSERT_TRUE(SetStatus(*a_.store, "gina", AccountStatus::kActive).ok());
  ASSERT_TRUE(a_.store->AddSuppressions({Supp("gina", "h@example.org")}, Audit("suppress-add")).ok());
  // Reopened on its local store: the changes it missed, from its seq (no
  // whole reload), before Open returns.
  b_.NewLog();
  Status st = b_.Open(db_);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(Active(*b_.store, "gina"));
  EXPECT_TRUE(Suppressed(*b_.store, "gina", "h@example.org"));
  EXPECT_FALSE(b_.log->Saw("action=cache-load"));
  auto state = b_.store->local().GetCacheState();
  ASSERT_TRUE(state.ok());
  EXPECT_GT(state.value().seq, 0);

  // The same local store pointed at another database: reloaded whole, and
  // nothing of the first database's rows is left.
  b_.store.reset();
  b_.NewLog();
  std::string err;
  const std::string other = PgTestDatabase(&err);
  ASSERT_FALSE(other.empty()) << err;
  st = b_.Open(other);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(b_.log->Saw("action=cache-load reason=source"));
  EXPECT_FALSE(b_.store->GetAccount("gina").value().has_value());
  EXPECT_FALSE(Suppressed(*b_.store, "gina", "h@example.org"));
}

TEST_F(PgCacheTest, CacheStateNamesTheDatabaseAndTheLastSeq) {
  ASSERT_TRUE(SetStatus(*a_.store, "hal", AccountStatus::kSuspended).ok());
  ASSERT_GE(MsUntil([&] { return Suspended(*b_.store, "hal"); }), 0);
  auto state = b_.store->local().GetCacheState();
  ASSERT_TRUE(state.ok());
  auto admin = Admin(db_);
  ASSERT_NE(admin, nullptr);
  auto newest = admin->Exec("SELECT max(seq) FROM changes");
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(state.value().seq, newest.value().GetInt(0, 0));
  EXPECT_NE(state.value().source.find(DbName() + "/"), std::string::npos) << state.value().source;
}

// An MTA restarted while PostgreSQL is unreachable: a node whose cache was
// loaded before starts on it (suspension and suppression as last seen, and
// quotas as on_unavailable says); a node that never loaded its cache, or a
// program that reads PostgreSQL itself (the CLI), cannot start.
TEST_F(PgCacheTest, NodeWithALoadedCacheStartsWhilePostgresqlIsUnreachable) {
  ASSERT_TRUE(SetStatus(*a_.store, "ivan", AccountStatus::kSuspended).ok());
  ASSERT_TRUE(a_.store->AddSuppressions({Supp("judy", "k@example.org")}, Audit("suppress-add")).ok());
  ASSERT_GE(MsUntil([&] {
              return Suspended(*b_.store, "ivan") && Suppressed(*b_.store, "judy", "k@example.org");
            }),
            0);
  b_.store.reset();
  b_.NewLog();
  // Port 1 on loopback: nothing listens, the connection is refused.
  const std::string down = "host=127.0.0.1 port=1 dbname=x connect_timeout=2";
  Status st = b_.Open(down);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(b_.log->Saw("action=start-on-cache")) << "logged once, at start";
  EXPECT_TRUE(Suspended(*b_.store, "ivan"));
  EXPECT_TRUE(Suppressed(*b_.store, "judy", "k@example.org"));
  QuotaCharge day;
  day.window = Window::kDay;
  day.span = SpanAt(Window::kDay, kNow, cctz::utc_time_zone());
  day.limit = 10;
  day.amount = 1;
  auto r = b_.store->Reserve("ivan", {day}, false);
  EXPECT_FALSE(r.ok() && r->ok) << "on_unavailable = tempfail: nothing leased, nothing sent";
  b_.store.reset();

  // Never loaded: no cache to start on.
  Node fresh;
  fresh.name = "mx3";
  st = fresh.Open(down);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.ToString().find("cannot connect"), std::string::npos) << st.ToString();
  // A server that answered and refused (here: no such database) is a
  // configuration to fix, not an outage: no start on the cache.
  b_.NewLog();
  st = b_.Open(db_.substr(0, db_.rfind("dbname=")) + "dbname=sg_no_such_database");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.ToString().find("sg_no_such_database"), std::string::npos) << st.ToString();
  EXPECT_FALSE(b_.log->Saw("action=start-on-cache"));
  // Not a cached reader (the CLI, the tailer): the database or nothing.
  PgStoreOptions o = PgTestStoreOptions(down, "mx2", "pg_cache_test-cli", b_.dir.path() + "/local",
                                        b_.log.get());
  EXPECT_FALSE(PgStore::Open(o).ok());

  // Back on the database: caught up, as any reopened node.
  ASSERT_TRUE(SetStatus(*a_.store, "ivan", AccountStatus::kActive).ok());
  st = b_.Open(db_);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(Active(*b_.store, "ivan"));
}

}  // namespace
}  // namespace senderguard
