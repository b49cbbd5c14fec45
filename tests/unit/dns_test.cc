// Resolver tests against a real DNS server on loopback: ldns-testns (Debian
// ldnsutils, installed by scripts/setup.sh) serving canned answers from a
// datafile, one server and one resolver (fresh cache) per test.
#include "senderguard/auth/dns.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "test_dns_server.h"

namespace senderguard::dns {
namespace {

using namespace std::chrono_literals;
using Rcode = DnsAnswer::Rcode;

using senderguard::test_support::Entry;
using senderguard::test_support::SilentServer;
using senderguard::test_support::TempDir;
using senderguard::test_support::TestDnsServer;

const std::string kSoa =
    "example.com. 300 IN SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 300\n";

// A TXT RR of `n` bytes, in 255-byte strings.
std::string BigTxt(const std::string& owner, size_t n) {
  std::string rr = owner + " 300 IN TXT";
  while (n > 0) {
    const size_t k = std::min<size_t>(n, 255);
    rr += " \"" + std::string(k, 'x') + "\"";
    n -= k;
  }
  return rr + "\n";
}

std::string Zone() {
  std::string z;
  z += Entry("multi.example.com.", "TXT", "NOERROR",
             "multi.example.com. 300 IN TXT \"v=spf1 \" \"ip4:192.0.2.1\" \" -all\"\n");
  z += Entry("several.example.com.", "TXT", "NOERROR",
             "several.example.com. 300 IN TXT \"v=DMARC1; p=reject\"\n"
             "several.example.com. 300 IN TXT \"google-site-verification=abc\"\n"
             "several.example.com. 300 IN TXT \"third\"\n");
  // "caf\xc3\xa9" + "" + "\x00\xff" joined; a record of one empty string.
  z += Entry("bytes.example.com.", "TXT", "NOERROR",
             "bytes.example.com. 300 IN TXT \"caf\\195\\169\" \"\" \"\\000\\255\"\n"
             "bytes.example.com. 300 IN TXT \"\"\n");
  z += Entry("nx.example.com.", "TXT", "NXDOMAIN", "", kSoa);
  z += Entry("nx.example.com.", "A", "NXDOMAIN", "", kSoa);
  z += Entry("nodata.example.com.", "TXT", "NOERROR", "", kSoa);
  z += Entry("servfail.example.com.", "TXT", "SERVFAIL", "");
  z += Entry("refused.example.com.", "TXT", "REFUSED", "");
  z += Entry("addr.example.com.", "A", "NOERROR",
             "addr.example.com. 300 IN A 192.0.2.1\naddr.example.com. 300 IN A 192.0.2.2\n");
  z += Entry("addr.example.com.", "AAAA", "NOERROR", "addr.example.com. 300 IN AAAA 2001:db8::1\n");
  z += Entry("mail.example.com.", "MX", "NOERROR",
             "mail.example.com. 300 IN MX 10 mx1.example.com.\n"
             "mail.example.com. 300 IN MX 20 mx2.example.com.\n");
  z += Entry("nullmx.example.com.", "MX", "NOERROR", "nullmx.example.com. 300 IN MX 0 .\n");
  // Not 192.0.2.0/24 etc.: libunbound answers those reverse zones locally.
  z += Entry("5.4.3.2.in-addr.arpa.", "PTR", "NOERROR",
             "5.4.3.2.in-addr.arpa. 300 IN PTR host.example.com.\n");
  z += Entry("alias.example.com.", "TXT", "NOERROR",
             "alias.example.com. 300 IN CNAME multi.example.com.\n"
             "multi.example.com. 300 IN TXT \"v=spf1 \" \"ip4:192.0.2.1\" \" -all\"\n");
  z += Entry("cached.example.com.", "TXT", "NOERROR", "cached.example.com. 300 IN TXT \"kept\"\n");
  z += Entry("short.example.com.", "TXT", "NOERROR", "short.example.com. 0 IN TXT \"ttl zero\"\n");
  z +=
      Entry("host.example.test.", "TXT", "NOERROR", "host.example.test. 300 IN TXT \"tld test\"\n");
  {
    std::string many;
    for (int i = 0; i < 70; ++i)
      many += "many.example.com. 300 IN A 198.51.100." + std::to_string(i) + "\n";
    z += Entry("many.example.com.", "A", "NOERROR", many);
  }
  // Over UDP: truncated (TC), so the resolver retries over TCP and gets a
  // 4096-byte record (kept) and a 4097-byte one (dropped).
  z += Entry("big.example.com.", "TXT", "NOERROR", "", "", " UDP", "AA TC");
  z += Entry("big.example.com.", "TXT", "NOERROR",
             BigTxt("big.example.com.", 4096) + BigTxt("big.example.com.", 4097), "", " TCP");
  for (int i = 0; i < 16; ++i) {
    const std::string n = "conc" + std::to_string(i) + ".example.com.";
    z += Entry(n, "TXT", "NOERROR", n + " 300 IN TXT \"value " + std::to_string(i) + "\"\n");
  }
  return z;
}

class DnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestDnsServer>(Zone());
    ASSERT_TRUE(server_->ok());
    resolver_ = MakeResolver({});
    ASSERT_NE(resolver_, nullptr);
  }
  std::unique_ptr<Resolver> MakeResolver(ResolverOptions o) {
    o.upstreams = {server_->upstream()};
    if (o.timeout == ResolverOptions{}.timeout) o.timeout = 3000ms;
    auto r = Resolver::Create(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r.value()) : nullptr;
  }
  std::unique_ptr<TestDnsServer> server_;
  std::unique_ptr<Resolver> resolver_;
};

