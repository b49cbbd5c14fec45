// Tests for the delivery-feedback half of lmdb_store.h (ApplyFeedback and
// its once_key, GetDays, GetBounces, GetPosition, the queue map's stubs and
// Message-ID index) on a real LMDB environment in a fresh temporary
// directory per test.
// LMDB allows one open handle per environment per process, so the raw-LMDB
// helpers run only while the store is closed.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "feedback_builders.h"
#include "lmdb_fixture.h"
#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/codec.h"
#include "senderguard/model/records.h"

namespace senderguard {
namespace {

using namespace std::string_literals;

using namespace feedback_builders;

std::string DayKey(std::string_view account, int64_t day) {
  std::string k(account);
  k.push_back('\0');
  PutBe64(&k, static_cast<uint64_t>(day));
  return k;
}

class LmdbFeedbackTest : public lmdb_test::LmdbTest {
 protected:
  void SetUp() override {
    LmdbTest::SetUp();
    OpenStore();
  }

  FeedbackResult Apply(const FeedbackBatch& b, const AccountReview& review = nullptr) {
    auto r = store_->ApplyFeedback(b, review);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : FeedbackResult{};
  }
  StoredDays Days(std::string_view account, int64_t first = kToday - 100,
                  int64_t last = kToday + 100) {
    auto r = store_->GetDays(account, first, last);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : StoredDays{};
  }
  void CommitQueue(const QueueEntry& q) {
    auto r = store_->Commit(q.account, {}, &q, q.time);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  std::optional<QueueEntry> Queue(std::string_view qid) {
    auto r = store_->GetQueueEntry(qid);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : std::nullopt;
  }
  std::vector<std::string> ByMsgId(std::string_view id) {
    auto r = store_->FindByMessageId(id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : std::vector<std::string>{};
  }
  size_t CountSupp(std::string_view account) {
    auto r = store_->CountSuppressions(account);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : 0;
  }

};

// ---------------------------------------------------------------- day buckets

TEST_F(LmdbFeedbackTest, EventsAreSummedPerAccountAndUtcDay) {
  const int64_t midnight = kToday * 86400;
  struct Case {
    const char* name;
    std::vector<FeedbackEvent> events;
    std::map<std::string, StoredDays> want;
  };
  const std::vector<Case> cases = {
      {"one_event", {Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0})},
       {{"alice", {{kToday, {1, 0, 0, 0, 0, 0, 0}}}}}},
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
      {"out_of_order_days", {Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0}),
                             Ev("alice", kNow - 3 * 86400, {2, 0, 0, 0, 0, 0, 0}),
                             Ev("alice", kNow - 86400, {3, 0, 0, 0, 0, 0, 0})},
       {{"alice", {{kToday - 3, {2, 0, 0, 0, 0, 0, 0}},
                   {kToday - 1, {3, 0, 0, 0, 0, 0, 0}},
                   {kToday, {1, 0, 0, 0, 0, 0, 0}}}}}},
      {"zero_delta_still_makes_a_bucket", {Ev("alice", kNow, {})},
       {{"alice", {{kToday, {}}}}}},
      {"hostile_account_names",
       {Ev("a\0b"s, kNow, {1, 0, 0, 0, 0, 0, 0}), Ev("jürgen", kNow, {2, 0, 0, 0, 0, 0, 0}),
        Ev(std::string(400, 'x'), kNow, {3, 0, 0, 0, 0, 0, 0})},
       {{"a\0b"s, {{kToday, {1, 0, 0, 0, 0, 0, 0}}}},
        {"jürgen", {{kToday, {2, 0, 0, 0, 0, 0, 0}}}},
        {std::string(400, 'x'), {{kToday, {3, 0, 0, 0, 0, 0, 0}}}},
        {"a", {}}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TearDown();
    SetUp();
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
}

TEST_F(LmdbFeedbackTest, BatchesAddToStoredBuckets) {
  Apply(Batch({Ev("alice", kNow, {1, 1, 0, 0, 0, 0, 0})}));
  Apply(Batch({Ev("alice", kNow, {2, 0, 1, 0, 0, 0, 0})}));
  const StoredDays got = Days("alice");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(Same(got[0].second, {3, 1, 1, 0, 0, 0, 0})) << Show(got[0].second);
}

TEST_F(LmdbFeedbackTest, CountsSaturateInsteadOfWrapping) {
  const uint64_t M = UINT64_MAX;
  Apply(Batch({Ev("alice", kNow, {M - 1, M, 0, M - 5, 0, 0, 1})}));
  // Within one batch and across batches.
  Apply(Batch({Ev("alice", kNow, {1, 1, 0, 3, 0, 0, 0}), Ev("alice", kNow, {5, 0, 0, 3, 0, 0, M})}));
  const StoredDays got = Days("alice");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(Same(got[0].second, {M, M, 0, M, 0, 0, M})) << Show(got[0].second);
}

// ------------------------------------------------------------------ GetDays

TEST_F(LmdbFeedbackTest, GetDaysRangeBoundsAndAccountPrefixIsolation) {
  std::vector<FeedbackEvent> ev;
  for (int64_t d = -3; d <= 3; ++d) ev.push_back(Ev("alice", kNow + d * 86400, {static_cast<uint64_t>(d + 10), 0, 0, 0, 0, 0, 0}));
  ev.push_back(Ev("alicee", kNow, {99, 0, 0, 0, 0, 0, 0}));
  ev.push_back(Ev("alic", kNow, {98, 0, 0, 0, 0, 0, 0}));
  ev.push_back(Ev("al", kNow - 86400, {97, 0, 0, 0, 0, 0, 0}));
  ev.push_back(Ev("", kNow, {96, 0, 0, 0, 0, 0, 0}));
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
      {"single_day", "alice", kToday, kToday, {0}},
      {"first_after_last", "alice", kToday + 1, kToday - 1, {}},
      {"wider_than_stored", "alice", kToday - 1000, kToday + 1000, {-3, -2, -1, 0, 1, 2, 3}},
      {"before_everything", "alice", kToday - 10, kToday - 4, {}},
      {"after_everything", "alice", kToday + 4, kToday + 10, {}},
      {"up_to_int64_max", "alice", kToday + 2, INT64_MAX, {2, 3}},
      {"prefix_al_sees_only_al", "al", kToday - 10, kToday + 10, {-1}},
      {"prefix_alic_sees_only_alic", "alic", kToday - 10, kToday + 10, {0}},
      {"longer_name_alicee", "alicee", kToday - 10, kToday + 10, {0}},
      {"unattributed_account", "", kToday - 10, kToday + 10, {0}},
      {"unknown_account", "zed", kToday - 10, kToday + 10, {}},
      {"account_with_trailing_nul_is_another_account", "al\0"s, kToday - 10, kToday + 10, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const StoredDays got = Days(c.account, c.first, c.last);
    std::vector<int64_t> days;
    for (const auto& [d, counts] : got) days.push_back(d - kToday);
    EXPECT_EQ(days, c.want_days) << Show(got);
  }
}

// The interface promises "first_day <= day <= last_day" for any range; keys
// hold the day as an unsigned big-endian number, so a negative first_day
// sorts after every real day and the walk finds nothing.
TEST_F(LmdbFeedbackTest, GetDaysWithNegativeFirstDayFindsPositiveDays) {
  Apply(Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0})}));
  EXPECT_EQ(Days("alice", -1, kToday + 1).size(), 1u);
  EXPECT_EQ(Days("alice", INT64_MIN, INT64_MAX).size(), 1u);
}

