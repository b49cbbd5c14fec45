// Tests for account_import.h: the accounts' CSV read back line by line
// (every bad line named, nothing half taken), export's line, and what
// applying a line changes.
#include "senderguard/policy/account_import.h"

#include <gtest/gtest.h>

#include <string>

#include "senderguard/decide/account_state.h"
#include "test_time.h"

namespace senderguard {
namespace {

using senderguard::test_support::UtcTime;
const int64_t kNow = UtcTime(2026, 12, 7, 12, 0);
const std::string kHeader(kAccountCsvHeader);

std::optional<std::string> Domain(std::string_view raw, std::string* why) {
  if (raw.find('.') == std::string_view::npos) {
    *why = "not a domain name: \"" + std::string(raw) + "\"";
    return std::nullopt;
  }
  return std::string(raw);
}

AccountCsv Parse(const std::string& body) { return ParseAccountCsv(kHeader + "\n" + body, kNow, Domain); }

TEST(AccountCsv, ReadsEveryColumn) {
  const AccountCsv c = Parse(
      "alice,,100,default,unlimited,active,,,no,no,\n"
      "\"bob\",1,2,3,4,suspended,\"spam, from Yahoo \"\"FBL\"\"\",,yes,yes,brand.example news.example\r\n"
      "# a comment\n\n"
      "carol,,,,,reinstated,complaints,2026-12-08T00:00:00Z,,,\n");
  ASSERT_EQ(c.error_count, 0u) << c.errors[0];
  ASSERT_EQ(c.rows.size(), 3u);
  EXPECT_EQ(c.rows[0].account, "alice");
  EXPECT_EQ(c.rows[0].limits[Index(Window::kMinute)], kInheritLimit);
  EXPECT_EQ(c.rows[0].limits[Index(Window::kHour)], 100u);
  EXPECT_EQ(c.rows[0].limits[Index(Window::kDay)], kInheritLimit);
  EXPECT_EQ(c.rows[0].limits[Index(Window::kMonth)], kUnlimited);
  EXPECT_EQ(c.rows[1].state, AccountStatus::kSuspended);
  EXPECT_EQ(c.rows[1].reason, "spam, from Yahoo \"FBL\"");
  EXPECT_TRUE(c.rows[1].dry_run);
  EXPECT_TRUE(c.rows[1].domains_only);
  EXPECT_EQ(c.rows[1].domains, (std::vector<std::string>{"brand.example", "news.example"}));
  EXPECT_EQ(c.rows[1].line, 3u);
  EXPECT_EQ(c.rows[2].state, AccountStatus::kReinstated);
  EXPECT_EQ(c.rows[2].until, UtcTime(2026, 12, 8, 0, 0));
  EXPECT_EQ(c.rows[2].line, 6u);
}

TEST(AccountCsv, EveryBadLineIsNamedAndNoneIsTaken) {
  const AccountCsv c = Parse(
      "alice,,,,,active,,,,,\n"
      "alice,,,,,active,,,,,\n"                        // 3: twice
      "bob,,,-1,,active,,,,,\n"                        // 4: limit
      "carol,,,,,frozen,,,,,\n"                        // 5: state
      "dave,,,,,suspended,,,,,\n"                      // 6: no reason
      "erin,,,,,active,why,,,,\n"                      // 7: reason on active
      "frank,,,,,reinstated,x,2026-12-01T00:00:00Z,,,\n"  // 8: until passed
      "gina,,,,,active,,,maybe,,\n"                    // 9: yes/no
      "hank,,,,,active,,,,yes,\n"                      // 10: only without domains
      "ivan,,,,,active,,,,,localhost\n"                // 11: domain
      "jo,,,,\n"                                       // 12: fields
      ",,,,,active,,,,,\n"                             // 13: no account
      "leo,,,1000000000001,,active,,,,,\n"             // 14: over 10^12
      "\"kim,,,,,active,,,,,\n");                      // 15: a quote never closed (at the end:
                                                       // an open quote runs to the end)
  EXPECT_EQ(c.rows.size(), 1u);  // only alice's first line is whole
  EXPECT_EQ(c.error_count, 13u);
  EXPECT_EQ(c.bad_lines, 13u);
  std::string all;
  for (const auto& e : c.errors) all += e + "\n";
  for (const char* want : {"line 3: account alice is already on line 2", "line 4: day:", "line 5: state:",
                           "line 6: reason:", "line 7: reason: given for an active account", "line 8: until:",
                           "line 9: dry_run:", "line 10: domains_only:", "line 11: domains: not a domain name",
                           "line 12: 5 fields", "line 13: account:", "line 14: day:",
                           "line 15: a quoted field is not closed"}) {
    EXPECT_NE(all.find(want), std::string::npos) << want << "\n" << all;
  }
}

TEST(AccountCsv, HeaderIsRequired) {
  AccountCsv c = ParseAccountCsv("alice,,,,,active,,,,,\n", kNow, Domain);
  ASSERT_EQ(c.error_count, 1u);
  EXPECT_NE(c.errors[0].find("line 1: the first line must be the header"), std::string::npos);
  c = ParseAccountCsv("", kNow, Domain);
  EXPECT_EQ(c.error_count, 1u);
  c = ParseAccountCsv("\xEF\xBB\xBF" + kHeader + "\r\nalice,,,,,active,,,,,\r\n", kNow, Domain);
  EXPECT_EQ(c.error_count, 0u);  // a spreadsheet's byte order mark and line ends
  EXPECT_EQ(c.rows.size(), 1u);
  c = ParseAccountCsv(kHeader + "\n", kNow, Domain);
  EXPECT_EQ(c.error_count, 0u);
  EXPECT_TRUE(c.rows.empty());
}

TEST(AccountCsv, ExportReadsBackToTheSameRecord) {
  AccountRecord a;
  a.name = "shop,inc";
  a.limits[Index(Window::kDay)] = 5000;
  a.limits[Index(Window::kMonth)] = kUnlimited;
  Suspend(&a, "complaints, \"many\"", "root", kNow - 100);
  ASSERT_TRUE(Reinstate(&a, "root", kNow - 50, 86400).ok());
  a.dry_run = true;
  a.domains = {"shop.example", "news.shop.example"};
  a.domains_only = true;
  const std::string line = AccountCsvLine(a, kNow);
  EXPECT_EQ(line, "\"shop,inc\",,,5000,unlimited,reinstated,\"complaints, \"\"many\"\"\",2026-12-08T11:59:10Z,yes,yes,"
                  "shop.example news.shop.example");
  const AccountCsv c = ParseAccountCsv(kHeader + "\n" + line + "\n", kNow, Domain);
  ASSERT_EQ(c.error_count, 0u) << c.errors[0];
  AccountRecord b = a;
  EXPECT_EQ(ApplySettings(c.rows[0], &b, "root", kNow), "");  // nothing to change
  // After the reinstatement ends, the line says suspended.
  EXPECT_NE(AccountCsvLine(a, kNow + 2 * 86400).find(",suspended,"), std::string::npos);
}

TEST(AccountCsv, AReasonWithALineBreakReadsBack) {
  AccountRecord a;
  a.name = "nl";
  Suspend(&a, "line1\nline2, \"quoted\"", "root", kNow);
  const std::string line = AccountCsvLine(a, kNow);
  const AccountCsv c = ParseAccountCsv(kHeader + "\r\n" + line + "\r\nnext,,,,,active,,,,,\r\n", kNow, Domain);
  ASSERT_EQ(c.error_count, 0u) << c.errors[0];
  ASSERT_EQ(c.rows.size(), 2u);
  EXPECT_EQ(c.rows[0].reason, "line1\nline2, \"quoted\"");
  EXPECT_EQ(c.rows[1].line, 4u);  // the record of lines 2-3 took two
  const AccountCsv open = ParseAccountCsv(kHeader + "\nx,,,,,suspended,\"never closed,,,,,\n", kNow, Domain);
  EXPECT_EQ(open.error_count, 1u);
  const AccountCsv far = Parse("y,,,,,reinstated,r,2040-01-01T00:00:00Z,,,\n");
  ASSERT_EQ(far.error_count, 1u);
  EXPECT_NE(far.errors[0].find("ten years"), std::string::npos);
}

// A timed suspension (suspend --for) exports its end in `until` and
// imports back to the same record; a suspension's end that has passed, or
// one on an active account, is refused.
TEST(AccountCsv, TimedSuspensionRoundTrips) {
  AccountRecord a;
  a.name = "alice";
  ASSERT_TRUE(SuspendFor(&a, "incident 42", "root", kNow - 100, 7200).ok());
  const std::string line = AccountCsvLine(a, kNow);
  EXPECT_NE(line.find(",suspended,incident 42,2026-12-07T13:58:20Z,"), std::string::npos) << line;
  const AccountCsv c = Parse(line + "\n");
  ASSERT_EQ(c.rows.size(), 1u) << (c.errors.empty() ? "" : c.errors[0]);
  EXPECT_EQ(c.rows[0].until, a.suspended_until);
  AccountRecord b = a;
  EXPECT_EQ(ApplySettings(c.rows[0], &b, "root", kNow), "");  // nothing to change
  AccountRecord fresh;
  fresh.name = "alice";
  EXPECT_EQ(ApplySettings(c.rows[0], &fresh, "root", kNow), "state=suspended until=2026-12-07T13:58:20Z");
  EXPECT_EQ(fresh.suspended_until, a.suspended_until);
  // Once it ended the account is active: exported so, and an import of
  // "active" changes nothing.
  EXPECT_NE(AccountCsvLine(a, kNow + 7200).find(",active,,,"), std::string::npos);
  const AccountCsv active = ParseAccountCsv(kHeader + "\nalice,,,,,active,,,,,\n", kNow + 7200, Domain);
  ASSERT_EQ(active.rows.size(), 1u);
  EXPECT_EQ(ApplySettings(active.rows[0], &b, "root", kNow + 7200), "");
  const AccountCsv bad = Parse("bob,,,,,suspended,x,2026-12-01T00:00:00Z,,,\ncarol,,,,,active,,2027-01-01T00:00:00Z,,,\n");
  EXPECT_EQ(bad.error_count, 2u);
}

// A timed reinstatement that ended reads as suspended (with its
// suspension's reason): exported so, and that line imported back changes
// nothing (before, it was suspended anew, its `since` moved and audited).
TEST(AccountCsv, AnEndedReinstatementReadsBackUnchanged) {
  AccountRecord a;
  a.name = "alice";
  Suspend(&a, "complaints", "root", kNow - 7200);
  ASSERT_TRUE(Reinstate(&a, "root", kNow - 3600, 60).ok());
  const std::string line = AccountCsvLine(a, kNow);
  EXPECT_NE(line.find(",suspended,complaints,,"), std::string::npos) << line;
  const AccountCsv c = Parse(line + "\n");
  ASSERT_EQ(c.rows.size(), 1u) << (c.errors.empty() ? "" : c.errors[0]);
  AccountRecord b = a;
  EXPECT_EQ(ApplySettings(c.rows[0], &b, "root", kNow), "");
  EXPECT_EQ(b.status_since, a.status_since);
  EXPECT_EQ(b.status, AccountStatus::kReinstated) << "the record keeps its ended reinstatement";
}

TEST(ApplySettings, SaysWhatChanged) {
  const AccountCsv c = Parse("alice,,,100,,suspended,fraud,,yes,,a.example\n");
  ASSERT_EQ(c.rows.size(), 1u);
  AccountRecord a;
  a.name = "alice";
  EXPECT_EQ(ApplySettings(c.rows[0], &a, "root", kNow), "day=100 state=suspended dry_run=yes domains=1");
  EXPECT_EQ(a.status, AccountStatus::kSuspended);
  EXPECT_EQ(a.status_reason, "fraud");
  EXPECT_EQ(ApplySettings(c.rows[0], &a, "root", kNow), "");
  const AccountCsv back = Parse("alice,,,,,active,,,,,\n");
  EXPECT_EQ(ApplySettings(back.rows[0], &a, "root", kNow + 10), "day=default state=active dry_run=no domains=0");
  EXPECT_EQ(a.status, AccountStatus::kActive);
  EXPECT_EQ(a.rates_since, kNow + 10);
}

// Spreadsheet formulas: every field export writes that a spreadsheet would
// take for a formula (= + - @ TAB CR) gets a ' in front, as does one that
// starts with ' itself; import takes one off, so the round trip is exact.
TEST(SpreadsheetSafe, PrefixesWhatStartsAFormulaAndReadsBack) {
  const struct {
    std::string in, out;
  } kCases[] = {
      {"=HYPERLINK(\"http://x.example\")", "'=HYPERLINK(\"http://x.example\")"},
      {"+1", "'+1"},
      {"-2+3", "'-2+3"},
      {"@SUM(A1)", "'@SUM(A1)"},
      {"\tx", "'\tx"},
      {"\rx", "'\rx"},
      {"'quoted", "''quoted"},
      {"''", "'''"},
      {"'", "''"},
      {"plain", "plain"},
      {"", ""},
      {"a=b", "a=b"},  // only the first byte counts
      {" =x", " =x"},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(SpreadsheetSafe(c.in), c.out) << c.in;
    EXPECT_EQ(FromSpreadsheetSafe(c.out), c.in) << c.out;
  }
  EXPECT_EQ(CsvField("=1,2"), "\"'=1,2\"");
}

TEST(AccountCsv, AFormulaInANameOrReasonIsWrittenSafeAndReadsBack) {
  AccountRecord a;
  a.name = "=c3=9cmit";  // NormalizeAccount's "Ümit": starts with '='
  Suspend(&a, "=HYPERLINK(\"http://evil.example\",\"click\")", "root", kNow - 100);
  const std::string line = AccountCsvLine(a, kNow);
  EXPECT_EQ(line.rfind("'=c3=9cmit,", 0), 0u) << line;
  EXPECT_NE(line.find(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\","), std::string::npos) << line;
  const AccountCsv c = Parse(line + "\n");
  ASSERT_EQ(c.rows.size(), 1u) << (c.errors.empty() ? "" : c.errors[0]);
  EXPECT_EQ(c.rows[0].account, "=c3=9cmit");
  EXPECT_EQ(c.rows[0].reason, a.status_reason);
  AccountRecord b = a;
  EXPECT_EQ(ApplySettings(c.rows[0], &b, "root", kNow), "");
  // Written by hand (or by an older export): one ' is taken off every field.
  const AccountCsv hand = Parse("'-dash,,,'5,,suspended,''why,,,,\n");
  ASSERT_EQ(hand.rows.size(), 1u) << (hand.errors.empty() ? "" : hand.errors[0]);
  EXPECT_EQ(hand.rows[0].account, "-dash");
  EXPECT_EQ(hand.rows[0].limits[Index(Window::kDay)], 5u);
  EXPECT_EQ(hand.rows[0].reason, "'why");
}

TEST(SuppressionList, ExportReadsBackWithItsDateAndActor) {
  SuppressionRecord r;
  r.address = "-x@example.com";
  r.reason = "=legal hold, case \"4711\"\nsecond line";
  r.actor = "root (sudo alice)";
  r.since = UtcTime(2025, 3, 1, 9, 30);
  const std::string line = SuppressionCsvLine(r);
  EXPECT_EQ(line, "'-x@example.com,\"'=legal hold, case \"\"4711\"\"\nsecond line\",2025-03-01T09:30:00Z,"
                  "root (sudo alice)");
  const SuppressionList l = ParseSuppressionList(
      std::string(kSuppressionCsvHeader) + "\r\n" + line + "\r\nb@example.com,,,\r\n", kNow);
  ASSERT_EQ(l.error_count, 0u) << l.errors[0].second;
  ASSERT_EQ(l.rows.size(), 2u);
  EXPECT_EQ(l.rows[0].address, r.address);
  EXPECT_EQ(l.rows[0].reason, r.reason);
  EXPECT_EQ(l.rows[0].added, r.since);
  EXPECT_EQ(l.rows[0].by, r.actor);
  EXPECT_EQ(l.rows[1].line, 4u);  // the record of lines 2-3 took two
  EXPECT_EQ(l.rows[1].reason, "");
  EXPECT_FALSE(l.rows[1].added.has_value());
  EXPECT_EQ(l.rows[1].by, "");
}

TEST(SuppressionList, TheOlderFormStillReads) {
  const SuppressionList l = ParseSuppressionList(
      "\xEF\xBB\xBF# senderguard suppression list: the global list; 2 address(es); ADDRESS,REASON\n"
      "Gone@Example.COM,legal hold, case 7\n"
      "plain@example.com\n"
      "quote@example.com,he said \"no\n"  // an odd quote: not CSV here, one line
      "'=f@example.com,'=1+1\n",
      kNow);
  ASSERT_EQ(l.error_count, 0u) << l.errors[0].second;
  ASSERT_EQ(l.rows.size(), 4u);
  EXPECT_EQ(l.rows[0].address, "gone@example.com");
  EXPECT_EQ(l.rows[0].reason, "legal hold, case 7");
  EXPECT_EQ(l.rows[0].line, 2u);
  EXPECT_EQ(l.rows[1].reason, "");
  EXPECT_EQ(l.rows[2].reason, "he said \"no");
  EXPECT_EQ(l.rows[3].address, "=f@example.com");
  EXPECT_EQ(l.rows[3].reason, "=1+1");
  EXPECT_FALSE(l.rows[0].added.has_value());
}

TEST(SuppressionList, EveryBadLineIsNamed) {
  const std::string text = std::string(kSuppressionCsvHeader) + "\n" +
                           "ok@example.com,r,2026-01-01T00:00:00Z,root\n" +
                           "not an address,r,,\n" +                                 // 3
                           "a@example.com,r,yesterday,\n" +                         // 4
                           "b@example.com,r,2027-01-01T00:00:00Z,\n" +              // 5: future
                           "c@example.com,r\n" +                                    // 6: 2 fields
                           "d@example.com,r,," + std::string(256, 'x') + "\n" +     // 7
                           "e@example.com," + std::string(1001, 'r') + ",,\n" +     // 8
                           "\"f@example.com,r,,\n";                                 // 9: open quote
  const SuppressionList l = ParseSuppressionList(text, kNow);
  EXPECT_EQ(l.rows.size(), 1u);
  ASSERT_EQ(l.error_count, 7u);
  ASSERT_EQ(l.errors.size(), 7u);
  const size_t lines[] = {3, 4, 5, 6, 7, 8, 9};
  const char* what[] = {"invalid address", "added: \"yesterday\"", "is in the future", "2 fields",
                        "by: longer",      "reason longer",        "a quoted field is not closed"};
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(l.errors[i].first, lines[i]);
    EXPECT_NE(l.errors[i].second.find(what[i]), std::string::npos) << l.errors[i].second;
  }
}

}  // namespace
}  // namespace senderguard
