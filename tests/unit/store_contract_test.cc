// The Store contract (store.h), one suite run on every backend: each test
// gets a fresh, empty store from a factory (ContractBackend). A new backend
// runs it unchanged by adding one factory to Backends() at the end.
// PostgreSQL (PgStore on a fresh database, with a temporary local LMDB
// store) is among them only when SG_TEST_PG_CONNINFO names a server: ctest
// runs this binary a second time as store_contract_pg, under
// tests/pg/with_pg.sh, with --gtest_filter=*postgresql*.
// What a backend cannot do from here (reopen, plant corruption, make a
// write fail) stays in its own tests (lmdb_store_test, lmdb_feedback_test);
// a backend that can inject a refused write says so with FailNextWrites,
// and the tests that need one are skipped on the others.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "feedback_builders.h"
#include "lmdb_fixture.h"
#include "pg_fixture.h"
#include "senderguard/decide/quota.h"
#include "senderguard/store/memory/memory_store.h"
#include "senderguard/store/postgresql/pg_store.h"
#include "senderguard/store/store.h"

namespace senderguard {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

using namespace feedback_builders;

// One open store of a backend, and what the backend can do to it.
class StoreInstance {
 public:
  virtual ~StoreInstance() = default;
  virtual Store* store() = 0;
  // Makes the next `n` writes fail; false when the backend cannot.
  virtual bool FailNextWrites(int /*n*/) { return false; }
  // Makes the next Commit fail; false when the backend cannot (PostgreSQL:
  // a Commit writes only the node's LMDB, none of the database's tables).
  virtual bool FailNextCommit() { return FailNextWrites(1); }
  // A store whose quota alerts come after Commit (PostgreSQL: with its
  // lease thread's reports) flushes and gives the alerts reported since the
  // last call; the others nullopt (Commit's answer has them).
  virtual std::optional<std::vector<QuotaAlert>> SettledAlerts() { return std::nullopt; }
};

// (Not "StoreBackend": config.h's enum of that name comes with pg_store.h.)
struct ContractBackend {
  const char* name;
  std::function<std::unique_ptr<StoreInstance>()> open;  // a fresh, empty store
};

class LmdbInstance : public StoreInstance {
 public:
  LmdbInstance() {
    auto r = LmdbStore::Open(lmdb_test::TestLmdbOptions(dir_.path() + "/store", &logger_));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) store_ = std::move(*r);
  }
  Store* store() override { return store_.get(); }

 private:
  lmdb_test::TempDir dir_;
  lmdb_test::CapturingLogger logger_;
  std::unique_ptr<LmdbStore> store_;
};

class MemoryInstance : public StoreInstance {
 public:
  Store* store() override { return store_.get(); }
  bool FailNextWrites(int n) override {
    store_->FailNextWrites(n, Status::Io("injected failure"));
    return true;
  }

 private:
  std::unique_ptr<MemoryStore> store_ = NewMemoryStore();
};

// PgStore on a fresh database of the test server, its node's LMDB store in
// a temporary directory. Reads go to PostgreSQL (no cached_reads): the
// contract is the database's.
class PgInstance : public StoreInstance {
 public:
  PgInstance() {
    std::string err;
    const std::string db = PgTestDatabase(&err);
    if (db.empty()) {
      ADD_FAILURE() << err;
      return;
    }
    PgStoreOptions o =
        PgTestStoreOptions(db, "contract", "store_contract_test", dir_.path() + "/local", &logger_);
    o.on_alert = [this](std::string_view, const QuotaAlert& a) {
      std::lock_guard<std::mutex> lk(alerts_mu_);
      alerts_.push_back(a);
    };
    auto r = PgStore::Open(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) store_ = std::move(*r);
    db_ = db;
  }
  Store* store() override { return store_.get(); }
  bool FailNextCommit() override { return false; }
  std::optional<std::vector<QuotaAlert>> SettledAlerts() override {
    store_->Flush();  // reports what was committed: the alerts come with the answers
    std::lock_guard<std::mutex> lk(alerts_mu_);
    std::vector<QuotaAlert> out;
    out.swap(alerts_);
    return out;
  }
  // The next `n` statements that write a table of the schema (but the
  // change log) fail, each the first of its transaction's writes, so `n`
  // write calls fail whole: a statement trigger on every table counts them
  // with a sequence (which a rollback does not undo).
  bool FailNextWrites(int n) override {
    auto c = PgConn::Connect(db_, "store_contract_test-inject");
    if (!c.ok()) return false;
    auto r = c.value()->Exec(R"sql(
      CREATE SEQUENCE IF NOT EXISTS sg_test_fail_seq;
      CREATE TABLE IF NOT EXISTS sg_test_fail (budget bigint NOT NULL);
      CREATE OR REPLACE FUNCTION sg_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('sg_test_fail_seq') <= (SELECT max(budget) FROM sg_test_fail) THEN
          RAISE EXCEPTION 'injected failure' USING ERRCODE = 'XX000';
        END IF;
        RETURN NULL;
      END $$;
      DO $$ DECLARE t text; BEGIN
        FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
                   AND tablename NOT IN ('changes', 'sg_test_fail') LOOP
          EXECUTE format('CREATE OR REPLACE TRIGGER sg_test_fail BEFORE INSERT OR UPDATE OR DELETE '
                         'ON %I FOR EACH STATEMENT EXECUTE FUNCTION sg_test_fail()', t);
        END LOOP;
      END $$;
      DELETE FROM sg_test_fail;
    )sql");
    if (!r.ok()) return false;
    r = c.value()->Exec("INSERT INTO sg_test_fail SELECT nextval('sg_test_fail_seq') + $1",
                        {PgInt(n)});
    return r.ok();
  }

 private:
  std::string db_;
  lmdb_test::TempDir dir_;
  lmdb_test::CapturingLogger logger_;
  std::mutex alerts_mu_;
  std::vector<QuotaAlert> alerts_;
  std::unique_ptr<PgStore> store_;
};

void PrintTo(const ContractBackend& b, std::ostream* os) { *os << b.name; }

std::vector<ContractBackend> Backends() {
  std::vector<ContractBackend> b = {
      {"lmdb", [] { return std::unique_ptr<StoreInstance>(new LmdbInstance); }},
      {"memory", [] { return std::unique_ptr<StoreInstance>(new MemoryInstance); }},
  };
  if (!PgTestServer().empty())
    b.push_back({"postgresql", [] { return std::unique_ptr<StoreInstance>(new PgInstance); }});
  return b;
}

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

SuppressionRecord Supp(std::string account, std::string address, std::string reason) {
  SuppressionRecord r;
  r.account = std::move(account);
  r.address = std::move(address);
  r.reason = std::move(reason);
  r.actor = "test";
  r.since = kNow;
  return r;
}