// --------------------------------------------------------------- suppression

TEST_F(LmdbFeedbackTest, HardBouncesSuppressGloballyExactlyOnceAtTheThreshold) {
  struct Case {
    const char* name;
    uint32_t suppress_after;
    int batches;         // one hard bounce per batch
    int per_batch;       // ... or this many in each
    int want_added_at;   // 1-based batch that adds the suppression; 0 = none
    uint32_t want_count; // GetBounces count afterwards; 0 = no record
  };
  const std::vector<Case> cases = {
      {"three_then_more", 3, 5, 1, 3, 5},
      {"threshold_one", 1, 3, 1, 1, 3},
      {"never", 0, 5, 1, 0, 0},
      {"below_threshold", 3, 2, 1, 0, 2},
      {"five_in_one_batch", 3, 1, 5, 1, 5},
      {"two_and_two", 3, 2, 2, 2, 4},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TearDown();
    SetUp();
    for (int b = 1; b <= c.batches; ++b) {
      SCOPED_TRACE("batch " + std::to_string(b));
      std::vector<FeedbackEvent> ev;
      for (int i = 0; i < c.per_batch; ++i) ev.push_back(Hard(i % 2 ? "bob" : "alice", "dead@example.org", kNow + b));
      FeedbackBatch batch = Batch(ev, kNow + b);
      batch.suppress_after = c.suppress_after;
      const FeedbackResult r = Apply(batch);
      if (b == c.want_added_at) {
        ASSERT_EQ(r.suppressed.size(), 1u);
        EXPECT_EQ(r.suppressed[0].account, "");
        EXPECT_EQ(r.suppressed[0].address, "dead@example.org");
        EXPECT_EQ(r.suppressed[0].actor, "test-tail");
        EXPECT_EQ(r.suppressed[0].since, kNow + b);
        EXPECT_NE(r.suppressed[0].reason.find("recipient-unknown"), std::string::npos)
            << r.suppressed[0].reason;
      } else {
        EXPECT_TRUE(r.suppressed.empty());
      }
    }
    EXPECT_EQ(CountSupp(""), c.want_added_at > 0 ? 1u : 0u);
    auto found = store_->FindSuppression("carol", "dead@example.org");  // global: everyone
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found.value().has_value(), c.want_added_at > 0);
    auto bounces = store_->GetBounces("dead@example.org");
    ASSERT_TRUE(bounces.ok());
    if (c.want_count == 0) {
      EXPECT_FALSE(bounces.value().has_value());
    } else {
      ASSERT_TRUE(bounces.value().has_value());
      EXPECT_EQ(bounces.value()->count, c.want_count);
      EXPECT_EQ(bounces.value()->last_category, "recipient-unknown");
      EXPECT_EQ(bounces.value()->address, "dead@example.org");
    }
  }
}

TEST_F(LmdbFeedbackTest, SuppressionWritesAnAuditEntryAndKeepsTheFirstReason) {
  FeedbackBatch b = Batch({Hard("alice", "x@example.org"), Hard("", "x@example.org"),
                           Hard("bob", "x@example.org")});
  b.suppress_after = 2;
  const FeedbackResult r = Apply(b);
  ASSERT_EQ(r.suppressed.size(), 1u);
  EXPECT_NE(r.suppressed[0].reason.find("an unknown account"), std::string::npos)
      << r.suppressed[0].reason;  // the bounce that reached 2 was unattributed
  auto audit = store_->ListAudit("", 100);
  ASSERT_TRUE(audit.ok());
  int adds = 0;
  for (const auto& a : audit.value()) {
    if (a.action == "suppress-add") {
      ++adds;
      EXPECT_EQ(a.actor, "test-tail");
      EXPECT_NE(a.detail.find("x@example.org"), std::string::npos);
    }
  }
  EXPECT_EQ(adds, 1);
  auto bounces = store_->GetBounces("x@example.org");
  ASSERT_TRUE(bounces.ok() && bounces.value().has_value());
  EXPECT_EQ(bounces.value()->last_account, "bob");
}

