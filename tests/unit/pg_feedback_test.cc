// PgStore's delivery feedback (pg_feedback.h) on a private PostgreSQL (run
// under tests/pg/with_pg.sh): the cases of lmdb_feedback_test that a
// network store shares, and what a fleet adds: two nodes' batches counted
// together (suppression after 3 hard bounces, reviews on fleet-wide
// counts), positions per node, exactly once across a replayed batch, a
// lost COMMIT answer and a crash between the node's part and the
// database's, and PostgreSQL unreachable. Each test has its own database
// and two nodes, mx1 and mx2, each with its own LMDB directory. What the
// records part (accounts, suppression, audit) holds is read with SQL here.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "feedback_builders.h"
#include "lmdb_fixture.h"
#include "pg_fixture.h"
#include "senderguard/feedback/feedback.h"
#include "senderguard/store/postgresql/pg_store.h"

namespace senderguard {
namespace {

using namespace std::string_literals;

using namespace feedback_builders;

class PgFeedbackTest : public PgDatabaseTest {
 protected:
  void SetUp() override {
    PgDatabaseTest::SetUp();
    if (db_.empty()) return;
    sql_ = ConnectDb("pg_feedback_test");
    ASSERT_NE(sql_, nullptr);
    mx1_ = OpenNode("mx1", &dir1_);
    mx2_ = OpenNode("mx2", &dir2_);
    ASSERT_NE(mx1_, nullptr);
    ASSERT_NE(mx2_, nullptr);
    store_ = mx1_.get();
  }
  void TearDown() override {
    store_ = nullptr;
    mx1_.reset();
    mx2_.reset();
  }
  // A fresh database for a table-driven case (the nodes keep their LMDB).
  void Reset() {
    TearDown();
    SetUp();
  }

  std::unique_ptr<PgStore> OpenNode(const std::string& node, lmdb_test::TempDir* dir) {
    auto s = PgStore::Open(PgTestStoreOptions(
        db_, node, "pg_feedback_test", dir->path() + "/" + node + "-" + db_.substr(db_.rfind('_')),
        &logger_));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s.value()) : nullptr;
  }

  FeedbackResult Apply(const FeedbackBatch& b, const AccountReview& review = nullptr,
                       Store* on = nullptr) {
    auto r = (on != nullptr ? on : store_)->ApplyFeedback(b, review);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : FeedbackResult{};
  }
  StoredDays Days(std::string_view account, int64_t first = kToday - 100,
                  int64_t last = kToday + 100) {
    auto r = store_->GetDays(account, first, last);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : StoredDays{};
  }
  uint64_t Complaints(std::string_view account) {
    uint64_t n = 0;
    for (const auto& [day, d] : Days(account, 0, INT64_MAX)) n += d.complaints;
    return n;
  }
  // One number from SQL (the records part's tables are read directly).
  int64_t Int(const std::string& sql, const std::vector<PgParam>& params = {}) {
    auto r = sql_->Exec(sql, params);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r.value().rows() == 0) return -1;
    return r.value().GetInt(0, 0);
  }
  std::string Text(const std::string& sql, const std::vector<PgParam>& params = {}) {
    auto r = sql_->Exec(sql, params);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r.value().rows() == 0) return "<none>";
    return std::string(r.value().Get(0, 0));
  }
  int64_t Suppressed(const std::string& account) {
    return Int("SELECT count(*) FROM suppression WHERE account = $1", {account});
  }
  bool IsSuppressed(const std::string& account, const std::string& address) {
    return Int("SELECT count(*) FROM suppression WHERE account = $1 AND address = $2",
               {account, address}) == 1;
  }
  int64_t AuditRows() { return Int("SELECT count(*) FROM audit"); }
  std::optional<QueueEntry> Queue(PgStore* node, std::string_view qid) {
    auto r = node->GetQueueEntry(qid);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : std::nullopt;
  }

  std::unique_ptr<PgConn> sql_;
  lmdb_test::CapturingLogger logger_;
  lmdb_test::TempDir dir1_, dir2_;
  std::unique_ptr<PgStore> mx1_, mx2_;
  Store* store_ = nullptr;
};

// ---------------------------------------------------------------- day buckets

