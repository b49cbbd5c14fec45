// Tests for feedback.h: FeedbackEngine reading Postfix 3.7 log lines (as
// Postfix writes them) into FeedbackBatches, against a real LmdbStore in a
// temporary directory whose queue map the test fills the way the milter does
// (Store::Commit), with the shipped conf/bounce-rules.conf; and the pure
// ReviewAccount / AccountRates.
#include "senderguard/feedback/feedback.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "feedback_builders.h"
#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/codec.h"

namespace senderguard {
namespace {

using namespace std::string_literals;

using namespace feedback_builders;
using feedback_builders::Show;  // beside Show(const FeedbackBatch&) below

// "Nov 25 HH:MM:SS mta PROGRAM[pid]: BODY", the RFC 3164 shape rsyslog writes.
std::string Line(const std::string& hms, const std::string& program, const std::string& body) {
  return "Nov 25 " + hms + " mta " + program + "[13210]: " + body;
}
// Seconds from kNow of "Nov 25 HH:MM:SS" (UTC).
int64_t At(int h, int m, int s) { return kToday * 86400 + h * 3600 + m * 60 + s; }

std::string Delivery(const std::string& hms, const std::string& agent, const std::string& qid,
                     const std::string& rcpt, const std::string& relay, const std::string& dsn,
                     const std::string& status, const std::string& reply) {
  return Line(hms, "postfix/" + agent,
              qid + ": to=<" + rcpt + ">, relay=" + relay +
                  ", delay=0.05, delays=0.01/0.01/0.01/0.02, dsn=" + dsn + ", status=" + status +
                  " (" + reply + ")");
}
std::string Sent(const std::string& hms, const std::string& qid, const std::string& rcpt,
                 const std::string& reply = "250 2.0.0 ok queued") {
  return Delivery(hms, "smtp", qid, rcpt, "mx.dest.test[192.0.2.25]:25", "2.0.0", "sent", reply);
}
std::string UserUnknown(const std::string& hms, const std::string& qid, const std::string& rcpt) {
  return Delivery(hms, "smtp", qid, rcpt, "mx.dest.test[192.0.2.25]:25", "5.1.1", "bounced",
                  "host mx.dest.test[192.0.2.25] said: 550 5.1.1 <" + rcpt +
                      ">: Recipient address rejected: User unknown in virtual mailbox table (in "
                      "reply to RCPT TO command)");
}
std::string Deferred(const std::string& hms, const std::string& qid, const std::string& rcpt) {
  return Delivery(hms, "smtp", qid, rcpt, "none", "4.4.1", "deferred",
                  "connect to mx.dest.test[192.0.2.25]:25: Connection refused");
}
std::string MessageIdLine(const std::string& hms, const std::string& qid, const std::string& id) {
  return Line(hms, "postfix/cleanup", qid + ": message-id=" + id);
}
std::string Active(const std::string& hms, const std::string& qid, const std::string& from) {
  return Line(hms, "postfix/qmgr", qid + ": from=<" + from + ">, size=485, nrcpt=1 (queue active)");
}
std::string Removed(const std::string& hms, const std::string& qid) {
  return Line(hms, "postfix/qmgr", qid + ": removed");
}
std::string Notification(const std::string& hms, const std::string& qid, const std::string& nqid) {
  return Line(hms, "postfix/bounce", qid + ": sender non-delivery notification: " + nqid);
}
std::string Expired(const std::string& hms, const std::string& qid, const std::string& from) {
  return Line(hms, "postfix/qmgr", qid + ": from=<" + from + ">, status=expired, returned to sender");
}

std::string Show(const FeedbackBatch& b) {
  std::string s;
  for (const auto& e : b.events) {
    s += "[" + e.account + " t=" + std::to_string(e.time - kNow) + " " + Show(e.delta) +
         (e.hard_recipient.empty() ? "" : " hard=" + e.hard_recipient + "/" + e.category) + "] ";
  }
  return s;
}
// Events summed per account.
std::map<std::string, DayCountsRecord> PerAccount(const FeedbackBatch& b) {
  std::map<std::string, DayCountsRecord> m;
  for (const auto& e : b.events) {
    auto& d = m[e.account];
    d.delivered += e.delta.delivered;
    d.deferred += e.delta.deferred;
    d.hard += e.delta.hard;
    d.soft += e.delta.soft;
    d.technical += e.delta.technical;
    d.expired += e.delta.expired;
    d.complaints += e.delta.complaints;
  }
  return m;
}
const QueueEntry* FindPut(const std::vector<QueueEntry>& v, std::string_view qid) {
  const QueueEntry* found = nullptr;
  for (const auto& q : v) {
    if (q.queue_id == qid) found = &q;  // the last one wins, as in the store
  }
  return found;
}

class FeedbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Loaded once per process: tests that run many cases set up again per case,
    // and a load (TOML, then the rule set compiled) took ~1 s under ASan.
    if (rules_ == nullptr) {
      auto rules = BounceRules::Load(SG_SOURCE_DIR "/conf/bounce-rules.conf");
      ASSERT_TRUE(rules.ok()) << rules.status().ToString();
      rules_ = std::make_unique<BounceRules>(std::move(rules.value()));
    }
    std::string tmpl = (std::filesystem::temp_directory_path() / "sg-feedback-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    OpenStore();
    NewEngine();
  }
  void TearDown() override {
    engine_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void OpenStore() {
    engine_.reset();
    store_.reset();
    LmdbOptions o;
    o.path = dir_ + "/store";
    o.map_size_bytes = 64ull << 20;
    o.sync_interval_ms = 50;
    auto r = LmdbStore::Open(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    store_ = std::move(*r);
  }
  void NewEngine(bool with_store = true) {
    FeedbackSettings s;
    engine_ = std::make_unique<FeedbackEngine>(with_store ? store_.get() : nullptr, rules_.get(), s);
  }
  void Commit(const QueueEntry& q) {
    auto r = store_->Commit(q.account, {}, &q, q.time);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // Runs one chunk; the lines are kept alive for the outcomes' sake.
  FeedbackBatch Run(const std::vector<std::string>& text, std::vector<Outcome>* outcomes = nullptr) {
    kept_.push_back(text);
    std::vector<RawLine> lines;
    for (const auto& t : kept_.back()) lines.push_back(RawLine{t, {}, 0});
    FeedbackBatch b;
    b.now = kNow;
    b.actor = "senderguard-tail";
    Status st = engine_->Process(lines, kNow, &b, outcomes);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return b;
  }
  FeedbackResult Apply(FeedbackBatch b) {
    FeedbackSettings s;
    auto r = store_->ApplyFeedback(b, [&](AccountRecord* a, const StoredDays& days,
                                          uint64_t complaints, ReviewOutcome* out) {
      ReviewAccount(s.reputation, b.now, b.actor, a, days, complaints, out);
    });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : FeedbackResult{};
  }

  static std::unique_ptr<BounceRules> rules_;  // the shipped rules, read only
  std::string dir_;
  std::unique_ptr<LmdbStore> store_;
  std::unique_ptr<FeedbackEngine> engine_;
  std::vector<std::vector<std::string>> kept_;
};
std::unique_ptr<BounceRules> FeedbackTest::rules_;

// --------------------------------------------------------- one outcome each

struct OutcomeCase {
  const char* name;
  std::string line;
  // What it counts: the field of the delta set to one, or "" for nothing.
  std::string counts;
  std::string account;         // the event's account
  std::string hard_recipient;  // "" = none
  std::string category;        // of the Outcome
  int64_t time = 0;
  // The Outcome's origin when it counts nothing ("" above); else it is
  // "account", or "unattributed" for the account "".
  std::string origin = "";
};

// A delivery line as Postfix cuts its log records: 2000 bytes of message
// (msg_syslog.c), the receiver's long multi-line reply cut short.
std::string CutUserUnknown(const std::string& hms, const std::string& qid,
                           const std::string& rcpt) {
  std::string msg = qid + ": to=<" + rcpt +
                    ">, relay=mx.dest.test[192.0.2.25]:25, delay=0.05, "
                    "delays=0.01/0.01/0.01/0.02, dsn=5.1.1, status=bounced (host "
                    "mx.dest.test[192.0.2.25] said: 550-5.1.1 <" +
                    rcpt + ">: Recipient address rejected: User unknown in virtual mailbox table";
  while (msg.size() < 2000) msg += " 550-5.1.1 see https://help.dest.test/smtp/5.1.1 for more";
  msg.resize(2000);
  return Line(hms, "postfix/smtp", msg);
}

TEST_F(FeedbackTest, EachOutcomeIsClassifiedAndAttributed) {
  const std::string Q1 = "1EB53A8C2E8";
  const std::vector<OutcomeCase> cases = {
      {"sent", Sent("15:25:31", Q1, "ok1@dest.test"), "delivered", "alice", "", "none",
       At(15, 25, 31)},
      {"sent_loopback_relay",
       "Nov 25 15:25:31 mta postfix/smtp[13210]: 1EB53A8C2E8: to=<ok1@dest.test>, "
       "relay=127.0.0.1[127.0.0.1]:25647, delay=0.05, delays=0.01/0.01/0.01/0.02, dsn=2.0.0, "
       "status=sent (250 2.0.0 ok queued)",
       "delivered", "alice", "", "none", At(15, 25, 31)},
      {"user_unknown_hard_suppresses_normalized",
       UserUnknown("15:25:32", Q1, "Dead.User@Dest.TEST"), "hard", "alice",
       "dead.user@dest.test", "recipient-unknown", At(15, 25, 32)},
      {"error_agent_user_unknown",
       Delivery("15:25:33", "error", Q1, "dead@dead.test", "none", "5.1.1", "bounced",
                "user unknown"),
       "hard", "alice", "dead@dead.test", "recipient-unknown", At(15, 25, 33)},
      {"local_unknown_user",
       Delivery("15:25:33", "local", Q1, "bob@mta.test", "local", "5.1.1", "bounced",
                "unknown user: \"bob\""),
       "hard", "alice", "bob@mta.test", "recipient-unknown", At(15, 25, 33)},
      {"domain_not_found",
       Delivery("15:25:34", "smtp", Q1, "x@nxdomain.test", "none", "5.4.4", "bounced",
                "Host or domain name not found. Name service error for name=nxdomain.test "
                "type=MX: Host not found"),
       "hard", "alice", "x@nxdomain.test", "domain-unknown", At(15, 25, 34)},
      {"mailbox_disabled",
       Delivery("15:25:35", "smtp", Q1, "gone@dest.test", "mx.dest.test[192.0.2.25]:25", "5.2.1",
                "bounced",
                "host mx.dest.test[192.0.2.25] said: 550 5.2.1 The email account that you "
                "tried to reach is disabled. (in reply to RCPT TO command)"),
       "hard", "alice", "gone@dest.test", "mailbox-disabled", At(15, 25, 35)},
      {"mailbox_full_soft",
       Delivery("15:25:36", "smtp", Q1, "full@dest.test", "mx.dest.test[192.0.2.25]:25", "5.2.2",
                "bounced",
                "host mx.dest.test[192.0.2.25] said: 552 5.2.2 Mailbox full (in reply to RCPT "
                "TO command)"),
       "soft", "alice", "", "mailbox-full", At(15, 25, 36)},
      {"spam_policy_technical",
       Delivery("15:25:37", "smtp", Q1, "p@dest.test", "mx.dest.test[192.0.2.25]:25", "5.7.1",
                "bounced",
                "host mx.dest.test[192.0.2.25] said: 554 5.7.1 Service unavailable; Client host "
                "[198.51.100.1] blocked using zen.spamhaus.org (in reply to RCPT TO command)"),
       "technical", "alice", "", "policy", At(15, 25, 37)},
      // A hard verdict on MAIL FROM is about the sender: never suppresses anyone.
      // (the text names the sender's own address: authentication)
      {"user_unknown_in_reply_to_mail_from",
       Delivery("15:25:38", "smtp", Q1, "r@dest.test", "smarthost.test[192.0.2.26]:587", "5.1.1",
                "bounced",
                "host smarthost.test[192.0.2.26] said: 550 5.1.1 Sender address rejected: User "
                "unknown (in reply to MAIL FROM command)"),
       "technical", "alice", "", "authentication", At(15, 25, 38)},
      {"account_disabled_in_reply_to_mail_from",
       Delivery("15:25:38", "smtp", Q1, "r@dest.test", "smarthost.test[192.0.2.26]:587", "5.2.1",
                "bounced",
                "host smarthost.test[192.0.2.26] said: 550 5.2.1 Account disabled (in reply to "
                "MAIL FROM command)"),
       "technical", "alice", "", "policy", At(15, 25, 38)},
      {"deferred", Deferred("15:25:39", Q1, "d@down.test"), "deferred", "alice", "", "network",
       At(15, 25, 39)},
      {"softbounce_is_deferred",
       Delivery("15:25:40", "smtp", Q1, "dead@dest.test", "mx.dest.test[192.0.2.25]:25", "5.1.1",
                "SOFTBOUNCE",
                "host mx.dest.test[192.0.2.25] said: 550 5.1.1 User unknown (in reply to RCPT TO "
                "command)"),
       "deferred", "alice", "", "recipient-unknown", At(15, 25, 40)},
      {"quoted_local_part_hard_but_not_a_suppression_key",
       UserUnknown("15:25:41", Q1, "\"a b\"@dest.test"), "hard", "alice", "",
       "recipient-unknown", At(15, 25, 41)},
      {"unknown_queue_id_unattributed", Sent("15:25:42", "99999A8C2E8", "ok@dest.test"),
       "delivered", "", "", "none", At(15, 25, 42)},
      {"iso_timestamp",
       "2026-11-25T15:25:43.123456+00:00 mta postfix/smtp[13210]: 1EB53A8C2E8: "
       "to=<ok@dest.test>, relay=mx.dest.test[192.0.2.25]:25, delay=0.05, "
       "delays=0.01/0.01/0.01/0.02, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
       "delivered", "alice", "", "none", At(15, 25, 43)},
      {"iso_timestamp_with_offset",
       "2026-11-25T16:25:44+01:00 mta postfix/smtp[13210]: 1EB53A8C2E8: to=<ok@dest.test>, "
       "relay=mx.dest.test[192.0.2.25]:25, delay=0.05, delays=0.01/0.01/0.01/0.02, dsn=2.0.0, "
       "status=sent (250 2.0.0 Ok)",
       "delivered", "alice", "", "none", At(15, 25, 44)},
      {"maillog_file_zero_padded_day_previous_day",
       "Nov 24 23:59:59 mta postfix/smtp[13210]: 1EB53A8C2E8: to=<ok@dest.test>, "
       "relay=mx.dest.test[192.0.2.25]:25, delay=0.05, delays=0.01/0.01/0.01/0.02, dsn=2.0.0, "
       "status=sent (250 2.0.0 Ok)",
       "delivered", "alice", "", "none", At(0, 0, 0) - 1},
      {"address_probe_not_a_delivery",
       Delivery("15:25:45", "smtp", Q1, "v@dest.test", "mx.dest.test[192.0.2.25]:25", "2.1.5",
                "deliverable", "250 2.1.5 Ok"),
       "", "", "", "", At(15, 25, 45), "address-probe"},
      {"address_probe_undeliverable",
       Delivery("15:25:45", "smtp", Q1, "v@dest.test", "mx.dest.test[192.0.2.25]:25", "5.1.1",
                "undeliverable", "host said: 550 5.1.1 no such user"),
       "", "", "", "", At(15, 25, 45), "address-probe"},
      {"unknown_status_word",
       Delivery("15:25:46", "discard", Q1, "v@dest.test", "none", "2.0.0", "future-word", ""),
       "", "", "", "", At(15, 25, 46), "unknown-status"},
      // The syslog shapes other writers give the same lines.
      {"solaris_id",
       "Nov 25 15:25:47 mta postfix/smtp[13210]: [ID 197553 mail.info] 1EB53A8C2E8: "
       "to=<ok@dest.test>, relay=mx.dest.test[192.0.2.25]:25, delay=0.05, "
       "delays=0.01/0.01/0.01/0.02, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
       "delivered", "alice", "", "none", At(15, 25, 47)},
      {"rfc5424_structured_data",
       "<22>1 2026-11-25T15:25:48.5+00:00 mta postfix/smtp 13210 - [meta sequenceId=\"9\"] "
       "1EB53A8C2E8: to=<ok@dest.test>, relay=mx.dest.test[192.0.2.25]:25, delay=0.05, "
       "delays=0.01/0.01/0.01/0.02, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
       "delivered", "alice", "", "none", At(15, 25, 48)},
      {"rfc5424_rsyslog_programname",
       "<22>1 2026-11-25T16:25:49+01:00 mta postfix 13210 - -  1EB53A8C2E8: "
       "to=<ok@dest.test>, relay=mx.dest.test[192.0.2.25]:25, delay=0.05, "
       "delays=0.01/0.01/0.01/0.02, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
       "delivered", "alice", "", "none", At(15, 25, 49)},
      {"journalctl_short_precise",
       "Nov 25 15:25:50.999999 mta postfix/smtp[13210]: 1EB53A8C2E8: to=<ok@dest.test>, "
       "relay=mx.dest.test[192.0.2.25]:25, delay=0.05, delays=0.01/0.01/0.01/0.02, "
       "dsn=2.0.0, status=sent (250 2.0.0 Ok)",
       "delivered", "alice", "", "none", At(15, 25, 50)},
      {"per_service_syslog_name",
       "Nov 25 15:25:51 mta postfix/submission/smtp[13210]: 1EB53A8C2E8: to=<ok@dest.test>, "
       "relay=mx.dest.test[192.0.2.25]:25, delay=0.05, delays=0.01/0.01/0.01/0.02, "
       "dsn=2.0.0, status=sent (250 2.0.0 Ok)",
       "delivered", "alice", "", "none", At(15, 25, 51)},
      // Cut by Postfix at 2000 bytes inside the reply: read, and counted.
      {"cut_reply_still_counts", CutUserUnknown("15:25:52", Q1, "dead@dest.test"), "hard",
       "alice", "dead@dest.test", "recipient-unknown", At(15, 25, 52)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TearDown();
    SetUp();
    Commit(Q(Q1, "alice", kNow - 3600, "<m1@sender.test>"));
    std::vector<Outcome> outs;
    const FeedbackBatch b = Run({c.line}, &outs);
    EXPECT_TRUE(b.queue_stubs.empty());
    if (c.counts.empty()) {
      // Counts nothing, but --print shows it.
      EXPECT_TRUE(b.events.empty()) << Show(b);
      ASSERT_EQ(outs.size(), 1u);
      EXPECT_EQ(outs[0].account, "");
      EXPECT_EQ(OutcomeOriginName(outs[0].origin), c.origin);
      EXPECT_FALSE(outs[0].classified);
      EXPECT_EQ(outs[0].recipient, "v@dest.test");
      EXPECT_EQ(outs[0].time, c.time);
      EXPECT_EQ(engine_->stats().outcomes, 0u);
      continue;
    }
    ASSERT_EQ(b.events.size(), 1u) << Show(b);
    const FeedbackEvent& e = b.events[0];
    EXPECT_EQ(e.account, c.account);
    EXPECT_EQ(e.time, c.time) << e.time - c.time;
    DayCountsRecord want;
    if (c.counts == "delivered") want.delivered = 1;
    if (c.counts == "deferred") want.deferred = 1;
    if (c.counts == "hard") want.hard = 1;
    if (c.counts == "soft") want.soft = 1;
    if (c.counts == "technical") want.technical = 1;
    EXPECT_EQ(Tie(e.delta), Tie(want)) << Show(e.delta);
    EXPECT_EQ(e.hard_recipient, c.hard_recipient);
    if (!c.hard_recipient.empty()) {
      EXPECT_EQ(e.category, c.category);
    }
    EXPECT_TRUE(e.complainer.empty());
    ASSERT_EQ(outs.size(), 1u);
    EXPECT_EQ(outs[0].account, c.account);
    EXPECT_EQ(BounceCategoryName(outs[0].category), c.category);
    EXPECT_EQ(OutcomeOriginName(outs[0].origin), c.account.empty() ? "unattributed" : "account");
    EXPECT_TRUE(outs[0].classified);
    EXPECT_EQ(outs[0].cut, c.name == std::string("cut_reply_still_counts"));
    EXPECT_EQ(outs[0].time, c.time);
    EXPECT_FALSE(outs[0].hop);
    const EngineStats& s = engine_->stats();
    EXPECT_EQ(s.lines, 1u);
    EXPECT_EQ(s.used, 1u);
    EXPECT_EQ(s.outcomes, c.counts == "deferred" ? 0u : 1u);
    EXPECT_EQ(s.unattributed, c.account.empty() && c.counts != "deferred" ? 1u : 0u);
  }
}

// ------------------------------------------------------------ garbage lines

TEST_F(FeedbackTest, GarbageLinesCountNothingAndAreTallied) {
  const std::string good = Sent("15:00:00", "1EB53A8C2E8", "ok@dest.test");
  struct Case {
    const char* name;
    std::string line;
    uint64_t malformed, bad_bytes, too_long;
  };
  const std::vector<Case> cases = {
      {"empty", "", 0, 0, 0},
      {"newline_only", "\n", 0, 0, 0},
      {"prose", "the quick brown fox", 0, 0, 0},
      {"other_program", "Nov 25 15:00:00 mta sshd[1]: Accepted publickey for root", 0, 0, 0},
      {"smtpd_connect", "Nov 25 15:00:00 mta postfix/smtpd[1]: connect from x[192.0.2.1]", 0, 0, 0},
      {"cut_delivery_line", good.substr(0, good.size() - 40), 1, 0, 0},
      {"nul_in_recipient",
       "Nov 25 15:00:00 mta postfix/smtp[1]: 1EB53A8C2E8: to=<ok\0@dest.test>, relay=none, "
       "delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)"s,
       0, 1, 0},
      {"invalid_utf8",
       "Nov 25 15:00:00 mta postfix/smtp[1]: 1EB53A8C2E8: to=<\xff@dest.test>, relay=none, "
       "delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)",
       0, 1, 0},
      {"too_long", good + std::string(70000, 'x'), 0, 0, 1},
      {"noqueue", "Nov 25 15:00:00 mta postfix/smtpd[1]: NOQUEUE: reject: RCPT from x", 0, 0, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TearDown();
    SetUp();
    Commit(Q("1EB53A8C2E8", "alice", kNow - 60));
    std::vector<Outcome> outs;
    const FeedbackBatch b = Run({c.line}, &outs);
    EXPECT_TRUE(b.events.empty()) << Show(b);
    EXPECT_TRUE(b.queue_puts.empty());
    EXPECT_TRUE(b.queue_stubs.empty());
    EXPECT_TRUE(outs.empty());
    const EngineStats& s = engine_->stats();
    EXPECT_EQ(s.lines, 1u);
    EXPECT_EQ(s.used, 0u);
    EXPECT_EQ(s.malformed, c.malformed);
    EXPECT_EQ(s.bad_bytes, c.bad_bytes);
    EXPECT_EQ(s.too_long, c.too_long);
  }
}

// ----------------------------------------------------------- journal entries

TEST_F(FeedbackTest, JournalEntriesUseTheirOwnTime) {
  Commit(Q("1EB53A8C2E8", "alice", kNow - 60));
  const std::string msg =
      "1EB53A8C2E8: to=<ok@dest.test>, relay=mx.dest.test[192.0.2.25]:25, delay=0.05, "
      "delays=0.01/0.01/0.01/0.02, dsn=2.0.0, status=sent (250 2.0.0 Ok)";
  FeedbackBatch b;
  b.now = kNow;
  ASSERT_TRUE(engine_->Process({RawLine{msg, "postfix/smtp", kNow - 5}}, kNow, &b, nullptr).ok());
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(b.events[0].account, "alice");
  EXPECT_EQ(b.events[0].time, kNow - 5);
  EXPECT_EQ(b.events[0].delta.delivered, 1u);
}

// RFC 3164 timestamps are local time of the zone in the settings.
TEST_F(FeedbackTest, SyslogTimestampsReadInTheConfiguredZone) {
  FeedbackSettings s;
  ASSERT_TRUE(cctz::load_time_zone("Europe/Berlin", &s.tz));  // UTC+1 in November
  engine_ = std::make_unique<FeedbackEngine>(store_.get(), rules_.get(), s);
  Commit(Q("1EB53A8C2E8", "alice", kNow - 60));
  std::vector<Outcome> outs;
  const FeedbackBatch b = Run({Sent("16:30:00", "1EB53A8C2E8", "ok@dest.test"),
                               // a timestamp that cannot be read falls back to `now`
                               "Nov 31 16:30:00 mta postfix/smtp[1]: 1EB53A8C2E8: to=<ok@dest.test>, "
                               "relay=none, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)"},
                              &outs);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0].time, At(15, 30, 0));
  EXPECT_EQ(outs[1].time, kNow);
  // Both on the same day: one event, with both counts and the later time.
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(b.events[0].delta.delivered, 2u);
  EXPECT_EQ(b.events[0].time, kNow);
}

// Counts are summed per (account, day); a hard bounce toward suppression
// keeps its own event, for its recipient.
TEST_F(FeedbackTest, CountsAreSummedPerAccountAndDay) {
  Commit(Q("1EB53A8C2E8", "alice", kNow - 2 * 86400));
  Commit(Q("2C4D6E8F0A1", "bob", kNow - 60));
  const FeedbackBatch b = Run({
      "Nov 23 10:00:00 mta postfix/smtp[1]: 1EB53A8C2E8: to=<a@dest.test>, relay=none, delay=0, "
      "delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)",
      Sent("15:00:00", "1EB53A8C2E8", "b@dest.test"),
      Sent("15:00:01", "2C4D6E8F0A1", "c@dest.test"),
      Sent("15:00:02", "1EB53A8C2E8", "d@dest.test"),
      UserUnknown("15:00:03", "1EB53A8C2E8", "dead@dest.test"),
      UserUnknown("15:00:04", "1EB53A8C2E8", "dead2@dest.test"),
  });
  std::map<std::pair<std::string, int64_t>, DayCountsRecord> sums;
  int own = 0;
  for (const auto& e : b.events) {
    if (!e.hard_recipient.empty()) {
      ++own;
      EXPECT_EQ(e.delta.hard, 1u);
      continue;
    }
    const auto key = std::make_pair(e.account, DayNumber(e.time));
    EXPECT_EQ(sums.count(key), 0u) << "two events for " << e.account << " on one day";
    sums[key] = e.delta;
  }
  EXPECT_EQ(own, 2);
  ASSERT_EQ(sums.size(), 3u) << Show(b);
  EXPECT_EQ((sums[{"alice", DayNumber(At(15, 0, 0))}].delivered), 2u);
  EXPECT_EQ((sums[{"bob", DayNumber(At(15, 0, 0))}].delivered), 1u);
  EXPECT_EQ((sums[{"alice", DayNumber(At(15, 0, 0)) - 2}].delivered), 1u);
}

// ------------------------------------------------- a message's whole life

TEST_F(FeedbackTest, MessageLifeRemovedTouchesOnlyOldEntries) {
  Commit(Q("1EB53A8C2E8", "alice", kNow - 3600, "<m1@sender.test>"));
  std::vector<Outcome> outs;
  const FeedbackBatch b = Run({MessageIdLine("15:00:00", "1EB53A8C2E8", "<m1@sender.test>"),
                               Active("15:00:00", "1EB53A8C2E8", "a@sender.test"),
                               Sent("15:00:01", "1EB53A8C2E8", "ok1@dest.test"),
                               UserUnknown("15:00:01", "1EB53A8C2E8", "dead@dest.test"),
                               Removed("15:00:02", "1EB53A8C2E8")},
                              &outs);
  EXPECT_TRUE(b.queue_stubs.empty()) << "the milter's entry exists: no stub";
  auto m = PerAccount(b);
  ASSERT_EQ(m.size(), 1u) << Show(b);
  EXPECT_EQ(Tie(m["alice"]), Tie(DayCountsRecord{1, 0, 1, 0, 0, 0, 0})) << Show(m["alice"]);
  EXPECT_TRUE(b.queue_puts.empty()) << "removed the day it was accepted: no rewrite";
  EXPECT_EQ(outs.size(), 2u);
  EXPECT_EQ(engine_->stats().outcomes, 2u);
  EXPECT_EQ(engine_->stats().unattributed, 0u);
}

// Queue-map entries expire 7 days after their last event; "removed" moves
// last_event only when that changes it by more than a day.
TEST_F(FeedbackTest, RemovedRewritesTheEntryWhenItMovesExpiryByMoreThanADay) {
  struct Case {
    const char* name;
    int64_t accepted, last_event;
    std::string removed_qid;
    bool want_put;
  };
  const int64_t t = At(15, 0, 2);
  const std::vector<Case> cases = {
      {"same_hour", t - 3600, 0, "1EB53A8C2E8", false},
      {"exactly_a_day", t - 86400, 0, "1EB53A8C2E8", false},
      {"a_day_and_a_second", t - 86401, 0, "1EB53A8C2E8", true},
      {"five_days_in_the_queue", t - 5 * 86400, 0, "1EB53A8C2E8", true},
      {"old_but_recent_last_event", t - 5 * 86400, t - 3600, "1EB53A8C2E8", false},
      {"unknown_queue_id", t - 5 * 86400, 0, "77777A8C2E8", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TearDown();
    SetUp();
    QueueEntry q = Q("1EB53A8C2E8", "alice", c.accepted, "<m1@sender.test>");
    q.last_event = c.last_event;
    Commit(q);
    const FeedbackBatch b = Run({Removed("15:00:02", c.removed_qid)});
    EXPECT_TRUE(b.events.empty());
    if (!c.want_put) {
      EXPECT_TRUE(b.queue_puts.empty());
      continue;
    }
    ASSERT_EQ(b.queue_puts.size(), 1u);
    EXPECT_EQ(b.queue_puts[0].queue_id, "1EB53A8C2E8");
    EXPECT_EQ(b.queue_puts[0].account, "alice");
    EXPECT_EQ(b.queue_puts[0].time, c.accepted);
    EXPECT_EQ(b.queue_puts[0].last_event, t);
    EXPECT_EQ(b.queue_puts[0].message_id, "<m1@sender.test>");
    Apply(b);
    EXPECT_EQ(store_->GetQueueEntry("1EB53A8C2E8").value()->last_event, t);
  }
}

// The milter commits the queue entry after cleanup logged message-id=: a
// stub may be proposed, but the store keeps the milter's entry, and the
// next chunk re-reads it.
TEST_F(FeedbackTest, StubBeforeTheMilterCommitDoesNotHideTheAccount) {
  const FeedbackBatch b1 = Run({MessageIdLine("15:00:00", "1EB53A8C2E8", "<m1@sender.test>")});
  ASSERT_EQ(b1.queue_stubs.size(), 1u);
  EXPECT_EQ(b1.queue_stubs[0].queue_id, "1EB53A8C2E8");
  EXPECT_EQ(b1.queue_stubs[0].account, "");
  EXPECT_EQ(b1.queue_stubs[0].message_id, "<m1@sender.test>");
  EXPECT_EQ(b1.queue_stubs[0].time, At(15, 0, 0));
  Commit(Q("1EB53A8C2E8", "alice", kNow - 3600, "<m1@sender.test>"));
  Apply(b1);
  EXPECT_EQ(store_->GetQueueEntry("1EB53A8C2E8").value()->account, "alice");
  const FeedbackBatch b2 = Run({Sent("15:00:01", "1EB53A8C2E8", "ok1@dest.test")});
  ASSERT_EQ(b2.events.size(), 1u);
  EXPECT_EQ(b2.events[0].account, "alice");
}

// ------------------------------------------------------ content-filter hops

TEST_F(FeedbackTest, ContentFilterHopIsNotCountedAndLinksTheNewQueueId) {
  Commit(Q("1EB53A8C2E8", "alice", kNow - 60, "<m1@sender.test>"));
  std::vector<Outcome> outs;
  // amavis reinjects on :10025 (cleanup logs the new id's message-id=)
  // before it answers our smtp client, which then logs "queued as".
  const FeedbackBatch b = Run(
      {MessageIdLine("15:00:00", "1EB53A8C2E8", "<m1@sender.test>"),
       MessageIdLine("15:00:01", "4A1B2C3D4E5", "<m1@sender.test>"),
       Delivery("15:00:01", "smtp", "1EB53A8C2E8", "r@dest.test", "127.0.0.1[127.0.0.1]:10024",
                "2.0.0", "sent", "250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 4A1B2C3D4E5"),
       Removed("15:00:01", "1EB53A8C2E8"),
       UserUnknown("15:00:02", "4A1B2C3D4E5", "r@dest.test")},
      &outs);
  auto m = PerAccount(b);
  ASSERT_EQ(m.size(), 1u) << Show(b);
  EXPECT_EQ(Tie(m["alice"]), Tie(DayCountsRecord{0, 0, 1, 0, 0, 0, 0})) << Show(m["alice"]);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_TRUE(outs[0].hop);
  EXPECT_FALSE(outs[1].hop);
  EXPECT_EQ(outs[1].account, "alice");
  const QueueEntry* next = FindPut(b.queue_puts, "4A1B2C3D4E5");
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->account, "alice");
  // The committed entry's recipients (Q's), not the delivery line's.
  EXPECT_EQ(next->recipients, std::vector<std::string>{"r@example.org"});
  EXPECT_EQ(engine_->stats().hops, 1u);
  EXPECT_EQ(engine_->stats().linked, 1u);
  EXPECT_EQ(engine_->stats().outcomes, 1u);
  EXPECT_EQ(engine_->stats().unattributed, 0u);
}

TEST_F(FeedbackTest, ContentFilterHopAcrossChunksAndARestart) {
  Commit(Q("1EB53A8C2E8", "alice", kNow - 60, "<m1@sender.test>"));
  // Chunk 1: the reinjected message's cleanup line, then the hop.
  FeedbackBatch b1 = Run({MessageIdLine("15:00:00", "4A1B2C3D4E5", "<m1@sender.test>"),
                          Sent("15:00:01", "1EB53A8C2E8", "r@dest.test",
                               "250 2.0.0 Ok: queued as 4A1B2C3D4E5")});
  EXPECT_TRUE(b1.events.empty()) << Show(b1);
  ASSERT_EQ(b1.queue_stubs.size(), 1u);
  ASSERT_NE(FindPut(b1.queue_puts, "4A1B2C3D4E5"), nullptr);
  // Chunk 2, same engine: from its cache.
  FeedbackBatch b2 = Run({Sent("15:00:02", "4A1B2C3D4E5", "r@dest.test")});
  ASSERT_EQ(b2.events.size(), 1u);
  EXPECT_EQ(b2.events[0].account, "alice");
  // After the batch is stored, a restarted tailer attributes from the store.
  Apply(b1);
  NewEngine();
  FeedbackBatch b3 = Run({Sent("15:00:03", "4A1B2C3D4E5", "r2@dest.test")});
  ASSERT_EQ(b3.events.size(), 1u);
  EXPECT_EQ(b3.events[0].account, "alice");
}

TEST_F(FeedbackTest, QueuedAsThatIsNotOursIsADelivery) {
  Commit(Q("1EB53A8C2E8", "alice", kNow - 60, "<m1@sender.test>"));
  struct Case {
    const char* name;
    std::string reply;
  };
  // A remote Postfix answers "queued as ITSID": a delivery like any other.
  const std::vector<Case> cases = {
      {"remote_postfix_id", "250 2.0.0 Ok: queued as 3B7C8A720CC"},
      {"remote_long_id", "250 2.0.0 Ok: queued as 4jZV3G6kF3z1bkqs"},
      {"own_id", "250 2.0.0 Ok: queued as 1EB53A8C2E8"},
      {"not_an_id", "250 2.0.0 Ok: queued as <abc@def>"},
      {"empty_after", "250 2.0.0 Ok: queued as "},
      {"noqueue", "250 2.0.0 Ok: queued as NOQUEUE"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<Outcome> outs;
    const FeedbackBatch b = Run({Sent("15:00:01", "1EB53A8C2E8", "r@dest.test", c.reply)}, &outs);
    ASSERT_EQ(b.events.size(), 1u);
    EXPECT_EQ(b.events[0].delta.delivered, 1u);
    ASSERT_EQ(outs.size(), 1u);
    EXPECT_FALSE(outs[0].hop);
  }
  EXPECT_EQ(engine_->stats().hops, 0u);
}

// Most "queued as" ids are other servers'. The store is asked for one the
// cache misses only while the cache may miss a hop's id: within an hour of
// the first line applied (a hop whose re-injected message was logged before
// a restart), not later; the hop itself is linked from the cache either way.
TEST_F(FeedbackTest, QueuedAsIdsAreReadFromTheStoreOnlyInTheFirstHour) {
  Commit(Q("1EB53A8C2E8", "alice", kNow - 7200, "<m1@sender.test>"));
  Commit(Q("2C4D6E8F0A1", "alice", kNow - 7200, "<m2@sender.test>"));
  // A hop whose new id was logged before a restart: a stub in the store.
  Apply(Run({MessageIdLine("13:59:59", "4A1B2C3D4E5", "<m1@sender.test>")}));
  NewEngine();
  FeedbackBatch b1 = Run({Sent("14:00:00", "1EB53A8C2E8", "r@dest.test",
                               "250 2.0.0 Ok: queued as 4A1B2C3D4E5"),
                          Sent("14:00:01", "1EB53A8C2E8", "s@dest.test",
                               "250 2.0.0 Ok: queued as 3B7C8A720CC")});
  EXPECT_EQ(engine_->stats().hops, 1u);
  EXPECT_EQ(engine_->stats().queue_reads, 3u);  // 1EB53A8C2E8 and both ids
  ASSERT_NE(FindPut(b1.queue_puts, "4A1B2C3D4E5"), nullptr);
  // An hour and more later: another server's id costs no read; a hop whose
  // new id was logged since is found in the cache.
  const uint64_t reads = engine_->stats().queue_reads;
  FeedbackBatch b2 = Run({MessageIdLine("15:00:01", "5B5B5B5B5B5", "<m2@sender.test>"),
                          Sent("15:00:02", "2C4D6E8F0A1", "r@dest.test",
                               "250 2.0.0 Ok: queued as 5B5B5B5B5B5"),
                          Sent("15:00:03", "2C4D6E8F0A1", "t@dest.test",
                               "250 2.0.0 Ok: queued as 6C6C6C6C6C6")});
  EXPECT_EQ(engine_->stats().queue_reads, reads + 2);  // 2C4D6E8F0A1 and 5B5B5B5B5B5 (stub)
  EXPECT_EQ(engine_->stats().hops, 2u);
  const QueueEntry* next = FindPut(b2.queue_puts, "5B5B5B5B5B5");
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->account, "alice");
  ASSERT_EQ(b2.events.size(), 1u) << Show(b2);
  EXPECT_EQ(b2.events[0].delta.delivered, 1u);  // t@dest.test; r@ was a hop
}

// The re-injected copy can be delivered and removed before the content
// filter's answer ("queued as NEWID") reaches the log, in an earlier chunk:
// NEWID has left the cache, and an hour after the first line the store is
// not asked; the answer is a hop all the same, and the message counts once.
TEST_F(FeedbackTest, HopLoggedAfterItsCopyWasRemovedIsStillAHop) {
  Commit(Q("1EB53A8C2E8", "alice", kNow - 7200, "<m1@sender.test>"));
  Run({Removed("13:00:00", "9F9F9F9F9F9")});  // the engine's first line, two hours earlier
  FeedbackBatch b1 = Run({MessageIdLine("15:00:00", "1EB53A8C2E8", "<m1@sender.test>"),
                          MessageIdLine("15:00:01", "4A1B2C3D4E5", "<m1@sender.test>"),
                          Sent("15:00:02", "4A1B2C3D4E5", "r@dest.test"),
                          Removed("15:00:02", "4A1B2C3D4E5")});
  ASSERT_EQ(b1.events.size(), 1u) << Show(b1);
  EXPECT_EQ(b1.events[0].account, "alice");  // linked by its Message-ID
  EXPECT_EQ(b1.events[0].delta.delivered, 1u);
  std::vector<Outcome> outs;
  FeedbackBatch b2 = Run({Delivery("15:00:03", "smtp", "1EB53A8C2E8", "r@dest.test",
                                   "127.0.0.1[127.0.0.1]:10024", "2.0.0", "sent",
                                   "250 2.0.0 Ok: queued as 4A1B2C3D4E5"),
                          Removed("15:00:03", "1EB53A8C2E8")},
                         &outs);
  EXPECT_TRUE(b2.events.empty()) << Show(b2);
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_TRUE(outs[0].hop);
  EXPECT_EQ(engine_->stats().hops, 1u);
  EXPECT_EQ(engine_->stats().outcomes, 1u);
}

// A hop from an unattributed message leaves the new queue id a stub: its
// outcomes are then linked by Message-ID, if anything.
TEST_F(FeedbackTest, HopFromAnUnattributedMessageLinksNothing) {
  std::vector<Outcome> outs;
  const FeedbackBatch b =
      Run({MessageIdLine("15:00:00", "4A1B2C3D4E5", "<m9@sender.test>"),
           Sent("15:00:01", "1EB53A8C2E8", "r@dest.test", "250 2.0.0 Ok: queued as 4A1B2C3D4E5"),
           Sent("15:00:02", "4A1B2C3D4E5", "r@dest.test")},
          &outs);
  ASSERT_EQ(b.events.size(), 1u) << Show(b);
  EXPECT_EQ(b.events[0].account, "");
  EXPECT_EQ(FindPut(b.queue_puts, "4A1B2C3D4E5"), nullptr);
  EXPECT_EQ(engine_->stats().hops, 1u);
  EXPECT_EQ(engine_->stats().linked, 0u);
  EXPECT_EQ(engine_->stats().unattributed, 1u);
}

// -------------------------------------------------------- Message-ID links

// A pipe(8) content filter ([tail] filter_transports) that re-injects with
// sendmail: its "sent" is a hop, and the re-injected copy (new queue id,
// same Message-ID) is counted once, for the account. Without the setting the
// same log counts two deliveries (the pipe's and the final one).
TEST_F(FeedbackTest, PipeContentFilterHopIsCountedOnce) {
  const std::vector<std::string> log = {
      MessageIdLine("15:00:00", "1EB53A8C2E8", "<m@s.test>"),
      Delivery("15:00:01", "pipe", "1EB53A8C2E8", "r@dest.test", "dfilt", "2.0.0", "sent",
               "delivered via dfilt service"),
      Removed("15:00:01", "1EB53A8C2E8"),
      MessageIdLine("15:00:02", "4A1B2C3D4E5", "<m@s.test>"),
      Sent("15:00:03", "4A1B2C3D4E5", "r@dest.test"),
  };
  for (const bool configured : {true, false}) {
    SCOPED_TRACE(configured ? "filter_transports = [\"dfilt\"]" : "not configured");
    TearDown();
    SetUp();
    FeedbackSettings s;
    if (configured) s.filter_transports = {"amavis", "dfilt"};
    engine_ = std::make_unique<FeedbackEngine>(store_.get(), rules_.get(), s);
    Commit(Q("1EB53A8C2E8", "alice", kNow - 60, "<m@s.test>"));
    std::vector<Outcome> outs;
    const FeedbackBatch b = Run(log, &outs);
    uint64_t delivered = 0;
    for (const auto& e : b.events) {
      EXPECT_EQ(e.account, "alice");
      delivered += e.delta.delivered;
    }
    ASSERT_EQ(outs.size(), 2u);
    EXPECT_EQ(outs[0].hop, configured);
    EXPECT_EQ(outs[1].account, "alice");  // linked by its Message-ID
    EXPECT_EQ(delivered, configured ? 1u : 2u);
    EXPECT_EQ(engine_->stats().hops, configured ? 1u : 0u);
    EXPECT_EQ(engine_->stats().linked, 1u);
  }
}

// As Postfix really logs it: pipe(8) logs the hop when sendmail returns,
// after the re-injected copy may already be delivered and removed.
TEST_F(FeedbackTest, PipeContentFilterHopLoggedAfterTheCopy) {
  FeedbackSettings s;
  s.filter_transports = {"dfilt"};
  engine_ = std::make_unique<FeedbackEngine>(store_.get(), rules_.get(), s);
  Commit(Q("1EB53A8C2E8", "alice", kNow - 60, "<m@s.test>"));
  std::vector<Outcome> outs;
  const FeedbackBatch b = Run(
      {MessageIdLine("15:00:00", "1EB53A8C2E8", "<m@s.test>"),
       MessageIdLine("15:00:01", "4A1B2C3D4E5", "<m@s.test>"),
       Sent("15:00:01", "4A1B2C3D4E5", "r@dest.test"), Removed("15:00:01", "4A1B2C3D4E5"),
       Delivery("15:00:02", "pipe", "1EB53A8C2E8", "r@dest.test", "dfilt", "2.0.0", "sent",
                "delivered via dfilt service"),
       Removed("15:00:02", "1EB53A8C2E8")},
      &outs);
  ASSERT_EQ(b.events.size(), 1u) << Show(b);
  EXPECT_EQ(b.events[0].account, "alice");
  EXPECT_EQ(b.events[0].delta.delivered, 1u);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0].account, "alice");  // the copy, linked by its Message-ID
  EXPECT_TRUE(outs[1].hop);
}

// A "sent" through a pipe transport that is not a listed filter (a real
// delivery, e.g. to a list manager) is a delivery.
TEST_F(FeedbackTest, PipeDeliveryThatIsNotAFilterIsADelivery) {
  FeedbackSettings s;
  s.filter_transports = {"dfilt"};
  engine_ = std::make_unique<FeedbackEngine>(store_.get(), rules_.get(), s);
  Commit(Q("1EB53A8C2E8", "alice", kNow - 60));
  const FeedbackBatch b =
      Run({Delivery("15:00:01", "pipe", "1EB53A8C2E8", "list@dest.test", "mailman", "2.0.0",
                    "sent", "delivered via mailman service"),
           // the same transport name from another agent is not a pipe filter
           Delivery("15:00:02", "smtp", "1EB53A8C2E8", "r@dest.test", "dfilt", "2.0.0", "sent",
                    "250 2.0.0 ok")});
  ASSERT_EQ(b.events.size(), 1u) << Show(b);
  EXPECT_EQ(b.events[0].delta.delivered, 2u);
  EXPECT_EQ(engine_->stats().hops, 0u);
}

// A stub whose Message-ID matches no recorded message is searched for once,
// not at every line of it (nor at every chunk).
TEST_F(FeedbackTest, UnlinkableStubIsSearchedOnce) {
  Run({MessageIdLine("15:00:00", "4A1B2C3D4E5", "<nobody@s.test>"),
       Deferred("15:00:01", "4A1B2C3D4E5", "a@dest.test"),
       Sent("15:00:02", "4A1B2C3D4E5", "b@dest.test")});
  Run({Sent("15:00:03", "4A1B2C3D4E5", "c@dest.test"),
       UserUnknown("15:00:04", "4A1B2C3D4E5", "d@dest.test")});
  EXPECT_EQ(engine_->stats().link_lookups, 1u);
  EXPECT_EQ(engine_->stats().linked, 0u);
  EXPECT_EQ(engine_->stats().unattributed, 3u);
}

TEST_F(FeedbackTest, StubIsLinkedByMessageIdToTheNewestAccountInTheWindow) {
  struct Case {
    const char* name;
    std::vector<QueueEntry> entries;  // committed by "the milter"
    std::string message_id;           // of the re-queued message
    std::string want_account;         // "" = unattributed
    std::string want_forwarded;       // queue id marked forwarded
  };
  const std::vector<Case> cases = {
      {"one_origin", {Q("1EB53A8C2E8", "alice", kNow - 3600, "<m@s.test>")}, "<m@s.test>",
       "alice", "1EB53A8C2E8"},
      {"newest_wins",
       {Q("1EB53A8C2E8", "alice", kNow - 7200, "<m@s.test>"),
        Q("2EB53A8C2E8", "bob", kNow - 3600, "<m@s.test>")},
       "<m@s.test>", "bob", "2EB53A8C2E8"},
      {"newest_wins_whatever_the_key_order",
       {Q("2EB53A8C2E8", "alice", kNow - 7200, "<m@s.test>"),
        Q("1EB53A8C2E8", "bob", kNow - 3600, "<m@s.test>")},
       "<m@s.test>", "bob", "1EB53A8C2E8"},
      {"outside_two_day_window", {Q("1EB53A8C2E8", "alice", At(15, 0, 0) - 2 * 86400 - 1, "<m@s.test>")},
       "<m@s.test>", "", ""},
      {"just_inside_window", {Q("1EB53A8C2E8", "alice", At(15, 0, 0) - 2 * 86400, "<m@s.test>")},
       "<m@s.test>", "alice", "1EB53A8C2E8"},
      {"newer_outside_window_skipped_older_not",  // (both are older than 2 days: none)
       {Q("1EB53A8C2E8", "alice", kNow - 5 * 86400, "<m@s.test>"),
        Q("2EB53A8C2E8", "bob", kNow - 4 * 86400, "<m@s.test>")},
       "<m@s.test>", "", ""},
      {"other_message_id", {Q("1EB53A8C2E8", "alice", kNow - 3600, "<m@s.test>")}, "<m@s.test>x",
       "", ""},
      {"empty_angle_never_links", {Q("1EB53A8C2E8", "alice", kNow - 3600, "<>")}, "<>", "", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TearDown();
    SetUp();
    for (const auto& q : c.entries) Commit(q);
    std::vector<Outcome> outs;
    const FeedbackBatch b = Run({MessageIdLine("15:00:00", "4A1B2C3D4E5", c.message_id),
                                 UserUnknown("15:00:02", "4A1B2C3D4E5", "x@dest.test")},
                                &outs);
    ASSERT_EQ(b.events.size(), 1u) << Show(b);
    EXPECT_EQ(b.events[0].account, c.want_account);
    EXPECT_EQ(b.events[0].delta.hard, 1u);
    const QueueEntry* stub = FindPut(b.queue_puts, "4A1B2C3D4E5");
    if (c.want_account.empty()) {
      EXPECT_EQ(stub, nullptr);
      EXPECT_EQ(engine_->stats().linked, 0u);
      EXPECT_EQ(engine_->stats().unattributed, 1u);
    } else {
      ASSERT_NE(stub, nullptr);
      EXPECT_EQ(stub->account, c.want_account);
      EXPECT_EQ(stub->message_id, c.message_id);
      const QueueEntry* origin = FindPut(b.queue_puts, c.want_forwarded);
      ASSERT_NE(origin, nullptr);
      EXPECT_TRUE(origin->forwarded);
      EXPECT_EQ(origin->account, c.want_account);
      EXPECT_EQ(engine_->stats().linked, 1u);
      EXPECT_EQ(engine_->stats().unattributed, 0u);
    }
    // Stored, the link holds for a restarted tailer too.
    Apply(b);
    NewEngine();
    const FeedbackBatch b2 = Run({Sent("15:00:03", "4A1B2C3D4E5", "y@dest.test")});
    ASSERT_EQ(b2.events.size(), 1u);
    EXPECT_EQ(b2.events[0].account, c.want_account);
  }
}

// The engine's cache is cleared when it reaches 200,000 entries. A Message-ID
// link that remembers its origin entry at that moment clears the cache under
// the caller, which then reads the stub's entry through a dangling pointer
// (feedback.cc: Link -> Remember -> cache_.clear(), then Process reads
// c->stub / c->entry.account). ASan: heap-use-after-free.
TEST_F(FeedbackTest, CacheFullDuringAMessageIdLinkKeepsTheAttribution) {
  Commit(Q("1EB53A8C2E8", "alice", kNow - 60, "<m@s.test>"));
  std::vector<std::string> lines;
  lines.reserve(200001);
  for (int i = 0; i < 199999; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "B%09X", i);
    lines.push_back(MessageIdLine("15:00:00", id, "<f" + std::to_string(i) + "@s.test>"));
  }
  lines.push_back(MessageIdLine("15:00:00", "4A1B2C3D4E5", "<m@s.test>"));  // the 200,000th
  lines.push_back(UserUnknown("15:00:02", "4A1B2C3D4E5", "x@dest.test"));
  const FeedbackBatch b = Run(lines);
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(b.events[0].account, "alice");
  EXPECT_EQ(engine_->stats().linked, 1u);
}

// ------------------------------------------------ Postfix's own notices

TEST_F(FeedbackTest, PostfixsOwnNoticesAreNotCounted) {
  const std::string Q1 = "1EB53A8C2E8", N = "4A1B2C3D4E5";
  struct Case {
    const char* name;
    std::vector<std::string> lines;
    bool milter_saw_notice;  // the notice's queue id is in the queue map
    DayCountsRecord want_alice, want_unattributed;
    size_t notice_outcomes;  // outcomes shown with origin "postfix-notice"
  };
  const std::vector<Case> cases = {
      {"notification_then_delivery",
       {UserUnknown("15:00:00", Q1, "dead@dest.test"), Notification("15:00:00", Q1, N),
        Active("15:00:00", N, ""), Sent("15:00:01", N, "a@sender.test"), Removed("15:00:01", N)},
       false, {0, 0, 1, 0, 0, 0, 0}, {}, 1},
      {"delivery_logged_before_notification",
       {UserUnknown("15:00:00", Q1, "dead@dest.test"), Active("15:00:00", N, ""),
        Sent("15:00:01", N, "a@sender.test"), Notification("15:00:01", Q1, N)},
       false, {0, 0, 1, 0, 0, 0, 0}, {}, 1},
      {"notification_without_queue_active_line",
       {UserUnknown("15:00:00", Q1, "dead@dest.test"), Notification("15:00:00", Q1, N),
        Deferred("15:00:01", N, "a@sender.test"), UserUnknown("15:00:02", N, "a@sender.test")},
       false, {0, 0, 1, 0, 0, 0, 0}, {}, 2},
      // notify_classes = bounce: the postmaster's copy is Postfix's own mail too.
      {"postmaster_copy",
       {UserUnknown("15:00:00", Q1, "dead@dest.test"),
        Line("15:00:00", "postfix/bounce", Q1 + ": postmaster non-delivery notification: " + N),
        Sent("15:00:01", N, "postmaster@mta.test")},
       false, {0, 0, 1, 0, 0, 0, 0}, {}, 1},
      {"null_sender_the_milter_never_saw",
       {Active("15:00:00", N, ""), UserUnknown("15:00:01", N, "a@sender.test")},
       false, {}, {}, 1},
      {"null_sender_the_milter_saw_is_counted",
       {Active("15:00:00", N, ""), UserUnknown("15:00:01", N, "a@sender.test")},
       true, {0, 0, 1, 0, 0, 0, 0}, {}, 0},
      {"notice_expiring_is_not_counted",
       {Notification("15:00:00", Q1, N), Deferred("15:00:01", N, "a@sender.test"),
        Expired("15:00:02", N, "")},
       false, {}, {}, 2},
      {"no_sign_of_a_notice_is_unattributed",
       {Sent("15:00:01", N, "a@sender.test")}, false, {}, {1, 0, 0, 0, 0, 0, 0}, 0},
      {"removed_forgets_null_sender",
       {Active("15:00:00", N, ""), Removed("15:00:01", N), Sent("15:00:02", N, "x@dest.test")},
       false, {}, {1, 0, 0, 0, 0, 0, 0}, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TearDown();
    SetUp();
    Commit(Q(Q1, "alice", kNow - 60));
    if (c.milter_saw_notice) Commit(Q(N, "alice", kNow - 60));
    std::vector<Outcome> outs;
    const FeedbackBatch b = Run(c.lines, &outs);
    auto m = PerAccount(b);
    EXPECT_EQ(Tie(m["alice"]), Tie(c.want_alice)) << Show(b);
    EXPECT_EQ(Tie(m[""]), Tie(c.want_unattributed)) << Show(b);
    if (!c.milter_saw_notice) {
      for (const auto& e : b.events) EXPECT_NE(e.hard_recipient, "a@sender.test");
    }
    // Every outcome line is shown, in order; the notice's with account ""
    // and its origin.
    std::vector<std::string> want_lines;
    for (const auto& l : c.lines) {
      if (l.find("status=") != std::string::npos) want_lines.push_back(l);
    }
    ASSERT_EQ(outs.size(), want_lines.size());
    size_t notices = 0;
    for (size_t i = 0; i < outs.size(); ++i) {
      EXPECT_NE(want_lines[i].find(outs[i].queue_id + ": "), std::string::npos) << i;
      if (outs[i].origin == OutcomeOrigin::kPostfixNotice) {
        ++notices;
        EXPECT_EQ(outs[i].queue_id, N);
        EXPECT_EQ(outs[i].account, "");
        EXPECT_TRUE(outs[i].classified);
      }
    }
    EXPECT_EQ(notices, c.notice_outcomes);
  }
}

// --print shows each deferral of a recipient (Postfix retries and logs each
// attempt), also across chunks, and the counts are what they are without it.
TEST_F(FeedbackTest, RepeatedDeferralsEachShownCountsUnchanged) {
  const std::string Q1 = "1EB53A8C2E8";
  const std::vector<std::vector<std::string>> chunks = {
      {Deferred("15:00:00", Q1, "d@down.test"), Deferred("15:05:00", Q1, "d@down.test")},
      {Deferred("15:15:00", Q1, "d@down.test"), Sent("15:35:00", Q1, "d@down.test"),
       Removed("15:35:00", Q1)},
  };
  Commit(Q(Q1, "alice", kNow - 3600));
  std::vector<Outcome> outs;
  std::vector<std::string> with, without;
  for (const auto& c : chunks) with.push_back(Show(Run(c, &outs)));
  ASSERT_EQ(outs.size(), 4u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(outs[i].status, "deferred");
    EXPECT_EQ(outs[i].recipient, "d@down.test");
    EXPECT_EQ(outs[i].account, "alice");
  }
  EXPECT_EQ(outs[0].time, At(15, 0, 0));
  EXPECT_EQ(outs[2].time, At(15, 15, 0));
  EXPECT_EQ(outs[3].status, "sent");
  NewEngine();
  for (const auto& c : chunks) without.push_back(Show(Run(c)));
  EXPECT_EQ(with, without);
}

// A line cut at 2000 bytes does not take the next line with it: both are
// read, and the cut one is counted as cut.
TEST_F(FeedbackTest, CutLineThenTheNextLine) {
  const std::string Q1 = "1EB53A8C2E8";
  Commit(Q(Q1, "alice", kNow - 3600));
  std::vector<Outcome> outs;
  const FeedbackBatch b =
      Run({CutUserUnknown("15:00:00", Q1, "dead@dest.test"), Sent("15:00:01", Q1, "ok@dest.test")},
          &outs);
  auto m = PerAccount(b);
  EXPECT_EQ(Tie(m["alice"]), Tie(DayCountsRecord{1, 0, 1, 0, 0, 0, 0})) << Show(b);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_TRUE(outs[0].cut);
  EXPECT_FALSE(outs[1].cut);
  EXPECT_EQ(outs[1].recipient, "ok@dest.test");
  EXPECT_EQ(engine_->stats().cut, 1u);
  EXPECT_EQ(engine_->stats().malformed, 0u);
}

// The notice's queue id from an earlier chunk still keeps its later lines out.
TEST_F(FeedbackTest, NoticeRememberedAcrossChunks) {
  Commit(Q("1EB53A8C2E8", "alice", kNow - 60));
  Run({Notification("15:00:00", "1EB53A8C2E8", "4A1B2C3D4E5")});
  const FeedbackBatch b = Run({Sent("15:00:01", "4A1B2C3D4E5", "a@sender.test")});
  EXPECT_TRUE(b.events.empty()) << Show(b);
  // ... until it is removed: a later message may reuse the id.
  Run({Removed("15:00:02", "4A1B2C3D4E5")});
  const FeedbackBatch b2 = Run({Sent("15:30:00", "4A1B2C3D4E5", "a@sender.test")});
  EXPECT_EQ(b2.events.size(), 1u);
}

// ------------------------------------------------------------------ expiry

TEST_F(FeedbackTest, ExpiredCountsTheRecipientsStillDeferred) {
  const std::string Q1 = "1EB53A8C2E8";
  struct Case {
    const char* name;
    std::vector<std::string> lines;
    uint64_t want_expired;
  };
  const std::vector<Case> cases = {
      {"three_deferred_one_delivered_later",
       {Deferred("10:00:00", Q1, "r1@dest.test"), Deferred("10:00:00", Q1, "r2@dest.test"),
        Deferred("10:00:00", Q1, "r3@dest.test"), Deferred("11:00:00", Q1, "r1@dest.test"),
        Sent("12:00:00", Q1, "r3@dest.test"), Expired("15:00:00", Q1, "a@sender.test")},
       2},
      {"bounced_after_deferral_is_final",
       {Deferred("10:00:00", Q1, "r1@dest.test"), UserUnknown("11:00:00", Q1, "r1@dest.test"),
        Deferred("10:00:00", Q1, "r2@dest.test"), Expired("15:00:00", Q1, "a@sender.test")},
       1},
      {"no_deferral_seen_counts_one", {Expired("15:00:00", Q1, "a@sender.test")}, 1},
      {"force_expired",
       {Deferred("10:00:00", Q1, "r1@dest.test"),
        Line("15:00:00", "postfix/qmgr", Q1 + ": from=<a@sender.test>, status=force-expired, returned to sender")},
       1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TearDown();
    SetUp();
    Commit(Q(Q1, "alice", kNow - 86400));
    std::vector<Outcome> outs;
    const FeedbackBatch b = Run(c.lines, &outs);
    uint64_t expired = 0;
    for (const auto& e : b.events) {
      EXPECT_EQ(e.account, "alice");
      if (e.delta.expired != 0) {
        expired += e.delta.expired;
        EXPECT_EQ(e.time, At(15, 0, 0));
      }
    }
    EXPECT_EQ(expired, c.want_expired) << Show(b);
    ASSERT_FALSE(outs.empty());
    EXPECT_EQ(outs.back().status, "expired");
    EXPECT_EQ(outs.back().cls, OutcomeClass::kExpired);
    EXPECT_EQ(outs.back().category, BounceCategory::kExpired);  // qmgr's expiry: category too
  }
}

TEST_F(FeedbackTest, ExpiredAfterTheDeferralsOfAnEarlierChunk) {
  Commit(Q("1EB53A8C2E8", "alice", kNow - 86400));
  Run({Deferred("10:00:00", "1EB53A8C2E8", "r1@dest.test"),
       Deferred("10:00:00", "1EB53A8C2E8", "r2@dest.test")});
  const FeedbackBatch b = Run({Expired("15:00:00", "1EB53A8C2E8", "a@sender.test")});
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(b.events[0].delta.expired, 2u);
  EXPECT_EQ(engine_->stats().outcomes, 2u);
}

// The recipients still deferred are written with each batch (and deleted
// when final): a tailer restarted between the deferrals and the expiry reads
// them back (Store::GetDeferred) and counts them all, not one.
TEST_F(FeedbackTest, ExpiredAfterARestartCountsTheStoredDeferrals) {
  auto restart = [&] {
    NewEngine();
    auto stored = store_->GetDeferred(FeedbackEngine::kMaxPendingMessages);
    ASSERT_TRUE(stored.ok());
    engine_->RestorePending(stored.value(), kNow);
  };
  Commit(Q("1EB53A8C2E8", "alice", kNow - 86400));
  const FeedbackBatch b1 = Run({Deferred("10:00:00", "1EB53A8C2E8", "r1@dest.test"),
                                Deferred("10:00:00", "1EB53A8C2E8", "r2@dest.test"),
                                Deferred("10:00:00", "1EB53A8C2E8", "r3@dest.test"),
                                Deferred("11:00:00", "1EB53A8C2E8", "r1@dest.test")});
  ASSERT_EQ(b1.deferred.size(), 1u);  // once per chunk, as it stands at its end
  EXPECT_EQ(b1.deferred[0].queue_id, "1EB53A8C2E8");
  EXPECT_EQ(b1.deferred[0].recipients,
            (std::vector<std::string>{"r1@dest.test", "r2@dest.test", "r3@dest.test"}));
  Apply(b1);
  restart();
  const FeedbackBatch b2 = Run({Sent("12:00:00", "1EB53A8C2E8", "r3@dest.test"),
                               Sent("12:00:00", "1EB53A8C2E8", "other@dest.test")});
  ASSERT_EQ(b2.deferred.size(), 1u);
  EXPECT_EQ(b2.deferred[0].recipients, (std::vector<std::string>{"r1@dest.test", "r2@dest.test"}));
  Apply(b2);
  restart();
  const FeedbackBatch b3 = Run({Expired("15:00:00", "1EB53A8C2E8", "a@sender.test")});
  uint64_t expired = 0;
  for (const auto& e : b3.events) expired += e.delta.expired;
  EXPECT_EQ(expired, 2u) << Show(b3);
  ASSERT_EQ(b3.deferred.size(), 1u);
  EXPECT_TRUE(b3.deferred[0].recipients.empty());  // deleted
  Apply(b3);
  auto left = store_->GetDeferred(10);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left.value().empty());
  // Lines that change nothing write nothing.
  restart();
  EXPECT_TRUE(Run({Sent("15:00:01", "1EB53A8C2E8", "r9@dest.test")}).deferred.empty());
}

// A stored record older than a week lost its "removed" line: dropped at
// start and deleted with the next batch.
TEST_F(FeedbackTest, StaleStoredDeferralsAreDeleted) {
  DeferredRecord old{"1EB53A8C2E8", kNow - 8 * 86400, {"r1@dest.test"}};
  DeferredRecord fresh{"2C4D6E8F0A1", kNow - 86400, {"r2@dest.test"}};
  engine_->RestorePending({old, fresh}, kNow);
  const FeedbackBatch b = Run({"not a postfix line"});
  ASSERT_EQ(b.deferred.size(), 1u);
  EXPECT_EQ(b.deferred[0].queue_id, "1EB53A8C2E8");
  EXPECT_TRUE(b.deferred[0].recipients.empty());
  const FeedbackBatch e = Run({Expired("15:00:00", "2C4D6E8F0A1", "a@sender.test")});
  uint64_t expired = 0;
  for (const auto& ev : e.events) expired += ev.delta.expired;
  EXPECT_EQ(expired, 1u);
}

// ---------------------------------------------------- no store: unattributed

TEST_F(FeedbackTest, WithoutAStoreEverythingIsUnattributed) {
  NewEngine(/*with_store=*/false);
  std::vector<Outcome> outs;
  const FeedbackBatch b =
      Run({MessageIdLine("15:00:00", "1EB53A8C2E8", "<m1@sender.test>"),
           Sent("15:00:01", "1EB53A8C2E8", "ok@dest.test"),
           UserUnknown("15:00:01", "1EB53A8C2E8", "dead@dest.test"),
           Deferred("15:00:01", "1EB53A8C2E8", "d@dest.test"), Removed("15:00:02", "1EB53A8C2E8")},
          &outs);
  auto m = PerAccount(b);
  ASSERT_EQ(m.size(), 1u) << Show(b);
  EXPECT_EQ(Tie(m[""]), Tie(DayCountsRecord{1, 1, 1, 0, 0, 0, 0})) << Show(m[""]);
  EXPECT_EQ(b.queue_stubs.size(), 1u);
  EXPECT_TRUE(b.queue_puts.empty());
  EXPECT_EQ(engine_->stats().outcomes, 2u);
  EXPECT_EQ(engine_->stats().unattributed, 2u);
  EXPECT_EQ(outs.size(), 3u);
  // The hard bounce still counts toward suppressing the address.
  bool hard = false;
  for (const auto& e : b.events) hard = hard || e.hard_recipient == "dead@dest.test";
  EXPECT_TRUE(hard);
}

// ------------------------------------------------- through to the store

TEST_F(FeedbackTest, BatchAppliedWithPositionCountsAndSuppressions) {
  // Three messages of alice, each hard-bouncing at the same address: the
  // third bounce suppresses it globally.
  std::vector<std::string> lines;
  for (int i = 1; i <= 3; ++i) {
    const std::string qid = std::to_string(i) + "EB53A8C2E8";
    Commit(Q(qid, "alice", kNow - 3 * 86400));  // long in the queue: "removed" touches it
    lines.push_back(Sent("15:00:0" + std::to_string(i), qid, "ok@dest.test"));
    lines.push_back(UserUnknown("15:00:0" + std::to_string(i), qid, "Dead@Dest.test"));
    lines.push_back(Removed("15:00:0" + std::to_string(i), qid));
  }
  lines.push_back(Sent("15:00:09", "99999A8C2E8", "x@dest.test"));  // unattributed
  FeedbackBatch b = Run(lines);
  b.source = "file:/var/log/mail.log";
  b.position = "ino=5 off=1234";
  b.suppress_after = 3;
  const FeedbackResult r = Apply(b);
  ASSERT_EQ(r.suppressed.size(), 1u);
  EXPECT_EQ(r.suppressed[0].address, "dead@dest.test");
  EXPECT_EQ(r.suppressed[0].account, "");
  EXPECT_EQ(*store_->GetPosition("file:/var/log/mail.log").value(), "ino=5 off=1234");
  auto days = store_->GetDays("alice", kToday, kToday).value();
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(Tie(days[0].second), Tie(DayCountsRecord{3, 0, 3, 0, 0, 0, 0})) << Show(days[0].second);
  auto un = store_->GetDays("", kToday, kToday).value();
  ASSERT_EQ(un.size(), 1u);
  EXPECT_EQ(un[0].second.delivered, 1u);
  EXPECT_EQ(store_->GetBounces("dead@dest.test").value()->count, 3u);
  EXPECT_EQ(store_->GetBounces("dead@dest.test").value()->last_account, "alice");
  EXPECT_TRUE(store_->FindSuppression("bob", "dead@dest.test").value().has_value());
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(store_->GetQueueEntry(std::to_string(i) + "EB53A8C2E8").value()->last_event,
              At(15, 0, i));
  }
  // The review ran for alice (a record with the tier state), not for "".
  auto alice = store_->GetAccount("alice").value();
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->rated_through, kToday - 1);
  EXPECT_EQ(alice->status, AccountStatus::kActive);
}

// --------------------------------------------------------------- reviews

DayCountsRecord Day(uint64_t delivered, uint64_t hard = 0, uint64_t complaints = 0) {
  return DayCountsRecord{delivered, 0, hard, 0, 0, 0, complaints};
}

AccountRecord Account(int64_t created = kNow - 400 * 86400) {
  AccountRecord a;
  a.name = "alice";
  a.created = created;
  return a;
}

TEST(feedback_review, TierAndSuspension) {
  const ReputationConfig cfg;
  StoredDays clean_week;
  for (int d = 7; d >= 1; --d) clean_week.emplace_back(kToday - d, Day(200));
  StoredDays heavy_complaints = {{kToday, Day(2000, 0, 3)}};
  StoredDays heavy_hard = {{kToday - 1, Day(850, 150)}};
  struct Case {
    const char* name;
    AccountRecord account;
    StoredDays days;
    uint64_t batch_complaints;
    int want_tier;
    AccountStatus want_status;
    std::string want_reason_prefix;  // of status_reason when suspended
    std::vector<std::string> want_audit;
  };
  AccountRecord seasoned = Account();
  seasoned.rated_through = kToday - 8;
  AccountRecord brand_new = Account(kNow - 3600);  // created today: no day judged yet
  AccountRecord suspended = Account();
  suspended.status = AccountStatus::kSuspended;
  suspended.status_reason = "by hand";
  suspended.rated_through = kToday - 1;
  AccountRecord reinstated = Account();
  reinstated.status = AccountStatus::kReinstated;
  reinstated.status_reason = "old";
  reinstated.reinstated_until = kNow + 86400;
  reinstated.rated_through = kToday - 1;
  AccountRecord reinstated_with_since = reinstated;
  reinstated_with_since.status = AccountStatus::kActive;
  reinstated_with_since.rates_since = kNow - 3600;  // operator reinstated today: old days ignored
  AccountRecord tier5 = seasoned;
  tier5.tier = 5;
  const std::vector<Case> cases = {
      {"seven_clean_days_step_up", seasoned, clean_week, 0, 2, AccountStatus::kActive, "", {"tier"}},
      {"tier_capped_at_five", tier5, clean_week, 0, 5, AccountStatus::kActive, "", {}},
      {"new_account_days_before_creation_not_judged", brand_new, clean_week, 0, 1,
       AccountStatus::kActive, "", {}},
      {"complaint_rate_suspends", seasoned, heavy_complaints, 0, 1, AccountStatus::kSuspended,
       "complaint-rate: ", {"suspend"}},
      {"hard_rate_suspends_and_bad_day_keeps_tier_one", seasoned, heavy_hard, 0, 1,
       AccountStatus::kSuspended, "hard-bounce-rate: ", {"suspend"}},
      {"below_min_volume", seasoned, {{kToday, Day(500, 400, 5)}}, 0, 1, AccountStatus::kActive,
       "", {}},
      {"already_suspended_stays_as_is", suspended, heavy_complaints, 3, 1,
       AccountStatus::kSuspended, "by hand", {}},
      {"reinstated_any_new_complaint_suspends", reinstated, {{kToday, Day(10, 0, 1)}}, 1, 1,
       AccountStatus::kSuspended, "complaint-while-reinstated: ", {"suspend"}},
      {"reinstated_no_new_complaint", reinstated, {{kToday, Day(10, 0, 1)}}, 0, 1,
       AccountStatus::kReinstated, "", {}},
      {"rates_since_hides_days_before_reinstatement", reinstated_with_since,
       {{kToday - 1, Day(2000, 0, 30)}, {kToday, Day(5)}}, 0, 1, AccountStatus::kActive, "", {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    AccountRecord a = c.account;
    ReviewOutcome out;
    ReviewAccount(cfg, kNow, "senderguard-tail", &a, c.days, c.batch_complaints, &out);
    EXPECT_EQ(a.tier, c.want_tier);
    EXPECT_EQ(a.status, c.want_status);
    EXPECT_GE(a.rated_through, kToday - 1);
    if (c.want_status == AccountStatus::kSuspended) {
      EXPECT_EQ(a.status_reason.rfind(c.want_reason_prefix, 0), 0u) << a.status_reason;
    }
    std::vector<std::string> actions;
    for (const auto& e : out.audit) {
      actions.push_back(e.action);
      EXPECT_EQ(e.account, "alice");
      EXPECT_EQ(e.actor, "senderguard-tail");
      EXPECT_EQ(e.time_us, kNow * 1000000);
    }
    EXPECT_EQ(actions, c.want_audit);
    EXPECT_EQ(out.alerts.size(), out.audit.size());
    for (const auto& l : out.alerts) EXPECT_EQ(l.rfind("account=alice action=", 0), 0u) << l;
    if (!c.want_audit.empty() && c.want_audit.back() == "suspend") {
      EXPECT_EQ(a.status_actor, "senderguard-tail");
      EXPECT_EQ(a.status_since, kNow);
    }
    // A second review with nothing new changes nothing more (it may run
    // again inside the store's retry).
    AccountRecord again = a;
    ReviewOutcome out2;
    ReviewAccount(cfg, kNow, "senderguard-tail", &again, c.days, 0, &out2);
    EXPECT_EQ(Encode(again), Encode(a));
    EXPECT_TRUE(out2.audit.empty());
  }
}

TEST(feedback_review, AlertNamesAreEscaped) {
  AccountRecord a = Account();
  a.name = "evil name\naction=reinstate";
  a.rated_through = kToday - 1;
  ReviewOutcome out;
  ReviewAccount(ReputationConfig{}, kNow, "t", &a, {{kToday, Day(2000, 0, 30)}}, 0, &out);
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_EQ(out.alerts[0].find('\n'), std::string::npos) << out.alerts[0];
}

TEST(feedback_review, AccountRatesOverTheWindowSinceReinstatement) {
  const ReputationConfig cfg;
  AccountRecord a = Account();
  const StoredDays days = {{kToday - 40, Day(1000, 1000)},  // outside 30 days
                           {kToday - 10, Day(900, 100)},
                           {kToday, Day(1000, 0, 2)}};
  Rates r = AccountRates(cfg, kNow, a, days);
  EXPECT_EQ(r.totals.delivered, 1900u);
  EXPECT_EQ(r.totals.hard, 100u);
  EXPECT_EQ(r.totals.complaints, 2u);
  EXPECT_EQ(r.first_day, kToday - 29);
  EXPECT_EQ(r.last_day, kToday);
  a.rates_since = (kToday - 5) * 86400 + 10;  // reinstated 5 days ago: from the next day on
  r = AccountRates(cfg, kNow, a, days);
  EXPECT_EQ(r.first_day, kToday - 4);
  EXPECT_EQ(r.totals.delivered, 1000u);
  EXPECT_EQ(r.totals.hard, 0u);
}

// ------------------------------------------------ parse and apply apart

// The tailer parses on one thread and attributes on another
// (LineParser::Parse, then FeedbackEngine::Apply): the same chunks give the
// same batches as Process, deferrals, hops, stubs, notices and all.
TEST_F(FeedbackTest, ParsedOnAnotherThreadThenAppliedCountsAsProcess) {
  Commit(Q("1EB53A8C2E8", "alice", kNow - 60, "<m@s.test>"));
  Commit(Q("2C4D6E8F0A1", "bob", kNow - 60));
  const std::vector<std::vector<std::string>> chunks = {
      {MessageIdLine("15:00:00", "1EB53A8C2E8", "<m@s.test>"),
       Deferred("15:00:01", "2C4D6E8F0A1", "d@dest.test"),
       Sent("15:00:02", "1EB53A8C2E8", "r@dest.test"), "not a postfix line",
       Active("15:00:02", "3A3A3A3A3A3", ""), Sent("15:00:03", "3A3A3A3A3A3", "n@dest.test")},
      {MessageIdLine("15:00:04", "4F4F4F4F4F4", "<m@s.test>"),
       UserUnknown("15:00:05", "4F4F4F4F4F4", "x@dest.test"),
       Notification("15:00:05", "4F4F4F4F4F4", "5B5B5B5B5B5"),
       Sent("15:00:06", "5B5B5B5B5B5", "postmaster@s.test"),
       Expired("15:00:07", "2C4D6E8F0A1", "b@s.test"), Removed("15:00:07", "2C4D6E8F0A1"),
       UserUnknown("15:00:08", "9E9E9E9E9E9", "u@dest.test")},
  };
  std::vector<FeedbackBatch> whole;
  for (const auto& c : chunks) whole.push_back(Run(c));
  const EngineStats want = engine_->stats();
  ASSERT_FALSE(whole[0].events.empty());
  ASSERT_FALSE(whole[1].events.empty());
  ASSERT_GT(want.linked, 0u);

  // Twice: parsed on one thread; then the tailer's way, parsed on one
  // thread, classified and read ahead (Prefetch) on another.
  for (const bool ahead : {false, true}) {
    SCOPED_TRACE(ahead ? "read ahead" : "parsed on another thread");
    NewEngine();
    FeedbackSettings s;
    LineParser parser(rules_.get(), s.tz);
    for (size_t i = 0; i < chunks.size(); ++i) {
      std::vector<RawLine> lines;
      for (const auto& t : chunks[i]) lines.push_back(RawLine{t, {}, 0});
      ParsedChunk parsed;
      if (ahead) {
        std::thread([&] { parser.ParseLines(lines, kNow, &parsed); }).join();
        std::thread([&] {
          parser.Classify(&parsed);
          ASSERT_TRUE(FeedbackEngine::Prefetch(store_.get(), &parsed).ok());
        }).join();
        EXPECT_TRUE(parsed.prefetched);
      } else {
        std::thread([&] { parser.Parse(lines, kNow, &parsed); }).join();
      }
      FeedbackBatch b;
      ASSERT_TRUE(engine_->Apply(parsed, &b, nullptr).ok());
      EXPECT_EQ(Show(b), Show(whole[i])) << "chunk " << i;
      ASSERT_EQ(b.queue_puts.size(), whole[i].queue_puts.size());
      ASSERT_EQ(b.queue_stubs.size(), whole[i].queue_stubs.size());
    }
    const EngineStats& got = engine_->stats();
    EXPECT_EQ(got.lines, want.lines);
    EXPECT_EQ(got.used, want.used);
    EXPECT_EQ(got.outcomes, want.outcomes);
    EXPECT_EQ(got.unattributed, want.unattributed);
    EXPECT_EQ(got.linked, want.linked);
  }
}

// LineParser converts a syslog timestamp once per minute of log and adds the
// seconds: every line's time must still be what ParseSyslogTime gives it,
// across UTC offset changes (gaps, overlaps, Lord Howe's half hour), the
// year's turn, and a minute that straddles "now + 1 day" (where the year
// chosen changes inside the minute).
TEST(LineParserTimeTest, EveryLineGetsWhatParseSyslogTimeGives) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto stamp = [](const cctz::civil_second& c) {
    char b[32];
    std::snprintf(b, sizeof b, "%s %2d %02d:%02d:%02d", kMonths[c.month() - 1], c.day(),
                  c.hour(), c.minute(), c.second());
    return std::string(b);
  };
  struct Span {
    const char* zone;
    cctz::civil_second from;  // local, every 7 s for `minutes`
    int minutes;
    cctz::civil_second now;   // local reading time
  };
  const Span spans[] = {
      {"Europe/Berlin", cctz::civil_second(2026, 3, 29, 1, 30, 0), 120, cctz::civil_second(2026, 3, 30, 12, 0, 0)},    // gap
      {"Europe/Berlin", cctz::civil_second(2026, 10, 25, 1, 30, 0), 120, cctz::civil_second(2026, 10, 26, 12, 0, 0)},  // overlap
      {"America/New_York", cctz::civil_second(2026, 11, 1, 0, 30, 0), 120, cctz::civil_second(2026, 11, 2, 0, 0, 0)},
      {"Australia/Lord_Howe", cctz::civil_second(2026, 4, 5, 1, 0, 0), 90, cctz::civil_second(2026, 4, 6, 0, 0, 0)},
      {"Australia/Lord_Howe", cctz::civil_second(2026, 10, 4, 1, 30, 0), 90, cctz::civil_second(2026, 10, 5, 0, 0, 0)},
      {"UTC", cctz::civil_second(2026, 12, 31, 23, 50, 0), 20, cctz::civil_second(2026, 12, 31, 23, 59, 59)},  // year's turn
      {"UTC", cctz::civil_second(2026, 12, 31, 23, 50, 0), 20, cctz::civil_second(2027, 1, 1, 0, 0, 30)},
      {"UTC", cctz::civil_second(2026, 6, 16, 11, 58, 0), 5, cctz::civil_second(2026, 6, 15, 12, 0, 30)},  // now + 1 day
      {"UTC", cctz::civil_second(2026, 11, 27, 10, 0, 0), 3, cctz::civil_second(2026, 11, 25, 10, 0, 0)},  // last year's
  };
  for (const Span& sp : spans) {
    cctz::time_zone tz;
    ASSERT_TRUE(cctz::load_time_zone(sp.zone, &tz)) << sp.zone;
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            tz.lookup(sp.now).pre.time_since_epoch())
                            .count();
    std::vector<std::string> texts;
    for (int s = 0; s < sp.minutes * 60; s += 7) {
      texts.push_back(stamp(sp.from + s) + " mta postfix/qmgr[1]: 1EB53A8C2E8: removed");
      // journalctl -o short-precise: the same second with a fraction.
      texts.push_back(stamp(sp.from + s) + ".123456 mta postfix/qmgr[1]: 1EB53A8C2E8: removed");
    }
    std::vector<RawLine> lines;
    for (const auto& t : texts) lines.push_back(RawLine{t, {}, 0});
    LineParser parser(nullptr, tz);
    ParsedChunk parsed;
    parser.ParseLines(lines, now, &parsed);
    ASSERT_EQ(parsed.items.size(), texts.size()) << sp.zone;
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::string ts = texts[i].substr(0, 15);
      EXPECT_EQ(parsed.items[i].time, ParseSyslogTime(ts, now, tz).value_or(now))
          << sp.zone << " " << ts << " read at " << now;
    }
  }
}