TEST_F(LmdbFeedbackTest, ComplaintsSuppressPerAccount) {
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
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TearDown();
    SetUp();
    const FeedbackResult r = Apply(Batch(c.events));
    EXPECT_EQ(r.suppressed.size(), c.want_added);
    EXPECT_EQ(CountSupp(""), 0u) << "never global";
    for (const auto& s : r.suppressed) {
      EXPECT_FALSE(s.account.empty());
      EXPECT_EQ(s.reason, "spam complaint");
      auto own = store_->FindSuppression(s.account, s.address);
      ASSERT_TRUE(own.ok());
      EXPECT_TRUE(own.value().has_value());
    }
    // A second complaint later adds nothing.
    EXPECT_TRUE(Apply(Batch(c.events)).suppressed.empty());
  }
  // Per account: alice's complainer still gets bob's mail.
  TearDown();
  SetUp();
  Apply(Batch({Complaint("alice", "c@example.org")}));
  auto other = store_->FindSuppression("bob", "c@example.org");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other.value().has_value());
}

// ----------------------------------------------------------------- queue map

TEST_F(LmdbFeedbackTest, StubsNeverOverwriteWhilePutsDo) {
  CommitQueue(Q("AAAA000001", "alice", kNow - 10, "<m1@x>"));
  CommitQueue(Q("AAAA000002", "alice", kNow - 10, "<m2@x>"));

  FeedbackBatch b = Batch({});
  b.queue_stubs = {Q("AAAA000001", "", kNow, "<other@x>"),   // exists: kept as it was
                   Q("AAAA000003", "", kNow, "<m3@x>"),      // new: written
                   Q("AAAA000004", "", kNow, "<m4@x>"),      // also put below: put wins
                   Q("", "", kNow, "<empty@x>"),             // no queue id: ignored
                   Q(std::string(600, 'B'), "", kNow, "<big@x>")};  // too long: ignored
  QueueEntry put2 = Q("AAAA000002", "bob", kNow, "<m2@x>");
  put2.last_event = kNow + 5;
  put2.forwarded = true;
  b.queue_puts = {put2, Q("AAAA000004", "carol", kNow, "<m4@x>")};
  Apply(b);

  auto e1 = Queue("AAAA000001");
  ASSERT_TRUE(e1.has_value());
  EXPECT_EQ(e1->account, "alice");
  EXPECT_EQ(e1->message_id, "<m1@x>");
  EXPECT_EQ(ByMsgId("<other@x>"), std::vector<std::string>{}) << "stub not indexed either";

  auto e2 = Queue("AAAA000002");
  ASSERT_TRUE(e2.has_value());
  EXPECT_EQ(e2->account, "bob");
  EXPECT_EQ(e2->last_event, kNow + 5);
  EXPECT_TRUE(e2->forwarded);

  auto e3 = Queue("AAAA000003");
  ASSERT_TRUE(e3.has_value());
  EXPECT_EQ(e3->account, "");
  EXPECT_EQ(ByMsgId("<m3@x>"), std::vector<std::string>{"AAAA000003"});

  auto e4 = Queue("AAAA000004");
  ASSERT_TRUE(e4.has_value());
  EXPECT_EQ(e4->account, "carol");

  auto empty = store_->GetQueueEntries({""});
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty.value()[0].has_value());
  EXPECT_EQ(ByMsgId("<empty@x>"), std::vector<std::string>{});

  // A later stub for an id that has a stub does not replace it either.
  FeedbackBatch b2 = Batch({});
  b2.queue_stubs = {Q("AAAA000003", "", kNow + 100, "<later@x>")};
  Apply(b2);
  EXPECT_EQ(Queue("AAAA000003")->message_id, "<m3@x>");
}

TEST_F(LmdbFeedbackTest, GetQueueEntriesKeepsTheOrderAsked) {
  CommitQueue(Q("AAAA000001", "alice", kNow));
  CommitQueue(Q("AAAA000002", "bob", kNow));
  auto r = store_->GetQueueEntries({"AAAA000002", "", "NOPE000000", "AAAA000001",
                                    std::string(600, 'A'), "AAAA000002"});
  ASSERT_TRUE(r.ok());
  const auto& v = r.value();
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[0]->account, "bob");
  EXPECT_FALSE(v[1].has_value());
  EXPECT_FALSE(v[2].has_value());
  EXPECT_EQ(v[3]->account, "alice");
  EXPECT_FALSE(v[4].has_value());
  EXPECT_EQ(v[5]->account, "bob");
  auto none = store_->GetQueueEntries({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none.value().empty());
}

TEST_F(LmdbFeedbackTest, FindByMessageIdOldestFirstAndPrefixIsolated) {
  // Queue id order (key order in the index) is the reverse of time order.
  CommitQueue(Q("AAAA000001", "alice", kNow + 300, "<a@x>"));
  CommitQueue(Q("AAAA000002", "bob", kNow + 200, "<a@x>"));
  CommitQueue(Q("AAAA000003", "carol", kNow + 100, "<a@x>"));
  CommitQueue(Q("AAAA000004", "dave", kNow, "<a@x>y"));
  CommitQueue(Q("AAAA000005", "erin", kNow, "<a@x"));
  CommitQueue(Q("AAAA000006", "fred", kNow, "<A@X>"));
  CommitQueue(Q("AAAA000007", "gina", kNow, "<>"));
  CommitQueue(Q("AAAA000008", "hank", kNow, ""));
  struct Case {
    const char* name;
    std::string id;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"oldest_first", "<a@x>", {"AAAA000003", "AAAA000002", "AAAA000001"}},
      {"longer_id_not_found_by_shorter", "<a@x>y", {"AAAA000004"}},
      {"shorter_id", "<a@x", {"AAAA000005"}},
      {"case_matters", "<A@X>", {"AAAA000006"}},
      {"empty_angle", "<>", {"AAAA000007"}},
      {"unknown", "<zzz@x>", {}},
      {"empty_query_finds_nothing", "", {}},
      {"prefix_of_all", "<", {}},
      {"nul_in_query", "<a@x>\0AAAA000001"s, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ByMsgId(c.id), c.want);
  }
}

