// Tests for kvlog.h: escaping of hostile values so that a value can never
// forge a field or a line, truncation, and KvLine assembly.
#include "senderguard/base/kvlog.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

namespace senderguard {
namespace {

using namespace std::string_literals;

struct EscapeCase {
  const char* name;
  std::string in;
  std::string want;
};

std::ostream& operator<<(std::ostream& o, const EscapeCase& c) { return o << c.name; }

const std::string k256(256, 'a');

const std::vector<EscapeCase> kEscapeCases = {
    {"plain", "alice", "alice"},
    {"address", "bob@example.com", "bob@example.com"},
    {"punct_safe", "a.b_c+d:e-f/g@h,i;j", "a.b_c+d:e-f/g@h,i;j"},
    {"empty", "", "\"\""},
    {"space", "a b", "\"a b\""},
    {"leading_space", " a", "\" a\""},
    {"only_space", " ", "\" \""},
    {"quote", "a\"b", "\"a\\\"b\""},
    {"equals", "a=b", "\"a=b\""},
    {"backslash", "a\\b", "\"a\\\\b\""},
    {"backslash_x", "\\x0a", "\"\\\\x0a\""},  // a literal \x0a stays distinguishable
    {"newline_injection", "a\nqueue_id=X", "\"a\\x0aqueue_id=X\""},
    {"crlf", "a\r\nb", "\"a\\x0d\\x0ab\""},
    {"space_field_forgery", "x action=accept", "\"x action=accept\""},
    {"tab", "a\tb", "\"a\\x09b\""},
    {"nul", "a\0b"s, "\"a\\x00b\""},
    {"del", "\x7f", "\"\\x7f\""},
    {"control", "\x01\x1f", "\"\\x01\\x1f\""},
    {"escape_seq", "\x1b[31mred", "\"\\x1b[31mred\""},
    {"utf8", "\xc3\xa9t\xc3\xa9", "\"\\xc3\\xa9t\\xc3\\xa9\""},
    {"high_byte", "\xff", "\"\\xff\""},
    {"exactly_256", k256, k256},
    // The cap bounds what is written (kMaxValue bytes inside the quotes, "..."
    // included), never inside an escape.
    {"257_truncated", k256 + "b", std::string(253, 'a') + "..."},
    {"huge_truncated", std::string(1 << 20, 'z'), std::string(253, 'z') + "..."},
    {"truncated_quoted", "a b" + std::string(300, 'c'), "\"a b" + std::string(250, 'c') + "...\""},
    {"special_after_cut", k256 + " x=y\n", std::string(253, 'a') + "..."},
    {"special_at_last_kept", std::string(249, 'a') + "\n" + "zzzz",
     "\"" + std::string(249, 'a') + "\\x0a...\""},
    {"escape_not_split", std::string(250, 'a') + "\n\n", std::string(250, 'a') + "..."},
    {"all_escaped_truncated", std::string(300, '\n'), [] {
       std::string s = "\"";
       for (int i = 0; i < 63; ++i) s += "\\x0a";
       return s + "...\"";
     }()},
};

class KvEscapeTest : public ::testing::TestWithParam<EscapeCase> {};

TEST_P(KvEscapeTest, Table) {
  const EscapeCase& c = GetParam();
  EXPECT_EQ(KvEscape(c.in), c.want);
}

INSTANTIATE_TEST_SUITE_P(Cases, KvEscapeTest, ::testing::ValuesIn(kEscapeCases),
                         [](const auto& info) { return std::string(info.param.name); });

// A reader of the format: splits a line into (key, value) pairs the way a
// log pipeline would, undoing the escapes. Returns false on a malformed line.
bool ParseLine(const std::string& line, std::vector<std::pair<std::string, std::string>>* out) {
  size_t i = 0;
  while (i < line.size()) {
    size_t eq = line.find('=', i);
    if (eq == std::string::npos) return false;
    std::string key = line.substr(i, eq - i);
    if (key.empty() || key.find(' ') != std::string::npos) return false;
    i = eq + 1;
    std::string val;
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;;) {
        if (i >= line.size()) return false;
        const char c = line[i];
        if (c == '"') { ++i; break; }
        if (c == '\\') {
          if (i + 1 >= line.size()) return false;
          const char e = line[i + 1];
          if (e == '"' || e == '\\') { val.push_back(e); i += 2; continue; }
          if (e == 'x' && i + 3 < line.size()) {
            val.push_back(static_cast<char>(std::stoi(line.substr(i + 2, 2), nullptr, 16)));
            i += 4;
            continue;
          }
          return false;
        }
        const unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) return false;  // raw control inside quotes
        val.push_back(c);
        ++i;
      }
    } else {
      while (i < line.size() && line[i] != ' ') {
        const unsigned char u = static_cast<unsigned char>(line[i]);
        if (u < 0x20 || u >= 0x7f || line[i] == '"' || line[i] == '=') return false;
        val.push_back(line[i++]);
      }
    }
    out->emplace_back(std::move(key), std::move(val));
    if (i < line.size()) {
      if (line[i] != ' ') return false;
      ++i;
    }
  }
  return true;
}

