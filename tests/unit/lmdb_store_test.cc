// Tests for lmdb_store.h on a real LMDB environment in a fresh temporary
// directory per test. LMDB allows one open handle per environment per
// process, so each test holds at most one LmdbStore (or one raw MDB_env) on
// its directory at a time, closing one before opening the next.
#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/codec.h"
#include "senderguard/decide/quota.h"

#include <gtest/gtest.h>
#include <lmdb.h>
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

class CapturingLogger : public Logger {
 public:
  void Log(Level, std::string_view line) override {
    std::lock_guard<std::mutex> lk(mu_);
    lines_.emplace_back(line);
  }
  bool Saw(std::string_view needle) {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& l : lines_) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

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

class LmdbStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sg-lmdb-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/store";  // not yet existing: Open creates it
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  LmdbOptions Options(uint64_t map_size = 64ull << 20) {
    LmdbOptions o;
    o.path = path_;
    o.map_size_bytes = map_size;
    o.sync_interval_ms = 50;
    o.logger = &logger_;
    return o;
  }

  void OpenStore(uint64_t map_size = 64ull << 20) {
    store_.reset();
    auto r = LmdbStore::Open(Options(map_size));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    store_ = std::move(*r);
  }

  void CloseStore() { store_.reset(); }

  // Runs `fn` on the environment through the raw LMDB API, with the flags the
  // store uses. REQUIRES: the store is closed.
  void Raw(const std::function<void(MDB_txn*)>& fn) {
    ASSERT_EQ(store_, nullptr);
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 16), 0);
    ASSERT_EQ(mdb_env_set_mapsize(env, 64ull << 20), 0);
    ASSERT_EQ(mdb_env_open(env, path_.c_str(), MDB_NOTLS | MDB_NOSYNC, 0640), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    fn(txn);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_sync(env, 1);
    mdb_env_close(env);
  }

  static void RawPut(MDB_txn* txn, const char* db, std::string_view key, std::string_view value) {
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, db, 0, &dbi), 0) << db;
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  }

  // Overwrites every value of database `db` with `bytes`; returns how many.
  static int RawCorruptAll(MDB_txn* txn, const char* db, std::string_view bytes) {
    MDB_dbi dbi;
    EXPECT_EQ(mdb_dbi_open(txn, db, 0, &dbi), 0) << db;
    MDB_cursor* cur = nullptr;
    EXPECT_EQ(mdb_cursor_open(txn, dbi, &cur), 0);
    if (cur == nullptr) return 0;
    MDB_val k, v;
    int n = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      MDB_val bad{bytes.size(), const_cast<char*>(bytes.data())};
      EXPECT_EQ(mdb_cursor_put(cur, &k, &bad, MDB_CURRENT), 0);
      ++n;
    }
    mdb_cursor_close(cur);
    return n;
  }

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

  std::string dir_;
  std::string path_;
  CapturingLogger logger_;
  std::unique_ptr<LmdbStore> store_;
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

TEST_F(LmdbStoreTest, AccountUpdateGetList) {
  OpenStore();
  auto none = store_->GetAccount("alice");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  bool saw_exists = true;
  ASSERT_TRUE(store_
                  ->UpdateAccount(
                      "alice",
                      [&](AccountRecord* r, bool exists) {
                        saw_exists = exists;
                        r->status = AccountStatus::kSuspended;
                        r->status_reason = "complaints \n\0 \xff"s;
                        r->limits[Index(Window::kDay)] = 500;
                        return Status::Ok();
                      },
                      Audit("suspend", "alice", kNow * 1000000 + 1))
                  .ok());
  EXPECT_FALSE(saw_exists);

  auto got = store_->GetAccount("alice");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->name, "alice");
  EXPECT_EQ((*got)->status, AccountStatus::kSuspended);
  EXPECT_EQ((*got)->status_reason, "complaints \n\0 \xff"s);
  EXPECT_EQ((*got)->limits[Index(Window::kDay)], 500u);
  EXPECT_EQ((*got)->limits[Index(Window::kHour)], kInheritLimit);
  EXPECT_EQ((*got)->created, kNow);

  ASSERT_TRUE(store_
                  ->UpdateAccount(
                      "alice",
                      [&](AccountRecord* r, bool exists) {
                        saw_exists = exists;
                        r->name = "mallory";  // the store keeps the key's name
                        r->status = AccountStatus::kActive;
                        return Status::Ok();
                      },
                      Audit("reinstate", "alice", kNow * 1000000 + 2))
                  .ok());
  EXPECT_TRUE(saw_exists);
  got = store_->GetAccount("alice");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->name, "alice");
  EXPECT_EQ((*got)->status, AccountStatus::kActive);
  EXPECT_EQ((*got)->limits[Index(Window::kDay)], 500u);
  EXPECT_FALSE(store_->GetAccount("mallory")->has_value());

  for (const char* n : {"carol", "bob", "zed"}) {
    ASSERT_TRUE(store_
                    ->UpdateAccount(
                        n, [](AccountRecord*, bool) { return Status::Ok(); },
                        Audit("quota-set", n, kNow * 1000000 + 3))
                    .ok());
  }
  auto list = store_->ListAccounts();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  std::vector<std::string> names;
  for (const auto& a : *list) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"alice", "bob", "carol", "zed"}));
}