// Header fields of a wire-format answer (RFC 1035 §4.1.1).
int WireRcode(const std::string& w) { return w.size() >= 12 ? (w[3] & 0x0f) : -1; }
int WireAnCount(const std::string& w) {
  return w.size() >= 12 ? (static_cast<unsigned char>(w[6]) << 8) | static_cast<unsigned char>(w[7])
                        : -1;
}

TEST_F(DnsTest, TxtStringsOfOneRecordAreJoined) {
  DnsAnswer a = resolver_->Txt("multi.example.com");
  ASSERT_EQ(a.rcode, Rcode::kOk) << a.error;
  ASSERT_EQ(a.txt.size(), 1u);
  EXPECT_EQ(a.txt[0], "v=spf1 ip4:192.0.2.1 -all");
  ASSERT_EQ(a.rdata.size(), 1u);
  EXPECT_EQ(a.rdata[0], std::string("\x07v=spf1 \x0dip4:192.0.2.1\x05 -all"));
  EXPECT_GT(a.ttl, 0u);
  EXPECT_LE(a.ttl, 300u);
  EXPECT_FALSE(a.timed_out);
  EXPECT_EQ(a.dropped, 0u);
  // The raw packet, for libopendkim.
  EXPECT_EQ(WireRcode(a.wire), 0);
  EXPECT_EQ(WireAnCount(a.wire), 1);
  EXPECT_NE(a.wire.find("ip4:192.0.2.1"), std::string::npos);
}

TEST_F(DnsTest, SeveralTxtRecords) {
  DnsAnswer a = resolver_->Lookup("several.example.com.", kTypeTxt);  // final dot accepted
  ASSERT_EQ(a.rcode, Rcode::kOk) << a.error;
  std::vector<std::string> got = a.txt;
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"google-site-verification=abc", "third",
                                           "v=DMARC1; p=reject"}));
  EXPECT_EQ(a.rdata.size(), 3u);
  EXPECT_EQ(WireAnCount(a.wire), 3);
}

TEST_F(DnsTest, TxtBytesExactlyAsReceivedWithEmptyStrings) {
  DnsAnswer a = resolver_->Txt("bytes.example.com");
  ASSERT_EQ(a.rcode, Rcode::kOk) << a.error;
  std::vector<std::string> got = a.txt;
  std::sort(got.begin(), got.end());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "");
  EXPECT_EQ(got[1], std::string("caf\xc3\xa9\x00\xff", 7));
}

TEST_F(DnsTest, NxDomain) {
  DnsAnswer a = resolver_->Txt("nx.example.com");
  EXPECT_EQ(a.rcode, Rcode::kNxDomain) << a.error;
  EXPECT_TRUE(a.txt.empty());
  EXPECT_EQ(WireRcode(a.wire), 3);
  EXPECT_FALSE(a.timed_out);
}

