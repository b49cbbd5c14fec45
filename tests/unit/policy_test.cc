// Tests for policy.h: limits, dry run, and each decision's verdict, SMTP
// codes, rendered text and log fields; and the text handed to libmilter.
#include "senderguard/policy/policy.h"
#include "senderguard/policy/explain.h"

#include <gtest/gtest.h>

#include <cctz/time_zone.h>

#include <string>
#include <vector>

#include "senderguard/decide/account_state.h"
#include "test_time.h"

namespace senderguard {
namespace {

using namespace std::string_literals;
using senderguard::test_support::UtcTime;

const int64_t kNow = UtcTime(2026, 11, 25, 14, 30);

std::string Field(const Decision& d, const std::string& key) {
  for (const auto& [k, v] : d.fields) {
    if (k == key) return v;
  }
  return "<missing " + key + ">";
}

AccountRecord Rec(AccountStatus st = AccountStatus::kActive) {
  AccountRecord a;
  a.name = "alice";
  a.status = st;
  return a;
}

void ExpectAccept(const Decision& d) {
  EXPECT_EQ(d.verdict, Verdict::kContinue);
  EXPECT_EQ(d.action, "accept");
}

// ---------------------------------------------------------- limits

TEST(EffectiveLimits, Table) {
  Config cfg;
  cfg.windows[Index(Window::kMinute)].default_limit = 10;
  cfg.windows[Index(Window::kHour)].default_limit = 100;
  cfg.windows[Index(Window::kDay)].default_limit = 1000;
  cfg.windows[Index(Window::kMonth)].default_limit = kUnlimited;

  using L = std::array<uint64_t, kWindowCount>;
  EXPECT_EQ(EffectiveLimits(cfg, nullptr), (L{10, 100, 1000, kUnlimited}));

  AccountRecord inherit = Rec();
  EXPECT_EQ(EffectiveLimits(cfg, &inherit), (L{10, 100, 1000, kUnlimited}));

  AccountRecord own = Rec();
  own.limits = {kInheritLimit, 5, kUnlimited, 0};
  EXPECT_EQ(EffectiveLimits(cfg, &own), (L{10, 5, kUnlimited, 0}));

  AccountRecord zero = Rec();
  zero.limits = {0, 0, 0, 0};
  EXPECT_EQ(EffectiveLimits(cfg, &zero), (L{0, 0, 0, 0}));

  AccountRecord huge = Rec();
  huge.limits = {kInheritLimit - 1, kInheritLimit, kUnlimited, 1};
  EXPECT_EQ(EffectiveLimits(cfg, &huge), (L{kInheritLimit - 1, 100, kUnlimited, 1}));
}

// The tier multiplies the configured defaults, never an operator's own limit.
TEST(EffectiveLimits, TierMultipliesDefaultsOnly) {
  Config cfg;
  cfg.windows[Index(Window::kMinute)].default_limit = 10;
  cfg.windows[Index(Window::kHour)].default_limit = 100;
  cfg.windows[Index(Window::kDay)].default_limit = 1000;
  cfg.windows[Index(Window::kMonth)].default_limit = kUnlimited;
  using L = std::array<uint64_t, kWindowCount>;
  AccountRecord t3 = Rec();
  t3.tier = 3;  // x2.0 by default
  EXPECT_EQ(EffectiveLimits(cfg, &t3), (L{20, 200, 2000, kUnlimited}));
  t3.limits = {kInheritLimit, 7, kInheritLimit, kInheritLimit};
  EXPECT_EQ(EffectiveLimits(cfg, &t3), (L{20, 7, 2000, kUnlimited}));
  AccountRecord t2 = Rec();
  t2.tier = 2;  // x1.5
  EXPECT_EQ(EffectiveLimits(cfg, &t2), (L{15, 150, 1500, kUnlimited}));
}

TEST(IsDryRun, Table) {
  Config off, on;
  on.dry_run = true;
  AccountRecord rec_off = Rec(), rec_on = Rec();
  rec_on.dry_run = true;
  EXPECT_FALSE(IsDryRun(off, nullptr));
  EXPECT_FALSE(IsDryRun(off, &rec_off));
  EXPECT_TRUE(IsDryRun(off, &rec_on));
  EXPECT_TRUE(IsDryRun(on, nullptr));
  EXPECT_TRUE(IsDryRun(on, &rec_off));
  EXPECT_TRUE(IsDryRun(on, &rec_on));
}

// ------------------------------------------------------- DecideMail

TEST(DecideMail, NoRecordAccepts) { ExpectAccept(DecideMail(Config{}, "alice", nullptr, kNow)); }

TEST(DecideMail, ActiveAccepts) {
  AccountRecord a = Rec();
  const Decision d = DecideMail(Config{}, "alice", &a, kNow);
  ExpectAccept(d);
  EXPECT_TRUE(d.fields.empty());
}

TEST(DecideMail, SuspendedRejectsWithTemplate) {
  Config cfg;
  cfg.reply_suspended = "account {account} off: {reason}";
  AccountRecord a = Rec();
  Suspend(&a, "spam complaints", "ops", UtcTime(2026, 11, 20, 8));
  const Decision d = DecideMail(cfg, "alice", &a, kNow);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.action, "reject");
  EXPECT_EQ(d.reason, "suspended");
  EXPECT_EQ(d.reply.code, 550);
  EXPECT_EQ(d.reply.enhanced, "5.7.1");
  EXPECT_EQ(d.reply.text, "account alice off: spam complaints");
  EXPECT_EQ(Field(d, "since"), "2026-11-20T08:00:00Z");
}

TEST(DecideMail, SuspendedDefaultText) {
  AccountRecord a = Rec();
  Suspend(&a, "r", "ops", kNow);
  const Decision d = DecideMail(Config{}, "alice@example.com", &a, kNow);
  EXPECT_EQ(d.reply.text,
            "account alice@example.com is disabled due to poor sending reputation; contact "
            "support to restore sending");
}

TEST(DecideMail, ReinstatedAccepts) {
  AccountRecord a = Rec();
  Suspend(&a, "r", "ops", kNow - 100);
  ASSERT_TRUE(Reinstate(&a, "ops", kNow - 10, 3600).ok());
  const Decision d = DecideMail(Config{}, "alice", &a, kNow);
  ExpectAccept(d);
  EXPECT_EQ(Field(d, "state"), "reinstated");
  EXPECT_EQ(Field(d, "until"), "2026-11-25T15:29:50Z");
}

TEST(DecideMail, ExpiredReinstatementRejects) {
  AccountRecord a = Rec();
  Suspend(&a, "complaints", "ops", kNow - 7200);
  ASSERT_TRUE(Reinstate(&a, "ops", kNow - 3600, 3600).ok());  // until == kNow
  const Decision d = DecideMail(Config{}, "alice", &a, kNow);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply.code, 550);
  EXPECT_EQ(d.reply.enhanced, "5.7.1");
  EXPECT_EQ(Field(d, "reinstatement_expired"), "2026-11-25T14:30:00Z");
}