TEST_F(LmdbStoreTest, RefusedChangeWritesNothing) {
  OpenStore();
  Status s = store_->UpdateAccount(
      "alice",
      [](AccountRecord* r, bool) {
        r->status = AccountStatus::kSuspended;
        return Status::Invalid("account alice is not suspended");
      },
      Audit("reinstate", "alice"));
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_EQ(s.message(), "account alice is not suspended");
  EXPECT_FALSE(store_->GetAccount("alice")->has_value());
  auto audit = store_->ListAudit("", 100);
  ASSERT_TRUE(audit.ok());
  EXPECT_TRUE(audit->empty());
}

TEST_F(LmdbStoreTest, ConcurrentUpdatesAreAtomic) {
  OpenStore();
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Status s = store_->UpdateAccount(
            "shared",
            [](AccountRecord* r, bool exists) {
              r->limits[0] = exists ? r->limits[0] + 1 : 1;
              return Status::Ok();
            },
            Audit("quota-set", "shared", kNow * 1000000 + t * 1000 + i));
        if (!s.ok()) ++failures;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = store_->GetAccount("shared");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->limits[0], uint64_t{kThreads * kEach});
  auto audit = store_->ListAudit("shared", 1000);
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->size(), size_t{kThreads * kEach});  // no audit key collided
}

// --------------------------------------------------------------- audit

TEST_F(LmdbStoreTest, AuditNewestFirstFilteredAndLimited) {
  OpenStore();
  ASSERT_TRUE(store_->AppendAudit(Audit("a1", "alice", 1000)).ok());
  ASSERT_TRUE(store_->AppendAudit(Audit("b1", "bob", 2000)).ok());
  ASSERT_TRUE(store_->AppendAudit(Audit("a2", "alice", 3000)).ok());
  ASSERT_TRUE(store_->AppendAudit(Audit("g", "", 4000)).ok());
  // Same microsecond twice: both kept.
  ASSERT_TRUE(store_->AppendAudit(Audit("a3", "alice", 5000)).ok());
  ASSERT_TRUE(store_->AppendAudit(Audit("a4", "alice", 5000)).ok());

  auto all = store_->ListAudit("", 100);
  ASSERT_TRUE(all.ok());
  std::vector<std::string> actions;
  for (const auto& e : *all) actions.push_back(e.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"a4", "a3", "g", "a2", "b1", "a1"}));

  auto alice = store_->ListAudit("alice", 2);
  ASSERT_TRUE(alice.ok());
  ASSERT_EQ(alice->size(), 2u);
  EXPECT_EQ((*alice)[0].action, "a4");
  EXPECT_EQ((*alice)[1].action, "a3");
  EXPECT_EQ((*alice)[0].actor, "test (uid 0)");
  EXPECT_EQ((*alice)[0].detail, "unit test");

  auto none = store_->ListAudit("nobody", 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto zero = store_->ListAudit("", 0);
  ASSERT_TRUE(zero.ok());
  EXPECT_TRUE(zero->empty());
}

// --------------------------------------------------------- suppression

SuppressionRecord Supp(std::string account, std::string address, std::string reason) {
  SuppressionRecord r;
  r.account = std::move(account);
  r.address = std::move(address);
  r.reason = std::move(reason);
  r.actor = "test";
  r.since = kNow;
  return r;
}