TEST_F(DnsTest, NoData) {
  DnsAnswer a = resolver_->Txt("nodata.example.com");
  EXPECT_EQ(a.rcode, Rcode::kNoData) << a.error;
  EXPECT_TRUE(a.txt.empty());
  EXPECT_EQ(WireRcode(a.wire), 0);
  EXPECT_EQ(WireAnCount(a.wire), 0);
}

TEST_F(DnsTest, ServfailAndRefusedAreTemporary) {
  for (const char* name : {"servfail.example.com", "refused.example.com"}) {
    SCOPED_TRACE(name);
    const auto t0 = std::chrono::steady_clock::now();
    DnsAnswer a = resolver_->Txt(name);
    EXPECT_EQ(a.rcode, Rcode::kTempFail);
    EXPECT_FALSE(a.timed_out) << "took "
                              << std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - t0)
                                     .count()
                              << " ms";
    EXPECT_FALSE(a.error.empty());
  }
  EXPECT_GE(resolver_->stats().temp_failures, 2u);
}

TEST_F(DnsTest, AddressesAsText) {
  DnsAnswer a = resolver_->Lookup("addr.example.com", kTypeA);
  ASSERT_EQ(a.rcode, Rcode::kOk) << a.error;
  std::vector<std::string> got = a.addresses;
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
  ASSERT_EQ(a.rdata.size(), 2u);
  EXPECT_EQ(a.rdata[0].size(), 4u);

  DnsAnswer b = resolver_->Lookup("addr.example.com", kTypeAaaa);
  ASSERT_EQ(b.rcode, Rcode::kOk) << b.error;
  EXPECT_EQ(b.addresses, (std::vector<std::string>{"2001:db8::1"}));
  ASSERT_EQ(b.rdata.size(), 1u);
  EXPECT_EQ(b.rdata[0].size(), 16u);
}

TEST_F(DnsTest, MxPreferenceAndHost) {
  DnsAnswer a = resolver_->Lookup("mail.example.com", kTypeMx);
  ASSERT_EQ(a.rcode, Rcode::kOk) << a.error;
  ASSERT_EQ(a.mx.size(), 2u);
  std::vector<std::pair<int, std::string>> got;
  for (const MxRecord& m : a.mx) got.emplace_back(m.preference, m.host);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got[0], std::make_pair(10, std::string("mx1.example.com")));
  EXPECT_EQ(got[1], std::make_pair(20, std::string("mx2.example.com")));

  DnsAnswer null_mx = resolver_->Lookup("nullmx.example.com", kTypeMx);  // RFC 7505
  ASSERT_EQ(null_mx.rcode, Rcode::kOk) << null_mx.error;
  ASSERT_EQ(null_mx.mx.size(), 1u);
  EXPECT_EQ(null_mx.mx[0].preference, 0);
  EXPECT_EQ(null_mx.mx[0].host, "");
}

TEST_F(DnsTest, PtrNames) {
  DnsAnswer a = resolver_->Lookup("5.4.3.2.in-addr.arpa", kTypePtr);
  ASSERT_EQ(a.rcode, Rcode::kOk) << a.error;
  EXPECT_EQ(a.names, (std::vector<std::string>{"host.example.com"}));
}

TEST_F(DnsTest, CnameFollowed) {
  DnsAnswer a = resolver_->Txt("alias.example.com");
  ASSERT_EQ(a.rcode, Rcode::kOk) << a.error;
  EXPECT_EQ(a.txt, (std::vector<std::string>{"v=spf1 ip4:192.0.2.1 -all"}));
  EXPECT_EQ(a.canonical_name, "multi.example.com");
}

TEST_F(DnsTest, RecordCountIsCapped) {
  DnsAnswer a = resolver_->Lookup("many.example.com", kTypeA);
  ASSERT_EQ(a.rcode, Rcode::kOk) << a.error;
  EXPECT_EQ(a.addresses.size(), kMaxRecords);
  EXPECT_EQ(a.rdata.size(), kMaxRecords);
  EXPECT_EQ(a.dropped, 70 - kMaxRecords);
  EXPECT_EQ(resolver_->stats().dropped_records, 70 - kMaxRecords);
}

TEST_F(DnsTest, OversizeTxtRecordDroppedOverTcp) {
  DnsAnswer a = resolver_->Txt("big.example.com");
  ASSERT_EQ(a.rcode, Rcode::kOk) << a.error;
  ASSERT_EQ(a.txt.size(), 1u);
  EXPECT_EQ(a.txt[0], std::string(kMaxTxtBytes, 'x'));
  EXPECT_EQ(a.dropped, 1u);
}

