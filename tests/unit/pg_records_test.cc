// PgRecords and the row mapping of the PostgreSQL store (pg_records.h):
// the text escape and the array literal (tables, the ugly cases in them),
// then on a private server (run under tests/pg/with_pg.sh): how records
// look in the tables, that a change that changes nothing logs nothing for
// the caches, and that keys the schema or the caches cannot hold are
// refused on write and found nowhere on read. The contract itself is
// store_contract_pg.
#include <gtest/gtest.h>

#include "lmdb_fixture.h"
#include "pg_fixture.h"
#include "senderguard/base/text.h"
#include "senderguard/store/postgresql/pg_records.h"
#include "senderguard/store/postgresql/pg_store.h"

namespace senderguard {
namespace {

using namespace std::string_literals;

TEST(PgText, EncodeKeepsOrdinaryTextAndRoundTripsEveryByte) {
  struct Case {
    std::string in, stored;
  } cases[] = {
      {"", ""},
      {"complaints over 0.1%", "complaints over 0.1%"},
      {"Jürgen’s list ✓", "Jürgen’s list ✓"},          // UTF-8 as it is
      {"a\\b", "a\\\\b"},                                // the escape character doubled
      {"\\x41", "\\\\x41"},                              // what looks like an escape
      {"nul\0here"s, "nul\\x00here"},
      {"\xff\xfe", "\\xff\\xfe"},                        // not UTF-8
      {"\xc3", "\\xc3"},                                 // truncated sequence
      {"\xc3(", "\\xc3("},
      {"\xe0\x80\x80", "\\xe0\\x80\\x80"},               // overlong
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},               // surrogate
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},      // above U+10FFFF
      {"line\nbreak\ttab", "line\nbreak\ttab"},          // controls other than NUL are text
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.stored);
    EXPECT_EQ(PgEncodeText(c.in), c.stored);
    EXPECT_EQ(PgDecodeText(c.stored), c.in);
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(PgDecodeText(PgEncodeText(all)), all);
  EXPECT_TRUE(ValidUtf8(PgEncodeText(all)));
  EXPECT_EQ(PgEncodeText(all).find('\0'), std::string::npos);
  // Text written by hand in SQL, with a lone backslash, reads as written.
  for (std::string_view hand : {"C:\\dir", "\\", "\\x4", "\\xzz", "end\\"}) {
    EXPECT_EQ(PgDecodeText(hand), hand);
  }
}

TEST(PgTextArray, LiteralAndParse) {
  EXPECT_EQ(PgTextArray({}), "{}");
  EXPECT_EQ(PgTextArray({"a", "b c", "q\"uote", "back\\slash", ""}),
            "{\"a\",\"b c\",\"q\\\"uote\",\"back\\\\slash\",\"\"}");
  struct Case {
    const char* text;
    bool ok;
    std::vector<std::string> want;
  } cases[] = {
      {"{}", true, {}},
      {"{a.example,b.example}", true, {"a.example", "b.example"}},
      {"{\"with space\",\"q\\\"uote\",\"back\\\\slash\",\"\"}", true,
       {"with space", "q\"uote", "back\\slash", ""}},
      {"{\"NULL\"}", true, {"NULL"}},
      {"{NULL}", false, {}},                // a NULL element: not a domain list
      {"", false, {}},
      {"{", false, {}},
      {"{\"open}", false, {}},
      {"{a,}", false, {}},
      {"{a\"b}", false, {}},
      {"{{a}}", false, {}},                 // two dimensions
      {"[0:1]={a,b}", false, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    std::vector<std::string> got = {"stale"};
    EXPECT_EQ(PgParseTextArray(c.text, &got), c.ok);
    if (c.ok) {
      EXPECT_EQ(got, c.want);
    }
  }
  const std::vector<std::string> odd = {"é", "a,b", "{x}", "\"", "\\"};
  std::vector<std::string> back;
  ASSERT_TRUE(PgParseTextArray(PgTextArray(odd), &back));
  EXPECT_EQ(back, odd);
}

TEST(PgKeys, StorableKeys) {
  EXPECT_TRUE(PgCheckAccountName("alice").ok());
  EXPECT_TRUE(PgCheckAccountName(std::string(511, 'a')).ok());
  for (const std::string& bad : {""s, std::string(512, 'a'), "a\0b"s, "\xff"s}) {
    SCOPED_TRACE(Printable(bad));
    EXPECT_EQ(PgCheckAccountName(bad).code(), Status::Code::kInvalid);
  }
  EXPECT_TRUE(PgCheckSuppressionKey("", "x@example.org").ok());
  EXPECT_TRUE(PgCheckSuppressionKey(std::string(255, 'a'), std::string(255, 'b')).ok());  // 511
  EXPECT_EQ(PgCheckSuppressionKey(std::string(256, 'a'), std::string(255, 'b')).code(),
            Status::Code::kInvalid);
  EXPECT_EQ(PgCheckSuppressionKey("", "").code(), Status::Code::kInvalid);
  EXPECT_EQ(PgCheckSuppressionKey("a\0"s, "x@y").code(), Status::Code::kInvalid);
}

AuditEntry Audit(std::string action, std::string account = "") {
  AuditEntry a;
  a.time_us = 1'795'622'400'000'000;
  a.actor = "pg_records_test";
  a.action = std::move(action);
  a.account = std::move(account);
  return a;
}

class PgRecordsTest : public PgDatabaseTest {
 protected:
  void SetUp() override {
    PgDatabaseTest::SetUp();
    if (db_.empty()) return;
    auto s = PgStore::Open(
        PgTestStoreOptions(db_, "mx1", "pg_records_test", dir_.path() + "/local", &logger_));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s.value());
    sql_ = ConnectDb("pg_records_test-sql");
    ASSERT_NE(sql_, nullptr);
  }
  std::string Query(const std::string& q) {
    auto r = sql_->Exec(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r.value().rows() == 0) return "<none>";
    std::string out;
    for (int i = 0; i < r.value().rows(); ++i) {
      for (int j = 0; j < r.value().cols(); ++j) {
        if (j > 0) out += "|";
        out += r.value().IsNull(i, j) ? "NULL" : std::string(r.value().Get(i, j));
      }
      if (i + 1 < r.value().rows()) out += ";";
    }
    return out;
  }
  int64_t Changes() { return std::stoll(Query("SELECT count(*) FROM changes")); }

  lmdb_test::TempDir dir_;
  lmdb_test::CapturingLogger logger_;
  std::unique_ptr<PgStore> store_;
  std::unique_ptr<PgConn> sql_;
};