TEST_F(PgFeedbackTest, EventsAreSummedPerAccountAndUtcDay) {
  const int64_t midnight = kToday * 86400;
  struct Case {
    const char* name;
    std::vector<FeedbackEvent> events;
    std::map<std::string, StoredDays> want;
  };
  const std::vector<Case> cases = {
      {"same_day_summed_field_by_field",
       {Ev("alice", kNow, {1, 2, 3, 4, 5, 6, 7}), Ev("alice", kNow + 60, {10, 20, 30, 40, 50, 60, 70})},
       {{"alice", {{kToday, {11, 22, 33, 44, 55, 66, 77}}}}}},
      {"last_second_of_a_day_and_first_of_the_next",
       {Ev("alice", midnight - 1, {1, 0, 0, 0, 0, 0, 0}), Ev("alice", midnight, {0, 1, 0, 0, 0, 0, 0})},
       {{"alice", {{kToday - 1, {1, 0, 0, 0, 0, 0, 0}}, {kToday, {0, 1, 0, 0, 0, 0, 0}}}}}},
      {"accounts_kept_apart_and_unattributed_under_empty",
       {Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0}), Ev("bob", kNow, {0, 0, 1, 0, 0, 0, 0}),
        Ev("", kNow, {0, 0, 0, 1, 0, 0, 0}), Ev("", kNow, {0, 0, 0, 1, 0, 0, 0})},
       {{"alice", {{kToday, {1, 0, 0, 0, 0, 0, 0}}}},
        {"bob", {{kToday, {0, 0, 1, 0, 0, 0, 0}}}},
        {"", {{kToday, {0, 0, 0, 2, 0, 0, 0}}}}}},
      {"zero_delta_still_makes_a_bucket", {Ev("alice", kNow, {})}, {{"alice", {{kToday, {}}}}}},
      // PostgreSQL's text holds neither a NUL nor bytes that are not UTF-8:
      // such a name (never one the milter makes) counts under "", as a name
      // over 400 bytes does, instead of failing the batch forever.
      {"hostile_account_names",
       {Ev("a\0b"s, kNow, {1, 0, 0, 0, 0, 0, 0}), Ev("jürgen", kNow, {2, 0, 0, 0, 0, 0, 0}),
        Ev(std::string(400, 'x'), kNow, {3, 0, 0, 0, 0, 0, 0}),
        Ev(std::string(401, 'y'), kNow, {4, 0, 0, 0, 0, 0, 0}),
        Ev("\xff\xfe", kNow, {0, 0, 0, 0, 0, 0, 1})},
       {{"jürgen", {{kToday, {2, 0, 0, 0, 0, 0, 0}}}},
        {std::string(400, 'x'), {{kToday, {3, 0, 0, 0, 0, 0, 0}}}},
        {"", {{kToday, {5, 0, 0, 0, 0, 0, 1}}}},
        {"a", {}}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Reset();
    Apply(Batch(c.events));
    for (const auto& [account, want] : c.want) {
      SCOPED_TRACE("account=" + account);
      const StoredDays got = Days(account);
      ASSERT_EQ(got.size(), want.size()) << Show(got);
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i].first, want[i].first);
        EXPECT_TRUE(Same(got[i].second, want[i].second))
            << Show(got[i].second) << " want " << Show(want[i].second);
      }
    }
  }
  // The hostile names are readable as nothing, not an error.
  EXPECT_TRUE(Days("a\0b"s).empty());
}

TEST_F(PgFeedbackTest, TwoNodesAddToTheSameBuckets) {
  Apply(Batch({Ev("alice", kNow, {1, 1, 0, 0, 0, 0, 0})}), nullptr, mx1_.get());
  Apply(Batch({Ev("alice", kNow, {2, 0, 1, 0, 0, 0, 0})}), nullptr, mx2_.get());
  for (Store* s : {static_cast<Store*>(mx1_.get()), static_cast<Store*>(mx2_.get())}) {
    auto got = s->GetDays("alice", kToday, kToday);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got.value().size(), 1u);
    EXPECT_TRUE(Same(got.value()[0].second, {3, 1, 1, 0, 0, 0, 0})) << Show(got.value()[0].second);
  }
}

TEST_F(PgFeedbackTest, CountsSaturateInsteadOfWrapping) {
  const uint64_t M = UINT64_MAX;
  Apply(Batch({Ev("alice", kNow, {M - 1, M, 0, M - 5, 0, 0, 1})}));
  Apply(Batch({Ev("alice", kNow, {1, 1, 0, 3, 0, 0, 0}), Ev("alice", kNow, {5, 0, 0, 3, 0, 0, M})}));
  const StoredDays got = Days("alice");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(Same(got[0].second, {M, M, 0, M, 0, 0, M})) << Show(got[0].second);
  EXPECT_EQ(Int("SELECT delivered FROM day_counts WHERE account = 'alice'"), INT64_MAX);
}