// Message-IDs may be up to 998 bytes; the index keeps 400 of them, so two
// different long Message-IDs with a common 400-byte start find each other
// (and a complaint or a Message-ID link goes to the wrong account).
TEST_F(LmdbFeedbackTest, FindByMessageIdDoesNotConfuseLongIdsWithACommonStart) {
  const std::string common = "<" + std::string(450, 'm');
  CommitQueue(Q("AAAA000001", "alice", kNow, common + "1@x>"));
  CommitQueue(Q("AAAA000002", "mallory", kNow + 1, common + "2@x>"));
  EXPECT_EQ(ByMsgId(common + "1@x>"), std::vector<std::string>{"AAAA000001"});
  EXPECT_EQ(ByMsgId(common + "2@x>"), std::vector<std::string>{"AAAA000002"});
}

// ------------------------------------------------------------------ reviews

struct ReviewCall {
  std::string name;
  bool fresh = false;
  StoredDays days;
  uint64_t complaints = 0;
};

TEST_F(LmdbFeedbackTest, ReviewRunsOncePerCountedAccountWithItsDaysAndComplaints) {
  // Older days: one inside the 30-day window ending today, one just outside.
  Apply(Batch({Ev("alice", kNow - 29 * 86400, {5, 0, 0, 0, 0, 0, 0}),
               Ev("alice", kNow - 30 * 86400, {6, 0, 0, 0, 0, 0, 0})}));
  CommitQueue(Q("AAAA000001", "bob", kNow - 100));  // bob has a record
  std::vector<ReviewCall> calls;
  FeedbackBatch b = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0}), Complaint("alice", "c1@x.org"),
                           Complaint("alice", "c2@x.org"), Ev("alice", kNow - 86400, {2, 0, 0, 0, 0, 0, 0}),
                           Ev("bob", kNow, {0, 0, 1, 0, 0, 0, 0}), Ev("", kNow, {9, 0, 0, 0, 0, 0, 0}),
                           Complaint("", "c3@x.org")});
  b.review_days = 30;
  const FeedbackResult r = Apply(b, [&](AccountRecord* a, const StoredDays& days,
                                        uint64_t complaints, ReviewOutcome*) {
    calls.push_back(ReviewCall{a->name, a->created == kNow, days, complaints});
  });
  (void)r;
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].name, "alice");
  EXPECT_TRUE(calls[0].fresh) << "alice had no record: a fresh one, created now";
  EXPECT_EQ(calls[0].complaints, 2u);
  ASSERT_EQ(calls[0].days.size(), 3u) << Show(calls[0].days);
  EXPECT_EQ(calls[0].days[0].first, kToday - 29);
  EXPECT_EQ(calls[0].days[1].first, kToday - 1);
  EXPECT_EQ(calls[0].days[2].first, kToday);
  // The review sees this batch's counts.
  EXPECT_TRUE(Same(calls[0].days[2].second, {1, 0, 0, 0, 0, 0, 2})) << Show(calls[0].days[2].second);
  EXPECT_EQ(calls[1].name, "bob");
  EXPECT_FALSE(calls[1].fresh);
  EXPECT_EQ(calls[1].complaints, 0u);
  ASSERT_EQ(calls[1].days.size(), 1u);

  // A fresh record is written even when the review changes nothing.
  auto alice = store_->GetAccount("alice");
  ASSERT_TRUE(alice.ok());
  ASSERT_TRUE(alice.value().has_value());
  EXPECT_EQ(alice.value()->created, kNow);
  // Nobody is created for the unattributed counts.
  auto all = store_->ListAccounts();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all.value().size(), 2u);
  EXPECT_EQ(all.value()[0].name, "alice");
  EXPECT_EQ(all.value()[1].name, "bob");
}

TEST_F(LmdbFeedbackTest, ReviewWindowEndsAtTheNewestOfEventDayAndNow) {
  struct Case {
    const char* name;
    int review_days;
    int64_t event_time, now;
    std::vector<int64_t> want_days;  // relative to kToday
  };
  // Buckets exist at kToday-2 .. kToday+1.
  const std::vector<Case> cases = {
      {"one_day_now", 1, kNow, kNow, {0}},
      {"zero_taken_as_one", 0, kNow, kNow, {0}},
      {"negative_taken_as_one", -5, kNow, kNow, {0}},
      {"two_days", 2, kNow, kNow, {-1, 0}},
      {"event_in_the_future_extends_the_end", 2, kNow + 86400, kNow, {0, 1}},
      {"old_event_window_ends_now", 2, kNow - 2 * 86400, kNow, {-1, 0}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TearDown();
    SetUp();
    Apply(Batch({Ev("alice", kNow - 2 * 86400, {1, 0, 0, 0, 0, 0, 0}),
                 Ev("alice", kNow - 86400, {1, 0, 0, 0, 0, 0, 0}),
                 Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0}),
                 Ev("alice", kNow + 86400, {1, 0, 0, 0, 0, 0, 0})}));
    FeedbackBatch b = Batch({Ev("alice", c.event_time, {1, 0, 0, 0, 0, 0, 0})}, c.now);
    b.review_days = c.review_days;
    std::vector<int64_t> seen;
    int calls = 0;
    Apply(b, [&](AccountRecord*, const StoredDays& days, uint64_t, ReviewOutcome*) {
      ++calls;
      seen.clear();
      for (const auto& [d, counts] : days) seen.push_back(d - kToday);
    });
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(seen, c.want_days);
  }
}