TEST_F(PgRecordsTest, AccountColumnsAsTheSchemaSays) {
  ASSERT_TRUE(store_
                  ->UpdateAccount(
                      "alice",
                      [](AccountRecord* r, bool) {
                        r->limits = {kInheritLimit, kUnlimited, 0, 1000000};
                        r->status = AccountStatus::kReinstated;
                        r->reinstated_until = 1'795'708'800;
                        r->status_reason = "complaints\\0.2%";
                        r->domains = {"b.example", "a.example", "b.example"};
                        r->tier = 4;
                        return Status::Ok();
                      },
                      Audit("quota-set", "alice"))
                  .ok());
  EXPECT_EQ(Query("SELECT limit_minute, limit_hour, limit_day, limit_month, status, "
                  "status_reason, reinstated_until, tier, created FROM accounts"),
            "NULL|-1|0|1000000|reinstated|complaints\\\\0.2%|1795708800|4|1795622400");
  EXPECT_EQ(Query("SELECT domain FROM account_domains ORDER BY domain"), "a.example;b.example");
  auto a = store_->GetAccount("alice");
  ASSERT_TRUE(a.ok() && a.value().has_value());
  EXPECT_EQ(a.value()->limits[0], kInheritLimit);
  EXPECT_EQ(a.value()->limits[1], kUnlimited);
  EXPECT_EQ(a.value()->limits[2], 0u);
  EXPECT_EQ(a.value()->domains, (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_EQ(a.value()->status_reason, "complaints\\0.2%");
  EXPECT_EQ(Query("SELECT actor, action, account FROM audit"), "pg_records_test|quota-set|alice");
}

TEST_F(PgRecordsTest, ChangesThatChangeNothingLogNothingForTheCaches) {
  auto set_dry = [&](bool on) {
    return store_->UpdateAccount(
        "bob",
        [on](AccountRecord* r, bool) {
          r->dry_run = on;
          return Status::Ok();
        },
        Audit("dry-run", "bob"));
  };
  ASSERT_TRUE(set_dry(true).ok());
  const int64_t after_create = Changes();
  EXPECT_EQ(after_create, 1) << "a new account is one change, not an insert and an update";
  ASSERT_TRUE(set_dry(true).ok());  // the same again
  EXPECT_EQ(Changes(), after_create);
  EXPECT_EQ(Query("SELECT count(*) FROM audit"), "2") << "the audit entry is written all the same";
  // A domain alone: one 'domains' change, no 'account' one.
  ASSERT_TRUE(store_
                  ->UpdateAccount(
                      "bob",
                      [](AccountRecord* r, bool) {
                        r->domains.push_back("bob.example");
                        return Status::Ok();
                      },
                      Audit("domains-add", "bob"))
                  .ok());
  EXPECT_EQ(Query("SELECT kind, account FROM changes WHERE seq > " + std::to_string(after_create) +
                  " ORDER BY seq"),
            "domains|bob");
  // The same suppression again: no change either.
  SuppressionRecord s;
  s.address = "x@example.org";
  s.reason = "bounce";
  ASSERT_TRUE(store_->AddSuppressions({s}, Audit("suppress-add")).ok());
  const int64_t before = Changes();
  ASSERT_TRUE(store_->AddSuppressions({s}, Audit("suppress-add")).ok());
  EXPECT_EQ(Changes(), before);
  // Another reason neither: an entry is never overwritten.
  s.reason = "complaint";
  ASSERT_TRUE(store_->AddSuppressions({s}, Audit("suppress-add")).ok());
  EXPECT_EQ(Changes(), before);
  EXPECT_EQ(store_->FindSuppression("", "x@example.org").value()->reason, "bounce");
}

TEST_F(PgRecordsTest, KeysAndValuesTheSchemaCannotHoldAreRefused) {
  auto noop = [](AccountRecord*, bool) { return Status::Ok(); };
  // What each name below would read were it cut or converted on its way to
  // the server (at the NUL, to the longest key, Latin-1 as UTF-8): accounts
  // with a suppression each (but the longest, which leaves no room for an
  // address), so that "nothing" can only come from the name.
  for (const std::string& near : {"a"s, std::string(511, 'a'), "caf\xc3\xa9"s}) {
    ASSERT_TRUE(store_->UpdateAccount(near, noop, Audit("quota-set", near)).ok());
    if (near.size() == 511) continue;
    SuppressionRecord s;
    s.account = near;
    s.address = "x@example.org";
    s.reason = "bounce";
    ASSERT_TRUE(store_->AddSuppressions({s}, Audit("suppress-add", near)).ok());
    ASSERT_TRUE(store_->FindSuppression(near, "x@example.org").value().has_value());
  }
  const std::string audit_before = Query("SELECT count(*) FROM audit");
  const int64_t changes_before = Changes();
  for (const std::string& name : {""s, std::string(512, 'a'), "a\0b"s, "caf\xe9"s}) {
    SCOPED_TRACE(Printable(name));
    EXPECT_EQ(store_->UpdateAccount(name, noop, Audit("quota-set")).code(), Status::Code::kInvalid);
    auto got = store_->GetAccount(name);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_FALSE(got.value().has_value());
    auto f = store_->FindSuppression(name, "x@example.org");
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_FALSE(f.value().has_value());
    EXPECT_EQ(store_->CountSuppressions(name).value(), 0u);
    EXPECT_TRUE(store_->ListSuppressions(name, 10).value().empty());
    EXPECT_FALSE(store_->RemoveSuppression(name, "x@example.org", Audit("r")).value());
  }
  struct Bad {
    const char* why;
    std::function<void(AccountRecord*)> edit;
  } bad[] = {
      {"limit above INT64_MAX", [](AccountRecord* r) { r->limits[2] = uint64_t{INT64_MAX} + 1; }},
      {"tier 0", [](AccountRecord* r) { r->tier = 0; }},
      {"tier 6", [](AccountRecord* r) { r->tier = 6; }},
      {"clean days", [](AccountRecord* r) { r->clean_days = UINT32_MAX; }},
      {"domain with NUL", [](AccountRecord* r) { r->domains = {"a\0b.example"s}; }},
      {"empty domain", [](AccountRecord* r) { r->domains = {""}; }},
      {"1001 domains",
       [](AccountRecord* r) {
         for (int i = 0; i < 1001; ++i) r->domains.push_back("d" + std::to_string(i) + ".example");
       }},
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(b.why);
    Status st = store_->UpdateAccount(
        "carol",
        [&](AccountRecord* r, bool) {
          b.edit(r);
          return Status::Ok();
        },
        Audit("quota-set", "carol"));
    EXPECT_EQ(st.code(), Status::Code::kInvalid) << st.ToString();
  }
  EXPECT_FALSE(store_->GetAccount("carol").value().has_value());
  SuppressionRecord s;
  s.account = std::string(300, 'a');
  s.address = std::string(300, 'b');
  EXPECT_EQ(store_->AddSuppressions({s}, Audit("suppress-add")).status().code(), Status::Code::kInvalid);
  s.account = "";
  s.address = "x\0y"s;
  EXPECT_EQ(store_->AddSuppressions({s}, Audit("suppress-add")).status().code(), Status::Code::kInvalid);
  EXPECT_EQ(Query("SELECT count(*) FROM audit"), audit_before)
      << "nothing of a refused call is written";
  EXPECT_EQ(Changes(), changes_before);
}

TEST_F(PgRecordsTest, AnyBytesInFreeTextRoundTrip) {
  const std::string odd = "\0\x01\xff\\x00 \xc3\xa9 end\\"s;
  AuditEntry e = Audit(odd, odd);
  e.actor = odd;
  e.detail = odd;
  ASSERT_TRUE(store_->AppendAudit(e).ok());
  auto list = store_->ListAudit(odd, 10);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list.value().size(), 1u);
  EXPECT_EQ(list.value()[0].actor, odd);
  EXPECT_EQ(list.value()[0].action, odd);
  EXPECT_EQ(list.value()[0].account, odd);
  EXPECT_EQ(list.value()[0].detail, odd);
  SuppressionRecord s;
  s.address = "x@example.org";
  s.reason = odd;
  s.actor = odd;
  ASSERT_TRUE(store_->AddSuppressions({s}, Audit("suppress-add")).ok());
  auto f = store_->FindSuppression("", "x@example.org");
  ASSERT_TRUE(f.ok() && f.value().has_value());
  EXPECT_EQ(f.value()->reason, odd);
  EXPECT_EQ(f.value()->actor, odd);
}

}  // namespace
}  // namespace senderguard