// A timed suspension (senderguardctl suspend --for) refuses until its end,
// and the reply says when that is; after it, the account sends again.
TEST(DecideMail, TimedSuspensionNamesItsEndThenAccepts) {
  Config cfg;
  cfg.reply_suspended = "account {account} off: {reason}";
  AccountRecord a = Rec();
  ASSERT_TRUE(SuspendFor(&a, "incident", "ops", kNow - 60, 3600).ok());
  const Decision d = DecideMail(cfg, "alice", &a, kNow);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply.code, 550);
  EXPECT_EQ(d.reply.text, "account alice off: incident; suspended until 2026-11-25 15:29 UTC");
  EXPECT_EQ(Field(d, "until"), "2026-11-25T15:29:00Z");
  ExpectAccept(DecideMail(cfg, "alice", &a, kNow - 60 + 3600));
  // Suspended for good: no end in the reply.
  Suspend(&a, "incident", "ops", kNow);
  EXPECT_EQ(DecideMail(cfg, "alice", &a, kNow).reply.text, "account alice off: incident");
}

TEST(DecideMail, DryRunTurnsRejectIntoWouldReject) {
  AccountRecord a = Rec();
  Suspend(&a, "r", "ops", kNow);
  for (bool by_config : {true, false}) {
    Config cfg;
    cfg.dry_run = by_config;
    AccountRecord b = a;
    b.dry_run = !by_config;
    const Decision d = DecideMail(cfg, "alice", &b, kNow);
    EXPECT_EQ(d.verdict, Verdict::kContinue);
    EXPECT_EQ(d.action, "would-reject");
    EXPECT_EQ(d.reason, "suspended");
  }
  // Dry run does not change an accept.
  AccountRecord active = Rec();
  active.dry_run = true;
  ExpectAccept(DecideMail(Config{}, "alice", &active, kNow));
}