TEST_F(DnsTest, PositiveAnswerServedFromCacheWithoutServer) {
  DnsAnswer first = resolver_->Txt("cached.example.com");
  ASSERT_EQ(first.rcode, Rcode::kOk) << first.error;
  server_->Stop();
  DnsAnswer second = resolver_->Txt("cached.example.com");
  ASSERT_EQ(second.rcode, Rcode::kOk) << second.error;
  EXPECT_EQ(second.txt, (std::vector<std::string>{"kept"}));
  EXPECT_LE(second.ttl, first.ttl);
  EXPECT_TRUE(second.wire.empty());  // the answer cache keeps no wire copy
  // Not cached: another name now fails (the server really is gone).
  DnsAnswer other = resolver_->Lookup("multi.example.com", kTypeTxt, 300ms);
  EXPECT_EQ(other.rcode, Rcode::kTempFail);
}

TEST_F(DnsTest, NxDomainServedFromNegativeCacheWithoutServer) {
  DnsAnswer first = resolver_->Txt("nx.example.com");
  ASSERT_EQ(first.rcode, Rcode::kNxDomain) << first.error;
  EXPECT_GT(first.ttl, 0u);
  EXPECT_LE(first.ttl, 300u);  // the SOA minimum
  server_->Stop();
  DnsAnswer second = resolver_->Txt("nx.example.com");
  EXPECT_EQ(second.rcode, Rcode::kNxDomain) << second.error;
  // libunbound caches the negative answer per (name, type): an NXDOMAIN for
  // TXT does not answer a later A question (no aggressive NSEC use without
  // DNSSEC), so that one goes upstream.
}

TEST_F(DnsTest, NoDataServedFromNegativeCacheWithoutServer) {
  ASSERT_EQ(resolver_->Txt("nodata.example.com").rcode, Rcode::kNoData);
  server_->Stop();
  DnsAnswer second = resolver_->Txt("nodata.example.com");
  EXPECT_EQ(second.rcode, Rcode::kNoData) << second.error;
}

TEST_F(DnsTest, ZeroTtlIsNotCached) {
  ASSERT_EQ(resolver_->Txt("short.example.com").rcode, Rcode::kOk);
  server_->Stop();
  EXPECT_EQ(resolver_->Lookup("short.example.com", kTypeTxt, 300ms).rcode, Rcode::kTempFail);
}

TEST_F(DnsTest, TestTldAnsweredLocallyUnlessForwarded) {
  // RFC 6761 §6.2: "test." is answered NXDOMAIN by libunbound itself.
  DnsAnswer local = resolver_->Txt("host.example.test");
  EXPECT_EQ(local.rcode, Rcode::kNxDomain) << local.error;

  ResolverOptions o;
  o.forward_test_tld = true;
  std::unique_ptr<Resolver> fwd = MakeResolver(o);
  ASSERT_NE(fwd, nullptr);
  DnsAnswer a = fwd->Txt("host.example.test");
  ASSERT_EQ(a.rcode, Rcode::kOk) << a.error;
  EXPECT_EQ(a.txt, (std::vector<std::string>{"tld test"}));
}

TEST_F(DnsTest, ConcurrentLookupsFromEightThreads) {
  // Without the answer cache, so every question goes through libunbound.
  ResolverOptions o;
  o.answer_cache_entries = 0;
  std::unique_ptr<Resolver> resolver = MakeResolver(o);
  ASSERT_NE(resolver, nullptr);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = (t * 7 + i) % 16;
        DnsAnswer a = resolver->Txt("conc" + std::to_string(n) + ".example.com");
        if (a.rcode != Rcode::kOk ||
            a.txt != std::vector<std::string>{"value " + std::to_string(n)}) {
          ++failures[t];
        }
        if (i % 10 == 0 && resolver->Txt("nx.example.com").rcode != Rcode::kNxDomain) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  const ResolverStats s = resolver->stats();
  EXPECT_EQ(s.lookups, static_cast<uint64_t>(kThreads * (kPerThread + kPerThread / 10)));
  EXPECT_EQ(s.answered, s.lookups);
  EXPECT_EQ(s.timeouts, 0u);
}

