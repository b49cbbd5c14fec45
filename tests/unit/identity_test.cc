// Tests for identity.h: account and address normalization and the identity
// order. Every input here stands for something an SMTP client controls.
#include "senderguard/decide/identity.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace senderguard {
namespace {

using namespace std::string_literals;

struct NormCase {
  const char* name;
  std::string input;
  std::optional<std::string> want;
};

std::ostream& operator<<(std::ostream& o, const NormCase& c) { return o << c.name; }

// ---------------------------------------------------------------- accounts

// identity.h: trimmed, ASCII lower case, every byte outside [a-z0-9._@+:-]
// written as "=XX"; nullopt only for an empty or blank name.
const std::vector<NormCase> kAccountCases = {
    {"plain", "alice", "alice"},
    {"upper_case", "ALICE", "alice"},
    {"mixed_login", "Alice@Example.COM", "alice@example.com"},
    {"every_allowed_punct", "a.b_c+d:f-g@h", "a.b_c+d:f-g@h"},
    {"digits", "0123456789", "0123456789"},
    {"spaces_trimmed", "  alice  ", "alice"},
    {"tabs_trimmed", "\talice\t", "alice"},
    {"ipv4", "192.0.2.1", "192.0.2.1"},
    {"ipv6", "2001:db8::1", "2001:db8::1"},
    {"ipv6_upper", "2001:DB8::A", "2001:db8::a"},
    {"ipv4_mapped_ipv6", "::ffff:192.0.2.1", "::ffff:192.0.2.1"},
    {"longest", std::string(kMaxAccountName, 'a'), std::string(kMaxAccountName, 'a')},
    {"longest_after_trim", "  " + std::string(kMaxAccountName, 'b') + "  ",
     std::string(kMaxAccountName, 'b')},
    // hostile: encoded, never refused (a login must not fall through to an
    // identity the client chooses)
    {"empty", "", std::nullopt},
    {"only_spaces", "    ", std::nullopt},
    {"only_tabs", "\t\t", std::nullopt},
    {"equals_is_escaped", "a=b", "a=3db"},
    {"escape_kept", "a=3db", "a=3db"},
    {"escape_upper_hex_kept", "A=3Db", "a=3db"},
    {"escape_half", "a=3", "a=3d3"},
    {"escape_not_hex", "a=zz", "a=3dzz"},
    {"inner_space", "al ice", "al=20ice"},
    {"double_quote", "al\"ice", "al=22ice"},
    {"single_quote", "al'ice", "al=27ice"},
    {"embedded_nul", "al\0ice"s, "al=00ice"},
    {"trailing_nul", "alice\0"s, "alice=00"},
    {"newline", "alice\n", "alice=0a"},
    {"cr_lf_injection", "alice\r\nqueue_id=X", "alice=0d=0aqueue_id=3dx"},
    {"control_char", "al\x01ice", "al=01ice"},
    {"del", "alice\x7f", "alice=7f"},
    {"utf8", "\xc3\xa9lise", "=c3=a9lise"},
    {"utf8_upper", "J\xc3\x9cRGEN", "j=c3=9crgen"},
    {"latin1_high_byte", "\xe9lise", "=e9lise"},
    {"windows_domain_user", "DOMAIN\\user", "domain=5cuser"},
    {"slash", "a/b", "a=2fb"},
    {"comma", "a,b", "a=2cb"},
    {"semicolon", "a;b", "a=3bb"},
    {"percent", "a%b", "a=25b"},
    {"brackets", "[2001:db8::1]", "=5b2001:db8::1=5d"},
    {"angle", "<alice>", "=3calice=3e"},
    {"ipv6_zone", "fe80::1%eth0", "fe80::1=25eth0"},
};

class NormalizeAccountTest : public ::testing::TestWithParam<NormCase> {};

TEST_P(NormalizeAccountTest, Table) {
  const NormCase& c = GetParam();
  EXPECT_EQ(NormalizeAccount(c.input), c.want);
}

INSTANTIATE_TEST_SUITE_P(Cases, NormalizeAccountTest, ::testing::ValuesIn(kAccountCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(NormalizeAccount, EveryByteIsKeptOrEscaped) {
  const std::string allowed = "abcdefghijklmnopqrstuvwxyz0123456789._@+:-";
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const std::string in = "x"s + c + "y";
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    std::string mid;
    if (b != 0 && allowed.find(lower) != std::string::npos) {
      mid = std::string(1, lower);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "=%02x", b);
      mid = hex;
    }
    EXPECT_EQ(NormalizeAccount(in), "x" + mid + "y") << "byte " << b;
  }
}

// identity.h: a login "never falls through to an identity the client
// chooses". So two different logins must never share an account: otherwise
// whoever can pick the login "john=20smith" sends (and is suspended, and
// spends quota) as "john smith".
TEST(NormalizeAccount, DifferentLoginsNeverShareAnAccount) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"a b", "a_b"}, {"a=b", "a-b"}, {"a\nb", "a b"}, {"\xc3\xa9", "e"},
      {"DOMAIN\\user", "domain/user"}, {"x", "y"}};
  for (const auto& [one, two] : pairs) {
    auto n1 = NormalizeAccount(one);
    auto n2 = NormalizeAccount(two);
    ASSERT_TRUE(n1.has_value() && n2.has_value());
    EXPECT_NE(*n1, *n2) << "\"" << one << "\" and \"" << two << "\" both give " << *n1;
  }
  // Case is folded on purpose: these are the same account.
  EXPECT_EQ(NormalizeAccount("Alice"), NormalizeAccount("alice"));
}