// ISO timestamps, one conversion per minute and offset: every second of
// spans over a year's turn, a leap day, an impossible date and offsets, with
// and without fractions, against ParseSyslogTime line by line.
TEST(LineParserTimeTest, IsoLinesGetWhatParseSyslogTimeGives) {
  struct Span {
    cctz::civil_second from;  // UTC, every 13 s for `minutes`
    int minutes;
    const char* zone;         // the written offset
    int offset_s;
  };
  const Span spans[] = {
      {cctz::civil_second(2026, 12, 31, 23, 50, 0), 20, "+00:00", 0},
      {cctz::civil_second(2026, 12, 31, 23, 50, 0), 20, "Z", 0},
      {cctz::civil_second(2028, 2, 28, 23, 55, 0), 10, "+0100", 3600},
      {cctz::civil_second(2026, 11, 25, 18, 0, 0), 30, "-05:30", -19800},
  };
  const int64_t now = 1'795'622'400;
  for (const Span& sp : spans) {
    std::vector<std::string> texts;
    for (int s = 0; s < sp.minutes * 60; s += 13) {
      const cctz::civil_second c = sp.from + s + sp.offset_s;  // local wall time
      char b[64];
      std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d", static_cast<int>(c.year()),
                    c.month(), c.day(), c.hour(), c.minute(), c.second());
      const std::string stamp = b;
      for (const char* frac : {"", ".5", ".123456"}) {
        texts.push_back(stamp + frac + sp.zone + " mta postfix/qmgr[1]: 1EB53A8C2E8: removed");
      }
    }
    // The same minute written with other offsets, one line after the other.
    for (const char* z : {"+00:00", "+01:00", "Z", "-0100", "+00:00"}) {
      texts.push_back(std::string("2026-11-25T18:00:05.5") + z +
                      " mta postfix/qmgr[1]: 1EB53A8C2E8: removed");
    }
    // A date that does not exist, then a good one again.
    texts.push_back("2027-02-30T10:00:01.1Z mta postfix/qmgr[1]: 1EB53A8C2E8: removed");
    texts.push_back("2027-02-28T10:00:01.1Z mta postfix/qmgr[1]: 1EB53A8C2E8: removed");
    std::vector<RawLine> lines;
    for (const auto& t : texts) lines.push_back(RawLine{t, {}, 0});
    LineParser parser(nullptr, cctz::utc_time_zone());
    ParsedChunk parsed;
    parser.ParseLines(lines, now, &parsed);
    ASSERT_EQ(parsed.items.size(), texts.size()) << sp.zone;
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::string ts = texts[i].substr(0, texts[i].find(' '));
      EXPECT_EQ(parsed.items[i].time,
                ParseSyslogTime(ts, now, cctz::utc_time_zone()).value_or(now))
          << ts;
    }
  }
}

