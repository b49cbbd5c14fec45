// Tests for senderguard/auth/dns_wire.h: names and TXT replies in DNS wire
// format, as libopendkim's key parser reads them.
#include "senderguard/auth/dns_wire.h"

#include <gtest/gtest.h>

#include <string>

#include "senderguard/auth/dns.h"

namespace senderguard::dns {
namespace {

using namespace std::string_literals;

TEST(EncodeName, Table) {
  const std::string label63(63, 'a'), label64(64, 'a');
  // 4 labels of 63 bytes: 4*64 + 1 = 257 bytes, over 255.
  const std::string too_long = label63 + "." + label63 + "." + label63 + "." + label63;
  struct Case {
    std::string name;
    bool ok;
    std::string wire;
  } cases[] = {
      {"", true, "\0"s},
      {".", true, "\0"s},
      {"a", true, "\1a\0"s},
      {"sel._domainkey.example.com", true, "\3sel\12_domainkey\7example\3com\0"s},
      {"example.com.", true, "\7example\3com\0"s},
      {label63 + ".x", true, "\77"s + label63 + "\1x\0"s},
      {label64 + ".x", false, ""},
      {"a..b", false, ""},
      {"..", false, ""},
      {".a", false, ""},
      {"a..", false, ""},
      {too_long, false, ""},
  };
  for (const auto& c : cases) {
    std::string out = "prefix";
    EXPECT_EQ(EncodeName(c.name, &out), c.ok) << c.name;
    EXPECT_EQ(out, "prefix" + c.wire) << c.name;  // nothing appended on failure
  }
}

uint16_t U16(const std::string& m, size_t at) {
  return static_cast<uint16_t>((static_cast<unsigned char>(m[at]) << 8) |
                               static_cast<unsigned char>(m[at + 1]));
}

TEST(BuildTxtReply, HeaderQuestionAndAnswers) {
  const std::string rdata1 = "\5v=DKI"s, rdata2 = "\3p=x"s;
  const std::string m = BuildTxtReply("s._domainkey.a.b", kRcodeNoError, {rdata1, rdata2});
  EXPECT_EQ(U16(m, 0), 0);                       // id
  EXPECT_EQ(static_cast<unsigned char>(m[2]), 0x81);  // QR, RD
  EXPECT_EQ(static_cast<unsigned char>(m[3]), 0x80);  // RA, NOERROR
  EXPECT_EQ(U16(m, 4), 1);                       // one question
  EXPECT_EQ(U16(m, 6), 2);                       // two answers
  EXPECT_EQ(U16(m, 8), 0);
  EXPECT_EQ(U16(m, 10), 0);
  const std::string qname = "\1s\12_domainkey\1a\1b\0"s;
  ASSERT_EQ(m.compare(12, qname.size(), qname), 0);
  size_t at = 12 + qname.size();
  EXPECT_EQ(U16(m, at), kTypeTxt);
  EXPECT_EQ(U16(m, at + 2), kClassIn);
  at += 4;
  for (const std::string& r : {rdata1, rdata2}) {
    EXPECT_EQ(U16(m, at), 0xc00c);  // owner: pointer to the question name
    EXPECT_EQ(U16(m, at + 2), kTypeTxt);
    EXPECT_EQ(U16(m, at + 4), kClassIn);
    EXPECT_EQ(U16(m, at + 6), 0);  // TTL
    EXPECT_EQ(U16(m, at + 8), 0);
    EXPECT_EQ(U16(m, at + 10), r.size());
    EXPECT_EQ(m.compare(at + 12, r.size(), r), 0);
    at += 12 + r.size();
  }
  EXPECT_EQ(at, m.size());
}

TEST(BuildTxtReply, NxDomainAndAnUnwritableName) {
  const std::string m = BuildTxtReply("a..b", kRcodeNxDomain, {});
  EXPECT_EQ(static_cast<unsigned char>(m[3]), 0x80 | kRcodeNxDomain);
  EXPECT_EQ(U16(m, 6), 0);
  // The question is the root when the name cannot be written.
  ASSERT_EQ(m.size(), 12u + 1 + 4);
  EXPECT_EQ(m[12], '\0');
  EXPECT_EQ(U16(m, 13), kTypeTxt);
}

}  // namespace
}  // namespace senderguard::dns