// By design a canonical name normalizes to itself (the postmaster types what
// `list` prints), so an input that already holds an "=XX" escape names the
// same account as the byte it escapes. Normalization cannot be both
// idempotent and injective; logins are issued by the platform, not chosen.
TEST(NormalizeAccount, WrittenEscapeNamesTheEscapedByte) {
  EXPECT_EQ(NormalizeAccount("a b"), NormalizeAccount("a=20b"));
  EXPECT_EQ(NormalizeAccount("j\xc3\xbcrgen"), NormalizeAccount("J=C3=BCrgen"));
  EXPECT_EQ(NormalizeAccount("a=b"), std::optional<std::string>("a=3db"));
}

// Names over kMaxAccountName keep their first 200 bytes and a hash, so two
// long logins that share a prefix stay apart and the key stays bounded.
TEST(NormalizeAccount, LongNamesAreBoundedAndDistinct) {
  const std::string base(300, 'a');
  const std::vector<std::string> inputs = {base, base + "b", base + "c", std::string(1 << 20, 'a'),
                                           std::string(200, 'a') + std::string(100, ' ') + "z",
                                           std::string(100, '\xff')};
  std::map<std::string, std::string> seen;
  for (const auto& in : inputs) {
    auto n = NormalizeAccount(in);
    ASSERT_TRUE(n.has_value());
    EXPECT_LE(n->size(), kMaxAccountName) << in.size();
    EXPECT_EQ(NormalizeAccount(in), n) << "not deterministic";
    if (in.size() < 1000 && in[0] == 'a') {
      EXPECT_EQ(n->substr(0, 200), in.substr(0, 200));
    }
    EXPECT_TRUE(seen.emplace(*n, in.substr(0, 20)).second) << "collision for input of " << in.size();
  }
  // 100 bytes of 0xff encode to 300 bytes: over the limit once encoded.
  EXPECT_EQ(NormalizeAccount(std::string(100, '\xff'))->substr(0, 6), "=ff=ff");
}