TEST_F(LmdbFeedbackTest, ReviewEditsAreWrittenWithAuditAndAlerts) {
  CommitQueue(Q("AAAA000001", "alice", kNow - 100));
  auto review = [&](AccountRecord* a, const StoredDays&, uint64_t, ReviewOutcome* out) {
    a->tier = 3;
    a->status = AccountStatus::kSuspended;
    a->status_reason = "test";
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
  ASSERT_EQ(r.alerts.size(), 1u);
  EXPECT_EQ(r.alerts[0], "account=alice action=suspend");
  auto a = store_->GetAccount("alice");
  ASSERT_TRUE(a.ok() && a.value().has_value());
  EXPECT_EQ(a.value()->tier, 3);
  EXPECT_EQ(a.value()->status, AccountStatus::kSuspended);
  EXPECT_EQ(a.value()->created, kNow - 100) << "the existing record was edited, not replaced";
  auto audit = store_->ListAudit("alice", 10);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit.value().size(), 1u);
  EXPECT_EQ(audit.value()[0].action, "suspend");
  EXPECT_EQ(audit.value()[0].detail, "because");
}

TEST_F(LmdbFeedbackTest, NoReviewCreatesNoRecord) {
  Apply(Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0})}), nullptr);
  auto a = store_->GetAccount("alice");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a.value().has_value());
  EXPECT_EQ(Days("alice").size(), 1u);
}

TEST_F(LmdbFeedbackTest, UnreadableAccountRecordIsNeitherReviewedNorOverwritten) {
  CloseStore();
  Raw([](MDB_txn* txn) { RawPut(txn, "accounts", "alice", "\x7f garbage"); });
  OpenStore();
  int calls = 0;
  FeedbackBatch b = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0}), Ev("bob", kNow, {1, 0, 0, 0, 0, 0, 0})});
  b.source = "file:/var/log/mail.log";
  b.position = "42";
  auto r = store_->ApplyFeedback(b, [&](AccountRecord* a, const StoredDays&, uint64_t, ReviewOutcome*) {
    ++calls;
    EXPECT_EQ(a->name, "bob");
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(logger_.Saw("review-skip"));
  EXPECT_EQ(Days("alice").size(), 1u) << "alice's counts are still kept";
  CloseStore();
  std::string raw;
  Raw([&](MDB_txn* txn) { raw = RawGet(txn, "accounts", "alice"); });
  EXPECT_EQ(raw, "\x7f garbage");
}

TEST_F(LmdbFeedbackTest, CorruptBucketOfTheBatchDayIsReplaced) {
  CloseStore();
  Raw([](MDB_txn* txn) { RawPut(txn, "days", DayKey("alice", kToday), "\x7fjunk"); });
  OpenStore();
  Apply(Batch({Ev("alice", kNow, {2, 0, 0, 0, 0, 0, 0})}),
        [](AccountRecord*, const StoredDays&, uint64_t, ReviewOutcome*) {});
  const StoredDays got = Days("alice");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(Same(got[0].second, {2, 0, 0, 0, 0, 0, 0})) << Show(got[0].second);
  EXPECT_TRUE(logger_.Saw("replace-corrupt-days"));
}

// A batch that fails (here: the review cannot read a corrupt bucket of an
// earlier day in its window) writes nothing at all: no counts, no queue-map
// entries, no bounce counts, no suppressions, no account edits and, above
// all, no position, so the tailer re-reads the chunk.
TEST_F(LmdbFeedbackTest, FailedBatchWritesNothingNotEvenThePosition) {
  FeedbackBatch first = Batch({});
  first.source = "file:/var/log/mail.log";
  first.position = "100";
  Apply(first);
  // The position is the batch's last write; a source longer than an LMDB
  // key (511 bytes) makes it fail after every other write of the batch, so
  // the whole transaction must be rolled back.
  FeedbackBatch b = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0}), Hard("alice", "d@x.org"),
                           Complaint("alice", "c@x.org"), Ev("bob", kNow, {1, 0, 0, 0, 0, 0, 0})});
  b.source = std::string(600, 'f');
  b.position = "200";
  b.suppress_after = 1;
  b.queue_puts = {Q("AAAA000009", "alice", kNow, "<p@x>")};
  b.queue_stubs = {Q("AAAA000010", "", kNow, "<s@x>")};
  b.deferred = {DeferredRecord{"AAAA000009", kNow, {"r@x.org"}}};
  int calls = 0;
  auto r = store_->ApplyFeedback(b, [&](AccountRecord* a, const StoredDays&, uint64_t, ReviewOutcome*) {
    ++calls;
    a->tier = 5;
  });
  ASSERT_FALSE(r.ok()) << "a 600-byte position key was accepted";
  EXPECT_GT(calls, 0);  // it failed after the reviews
  auto pos = store_->GetPosition("file:/var/log/mail.log");
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(pos.value(), "100");
  EXPECT_TRUE(Days("alice", kToday, kToday).empty());
  EXPECT_TRUE(Days("bob").empty());
  EXPECT_FALSE(Queue("AAAA000009").has_value());
  EXPECT_FALSE(Queue("AAAA000010").has_value());
  auto deferred = store_->GetDeferred(10);
  ASSERT_TRUE(deferred.ok());
  EXPECT_TRUE(deferred.value().empty());
  auto bounces = store_->GetBounces("d@x.org");
  ASSERT_TRUE(bounces.ok());
  EXPECT_FALSE(bounces.value().has_value());
  EXPECT_EQ(CountSupp(""), 0u);
  EXPECT_EQ(CountSupp("alice"), 0u);
  for (const char* name : {"alice", "bob"}) {
    auto a = store_->GetAccount(name);
    ASSERT_TRUE(a.ok());
    EXPECT_FALSE(a.value().has_value()) << name;
  }
}