TEST_F(PgFeedbackTest, GetDaysRangeBounds) {
  std::vector<FeedbackEvent> ev;
  for (int64_t d = -3; d <= 3; ++d)
    ev.push_back(Ev("alice", kNow + d * 86400, {static_cast<uint64_t>(d + 10), 0, 0, 0, 0, 0, 0}));
  ev.push_back(Ev("alicee", kNow, {99, 0, 0, 0, 0, 0, 0}));
  ev.push_back(Ev("al", kNow - 86400, {97, 0, 0, 0, 0, 0, 0}));
  Apply(Batch(ev));
  struct Case {
    const char* name;
    std::string account;
    int64_t first, last;
    std::vector<int64_t> want_days;  // relative to kToday
  };
  const std::vector<Case> cases = {
      {"all", "alice", kToday - 3, kToday + 3, {-3, -2, -1, 0, 1, 2, 3}},
      {"inner", "alice", kToday - 1, kToday + 1, {-1, 0, 1}},
      {"first_after_last", "alice", kToday + 1, kToday - 1, {}},
      {"int64_extremes", "alice", INT64_MIN, INT64_MAX, {-3, -2, -1, 0, 1, 2, 3}},
      {"prefix_al_sees_only_al", "al", kToday - 10, kToday + 10, {-1}},
      {"longer_name", "alicee", kToday - 10, kToday + 10, {0}},
      {"unknown_account", "zed", kToday - 10, kToday + 10, {}},
      {"too_long_for_a_key", std::string(2000, 'a'), kToday - 10, kToday + 10, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const StoredDays got = Days(c.account, c.first, c.last);
    std::vector<int64_t> days;
    for (const auto& [d, counts] : got) days.push_back(d - kToday);
    EXPECT_EQ(days, c.want_days) << Show(got);
  }
}

// --------------------------------------------------------------- suppression

TEST_F(PgFeedbackTest, HardBouncesSuppressGloballyExactlyOnceAtTheThreshold) {
  struct Case {
    const char* name;
    uint32_t suppress_after;
    int batches, per_batch;
    int want_added_at;    // 1-based batch that adds the suppression; 0 = none
    uint32_t want_count;  // GetBounces count afterwards; 0 = no record
  };
  const std::vector<Case> cases = {
      {"three_then_more", 3, 5, 1, 3, 5}, {"threshold_one", 1, 3, 1, 1, 3},
      {"never", 0, 5, 1, 0, 0},           {"below_threshold", 3, 2, 1, 0, 2},
      {"five_in_one_batch", 3, 1, 5, 1, 5}, {"two_and_two", 3, 2, 2, 2, 4},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Reset();
    for (int b = 1; b <= c.batches; ++b) {
      SCOPED_TRACE("batch " + std::to_string(b));
      std::vector<FeedbackEvent> ev;
      for (int i = 0; i < c.per_batch; ++i)
        ev.push_back(Hard(i % 2 ? "bob" : "alice", "dead@example.org", kNow + b));
      FeedbackBatch batch = Batch(ev, kNow + b);
      batch.suppress_after = c.suppress_after;
      const FeedbackResult r = Apply(batch);
      if (b == c.want_added_at) {
        ASSERT_EQ(r.suppressed.size(), 1u);
        EXPECT_EQ(r.suppressed[0].account, "");
        EXPECT_EQ(r.suppressed[0].address, "dead@example.org");
        EXPECT_EQ(r.suppressed[0].since, kNow + b);
        EXPECT_NE(r.suppressed[0].reason.find("recipient-unknown"), std::string::npos);
      } else {
        EXPECT_TRUE(r.suppressed.empty());
      }
    }
    EXPECT_EQ(Suppressed(""), c.want_added_at > 0 ? 1 : 0);
    auto bounces = store_->GetBounces("dead@example.org");
    ASSERT_TRUE(bounces.ok());
    if (c.want_count == 0) {
      EXPECT_FALSE(bounces.value().has_value());
    } else {
      ASSERT_TRUE(bounces.value().has_value());
      EXPECT_EQ(bounces.value()->count, c.want_count);
      EXPECT_EQ(bounces.value()->last_category, "recipient-unknown");
    }
  }
}

// The fleet's count: two bounces reported by mx1 and the third by mx2
// suppress the address for every account, once.
TEST_F(PgFeedbackTest, ThreeHardBouncesAcrossTwoNodesSuppress) {
  FeedbackBatch b1 = Batch({Hard("alice", "dead@x.org"), Hard("bob", "dead@x.org")});
  b1.source = "file:/var/log/mail.log";
  b1.position = "100";
  EXPECT_TRUE(Apply(b1, nullptr, mx1_.get()).suppressed.empty());
  FeedbackBatch b2 = Batch({Hard("carol", "dead@x.org", kNow + 5)}, kNow + 5);
  b2.source = "file:/var/log/mail.log";
  b2.position = "100";  // the same figure on another node: its own position
  const FeedbackResult r = Apply(b2, nullptr, mx2_.get());
  ASSERT_EQ(r.suppressed.size(), 1u);
  EXPECT_NE(r.suppressed[0].reason.find("3 hard bounces"), std::string::npos) << r.suppressed[0].reason;
  EXPECT_NE(r.suppressed[0].reason.find("carol"), std::string::npos) << r.suppressed[0].reason;
  EXPECT_TRUE(IsSuppressed("", "dead@x.org"));
  auto b = mx1_->GetBounces("dead@x.org");
  ASSERT_TRUE(b.ok() && b.value().has_value());
  EXPECT_EQ(b.value()->count, 3u);
  EXPECT_EQ(b.value()->last_account, "carol");
  EXPECT_EQ(b.value()->last_time, kNow + 5);
  EXPECT_EQ(Int("SELECT count(*) FROM audit WHERE action = 'suppress-add'"), 1);
}

// Concurrent batches of both nodes bouncing the same new addresses (in
// opposite orders) count every bounce: none is lost to a race on a row
// that did not exist yet, and none deadlocks for good.
TEST_F(PgFeedbackTest, ConcurrentNodesCountEveryBounce) {
  constexpr int kRounds = 20;
  std::atomic<int> failures{0};
  // Each node counts for accounts of its own, so that only the bounce rows
  // are shared between the two transactions.
  auto run = [&](PgStore* node, bool reverse) {
    const std::string prefix = reverse ? "b" : "a";
    for (int i = 0; i < kRounds; ++i) {
      std::vector<FeedbackEvent> ev;
      for (int a = 0; a < 5; ++a) {
        const int k = reverse ? 4 - a : a;
        ev.push_back(Hard(prefix + std::to_string(k), "r" + std::to_string(k) + "@x.org"));
      }
      FeedbackBatch b = Batch(ev);
      b.suppress_after = 1000;
      auto r = node->ApplyFeedback(b, nullptr);
      if (!r.ok()) {
        ++failures;
        ADD_FAILURE() << r.status().ToString();
      }
    }
  };
  std::thread t1(run, mx1_.get(), false), t2(run, mx2_.get(), true);
  t1.join();
  t2.join();
  EXPECT_EQ(failures.load(), 0);
  for (int k = 0; k < 5; ++k) {
    auto b = store_->GetBounces("r" + std::to_string(k) + "@x.org");
    ASSERT_TRUE(b.ok() && b.value().has_value());
    EXPECT_EQ(b.value()->count, 2u * kRounds);
    EXPECT_EQ(Days("a" + std::to_string(k)).at(0).second.hard, 1u * kRounds);
    EXPECT_EQ(Days("b" + std::to_string(k)).at(0).second.hard, 1u * kRounds);
  }
}

TEST_F(PgFeedbackTest, SuppressionWritesAnAuditEntryAndKeepsTheFirstReason) {
  FeedbackBatch b = Batch({Hard("alice", "x@example.org"), Hard("", "x@example.org"),
                           Hard("bob", "x@example.org")});
  b.suppress_after = 2;
  const FeedbackResult r = Apply(b);
  ASSERT_EQ(r.suppressed.size(), 1u);
  EXPECT_NE(r.suppressed[0].reason.find("an unknown account"), std::string::npos)
      << r.suppressed[0].reason;
  EXPECT_EQ(Int("SELECT count(*) FROM audit WHERE action = 'suppress-add' AND actor = 'test-tail' "
                "AND detail LIKE 'x@example.org: %'"),
            1);
  EXPECT_EQ(AuditRows(), 1);
  EXPECT_EQ(store_->GetBounces("x@example.org").value()->last_account, "bob");
  // A later threshold crossing keeps the stored reason.
  const std::string reason = Text("SELECT reason FROM suppression WHERE address = 'x@example.org'");
  EXPECT_TRUE(Apply(b).suppressed.empty());
  EXPECT_EQ(Text("SELECT reason FROM suppression WHERE address = 'x@example.org'"), reason);
}

TEST_F(PgFeedbackTest, ComplaintsSuppressPerAccount) {
  struct Case {
    const char* name;
    std::vector<FeedbackEvent> events;
    size_t want_added;
  };
  const std::vector<Case> cases = {
      {"one", {Complaint("alice", "c@example.org")}, 1},
      {"same_twice_in_a_batch", {Complaint("alice", "c@example.org"), Complaint("alice", "c@example.org")}, 1},
      {"two_accounts_each_their_own", {Complaint("alice", "c@example.org"), Complaint("bob", "c@example.org")}, 2},
      {"unattributed_suppresses_nobody", {Complaint("", "c@example.org")}, 0},
      {"no_complainer", {Ev("alice", kNow, {0, 0, 0, 0, 0, 0, 1})}, 0},
      {"huge_complainer_ignored", {Complaint("alice", std::string(1000, 'c') + "@example.org")}, 0},
      {"complainer_not_utf8_ignored", {Complaint("alice", "\xff@example.org")}, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Reset();
    const FeedbackResult r = Apply(Batch(c.events));
    EXPECT_EQ(r.suppressed.size(), c.want_added);
    EXPECT_EQ(Suppressed(""), 0) << "never global";
    EXPECT_EQ(AuditRows(), static_cast<int64_t>(c.want_added));
    for (const auto& s : r.suppressed) {
      EXPECT_EQ(s.reason, "spam complaint");
      EXPECT_TRUE(IsSuppressed(s.account, s.address));
    }
    EXPECT_TRUE(Apply(Batch(c.events)).suppressed.empty());
  }
}

// ------------------------------------------------------------------ reviews

// Each node reports half of an account's mail and half its complaints:
// neither half reaches the minimum volume, the fleet's counts do, and the
// account is suspended on the second node's batch (the real review).
TEST_F(PgFeedbackTest, ReviewSuspendsOnTheFleetsCounts) {
  ReputationConfig rep;  // min_volume 1000, complaints above 0.1% suspend
  auto review = [&rep](AccountRecord* a, const StoredDays& days, uint64_t complaints,
                       ReviewOutcome* out) {
    ReviewAccount(rep, kNow, "senderguard-tail", a, days, complaints, out);
  };
  FeedbackBatch half = Batch({Ev("alice", kNow, {600, 0, 0, 0, 0, 0, 0}), Complaint("alice", "c1@x.org")});
  const FeedbackResult r1 = Apply(half, review, mx1_.get());
  EXPECT_TRUE(r1.alerts.empty());
  EXPECT_EQ(Text("SELECT status FROM accounts WHERE name = 'alice'"), "active");
  half.events[1] = Complaint("alice", "c2@x.org");
  const FeedbackResult r2 = Apply(half, review, mx2_.get());
  EXPECT_FALSE(r2.alerts.empty());
  EXPECT_EQ(Text("SELECT status FROM accounts WHERE name = 'alice'"), "suspended");
  EXPECT_NE(Text("SELECT status_reason FROM accounts WHERE name = 'alice'").find("complaint"),
            std::string::npos);
  EXPECT_EQ(Int("SELECT count(*) FROM audit WHERE account = 'alice' AND action = 'suspend'"), 1);
  // The fresh record was made by the first review, at batch.now.
  EXPECT_EQ(Int("SELECT created FROM accounts WHERE name = 'alice'"), kNow);
  // A cache hears of it: the change log has the account.
  EXPECT_GE(Int("SELECT count(*) FROM changes WHERE kind = 'account' AND account = 'alice'"), 2);
}

TEST_F(PgFeedbackTest, ReviewRunsOncePerCountedAccountWithItsDaysAndComplaints) {
  Apply(Batch({Ev("alice", kNow - 29 * 86400, {5, 0, 0, 0, 0, 0, 0}),
               Ev("alice", kNow - 30 * 86400, {6, 0, 0, 0, 0, 0, 0})}));
  ASSERT_TRUE(sql_->Exec("INSERT INTO accounts (name, created, tier) VALUES ('bob', 7, 2)").ok());
  ASSERT_TRUE(sql_->Exec("INSERT INTO account_domains VALUES ('bob', 'b.example'), ('bob', 'a.example')").ok());
  struct Call {
    std::string name;
    bool fresh;
    StoredDays days;
    uint64_t complaints;
    AccountRecord record;
  };
  std::vector<Call> calls;
  FeedbackBatch b = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0}), Complaint("alice", "c1@x.org"),
                           Complaint("alice", "c2@x.org"), Ev("alice", kNow - 86400, {2, 0, 0, 0, 0, 0, 0}),
                           Ev("bob", kNow, {0, 0, 1, 0, 0, 0, 0}), Ev("", kNow, {9, 0, 0, 0, 0, 0, 0}),
                           Complaint("", "c3@x.org")});
  b.review_days = 30;
  Apply(b, [&](AccountRecord* a, const StoredDays& days, uint64_t complaints, ReviewOutcome*) {
    calls.push_back(Call{a->name, a->created == kNow, days, complaints, *a});
  });
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].name, "alice");
  EXPECT_TRUE(calls[0].fresh);
  EXPECT_EQ(calls[0].complaints, 2u);
  ASSERT_EQ(calls[0].days.size(), 3u) << Show(calls[0].days);
  EXPECT_EQ(calls[0].days[0].first, kToday - 29);
  EXPECT_EQ(calls[0].days[2].first, kToday);
  EXPECT_TRUE(Same(calls[0].days[2].second, {1, 0, 0, 0, 0, 0, 2})) << Show(calls[0].days[2].second);
  EXPECT_EQ(calls[1].name, "bob");
  EXPECT_FALSE(calls[1].fresh);
  EXPECT_EQ(calls[1].record.tier, 2);
  EXPECT_EQ(calls[1].record.domains, (std::vector<std::string>{"a.example", "b.example"}));
  ASSERT_EQ(calls[1].days.size(), 1u);
  EXPECT_EQ(Int("SELECT count(*) FROM accounts"), 2) << "nobody made for the unattributed counts";
  EXPECT_EQ(Int("SELECT created FROM accounts WHERE name = 'alice'"), kNow);
}