// ------------------------------------------------- DecideSuppressed

TEST(DecideSuppressed, ReasonInText) {
  SuppressionRecord e;
  e.address = "bob@example.com";
  e.reason = "hard bounce 5.1.1";
  const Decision d = DecideSuppressed(Config{}, "alice", nullptr, "bob@example.com", e);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.action, "reject");
  EXPECT_EQ(d.reason, "suppressed");
  EXPECT_EQ(d.reply.code, 550);
  EXPECT_EQ(d.reply.enhanced, "5.7.1");
  EXPECT_EQ(d.reply.text,
            "recipient bob@example.com is suppressed (hard bounce 5.1.1); remove it from your list");
  EXPECT_EQ(Field(d, "rcpt"), "bob@example.com");
  EXPECT_EQ(Field(d, "list"), "global");
  EXPECT_EQ(Field(d, "why"), "hard bounce 5.1.1");
}

TEST(DecideSuppressed, AccountListAndEmptyReason) {
  SuppressionRecord e;
  e.account = "alice";
  e.address = "bob@example.com";
  Config cfg;
  cfg.reply_suppressed = "{recipient}: {reason}";
  const Decision d = DecideSuppressed(cfg, "alice", nullptr, "bob@example.com", e);
  EXPECT_EQ(d.reply.text, "bob@example.com: suppressed");
  EXPECT_EQ(Field(d, "list"), "account");
}

TEST(DecideSuppressed, DryRun) {
  SuppressionRecord e;
  e.reason = "complaint";
  AccountRecord a = Rec();
  a.dry_run = true;
  const Decision d = DecideSuppressed(Config{}, "alice", &a, "bob@example.com", e);
  EXPECT_EQ(d.verdict, Verdict::kContinue);
  EXPECT_EQ(d.action, "would-reject");
  EXPECT_NE(d.reply.text.find("complaint"), std::string::npos);
}

// ------------------------------------------------------ DecideQuota

QuotaCharge DayCharge(const cctz::time_zone& tz, uint64_t limit) {
  QuotaCharge c;
  c.window = Window::kDay;
  c.span = SpanAt(Window::kDay, kNow, tz);
  c.limit = limit;
  c.amount = 1;
  return c;
}

TEST(DecideQuota, DefaultTempfails) {
  Config cfg;
  ReserveOutcome out{false, 0, 1000, 3};
  const Decision d = DecideQuota(cfg, "alice", nullptr, DayCharge(cfg.tz, 1000), out);
  EXPECT_EQ(d.verdict, Verdict::kTempfail);
  EXPECT_EQ(d.action, "tempfail");
  EXPECT_EQ(d.reason, "quota");
  EXPECT_EQ(d.reply.code, 452);
  EXPECT_EQ(d.reply.enhanced, "4.7.1");
  EXPECT_EQ(d.reply.text, "daily quota of 1000 recipients reached; resets 2026-11-26 00:00 UTC");
  EXPECT_EQ(Field(d, "window"), "day");
  EXPECT_EQ(Field(d, "used"), "1000");
  EXPECT_EQ(Field(d, "reserved"), "3");
  EXPECT_EQ(Field(d, "limit"), "1000");
  EXPECT_EQ(Field(d, "resets"), "2026-11-26T00:00:00Z");
}

TEST(DecideQuota, RejectWhenConfigured) {
  Config cfg;
  cfg.windows[Index(Window::kDay)].on_exceed = ExceedAction::kReject;
  const Decision d =
      DecideQuota(cfg, "alice", nullptr, DayCharge(cfg.tz, 50), ReserveOutcome{false, 0, 50, 0});
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.action, "reject");
  EXPECT_EQ(d.reply.code, 550);
  EXPECT_EQ(d.reply.enhanced, "5.7.1");
}

struct QuotaTextCase {
  const char* zone;
  Window window;
  CountUnit unit;
  uint64_t limit;
  std::string want;
};

