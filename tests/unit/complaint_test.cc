// Tests for complaint.h: whom an ARF complaint blames (token, then
// Message-ID through the queue map, read from a real LMDB store in a fresh
// temporary directory per test) and the batch that counts it once.
#include "senderguard/feedback/complaint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "senderguard/decide/token.h"
#include "senderguard/store/lmdb/lmdb_store.h"

namespace senderguard {
namespace {

using namespace std::string_literals;

constexpr int64_t kNow = 1'795'622'400;  // 2026-11-25 16:00:00 UTC
const std::string kSecret = "milter-and-arf-secret";

ArfReport Report(std::string token, std::string message_id) {
  ArfReport r;
  r.feedback_type = "abuse";
  r.token = std::move(token);
  r.message_id = std::move(message_id);
  r.original_rcpt_to = {"<Victim@Example.ORG>"};
  return r;
}

QueueEntry Q(std::string qid, std::string account, int64_t time, std::string msgid) {
  QueueEntry q;
  q.queue_id = std::move(qid);
  q.account = std::move(account);
  q.time = time;
  q.recipients = {"victim@example.org"};
  q.message_id = std::move(msgid);
  return q;
}

class ComplaintStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sg-complaint-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    LmdbOptions o;
    o.path = dir_ + "/store";
    o.map_size_bytes = 64ull << 20;
    o.sync_interval_ms = 50;
    auto r = LmdbStore::Open(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    store_ = std::move(*r);

    // alice and bob have records (the milter's Commit creates them); each
    // sent one message of its own, and both sent "<shared@x>" (alice first).
    Commit(Q("AAAA000001", "alice", kNow - 300, "<alice-1@x>"));
    Commit(Q("AAAA000002", "bob", kNow - 200, "<bob-1@x>"));
    Commit(Q("AAAA000003", "alice", kNow - 100, "<shared@x>"));
    Commit(Q("AAAA000004", "bob", kNow - 50, "<shared@x>"));
    // "<stub-newest@x>": bob's entry, then a newer one without an account
    // (the tailer's stub of a re-queued copy); "<stub-only@x>": a stub alone.
    Commit(Q("AAAA000005", "bob", kNow - 40, "<stub-newest@x>"));
    FeedbackBatch stubs;
    stubs.now = kNow;
    stubs.queue_puts = {Q("AAAA000006", "", kNow - 30, "<stub-newest@x>"),
                        Q("AAAA000007", "", kNow - 30, "<stub-only@x>")};
    auto applied = store_->ApplyFeedback(stubs, nullptr);
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Commit(const QueueEntry& q) {
    auto r = store_->Commit(q.account, {}, &q, q.time);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  std::string dir_;
  std::unique_ptr<LmdbStore> store_;
};

// Suites are named after the module (as token_test's), so ctest -R complaint
// selects them all.
using complaint_store = ComplaintStoreTest;

TEST_F(complaint_store, AttributeComplaintTable) {
  const std::string alice = FeedbackToken(kSecret, "alice");
  const std::string bob = FeedbackToken(kSecret, "bob");
  struct Case {
    const char* name;
    std::string token, message_id, secret;
    std::string want_account;
    AttributedBy want_by;
  };
  const std::vector<Case> cases = {
      {"token", alice, "", kSecret, "alice", AttributedBy::kToken},
      {"token_wins_over_message_id", alice, "<bob-1@x>", kSecret, "alice", AttributedBy::kToken},
      {"no_token_message_id", "", "<bob-1@x>", kSecret, "bob", AttributedBy::kMessageId},
      {"nothing_at_all", "", "", kSecret, "", AttributedBy::kNone},
      // Forged tokens: right shape, wrong MAC; garbage; another secret's.
      {"forged_token", "v1.AAAAAAAAAAAAAAAAAAAAAA", "", kSecret, "", AttributedBy::kNone},
      {"forged_token_falls_back", "v1.AAAAAAAAAAAAAAAAAAAAAA", "<bob-1@x>", kSecret, "bob",
       AttributedBy::kMessageId},
      {"token_for_another_secret", FeedbackToken("another secret", "alice"), "", kSecret, "",
       AttributedBy::kNone},
      {"token_of_other_secret_falls_back", FeedbackToken("another secret", "alice"),
       "<bob-1@x>", kSecret, "bob", AttributedBy::kMessageId},
      {"token_truncated", alice.substr(0, alice.size() - 1), "", kSecret, "",
       AttributedBy::kNone},
      {"token_with_suffix", alice + "A", "", kSecret, "", AttributedBy::kNone},
      {"token_is_the_account_name", "alice", "", kSecret, "", AttributedBy::kNone},
      {"token_version_only", "v1.", "", kSecret, "", AttributedBy::kNone},
      {"token_huge", std::string(kMaxArfValue, 'A'), "", kSecret, "", AttributedBy::kNone},
      {"token_non_ascii", "v1.\xc3\xa9\xff\x00zz"s, "", kSecret, "", AttributedBy::kNone},
      // An account without a record: its token is right but names nobody we
      // know (the ingester only tries the accounts in the store).
      {"token_of_unknown_account", FeedbackToken(kSecret, "mallory"), "", kSecret, "",
       AttributedBy::kNone},
      // Without a secret tokens are not checked, even a genuine one.
      {"no_secret_ignores_token", alice, "", "", "", AttributedBy::kNone},
      {"no_secret_uses_message_id", alice, "<bob-1@x>", "", "bob", AttributedBy::kMessageId},
      // Message-IDs.
      {"unknown_message_id", "", "<nobody@x>", kSecret, "", AttributedBy::kNone},
      {"message_id_case_matters", "", "<BOB-1@X>", kSecret, "", AttributedBy::kNone},
      {"message_id_prefix_only", "", "<bob-1@x", kSecret, "", AttributedBy::kNone},
      {"message_id_with_nul", "", "<bob-1@x>\0AAAA000002"s, kSecret, "", AttributedBy::kNone},
      {"message_id_huge", "", "<" + std::string(kMaxArfValue - 2, 'x') + ">", kSecret, "",
       AttributedBy::kNone},
      {"several_entries_newest_wins", "", "<shared@x>", kSecret, "bob",
       AttributedBy::kMessageId},
      {"newest_without_account_skipped", "", "<stub-newest@x>", kSecret, "bob",
       AttributedBy::kMessageId},
      {"only_entries_without_account", "", "<stub-only@x>", kSecret, "",
       AttributedBy::kNone},
      {"bob_token_on_alices_message", bob, "<alice-1@x>", kSecret, "bob", AttributedBy::kToken},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto got = AttributeComplaint(Report(c.token, c.message_id), c.secret, *store_);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got.value().account, c.want_account);
    EXPECT_EQ(got.value().by, c.want_by);
  }
}

// The whole path as senderguard-arf takes it: attribute, build, apply.
// The complainer is suppressed for the blamed account only, the same report
// counts once, and an unattributed one suppresses nobody.
TEST_F(complaint_store, BatchAppliesOnceAndSuppressesOnlyForTheAccount) {
  ArfReport r = Report(FeedbackToken(kSecret, "bob"), "<bob-1@x>");
  r.incidents = 1000;  // forged: still one complaint
  auto a = AttributeComplaint(r, kSecret, *store_);
  ASSERT_TRUE(a.ok());
  const std::string complainer = Complainer(r);
  ASSERT_EQ(complainer, "victim@example.org");
  const FeedbackBatch batch = ComplaintBatch(r, a.value(), complainer, 30, kNow);
  ReputationConfig rep;
  auto first = store_->ApplyFeedback(batch, ComplaintReview(rep, kNow));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first.value().duplicate);
  auto again = store_->ApplyFeedback(batch, ComplaintReview(rep, kNow + 60));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.value().duplicate);