// The canonical name is what `senderguardctl list` prints and what an
// operator types back into `senderguardctl suspend NAME`, which normalizes
// its argument again: it must name the same account.
TEST(NormalizeAccount, CanonicalNameIsAFixedPoint) {
  for (const std::string& in : std::vector<std::string>{"alice", "Alice@Example.COM",
                                                        "J\xc3\xbcrgen", "a=b", "DOMAIN\\user",
                                                        "bad login", std::string(300, 'q'),
                                                        // hashed, with the 200-byte cut
                                                        // inside an "=ff" escape
                                                        std::string(199, 'a') +
                                                            std::string(30, '\xff')}) {
    auto once = NormalizeAccount(in);
    ASSERT_TRUE(once.has_value()) << in;
    EXPECT_EQ(NormalizeAccount(*once), once) << "input \"" << in << "\"";
  }
}

// --------------------------------------------------------------- addresses

const std::vector<NormCase> kAddressCases = {
    {"bracketed", "<Bob@Example.COM>", "bob@example.com"},
    {"bare", "bob@example.com", "bob@example.com"},
    {"spaces_around_brackets", "  <bob@example.com>  ", "bob@example.com"},
    {"spaces_inside_brackets", "< bob@example.com >", "bob@example.com"},
    {"plus_tag", "bob+tag@example.com", "bob+tag@example.com"},
    {"idn_a_label", "bob@xn--bcher-kva.example", "bob@xn--bcher-kva.example"},
    {"utf8_local_part", "b\xc3\xb8" "b@example.com", "b\xc3\xb8" "b@example.com"},
    {"label_63", "bob@" + std::string(63, 'a') + ".example", "bob@" + std::string(63, 'a') + ".example"},
    {"longest", std::string(kMaxAddress - 12, 'a') + "@example.com",
     std::string(kMaxAddress - 12, 'a') + "@example.com"},
    // hostile
    {"empty", "", std::nullopt},
    {"null_sender", "<>", std::nullopt},
    {"null_sender_spaced", " < > ", std::nullopt},
    {"no_at", "bob", std::nullopt},
    {"no_local", "@example.com", std::nullopt},
    {"no_domain", "bob@", std::nullopt},
    {"only_at", "@", std::nullopt},
    {"too_long", std::string(kMaxAddress - 11, 'a') + "@example.com", std::nullopt},
    {"huge", std::string(1 << 20, 'a') + "@example.com", std::nullopt},
    {"label_64", "bob@" + std::string(64, 'a') + ".example", std::nullopt},
    {"empty_label", "bob@example..com", std::nullopt},
    {"leading_dot_domain", "bob@.example.com", std::nullopt},
    {"space_in_local", "bob smith@example.com", std::nullopt},
    {"space_in_domain", "bob@exa mple.com", std::nullopt},
    {"embedded_nul", "bob\0@example.com"s, std::nullopt},
    {"nul_in_domain", "bob@example.com\0.evil"s, std::nullopt},
    {"crlf", "bob@example.com\r\n", std::nullopt},
    {"newline_injection", "bob@example.com\nqueue_id=X", std::nullopt},
    {"tab_inside", "bob\t@example.com", std::nullopt},
    {"control_char", "bob\x01@example.com", std::nullopt},
    {"del", "bob\x7f@example.com", std::nullopt},
    // A Unicode domain (SMTPUTF8) is the same mailbox as its A-labels: stored
    // and looked up as those, as `domains add` stores a domain.
    {"utf8_domain", "bob@b\xc3\xbc" "cher.example", "bob@xn--bcher-kva.example"},
    {"utf8_domain_upper", "Bob@B\xc3\x9c" "CHER.Example", "bob@xn--bcher-kva.example"},
    {"utf8_domain_invalid", "bob@\xe2\x98\x83\xe2\x80\x8d.example", std::nullopt},
    {"utf8_domain_bad_bytes", "bob@b\xc3.example", std::nullopt},
    {"utf8_domain_too_long", std::string(236, 'a') + "@b\xc3\xbc" "cher.example", std::nullopt},
    {"hyphen_first", "a@-bad.example", std::nullopt},
    {"hyphen_last", "a@bad-.example", std::nullopt},
    {"hyphen_both", "a@-bad-.example", std::nullopt},
    {"hyphen_tld", "a@bad.example-", std::nullopt},
    {"hyphen_inside", "a@b-a-d.example", "a@b-a-d.example"},
    {"hyphen_in_local", "-a-@example.com", "-a-@example.com"},
    {"address_literal", "bob@[192.0.2.1]", std::nullopt},
    {"domain_254", "bob@" + std::string(50, 'a') + "." + std::string(50, 'a') + "." +
                       std::string(50, 'a') + "." + std::string(50, 'a') + "." +
                       std::string(50, 'a'), std::nullopt},
    // Another '@' only inside a quoted local part.
    {"two_ats", "bob@evil@example.com", std::nullopt},
    {"quoted_local_with_at", "\"a@b\"@Example.com", "\"a@b\"@example.com"},
    {"half_quoted_local_with_at", "\"a@b@example.com", std::nullopt},
};

