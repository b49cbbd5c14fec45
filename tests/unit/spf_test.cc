// SPF tests: libspf2 evaluating records served by a real DNS server on
// loopback (ldns-testns, see test_dns_server.h) through our Resolver, so the
// custom DNS layer, the RFC 7208 limits and the CVE-2023-42118 guard are
// exercised end to end. Every query a case makes has an entry: ldns-testns
// does not answer unknown questions (that would be a timeout, temperror).
#include "senderguard/auth/spf.h"

#include <chrono>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "senderguard/auth/dns.h"
#include "test_dns_server.h"

namespace senderguard::spf {
namespace {

using namespace std::chrono_literals;
using senderguard::test_support::Entry;
using senderguard::test_support::TestDnsServer;

constexpr char kGood4[] = "192.0.2.10";
constexpr char kBad4[] = "198.51.100.99";
constexpr char kGood6[] = "2001:db8::10";
constexpr char kBad6[] = "2001:db8:ffff::1";

const std::string kSoa =
    "example.com. 300 IN SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 300\n";

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// A TXT RR holding `text`, in 255-byte character-strings.
std::string TxtRr(const std::string& owner, const std::string& text) {
  std::string rr = owner + " 300 IN TXT";
  for (size_t at = 0; at < text.size(); at += 255) rr += " \"" + text.substr(at, 255) + "\"";
  return rr + "\n";
}

std::string Txt(const std::string& name, const std::string& text) {
  return Entry(name + ".", "TXT", "NOERROR", TxtRr(name + ".", text));
}

// A TXT answer too big for UDP: truncated there, so the resolver retries
// over TCP (as dns_test.cc does).
std::string BigTxt(const std::string& name, const std::string& text) {
  return Entry(name + ".", "TXT", "NOERROR", "", "", " UDP", "AA TC") +
         Entry(name + ".", "TXT", "NOERROR", TxtRr(name + ".", text), "", " TCP");
}

std::string A(const std::string& name, const std::string& addr) {
  return Entry(name + ".", "A", "NOERROR", name + ". 300 IN A " + addr + "\n");
}

std::string Nx(const std::string& name, const std::string& type) {
  return Entry(name + ".", type, "NXDOMAIN", "", kSoa);
}

// The record that overflows libspf2 1.2.10-7.2's stack (see spf.h): 127
// macro variables fill 508 bytes of the term, then 1700 "%-" (5100 bytes
// compiled) are copied past the 4096-byte buffer.
std::string ExploitRecord() {
  return "v=spf1 a:" + Repeat("%{d}", 127) + Repeat("%-", 1700) + " -all";
}

std::string Zone() {
  std::string z;
  z += Txt("ip4.example.com", "v=spf1 ip4:192.0.2.0/24 -all");
  z += Txt("ip6.example.com", "v=spf1 ip6:2001:db8::/48 -all");
  z += Txt("a.example.com", "v=spf1 a -all");
  z += A("a.example.com", kGood4);
  z += Entry("a.example.com.", "AAAA", "NOERROR", "a.example.com. 300 IN AAAA 2001:db8::10\n");
  z += Txt("mx.example.com", "v=spf1 mx -all");
  z += Entry("mx.example.com.", "MX", "NOERROR",
             "mx.example.com. 300 IN MX 10 mail1.mx.example.com.\n"
             "mx.example.com. 300 IN MX 20 mail2.mx.example.com.\n");
  z += A("mail1.mx.example.com", "198.51.100.1");
  z += A("mail2.mx.example.com", kGood4);
  z += Txt("include.example.com", "v=spf1 include:ip4.example.com -all");
  z += Txt("redirect.example.com", "v=spf1 redirect=ip4.example.com");
  z += Txt("softfail.example.com", "v=spf1 ip4:192.0.2.0/24 ~all");
  z += Txt("neutral.example.com", "v=spf1 ip4:192.0.2.0/24 ?all");
  z += Txt("noall.example.com", "v=spf1 ip4:192.0.2.0/24");
  z += Entry("other.example.com.", "TXT", "NOERROR",
             "other.example.com. 300 IN TXT \"google-site-verification=abc\"\n"
             "other.example.com. 300 IN TXT \"v=spf10 -all\"\n");
  z += Nx("nx.example.com", "TXT");
  z += Entry("nodata.example.com.", "TXT", "NOERROR", "", kSoa);
  z += Entry("two.example.com.", "TXT", "NOERROR",
             "two.example.com. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
             "two.example.com. 300 IN TXT \"v=spf1 -all\"\n");
  z += Txt("badip.example.com", "v=spf1 ip4:192.0.2.300 -all");
  z += Txt("unknown.example.com", "v=spf1 frobnicate:example.com -all");
  z += Txt("incnx.example.com", "v=spf1 include:nx.example.com -all");
  z += Txt("incother.example.com", "v=spf1 include:other.example.com -all");
  // DNS-querying terms: ten in one record is the limit, eleven is over it;
  // two includes of five each make twelve (libspf2 alone counts per record).
  std::string ten = "v=spf1";
  for (int i = 1; i <= 11; ++i) {
    const std::string host = "h" + std::to_string(i) + ".example.com";
    z += A(host, "198.51.100." + std::to_string(i));
    if (i <= 10) ten += " a:" + host;
  }
  z += Txt("ten.example.com", ten + " -all");
  z += Txt("eleven.example.com", ten + " a:h11.example.com -all");
  z += Txt("nest.example.com", "v=spf1 include:n1.example.com include:n2.example.com -all");
  z += Txt("n1.example.com",
           "v=spf1 a:h1.example.com a:h2.example.com a:h3.example.com a:h4.example.com "
           "a:h5.example.com ?all");
  z += Txt("n2.example.com",
           "v=spf1 a:h6.example.com a:h7.example.com a:h8.example.com a:h9.example.com "
           "a:h10.example.com ?all");
  z += Txt("loop.example.com", "v=spf1 include:loop2.example.com -all");
  z += Txt("loop2.example.com", "v=spf1 include:loop.example.com -all");
  // Void lookups: two are allowed, the third is permerror.
  for (int i = 1; i <= 3; ++i) z += Nx("v" + std::to_string(i) + ".example.com", "A");
  z += Txt("void2.example.com", "v=spf1 a:v1.example.com a:v2.example.com -all");
  z += Txt("void3.example.com", "v=spf1 a:v1.example.com a:v2.example.com a:v3.example.com -all");
  // MX hosts without an address are not void lookups of their own.
  z += Txt("mxv.example.com", "v=spf1 mx a:v1.example.com a:v2.example.com -all");
  z += Entry("mxv.example.com.", "MX", "NOERROR",
             "mxv.example.com. 300 IN MX 10 x1.example.com.\n"
             "mxv.example.com. 300 IN MX 20 x2.example.com.\n"
             "mxv.example.com. 300 IN MX 30 x3.example.com.\n");
  for (int i = 1; i <= 3; ++i) {
    z += Entry("x" + std::to_string(i) + ".example.com.", "A", "NOERROR", "", kSoa);
  }
  // Temporary failures.
  z += Entry("servfail.example.com.", "TXT", "SERVFAIL", "");
  z += Txt("incservfail.example.com", "v=spf1 include:servfail.example.com -all");
  z += Txt("aservfail.example.com", "v=spf1 a:sf.example.com -all");
  z += Entry("sf.example.com.", "A", "SERVFAIL", "");
  // Macros: an ordinary one is evaluated.
  z += Txt("macro.example.com", "v=spf1 exists:%{i}._spf.%{d} -all");
  z += A("192.0.2.10._spf.macro.example.com", "127.0.0.2");
  z += Nx("198.51.100.99._spf.macro.example.com", "A");
  // The CVE-2023-42118 guard.
  z += BigTxt("exploit.example.com", ExploitRecord());
  z += Txt("longmacro.example.com", "v=spf1 a:" + Repeat("%{d}", 40) + " ip4:192.0.2.0/24 -all");
  z += Txt("incexploit.example.com", "v=spf1 ip4:203.0.113.0/24 include:exploit.example.com -all");
  // An explanation that would overflow libspf2's 515-byte explanation buffer
  // if it were fetched and compiled.
  z += Txt("exp.example.com", "v=spf1 exp=explain.example.com -all");
  z += BigTxt("explain.example.com", Repeat("%{d}", 127) + Repeat("%-", 300));
  // ptr (2.3.4.5: libunbound answers the reverse zones of RFC 5737 itself).
  z += Txt("ptr.example.com", "v=spf1 ptr -all");
  z += Entry("5.4.3.2.in-addr.arpa.", "PTR", "NOERROR",
             "5.4.3.2.in-addr.arpa. 300 IN PTR host.ptr.example.com.\n");
  z += A("host.ptr.example.com", "2.3.4.5");
  return z;
}

class SpfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestDnsServer>(Zone());
    ASSERT_TRUE(server_->ok());
    dns::ResolverOptions o;
    o.upstreams = {server_->upstream()};
    o.timeout = 2000ms;
    auto r = dns::Resolver::Create(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    resolver_ = std::move(r.value());
    auto c = Checker::Create(resolver_.get());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    checker_ = std::move(c.value());
  }
  std::unique_ptr<TestDnsServer> server_;
  std::unique_ptr<dns::Resolver> resolver_;
  std::unique_ptr<Checker> checker_;
};

struct Case {
  const char* name;
  const char* ip;
  const char* helo;
  const char* mail_from;
  SpfResult want;
  const char* domain;  // expected SpfCheck::domain
  const char* reason;  // substring of the reason ("" = any)
  bool guarded = false;
};

const std::string kLongHelo(kMaxHeloBytes + 1, 'h');
const std::string kLongSender = std::string(kMaxMailFromBytes, 'a') + "@ip4.example.com";

const Case kCases[] = {
    {"pass ip4", kGood4, "mta.example.net", "alice@ip4.example.com", SpfResult::kPass,
     "ip4.example.com", "mechanism"},
    {"fail ip4 -all", kBad4, "mta.example.net", "alice@ip4.example.com", SpfResult::kFail,
     "ip4.example.com", ""},
    {"pass ip6", kGood6, "mta.example.net", "alice@ip6.example.com", SpfResult::kPass,
     "ip6.example.com", ""},
    {"fail ip6", kBad6, "mta.example.net", "alice@ip6.example.com", SpfResult::kFail,
     "ip6.example.com", ""},
    {"ip4 client on ip6 record", kGood4, "", "alice@ip6.example.com", SpfResult::kFail,
     "ip6.example.com", ""},
    {"v4-mapped checked as ip4", "::ffff:192.0.2.10", "", "alice@ip4.example.com", SpfResult::kPass,
     "ip4.example.com", ""},
    {"pass a", kGood4, "", "a@a.example.com", SpfResult::kPass, "a.example.com", ""},
    {"pass a (AAAA)", kGood6, "", "a@a.example.com", SpfResult::kPass, "a.example.com", ""},
    {"fail a", kBad4, "", "a@a.example.com", SpfResult::kFail, "a.example.com", ""},
    {"pass mx (second host)", kGood4, "", "m@mx.example.com", SpfResult::kPass, "mx.example.com",
     ""},
    {"fail mx", kBad4, "", "m@mx.example.com", SpfResult::kFail, "mx.example.com", ""},
    {"pass include", kGood4, "", "i@include.example.com", SpfResult::kPass, "include.example.com",
     ""},
    {"fail include", kBad4, "", "i@include.example.com", SpfResult::kFail, "include.example.com",
     ""},
    {"pass redirect", kGood4, "", "r@redirect.example.com", SpfResult::kPass,
     "redirect.example.com", ""},
    {"fail redirect", kBad4, "", "r@redirect.example.com", SpfResult::kFail, "redirect.example.com",
     ""},
    {"softfail", kBad4, "", "s@softfail.example.com", SpfResult::kSoftFail, "softfail.example.com",
     ""},
    {"neutral ?all", kBad4, "", "n@neutral.example.com", SpfResult::kNeutral, "neutral.example.com",
     ""},
    {"neutral by default", kBad4, "", "n@noall.example.com", SpfResult::kNeutral,
     "noall.example.com", "no mechanism matched"},
    {"pass ptr", "2.3.4.5", "", "p@ptr.example.com", SpfResult::kPass, "ptr.example.com", ""},
    {"none: no v=spf1 record", kGood4, "", "o@other.example.com", SpfResult::kNone,
     "other.example.com", ""},
    {"none: NXDOMAIN", kGood4, "", "x@nx.example.com", SpfResult::kNone, "nx.example.com", ""},
    {"none: NODATA", kGood4, "", "x@nodata.example.com", SpfResult::kNone, "nodata.example.com",
     ""},
    {"permerror: two records", kGood4, "", "t@two.example.com", SpfResult::kPermError,
     "two.example.com", "Multiple"},
    {"permerror: bad ip4 literal", kGood4, "", "b@badip.example.com", SpfResult::kPermError,
     "badip.example.com", ""},
    {"permerror: unknown mechanism", kGood4, "", "u@unknown.example.com", SpfResult::kPermError,
     "unknown.example.com", ""},
    {"permerror: include of NXDOMAIN", kGood4, "", "i@incnx.example.com", SpfResult::kPermError,
     "incnx.example.com", ""},
    {"permerror: include without record", kGood4, "", "i@incother.example.com",
     SpfResult::kPermError, "incother.example.com", ""},
    {"ten DNS terms are allowed", kGood4, "", "t@ten.example.com", SpfResult::kFail,
     "ten.example.com", ""},
    {"permerror: eleven DNS terms", kGood4, "", "e@eleven.example.com", SpfResult::kPermError,
     "eleven.example.com", "more than 10 DNS-querying terms"},
    {"permerror: twelve terms across includes", kGood4, "", "n@nest.example.com",
     SpfResult::kPermError, "nest.example.com", "more than 10 DNS-querying terms"},
    {"permerror: include loop", kGood4, "", "l@loop.example.com", SpfResult::kPermError,
     "loop.example.com", ""},
    {"two void lookups are allowed", kGood4, "", "v@void2.example.com", SpfResult::kFail,
     "void2.example.com", ""},
    {"permerror: three void lookups", kGood4, "", "v@void3.example.com", SpfResult::kPermError,
     "void3.example.com", "void lookups"},
    {"MX hosts without address are not void terms", kGood4, "", "v@mxv.example.com",
     SpfResult::kFail, "mxv.example.com", ""},
    {"temperror: SERVFAIL for the record", kGood4, "", "s@servfail.example.com",
     SpfResult::kTempError, "servfail.example.com", "temporary DNS failure for servfail"},
    {"temperror: SERVFAIL in include", kGood4, "", "s@incservfail.example.com",
     SpfResult::kTempError, "incservfail.example.com", "temporary DNS failure"},
    {"temperror: SERVFAIL for a:", kGood4, "", "s@aservfail.example.com", SpfResult::kTempError,
     "aservfail.example.com", "sf.example.com A"},
    {"null sender uses HELO", kGood4, "ip4.example.com", "", SpfResult::kPass, "ip4.example.com",
     ""},
    {"null sender, HELO fails", kBad4, "ip4.example.com", "", SpfResult::kFail, "ip4.example.com",
     ""},
    {"long HELO does not dodge fail", kBad4, kLongHelo.c_str(), "a@ip4.example.com",
     SpfResult::kFail, "ip4.example.com", ""},
    {"null sender, unusable HELO", kGood4, kLongHelo.c_str(), "", SpfResult::kNone, "",
     "unusable HELO name"},
    {"sender too long", kGood4, "", kLongSender.c_str(), SpfResult::kNone, "", "sender too long"},
    {"sender without local-part", kGood4, "", "@ip4.example.com", SpfResult::kPass,
     "ip4.example.com", ""},
    {"last @ decides", kGood4, "", "\"a@b\"@ip4.example.com", SpfResult::kPass, "ip4.example.com",
     ""},
    {"safe macro passes", kGood4, "", "m@macro.example.com", SpfResult::kPass, "macro.example.com",
     ""},
    {"safe macro fails", kBad4, "", "m@macro.example.com", SpfResult::kFail, "macro.example.com",
     ""},
    {"guard: exploit record", kGood4, "", "x@exploit.example.com", SpfResult::kPermError,
     "exploit.example.com", "CVE-2023-42118 guard: macro term of 3910 bytes", true},
    {"guard: long macro term", kGood4, "", "x@longmacro.example.com", SpfResult::kPermError,
     "longmacro.example.com", "CVE-2023-42118 guard", true},
    {"guard: exploit behind include", kGood4, "", "x@incexploit.example.com", SpfResult::kPermError,
     "incexploit.example.com", "SPF record of exploit.example.com", true},
    {"exp= text is not fetched", kBad4, "", "e@exp.example.com", SpfResult::kFail,
     "exp.example.com", ""},
    // Inputs that leave nothing to check: no DNS query.
    {"invalid address", "192.0.2.300", "", "a@ip4.example.com", SpfResult::kNone, "ip4.example.com",
     "invalid client address"},
    {"empty address", "", "", "a@ip4.example.com", SpfResult::kNone, "ip4.example.com",
     "invalid client address"},
    {"address with zone", "fe80::1%eth0", "", "a@ip4.example.com", SpfResult::kNone,
     "ip4.example.com", "invalid client address"},
    {"loopback v4", "127.0.0.1", "", "a@ip4.example.com", SpfResult::kNone, "ip4.example.com",
     "loopback"},
    {"loopback v6", "::1", "", "a@ip4.example.com", SpfResult::kNone, "ip4.example.com",
     "loopback"},
    {"sender without @", kGood4, "", "alice", SpfResult::kNone, "", "sender without @domain"},
    {"sender with empty domain", kGood4, "", "alice@", SpfResult::kNone, "", "no domain to check"},
    {"null sender, no HELO", kGood4, "", "", SpfResult::kNone, "", "no domain to check"},
    {"single-label domain", kGood4, "", "a@localhost", SpfResult::kNone, "localhost", "malformed"},
    {"address literal HELO", kGood4, "[192.0.2.10]", "", SpfResult::kNone, "[192.0.2.10]",
     "malformed"},
    {"empty label", kGood4, "", "a@ip4..example.com", SpfResult::kNone, "ip4..example.com",
     "malformed"},
    {"non-ASCII domain", kGood4, "", "a@b\xc3\xa9.example.com", SpfResult::kNone,
     "b\\xc3\\xa9.example.com", "malformed"},
    {"control bytes", kGood4, "", "a@ex\nample.com", SpfResult::kNone, "ex\\x0aample.com",
     "malformed"},
};

TEST_F(SpfTest, Table) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const SpfCheck got = checker_->CheckMailFrom(c.ip, c.helo, c.mail_from);
    EXPECT_EQ(SpfResultName(got.result), SpfResultName(c.want)) << got.reason;
    EXPECT_EQ(got.domain, c.domain);
    EXPECT_NE(got.reason.find(c.reason), std::string::npos) << got.reason;
    EXPECT_EQ(got.guarded, c.guarded) << got.reason;
    EXPECT_LE(got.reason.size(), kMaxReasonBytes);
    for (const char ch : got.reason) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << got.reason;
  }
}

