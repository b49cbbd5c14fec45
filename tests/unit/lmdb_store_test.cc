// Tests of what is LMDB's own in lmdb_store.h (opening, reopening, map
// growth, corruption, the schema record, Reserve after a write that changed nothing)
// on a real LMDB environment in a fresh temporary directory per test; the
// Store contract itself is store_contract_test.cc. LMDB allows one open
// handle per environment per process, so each test holds at most one
// LmdbStore (or one raw MDB_env) on its directory at a time, closing one
// before opening the next.
#include "lmdb_fixture.h"
#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/codec.h"
#include "senderguard/decide/quota.h"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace senderguard {
namespace {

using namespace std::string_literals;

constexpr int64_t kNow = 1'795'622'400;  // 2026-11-25 16:00:00 UTC

AuditEntry Audit(std::string action, std::string account = "", int64_t time_us = kNow * 1000000) {
  AuditEntry a;
  a.time_us = time_us;
  a.actor = "test (uid 0)";
  a.action = std::move(action);
  a.account = std::move(account);
  a.detail = "unit test";
  return a;
}

QuotaCharge Charge(Window w, uint64_t limit, uint64_t amount = 1, int64_t now = kNow) {
  QuotaCharge c;
  c.window = w;
  c.span = SpanAt(w, now, cctz::utc_time_zone());
  c.limit = limit;
  c.amount = amount;
  return c;
}

std::vector<int> Pcts(const std::vector<QuotaAlert>& alerts) {
  std::vector<int> out;
  for (const auto& a : alerts) out.push_back(a.pct);
  return out;
}

class LmdbStoreTest : public lmdb_test::LmdbTest {
 protected:
  // Commits `n` single-recipient transactions.
  void Send(std::string_view account, const std::vector<QuotaCharge>& charges, int n = 1) {
    for (int i = 0; i < n; ++i) {
      auto r = store_->Reserve(account, charges, false);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_TRUE(r->ok);
      auto c = store_->Commit(account, charges, nullptr, kNow);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
    }
  }