TEST_F(PgFeedbackTest, ReviewEditsAreWrittenWithAuditAndAlerts) {
  ASSERT_TRUE(sql_->Exec("INSERT INTO accounts (name, created, limit_day) VALUES ('alice', 9, 500)").ok());
  auto review = [&](AccountRecord* a, const StoredDays&, uint64_t, ReviewOutcome* out) {
    a->tier = 3;
    a->status = AccountStatus::kSuspended;
    a->status_reason = "test";
    a->clean_days = 4;
    a->domains = {"new.example"};
    AuditEntry e;
    e.time_us = kNow * 1000000;
    e.actor = "test-tail";
    e.action = "suspend";
    e.account = a->name;
    e.detail = "because";
    out->audit.push_back(e);
    out->alerts.push_back("account=" + a->name + " action=suspend");
  };
  const FeedbackResult r = Apply(Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0})}), review);
  EXPECT_EQ(r.alerts, std::vector<std::string>{"account=alice action=suspend"});
  auto row = sql_->Exec("SELECT tier, status, status_reason, created, limit_day, limit_hour IS NULL, "
                        "clean_days FROM accounts WHERE name = 'alice'");
  ASSERT_TRUE(row.ok() && row.value().rows() == 1);
  EXPECT_EQ(row.value().GetInt(0, 0), 3);
  EXPECT_EQ(row.value().Get(0, 1), "suspended");
  EXPECT_EQ(row.value().Get(0, 2), "test");
  EXPECT_EQ(row.value().GetInt(0, 3), 9) << "the record was edited, not replaced";
  EXPECT_EQ(row.value().GetInt(0, 4), 500);
  EXPECT_TRUE(row.value().GetBool(0, 5)) << "an inherited limit stays inherited";
  EXPECT_EQ(row.value().GetInt(0, 6), 4);
  EXPECT_EQ(Text("SELECT string_agg(domain, ',') FROM account_domains WHERE account = 'alice'"),
            "new.example");
  EXPECT_EQ(Text("SELECT detail FROM audit WHERE account = 'alice' AND action = 'suspend'"), "because");
}