TEST_F(SpfTest, PlainRecordPassesAfterGuardFired) {
  const SpfCheck bad = checker_->CheckMailFrom(kGood4, "", "x@exploit.example.com");
  EXPECT_EQ(bad.result, SpfResult::kPermError);
  EXPECT_TRUE(bad.guarded);
  const SpfCheck good = checker_->CheckMailFrom(kGood4, "", "x@ip4.example.com");
  EXPECT_EQ(good.result, SpfResult::kPass) << good.reason;
  EXPECT_FALSE(good.guarded);
}

TEST_F(SpfTest, HostileInputsNeverCrash) {
  const std::string huge(100000, 'a');
  const std::string binary("a@\xff\x00\x01.example.com", 17);
  const std::string long_label = "a@" + std::string(64, 'b') + ".example.com";
  const std::string long_local = std::string(400, '%') + "@macro.example.com";
  const std::vector<std::vector<std::string>> inputs = {
      {huge, "", "a@ip4.example.com"},
      {kGood4, huge, ""},
      {kGood4, "", huge},
      {kGood4, "", huge + "@ip4.example.com"},
      {kGood4, "", binary},
      {kGood4, std::string("he\0lo", 5), ""},
      {kGood4, "", long_label},
      {kGood4, "", long_local},  // %{i} only, but the local-part is odd
      {kGood4, "\xff\xfe", "a@ip4.example.com"},
      {"::ffff:999.1.1.1", "", "a@ip4.example.com"},
      {"1.2.3.4.5", "", "a@ip4.example.com"},
      {"2001:db8::1::2", "", "a@ip4.example.com"},
  };
  for (const auto& in : inputs) {
    const SpfCheck got = checker_->CheckMailFrom(in[0], in[1], in[2]);
    EXPECT_LE(got.reason.size(), kMaxReasonBytes);
    EXPECT_LE(got.domain.size(), kMaxReasonBytes);
    for (const char ch : got.reason + got.domain) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f);
  }
  // Garbage HELO next to a valid sender is fine: it is only used by %{h}.
  EXPECT_EQ(checker_->CheckMailFrom(kGood4, "\xff\xfe", "a@ip4.example.com").result,
            SpfResult::kPass);
  EXPECT_EQ(checker_->CheckMailFrom(kGood4, "", long_local).result, SpfResult::kPass);
  EXPECT_EQ(checker_->CheckMailFrom(kBad4, std::string("he\0lo", 5), "a@ip4.example.com").result,
            SpfResult::kFail);
}