// Entries leave the engine's cache with their "removed" line (erase by
// backward shift, reuse of the freed entries): thousands of messages in
// overlapping lifetimes, over many chunks, with queue ids reused by other
// accounts after their removal, each delivery on the account that sent it.
TEST_F(FeedbackTest, CacheForgetsRemovedMessagesAndAttributesReusedIds) {
  constexpr int kMessages = 6000;
  struct Msg {
    std::string qid, account;
    int start;
  };
  std::vector<Msg> msgs;
  std::mt19937 rng(7);
  for (int i = 0; i < kMessages; ++i) {
    // A quarter reuse the id of a message removed well before they start.
    std::string qid;
    if (i >= 2000 && i % 4 == 0) {
      qid = msgs[static_cast<size_t>(i - 2000)].qid;
    } else {
      char b[16];
      std::snprintf(b, sizeof b, "%05X%06X", 0x10000 + i, (i * 2654435761u) & 0xffffff);
      qid = b;
    }
    msgs.push_back({qid, "acct" + std::to_string(i % 97), i});
  }
  // Lines by time: message i is accepted at second i, delivered at i + 5 +
  // (i % 40), removed a second later; the milter's entry is committed when
  // its message-id line is read, as it would be.
  struct Ev {
    int t;
    int kind;  // 0 message-id, 1 sent, 2 removed
    size_t m;
  };
  std::vector<Ev> evs;
  for (size_t m = 0; m < msgs.size(); ++m) {
    const int s = msgs[m].start;
    evs.push_back({s, 0, m});
    evs.push_back({s + 5 + s % 40, 1, m});
    evs.push_back({s + 6 + s % 40, 2, m});
  }
  std::stable_sort(evs.begin(), evs.end(), [](const Ev& a, const Ev& b) { return a.t < b.t; });
  auto hms = [](int t) {
    char b[16];
    std::snprintf(b, sizeof b, "%02d:%02d:%02d", 10 + t / 3600, (t / 60) % 60, t % 60);
    return std::string(b);
  };
  size_t at = 0;
  uint64_t wrong = 0, delivered = 0;
  while (at < evs.size()) {
    const size_t n = 1 + rng() % 700;
    std::vector<std::string> chunk;
    for (size_t k = at; k < std::min(evs.size(), at + n); ++k) {
      const Ev& e = evs[k];
      const Msg& m = msgs[e.m];
      if (e.kind == 0) {
        Commit(Q(m.qid, m.account, kNow - 86400 + e.t, "<" + std::to_string(e.m) + "@s.test>"));
        chunk.push_back(MessageIdLine(hms(e.t), m.qid, "<" + std::to_string(e.m) + "@s.test>"));
      } else if (e.kind == 1) {
        chunk.push_back(Sent(hms(e.t), m.qid, "r" + std::to_string(e.m) + "@dest.test"));
      } else {
        chunk.push_back(Removed(hms(e.t), m.qid));
      }
    }
    at = std::min(evs.size(), at + n);
    std::vector<Outcome> outs;
    Apply(Run(chunk, &outs));
    for (const Outcome& o : outs) {
      const size_t m = std::stoul(o.recipient.substr(1, o.recipient.find('@') - 1));
      ++delivered;
      if (o.account != msgs[m].account) ++wrong;
    }
  }
  EXPECT_EQ(delivered, static_cast<uint64_t>(kMessages));
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(engine_->stats().unattributed, 0u);
  // One store read per message, at its message-id line: every later line
  // found it in the cache.
  EXPECT_EQ(engine_->stats().queue_reads, static_cast<uint64_t>(kMessages));
}