// The counting loop replaces a corrupt bucket "rather than blocking every
// later count", but the review's read of its 30-day window fails on one, so
// every batch counting for that account fails for up to 30 days and the
// tailer (which retries the chunk forever) is stuck.
TEST_F(LmdbFeedbackTest, CorruptOlderBucketDoesNotBlockLaterBatches) {
  CloseStore();
  Raw([](MDB_txn* txn) { RawPut(txn, "days", DayKey("alice", kToday - 3), "\x7fjunk"); });
  OpenStore();
  FeedbackBatch b = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0})});
  b.source = "file:/var/log/mail.log";
  b.position = "200";
  auto r = store_->ApplyFeedback(b, [](AccountRecord*, const StoredDays&, uint64_t, ReviewOutcome*) {});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

// ------------------------------------------------------- exactly once (once_key)

// The complaint count of `account` over every stored day.
uint64_t ComplaintsOf(LmdbStore* store, std::string_view account) {
  auto r = store->GetDays(account, 0, INT64_MAX);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  uint64_t n = 0;
  if (r.ok()) {
    for (const auto& [day, d] : r.value()) n += d.complaints;
  }
  return n;
}

FeedbackBatch Once(std::string key, std::string account = "alice",
                   std::string who = "c@example.org", int64_t now = kNow) {
  FeedbackBatch b = Batch({Complaint(std::move(account), std::move(who), now)}, now);
  b.once_key = std::move(key);
  return b;
}

std::string Sha256(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(md), len);
}


// A report delivered again carries the same key with whatever else the
// second pass computed (another review outcome, a new position, another
// complainer): none of it is written, no suppression, no audit entry, no
// review call.
TEST_F(LmdbFeedbackTest, DuplicateOnceKeyWritesNothing) {
  int calls = 0;
  auto review = [&](AccountRecord* a, const StoredDays&, uint64_t, ReviewOutcome* out) {
    ++calls;
    a->tier = calls;
    AuditEntry e;
    e.time_us = kNow * 1000000;
    e.actor = "test-arf";
    e.action = "tier";
    e.account = a->name;
    out->audit.push_back(e);
    out->alerts.push_back("account=" + a->name + " action=tier");
  };
  FeedbackBatch first = Once("report-1", "alice", "c1@example.org");
  first.source = "file:/var/log/mail.log";
  first.position = "100";
  const FeedbackResult r1 = Apply(first, review);
  EXPECT_FALSE(r1.duplicate);
  EXPECT_EQ(r1.suppressed.size(), 1u);
  EXPECT_EQ(r1.alerts.size(), 1u);
  ASSERT_EQ(calls, 1);
  const size_t audit_before = store_->ListAudit("", 100).value().size();
  ASSERT_EQ(audit_before, 2u);  // suppress-add and the review's

  FeedbackBatch again = Once("report-1", "alice", "c2@example.org");
  again.events.push_back(Ev("bob", kNow, {1, 0, 0, 0, 0, 0, 1}));
  again.events.push_back(Hard("alice", "d@example.org"));
  again.suppress_after = 1;
  again.source = "file:/var/log/mail.log";
  again.position = "200";
  again.queue_puts = {Q("AAAA000009", "alice", kNow, "<p@x>")};
  again.queue_stubs = {Q("AAAA000010", "", kNow, "<s@x>")};
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE("pass " + std::to_string(i));
    const FeedbackResult r2 = Apply(again, review);
    EXPECT_TRUE(r2.duplicate);
    EXPECT_TRUE(r2.suppressed.empty());
    EXPECT_TRUE(r2.alerts.empty());
    EXPECT_EQ(calls, 1) << "no review of a duplicate";
    EXPECT_EQ(ComplaintsOf(store_.get(), "alice"), 1u);
    EXPECT_TRUE(Days("bob").empty());
    EXPECT_EQ(CountSupp("alice"), 1u);
    EXPECT_EQ(CountSupp(""), 0u);
    EXPECT_FALSE(store_->FindSuppression("alice", "c2@example.org").value().has_value());
    EXPECT_FALSE(store_->GetBounces("d@example.org").value().has_value());
    EXPECT_EQ(store_->ListAudit("", 100).value().size(), audit_before);
    EXPECT_EQ(*store_->GetPosition("file:/var/log/mail.log").value(), "100");
    EXPECT_FALSE(Queue("AAAA000009").has_value());
    EXPECT_FALSE(Queue("AAAA000010").has_value());
    EXPECT_EQ(store_->GetAccount("alice").value()->tier, 1);
    // ... and the key is remembered across a reopen.
    CloseStore();
    OpenStore();
  }
}

TEST_F(LmdbFeedbackTest, OnlyTheSameOnceKeyIsADuplicate) {
  const std::string long_common(600, 'm');  // longer than any LMDB key
  struct Case {
    const char* name;
    std::vector<std::string> keys;  // one complaint batch each, in order
    uint64_t want_complaints;
  };
  const std::vector<Case> cases = {
      {"same_twice", {"k", "k"}, 1},
      {"three_times", {"k", "k", "k"}, 1},
      {"different", {"k1", "k2"}, 2},
      {"case_matters", {"k", "K"}, 2},
      {"no_key_counts_every_time", {"", ""}, 2},
      {"no_key_then_key", {"", "k", "k"}, 2},
      {"prefix_is_not_the_key", {"abc", "ab", "abcd"}, 3},
      {"nul_bytes", {"a\0b"s, "a\0c"s, "a"s, "a\0b"s}, 3},
      {"long_keys_differing_at_the_end",
       {long_common + "1", long_common + "2", long_common + "1"}, 2},
      {"huge_key", {std::string(100000, 'h'), std::string(100000, 'h')}, 1},
      {"non_ascii", {"\xff\xfe", "jürgen", "\xff\xfe"}, 2},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TearDown();
    SetUp();
    size_t duplicates = 0;
    for (const auto& k : c.keys) duplicates += Apply(Once(k)).duplicate ? 1 : 0;
    EXPECT_EQ(ComplaintsOf(store_.get(), "alice"), c.want_complaints);
    EXPECT_EQ(duplicates, c.keys.size() - c.want_complaints);
  }
}