TEST_F(LmdbStoreTest, SuppressionAddFindRemove) {
  OpenStore();
  ASSERT_TRUE(store_
                  ->AddSuppressions({Supp("", "bob@example.com", "global bounce"),
                                     Supp("alice", "bob@example.com", "alice's list"),
                                     Supp("alice", "carol@example.com", "complaint")},
                                    Audit("suppress-add"))
                  .ok());

  // Global wins over the account's own entry.
  auto f = store_->FindSuppression("alice", "bob@example.com");
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->reason, "global bounce");
  EXPECT_EQ((*f)->account, "");

  f = store_->FindSuppression("alice", "carol@example.com");
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->reason, "complaint");
  EXPECT_EQ((*f)->account, "alice");

  f = store_->FindSuppression("dave", "carol@example.com");  // another account's entry
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->has_value());
  f = store_->FindSuppression("dave", "bob@example.com");  // global applies to all
  ASSERT_TRUE(f.ok() && f->has_value());
  f = store_->FindSuppression("alice", "nobody@example.com");
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->has_value());
  // An account name that is a prefix of another's does not match.
  f = store_->FindSuppression("alic", "carol@example.com");
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->has_value());

  auto removed = store_->RemoveSuppression("", "bob@example.com", Audit("suppress-remove"));
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  removed = store_->RemoveSuppression("", "bob@example.com", Audit("suppress-remove"));
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(*removed);

  // Now alice's own entry shows.
  f = store_->FindSuppression("alice", "bob@example.com");
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->reason, "alice's list");

  // Replacing an entry.
  ASSERT_TRUE(store_->AddSuppressions({Supp("alice", "carol@example.com", "replaced")},
                                      Audit("suppress-add"))
                  .ok());
  f = store_->FindSuppression("alice", "carol@example.com");
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->reason, "replaced");

  auto audit = store_->ListAudit("", 100);
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->size(), 3u);  // two adds and one successful remove
}

TEST_F(LmdbStoreTest, SuppressionListAndCountThousand) {
  OpenStore();
  std::vector<SuppressionRecord> batch;
  for (int i = 0; i < 1000; ++i) {
    char addr[64];
    std::snprintf(addr, sizeof addr, "user%04d@example.com", i);
    batch.push_back(Supp("alice", addr, "bounce"));
  }
  batch.push_back(Supp("", "global@example.com", "g"));
  batch.push_back(Supp("alicex", "other@example.com", "o"));
  batch.push_back(Supp("alic", "other@example.com", "o"));
  ASSERT_TRUE(store_->AddSuppressions(batch, Audit("import")).ok());

  auto n = store_->CountSuppressions("alice");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1000u);
  EXPECT_EQ(*store_->CountSuppressions(""), 1u);
  EXPECT_EQ(*store_->CountSuppressions("alicex"), 1u);
  EXPECT_EQ(*store_->CountSuppressions("nobody"), 0u);

  auto list = store_->ListSuppressions(std::string("alice"), 5000);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1000u);
  EXPECT_EQ((*list)[0].address, "user0000@example.com");
  EXPECT_EQ((*list)[999].address, "user0999@example.com");
  for (const auto& r : *list) EXPECT_EQ(r.account, "alice");

  auto limited = store_->ListSuppressions(std::string("alice"), 10);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->size(), 10u);

  auto global = store_->ListSuppressions(std::string(""), 100);
  ASSERT_TRUE(global.ok());
  ASSERT_EQ(global->size(), 1u);
  EXPECT_EQ((*global)[0].address, "global@example.com");

  auto all = store_->ListSuppressions(std::nullopt, 100000);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1003u);

  auto none = store_->ListSuppressions(std::string("nobody"), 100);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// -------------------------------------------------------------- quotas