  uint64_t Used(std::string_view account, const QuotaCharge& c) {
    auto u = store_->Usage(account, {WindowUsage{c.window, c.span, 0}});
    EXPECT_TRUE(u.ok()) << u.status().ToString();
    if (!u.ok() || u->size() != 1) return UINT64_MAX;
    return (*u)[0].used;
  }

};

// ------------------------------------------------------------ accounts

TEST_F(LmdbStoreTest, OpenCreatesDirectory) {
  OpenStore();
  EXPECT_TRUE(std::filesystem::is_directory(path_));
  EXPECT_TRUE(std::filesystem::exists(path_ + "/data.mdb"));
}

TEST_F(LmdbStoreTest, OpenOnAFileFails) {
  ASSERT_TRUE(std::ofstream(path_).good());
  auto r = LmdbStore::Open(Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIo) << r.status().ToString();
}



SuppressionRecord Supp(std::string account, std::string address, std::string reason) {
  SuppressionRecord r;
  r.account = std::move(account);
  r.address = std::move(address);
  r.reason = std::move(reason);
  r.actor = "test";
  r.since = kNow;
  return r;
}


// Regression: a write that changes nothing (every part of the batch refused,
// or a no-op) must not leave Reserve unable to get a fresh snapshot. Each
// case runs one such write, then a Reserve for an unrelated account.
TEST_F(LmdbStoreTest, ReserveWorksAfterAWriteThatChangedNothing) {
  struct Case {
    const char* name;
    std::function<void(LmdbStore*)> write;
  };
  const std::vector<Case> cases = {
      {"refused_account_change",
       [](LmdbStore* s) {
         Status st = s->UpdateAccount(
             "alice", [](AccountRecord*, bool) { return Status::Invalid("not suspended"); },
             Audit("reinstate", "alice"));
         EXPECT_EQ(st.code(), Status::Code::kInvalid);
       }},
      {"remove_missing_suppression",
       [](LmdbStore* s) {
         auto r = s->RemoveSuppression("alice", "nobody@example.com", Audit("remove"));
         ASSERT_TRUE(r.ok());
         EXPECT_FALSE(*r);
       }},
      {"commit_of_zero_charges_for_known_account",
       [](LmdbStore* s) {
         ASSERT_TRUE(s->Commit("known", {Charge(Window::kDay, 10, 0)}, nullptr, kNow).ok());
       }},
      {"commit_without_charges_or_queue_id",
       [](LmdbStore* s) { ASSERT_TRUE(s->Commit("known", {}, nullptr, kNow).ok()); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    OpenStore();
    // "known" has a record already (created by its first commit).
    ASSERT_TRUE(store_->Commit("known", {}, nullptr, kNow).ok());
    c.write(store_.get());
    auto r = store_->Reserve("bob", {Charge(Window::kDay, 10)}, false);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      EXPECT_TRUE(r->ok);
    }
    // A later write that changes something brings Reserve back.
    ASSERT_TRUE(store_->AppendAudit(Audit("noop")).ok());
    auto again = store_->Reserve("bob", {Charge(Window::kDay, 10)}, false);
    EXPECT_TRUE(again.ok()) << again.status().ToString();
    CloseStore();
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}


TEST_F(LmdbStoreTest, CommitPersistsAcrossReopen) {
  OpenStore();
  const std::vector<QuotaCharge> charges = {Charge(Window::kDay, 10), Charge(Window::kMonth, 100)};
  Send("alice", charges, 7);
  CloseStore();
  OpenStore();
  EXPECT_EQ(Used("alice", charges[0]), 7u);
  EXPECT_EQ(Used("alice", charges[1]), 7u);
  auto r = store_->Reserve("alice", {Charge(Window::kDay, 10, 3)}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok);
  auto over = store_->Reserve("alice", {Charge(Window::kDay, 10, 1)}, false);
  ASSERT_TRUE(over.ok());
  EXPECT_FALSE(over->ok);
  EXPECT_EQ(over->used, 7u);
  EXPECT_EQ(over->reserved, 3u);
}



TEST_F(LmdbStoreTest, AlertsFireOnceAcrossAReopen) {
  OpenStore();
  const std::vector<QuotaCharge> one = {Charge(Window::kDay, 10, 8)};
  ASSERT_TRUE(store_->Reserve("alice", one, false)->ok);
  auto first = store_->Commit("alice", one, nullptr, kNow);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Pcts(*first), std::vector<int>{80});
  CloseStore();
  OpenStore();
  const std::vector<QuotaCharge> more = {Charge(Window::kDay, 10, 1)};
  ASSERT_TRUE(store_->Reserve("alice", more, false)->ok);
  auto after = store_->Commit("alice", more, nullptr, kNow);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(Pcts(*after), std::vector<int>{90}) << "80% again after the reopen";
}

// ------------------------------------------------------------ map size

TEST_F(LmdbStoreTest, MapGrowsWhenFull) {
  constexpr uint64_t kOneMiB = 1ull << 20;
  constexpr int kEntries = 50000;
  OpenStore(kOneMiB);
  EXPECT_EQ(store_->MapSize(), kOneMiB);
  for (int b = 0; b < kEntries / 1000; ++b) {
    std::vector<SuppressionRecord> batch;
    for (int i = b * 1000; i < (b + 1) * 1000; ++i) {
      char addr[64];
      std::snprintf(addr, sizeof addr, "user%05d@example.com", i);
      batch.push_back(Supp("alice", addr, "hard bounce 5.1.1"));
    }
    auto s = store_->AddSuppressions(batch, Audit("import", "alice", b));
    ASSERT_TRUE(s.ok()) << "batch " << b << ": " << s.status().ToString();
  }
  EXPECT_GT(store_->MapSize(), kOneMiB);
  EXPECT_TRUE(logger_.Saw("action=grow-map"));
  EXPECT_EQ(*store_->CountSuppressions("alice"), uint64_t{kEntries});

  CloseStore();
  OpenStore(kOneMiB);  // the data, not the option, sets the size now
  EXPECT_GT(store_->MapSize(), kOneMiB);
  EXPECT_EQ(*store_->CountSuppressions("alice"), uint64_t{kEntries});
  for (int i : {0, 12345, kEntries - 1}) {
    char addr[64];
    std::snprintf(addr, sizeof addr, "user%05d@example.com", i);
    auto f = store_->FindSuppression("alice", addr);
    ASSERT_TRUE(f.ok() && f->has_value()) << addr;
    EXPECT_EQ((*f)->reason, "hard bounce 5.1.1");
  }
  auto all = store_->ListSuppressions(std::string("alice"), 100000);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), size_t{kEntries});
  // Still writable after the reopen.
  Send("alice", {Charge(Window::kDay, 10)});
}

// ---------------------------------------------------------- corruption