TEST_F(SpfTest, ConcurrentChecks) {
  struct Want {
    const char* ip;
    const char* from;
    SpfResult result;
  };
  const Want wants[] = {
      {kGood4, "a@ip4.example.com", SpfResult::kPass},
      {kBad4, "a@ip4.example.com", SpfResult::kFail},
      {kGood4, "a@mx.example.com", SpfResult::kPass},
      {kGood4, "a@include.example.com", SpfResult::kPass},
      {kGood4, "a@eleven.example.com", SpfResult::kPermError},
      {kGood4, "a@void3.example.com", SpfResult::kPermError},
      {kGood4, "a@exploit.example.com", SpfResult::kPermError},
      {kBad4, "a@macro.example.com", SpfResult::kFail},
      {kGood4, "a@nx.example.com", SpfResult::kNone},
  };
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  std::vector<int> wrong(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        for (size_t k = 0; k < std::size(wants); ++k) {
          const Want& w = wants[(k + t) % std::size(wants)];
          if (checker_->CheckMailFrom(w.ip, "", w.from).result != w.result) ++wrong[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t;
}

TEST(SpfTimeoutTest, StoppedServerIsTempError) {
  TestDnsServer server(Txt("ip4.example.com", "v=spf1 ip4:192.0.2.0/24 -all"));
  ASSERT_TRUE(server.ok());
  dns::ResolverOptions o;
  o.upstreams = {server.upstream()};
  o.timeout = 300ms;
  auto resolver = dns::Resolver::Create(o);
  ASSERT_TRUE(resolver.ok()) << resolver.status().ToString();
  auto checker = Checker::Create(resolver->get());
  ASSERT_TRUE(checker.ok()) << checker.status().ToString();
  server.Stop();
  const SpfCheck got = (*checker)->CheckMailFrom(kGood4, "", "a@ip4.example.com");
  EXPECT_EQ(got.result, SpfResult::kTempError) << got.reason;
  EXPECT_NE(got.reason.find("temporary DNS failure for ip4.example.com TXT"), std::string::npos)
      << got.reason;
}

TEST(SpfCreateTest, NullResolver) { EXPECT_FALSE(Checker::Create(nullptr).ok()); }

TEST(SpfResultNameTest, Rfc8601Words) {
  EXPECT_EQ(SpfResultName(SpfResult::kNone), "none");
  EXPECT_EQ(SpfResultName(SpfResult::kNeutral), "neutral");
  EXPECT_EQ(SpfResultName(SpfResult::kPass), "pass");
  EXPECT_EQ(SpfResultName(SpfResult::kFail), "fail");
  EXPECT_EQ(SpfResultName(SpfResult::kSoftFail), "softfail");
  EXPECT_EQ(SpfResultName(SpfResult::kTempError), "temperror");
  EXPECT_EQ(SpfResultName(SpfResult::kPermError), "permerror");
}

TEST(MacroGuardTest, Table) {
  // A term of exactly n bytes: "a:" then macros, padded with letters.
  const auto term = [](size_t n) {
    std::string t = "a:%{d}";
    t += std::string(n - t.size(), 'x');
    return t;
  };
  struct GuardCase {
    std::string txt;
    bool refused;
  };
  const GuardCase cases[] = {
      {"", false},
      {"v=spf1 -all", false},
      {"v=spf1", false},
      {"v=spf1 ip4:192.0.2.0/24 include:_spf.example.net ~all", false},
      {"v=spf1 exists:%{i}._spf.%{d} -all", false},
      {"v=spf1 include:%{ir}.%{v}.%{d}.spf.has.pphosted.com -all", false},
      {"v=spf1 include:%{i}._ip.%{h}._ehlo.%{d}._spf.vali.email ~all", false},
      {"v=spf1 exists:%{l1r+-}.%{d2}.%{ir}.%{v} exp=%{d}.exp.example.com -all", false},
      {"v=spf1 " + term(kMaxMacroTermBytes - 1) + " -all", false},
      {"v=spf1 " + term(kMaxMacroTermBytes) + " -all", true},
      {"V=SPF1 " + term(kMaxMacroTermBytes) + " -all", true},
      {"v=spf1 ~all " + term(300), true},
      {"v=spf1 foo=" + Repeat("%{d}", 40), true},              // modifiers are compiled too
      {"v=spf1 a:" + std::string(500, 'x') + " -all", false},  // long, but no macro
      {"v=spf1 a:%%{" + std::string(200, 'x'), true},          // conservative: "%{" anywhere
      {ExploitRecord(), true},
      {std::string("v=spf1\0", 7) + term(200), true},  // libspf2 stops at NUL; we scan on
      {"v=spf10 " + term(200), false},                 // not an SPF record for libspf2
      {"v=spf1\t" + term(200), false},                 // neither
      {"google-site-verification " + term(200), false},
      {"v=spf1 " + Repeat("%{d}", 30) + " " + Repeat("%{d}", 30), false},  // two short terms
  };
  for (const GuardCase& c : cases) {
    SCOPED_TRACE(c.txt.substr(0, 60));
    std::string why;
    EXPECT_EQ(MacroGuardRefuses(c.txt, &why), c.refused);
    if (c.refused) {
      EXPECT_NE(why.find("CVE-2023-42118"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace senderguard::spf