// The committing tailer does not categorize deferrals (their class is all a
// count needs): the batches are the same as with them categorized, through
// deferrals, expiry and final outcomes.
TEST_F(FeedbackTest, UncategorizedDeferralsCountTheSame) {
  Commit(Q("1EB53A8C2E8", "alice", kNow - 60, "<m@s.test>"));
  Commit(Q("2C4D6E8F0A1", "bob", kNow - 60));
  const std::vector<std::string> text = {
      Deferred("15:00:01", "2C4D6E8F0A1", "d@dest.test"),
      Delivery("15:00:02", "smtp", "1EB53A8C2E8", "f@dest.test", "mx.dest.test[192.0.2.25]:25",
               "4.2.2", "deferred", "host mx.dest.test said: 452 4.2.2 Mailbox full"),
      Delivery("15:00:03", "smtp", "1EB53A8C2E8", "g@dest.test", "mx.dest.test[192.0.2.25]:25",
               "4.7.0", "deferred", "host mx.dest.test said: 421 4.7.0 Try again later"),
      UserUnknown("15:00:04", "1EB53A8C2E8", "u@dest.test"),
      Sent("15:00:05", "1EB53A8C2E8", "f@dest.test"),
      Expired("15:00:06", "2C4D6E8F0A1", "b@s.test"),
      Removed("15:00:06", "2C4D6E8F0A1")};
  std::vector<RawLine> lines;
  for (const auto& t : text) lines.push_back(RawLine{t, {}, 0});
  std::string shown[2];
  for (const bool categorize : {true, false}) {
    NewEngine();
    FeedbackSettings s;
    LineParser parser(rules_.get(), s.tz);
    parser.set_categorize_deferrals(categorize);
    ParsedChunk parsed;
    parser.Parse(lines, kNow, &parsed);
    size_t deferrals = 0;
    for (const auto& it : parsed.items) {
      if (it.p.delivery != DeliveryStatus::kDeferred) continue;
      ++deferrals;
      EXPECT_EQ(it.cl.cls, OutcomeClass::kDeferred);
      if (!categorize) {
        EXPECT_EQ(it.cl.category, BounceCategory::kNone);
      }
    }
    EXPECT_EQ(deferrals, 3u);
    FeedbackBatch b;
    ASSERT_TRUE(engine_->Apply(parsed, &b, nullptr).ok());
    shown[categorize ? 0 : 1] = Show(b);
    EXPECT_EQ(engine_->stats().outcomes, 3u);  // u@ hard, f@ sent, d@ expired
  }
  EXPECT_EQ(shown[0], shown[1]);
}