TEST_F(LmdbFeedbackTest, OnceKeyExpiresAfterTheRetention) {
  struct Case {
    const char* name;
    int64_t second_now;
    bool want_duplicate;
  };
  const std::vector<Case> cases = {
      {"a_second_later", kNow + 1, true},
      {"same_second", kNow, true},
      {"last_second_of_the_retention", kNow + kOnceRetention, true},
      {"one_second_past_it_counts_again", kNow + kOnceRetention + 1, false},
      {"a_year_later", kNow + 365 * 86400, false},
      {"clock_went_back", kNow - 86400, true},
      {"clock_went_far_back", kNow - 400 * 86400, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TearDown();
    SetUp();
    ASSERT_FALSE(Apply(Once("report", "alice", "c@example.org", kNow)).duplicate);
    EXPECT_EQ(Apply(Once("report", "alice", "c@example.org", c.second_now)).duplicate,
              c.want_duplicate);
    EXPECT_EQ(ComplaintsOf(store_.get(), "alice"), c.want_duplicate ? 1u : 2u);
    if (!c.want_duplicate) {
      // Counted again means recorded again, at the new time.
      EXPECT_TRUE(Apply(Once("report", "alice", "c@example.org", c.second_now + 1)).duplicate);
      EXPECT_EQ(ComplaintsOf(store_.get(), "alice"), 2u);
    }
    CloseStore();
    Raw([](MDB_txn* txn) {
      EXPECT_EQ(RawEntries(txn, "once"), 1u);
      EXPECT_EQ(RawEntries(txn, "once_time"), 1u) << "the old time's index entry is gone";
    });
    OpenStore();
  }
}

// Every batch that records a key deletes up to 16 expired ones, oldest
// first: 100 old keys are gone after 7 new ones, and what is left is only
// what is younger than the retention.
TEST_F(LmdbFeedbackTest, PruneKeepsTheOnceTablesBounded) {
  for (int i = 0; i < 100; ++i) {
    const std::string key = "old-" + std::to_string(i);
    ASSERT_FALSE(Apply(Once(key, "alice", "c@example.org", kNow + i)).duplicate);
  }
  ASSERT_FALSE(Apply(Once("young", "alice", "c@example.org", kNow + 30 * 86400)).duplicate);
  const int64_t later = kNow + kOnceRetention + 1000;  // every old-* expired, young not
  struct Step {
    int new_keys;        // batches recording a new key each, at `later`
    size_t want_entries;  // entries in once and in once_time afterwards
  };
  const std::vector<Step> steps = {
      {1, 101 - 16 + 1},  // 16 pruned, 1 added
      {1, 101 - 32 + 2},
      {4, 101 - 96 + 6},
      {1, 1 + 7},         // the last 4 old ones; young is kept
      {3, 1 + 10},
  };
  int n = 0;
  for (const auto& s : steps) {
    for (int i = 0; i < s.new_keys; ++i) {
      const std::string key = "new-" + std::to_string(n++);
      ASSERT_FALSE(Apply(Once(key, "alice", "c@example.org", later)).duplicate);
    }
    SCOPED_TRACE("after " + std::to_string(n) + " new keys");
    CloseStore();
    Raw([&](MDB_txn* txn) {
      EXPECT_EQ(RawEntries(txn, "once"), s.want_entries);
      EXPECT_EQ(RawEntries(txn, "once_time"), s.want_entries);
    });
    OpenStore();
  }
  EXPECT_TRUE(Apply(Once("young", "alice", "c@example.org", later)).duplicate);
  // A duplicate prunes nothing (it writes nothing at all).
  CloseStore();
  Raw([](MDB_txn* txn) { EXPECT_EQ(RawEntries(txn, "once"), 11u); });
}

// The key is part of the batch's transaction: a batch that fails records
// no key, and its retry counts.
TEST_F(LmdbFeedbackTest, FailedBatchDoesNotRecordItsOnceKey) {
  FeedbackBatch bad = Once("report");
  bad.source = std::string(600, 's');  // longer than an LMDB key: the position cannot be written
  bad.position = "1";
  auto r = store_->ApplyFeedback(bad, nullptr);
  ASSERT_FALSE(r.ok()) << "a 600-byte position key was accepted";
  EXPECT_EQ(ComplaintsOf(store_.get(), "alice"), 0u);
  const FeedbackResult retry = Apply(Once("report"));
  EXPECT_FALSE(retry.duplicate);
  EXPECT_EQ(ComplaintsOf(store_.get(), "alice"), 1u);
  EXPECT_TRUE(Apply(Once("report")).duplicate);
}

// Concurrent deliveries of one report (two pipe processes, or two threads
// here riding in one group commit) count it once.
TEST_F(LmdbFeedbackTest, ConcurrentDuplicatesCountOnce) {
  std::atomic<int> duplicates{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = store_->ApplyFeedback(Once("report"), nullptr);
      EXPECT_TRUE(r.ok());
      if (r.ok() && r.value().duplicate) ++duplicates;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(duplicates.load(), 7);
  EXPECT_EQ(ComplaintsOf(store_.get(), "alice"), 1u);
}

TEST_F(LmdbFeedbackTest, UnreadableOnceRecordCountsAgainAndIsReplaced) {
  CloseStore();
  Raw([](MDB_txn* txn) { RawPut(txn, "once", Sha256("report"), "\x7f"); });
  OpenStore();
  EXPECT_FALSE(Apply(Once("report")).duplicate);
  EXPECT_TRUE(Apply(Once("report")).duplicate);
  EXPECT_EQ(ComplaintsOf(store_.get(), "alice"), 1u);
  CloseStore();
  Raw([](MDB_txn* txn) {
    EXPECT_EQ(RawGet(txn, "once", Sha256("report")).size(), 8u) << "replaced by the time recorded";
    EXPECT_EQ(RawEntries(txn, "once"), 1u);
  });
}

// ----------------------------------------------------------- position, reopen

TEST_F(LmdbFeedbackTest, PositionRoundTripsPerSource) {
  auto none = store_->GetPosition("file:/var/log/mail.log");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value().has_value());
  struct Case {
    const char* name;
    std::string source, position;
  };
  const std::vector<Case> cases = {
      {"file", "file:/var/log/mail.log", "inode=12 offset=4096"},
      {"journal", "journal:", "s=abc;i=1;b=def;m=1;t=2;x=3"},
      {"binary_position", "file:/var/log/mail.log", "\0\xff\n"s},
      {"empty_position", "journal:", ""},
      {"huge_position", "file:/big", std::string(100000, 'p')},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FeedbackBatch b = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0})});
    b.source = c.source;
    b.position = c.position;
    Apply(b);
    auto got = store_->GetPosition(c.source);
    ASSERT_TRUE(got.ok());
    ASSERT_TRUE(got.value().has_value());
    EXPECT_EQ(*got.value(), c.position);
  }
  // The other sources keep theirs.
  EXPECT_EQ(*store_->GetPosition("file:/var/log/mail.log").value(), "\0\xff\n"s);
  EXPECT_EQ(*store_->GetPosition("journal:").value(), "");
  // No source: no position written, counts still applied.
  FeedbackBatch b = Batch({Ev("alice", kNow, {1, 0, 0, 0, 0, 0, 0})});
  b.position = "ignored";
  Apply(b);
  auto empty = store_->GetPosition("");  // LMDB refuses an empty key: an error or none
  EXPECT_TRUE(!empty.ok() || !empty.value().has_value());
  EXPECT_EQ(Days("alice")[0].second.delivered, static_cast<uint64_t>(cases.size() + 1));
}