TEST_F(PgFeedbackTest, NoReviewCreatesNoRecord) {
  Apply(Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0})}), nullptr);
  EXPECT_EQ(Int("SELECT count(*) FROM accounts"), 0);
  EXPECT_EQ(Days("alice").size(), 1u);
}

// ------------------------------------------------------------------ positions

TEST_F(PgFeedbackTest, PositionsArePerNodeAndSource) {
  EXPECT_FALSE(mx1_->GetPosition("file:/var/log/mail.log").value().has_value());
  struct Case {
    PgStore* node;
    std::string source, position;
  };
  const std::vector<Case> cases = {
      {mx1_.get(), "file:/var/log/mail.log", "v1 1 2 300 16 abc"},
      {mx2_.get(), "file:/var/log/mail.log", "v1 9 9 10 16 def"},
      {mx1_.get(), "journal:", "s=abc;i=1"},
      {mx2_.get(), "journal:", "\0\xff\n"s},           // opaque bytes
      {mx1_.get(), "file:/var/log/mail.log", ""},       // an empty position
      {mx2_.get(), "\x01odd", "\x01" "starts like an encoded one"},
      {mx1_.get(), "file:/big", std::string(100000, 'p')},
  };
  for (const auto& c : cases) {
    FeedbackBatch b = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0})});
    b.source = c.source;
    b.position = c.position;
    Apply(b, nullptr, c.node);
    auto got = c.node->GetPosition(c.source);
    ASSERT_TRUE(got.ok() && got.value().has_value()) << c.source;
    EXPECT_EQ(*got.value(), c.position);
  }
  EXPECT_EQ(*mx1_->GetPosition("file:/var/log/mail.log").value(), "");
  EXPECT_EQ(*mx2_->GetPosition("file:/var/log/mail.log").value(), "v1 9 9 10 16 def");
  EXPECT_EQ(*mx1_->GetPosition("journal:").value(), "s=abc;i=1");
  EXPECT_EQ(*mx2_->GetPosition("journal:").value(), "\0\xff\n"s);
  EXPECT_FALSE(mx1_->GetPosition("\x01odd").value().has_value());
  EXPECT_FALSE(mx1_->GetPosition("").value().has_value());
  EXPECT_EQ(Days("alice").at(0).second.delivered, cases.size());
  // A source no key can hold fails before anything is written.
  FeedbackBatch bad = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0})});
  bad.source = std::string(2000, 's');
  bad.position = "1";
  bad.queue_puts = {Q("AAAA000001", "alice", kNow)};
  auto r = mx1_->ApplyFeedback(bad, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalid);
  EXPECT_FALSE(Queue(mx1_.get(), "AAAA000001").has_value());
  EXPECT_EQ(Days("alice").at(0).second.delivered, cases.size());
}