TEST(DecideQuota, TextNamesWindowLimitUnitAndLocalReset) {
  const std::vector<QuotaTextCase> cases = {
      {"UTC", Window::kMinute, CountUnit::kRecipients, 10,
       "per-minute quota of 10 recipients reached; resets 2026-11-25 14:31 UTC"},
      {"UTC", Window::kHour, CountUnit::kMessages, 1,
       "hourly quota of 1 messages reached; resets 2026-11-25 15:00 UTC"},
      {"UTC", Window::kMonth, CountUnit::kRecipients, 0,
       "monthly quota of 0 recipients reached; resets 2026-12-01 00:00 UTC"},
      {"Europe/Berlin", Window::kDay, CountUnit::kRecipients, 1000000000000,
       "daily quota of 1000000000000 recipients reached; resets 2026-11-26 00:00 CET"},
      {"Asia/Kolkata", Window::kHour, CountUnit::kRecipients, 5,
       "hourly quota of 5 recipients reached; resets 2026-11-25 21:00 IST"},
      {"America/New_York", Window::kMonth, CountUnit::kMessages, 7,
       "monthly quota of 7 messages reached; resets 2026-12-01 00:00 EST"},
  };
  for (const auto& c : cases) {
    Config cfg;
    ASSERT_TRUE(cctz::load_time_zone(c.zone, &cfg.tz)) << c.zone;
    cfg.timezone = c.zone;
    cfg.windows[Index(c.window)].unit = c.unit;
    QuotaCharge ch;
    ch.window = c.window;
    ch.span = SpanAt(c.window, kNow, cfg.tz);
    ch.limit = c.limit;
    ch.amount = 1;
    const Decision d = DecideQuota(cfg, "alice", nullptr, ch, ReserveOutcome{false, 0, c.limit, 0});
    EXPECT_EQ(d.reply.text, c.want) << c.zone << " " << WindowName(c.window);
  }
}

TEST(DecideQuota, CustomTemplateWithUsedAndWindow) {
  Config cfg;
  cfg.reply_quota = "{window}: {used}/{limit} {unit} {bogus}";
  const Decision d = DecideQuota(cfg, "alice", nullptr, DayCharge(cfg.tz, 10),
                                 ReserveOutcome{false, 0, 9, 1});
  EXPECT_EQ(d.reply.text, "day: 9/10 recipients {bogus}");
}

TEST(DecideQuota, DryRunWouldTempfailAndWouldReject) {
  for (ExceedAction act : {ExceedAction::kTempfail, ExceedAction::kReject}) {
    Config cfg;
    cfg.dry_run = true;
    cfg.windows[Index(Window::kDay)].on_exceed = act;
    const Decision d = DecideQuota(cfg, "alice", nullptr, DayCharge(cfg.tz, 10),
                                   ReserveOutcome{false, 0, 10, 0});
    EXPECT_EQ(d.verdict, Verdict::kContinue);
    EXPECT_EQ(d.action, act == ExceedAction::kReject ? "would-reject" : "would-tempfail");
    EXPECT_EQ(d.reason, "quota");
    EXPECT_EQ(Field(d, "window"), "day");
  }
}

// ------------------------------------------------------------ DMARC

dmarc::Verdict V(dmarc::Result r, dmarc::Disposition d, dmarc::Policy p, bool testing = false) {
  dmarc::Verdict v;
  v.result = r;
  v.disposition = d;
  v.policy = p;
  v.author_domain = "yahoo.test";
  v.testing = testing;
  return v;
}