TEST(KvLine, BuildsFields) {
  KvLine l;
  l.Add("queue_id", "4XyZ")
      .Add("account", "a b")
      .Add("n", int64_t{-5})
      .Add("u", UINT64_MAX)
      .Add("i", 7)
      .Add("empty", "");
  EXPECT_EQ(l.str(), "queue_id=4XyZ account=\"a b\" n=-5 u=18446744073709551615 i=7 empty=\"\"");
  EXPECT_EQ(KvLine().str(), "");
  EXPECT_EQ(KvLine().Add("k", INT64_MIN).str(), "k=-9223372036854775808");
}

TEST(KvLine, InjectionCannotForgeAField) {
  KvLine l;
  l.Add("account", "x queue_id=FORGED action=accept\nqueue_id=FORGED2").Add("action", "reject");
  std::vector<std::pair<std::string, std::string>> fields;
  ASSERT_TRUE(ParseLine(l.str(), &fields)) << l.str();
  ASSERT_EQ(fields.size(), 2u) << l.str();
  EXPECT_EQ(fields[0].first, "account");
  EXPECT_EQ(fields[0].second, "x queue_id=FORGED action=accept\nqueue_id=FORGED2");
  EXPECT_EQ(fields[1], (std::pair<std::string, std::string>{"action", "reject"}));
  EXPECT_EQ(l.str().find('\n'), std::string::npos);
}

// Bytes the escaped value takes (inside any quotes).
size_t EscapedSize(const std::string& v) {
  size_t n = 0;
  for (unsigned char c : v) n += c == '"' || c == '\\' ? 2 : c >= 0x20 && c < 0x7f ? 1 : 4;
  return n;
}

// Random hostile values: every line parses back to exactly the fields put in
// (values whose escaped form fits the cap come back byte for byte, the others
// as a prefix and "..."), with no raw newline.
TEST(KvLine, RandomValuesRoundTrip) {
  std::mt19937 rng(20261125);
  const std::string alphabet = " \"=\\\n\r\t\0\x7f\xff\xc3\xa9" "abcxyz019._-@"s;
  for (int iter = 0; iter < 3000; ++iter) {
    std::uniform_int_distribution<int> len_d(0, 300);
    std::uniform_int_distribution<int> pick_alpha(0, 3);
    std::uniform_int_distribution<size_t> alpha_d(0, alphabet.size() - 1);
    std::uniform_int_distribution<int> byte_d(0, 255);
    std::vector<std::string> values(3);
    KvLine l;
    for (size_t f = 0; f < values.size(); ++f) {
      const int n = len_d(rng);
      for (int j = 0; j < n; ++j) {
        values[f].push_back(pick_alpha(rng) == 0 ? static_cast<char>(byte_d(rng))
                                                 : alphabet[alpha_d(rng)]);
      }
      l.Add("k" + std::to_string(f), values[f]);
    }
    const std::string& line = l.str();
    ASSERT_EQ(line.find('\n'), std::string::npos);
    ASSERT_EQ(line.find('\r'), std::string::npos);
    ASSERT_EQ(line.find('\0'), std::string::npos);
    std::vector<std::pair<std::string, std::string>> fields;
    ASSERT_TRUE(ParseLine(line, &fields)) << line;
    ASSERT_EQ(fields.size(), values.size()) << line;
    for (size_t f = 0; f < values.size(); ++f) {
      EXPECT_EQ(fields[f].first, "k" + std::to_string(f));
      const std::string& got = fields[f].second;
      if (EscapedSize(values[f]) <= KvLine::kMaxValue) {
        EXPECT_EQ(got, values[f]) << line;
      } else {
        ASSERT_GE(got.size(), 3u) << line;
        EXPECT_EQ(got.substr(got.size() - 3), "...") << line;
        const std::string kept = got.substr(0, got.size() - 3);
        EXPECT_EQ(values[f].compare(0, kept.size(), kept), 0) << line;
        EXPECT_LE(EscapedSize(kept) + 3, KvLine::kMaxValue) << line;
        // Cut no earlier than it had to be: the next byte would not fit.
        EXPECT_GT(EscapedSize(values[f].substr(0, kept.size() + 1)), KvLine::kMaxValue - 3) << line;
      }
    }
  }
}

}  // namespace
}  // namespace senderguard