// ------------------------------------------------------- exactly once

TEST_F(PgFeedbackTest, DuplicateOnceKeyWritesNothing) {
  int calls = 0;
  auto review = [&](AccountRecord* a, const StoredDays&, uint64_t, ReviewOutcome* out) {
    ++calls;
    a->tier = static_cast<uint8_t>(1 + calls);
    AuditEntry e;
    e.time_us = kNow * 1000000;
    e.actor = "test-arf";
    e.action = "tier";
    e.account = a->name;
    out->audit.push_back(e);
    out->alerts.push_back("account=" + a->name + " action=tier");
  };
  FeedbackBatch first = Once("report-1", "alice", "c1@example.org");
  first.source = "arf";
  first.position = "100";
  const FeedbackResult r1 = Apply(first, review);
  EXPECT_FALSE(r1.duplicate);
  EXPECT_EQ(r1.suppressed.size(), 1u);
  ASSERT_EQ(calls, 1);
  ASSERT_EQ(AuditRows(), 2);

  FeedbackBatch again = Once("report-1", "alice", "c2@example.org");
  again.events.push_back(Ev("bob", kNow, {1, 0, 0, 0, 0, 0, 1}));
  again.events.push_back(Hard("alice", "d@example.org"));
  again.suppress_after = 1;
  again.source = "arf";
  again.position = "200";
  again.queue_puts = {Q("AAAA000009", "alice", kNow, "<p@x>")};
  again.queue_stubs = {Q("AAAA000010", "", kNow, "<s@x>")};
  again.deferred = {DeferredRecord{"AAAA000009", kNow, {"r@x.org"}}};
  // The same report again, on either node, at once or at the end of the
  // retention, or with the clock gone back.
  for (auto [node, now] : std::vector<std::pair<PgStore*, int64_t>>{
           {mx1_.get(), kNow}, {mx2_.get(), kNow + kOnceRetention}, {mx2_.get(), kNow - 86400}}) {
    SCOPED_TRACE(now);
    again.now = now;
    const FeedbackResult r2 = Apply(again, review, node);
    EXPECT_TRUE(r2.duplicate);
    EXPECT_TRUE(r2.suppressed.empty());
    EXPECT_TRUE(r2.alerts.empty());
    EXPECT_FALSE(Queue(node, "AAAA000009").has_value());
    EXPECT_FALSE(Queue(node, "AAAA000010").has_value());
    EXPECT_TRUE(node->GetDeferred(10).value().empty());
  }
  EXPECT_EQ(calls, 1) << "no review of a duplicate";
  EXPECT_EQ(Complaints("alice"), 1u);
  EXPECT_TRUE(Days("bob").empty());
  EXPECT_EQ(Suppressed("alice"), 1);
  EXPECT_FALSE(store_->GetBounces("d@example.org").value().has_value());
  EXPECT_EQ(AuditRows(), 2);
  EXPECT_EQ(*mx1_->GetPosition("arf").value(), "100");
  EXPECT_EQ(Int("SELECT tier FROM accounts WHERE name = 'alice'"), 2);
  // Past the retention it counts again.
  again.now = kNow + kOnceRetention + 1;
  EXPECT_FALSE(Apply(again, review, mx1_.get()).duplicate);
  EXPECT_EQ(Complaints("alice"), 2u);
  EXPECT_TRUE(Queue(mx1_.get(), "AAAA000009").has_value());
}