TEST_F(LmdbStoreTest, ReserveIsExactAcrossThreads) {
  OpenStore();
  constexpr uint64_t kLimit = 100;
  const std::vector<QuotaCharge> charges = {Charge(Window::kDay, kLimit)};
  std::atomic<uint64_t> committed{0}, released{0}, refused{0}, errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto r = store_->Reserve("acct", charges, false);
        if (!r.ok()) {
          ++errors;
          continue;
        }
        if (!r->ok) {
          ++refused;
          continue;
        }
        if ((i + t) % 5 == 4) {  // an aborted SMTP transaction
          store_->Release("acct", charges);
          ++released;
          continue;
        }
        auto c = store_->Commit("acct", charges, nullptr, kNow);
        if (c.ok()) {
          ++committed;
        } else {
          ++errors;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_LE(committed.load(), kLimit);
  EXPECT_GT(refused.load(), 0u);
  EXPECT_GT(released.load(), 0u);
  EXPECT_EQ(Used("acct", charges[0]), committed.load());

  // Whatever the threads left, exactly the rest fits: nothing leaked.
  uint64_t topped_up = 0;
  for (;;) {
    auto r = store_->Reserve("acct", charges, false);
    ASSERT_TRUE(r.ok());
    if (!r->ok) {
      EXPECT_EQ(r->used, kLimit);
      EXPECT_EQ(r->reserved, 0u);
      break;
    }
    ASSERT_TRUE(store_->Commit("acct", charges, nullptr, kNow).ok());
    ASSERT_LE(++topped_up, kLimit);
  }
  EXPECT_EQ(committed.load() + topped_up, kLimit);
  EXPECT_EQ(Used("acct", charges[0]), kLimit);
}

TEST_F(LmdbStoreTest, ReserveRefusalNamesTheWindow) {
  OpenStore();
  const std::vector<QuotaCharge> charges = {Charge(Window::kMinute, 100),
                                            Charge(Window::kHour, 2),
                                            Charge(Window::kDay, 1000)};
  Send("alice", charges, 2);
  auto r = store_->Reserve("alice", charges, false);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->refused, 1u);
  EXPECT_EQ(r->used, 2u);
  EXPECT_EQ(r->reserved, 0u);
  // Nothing was held by the refused call: the minute window still has room
  // for exactly 98 more.
  EXPECT_EQ(Used("alice", charges[0]), 2u);
  auto m = store_->Reserve("alice", {Charge(Window::kMinute, 100, 98)}, false);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->ok);
  // Another account is not affected.
  auto other = store_->Reserve("bob", charges, false);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->ok);
}

TEST_F(LmdbStoreTest, ReleaseGivesCapacityBack) {
  OpenStore();
  const std::vector<QuotaCharge> one = {Charge(Window::kHour, 3)};
  for (int i = 0; i < 3; ++i) {
    auto r = store_->Reserve("alice", one, false);
    ASSERT_TRUE(r.ok() && r->ok) << i;
  }
  auto full = store_->Reserve("alice", one, false);
  ASSERT_TRUE(full.ok());
  EXPECT_FALSE(full->ok);
  EXPECT_EQ(full->used, 0u);
  EXPECT_EQ(full->reserved, 3u);

  store_->Release("alice", one);
  auto again = store_->Reserve("alice", one, false);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->ok);

  // Releasing more than is held does not go negative or grant extra room.
  for (int i = 0; i < 10; ++i) store_->Release("alice", one);
  for (int i = 0; i < 3; ++i) {
    auto r = store_->Reserve("alice", one, false);
    ASSERT_TRUE(r.ok() && r->ok) << i;
  }
  auto after = store_->Reserve("alice", one, false);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->ok);
  EXPECT_EQ(Used("alice", one[0]), 0u);  // nothing was committed
}

TEST_F(LmdbStoreTest, MessagesModeLaterRecipientsHoldNothing) {
  OpenStore();
  // One message to three recipients, as the milter holds it: the first
  // recipient charges 1, the later ones 0; Commit gets the whole hold.
  const QuotaCharge first = Charge(Window::kDay, 1, 1);
  const QuotaCharge later = Charge(Window::kDay, 1, 0);
  std::vector<QuotaCharge> held;
  for (const QuotaCharge& c : {first, later, later}) {
    auto r = store_->Reserve("alice", {c}, false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->ok);
    held.push_back(c);
  }
  QueueEntry q;
  q.queue_id = "QM1";
  ASSERT_TRUE(store_->Commit("alice", held, &q, kNow).ok());
  EXPECT_EQ(Used("alice", first), 1u);
  auto next = store_->Reserve("alice", {first}, false);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_FALSE(next->ok);
  EXPECT_EQ(next->used, 1u);
  EXPECT_EQ(next->reserved, 0u);
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

// The milter holds one charge per recipient and commits them together.
TEST_F(LmdbStoreTest, OneCommitForManyRecipients) {
  OpenStore();
  const QuotaCharge day = Charge(Window::kDay, 10);
  const QuotaCharge hour = Charge(Window::kHour, 100);
  std::vector<QuotaCharge> held;
  for (int i = 0; i < 9; ++i) {
    auto r = store_->Reserve("alice", {day, hour}, false);
    ASSERT_TRUE(r.ok() && r->ok) << i;
    held.push_back(day);
    held.push_back(hour);
  }
  auto full = store_->Reserve("alice", {Charge(Window::kDay, 10, 2)}, false);
  ASSERT_TRUE(full.ok());
  EXPECT_FALSE(full->ok);
  EXPECT_EQ(full->reserved, 9u);

  auto c = store_->Commit("alice", held, nullptr, kNow);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Used("alice", day), 9u);
  EXPECT_EQ(Used("alice", hour), 9u);
  EXPECT_EQ(Pcts(*c), (std::vector<int>{80, 90}));  // each once, though crossed mid-commit
  auto after = store_->Reserve("alice", {Charge(Window::kDay, 10, 2)}, false);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->ok);
  EXPECT_EQ(after->used, 9u);
  EXPECT_EQ(after->reserved, 0u);

  // Releasing a multi-recipient hold gives all of it back.
  std::vector<QuotaCharge> held2;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->Reserve("bob", {day}, false)->ok);
    held2.push_back(day);
  }
  store_->Release("bob", held2);
  auto bob = store_->Reserve("bob", {Charge(Window::kDay, 10, 10)}, false);
  ASSERT_TRUE(bob.ok());
  EXPECT_TRUE(bob->ok);
}