TEST_F(DnsTest, AnswerCacheServesRepeatsWithoutLibunbound) {
  ASSERT_EQ(resolver_->Txt("conc1.example.com").rcode, Rcode::kOk);
  const uint64_t asked = resolver_->stats().lookups;
  for (int i = 0; i < 50; ++i) {
    DnsAnswer a = resolver_->Txt(i % 2 ? "CONC1.Example.com." : "conc1.example.com");
    ASSERT_EQ(a.rcode, Rcode::kOk);
    EXPECT_EQ(a.txt, (std::vector<std::string>{"value 1"}));
    EXPECT_LE(a.ttl, 300u);
  }
  EXPECT_EQ(resolver_->stats().lookups, asked);
  EXPECT_EQ(resolver_->stats().cache_hits, 50u);
  // Another type of the same name is another question.
  resolver_->Lookup("conc1.example.com", kTypeA);
  EXPECT_EQ(resolver_->stats().lookups, asked + 1);
  // NXDOMAIN is kept too.
  ASSERT_EQ(resolver_->Txt("nx.example.com").rcode, Rcode::kNxDomain);
  const uint64_t before = resolver_->stats().lookups;
  EXPECT_EQ(resolver_->Txt("nx.example.com").rcode, Rcode::kNxDomain);
  EXPECT_EQ(resolver_->stats().lookups, before);
  EXPECT_TRUE(resolver_->IsCached("nx.example.com.", kTypeTxt));
  EXPECT_FALSE(resolver_->IsCached("nx.example.com", kTypeA));
}

TEST_F(DnsTest, AnswerCacheBoundedInBytes) {
  // A budget of 64 KiB keeps answers of up to 1 KiB; the 4 KiB TXT record is
  // answered but not kept, and a flood of names never grows past the budget.
  ResolverOptions o;
  o.answer_cache_bytes = 64 << 10;
  std::unique_ptr<Resolver> r = MakeResolver(o);
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->Txt("big.example.com").rcode, Rcode::kOk);
  EXPECT_FALSE(r->IsCached("big.example.com", kTypeTxt));
  for (int round = 0; round < 3; ++round) {
    for (int n = 0; n < 16; ++n) ASSERT_EQ(r->Txt("conc" + std::to_string(n) + ".example.com").rcode, Rcode::kOk);
  }
  EXPECT_GE(r->stats().cache_hits, 32u);
}

// After the upstream stopped answering (timeouts), the resolver uses it again
// as soon as it is back, rather than failing fast for minutes.
TEST_F(DnsTest, UpstreamUsedAgainWhenItComesBack) {
  ASSERT_EQ(resolver_->Txt("cached.example.com").rcode, Rcode::kOk);
  const int port = server_->port();
  server_->Stop();
  for (const char* name : {"multi.example.com", "several.example.com", "bytes.example.com"}) {
    EXPECT_EQ(resolver_->Lookup(name, kTypeTxt, 300ms).rcode, Rcode::kTempFail) << name;
  }
  std::unique_ptr<TestDnsServer> again;
  for (int attempt = 0; attempt < 20 && (again == nullptr || !again->ok()); ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(100ms);
    again = std::make_unique<TestDnsServer>(Zone(), port);
  }
  ASSERT_TRUE(again->ok());
  const auto t0 = std::chrono::steady_clock::now();
  DnsAnswer a = resolver_->Lookup("alias.example.com", kTypeTxt, 10s);
  EXPECT_EQ(a.rcode, Rcode::kOk) << a.error << " after "
                                 << std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - t0)
                                        .count()
                                 << " ms";
}

// The ugly names, refused before any query.
TEST(DnsNameTest, ValidQueryName) {
  const std::string l63(63, 'a');
  const std::string n253 = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  ASSERT_EQ(n253.size(), 253u);
  struct Case {
    std::string name;
    bool valid;
  } cases[] = {
      {"example.com", true},
      {"example.com.", true},
      {".", true},
      {"_dmarc.example.com", true},
      {"sel._domainkey.example.com", true},
      {"a+b=c.example.com", true},  // SPF macros can expand to such labels
      {"xn--caf-dma.example", true},
      {l63 + ".com", true},
      {n253, true},
      {n253 + ".", true},
      {"", false},
      {"..", false},
      {".example.com", false},
      {"a..b", false},
      {"example.com..", false},
      {std::string(64, 'a') + ".com", false},
      {n253 + "b", false},
      {"exa mple.com", false},
      {"exa\\.mple.com", false},
      {"exa\\046mple.com", false},
      {std::string("exa\0mple.com", 12), false},
      {"caf\xc3\xa9.example", false},
      {"tab\t.example", false},
      {"del\x7f.example", false},
  };
  for (const Case& c : cases) {
    std::string why;
    EXPECT_EQ(ValidQueryName(c.name, &why), c.valid) << "name=\"" << c.name << "\" why=" << why;
    if (!c.valid) {
      EXPECT_FALSE(why.empty());
    }
  }
}

