// Tests for token.h: the feedback token's format, that it is a keyed function
// of (secret, account) and nothing else, and AccountForToken's search. The
// token is cross-checked against an independent computation (OpenSSL's HMAC
// one-shot and EVP_EncodeBlock, re-alphabeted to base64url), so a change of
// the encoder cannot go unnoticed.
#include "senderguard/decide/token.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

namespace senderguard {
namespace {

using namespace std::string_literals;

// "v1." + base64url(first 16 bytes of HMAC-SHA256(secret, account)), no padding.
std::string Reference(std::string_view secret, std::string_view account) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_NE(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                 reinterpret_cast<const unsigned char*>(account.data()), account.size(), mac,
                 &len),
            nullptr);
  EXPECT_EQ(len, 32u);
  unsigned char b64[64] = {};
  const int n = EVP_EncodeBlock(b64, mac, 16);  // 24 chars, "==" padded
  EXPECT_EQ(n, 24);
  std::string out(reinterpret_cast<char*>(b64), 22);
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return "v1." + out;
}

bool IsBase64Url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

struct TokenCase {
  const char* name;
  std::string secret;
  std::string account;
};

const std::vector<TokenCase> kCases = {
    {"plain", "s3cret", "alice"},
    {"empty_account", "s3cret", ""},
    {"one_byte_secret", "x", "alice"},
    {"long_secret_hashed_by_hmac", std::string(200, 'k'), "alice"},  // > SHA-256 block size
    {"secret_with_nul", "se\0cret"s, "alice"},
    {"account_with_nul", "s3cret", "ali\0ce"s},
    {"non_ascii_account", "s3cret", "jürgen@bücher.example"},
    {"invalid_utf8_account", "s3cret", "\xff\xfe\x80"},
    {"huge_account", "s3cret", std::string(1 << 20, 'a')},
    {"account_looking_like_token", "s3cret", "v1.AAAAAAAAAAAAAAAAAAAAAA"},
    {"spaces_and_controls", "s3cret", " a\tb\r\n"},
};

TEST(token, MatchesIndependentHmacAndHasTheFormat) {
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    const std::string t = FeedbackToken(c.secret, c.account);
    ASSERT_EQ(t.size(), 25u) << t;
    EXPECT_EQ(t.substr(0, 3), "v1.");
    for (char ch : t.substr(3)) EXPECT_TRUE(IsBase64Url(ch)) << t;
    // 128 bits in 22 characters: the last one carries 2 bits, so it is one
    // of A, Q, g, w (low 4 bits zero).
    EXPECT_NE(std::string("AQgw").find(t.back()), std::string::npos) << t;
    EXPECT_EQ(t, Reference(c.secret, c.account));
    EXPECT_EQ(FeedbackToken(c.secret, c.account), t) << "deterministic";
  }
}

// RFC 4231 test case 2 (key "Jefe"): HMAC-SHA256 = 5bdcc146bf60754e6a042426089575c7...
// First 16 bytes in base64url: W9zBRr9gdU5qBCQmCJV1xw.
TEST(token, KnownAnswerRfc4231Case2) {
  EXPECT_EQ(FeedbackToken("Jefe", "what do ya want for nothing?"), "v1.W9zBRr9gdU5qBCQmCJV1xw");
}

TEST(token, DiffersPerAccountAndPerSecret) {
  std::set<std::string> seen;
  const std::vector<std::string> accounts = {"alice", "Alice", "alice ", "alic", "alicee",
                                             "bob",   "",      "a\0"s,   "\0a"s};
  const std::vector<std::string> secrets = {"s1", "s2", "S1", "s1 ", "\0s1"s};
  for (const auto& s : secrets) {
    for (const auto& a : accounts) seen.insert(FeedbackToken(s, a));
  }
  EXPECT_EQ(seen.size(), accounts.size() * secrets.size());
  // HMAC pads the key with zero bytes (RFC 2104 §2), so secrets that differ
  // only in trailing NULs are the same key. Harmless (config secrets hold no
  // NUL), but pinned here so nobody mistakes it for an encoder bug.
  EXPECT_EQ(FeedbackToken("s1", "alice"), FeedbackToken("s1\0"s, "alice"));
}

TEST(token, AccountForTokenFindsTheRightOneAmongMany) {
  std::vector<std::string> accounts;
  for (int i = 0; i < 2000; ++i) accounts.push_back("user" + std::to_string(i) + "@example.org");
  accounts.push_back("");
  for (const std::string& want : {"user0@example.org"s, "user1234@example.org"s,
                                 "user1999@example.org"s, ""s}) {
    SCOPED_TRACE(want);
    auto got = AccountForToken("k", FeedbackToken("k", want), accounts);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, want);
  }
}

TEST(token, AccountForTokenRejects) {
  const std::vector<std::string> accounts = {"alice", "bob", "carol"};
  const std::string good = FeedbackToken("k", "bob");
  std::string flipped = good;
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  std::string v2 = good;
  v2[1] = '2';
  std::string lower = good;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  struct Case {
    const char* name;
    std::string secret, token;
    std::vector<std::string> accounts;
  };
  const std::vector<Case> cases = {
      {"empty_token", "k", "", accounts},
      {"prefix_only", "k", "v1.", accounts},
      {"one_short", "k", good.substr(0, 24), accounts},
      {"one_long", "k", good + "A", accounts},
      {"trailing_newline", "k", good + "\n", accounts},
      {"leading_space", "k", " " + good, accounts},
      {"padded", "k", good + "==", accounts},
      {"one_char_flipped", "k", flipped, accounts},
      {"other_version", "k", v2, accounts},
      {"case_folded", "k", lower == good ? "x" : lower, accounts},
      {"nul_bytes", "k", std::string(25, '\0'), accounts},
      {"garbage_right_length", "k", std::string(25, '\xff'), accounts},
      {"other_secret", "k2", good, accounts},
      {"empty_secret", "", good, accounts},
      {"account_not_in_list", "k", good, {"alice", "carol"}},
      {"empty_list", "k", good, {}},
      {"huge_token", "k", std::string(1 << 20, 'A'), accounts},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(AccountForToken(c.secret, c.token, c.accounts), std::nullopt);
  }
  EXPECT_EQ(AccountForToken("k", good, accounts), "bob");
}

// A token from one deployment (secret) never names an account of another,
// even when both have the same account names.
TEST(token, TokensDoNotCrossSecrets) {
  const std::vector<std::string> accounts = {"alice", "bob", "carol"};
  for (const auto& a : accounts) {
    EXPECT_EQ(AccountForToken("other", FeedbackToken("mine", a), accounts), std::nullopt) << a;
    EXPECT_EQ(AccountForToken("mine", FeedbackToken("mine", a), accounts), a);
  }
}

}  // namespace
}  // namespace senderguard