  auto days = store_->GetDays("bob", kNow / 86400 - 1, kNow / 86400 + 1);
  ASSERT_TRUE(days.ok());
  ASSERT_EQ(days.value().size(), 1u);
  EXPECT_EQ(days.value()[0].second.complaints, 1u);
  auto for_bob = store_->FindSuppression("bob", "victim@example.org");
  ASSERT_TRUE(for_bob.ok());
  EXPECT_TRUE(for_bob.value().has_value());
  auto for_alice = store_->FindSuppression("alice", "victim@example.org");
  ASSERT_TRUE(for_alice.ok());
  EXPECT_FALSE(for_alice.value().has_value());

  // Unattributed: counted under "", nobody suppressed (not even globally).
  ArfReport anon = Report("v1.AAAAAAAAAAAAAAAAAAAAAA", "<nobody@x>");
  anon.original_rcpt_to = {"other@example.org"};
  auto none = AttributeComplaint(anon, kSecret, *store_);
  ASSERT_TRUE(none.ok());
  ASSERT_EQ(none.value().by, AttributedBy::kNone);
  auto applied = store_->ApplyFeedback(
      ComplaintBatch(anon, none.value(), Complainer(anon), 30, kNow), ComplaintReview(rep, kNow));
  ASSERT_TRUE(applied.ok());
  EXPECT_TRUE(applied.value().suppressed.empty());
  auto global = store_->FindSuppression("", "other@example.org");
  ASSERT_TRUE(global.ok());
  EXPECT_FALSE(global.value().has_value());
}