TEST_F(DnsTest, MalformedNameRefusedWithoutQuery) {
  for (const std::string& name : {std::string(""), std::string("a..b"), std::string(64, 'x'),
                                  std::string("bad name.example"), std::string("x\\.y")}) {
    DnsAnswer a = resolver_->Txt(name);
    EXPECT_EQ(a.rcode, Rcode::kPermFail) << name;
    EXPECT_TRUE(a.wire.empty());
    EXPECT_FALSE(a.error.empty());
  }
  EXPECT_EQ(resolver_->Lookup("example.com", 0).rcode, Rcode::kPermFail);
  const ResolverStats s = resolver_->stats();
  EXPECT_EQ(s.refused_names, 6u);
  EXPECT_EQ(s.lookups, 0u);
}

TEST(DnsTimeoutTest, UnansweredLookupTimesOut) {
  SilentServer silent;
  ASSERT_GT(silent.port(), 0);
  ResolverOptions o;
  o.upstreams = {silent.upstream()};
  o.timeout = 300ms;
  auto r = Resolver::Create(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Resolver& resolver = **r;

  const auto t0 = std::chrono::steady_clock::now();
  DnsAnswer a = resolver.Txt("slow.example.com");
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(a.rcode, Rcode::kTempFail);
  EXPECT_TRUE(a.timed_out);
  EXPECT_TRUE(a.wire.empty());
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 5s);  // generous: not a timing test

  // Several threads time out at once, each on its own deadline.
  std::vector<std::thread> threads;
  std::vector<int> timed_out(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      timed_out[t] =
          resolver.Lookup("slow" + std::to_string(t) + ".example.com", kTypeA, 100ms * (t + 1))
              .timed_out;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(timed_out[t], 1) << t;
  const ResolverStats s = resolver.stats();
  EXPECT_EQ(s.timeouts, 5u);
  EXPECT_EQ(s.temp_failures, 5u);
  EXPECT_EQ(s.answered, 0u);
  // The resolver is destroyed with queries still running inside libunbound.
}

TEST(DnsCreateTest, BadConfigurationRefused) {
  ResolverOptions o;
  o.upstreams = {"not-an-address"};
  EXPECT_EQ(Resolver::Create(o).status().code(), Status::Code::kInvalid);
  o.upstreams = {""};
  EXPECT_EQ(Resolver::Create(o).status().code(), Status::Code::kInvalid);
  o.upstreams = {"127.0.0.1@53", "::1@5353"};
  EXPECT_TRUE(Resolver::Create(o).ok());
  o.timeout = 0ms;
  EXPECT_EQ(Resolver::Create(o).status().code(), Status::Code::kInvalid);

  ResolverOptions from_file;
  from_file.resolv_conf = "/nonexistent/resolv.conf";
  EXPECT_EQ(Resolver::Create(from_file).status().code(), Status::Code::kIo);
}

TEST(DnsCreateTest, UpstreamFromResolvConf) {
  // resolv.conf has no port syntax, so no test server can sit behind it: name
  // an address that never answers (TEST-NET-1, RFC 5737) and check that the
  // lookup goes there and not to the system's resolver: it fails, never
  // answers.
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/resolv.conf";
  std::ofstream(path) << "# test\nsearch example.com\nnameserver 192.0.2.1\n";
  ResolverOptions o;
  o.resolv_conf = path;
  o.timeout = 300ms;
  auto r = Resolver::Create(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  DnsAnswer a = (*r)->Lookup("www.example.com", kTypeA);
  EXPECT_EQ(a.rcode, Rcode::kTempFail) << RcodeName(a.rcode);
}

}  // namespace
}  // namespace senderguard::dns