TEST(DecideDmarc, Table) {
  using dmarc::Disposition;
  using dmarc::Policy;
  using dmarc::Result;
  struct Case {
    const char* name;
    dmarc::Verdict v;
    bool reject_quarantine, tempfail_dns;
    Verdict want;
    int code;
    const char* enhanced;
    const char* reason;
  };
  const Case cases[] = {
      {"pass", V(Result::kPass, Disposition::kAccept, Policy::kReject), true, true, Verdict::kContinue, 250, "2.0.0", ""},
      {"reject", V(Result::kFail, Disposition::kReject, Policy::kReject), true, true, Verdict::kReject, 550, "5.7.1", "dmarc"},
      {"quarantine_refused", V(Result::kFail, Disposition::kQuarantine, Policy::kQuarantine), true, true, Verdict::kReject, 550, "5.7.1", "dmarc"},
      {"quarantine_accepted", V(Result::kFail, Disposition::kQuarantine, Policy::kQuarantine), false, true, Verdict::kContinue, 250, "2.0.0", "dmarc-quarantine-accepted"},
      {"none_fails_accepted", V(Result::kFail, Disposition::kAccept, Policy::kNone), true, true, Verdict::kContinue, 250, "2.0.0", ""},
      {"temperror", V(Result::kTempError, Disposition::kTempFail, Policy::kReject), true, true, Verdict::kTempfail, 451, "4.7.0", "dmarc-temperror"},
      {"temperror_accepted", V(Result::kTempError, Disposition::kTempFail, Policy::kReject), true, false, Verdict::kContinue, 250, "2.0.0", "dmarc-temperror-accepted"},
      {"testing_reject", V(Result::kFail, Disposition::kQuarantine, Policy::kReject, true), true, true, Verdict::kContinue, 250, "2.0.0", "dmarc-testing"},
      {"testing_temperror", V(Result::kTempError, Disposition::kTempFail, Policy::kReject, true), true, true, Verdict::kContinue, 250, "2.0.0", "dmarc-testing"},
  };
  for (const auto& c : cases) {
    Config cfg;
    cfg.dmarc_reject_quarantine = c.reject_quarantine;
    cfg.dmarc_tempfail_on_dns_error = c.tempfail_dns;
    const Decision d = DecideDmarc(cfg, "alice", nullptr, c.v);
    EXPECT_EQ(d.verdict, c.want) << c.name;
    EXPECT_EQ(d.reply.code, c.code) << c.name;
    EXPECT_EQ(d.reply.enhanced, c.enhanced) << c.name;
    EXPECT_EQ(d.reason, c.reason) << c.name;
  }
}

TEST(DecideDmarc, RejectTextTellsTheCustomerWhatToDo) {
  const Decision d = DecideDmarc(Config{}, "alice", nullptr,
                                 V(dmarc::Result::kFail, dmarc::Disposition::kReject, dmarc::Policy::kReject));
  EXPECT_EQ(d.reply.text,
            "yahoo.test publishes DMARC p=reject and this message cannot pass it from our servers; "
            "send from a domain you have verified with us");
}

TEST(DecideDmarc, DryRunWouldReject) {
  AccountRecord rec = Rec();
  rec.dry_run = true;
  const Decision d = DecideDmarc(Config{}, "alice", &rec,
                                 V(dmarc::Result::kFail, dmarc::Disposition::kReject, dmarc::Policy::kReject));
  EXPECT_EQ(d.verdict, Verdict::kContinue);
  EXPECT_EQ(d.action, "would-reject");
  EXPECT_EQ(d.reply.code, 550);
}

TEST(DecideAuthor, RefusedWithDetail) {
  Author a;
  a.error = AuthorError::kMultipleFrom;
  a.detail = "2 From: fields";
  const Decision d = DecideAuthor(Config{}, "alice", nullptr, a);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply.code, 550);
  EXPECT_EQ(d.reply.enhanced, "5.7.1");
  EXPECT_EQ(d.reply.text, "2 From: fields; a message needs exactly one From: address with a domain");
  EXPECT_EQ(Field(d, "from_error"), "multiple-from");
}

TEST(DomainVerified, ExactAndSubdomainsOnly) {
  AccountRecord rec = Rec();
  rec.domains = {"brand.test", "x.example"};
  EXPECT_TRUE(DomainVerified(&rec, "brand.test"));
  EXPECT_TRUE(DomainVerified(&rec, "news.brand.test"));
  EXPECT_FALSE(DomainVerified(&rec, "otherbrand.test"));
  EXPECT_FALSE(DomainVerified(&rec, "test"));
  EXPECT_FALSE(DomainVerified(&rec, "example"));
  EXPECT_FALSE(DomainVerified(nullptr, "brand.test"));
}