// ---------------------------------------------------------------- pure parts

TEST(complaint, AccountByMessageIdTable) {
  auto e = [](std::string account) { return std::optional<QueueEntry>(Q("Q", account, 0, "")); };
  const std::optional<QueueEntry> missing;
  struct Case {
    const char* name;
    std::vector<std::optional<QueueEntry>> entries;
    std::optional<std::string> want;
  };
  const std::vector<Case> cases = {
      {"none", {}, std::nullopt},
      {"one", {e("alice")}, "alice"},
      {"newest_wins", {e("alice"), e("bob")}, "bob"},
      {"empty_account_skipped", {e("alice"), e("")}, "alice"},
      {"missing_skipped", {e("alice"), missing}, "alice"},
      {"all_empty", {e(""), missing, e("")}, std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(AccountByMessageId(c.entries), c.want);
  }
}

TEST(complaint, IsComplaintTable) {
  struct Case {
    std::string type;
    bool want;
  };
  const std::vector<Case> cases = {{"abuse", true},        {"fraud", true},
                                   {"not-spam", false},    {"virus", false},
                                   {"auth-failure", false}, {"other", false},
                                   {"", false},            {"abuse ", false},
                                   {"abusefraud", false}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.type);
    ArfReport r;
    r.feedback_type = c.type;
    EXPECT_EQ(IsComplaint(r), c.want);
  }
}

TEST(complaint, ComplainerIsTheFirstReadableRecipient) {
  struct Case {
    const char* name;
    std::vector<std::string> rcpts;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"none", {}, ""},
      {"redacted", {"redacted", ""}, ""},
      {"normalized", {"<Victim@Example.ORG>"}, "victim@example.org"},
      {"first_readable", {"no at sign", "<a@b.example>", "c@d.example"}, "a@b.example"},
      {"control_bytes_refused", {"a\r@b.example", "x@y.example"}, "x@y.example"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ArfReport r;
    r.original_rcpt_to = c.rcpts;
    EXPECT_EQ(Complainer(r), c.want);
  }
}

TEST(complaint, AttributedByNames) {
  EXPECT_EQ(AttributedByName(AttributedBy::kNone), "none");
  EXPECT_EQ(AttributedByName(AttributedBy::kToken), "token");
  EXPECT_EQ(AttributedByName(AttributedBy::kMessageId), "message-id");
}