TEST_F(PgFeedbackTest, OnlyTheSameOnceKeyIsADuplicate) {
  const std::string long_common(600, 'm');
  struct Case {
    const char* name;
    std::vector<std::string> keys;
    uint64_t want_complaints;
  };
  const std::vector<Case> cases = {
      {"same_twice", {"k", "k"}, 1},
      {"different", {"k1", "k2"}, 2},
      {"case_matters", {"k", "K"}, 2},
      {"no_key_counts_every_time", {"", ""}, 2},
      {"nul_bytes", {"a\0b"s, "a\0c"s, "a"s, "a\0b"s}, 3},
      {"long_keys_differing_at_the_end", {long_common + "1", long_common + "2", long_common + "1"}, 2},
      {"huge_key", {std::string(100000, 'h'), std::string(100000, 'h')}, 1},
      {"not_utf8", {"\xff\xfe", "jürgen", "\xff\xfe"}, 2},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Reset();
    size_t duplicates = 0;
    for (const auto& k : c.keys) duplicates += Apply(Once(k)).duplicate ? 1 : 0;
    EXPECT_EQ(Complaints("alice"), c.want_complaints);
    EXPECT_EQ(duplicates, c.keys.size() - c.want_complaints);
  }
}

// Concurrent deliveries of one report to both nodes count it once.
TEST_F(PgFeedbackTest, ConcurrentDuplicatesOnTwoNodesCountOnce) {
  std::atomic<int> duplicates{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = (i % 2 ? mx1_ : mx2_)->ApplyFeedback(Once("report"), nullptr);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (r.ok() && r.value().duplicate) ++duplicates;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(duplicates.load(), 7);
  EXPECT_EQ(Complaints("alice"), 1u);
  EXPECT_EQ(Suppressed("alice"), 1);
}

// A tailer batch applied twice (its first COMMIT landed but the answer was
// lost, and the tailer retries it) counts once: the position is its key.
TEST_F(PgFeedbackTest, ReplayedTailerBatchCountsOnce) {
  FeedbackBatch b = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0}), Hard("alice", "d@x.org"),
                           Complaint("alice", "c@x.org")});
  b.source = "file:/var/log/mail.log";
  b.position = "v1 1 2 4096 16 abc";
  b.suppress_after = 1;
  b.queue_puts = {Q("AAAA000001", "alice", kNow, "<m@x>")};
  EXPECT_FALSE(Apply(b).duplicate);
  const FeedbackResult again = Apply(b);
  EXPECT_TRUE(again.duplicate);
  EXPECT_TRUE(again.suppressed.empty());
  EXPECT_EQ(Days("alice").at(0).second.delivered, 1u);
  EXPECT_EQ(store_->GetBounces("d@x.org").value()->count, 1u);
  EXPECT_EQ(AuditRows(), 2);
  // The other node's batch ending at the same figure is its own.
  EXPECT_FALSE(Apply(b, nullptr, mx2_.get()).duplicate);
  EXPECT_EQ(Days("alice").at(0).second.delivered, 2u);
  // The next batch of the source counts.
  b.position = "v1 1 2 8192 16 abc";
  EXPECT_FALSE(Apply(b).duplicate);
  EXPECT_EQ(Days("alice").at(0).second.delivered, 3u);
}