TEST(DecideVerifiedDomain, OnlyWhenLimited) {
  AccountRecord rec = Rec();
  rec.domains = {"brand.test"};
  ExpectAccept(DecideVerifiedDomain(Config{}, "alice", &rec, "other.test"));
  rec.domains_only = true;
  ExpectAccept(DecideVerifiedDomain(Config{}, "alice", &rec, "mail.brand.test"));
  const Decision d = DecideVerifiedDomain(Config{}, "alice", &rec, "other.test");
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply.enhanced, "5.7.1");
  EXPECT_EQ(d.reply.text, "From: domain other.test is not verified for account alice; send from one of your verified domains");
}

TEST(DmarcApplies, ModeAndExemptions) {
  Config cfg;
  EXPECT_TRUE(DmarcApplies(cfg, "alice"));
  cfg.dmarc_exempt_accounts = {"bob"};
  EXPECT_FALSE(DmarcApplies(cfg, "bob"));
  EXPECT_TRUE(DmarcApplies(cfg, "alice"));
  cfg.dmarc_mode = DmarcMode::kOff;
  EXPECT_FALSE(DmarcApplies(cfg, "alice"));
}

// ------------------------------------------------------ DecideError

TEST(DecideError, EachOnError) {
  Config cfg;
  cfg.reply_error = "try later";

  cfg.on_error = OnError::kTempfail;
  Decision t = DecideError(cfg, "store: read account: Input/output error");
  EXPECT_EQ(t.verdict, Verdict::kTempfail);
  EXPECT_EQ(t.action, "tempfail");
  EXPECT_EQ(t.reply.code, 451);
  EXPECT_EQ(t.reply.enhanced, "4.3.0");
  EXPECT_EQ(t.reply.text, "try later");
  EXPECT_EQ(t.reason, "error");
  EXPECT_EQ(Field(t, "error"), "store: read account: Input/output error");

  cfg.on_error = OnError::kReject;
  Decision r = DecideError(cfg, "x");
  EXPECT_EQ(r.verdict, Verdict::kReject);
  EXPECT_EQ(r.action, "reject");
  EXPECT_EQ(r.reply.code, 550);
  EXPECT_EQ(r.reply.enhanced, "5.3.0");
  EXPECT_EQ(r.reason, "error");

  cfg.on_error = OnError::kAccept;
  Decision a = DecideError(cfg, "x");
  EXPECT_EQ(a.verdict, Verdict::kContinue);
  EXPECT_EQ(a.action, "accept");
  EXPECT_EQ(a.reason, "error");
  EXPECT_EQ(Field(a, "error"), "x");
}

// -------------------------------------------------- MilterReplyText

struct ReplyCase {
  const char* name;
  std::string in;
  std::string want;
};

