// Tests for message_trace.h: the key=value reader, and each kind of log line
// about a queued message (real Postfix 3.7 and senderguard-milter lines) read
// back for `senderguardctl explain QUEUE_ID`, with the shipped rules.
#include "senderguard/feedback/message_trace.h"

#include <gtest/gtest.h>

#include <string>

namespace senderguard {
namespace {

const BounceRules& Rules() {
  static const BounceRules rules = [] {
    auto r = BounceRules::Load(std::string(SG_SOURCE_DIR) + "/conf/bounce-rules.conf");
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(*r) : BounceRules();
  }();
  return rules;
}

constexpr char kId[] = "3B7C8A720C1";

TEST(ParseKvText, BareQuotedAndEscaped) {
  const auto kv = ParseKvText(R"(queue_id=3B7C8A720C1 why="hard bounce 3 times" empty="" q="a \"b\" \\ c" last=x)");
  ASSERT_EQ(kv.size(), 5u);
  EXPECT_EQ(kv[0], (std::pair<std::string, std::string>{"queue_id", "3B7C8A720C1"}));
  EXPECT_EQ(kv[1].second, "hard bounce 3 times");
  EXPECT_EQ(kv[2].second, "");
  EXPECT_EQ(kv[3].second, R"(a "b" \ c)");
  EXPECT_EQ(kv[4].second, "x");
}

TEST(ParseKvText, WordsWithoutEqualsAndAnOpenQuoteDoNotCrash) {
  EXPECT_TRUE(ParseKvText("").empty());
  EXPECT_TRUE(ParseKvText("no fields here").empty());
  const auto kv = ParseKvText("a=1 garbage b=\"never closed");
  ASSERT_EQ(kv.size(), 2u);
  EXPECT_EQ(kv[1].second, "never closed");
}

TEST(TraceLine, MilterDecisionAtRcptWithItsReply) {
  const auto e = TraceLine(
      "Dec  7 04:25:43 mx1 senderguard-milter[812]: queue_id=3B7C8A720C1 account=frank source=sasl stage=rcpt "
      "action=tempfail reason=quota rcpt=q3@dest.test window=day used=0 reserved=2 limit=2 "
      "resets=2026-12-08T00:00:00Z reply=\"452 4.7.1 daily quota of 2 recipients reached; resets 2026-12-08 00:00 UTC\"\n",
      kId, &Rules());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "decision");
  EXPECT_EQ(e->timestamp, "Dec  7 04:25:43");
  EXPECT_EQ(e->program, "senderguard-milter");
  EXPECT_EQ(e->recipient, "q3@dest.test");
  EXPECT_EQ(e->text,
            "rcpt: tempfail (quota) account frank rcpt q3@dest.test: 452 4.7.1 daily quota of 2 recipients reached; "
            "resets 2026-12-08 00:00 UTC");
}

TEST(TraceLine, MilterLineOnStderrAndQuotaAlert) {
  const auto e = TraceLine(
      "senderguard-milter[warning]: queue_id=3B7C8A720C1 account=frank action=quota-alert window=day used=2 limit=2 "
      "pct=100 resets=2026-12-08T00:00:00Z",
      kId, &Rules());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "alert");
  EXPECT_EQ(e->program, "senderguard-milter");
  EXPECT_EQ(e->text, "quota alert: day window at 100% (2 of 2), resets 2026-12-08T00:00:00Z");
}

TEST(TraceLine, AnotherQueueIdOrAPrefixOfOneIsNotThisMessage) {
  EXPECT_FALSE(TraceLine("Dec  7 04:25:43 mx1 senderguard-milter[812]: queue_id=3B7C8A720C1X account=a stage=eom "
                         "action=accept",
                         kId, &Rules()));
  EXPECT_FALSE(TraceLine("Dec  7 04:25:43 mx1 postfix/qmgr[9]: 4C8D9B831D2: removed", kId, &Rules()));
  EXPECT_FALSE(TraceLine("", kId, &Rules()));
  EXPECT_FALSE(TraceLine("garbage 3B7C8A720C1 \x01\xff", kId, &Rules()));
}

TEST(TraceLine, HardBounceIsClassifiedByTheRules) {
  const auto e = TraceLine(
      "Dec  7 04:25:44 mx1 postfix/smtp[901]: 3B7C8A720C1: to=<nobody@example.net>, "
      "relay=mx.example.net[192.0.2.25]:25, delay=1.2, delays=0.1/0/0.6/0.5, dsn=5.1.1, status=bounced "
      "(host mx.example.net[192.0.2.25] said: 550 5.1.1 <nobody@example.net>: Recipient address rejected: "
      "User unknown in virtual mailbox table (in reply to RCPT TO command))",
      kId, &Rules());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "delivery");
  EXPECT_EQ(e->program, "postfix/smtp");
  EXPECT_EQ(e->recipient, "nobody@example.net");
  EXPECT_EQ(e->outcome, "hard");
  EXPECT_EQ(e->category, "recipient-unknown");
  EXPECT_GT(e->rule_line, 0);
  EXPECT_NE(e->text.find("bounced 5.1.1 via mx.example.net[192.0.2.25]:25: host mx.example.net"), std::string::npos)
      << e->text;
}

TEST(TraceLine, WithoutRulesADeliveryIsShownUnclassified) {
  const auto e = TraceLine(
      "Dec  7 04:25:44 mx1 postfix/smtp[901]: 3B7C8A720C1: to=<a@example.net>, relay=mx[192.0.2.1]:25, delay=1, "
      "delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1234)",
      kId, nullptr);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "delivery");
  EXPECT_EQ(e->outcome, "");
}

TEST(TraceLine, QueueLifeLines) {
  auto e = TraceLine("Dec  7 04:25:43 mx1 postfix/qmgr[9]: 3B7C8A720C1: from=<b@shop.test>, size=280, nrcpt=2 "
                     "(queue active)",
                     kId, &Rules());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "queued");
  EXPECT_EQ(e->text, "from <b@shop.test>, 2 recipient(s), 280 bytes");
  e = TraceLine("Dec  7 04:25:45 mx1 postfix/qmgr[9]: 3B7C8A720C1: removed", kId, &Rules());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "removed");
  e = TraceLine("Dec  7 04:25:44 mx1 postfix/bounce[77]: 3B7C8A720C1: sender non-delivery notification: 5D6E7F80912",
                kId, &Rules());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "notification");
  EXPECT_EQ(e->related_queue_id, "5D6E7F80912");
  EXPECT_EQ(e->text, "non-delivery notification to the sender queued as 5D6E7F80912");
}

TEST(TraceLine, OtherPostfixLinesAreShownAsLogged) {
  const auto e = TraceLine(
      "Dec  7 04:25:43 mx1 postfix/smtpd[55]: 3B7C8A720C1: client=unknown[127.0.0.1], sasl_method=PLAIN, "
      "sasl_username=frank",
      kId, &Rules());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "postfix");
  EXPECT_EQ(e->text, "client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=frank");
}

}  // namespace
}  // namespace senderguard