TEST_F(LmdbStoreTest, CorruptAccountRecordIsReportedOthersReadable) {
  OpenStore();
  for (const char* n : {"alice", "bob", "carol"}) {
    ASSERT_TRUE(store_
                    ->UpdateAccount(
                        n,
                        [](AccountRecord* r, bool) {
                          r->status_reason = "x";
                          return Status::Ok();
                        },
                        Audit("create", n))
                    .ok());
  }
  CloseStore();
  Raw([](MDB_txn* txn) { RawPut(txn, "accounts", "bob", "\x01garbage\xff"s); });
  OpenStore();

  auto bob = store_->GetAccount("bob");
  ASSERT_FALSE(bob.ok());
  EXPECT_EQ(bob.status().code(), Status::Code::kCorruption);
  EXPECT_NE(bob.status().message().find("accounts/bob"), std::string::npos)
      << bob.status().message();

  for (const char* n : {"alice", "carol"}) {
    auto r = store_->GetAccount(n);
    ASSERT_TRUE(r.ok()) << n << ": " << r.status().ToString();
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ((*r)->status_reason, "x");
  }

  // Mail still flows for the others.
  Send("alice", {Charge(Window::kDay, 10)});

  // A change to the corrupt record is refused and leaves it for inspection.
  Status u = store_->UpdateAccount(
      "bob", [](AccountRecord*, bool) { return Status::Ok(); }, Audit("suspend", "bob"));
  EXPECT_EQ(u.code(), Status::Code::kCorruption);
  EXPECT_EQ(store_->GetAccount("bob").status().code(), Status::Code::kCorruption);

  // Listing reports the corruption rather than returning a silently short
  // list (a short list would hide bob from `senderguard list`).
  auto list = store_->ListAccounts();
  ASSERT_FALSE(list.ok()) << "a list of " << list->size() << " accounts hid the corrupt one";
  EXPECT_EQ(list.status().code(), Status::Code::kCorruption);
  EXPECT_NE(list.status().message().find("accounts/bob"), std::string::npos)
      << list.status().message();
}

TEST_F(LmdbStoreTest, CorruptCounterIsReported) {
  OpenStore();
  const std::vector<QuotaCharge> one = {Charge(Window::kDay, 10)};
  Send("alice", one, 2);
  CloseStore();
  // Overwrite every counter value (whatever the key layout) with 3 bytes.
  Raw([](MDB_txn* txn) { EXPECT_EQ(RawCorruptAll(txn, "counters", "abc"), 1); });
  OpenStore();
  auto r = store_->Reserve("alice", one, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  auto u = store_->Usage("alice", {WindowUsage{Window::kDay, one[0].span, 0}});
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), Status::Code::kCorruption);
  // Other accounts are unaffected.
  Send("bob", one);
}

TEST_F(LmdbStoreTest, SchemaVersionMismatchRefusesToOpen) {
  OpenStore();
  CloseStore();
  Raw([](MDB_txn* txn) {
    std::string v;
    PutBe64(&v, kSchemaVersion + 1);
    RawPut(txn, "meta", "schema_version", v);
  });
  auto r = LmdbStore::Open(Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalid);
  EXPECT_NE(r.status().message().find("schema version " + std::to_string(kSchemaVersion + 1)),
            std::string::npos)
      << r.status().message();
}

TEST_F(LmdbStoreTest, MalformedSchemaRecordRefusesToOpen) {
  OpenStore();
  CloseStore();
  Raw([](MDB_txn* txn) { RawPut(txn, "meta", "schema_version", "\x01"); });
  auto r = LmdbStore::Open(Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption) << r.status().ToString();
}

TEST_F(LmdbStoreTest, CorruptQueueAndSuppressionRecords) {
  OpenStore();
  ASSERT_TRUE(store_->AddSuppressions({Supp("", "bob@example.com", "x")}, Audit("add")).ok());
  QueueEntry qe;
  qe.queue_id = "QID";
  ASSERT_TRUE(store_->Commit("alice", {}, &qe, kNow).ok());
  CloseStore();
  Raw([](MDB_txn* txn) {
    EXPECT_EQ(RawCorruptAll(txn, "queue", "\x01\x00\x00"s), 1);
    EXPECT_EQ(RawCorruptAll(txn, "suppression", "\x09"s), 1);
  });
  OpenStore();
  auto q = store_->GetQueueEntry("QID");
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), Status::Code::kCorruption);
  auto f = store_->FindSuppression("alice", "bob@example.com");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Status::Code::kCorruption);
}

// senderguardctl run as root before the milter's first start must leave the
// store's files to the directory's owner (the service's user), or the milter
// cannot open them (found by a new user installing the package).
TEST_F(LmdbStoreTest, RootGivesNewFilesToTheDirectorysOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  std::filesystem::create_directories(path_);
  ASSERT_EQ(::chown(path_.c_str(), 65534, 65534), 0);
  OpenStore();
  for (const char* name : {"/data.mdb", "/lock.mdb"}) {
    struct stat st {};
    ASSERT_EQ(::stat((path_ + name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_uid, 65534u) << name;
    EXPECT_EQ(st.st_gid, 65534u) << name;
  }
}

TEST_F(LmdbStoreTest, MaintainSucceeds) {
  OpenStore();
  EXPECT_TRUE(store_->Maintain().ok());
}

}  // namespace
}  // namespace senderguard