TEST(complaint, BatchCountsOneComplaintAndSuppressesOnlyWhenAttributed) {
  ArfReport r = Report("", "<m@x>");
  r.incidents = 1000;
  // Plain fields, not an Attribution member: g++ 12 at -O3 takes a table of
  // nested std::string aggregates for "maybe uninitialized".
  struct Case {
    const char* name;
    const char* account;
    AttributedBy by;
    const char* complainer;
    const char* want_complainer;
  };
  const Case cases[] = {
      {"attributed", "alice", AttributedBy::kToken, "v@x.example", "v@x.example"},
      {"by_message_id", "bob", AttributedBy::kMessageId, "v@x.example", "v@x.example"},
      {"unattributed", "", AttributedBy::kNone, "v@x.example", ""},
      {"no_complainer", "alice", AttributedBy::kToken, "", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Attribution attribution;
    attribution.account = c.account;
    attribution.by = c.by;
    const FeedbackBatch b = ComplaintBatch(r, attribution, c.complainer, 17, kNow);
    EXPECT_EQ(b.now, kNow);
    EXPECT_EQ(b.actor, "senderguard-arf");
    EXPECT_EQ(b.review_days, 17);
    EXPECT_TRUE(b.source.empty());
    EXPECT_TRUE(b.queue_puts.empty());
    ASSERT_EQ(b.events.size(), 1u);
    const FeedbackEvent& e = b.events[0];
    EXPECT_EQ(e.account, attribution.account);
    EXPECT_EQ(e.time, kNow);
    EXPECT_EQ(e.delta.complaints, 1u);
    EXPECT_EQ(e.delta.delivered + e.delta.hard + e.delta.soft + e.delta.expired, 0u);
    EXPECT_EQ(e.complainer, c.want_complainer);
    EXPECT_TRUE(e.hard_recipient.empty());
    EXPECT_EQ(b.once_key, ComplaintKey(r, attribution.account, c.complainer));
  }
}

TEST(complaint, ComplaintKeyTable) {
  ArfReport by_id;
  by_id.feedback_type = "abuse";
  by_id.message_id = "<m@x>";
  ArfReport by_arrival;
  by_arrival.feedback_type = "abuse";
  by_arrival.arrival_date = "Thu, 8 Mar 2005 14:00:00 EDT";
  by_arrival.source_ip = "192.0.2.1";
  ArfReport nothing;
  nothing.feedback_type = "abuse";

  const std::string base = ComplaintKey(by_id, "alice", "v@x.example");
  EXPECT_EQ(base, "arf1 message-id 5:alice5:<m@x>11:v@x.example5:abuse");
  // Stable, and different when anything that names the complaint differs.
  EXPECT_EQ(ComplaintKey(by_id, "alice", "v@x.example"), base);
  EXPECT_NE(ComplaintKey(by_id, "bob", "v@x.example"), base);
  EXPECT_NE(ComplaintKey(by_id, "alice", "w@x.example"), base);
  EXPECT_NE(ComplaintKey(by_id, "", "v@x.example"), base);
  ArfReport fraud = by_id;
  fraud.feedback_type = "fraud";
  EXPECT_NE(ComplaintKey(fraud, "alice", "v@x.example"), base);
  // Length prefixes: moving bytes from one field into the next is another key.
  ArfReport shifted = by_id;
  shifted.message_id = "5:<m@x>";
  EXPECT_NE(ComplaintKey(shifted, "alic", "v@x.example"), base);
  EXPECT_NE(ComplaintKey(by_id, "alice5:<m@x>", ""), ComplaintKey(by_id, "alice", "5:<m@x>"));

  // Without a Message-ID: Arrival-Date and Source-IP, only with a complainer.
  EXPECT_EQ(ComplaintKey(by_arrival, "alice", "v@x.example"),
            "arf1 arrival 5:alice28:Thu, 8 Mar 2005 14:00:00 EDT9:192.0.2.111:v@x.example"
            "5:abuse");
  EXPECT_EQ(ComplaintKey(by_arrival, "alice", ""), "");
  EXPECT_EQ(ComplaintKey(nothing, "alice", "v@x.example"), "");
  // Any bytes: a NUL does not cut the key short.
  ArfReport nul = by_id;
  nul.message_id = "<m@x>\0tail"s;
  EXPECT_NE(ComplaintKey(nul, "alice", "v@x.example"), base);
}

}  // namespace
}  // namespace senderguard
