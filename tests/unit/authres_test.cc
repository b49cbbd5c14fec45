// Tests for authres.h: the Authentication-Results value we add, and which
// existing ones claim our authserv-id.
#include "senderguard/auth/authres.h"

#include <gtest/gtest.h>

namespace senderguard::authres {
namespace {

TEST(AuthresBuild, NoResultsIsNone) { EXPECT_EQ(Build("mx.example.net", {}), "mx.example.net; none"); }

TEST(AuthresBuild, ResultsFoldedOnePerLine) {
  std::vector<ResInfo> r = {
      {"spf", "pass", "", "egress 192.0.2.1", {{"smtp.mailfrom", "bounce.example.com"}}},
      {"dkim", "pass", "", "", {{"header.d", "example.com"}, {"header.s", "sel1"}}},
      {"dmarc", "pass", "", "", {{"header.from", "example.com"}}}};
  EXPECT_EQ(Build("mx.example.net", r),
            "mx.example.net;\n\tspf=pass (egress 192.0.2.1) smtp.mailfrom=bounce.example.com;\n\t"
            "dkim=pass header.d=example.com header.s=sel1;\n\tdmarc=pass header.from=example.com");
}

TEST(AuthresBuild, HostileTextIsNeutralized) {
  std::vector<ResInfo> r = {{"dkim", "fail", "bad \"sig\"\r\nX-Evil: 1", "a)b\n(c",
                             {{"header.d", "ex ample;.com"}, {"header.i", "@example.com"}}}};
  const std::string v = Build("mx.example.net", r);
  EXPECT_EQ(v.find('\r'), std::string::npos);
  EXPECT_EQ(v.find("\nX-Evil"), std::string::npos);
  // The one escaping policy (text.h), then RFC 5322 quoted-pairs.
  EXPECT_NE(v.find("reason=\"bad \\\"sig\\\"\\\\x0d\\\\x0aX-Evil: 1\""), std::string::npos) << v;
  EXPECT_NE(v.find("(a\\)b\\\\x0a\\(c)"), std::string::npos) << v;
  EXPECT_NE(v.find("header.d=\"ex ample;.com\""), std::string::npos) << v;
  EXPECT_NE(v.find("header.i=@example.com"), std::string::npos) << v;
}

TEST(AuthresClaims, Table) {
  struct Case {
    const char* value;
    bool ours;
  };
  const Case cases[] = {
      {"mx.example.net; spf=pass", true},
      {" MX.Example.NET; dkim=fail", true},
      {"mx.example.net 1; none", true},
      {"(comment (nested)) mx.example.net; none", true},
      {"\n\tmx.example.net;\n\tspf=pass", true},
      {"\"mx.example.net\"; none", true},
      {"mx.example.net.evil; none", false},
      {"other.example; spf=pass smtp.mailfrom=mx.example.net", false},
      {"", false},
      {"   ", false},
      {"(unterminated mx.example.net; none", false},
      {";mx.example.net", false},
  };
  for (const auto& c : cases) EXPECT_EQ(ClaimsAuthservId(c.value, "mx.example.net"), c.ours) << c.value;
}

}  // namespace
}  // namespace senderguard::authres