TEST_F(LmdbStoreTest, ForceHoldsBeyondTheLimit) {
  OpenStore();
  const std::vector<QuotaCharge> one = {Charge(Window::kDay, 1)};
  Send("alice", one);
  auto r = store_->Reserve("alice", one, true);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok);
  ASSERT_TRUE(store_->Commit("alice", one, nullptr, kNow).ok());
  EXPECT_EQ(Used("alice", one[0]), 2u);
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

TEST_F(LmdbStoreTest, WindowInstancesCountSeparately) {
  OpenStore();
  const QuotaCharge today = Charge(Window::kDay, 5);
  const QuotaCharge tomorrow = Charge(Window::kDay, 5, 1, kNow + 86400);
  Send("alice", {today}, 5);
  EXPECT_FALSE(store_->Reserve("alice", {today}, false)->ok);
  Send("alice", {tomorrow}, 2);
  EXPECT_EQ(Used("alice", today), 5u);
  EXPECT_EQ(Used("alice", tomorrow), 2u);
  auto u = store_->Usage("alice", {WindowUsage{Window::kHour, today.span, 0}});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ((*u)[0].used, 0u);  // another window, same start
}

TEST_F(LmdbStoreTest, AlertsFireOncePerWindowInstance) {
  OpenStore();
  const std::vector<QuotaCharge> one = {Charge(Window::kDay, 10)};
  std::vector<std::vector<int>> seen;
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(store_->Reserve("alice", one, false)->ok);
    auto c = store_->Commit("alice", one, nullptr, kNow);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    seen.push_back(Pcts(*c));
    if (i == 8) {
      ASSERT_EQ(c->size(), 1u);
      EXPECT_EQ((*c)[0].window, Window::kDay);
      EXPECT_EQ((*c)[0].used, 8u);
      EXPECT_EQ((*c)[0].limit, 10u);
      EXPECT_EQ((*c)[0].span.start, one[0].span.start);
    }
  }
  const std::vector<std::vector<int>> want = {{}, {}, {}, {}, {}, {}, {}, {80}, {90}, {100}};
  EXPECT_EQ(seen, want);

  // Over the limit (dry run): nothing new.
  ASSERT_TRUE(store_->Reserve("alice", one, true)->ok);
  auto over = store_->Commit("alice", one, nullptr, kNow);
  ASSERT_TRUE(over.ok());
  EXPECT_TRUE(over->empty());

  // Still once after a restart.
  CloseStore();
  OpenStore();
  ASSERT_TRUE(store_->Reserve("alice", one, true)->ok);
  auto after = store_->Commit("alice", one, nullptr, kNow);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());

  // The next day's window instance alerts again; a jump fires all reached.
  const std::vector<QuotaCharge> next = {Charge(Window::kDay, 10, 10, kNow + 86400)};
  ASSERT_TRUE(store_->Reserve("alice", next, false)->ok);
  auto jump = store_->Commit("alice", next, nullptr, kNow + 86400);
  ASSERT_TRUE(jump.ok());
  EXPECT_EQ(Pcts(*jump), (std::vector<int>{80, 90, 100}));

  // Another account has its own alerts.
  const std::vector<QuotaCharge> bob = {Charge(Window::kDay, 10, 9)};
  ASSERT_TRUE(store_->Reserve("bob", bob, false)->ok);
  auto b = store_->Commit("bob", bob, nullptr, kNow);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Pcts(*b), (std::vector<int>{80, 90}));
}