class StoreContractTest : public ::testing::TestWithParam<ContractBackend> {
 protected:
  void SetUp() override {
    instance_ = GetParam().open();
    store_ = instance_->store();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_ = nullptr;
    instance_.reset();
  }
  // A fresh, empty store (for table-driven cases).
  void Reset() {
    TearDown();
    SetUp();
  }
  // Skips the test unless the backend can make the next `n` writes fail.
  bool FailNextWrites(int n) { return instance_->FailNextWrites(n); }
  // The alerts a Commit reached: its answer, or those the store reported
  // after it (SettledAlerts).
  std::vector<QuotaAlert> AlertsOf(const Result<std::vector<QuotaAlert>>& c) {
    if (auto later = instance_->SettledAlerts()) return *later;
    return c.ok() ? c.value() : std::vector<QuotaAlert>{};
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
  FeedbackResult Apply(const FeedbackBatch& b, const AccountReview& review = nullptr) {
    auto r = store_->ApplyFeedback(b, review);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : FeedbackResult{};
  }
  StoredDays Days(std::string_view account) {
    auto r = store_->GetDays(account, 0, INT64_MAX);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : StoredDays{};
  }
  uint64_t Complaints(std::string_view account) {
    uint64_t n = 0;
    for (const auto& [day, d] : Days(account)) n += d.complaints;
    return n;
  }
  size_t AuditSize() { return store_->ListAudit("", 100000).value().size(); }

  std::unique_ptr<StoreInstance> instance_;
  Store* store_ = nullptr;
};

// ------------------------------------------------------------ accounts

TEST_P(StoreContractTest, AccountUpdateGetList) {
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

  // In pages: after a name (there or not), at most N, the last page short.
  auto names_of = [](const Result<std::vector<AccountRecord>>& r) {
    std::vector<std::string> out;
    if (r.ok())
      for (const auto& a : *r) out.push_back(a.name);
    return out;
  };
  EXPECT_EQ(names_of(store_->ListAccountsAfter("", 2)), (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(names_of(store_->ListAccountsAfter("bob", 2)), (std::vector<std::string>{"carol", "zed"}));
  EXPECT_EQ(names_of(store_->ListAccountsAfter("bz", 5)), (std::vector<std::string>{"carol", "zed"}));
  EXPECT_EQ(names_of(store_->ListAccountsAfter("b", 1)), (std::vector<std::string>{"bob"}));
  EXPECT_TRUE(names_of(store_->ListAccountsAfter("zed", 5)).empty());
  EXPECT_TRUE(names_of(store_->ListAccountsAfter("", 0)).empty());
  ASSERT_TRUE(store_->ListAccountsAfter("zzz", 5).ok());
}

TEST_P(StoreContractTest, UpdateAccountsWritesTheChangedOnesInOneTransaction) {
  ASSERT_TRUE(store_
                  ->UpdateAccount(
                      "alice",
                      [](AccountRecord* r, bool) {
                        r->limits[Index(Window::kDay)] = 5;
                        return Status::Ok();
                      },
                      Audit("quota-set", "alice"))
                  .ok());
  const size_t audit_before = AuditSize();
  // alice changed, bob new, carol read and left alone (no record made).
  std::vector<bool> existed;
  Status st = store_->UpdateAccounts({"alice", "bob", "carol"}, [&](size_t i, AccountRecord* r, bool exists,
                                                                    std::optional<AuditEntry>* audit) {
    if (existed.size() <= i) existed.resize(i + 1);
    existed[i] = exists;
    if (i == 2) return Status::Ok();
    r->limits[Index(Window::kDay)] = 100 + i;
    *audit = Audit("import", r->name);
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(existed, (std::vector<bool>{true, false, false}));
  EXPECT_EQ((*store_->GetAccount("alice"))->limits[Index(Window::kDay)], 100u);
  ASSERT_TRUE(store_->GetAccount("bob")->has_value());
  EXPECT_EQ((*store_->GetAccount("bob"))->limits[Index(Window::kDay)], 101u);
  EXPECT_EQ((*store_->GetAccount("bob"))->created, kNow);
  EXPECT_FALSE(store_->GetAccount("carol")->has_value());
  EXPECT_EQ(AuditSize(), audit_before + 2);

  // A refusal anywhere writes nothing, not even the changes before it.
  st = store_->UpdateAccounts({"alice", "dave", "erin"}, [&](size_t i, AccountRecord* r, bool,
                                                             std::optional<AuditEntry>* audit) {
    if (i == 2) return Status::Invalid("line 3: bad");
    r->limits[Index(Window::kDay)] = 7;
    *audit = Audit("import", r->name);
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_EQ((*store_->GetAccount("alice"))->limits[Index(Window::kDay)], 100u);
  EXPECT_FALSE(store_->GetAccount("dave")->has_value());
  EXPECT_EQ(AuditSize(), audit_before + 2);

  // The same name twice is refused before anything is read.
  bool called = false;
  st = store_->UpdateAccounts({"x", "y", "x"}, [&](size_t, AccountRecord*, bool, std::optional<AuditEntry>*) {
    called = true;
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_FALSE(called);
  EXPECT_TRUE(store_->UpdateAccounts({}, [](size_t, AccountRecord*, bool, std::optional<AuditEntry>*) {
                      return Status::Ok();
                    }).ok());
}

// A timed suspension's end (AccountRecord::suspended_until, record v3 /
// schema migration 2) is kept, changed and cleared like every field.
TEST_P(StoreContractTest, TimedSuspensionEndIsKept) {
  auto set = [&](int64_t until, int64_t t) {
    return store_->UpdateAccount(
        "alice",
        [&](AccountRecord* r, bool) {
          r->status = AccountStatus::kSuspended;
          r->status_reason = "incident";
          r->suspended_until = until;
          return Status::Ok();
        },
        Audit("suspend", "alice", kNow * 1000000 + t));
  };
  for (int64_t until : {kNow + 7200, INT64_MAX, int64_t{0}}) {
    ASSERT_TRUE(set(until, until % 1000).ok());
    auto got = store_->GetAccount("alice");
    ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
    EXPECT_EQ((*got)->suspended_until, until);
    EXPECT_EQ((*got)->status, AccountStatus::kSuspended);
    auto list = store_->ListAccounts();
    ASSERT_TRUE(list.ok() && list->size() == 1u);
    EXPECT_EQ((*list)[0].suspended_until, until);
  }
}

FeedbackEvent DeliveredEv(std::string account, int64_t time) {
  DayCountsRecord d;
  d.delivered = 1;
  return Ev(std::move(account), time, d);
}

// `account delete`: everything under the name goes, in one transaction,
// audited with what went; other accounts, the global list, the bounce
// counts and the audit log stay.
TEST_P(StoreContractTest, DeleteAccountRemovesEverythingUnderItsName) {
  ASSERT_TRUE(store_
                  ->UpdateAccount(
                      "alice",
                      [](AccountRecord* r, bool) {
                        r->status = AccountStatus::kSuspended;
                        r->domains = {"a.example", "b.example"};
                        return Status::Ok();
                      },
                      Audit("suspend", "alice", kNow * 1000000 + 1))
                  .ok());
  // A month beside the day: a fleet store's housekeeping may purge an hour
  // window of kNow's (long past) at any time.
  const std::vector<QuotaCharge> both = {Charge(Window::kDay, 10), Charge(Window::kMonth, 100)};
  Send("alice", both, 7);
  Send("alice2", both, 2);  // a name that starts with alice's
  ASSERT_TRUE(store_
                  ->AddSuppressions({Supp("alice", "x@example.com", "own"),
                                     Supp("alice", "y@example.com", "own"),
                                     Supp("", "x@example.com", "global"),
                                     Supp("alice2", "x@example.com", "alice2's")},
                                    Audit("suppress-add"))
                  .ok());
  FeedbackBatch b = Batch({DeliveredEv("alice", kNow), DeliveredEv("alice", kNow - 86400),
                           DeliveredEv("alice2", kNow)});
  Apply(b);
  ASSERT_TRUE(store_
                  ->AddSendingDays({SendingDay{"alice", kToday, 7, 2, 2},
                                    SendingDay{"alice2", kToday, 2, 1, 1}})
                  .ok());
  store_->Flush();  // a fleet store: the records of accounts that sent exist now
  const size_t audits = AuditSize();

  int calls = 0;
  auto gone = store_->DeleteAccount("alice", [&](const AccountContents& c) {
    ++calls;
    AuditEntry e = Audit("account-delete", "alice", kNow * 1000000 + 5);
    e.detail = std::to_string(c.windows) + " windows, " + std::to_string(c.days) + " days";
    return e;
  });
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  EXPECT_GE(calls, 1);
  EXPECT_TRUE(gone->record);
  EXPECT_EQ(gone->domains, 2u);
  EXPECT_EQ(gone->windows, 2u);
  EXPECT_EQ(gone->days, 2u);
  EXPECT_EQ(gone->suppressions, 2u);

  EXPECT_FALSE(store_->GetAccount("alice")->has_value());
  EXPECT_EQ(Used("alice", both[0]), 0u);
  EXPECT_EQ(Used("alice", both[1]), 0u);
  EXPECT_TRUE(Days("alice").empty());
  EXPECT_EQ(store_->CountSuppressions("alice").value(), 0u);
  auto own = store_->FindSuppression("alice", "y@example.com");
  ASSERT_TRUE(own.ok());
  EXPECT_FALSE(own->has_value());
  auto global = store_->FindSuppression("alice", "x@example.com");
  ASSERT_TRUE(global.ok() && global->has_value());
  EXPECT_EQ((*global)->account, "") << "the global entry stays";
  // Nothing of alice2 moved.
  EXPECT_TRUE(store_->GetAccount("alice2")->has_value());
  EXPECT_EQ(Used("alice2", both[0]), 2u);
  EXPECT_EQ(Days("alice2").size(), 1u);
  EXPECT_TRUE(Same(Days("alice2").at(0).second, DayCountsRecord{1, 0, 0, 0, 0, 0, 0, 2, 1, 1}))
      << Show(Days("alice2"));
  EXPECT_EQ(store_->CountSuppressions("alice2").value(), 1u);
  // The history stays, with the deletion on top.
  EXPECT_EQ(AuditSize(), audits + 1);
  auto top = store_->ListAudit("alice", 1);
  ASSERT_TRUE(top.ok() && top->size() == 1u);
  EXPECT_EQ((*top)[0].action, "account-delete");
  EXPECT_EQ((*top)[0].detail, "2 windows, 2 days");
  EXPECT_GT(store_->ListAudit("alice", 100).value().size(), 1u);

  // A name sends again from nothing: the limit counts from 0.
  const std::vector<QuotaCharge> day = {Charge(Window::kDay, 10)};
  int fitted = 0;
  for (int i = 0; i < 20; ++i) {
    auto r = store_->Reserve("alice", day, false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (!r->ok) break;
    ++fitted;
    ASSERT_TRUE(store_->Commit("alice", day, nullptr, kNow).ok());
  }
  EXPECT_EQ(fitted, 10);
}

TEST_P(StoreContractTest, DeleteAccountOfNothingWritesNothing) {
  Send("bob", {Charge(Window::kDay, 10)}, 1);
  store_->Flush();
  int calls = 0;
  for (const char* name : {"alice", "bo", "bob\x01", "nobody\xff"}) {
    auto gone = store_->DeleteAccount(name, [&](const AccountContents&) {
      ++calls;
      return Audit("account-delete", name);
    });
    ASSERT_TRUE(gone.ok()) << gone.status().ToString();
    EXPECT_TRUE(gone->empty()) << name;
  }
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(AuditSize(), 0u);
  EXPECT_TRUE(store_->GetAccount("bob")->has_value());
  // The empty name is no account: the unattributed counts and the global
  // list are not an account's to delete.
  ASSERT_TRUE(store_->AddSuppressions({Supp("", "g@example.com", "global")}, Audit("s")).ok());
  auto empty = store_->DeleteAccount("", [&](const AccountContents&) { return Audit("x"); });
  EXPECT_EQ(empty.status().code(), Status::Code::kInvalid);
  EXPECT_TRUE(store_->FindSuppression("", "g@example.com")->has_value());
}

// A late outcome of a message the deleted account sent (the tailer's
// queue map keeps its name) counts under the name again and makes a fresh
// record, as a first message would: no crash, no error.
TEST_P(StoreContractTest, FeedbackAfterDeleteMakesAFreshRecord) {
  Send("alice", {Charge(Window::kDay, 10)}, 1);
  store_->Flush();
  ASSERT_TRUE(store_->UpdateAccount(
                        "alice",
                        [](AccountRecord* r, bool) {
                          r->status = AccountStatus::kSuspended;
                          return Status::Ok();
                        },
                        Audit("suspend", "alice"))
                  .ok());
  auto gone = store_->DeleteAccount("alice", [](const AccountContents&) {
    return Audit("account-delete", "alice");
  });
  ASSERT_TRUE(gone.ok() && gone->record);
  int reviewed = 0;
  Apply(Batch({DeliveredEv("alice", kNow)}),
        [&](AccountRecord* a, const StoredDays& days, uint64_t, ReviewOutcome*) {
          ++reviewed;
          EXPECT_EQ(a->status, AccountStatus::kActive) << "a fresh record, not the deleted one";
          EXPECT_EQ(days.size(), 1u);
        });
  EXPECT_GE(reviewed, 1);
  auto a = store_->GetAccount("alice");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->status, AccountStatus::kActive);
}

// `account rename`: everything under the old name moves to the new one in
// one transaction, audited under both; refused when the old name has
// nothing or the new one has anything.
TEST_P(StoreContractTest, RenameAccountMovesEverything) {
  ASSERT_TRUE(store_
                  ->UpdateAccount(
                      "alice",
                      [](AccountRecord* r, bool) {
                        r->status = AccountStatus::kSuspended;
                        r->status_reason = "incident";
                        r->limits[Index(Window::kDay)] = 10;
                        r->domains = {"a.example"};
                        r->tier = 3;
                        return Status::Ok();
                      },
                      Audit("suspend", "alice", kNow * 1000000 + 1))
                  .ok());
  // A month beside the day: a fleet store's housekeeping may purge an hour
  // window of kNow's (long past) at any time.
  const std::vector<QuotaCharge> both = {Charge(Window::kDay, 10), Charge(Window::kMonth, 100)};
  Send("alice", both, 8);  // the day's 80% alert is announced
  (void)AlertsOf(Result<std::vector<QuotaAlert>>(std::vector<QuotaAlert>{}));
  Send("alice2", both, 1);
  ASSERT_TRUE(store_
                  ->AddSuppressions({Supp("alice", "x@example.com", "own"),
                                     Supp("alice2", "x@example.com", "alice2's")},
                                    Audit("suppress-add"))
                  .ok());
  Apply(Batch({DeliveredEv("alice", kNow), DeliveredEv("alice", kNow - 86400)}));
  ASSERT_TRUE(store_->AddSendingDays({SendingDay{"alice", kToday, 8, 3, 3}}).ok());
  store_->Flush();
  const size_t audits = AuditSize();

  auto audit = [&](const AccountContents& c) {
    AuditEntry from = Audit("account-rename", "alice", kNow * 1000000 + 7);
    from.detail = "to carol, " + std::to_string(c.windows) + " windows";
    AuditEntry to = from;
    to.account = "carol";
    to.detail = "from alice";
    return std::vector<AuditEntry>{from, to};
  };
  auto moved = store_->RenameAccount("alice", "carol", audit);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_TRUE(moved->record);
  EXPECT_EQ(moved->domains, 1u);
  EXPECT_EQ(moved->windows, 2u);
  EXPECT_EQ(moved->days, 2u);
  EXPECT_EQ(moved->suppressions, 1u);

  EXPECT_FALSE(store_->GetAccount("alice")->has_value());
  auto carol = store_->GetAccount("carol");
  ASSERT_TRUE(carol.ok() && carol->has_value());
  EXPECT_EQ((*carol)->name, "carol");
  EXPECT_EQ((*carol)->status, AccountStatus::kSuspended);
  EXPECT_EQ((*carol)->status_reason, "incident");
  EXPECT_EQ((*carol)->limits[Index(Window::kDay)], 10u);
  EXPECT_EQ((*carol)->domains, std::vector<std::string>{"a.example"});
  EXPECT_EQ((*carol)->tier, 3);
  EXPECT_EQ(Used("carol", both[0]), 8u);
  EXPECT_EQ(Used("carol", both[1]), 8u);
  EXPECT_EQ(Used("alice", both[0]), 0u);
  EXPECT_EQ(Days("carol").size(), 2u);
  EXPECT_TRUE(Same(Days("carol").at(1).second, DayCountsRecord{1, 0, 0, 0, 0, 0, 0, 8, 3, 3}))
      << "the milter's figures moved with the day: " << Show(Days("carol"));
  EXPECT_TRUE(Days("alice").empty());
  auto own = store_->FindSuppression("carol", "x@example.com");
  ASSERT_TRUE(own.ok() && own->has_value());
  EXPECT_EQ((*own)->account, "carol");
  EXPECT_EQ((*own)->reason, "own");
  EXPECT_EQ(store_->CountSuppressions("alice").value(), 0u);
  // alice2 (a name that starts with alice's) did not move.
  EXPECT_EQ(Used("alice2", both[0]), 1u);
  EXPECT_EQ(store_->CountSuppressions("alice2").value(), 1u);
  // Audited under both names.
  EXPECT_EQ(AuditSize(), audits + 2);
  EXPECT_EQ(store_->ListAudit("alice", 1).value().at(0).detail, "to carol, 2 windows");
  EXPECT_EQ(store_->ListAudit("carol", 1).value().at(0).detail, "from alice");
  // The alerts moved too: 80% is not announced a second time.
  std::vector<int> pcts;
  const std::vector<QuotaCharge> day = {both[0]};
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(store_->Reserve("carol", day, false)->ok);
    auto c = store_->Commit("carol", day, nullptr, kNow);
    ASSERT_TRUE(c.ok());
    for (int p : Pcts(AlertsOf(c))) pcts.push_back(p);
  }
  EXPECT_EQ(pcts, (std::vector<int>{90, 100}));
  EXPECT_FALSE(store_->Reserve("carol", day, false)->ok) << "the limit holds across the rename";
}

TEST_P(StoreContractTest, RenameAccountRefusals) {
  ASSERT_TRUE(store_->UpdateAccount("alice", [](AccountRecord*, bool) { return Status::Ok(); },
                                    Audit("quota-set", "alice"))
                  .ok());
  ASSERT_TRUE(store_->UpdateAccount("bob", [](AccountRecord*, bool) { return Status::Ok(); },
                                    Audit("quota-set", "bob"))
                  .ok());
  // Suppressions under a name without a record make it taken too.
  ASSERT_TRUE(store_->AddSuppressions({Supp("dave", "x@example.com", "own")}, Audit("s")).ok());
  const size_t audits = AuditSize();
  int calls = 0;
  auto audit = [&](const AccountContents&) {
    ++calls;
    return std::vector<AuditEntry>{Audit("account-rename", "x")};
  };
  EXPECT_EQ(store_->RenameAccount("nobody", "carol", audit).status().code(),
            Status::Code::kNotFound);
  EXPECT_EQ(store_->RenameAccount("alice", "bob", audit).status().code(), Status::Code::kInvalid);
  EXPECT_EQ(store_->RenameAccount("alice", "dave", audit).status().code(), Status::Code::kInvalid);
  EXPECT_EQ(store_->RenameAccount("alice", "alice", audit).status().code(), Status::Code::kInvalid);
  EXPECT_EQ(store_->RenameAccount("alice", "", audit).status().code(), Status::Code::kInvalid);
  EXPECT_EQ(store_->RenameAccount("", "carol", audit).status().code(), Status::Code::kInvalid);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(AuditSize(), audits);
  EXPECT_TRUE(store_->GetAccount("alice")->has_value());
  EXPECT_TRUE(store_->GetAccount("bob")->has_value());
  // A name with suppressions and no record moves too.
  auto moved = store_->RenameAccount("dave", "erin", audit);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_FALSE(moved->record);
  EXPECT_EQ(moved->suppressions, 1u);
  EXPECT_TRUE(store_->FindSuppression("erin", "x@example.com")->has_value());
}

TEST_P(StoreContractTest, RefusedChangeWritesNothing) {
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

TEST_P(StoreContractTest, ConcurrentUpdatesAreAtomic) {
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

TEST_P(StoreContractTest, AuditNewestFirstFilteredAndLimited) {
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


TEST_P(StoreContractTest, SuppressionAddFindRemove) {
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

  // An entry already there is never overwritten, and nothing is audited.
  auto again = store_->AddSuppressions({Supp("alice", "carol@example.com", "replaced")},
                                       Audit("suppress-add"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
  f = store_->FindSuppression("alice", "carol@example.com");
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_NE((*f)->reason, "replaced");

  auto audit = store_->ListAudit("", 100);
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->size(), 2u);  // one add and one successful remove
}

TEST_P(StoreContractTest, SuppressionListAndCountThousand) {
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

TEST_P(StoreContractTest, ReserveIsExactAcrossThreads) {
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

TEST_P(StoreContractTest, ReserveRefusalNamesTheWindow) {
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

TEST_P(StoreContractTest, ReleaseGivesCapacityBack) {
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

TEST_P(StoreContractTest, MessagesModeLaterRecipientsHoldNothing) {
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

// The milter holds one charge per recipient and commits them together.
TEST_P(StoreContractTest, OneCommitForManyRecipients) {
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
  EXPECT_EQ(Pcts(AlertsOf(c)), (std::vector<int>{80, 90}));  // each once, though crossed mid-commit
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

TEST_P(StoreContractTest, ForceHoldsBeyondTheLimit) {
  const std::vector<QuotaCharge> one = {Charge(Window::kDay, 1)};
  Send("alice", one);
  auto r = store_->Reserve("alice", one, true);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok);
  ASSERT_TRUE(store_->Commit("alice", one, nullptr, kNow).ok());
  EXPECT_EQ(Used("alice", one[0]), 2u);
}

TEST_P(StoreContractTest, WindowInstancesCountSeparately) {
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

TEST_P(StoreContractTest, AlertsFireOncePerWindowInstance) {
  const std::vector<QuotaCharge> one = {Charge(Window::kDay, 10)};
  std::vector<std::vector<int>> seen;
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(store_->Reserve("alice", one, false)->ok);
    auto c = store_->Commit("alice", one, nullptr, kNow);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    const std::vector<QuotaAlert> a = AlertsOf(c);
    seen.push_back(Pcts(a));
    if (i == 8) {
      ASSERT_EQ(a.size(), 1u);
      EXPECT_EQ(a[0].window, Window::kDay);
      EXPECT_EQ(a[0].used, 8u);
      EXPECT_EQ(a[0].limit, 10u);
      EXPECT_EQ(a[0].span.start, one[0].span.start);
    }
  }
  const std::vector<std::vector<int>> want = {{}, {}, {}, {}, {}, {}, {}, {80}, {90}, {100}};
  EXPECT_EQ(seen, want);

  // Over the limit (dry run): nothing new.
  ASSERT_TRUE(store_->Reserve("alice", one, true)->ok);
  auto over = store_->Commit("alice", one, nullptr, kNow);
  ASSERT_TRUE(over.ok());
  EXPECT_TRUE(AlertsOf(over).empty());

  // The next day's window instance alerts again; a jump fires all reached.
  const std::vector<QuotaCharge> next = {Charge(Window::kDay, 10, 10, kNow + 86400)};
  ASSERT_TRUE(store_->Reserve("alice", next, false)->ok);
  auto jump = store_->Commit("alice", next, nullptr, kNow + 86400);
  ASSERT_TRUE(jump.ok());
  EXPECT_EQ(Pcts(AlertsOf(jump)), (std::vector<int>{80, 90, 100}));

  // Another account has its own alerts.
  const std::vector<QuotaCharge> bob = {Charge(Window::kDay, 10, 9)};
  ASSERT_TRUE(store_->Reserve("bob", bob, false)->ok);
  auto b = store_->Commit("bob", bob, nullptr, kNow);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Pcts(AlertsOf(b)), (std::vector<int>{80, 90}));
}

TEST_P(StoreContractTest, SecondCommitOverEightyGivesNoSecondAlert) {
  const std::vector<QuotaCharge> c81 = {Charge(Window::kHour, 100, 81)};
  const std::vector<QuotaCharge> c1 = {Charge(Window::kHour, 100, 1)};
  ASSERT_TRUE(store_->Reserve("alice", c81, false)->ok);
  auto first = store_->Commit("alice", c81, nullptr, kNow);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Pcts(AlertsOf(first)), std::vector<int>{80});
  ASSERT_TRUE(store_->Reserve("alice", c1, false)->ok);
  auto second = store_->Commit("alice", c1, nullptr, kNow);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(AlertsOf(second).empty()) << "82% gave alerts again";
}

// ---------------------------------------------------------- ResetUsage

// `quota reset`: one window instance's count back to 0, audited with what
// it was; holds of open transactions commit into the new count; the limit
// holds again from 0; the alerts are announced again; nothing else moves.
TEST_P(StoreContractTest, ResetUsageZeroesOneInstanceOnly) {
  const std::vector<QuotaCharge> day = {Charge(Window::kDay, 10)};
  const std::vector<QuotaCharge> both = {Charge(Window::kDay, 10), Charge(Window::kMonth, 100)};
  Send("alice", both, 7);
  Send("bob", day, 3);
  const std::vector<QuotaCharge> tomorrow = {Charge(Window::kDay, 10, 1, kNow + 86400)};
  Send("alice", tomorrow, 2);
  (void)AlertsOf(Result<std::vector<QuotaAlert>>(std::vector<QuotaAlert>{}));  // settle alerts so far
  // One recipient held by an open transaction across the reset.
  ASSERT_TRUE(store_->Reserve("alice", day, false)->ok);
  const size_t audits = AuditSize();

  std::vector<uint64_t> asked;
  auto was = store_->ResetUsage("alice", Window::kDay, day[0].span, [&](uint64_t n) {
    asked.push_back(n);
    AuditEntry e = Audit("quota-reset", "alice", kNow * 1000000 + 9);
    e.detail = "day " + std::to_string(n) + " -> 0";
    return e;
  });
  ASSERT_TRUE(was.ok()) << was.status().ToString();
  EXPECT_EQ(*was, 7u);
  ASSERT_FALSE(asked.empty());
  EXPECT_EQ(asked.back(), 7u);
  EXPECT_EQ(Used("alice", day[0]), 0u);
  EXPECT_EQ(Used("alice", both[1]), 7u) << "the month window moved";
  EXPECT_EQ(Used("bob", day[0]), 3u) << "another account moved";
  EXPECT_EQ(Used("alice", tomorrow[0]), 2u) << "another instance moved";
  ASSERT_EQ(AuditSize(), audits + 1);
  auto audit = store_->ListAudit("alice", 1);
  ASSERT_TRUE(audit.ok() && audit->size() == 1u);
  EXPECT_EQ((*audit)[0].action, "quota-reset");
  EXPECT_EQ((*audit)[0].detail, "day 7 -> 0");

  // The held recipient commits into the new count; then exactly the limit.
  auto c = store_->Commit("alice", day, nullptr, kNow);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Used("alice", day[0]), 1u);
  int fitted = 0;
  std::vector<int> pcts;
  for (int i = 0; i < 20; ++i) {
    auto r = store_->Reserve("alice", day, false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (!r->ok) break;
    ++fitted;
    auto ci = store_->Commit("alice", day, nullptr, kNow);
    ASSERT_TRUE(ci.ok()) << ci.status().ToString();
    for (int p : Pcts(AlertsOf(ci))) pcts.push_back(p);
  }
  EXPECT_EQ(fitted, 9);
  EXPECT_EQ(Used("alice", day[0]), 10u);
  EXPECT_EQ(pcts, (std::vector<int>{80, 90, 100})) << "the alerts are announced again";
}

TEST_P(StoreContractTest, ResetUsageOfNothingWritesNothing) {
  const QuotaCharge day = Charge(Window::kDay, 10);
  int calls = 0;
  auto audit = [&](uint64_t) {
    ++calls;
    return Audit("quota-reset", "alice");
  };
  for (const char* name : {"alice", "", "nobody\xff"}) {
    auto was = store_->ResetUsage(name, Window::kDay, day.span, audit);
    ASSERT_TRUE(was.ok()) << was.status().ToString();
    EXPECT_EQ(*was, 0u);
  }
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(AuditSize(), 0u);
}

TEST_P(StoreContractTest, FailedResetUsageChangesNothing) {
  const std::vector<QuotaCharge> day = {Charge(Window::kDay, 10)};
  Send("alice", day, 4);
  store_->Flush();  // a fleet store: reported, so the reset's own write is the next one
  if (!FailNextWrites(1)) GTEST_SKIP() << "this backend cannot make a write fail";
  auto was = store_->ResetUsage("alice", Window::kDay, day[0].span,
                                [&](uint64_t) { return Audit("quota-reset", "alice"); });
  EXPECT_FALSE(was.ok());
  EXPECT_EQ(Used("alice", day[0]), 4u);
  EXPECT_EQ(AuditSize(), 0u);
}

// ----------------------------------------------------- queue, accounts

TEST_P(StoreContractTest, CommitWritesQueueEntry) {
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

TEST_P(StoreContractTest, CommitCreatesAccountRecordForUnknownAccount) {
  ASSERT_FALSE(store_->GetAccount("newcomer")->has_value());
  const std::vector<QuotaCharge> one = {Charge(Window::kDay, 10)};
  ASSERT_TRUE(store_->Reserve("newcomer", one, false)->ok);
  ASSERT_TRUE(store_->Commit("newcomer", one, nullptr, kNow).ok());
  store_->Flush();  // a fleet's store creates the record from its lease thread
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
  store_->Flush();
  auto s = store_->GetAccount("suspended");
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ((*s)->status, AccountStatus::kSuspended);
  EXPECT_EQ((*s)->created, kNow);
}
// ------------------------------------------------------- the ugly cases

TEST_P(StoreContractTest, UnknownAndEmptyNamesFindNothing) {
  // An empty account name: none, or an error (LMDB refuses empty keys);
  // never a record.
  auto empty = store_->GetAccount("");
  EXPECT_TRUE(!empty.ok() || !empty->has_value());
  for (std::string_view name : {"nobody"sv, "a\0b"sv}) {
    SCOPED_TRACE(std::string(name));
    auto a = store_->GetAccount(name);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_FALSE(a->has_value());
    auto s = store_->FindSuppression(name, "x@example.org");
    ASSERT_TRUE(s.ok());
    EXPECT_FALSE(s->has_value());
    EXPECT_EQ(store_->CountSuppressions(name).value(), 0u);
    EXPECT_TRUE(store_->ListAudit(name, 10).value().empty());
    EXPECT_TRUE(store_->GetDays(name, 0, INT64_MAX).value().empty());
    auto q = store_->GetQueueEntry(name);
    ASSERT_TRUE(q.ok());
    EXPECT_FALSE(q->has_value());
    EXPECT_TRUE(store_->FindByMessageId(name).value().empty());
    auto b = store_->GetBounces(name);
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(b->has_value());
    auto p = store_->GetPosition(name);
    ASSERT_TRUE(p.ok());
    EXPECT_FALSE(p->has_value());
    auto u = store_->Usage(name, {WindowUsage{Window::kDay, Charge(Window::kDay, 1).span, 99}});
    ASSERT_TRUE(u.ok());
    ASSERT_EQ(u->size(), 1u);
    EXPECT_EQ((*u)[0].used, 0u) << "the count is the store's, not the caller's";
  }
  EXPECT_TRUE(store_->ListAccounts().value().empty());
  EXPECT_TRUE(store_->ListSuppressions(std::nullopt, 10).value().empty());
  EXPECT_TRUE(store_->GetDeferred(10).value().empty());
  EXPECT_TRUE(store_->Maintain().ok());
  store_->Flush();
}

TEST_P(StoreContractTest, LimitZeroListsNothing) {
  ASSERT_TRUE(store_->AddSuppressions({Supp("alice", "a@x.org", "r"), Supp("", "g@x.org", "r")},
                                      Audit("suppress-add")).ok());
  FeedbackBatch b;
  b.now = kNow;
  b.deferred = {DeferredRecord{"AAAA000001", kNow, {"a@x.org"}}};
  Apply(b);
  EXPECT_TRUE(store_->ListSuppressions(std::nullopt, 0).value().empty());
  EXPECT_TRUE(store_->ListSuppressions(std::string("alice"), 0).value().empty());
  EXPECT_TRUE(store_->ListAudit("", 0).value().empty());
  EXPECT_TRUE(store_->GetDeferred(0).value().empty());
  EXPECT_EQ(store_->GetDeferred(1).value().size(), 1u);
}

TEST_P(StoreContractTest, DuplicateSuppressionsInOneCallKeepTheFirst) {
  auto added = store_->AddSuppressions({Supp("alice", "a@x.org", "first"),
                                        Supp("alice", "a@x.org", "second")},
                                       Audit("suppress-add"));
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(*added, 1u);
  EXPECT_EQ(store_->CountSuppressions("alice").value(), 1u);
  EXPECT_EQ(store_->FindSuppression("alice", "a@x.org").value()->reason, "first");
  EXPECT_EQ(AuditSize(), 1u) << "one audit entry per call";
  // A call that adds nothing writes no audit entry: the log holds what happened.
  EXPECT_EQ(store_->AddSuppressions({}, Audit("suppress-add")).value(), 0u);
  EXPECT_EQ(AuditSize(), 1u);
}

TEST_P(StoreContractTest, AddSuppressionsAddsOnlyTheAbsentAndAuditsWhatItAdded) {
  ASSERT_TRUE(store_->AddSuppressions({Supp("alice", "legal@x.org", "legal hold")}, Audit("suppress-add")).ok());
  size_t told = 0;
  auto added = store_->AddSuppressions(
      {Supp("alice", "new1@x.org", "import"), Supp("alice", "legal@x.org", "import"),
       Supp("alice", "new2@x.org", "import")},
      SuppressionAddAudit([&](size_t n) {
        told = n;
        AuditEntry e = Audit("suppress-import");
        e.detail = std::to_string(n) + " addresses";
        return e;
      }));
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(*added, 2u);
  EXPECT_EQ(told, 2u);
  EXPECT_EQ(store_->FindSuppression("alice", "legal@x.org").value()->reason, "legal hold");
  EXPECT_EQ(store_->CountSuppressions("alice").value(), 3u);
  auto audit = store_->ListAudit("", 10);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 2u);
  bool saw = false;
  for (const auto& e : *audit) saw = saw || e.detail == "2 addresses";
  EXPECT_TRUE(saw) << "the import's audit entry counts what it added";
}

// Two writers add one new address at once (two `suppress add`, from two
// machines of a fleet): exactly one of them adds it, and its reason stays.
TEST_P(StoreContractTest, TwoWritersAddingOneAddressAddItOnce) {
  for (int round = 0; round < 20; ++round) {
    const std::string addr = "race" + std::to_string(round) + "@x.org";
    std::atomic<int> go{0};
    size_t a = 9, b = 9;
    std::thread t1([&] {
      ++go;
      while (go.load() < 2) {}
      auto r = store_->AddSuppressions({Supp("", addr, "first writer")}, Audit("suppress-add"));
      a = r.ok() ? *r : 9;
    });
    std::thread t2([&] {
      ++go;
      while (go.load() < 2) {}
      auto r = store_->AddSuppressions({Supp("", addr, "second writer")}, Audit("suppress-add"));
      b = r.ok() ? *r : 9;
    });
    t1.join();
    t2.join();
    ASSERT_EQ(a + b, 1u) << "round " << round << ": added " << a << " and " << b;
    const std::string kept = store_->FindSuppression("", addr).value()->reason;
    EXPECT_EQ(kept, a == 1 ? "first writer" : "second writer") << "round " << round;
  }
  EXPECT_EQ(AuditSize(), 20u) << "one audit entry per address added";
}

TEST_P(StoreContractTest, ReserveOfNoChargesAlwaysFits) {
  auto r = store_->Reserve("alice", {}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok);
  // A zero limit refuses even the first one; an unlimited one never refuses.
  auto zero = store_->Reserve("alice", {Charge(Window::kDay, 0)}, false);
  ASSERT_TRUE(zero.ok());
  EXPECT_FALSE(zero->ok);
  auto unlimited = store_->Reserve("alice", {Charge(Window::kDay, kUnlimited, 1000000)}, false);
  ASSERT_TRUE(unlimited.ok());
  EXPECT_TRUE(unlimited->ok);
}

TEST_P(StoreContractTest, RefusedReserveHoldsNothingOfTheChargesThatFit) {
  const QuotaCharge hour = Charge(Window::kHour, 10, 5);
  const QuotaCharge day = Charge(Window::kDay, 3, 5);  // does not fit
  auto r = store_->Reserve("alice", {hour, day}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->refused, 1u);
  // The hour window's 5 were not held: 10 still fit.
  auto all = store_->Reserve("alice", {Charge(Window::kHour, 10, 10)}, false);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->ok);
}

TEST_P(StoreContractTest, ReleaseOfWhatWasNeverHeldChangesNothing) {
  store_->Release("alice", {Charge(Window::kDay, 10, 5)});
  store_->Release("", {});
  Send("alice", {Charge(Window::kDay, 2)}, 2);
  store_->Release("alice", {Charge(Window::kDay, 2)});  // committed is not held
  EXPECT_EQ(Used("alice", Charge(Window::kDay, 2)), 2u);
  EXPECT_FALSE(store_->Reserve("alice", {Charge(Window::kDay, 2)}, false)->ok);
}

TEST_P(StoreContractTest, FailedCommitReleasesTheHoldAndWritesNothing) {
  const std::vector<QuotaCharge> one = {Charge(Window::kDay, 1)};
  ASSERT_TRUE(store_->Reserve("alice", one, false)->ok);
  if (!instance_->FailNextCommit()) GTEST_SKIP() << "backend cannot make a Commit fail";
  QueueEntry q = Q("AAAA000001", "alice", kNow, "<m@x>");
  auto c = store_->Commit("alice", one, &q, kNow);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(Used("alice", one[0]), 0u);
  EXPECT_FALSE(store_->GetQueueEntry("AAAA000001").value().has_value());
  EXPECT_FALSE(store_->GetAccount("alice").value().has_value());
  // The hold was released: the one message fits again, and commits.
  Send("alice", one);
  EXPECT_EQ(Used("alice", one[0]), 1u);
}

TEST_P(StoreContractTest, FailedWritesChangeNothing) {
  ASSERT_TRUE(store_->AddSuppressions({Supp("alice", "a@x.org", "r")}, Audit("add")).ok());
  if (!FailNextWrites(5)) GTEST_SKIP() << "backend cannot inject a failed write";
  EXPECT_FALSE(store_->UpdateAccount("alice", [](AccountRecord*, bool) { return Status::Ok(); },
                                     Audit("suspend", "alice")).ok());
  EXPECT_FALSE(store_->AddSuppressions({Supp("alice", "b@x.org", "r")}, Audit("add")).ok());
  EXPECT_FALSE(store_->RemoveSuppression("alice", "a@x.org", Audit("remove")).ok());
  EXPECT_FALSE(store_->AppendAudit(Audit("note")).ok());
  FeedbackBatch b = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0}), Complaint("alice", "c@x.org")});
  b.once_key = "report";
  b.source = "file:/var/log/mail.log";
  b.position = "1";
  EXPECT_FALSE(store_->ApplyFeedback(b, nullptr).ok());
  EXPECT_FALSE(store_->GetAccount("alice").value().has_value());
  EXPECT_EQ(store_->CountSuppressions("alice").value(), 1u);
  EXPECT_EQ(AuditSize(), 1u);
  EXPECT_TRUE(Days("alice").empty());
  EXPECT_FALSE(store_->GetPosition("file:/var/log/mail.log").value().has_value());
  // The failed batch did not record its once_key: the retry counts.
  EXPECT_FALSE(Apply(b).duplicate);
  EXPECT_EQ(Complaints("alice"), 1u);
}

// ------------------------------------------------------------ queue map

TEST_P(StoreContractTest, GetQueueEntriesReplacesOutAndKeepsTheOrderAsked) {
  const QueueEntry q = Q("AAAA000001", "alice", kNow);
  ASSERT_TRUE(store_->Commit("alice", {}, &q, kNow).ok());
  std::vector<std::optional<QueueEntry>> out(5, Q("STALE", "x", 0));
  ASSERT_TRUE(store_->GetQueueEntries({"NOPE", "AAAA000001", "", "AAAA000001"}, &out).ok());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_FALSE(out[0].has_value());
  EXPECT_EQ(out[1]->account, "alice");
  EXPECT_FALSE(out[2].has_value());
  EXPECT_EQ(out[3]->queue_id, "AAAA000001");
  ASSERT_TRUE(store_->GetQueueEntries({}, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST_P(StoreContractTest, FindByMessageIdOldestFirstAndExact) {
  for (const QueueEntry& q : {Q("AAAA000001", "alice", kNow + 300, "<a@x>"),
                              Q("AAAA000002", "bob", kNow + 100, "<a@x>"),
                              Q("AAAA000003", "carol", kNow, "<a@x>y"),
                              Q("AAAA000004", "dave", kNow, "")}) {
    ASSERT_TRUE(store_->Commit(q.account, {}, &q, kNow).ok());
  }
  EXPECT_EQ(store_->FindByMessageId("<a@x>").value(),
            (std::vector<std::string>{"AAAA000002", "AAAA000001"}));
  EXPECT_EQ(store_->FindByMessageId("<a@x>y").value(), std::vector<std::string>{"AAAA000003"});
  EXPECT_TRUE(store_->FindByMessageId("<a@").value().empty());
  EXPECT_TRUE(store_->FindByMessageId("").value().empty());
  // An entry rewritten with another Message-ID is found only by the new one.
  FeedbackBatch b = Batch({});
  b.queue_puts = {Q("AAAA000001", "alice", kNow + 300, "<b@x>")};
  Apply(b);
  EXPECT_EQ(store_->FindByMessageId("<a@x>").value(), std::vector<std::string>{"AAAA000002"});
  EXPECT_EQ(store_->FindByMessageId("<b@x>").value(), std::vector<std::string>{"AAAA000001"});
}

TEST_P(StoreContractTest, FeedbackQueuePutsOverwriteStubsDoNot) {
  const QueueEntry committed = Q("AAAA000001", "alice", kNow - 10, "<m1@x>");
  ASSERT_TRUE(store_->Commit("alice", {}, &committed, kNow).ok());
  FeedbackBatch b = Batch({});
  b.queue_stubs = {Q("AAAA000001", "", kNow, "<other@x>"), Q("AAAA000002", "", kNow, "<m2@x>"),
                   Q("", "", kNow, "<empty@x>")};
  QueueEntry put = Q("AAAA000003", "bob", kNow, "<m3@x>");
  put.last_event = kNow + 5;
  put.forwarded = true;
  b.queue_puts = {put};
  Apply(b);
  EXPECT_EQ(store_->GetQueueEntry("AAAA000001").value()->account, "alice");
  EXPECT_TRUE(store_->FindByMessageId("<other@x>").value().empty());
  EXPECT_EQ(store_->GetQueueEntry("AAAA000002").value()->message_id, "<m2@x>");
  auto e3 = store_->GetQueueEntry("AAAA000003").value();
  ASSERT_TRUE(e3.has_value());
  EXPECT_EQ(e3->last_event, kNow + 5);
  EXPECT_TRUE(e3->forwarded);
  EXPECT_TRUE(store_->FindByMessageId("<empty@x>").value().empty());
}

// ------------------------------------------------------ delivery feedback

TEST_P(StoreContractTest, FeedbackCountsPerAccountAndUtcDay) {
  const int64_t midnight = kToday * 86400;
  Apply(Batch({Ev("alice", midnight - 1, {1, 0, 0, 0, 0, 0, 0}),
               Ev("alice", midnight, {0, 1, 0, 0, 0, 0, 0}),
               Ev("alice", midnight + 5, {2, 3, 4, 5, 6, 7, 8}),
               Ev("bob", kNow, {0, 0, 1, 0, 0, 0, 0}), Ev("", kNow, {0, 0, 0, 1, 0, 0, 0}),
               Ev("alicex", kNow, {9, 0, 0, 0, 0, 0, 0})}));
  Apply(Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0})}));
  const StoredDays alice = Days("alice");
  ASSERT_EQ(alice.size(), 2u);
  EXPECT_EQ(alice[0].first, kToday - 1);
  EXPECT_EQ(alice[0].second.delivered, 1u);
  EXPECT_EQ(alice[1].first, kToday);
  EXPECT_EQ(alice[1].second.delivered, 3u);
  EXPECT_EQ(alice[1].second.deferred, 4u);
  EXPECT_EQ(alice[1].second.complaints, 8u);
  EXPECT_EQ(Days("bob").at(0).second.hard, 1u);
  EXPECT_EQ(Days("").at(0).second.soft, 1u) << "unattributed counts under \"\"";
  EXPECT_EQ(Days("alicex").at(0).second.delivered, 9u);
  // GetDays bounds are inclusive; a range that ends before it starts is empty.
  EXPECT_EQ(store_->GetDays("alice", kToday, kToday).value().size(), 1u);
  EXPECT_EQ(store_->GetDays("alice", kToday - 1, kToday - 1).value().size(), 1u);
  EXPECT_TRUE(store_->GetDays("alice", kToday + 1, kToday - 1).value().empty());
  EXPECT_EQ(store_->GetDays("alice", INT64_MIN, INT64_MAX).value().size(), 2u);
  // Counts saturate instead of wrapping.
  Apply(Batch({Ev("bob", kNow, {UINT64_MAX, 0, UINT64_MAX, 0, 0, 0, 0})}));
  EXPECT_EQ(Days("bob").at(0).second.hard, UINT64_MAX);
}

// The milter's figures (AddSendingDays): added per (account, UTC day) in
// one call, the tier replaced when not 0; ApplyFeedback on the same day
// keeps them and they keep its counts, whichever comes first.
TEST_P(StoreContractTest, SendingDaysAddUpBesideTheFeedbackCounts) {
  Apply(Batch({DeliveredEv("alice", kNow), DeliveredEv("alice", kNow)}));
  ASSERT_TRUE(store_->AddSendingDays({}).ok());
  ASSERT_TRUE(store_
                  ->AddSendingDays({SendingDay{"alice", kToday, 3, 1, 2},
                                    SendingDay{"alice", kToday - 1, 5, 0, 1},
                                    SendingDay{"bob", kToday, 0, 2, 0},
                                    SendingDay{"alice", kToday, 1, 0, 0},  // the same key again
                                    SendingDay{"", kToday, 0, 1, 0}})
                  .ok());
  StoredDays alice = Days("alice");
  ASSERT_EQ(alice.size(), 2u) << Show(alice);
  EXPECT_EQ(alice[0].first, kToday - 1);
  EXPECT_TRUE(Same(alice[0].second, DayCountsRecord{0, 0, 0, 0, 0, 0, 0, 5, 0, 1})) << Show(alice);
  EXPECT_TRUE(Same(alice[1].second, DayCountsRecord{2, 0, 0, 0, 0, 0, 0, 4, 1, 2})) << Show(alice);
  EXPECT_TRUE(Same(Days("bob").at(0).second, DayCountsRecord{0, 0, 0, 0, 0, 0, 0, 0, 2, 0}));
  EXPECT_EQ(Days("").at(0).second.refused, 1u);
  // An account the milter judged without a record gets one, as a first
  // Commit makes it (an account only ever refused is listed, can be
  // deleted); the empty name gets none.
  auto bob = store_->GetAccount("bob");
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  ASSERT_TRUE(bob->has_value()) << "bob's record is made";
  EXPECT_EQ((*bob)->name, "bob");
  EXPECT_GT((*bob)->created, 0);
  auto none = store_->GetAccount("");  // refused as a name, or absent
  EXPECT_TRUE(!none.ok() || !none->has_value());

  // The tailer's next batch adds its counts and keeps the milter's; the
  // milter's next flush adds to both, its tier replacing the day's.
  Apply(Batch({DeliveredEv("alice", kNow), Hard("alice", "gone@example.org")}));
  ASSERT_TRUE(store_->AddSendingDays({SendingDay{"alice", kToday, 2, 3, 3}}).ok());
  alice = Days("alice");
  ASSERT_EQ(alice.size(), 2u) << Show(alice);
  EXPECT_TRUE(Same(alice[1].second, DayCountsRecord{3, 0, 1, 0, 0, 0, 0, 6, 4, 3})) << Show(alice);
  // Saturating, as the counts do.
  ASSERT_TRUE(
      store_->AddSendingDays({SendingDay{"bob", kToday, UINT64_MAX, UINT64_MAX, 5}}).ok());
  EXPECT_TRUE(Same(Days("bob").at(0).second,
                   DayCountsRecord{0, 0, 0, 0, 0, 0, 0, UINT64_MAX, UINT64_MAX, 5}))
      << Show(Days("bob"));

  // A refused write writes nothing (the milter keeps the batch and retries).
  if (FailNextWrites(1)) {
    EXPECT_FALSE(store_->AddSendingDays({SendingDay{"alice", kToday, 1, 1, 4},
                                         SendingDay{"carol", kToday, 1, 1, 4}})
                     .ok());
    EXPECT_TRUE(Same(Days("alice").at(1).second, DayCountsRecord{3, 0, 1, 0, 0, 0, 0, 6, 4, 3}));
    EXPECT_TRUE(Days("carol").empty());
  }
}

TEST_P(StoreContractTest, HardBouncesSuppressGloballyAtTheThresholdOnce) {
  for (int b = 1; b <= 4; ++b) {
    SCOPED_TRACE("batch " + std::to_string(b));
    FeedbackBatch batch = Batch({Hard(b % 2 ? "alice" : "", "dead@x.org", kNow + b)}, kNow + b);
    batch.suppress_after = 3;
    const FeedbackResult r = Apply(batch);
    if (b == 3) {
      ASSERT_EQ(r.suppressed.size(), 1u);
      EXPECT_EQ(r.suppressed[0].account, "");
      EXPECT_EQ(r.suppressed[0].address, "dead@x.org");
      EXPECT_EQ(r.suppressed[0].actor, "test-tail");
      EXPECT_EQ(r.suppressed[0].since, kNow + 3);
    } else {
      EXPECT_TRUE(r.suppressed.empty());
    }
  }
  auto bounces = store_->GetBounces("dead@x.org").value();
  ASSERT_TRUE(bounces.has_value());
  EXPECT_EQ(bounces->count, 4u);
  EXPECT_EQ(bounces->last_account, "");
  EXPECT_EQ(bounces->last_time, kNow + 4);
  EXPECT_TRUE(store_->FindSuppression("carol", "dead@x.org").value().has_value());
  int adds = 0;
  const std::vector<AuditEntry> audit = store_->ListAudit("", 100).value();
  for (const auto& a : audit) adds += a.action == "suppress-add";
  EXPECT_EQ(adds, 1);
  // suppress_after 0: neither counted nor suppressed.
  FeedbackBatch never = Batch({Hard("alice", "other@x.org")});
  never.suppress_after = 0;
  EXPECT_TRUE(Apply(never).suppressed.empty());
  EXPECT_FALSE(store_->GetBounces("other@x.org").value().has_value());
  // Again after a manual removal.
  ASSERT_TRUE(store_->RemoveSuppression("", "dead@x.org", Audit("suppress-remove")).value());
  FeedbackBatch again = Batch({Hard("alice", "dead@x.org")});
  again.suppress_after = 3;
  EXPECT_EQ(Apply(again).suppressed.size(), 1u);
}

TEST_P(StoreContractTest, ComplaintsSuppressPerAccountKeepingTheFirstReason) {
  ASSERT_TRUE(store_->AddSuppressions({Supp("bob", "c@x.org", "manual")}, Audit("add")).ok());
  const FeedbackResult r = Apply(Batch({Complaint("alice", "c@x.org"), Complaint("alice", "c@x.org"),
                                        Complaint("bob", "c@x.org"), Complaint("", "d@x.org")}));
  ASSERT_EQ(r.suppressed.size(), 1u);
  EXPECT_EQ(r.suppressed[0].account, "alice");
  EXPECT_EQ(r.suppressed[0].reason, "spam complaint");
  EXPECT_EQ(store_->FindSuppression("bob", "c@x.org").value()->reason, "manual");
  EXPECT_FALSE(store_->FindSuppression("carol", "c@x.org").value().has_value());
  EXPECT_EQ(store_->CountSuppressions("").value(), 0u);
  EXPECT_TRUE(Apply(Batch({Complaint("alice", "c@x.org")})).suppressed.empty());
  EXPECT_EQ(Complaints("alice"), 3u);
}

TEST_P(StoreContractTest, ReviewsSeeTheBatchAndWriteTheirEditsAndAudit) {
  const QueueEntry q = Q("AAAA000001", "bob", kNow - 100);
  ASSERT_TRUE(store_->Commit("bob", {}, &q, kNow - 100).ok());  // bob has a record
  store_->Flush();  // (a fleet's store creates it from its lease thread)
  Apply(Batch({Ev("alice", kNow - 2 * 86400, {5, 0, 0, 0, 0, 0, 0})}));
  struct Call {
    std::string name;
    bool exists;
    size_t days;
    uint64_t complaints;
  };
  std::vector<Call> calls;
  auto review = [&](AccountRecord* a, const StoredDays& days, uint64_t complaints,
                    ReviewOutcome* out) {
    calls.push_back(Call{a->name, a->created != kNow, days.size(), complaints});
    a->tier = 4;
    AuditEntry e = Audit("tier", a->name, kNow * 1000000 + 1);
    out->audit.push_back(e);
    out->alerts.push_back("account=" + a->name);
  };
  FeedbackBatch b = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0}), Complaint("alice", "c@x.org"),
                           Ev("bob", kNow, {1, 0, 0, 0, 0, 0, 0}), Ev("", kNow, {1, 0, 0, 0, 0, 0, 0}),
                           Ev("carol", kNow, {1, 0, 0, 0, 0, 0, 0})});
  b.review_days = 2;
  b.review_only = std::vector<std::string>{"alice", "bob"};
  const FeedbackResult r = Apply(b, review);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].name, "alice");
  EXPECT_FALSE(calls[0].exists) << "a fresh record, created at batch.now";
  EXPECT_EQ(calls[0].days, 1u) << "two days ending today: the older bucket is outside";
  EXPECT_EQ(calls[0].complaints, 1u);
  EXPECT_EQ(calls[1].name, "bob");
  EXPECT_TRUE(calls[1].exists);
  EXPECT_EQ(r.alerts, (std::vector<std::string>{"account=alice", "account=bob"}));
  EXPECT_EQ(store_->GetAccount("alice").value()->tier, 4);
  EXPECT_EQ(store_->GetAccount("bob").value()->created, kNow - 100);
  EXPECT_FALSE(store_->GetAccount("carol").value().has_value()) << "not in review_only";
  auto none = store_->GetAccount("");  // none, or LMDB's error for an empty key
  EXPECT_TRUE(!none.ok() || !none->has_value());
  EXPECT_EQ(store_->ListAudit("alice", 10).value().at(0).action, "tier");
  // Without a review nothing is created.
  Apply(Batch({Ev("dave", kNow, {1, 0, 0, 0, 0, 0, 0})}));
  EXPECT_FALSE(store_->GetAccount("dave").value().has_value());
}

TEST_P(StoreContractTest, OnceKeyReplayWritesNothing) {
  int calls = 0;
  auto review = [&](AccountRecord* a, const StoredDays&, uint64_t, ReviewOutcome*) {
    ++calls;
    a->tier = 2;
  };
  FeedbackBatch first = Batch({Complaint("alice", "c1@x.org")});
  first.once_key = "report-1";
  first.source = "arf";
  first.position = "1";
  const FeedbackResult r1 = Apply(first, review);
  EXPECT_FALSE(r1.duplicate);
  const size_t audit = AuditSize();
  FeedbackBatch again = Batch({Complaint("alice", "c2@x.org"), Hard("bob", "d@x.org"),
                               Ev("bob", kNow, {1, 0, 0, 0, 0, 0, 0})});
  again.once_key = "report-1";
  again.suppress_after = 1;
  again.source = "arf";
  again.position = "2";
  again.queue_puts = {Q("AAAA000009", "alice", kNow, "<p@x>")};
  again.queue_stubs = {Q("AAAA000010", "", kNow)};
  again.deferred = {DeferredRecord{"AAAA000009", kNow, {"r@x.org"}}};
  for (int64_t now : {kNow, kNow + kOnceRetention, kNow - 86400}) {
    SCOPED_TRACE(now);
    again.now = now;
    const FeedbackResult r2 = Apply(again, review);
    EXPECT_TRUE(r2.duplicate);
    EXPECT_TRUE(r2.suppressed.empty());
    EXPECT_TRUE(r2.alerts.empty());
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Complaints("alice"), 1u);
  EXPECT_TRUE(Days("bob").empty());
  EXPECT_FALSE(store_->FindSuppression("alice", "c2@x.org").value().has_value());
  EXPECT_FALSE(store_->GetBounces("d@x.org").value().has_value());
  EXPECT_EQ(AuditSize(), audit);
  EXPECT_EQ(*store_->GetPosition("arf").value(), "1");
  EXPECT_FALSE(store_->GetQueueEntry("AAAA000009").value().has_value());
  EXPECT_FALSE(store_->GetQueueEntry("AAAA000010").value().has_value());
  EXPECT_TRUE(store_->GetDeferred(10).value().empty());
  // Past the retention it counts again, and is recorded at the new time.
  again.now = kNow + kOnceRetention + 1;
  EXPECT_FALSE(Apply(again, review).duplicate);
  again.now = kNow + kOnceRetention + 2;
  EXPECT_TRUE(Apply(again, review).duplicate);
  // Other keys, and no key, are not duplicates.
  for (const std::string& key : {"report-2"s, "Report-1"s, "report-1\0"s, ""s, ""s}) {
    FeedbackBatch other = Batch({Complaint("erin", "c@x.org")});
    other.once_key = key;
    EXPECT_FALSE(Apply(other).duplicate) << key;
  }
  EXPECT_EQ(Complaints("erin"), 5u);
}

TEST_P(StoreContractTest, ConcurrentReplaysOfOneKeyCountOnce) {
  std::atomic<int> duplicates{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      FeedbackBatch b = Batch({Complaint("alice", "c@x.org")});
      b.once_key = "report";
      auto r = store_->ApplyFeedback(b, nullptr);
      EXPECT_TRUE(r.ok());
      if (r.ok() && r->duplicate) ++duplicates;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(duplicates.load(), 7);
  EXPECT_EQ(Complaints("alice"), 1u);
}

TEST_P(StoreContractTest, PositionsPerSource) {
  for (const auto& [source, position] : std::vector<std::pair<std::string, std::string>>{
           {"file:/var/log/mail.log", "100"}, {"journal:", "\0\xff"s}, {"file:/var/log/mail.log", ""}}) {
    FeedbackBatch b = Batch({});
    b.source = source;
    b.position = position;
    Apply(b);
    EXPECT_EQ(*store_->GetPosition(source).value(), position);
  }
  EXPECT_EQ(*store_->GetPosition("journal:").value(), "\0\xff"s);
  FeedbackBatch none = Batch({});
  none.position = "ignored";
  Apply(none);
  EXPECT_FALSE(store_->GetPosition("").value().has_value());
}

TEST_P(StoreContractTest, DeferredRecordsWrittenReplacedDeleted) {
  FeedbackBatch b = Batch({});
  b.deferred = {DeferredRecord{"AAAA000001", kNow, {"a@x.org", "b@x.org"}},
                DeferredRecord{"AAAA000002", kNow, {"c@x.org"}},
                DeferredRecord{"AAAA000003", kNow, {}}};  // nothing to delete: fine
  Apply(b);
  auto got = store_->GetDeferred(100).value();
  ASSERT_EQ(got.size(), 2u);
  FeedbackBatch b2 = Batch({}, kNow + 60);
  b2.deferred = {DeferredRecord{"AAAA000001", kNow + 60, {"b@x.org"}},
                 DeferredRecord{"AAAA000002", kNow + 60, {}}};
  Apply(b2);
  got = store_->GetDeferred(100).value();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].queue_id, "AAAA000001");
  EXPECT_EQ(got[0].time, kNow + 60);
  EXPECT_EQ(got[0].recipients, std::vector<std::string>{"b@x.org"});
}

INSTANTIATE_TEST_SUITE_P(store, StoreContractTest, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<ContractBackend>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace senderguard