TEST(MilterReplyText, Table) {
  const std::vector<ReplyCase> cases = {
      {"plain", "daily quota reached", "daily quota reached"},
      {"empty", "", ""},
      {"percent", "100% used", "100%% used"},
      {"format_attack", "%s%n%x", "%%s%%n%%x"},
      // The one escaping policy (text.h's Printable): ASCII, bytes kept as \xNN.
      {"crlf", "a\r\nb", "a\\x0d\\x0ab"},
      {"lf_smtp_injection", "x\n250 ok", "x\\x0a250 ok"},
      {"nul", "a\0b"s, "a\\x00b"},
      {"tab", "a\tb", "a\\x09b"},
      {"del", "a\x7f" "b", "a\\x7fb"},
      {"utf8", "d\xc3\xa9j\xc3\xa0", "d\\xc3\\xa9j\\xc3\\xa0"},
      {"high_byte", "\xff", "\\xff"},
      {"backslash", "a\\b", "a\\\\b"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(MilterReplyText(c.in), c.want) << c.name;
  }
}

TEST(MilterReplyText, LengthCapForLibmilter) {
  // smfi_setreply refuses more than 980 bytes; the cap must hold for plain
  // text, all-'%' text (doubling) and anything between.
  for (const std::string& in : std::vector<std::string>{std::string(5000, 'a'), std::string(5000, '%'),
                               std::string(899, 'a') + "%%%%", std::string(1 << 20, '\n')}) {
    const std::string out = MilterReplyText(in);
    EXPECT_LE(out.size(), 980u) << in.substr(0, 8);
    EXPECT_GE(out.size(), 800u) << "cut too short";
    EXPECT_EQ(out.find_first_of("\r\n"s + '\0'), std::string::npos);
    // Never ends in half of a "%%" pair.
    size_t trailing = 0;
    for (auto it = out.rbegin(); it != out.rend() && *it == '%'; ++it) ++trailing;
    EXPECT_EQ(trailing % 2, 0u) << "odd trailing %";
  }
}


// ---------------------------------------------------------- explain

// A configuration with a day limit of 3 recipients and an hour limit of 2
// messages; identity by SASL login, then the sender's domain.
Config ExplainConfig() {
  Config cfg;
  cfg.tz = cctz::utc_time_zone();
  cfg.windows[Index(Window::kDay)].default_limit = 3;
  cfg.windows[Index(Window::kHour)].default_limit = 2;
  cfg.windows[Index(Window::kHour)].unit = CountUnit::kMessages;
  cfg.identity = {IdentitySource::kSasl, IdentitySource::kSenderDomain};
  return cfg;
}

ExplainFacts Facts(std::vector<std::string> rcpts) {
  ExplainFacts f;
  f.sasl_login = "alice";
  f.envelope_from = "a@shop.example";
  f.recipients = std::move(rcpts);
  f.now = kNow;
  f.suppressions.assign(f.recipients.size(), std::nullopt);
  return f;
}

const ExplainStep* FindStep(const Explanation& e, const std::string& check, const std::string& subject) {
  for (const auto& s : e.steps)
    if (s.check == check && s.subject == subject) return &s;
  return nullptr;
}

TEST(Explain, SuspendedStopsAtMailWithTheMiltersReply) {
  const Config cfg = ExplainConfig();
  ExplainFacts f = Facts({"r@x.example"});
  f.record = Rec(AccountStatus::kSuspended);
  f.record->status_reason = "complaints";
  const Explanation e = Explain(cfg, f);
  ASSERT_TRUE(e.mail);
  EXPECT_EQ(ReplyLine(*e.mail), ReplyLine(DecideMail(cfg, "alice", &*f.record, kNow).reply));
  EXPECT_EQ(e.mail->code, 550);
  EXPECT_TRUE(e.rcpt.empty());
  EXPECT_EQ(e.outcome, "refused at MAIL FROM");
  ASSERT_EQ(e.steps.size(), 2u);
  EXPECT_EQ(e.steps[1].verdict, "refuse");
  EXPECT_NE(e.steps[1].detail.find("complaints"), std::string::npos);
}

TEST(Explain, QuotaCountsWhatEarlierRecipientsOfTheMessageHold) {
  const Config cfg = ExplainConfig();
  ExplainFacts f = Facts({"r1@x.example", "r2@x.example", "r3@x.example"});
  f.used[Index(Window::kDay)] = 1;   // 2 left today
  f.used[Index(Window::kHour)] = 1;  // this message is the 2nd of 2 this hour
  const Explanation e = Explain(cfg, f);
  ASSERT_EQ(e.rcpt.size(), 3u);
  EXPECT_FALSE(e.rcpt[0]);
  EXPECT_FALSE(e.rcpt[1]);
  ASSERT_TRUE(e.rcpt[2]);
  EXPECT_EQ(e.rcpt[2]->code, 452);
  EXPECT_NE(e.rcpt[2]->text.find("daily quota of 3 recipients"), std::string::npos) << e.rcpt[2]->text;
  // messages mode: only the first recipient counts toward the hour
  const ExplainStep* hour = nullptr;
  for (const auto& s : e.steps)
    if (s.check == "quota" && s.subject == "hour") hour = &s;
  ASSERT_NE(hour, nullptr);
  EXPECT_EQ(hour->verdict, "pass");
  EXPECT_EQ(e.outcome, "accepted for 2 of 3 recipients");
  EXPECT_FALSE(e.eom_judged);  // no From: given
  EXPECT_TRUE(e.reached_eom);
}

TEST(Explain, HourOfMessagesFullRefusesTheFirstRecipient) {
  const Config cfg = ExplainConfig();
  ExplainFacts f = Facts({"r1@x.example"});
  f.used[Index(Window::kHour)] = 2;
  const Explanation e = Explain(cfg, f);
  ASSERT_TRUE(e.rcpt[0]);
  EXPECT_NE(e.rcpt[0]->text.find("hourly quota of 2 messages"), std::string::npos) << e.rcpt[0]->text;
  EXPECT_EQ(e.outcome, "every recipient refused");
  EXPECT_FALSE(e.reached_eom);
}

TEST(Explain, SuppressedRecipientIsNotCounted) {
  const Config cfg = ExplainConfig();
  ExplainFacts f = Facts({"dead@x.example", "r1@x.example", "r2@x.example", "r3@x.example"});
  f.used[Index(Window::kDay)] = 0;
  SuppressionRecord s;
  s.address = "dead@x.example";
  s.reason = "hard bounce 3 times";
  f.suppressions[0] = s;
  const Explanation e = Explain(cfg, f);
  ASSERT_TRUE(e.rcpt[0]);
  EXPECT_EQ(ReplyLine(*e.rcpt[0]), ReplyLine(DecideSuppressed(cfg, "alice", nullptr, "dead@x.example", s).reply));
  EXPECT_FALSE(e.rcpt[1]);
  EXPECT_FALSE(e.rcpt[2]);
  EXPECT_FALSE(e.rcpt[3]);  // the suppressed one held nothing: 3 of 3 fit
}

TEST(Explain, DryRunLogsEveryRefusalAndRefusesNothing) {
  Config cfg = ExplainConfig();
  cfg.dry_run = true;
  ExplainFacts f = Facts({"r1@x.example"});
  f.record = Rec(AccountStatus::kSuspended);
  f.used[Index(Window::kDay)] = 3;
  ExplainAuth a;
  a.author.error = AuthorError::kNoFrom;
  f.auth = a;
  const Explanation e = Explain(cfg, f);
  EXPECT_FALSE(e.mail);
  EXPECT_FALSE(e.rcpt[0]);
  EXPECT_FALSE(e.eom);
  EXPECT_EQ(e.outcome, "accepted");
  int would = 0;
  for (const auto& s : e.steps) would += s.verdict == "would-refuse";
  EXPECT_EQ(would, 3);  // suspension, the day window, the missing From:
}

TEST(Explain, EndOfMessageAuthorDomainAndDmarcInTheMiltersOrder) {
  Config cfg = ExplainConfig();
  ExplainFacts f = Facts({"r1@x.example"});
  f.record = Rec();
  f.record->domains_only = true;
  f.record->domains = {"shop.example"};
  ExplainAuth a;
  a.author.domain = "other.example";
  a.verdict = V(dmarc::Result::kFail, dmarc::Disposition::kReject, dmarc::Policy::kReject);
  f.auth = a;
  Explanation e = Explain(cfg, f);
  ASSERT_TRUE(e.eom);
  EXPECT_NE(e.eom->text.find("other.example is not verified"), std::string::npos) << e.eom->text;
  EXPECT_EQ(FindStep(e, "dmarc", "other.example"), nullptr);  // the milter stops at the domain
  f.auth->author.domain = "news.shop.example";
  e = Explain(cfg, f);
  ASSERT_TRUE(e.eom);
  EXPECT_EQ(ReplyLine(*e.eom), ReplyLine(DecideDmarc(cfg, "alice", &*f.record, *a.verdict).reply));
  EXPECT_EQ(e.outcome, "refused at end of message");
}

TEST(Explain, NoIdentityEnforcesNothing) {
  Config cfg = ExplainConfig();
  cfg.identity = {IdentitySource::kSasl};
  ExplainFacts f = Facts({"r1@x.example"});
  f.sasl_login = "";
  const Explanation e = Explain(cfg, f);
  EXPECT_FALSE(e.identity);
  EXPECT_EQ(e.outcome, "accepted");
  ASSERT_EQ(e.steps.size(), 1u);
  EXPECT_EQ(e.steps[0].verdict, "skip");
}

TEST(Explain, DmarcOffOrExemptIsSkippedAndJudged) {
  Config cfg = ExplainConfig();
  cfg.dmarc_mode = DmarcMode::kOff;
  const Explanation e = Explain(cfg, Facts({"r1@x.example"}));
  EXPECT_TRUE(e.eom_judged);
  ASSERT_NE(FindStep(e, "dmarc", ""), nullptr);
  EXPECT_EQ(FindStep(e, "dmarc", "")->verdict, "skip");
}

}  // namespace
}  // namespace senderguard