TEST_F(LmdbStoreTest, SecondCommitOverEightyGivesNoSecondAlert) {
  OpenStore();
  const std::vector<QuotaCharge> c81 = {Charge(Window::kHour, 100, 81)};
  const std::vector<QuotaCharge> c1 = {Charge(Window::kHour, 100, 1)};
  ASSERT_TRUE(store_->Reserve("alice", c81, false)->ok);
  auto first = store_->Commit("alice", c81, nullptr, kNow);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Pcts(*first), std::vector<int>{80});
  ASSERT_TRUE(store_->Reserve("alice", c1, false)->ok);
  auto second = store_->Commit("alice", c1, nullptr, kNow);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->empty()) << "82% gave alerts again";
}

// ----------------------------------------------------- queue, accounts

TEST_F(LmdbStoreTest, CommitWritesQueueEntry) {
  OpenStore();
  QueueEntry q;
  q.queue_id = "4XyZ1a2B3c";
  q.account = "alice";
  q.time = kNow;
  q.recipients = {"a@example.com", "b@example.com"};
  const std::vector<QuotaCharge> one = {Charge(Window::kDay, 10)};
  ASSERT_TRUE(store_->Reserve("alice", one, false)->ok);
  ASSERT_TRUE(store_->Commit("alice", one, &q, kNow).ok());

  auto got = store_->GetQueueEntry("4XyZ1a2B3c");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->queue_id, q.queue_id);
  EXPECT_EQ((*got)->account, "alice");
  EXPECT_EQ((*got)->time, kNow);
  EXPECT_EQ((*got)->recipients, q.recipients);

  auto missing = store_->GetQueueEntry("NOPE");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  // No charges at all (every window unlimited) still records the queue entry.
  QueueEntry q2 = q;
  q2.queue_id = "5AAA";
  ASSERT_TRUE(store_->Commit("alice", {}, &q2, kNow).ok());
  auto got2 = store_->GetQueueEntry("5AAA");
  ASSERT_TRUE(got2.ok() && got2->has_value());
}

TEST_F(LmdbStoreTest, CommitCreatesAccountRecordForUnknownAccount) {
  OpenStore();
  ASSERT_FALSE(store_->GetAccount("newcomer")->has_value());
  const std::vector<QuotaCharge> one = {Charge(Window::kDay, 10)};
  ASSERT_TRUE(store_->Reserve("newcomer", one, false)->ok);
  ASSERT_TRUE(store_->Commit("newcomer", one, nullptr, kNow).ok());
  auto got = store_->GetAccount("newcomer");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->name, "newcomer");
  EXPECT_EQ((*got)->created, kNow);
  EXPECT_EQ((*got)->status, AccountStatus::kActive);
  for (uint64_t l : (*got)->limits) EXPECT_EQ(l, kInheritLimit);

  // An existing record is left as it is.
  ASSERT_TRUE(store_
                  ->UpdateAccount(
                      "suspended",
                      [](AccountRecord* r, bool) {
                        r->status = AccountStatus::kSuspended;
                        return Status::Ok();
                      },
                      Audit("suspend", "suspended"))
                  .ok());
  ASSERT_TRUE(store_->Commit("suspended", {}, nullptr, kNow + 5).ok());
  auto s = store_->GetAccount("suspended");
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ((*s)->status, AccountStatus::kSuspended);
  EXPECT_EQ((*s)->created, kNow);
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
    Status s = store_->AddSuppressions(batch, Audit("import", "alice", b));
    ASSERT_TRUE(s.ok()) << "batch " << b << ": " << s.ToString();
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

  // Listing reports the corruption rather than returning a silently short list.
  auto list = store_->ListAccounts();
  if (list.ok()) {
    EXPECT_EQ(list->size(), 2u);
  } else {
    EXPECT_EQ(list.status().code(), Status::Code::kCorruption);
  }
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

TEST_F(LmdbStoreTest, MaintainSucceeds) {
  OpenStore();
  EXPECT_TRUE(store_->Maintain().ok());
}

}  // namespace
}  // namespace senderguard