class NormalizeAddressTest : public ::testing::TestWithParam<NormCase> {};

TEST_P(NormalizeAddressTest, Table) {
  const NormCase& c = GetParam();
  EXPECT_EQ(NormalizeAddress(c.input), c.want);
  if (c.want) {
    EXPECT_EQ(NormalizeAddress(*c.want), c.want);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, NormalizeAddressTest, ::testing::ValuesIn(kAddressCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Why an address is refused (senderguardctl prints it): the first problem,
// a space or control before a second '@', a second '@' before the domain.
TEST(NormalizeAddress, SaysWhy) {
  const std::string host = "the domain is not a host name (labels of letters, digits and hyphens, at most 63 each, "
                           "none starting or ending with a hyphen; a Unicode name must be a valid IDN)";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {" <> ", "empty"},
      {"a@" + std::string(300, 'x') + ".example", "too long (310 bytes; at most 254)"},
      {"bob", "no '@' (expected local@domain)"},
      {"@b.example", "nothing before the '@'"},
      {"bob@", "no domain after the '@'"},
      {"a b@c.example", "contains a space or a control character"},
      {"a@b@c d.example", "contains a space or a control character"},
      {"a@b\x7f.example", "contains a space or a control character"},
      {"a@b@c.example", "two '@' (quote a local part that has one)"},
      {"\"a@b\"@-c.example", "two '@' (quote a local part that has one)"},
      {"bob@-x.example", host},
      {"bob@b..example", host},
      {"bob@b\xff.example", host},
  };
  for (const auto& [in, want] : cases) {
    std::string why = "unset";
    EXPECT_EQ(NormalizeAddress(in, &why), std::nullopt) << in;
    EXPECT_EQ(why, want) << in;
  }
  std::string why = "unset";
  EXPECT_EQ(NormalizeAddress("<Bob@B\xc3\xbc" "cher.example>", &why), "bob@xn--bcher-kva.example");
  EXPECT_EQ(why, "unset");  // left alone when accepted
}

// ------------------------------------------------------------------ domains

const std::vector<NormCase> kDomainCases = {
    {"bracketed", "<a@B.Example>", "b.example"},
    {"bare", "a@b.example", "b.example"},
    {"trailing_dot", "<a@b.example.>", "b.example"},
    {"spaces", "  <a@b.example>  ", "b.example"},
    {"last_at_wins", "a@x@b.example", "b.example"},
    {"idn_a_label", "a@xn--bcher-kva.example", "xn--bcher-kva.example"},
    {"single_label", "a@localhost", "localhost"},
    // hostile
    {"empty", "", std::nullopt},
    {"null_sender", "<>", std::nullopt},
    {"no_at", "<postmaster>", std::nullopt},
    {"at_only", "@", std::nullopt},
    {"empty_domain", "a@", std::nullopt},
    {"dot_domain", "a@.", std::nullopt},
    {"two_trailing_dots", "a@b.example..", std::nullopt},
    {"empty_label", "a@b..example", std::nullopt},
    {"space", "a@b example", std::nullopt},
    {"embedded_nul", "a@b.example\0"s, std::nullopt},
    {"nul_label", "a@b\0c.example"s, std::nullopt},
    {"newline", "a@b.example\nx", std::nullopt},
    {"utf8", "a@b\xc3\xbc" "cher.de", std::nullopt},
    {"label_64", "a@" + std::string(64, 'x') + ".example", std::nullopt},
    {"too_long", "a@" + std::string(62, 'x') + "." + std::string(62, 'x') + "." +
                     std::string(62, 'x') + "." + std::string(62, 'x') + ".example",
     std::nullopt},
    {"huge", "a@" + std::string(1 << 20, 'x'), std::nullopt},
};

class AddressDomainTest : public ::testing::TestWithParam<NormCase> {};

TEST_P(AddressDomainTest, Table) {
  const NormCase& c = GetParam();
  EXPECT_EQ(AddressDomain(c.input), c.want);
}

INSTANTIATE_TEST_SUITE_P(Cases, AddressDomainTest, ::testing::ValuesIn(kDomainCases),
                         [](const auto& info) { return std::string(info.param.name); });

// The host name rule of NormalizeAddress (and of senderguardctl domains):
// AddressDomain's syntax, and no label starting or ending with '-'.
TEST(ValidHostName, Labels) {
  for (std::string_view ok : {"b.example", "localhost", "a-b.example", "r3---sn-4g5e6nz7.example",
                              "xn--bcher-kva.example", "_dmarc.example", "x"}) {
    EXPECT_TRUE(ValidHostName(ok)) << ok;
  }
  for (std::string_view bad : {"", "-b.example", "b-.example", "a.-b.example", "a.b-", "-", "B.example",
                               "b..example", ".b.example", "b.example.", "b example", "b\xc3\xbc.example"}) {
    EXPECT_FALSE(ValidHostName(bad)) << bad;
  }
  EXPECT_TRUE(ValidHostName(std::string(63, 'x') + ".example"));
  EXPECT_FALSE(ValidHostName(std::string(64, 'x') + ".example"));
}

// ---------------------------------------------------------- identity order

TEST(IdentitySource, NamesRoundTrip) {
  for (auto s : {IdentitySource::kSasl, IdentitySource::kSenderDomain,
                 IdentitySource::kClientAddress}) {
    EXPECT_EQ(ParseIdentitySource(IdentitySourceName(s)), s);
  }
  EXPECT_EQ(IdentitySourceName(IdentitySource::kSasl), "sasl");
  EXPECT_EQ(IdentitySourceName(IdentitySource::kSenderDomain), "sender-domain");
  EXPECT_EQ(IdentitySourceName(IdentitySource::kClientAddress), "client-address");
  EXPECT_EQ(ParseIdentitySource(""), std::nullopt);
  EXPECT_EQ(ParseIdentitySource("SASL"), std::nullopt);
  EXPECT_EQ(ParseIdentitySource("sasl "), std::nullopt);
  EXPECT_EQ(ParseIdentitySource("sasl\0"s), std::nullopt);
  EXPECT_EQ(ParseIdentitySource("ldap"), std::nullopt);
}

using Src = IdentitySource;
const std::vector<Src> kDefaultOrder = {Src::kSasl, Src::kSenderDomain, Src::kClientAddress};

struct ResolveCase {
  const char* name;
  std::string sasl;
  std::string from;
  std::string client;
  std::vector<Src> order;
  std::optional<std::string> account;  // nullopt: no identity
  Src source = Src::kSasl;
};

std::ostream& operator<<(std::ostream& o, const ResolveCase& c) { return o << c.name; }

const std::vector<ResolveCase> kResolveCases = {
    {"sasl_wins", "Alice", "<bob@example.com>", "192.0.2.1", kDefaultOrder, "alice", Src::kSasl},
    {"sender_domain_when_no_login", "", "<bob@Example.COM>", "192.0.2.1", kDefaultOrder,
     "example.com", Src::kSenderDomain},
    {"client_when_null_sender", "", "<>", "192.0.2.1", kDefaultOrder, "192.0.2.1",
     Src::kClientAddress},
    {"client_ipv6", "", "<>", "2001:DB8::1", kDefaultOrder, "2001:db8::1", Src::kClientAddress},
    {"client_ipv4_mapped", "", "", "::ffff:192.0.2.1", kDefaultOrder, "::ffff:192.0.2.1",
     Src::kClientAddress},
    {"blank_login_falls_through", "  \t ", "<bob@example.com>", "192.0.2.1", kDefaultOrder,
     "example.com", Src::kSenderDomain},
    {"odd_login_is_encoded_not_skipped", "bad login", "<bob@example.com>", "192.0.2.1",
     kDefaultOrder, "bad=20login", Src::kSasl},
    {"nul_login_encoded", "al\0ice"s, "<bob@example.com>", "", kDefaultOrder, "al=00ice",
     Src::kSasl},
    {"utf8_login_encoded", "J\xc3\xbcrgen", "", "192.0.2.1", kDefaultOrder, "j=c3=bcrgen",
     Src::kSasl},
    {"invalid_domain_falls_through", "", "<bob@exa mple.com>", "2001:db8::1", kDefaultOrder,
     "2001:db8::1", Src::kClientAddress},
    {"sender_without_at", "", "<postmaster>", "192.0.2.1", kDefaultOrder, "192.0.2.1",
     Src::kClientAddress},
    {"nothing_at_all", "", "", "", kDefaultOrder, std::nullopt},
    {"null_sender_unknown_client", "", "<>", "", kDefaultOrder, std::nullopt},
    {"bracketed_client_encoded", "", "<>", "[2001:db8::1]", kDefaultOrder, "=5b2001:db8::1=5d",
     Src::kClientAddress},
    {"client_first", "alice", "<bob@example.com>", "192.0.2.1",
     {Src::kClientAddress, Src::kSasl}, "192.0.2.1", Src::kClientAddress},
    {"domain_first", "alice", "<bob@example.com>", "192.0.2.1",
     {Src::kSenderDomain, Src::kSasl, Src::kClientAddress}, "example.com", Src::kSenderDomain},
    {"sasl_only_without_login", "", "<bob@example.com>", "192.0.2.1", {Src::kSasl},
     std::nullopt},
    {"domain_only_ignores_login", "alice", "<bob@example.com>", "192.0.2.1",
     {Src::kSenderDomain}, "example.com", Src::kSenderDomain},
    {"client_then_sasl_no_client", "alice", "", "", {Src::kClientAddress, Src::kSasl}, "alice",
     Src::kSasl},
    {"empty_order", "alice", "<bob@example.com>", "192.0.2.1", {}, std::nullopt},
};

class ResolveIdentityTest : public ::testing::TestWithParam<ResolveCase> {};

TEST_P(ResolveIdentityTest, Table) {
  const ResolveCase& c = GetParam();
  IdentityFacts f{c.sasl, c.from, c.client};
  const std::optional<Identity> got = ResolveIdentity(f, c.order);
  if (!c.account) {
    EXPECT_FALSE(got.has_value()) << "got " << got->account;
    return;
  }
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->account, *c.account);
  EXPECT_EQ(got->source, c.source);
}

TEST(ResolveIdentity, HugeLoginIsBoundedNotSkipped) {
  const std::string login(100000, 'a');
  IdentityFacts f{login, "<bob@example.com>", "192.0.2.1"};
  auto id = ResolveIdentity(f, kDefaultOrder);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->source, Src::kSasl);
  EXPECT_LE(id->account.size(), kMaxAccountName);
  EXPECT_EQ(id->account.substr(0, 200), std::string(200, 'a'));
}

INSTANTIATE_TEST_SUITE_P(Cases, ResolveIdentityTest, ::testing::ValuesIn(kResolveCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace senderguard