// A crash after the node's part and before PostgreSQL's: the tailer
// replays the batch from the old position; the queue map holds the same
// entries, the counts are counted once.
TEST_F(PgFeedbackTest, CrashBetweenTheNodesPartAndPostgresqlCountsOnce) {
  FeedbackBatch b = Batch({Ev("alice", kNow, {2, 0, 0, 0, 0, 0, 0})});
  b.source = "file:/var/log/mail.log";
  b.position = "200";
  b.queue_puts = {Q("AAAA000001", "alice", kNow, "<m@x>")};
  b.queue_stubs = {Q("AAAA000002", "", kNow, "<n@x>")};
  b.deferred = {DeferredRecord{"AAAA000001", kNow, {"r@x.org"}}};
  ASSERT_TRUE(mx1_->local().ApplyLocalFeedback(b).ok());  // ... and the process dies
  EXPECT_FALSE(mx1_->GetPosition("file:/var/log/mail.log").value().has_value());
  Apply(b);
  EXPECT_EQ(Days("alice").at(0).second.delivered, 2u);
  EXPECT_EQ(*mx1_->GetPosition("file:/var/log/mail.log").value(), "200");
  EXPECT_EQ(Queue(mx1_.get(), "AAAA000001")->account, "alice");
  EXPECT_TRUE(Queue(mx1_.get(), "AAAA000002").has_value());
  EXPECT_EQ(mx1_->FindByMessageId("<m@x>").value(), std::vector<std::string>{"AAAA000001"});
  EXPECT_EQ(mx1_->GetDeferred(10).value().size(), 1u);
  EXPECT_FALSE(Queue(mx2_.get(), "AAAA000001").has_value()) << "the queue map is the node's";
}

// A batch that fails in PostgreSQL (here: the position's write, its last
// statement, refused by a trigger) writes nothing there: no counts, bounce
// counts, suppressions, account edits, audit, once-key or position. Its
// retry counts once.
TEST_F(PgFeedbackTest, FailedBatchWritesNothingInPostgresql) {
  ASSERT_TRUE(sql_->Exec("CREATE FUNCTION t_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                         "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; "
                         "CREATE TRIGGER t_refuse BEFORE INSERT OR UPDATE ON positions "
                         "FOR EACH ROW EXECUTE FUNCTION t_refuse()")
                  .ok());
  FeedbackBatch b = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0}), Hard("alice", "d@x.org"),
                           Complaint("alice", "c@x.org")});
  b.source = "file:/var/log/mail.log";
  b.position = "200";
  b.suppress_after = 1;
  b.once_key = "batch-1";
  int calls = 0;
  auto review = [&](AccountRecord* a, const StoredDays&, uint64_t, ReviewOutcome*) {
    ++calls;
    a->tier = 5;
  };
  auto r = store_->ApplyFeedback(b, review);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("refused by the test"), std::string::npos) << r.status().message();
  EXPECT_GT(calls, 0) << "it failed after the reviews";
  for (const char* table : {"day_counts", "bounces", "suppression", "accounts", "audit",
                            "once_keys", "positions", "changes"}) {
    EXPECT_EQ(Int(std::string("SELECT count(*) FROM ") + table), 0) << table;
  }
  ASSERT_TRUE(sql_->Exec("DROP TRIGGER t_refuse ON positions").ok());
  EXPECT_FALSE(Apply(b, review).duplicate);
  EXPECT_EQ(Complaints("alice"), 1u);
  EXPECT_EQ(Int("SELECT tier FROM accounts WHERE name = 'alice'"), 5);
  EXPECT_EQ(store_->GetBounces("d@x.org").value()->count, 1u);
}

// PostgreSQL unreachable: kUnavailable, nothing written, not even the
// node's part (the tailer keeps the chunk and retries it); then it lands.
TEST_F(PgFeedbackTest, UnreachableDatabaseIsUnavailableAndWritesNothing) {
  const std::string dbname = db_.substr(db_.rfind('=') + 1);
  auto admin = PgConn::Connect(PgTestServer(), "pg_feedback_test");
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE(admin.value()->Exec("ALTER DATABASE " + dbname + " ALLOW_CONNECTIONS false").ok());
  ASSERT_TRUE(admin.value()
                  ->Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
                         dbname + "' AND pid <> pg_backend_pid()")
                  .ok());
  FeedbackBatch b = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0})});
  b.source = "file:/var/log/mail.log";
  b.position = "300";
  b.queue_puts = {Q("AAAA000001", "alice", kNow)};
  // The pooled connections were cut: the first call may find one broken
  // (kUnavailable), and no new one can be made (kUnavailable).
  for (int i = 0; i < 6; ++i) {
    auto r = store_->ApplyFeedback(b, nullptr);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
  }
  EXPECT_FALSE(Queue(mx1_.get(), "AAAA000001").has_value());
  auto pos = store_->GetPosition("file:/var/log/mail.log");
  ASSERT_FALSE(pos.ok());
  EXPECT_EQ(pos.status().code(), Status::Code::kUnavailable);
  ASSERT_TRUE(admin.value()->Exec("ALTER DATABASE " + dbname + " ALLOW_CONNECTIONS true").ok());
  sql_.reset();
  auto c = PgConn::Connect(db_, "pg_feedback_test");
  ASSERT_TRUE(c.ok());
  sql_ = std::move(c.value());
  EXPECT_FALSE(Apply(b).duplicate);
  EXPECT_EQ(Days("alice").at(0).second.delivered, 1u);
  EXPECT_TRUE(Queue(mx1_.get(), "AAAA000001").has_value());
}

}  // namespace
}  // namespace senderguard