// The engine's queue-id tables (open addressing, erase by backward shift)
// against std::set, through growth, erases in runs and re-inserts.
TEST(QueueIdMapTest, AgreesWithASetThroughInsertsAndErases) {
  detail::QueueIdMap<int> m;
  std::map<std::string, int> ref;
  uint64_t x = 88172645463325252ull;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int round = 0; round < 60000; ++round) {
    char id[16];
    std::snprintf(id, sizeof id, "%010llX", static_cast<unsigned long long>(next() % 3000));
    const std::string_view k(id);
    const uint64_t h = detail::QueueIdHash(k);
    switch (next() % 3) {
      case 0:
        m.Get(k, h) = round;
        ref[std::string(k)] = round;
        break;
      case 1: {
        const bool erased = ref.erase(std::string(k)) == 1;
        EXPECT_EQ(m.Erase(k, h), erased) << id;
        break;
      }
      default: {
        const int* v = m.Find(k, h);
        auto it = ref.find(std::string(k));
        ASSERT_EQ(v != nullptr, it != ref.end()) << id;
        if (v != nullptr) {
          EXPECT_EQ(*v, it->second);
        }
      }
    }
    ASSERT_EQ(m.size(), ref.size());
  }
  for (const auto& [k, v] : ref) {
    const int* got = m.Find(k, detail::QueueIdHash(k));
    ASSERT_NE(got, nullptr) << k;
    EXPECT_EQ(*got, v);
  }
  m.Clear();
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.Find("0000000001", detail::QueueIdHash("0000000001")), nullptr);
}

TEST(feedback_review, DayCountsConversionsRoundTrip) {
  const DayCountsRecord r{1, 2, 3, 4, 5, 6, UINT64_MAX};
  EXPECT_EQ(Tie(ToRecord(ToDayCounts(r))), Tie(r));
}

}  // namespace
}  // namespace senderguard