TEST_F(LmdbFeedbackTest, EverythingSurvivesAReopen) {
  CommitQueue(Q("AAAA000001", "alice", kNow, "<m@x>"));
  FeedbackBatch b = Batch({Ev("alice", kNow, {1, 2, 0, 0, 0, 0, 0}), Hard("alice", "d@x.org"),
                           Complaint("alice", "c@x.org")});
  b.source = "file:/var/log/mail.log";
  b.position = "777";
  b.suppress_after = 1;
  b.queue_stubs = {Q("AAAA000002", "", kNow, "<m@x>")};
  Apply(b, [](AccountRecord* a, const StoredDays&, uint64_t, ReviewOutcome*) { a->tier = 2; });
  CloseStore();
  OpenStore();
  EXPECT_EQ(*store_->GetPosition("file:/var/log/mail.log").value(), "777");
  const StoredDays days = Days("alice");
  ASSERT_EQ(days.size(), 1u);
  EXPECT_TRUE(Same(days[0].second, {1, 2, 1, 0, 0, 0, 1})) << Show(days[0].second);
  EXPECT_EQ(store_->GetBounces("d@x.org").value()->count, 1u);
  EXPECT_TRUE(store_->FindSuppression("bob", "d@x.org").value().has_value());
  EXPECT_TRUE(store_->FindSuppression("alice", "c@x.org").value().has_value());
  EXPECT_FALSE(store_->FindSuppression("bob", "c@x.org").value().has_value());
  EXPECT_EQ(store_->GetAccount("alice").value()->tier, 2);
  EXPECT_EQ(ByMsgId("<m@x>"), (std::vector<std::string>{"AAAA000001", "AAAA000002"}));
}

TEST_F(LmdbFeedbackTest, DeferredRecordsAreWrittenReplacedAndDeleted) {
  FeedbackBatch b;
  b.now = 1'795'622'400;
  b.deferred = {DeferredRecord{"1EB53A8C2E8", b.now, {"a@x.test", "b@x.test"}},
                DeferredRecord{"2C4D6E8F0A1", b.now, {"c@x.test"}}};
  Apply(b);
  auto got = store_->GetDeferred(100);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got.value().size(), 2u);
  EXPECT_EQ(got.value()[0].queue_id, "1EB53A8C2E8");
  EXPECT_EQ(got.value()[0].recipients, (std::vector<std::string>{"a@x.test", "b@x.test"}));
  EXPECT_EQ(got.value()[0].time, b.now);
  FeedbackBatch b2;
  b2.now = b.now + 60;
  b2.deferred = {DeferredRecord{"1EB53A8C2E8", b2.now, {"b@x.test"}},
                 DeferredRecord{"2C4D6E8F0A1", b2.now, {}}};
  Apply(b2);
  got = store_->GetDeferred(100);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got.value().size(), 1u);
  EXPECT_EQ(got.value()[0].recipients, (std::vector<std::string>{"b@x.test"}));
  EXPECT_EQ(store_->GetDeferred(0).value().size(), 0u);  // at most `max`
}

}  // namespace
}  // namespace senderguard
