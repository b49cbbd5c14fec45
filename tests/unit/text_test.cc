// Tests for text.h: the one escaping policy and its variants, the one UTF-8
// check, ASCII case and white space, the two unfoldings. The hostile inputs
// are in the tables: empty, huge, NUL, ESC, CR/LF, DEL, '%', truncated and
// overlong UTF-8, surrogates, bytes that are never UTF-8.
#include "senderguard/base/text.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace senderguard {
namespace {

using namespace std::string_literals;

struct Case {
  const char* name;
  std::string in;
  std::string want;
};

std::string Times(size_t n, const std::string& s) {
  std::string r;
  for (size_t i = 0; i < n; ++i) r += s;
  return r;
}

// ------------------------------------------------------------ Printable

const std::vector<Case> kPrintableCases = {
    {"empty", "", ""},
    {"plain", "550 5.7.1 quota reached", "550 5.7.1 quota reached"},
    {"printable_ascii_kept", " !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~", " !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~"},
    {"backslash_doubled", "a\\b", "a\\\\b"},
    {"literal_escape_stays_distinct", "\\x0a", "\\\\x0a"},
    {"nul", "a\0b"s, "a\\x00b"},
    {"lf_forges_a_line", "x\n2026-01-01 root reinstate", "x\\x0a2026-01-01 root reinstate"},
    {"crlf", "a\r\nb", "a\\x0d\\x0ab"},
    {"tab", "a\tb", "a\\x09b"},
    {"esc_sequence", "\x1b[2J\x1b]0;owned\x07", "\\x1b[2J\\x1b]0;owned\\x07"},
    {"del", "\x7f", "\\x7f"},
    {"all_c0", "\x01\x1f", "\\x01\\x1f"},
    {"percent_kept", "100%", "100%"},
    {"utf8_escaped", "d\xc3\xa9j\xc3\xa0", "d\\xc3\\xa9j\\xc3\\xa0"},
    {"c1_csi_as_utf8", "\xc2\x9b" "2J", "\\xc2\\x9b2J"},
    {"bidi_override", "\xe2\x80\xae" "gpj.exe", "\\xe2\\x80\\xaegpj.exe"},
    {"truncated_utf8", "\xe2\x82", "\\xe2\\x82"},
    {"overlong_slash", "\xc0\xaf", "\\xc0\\xaf"},
    {"surrogate", "\xed\xa0\x80", "\\xed\\xa0\\x80"},
    {"high_bytes", "\xfe\xff", "\\xfe\\xff"},
    {"exactly_256_fits", std::string(256, 'a'), std::string(256, 'a')},
    {"257_cut", std::string(257, 'a'), std::string(253, 'a') + "..."},
    {"huge_cut", std::string(1 << 20, 'z'), std::string(253, 'z') + "..."},
    {"escape_at_the_end_fits", std::string(252, 'a') + "\n", std::string(252, 'a') + "\\x0a"},
    {"escape_not_split", std::string(251, 'a') + "\n\n", std::string(251, 'a') + "..."},
    {"all_escaped_cut", std::string(300, '\n'), Times(63, "\\x0a") + "..."},
    {"backslash_pair_not_split", std::string(252, 'a') + "\\\\\\", std::string(252, 'a') + "..."},
};

class PrintableTest : public ::testing::TestWithParam<Case> {};

TEST_P(PrintableTest, Table) {
  const Case& c = GetParam();
  const std::string got = Printable(c.in);
  EXPECT_EQ(got, c.want);
  EXPECT_LE(got.size(), kMaxPrintable);
  for (char ch : got) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << static_cast<int>(ch);
  std::string appended = "prefix:";
  AppendPrintable(&appended, c.in);
  EXPECT_EQ(appended, "prefix:" + c.want);
}

INSTANTIATE_TEST_SUITE_P(Cases, PrintableTest, ::testing::ValuesIn(kPrintableCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Printable, Caps) {
  EXPECT_EQ(Printable("abcdef", 6), "abcdef");
  EXPECT_EQ(Printable("abcdefg", 6), "abc...");
  EXPECT_EQ(Printable("\n", 3), "...");
  EXPECT_EQ(Printable("\n", 4), "\\x0a");
  // A cap below the mark's length counts as the mark's length.
  EXPECT_EQ(Printable("abcd", 0), "...");
  EXPECT_EQ(Printable("ab", 0), "ab");
  EXPECT_EQ(Printable("", 0), "");
  // AppendPrintable counts only what it adds.
  std::string s(1000, 'x');
  AppendPrintable(&s, std::string(10, 'y'), 8);
  EXPECT_EQ(s, std::string(1000, 'x') + "yyyyy...");
}

// Reading the escapes back gives the input (up to a cut): nothing is lost
// and nothing is ambiguous.
std::string Unescape(const std::string& s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      r.push_back(s[i]);
    } else if (s[i + 1] == '\\') {
      r.push_back('\\');
      ++i;
    } else {
      r.push_back(static_cast<char>(std::stoi(s.substr(i + 2, 2), nullptr, 16)));
      i += 3;
    }
  }
  return r;
}

TEST(Printable, RoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  all += "\\x41\\\\";
  EXPECT_EQ(Unescape(Printable(all, 1 << 20)), all);
  std::mt19937 rng(7);
  for (int n = 0; n < 2000; ++n) {
    std::string in(rng() % 120, '\0');
    for (char& c : in) c = static_cast<char>(rng() % 4 == 0 ? '\\' : rng());
    const std::string out = Printable(in, 100);
    ASSERT_LE(out.size(), 100u);
    if (out.size() >= 3 && out.compare(out.size() - 3, 3, "...") == 0 && Unescape(out) != in) {
      const std::string kept = Unescape(out.substr(0, out.size() - 3));
      EXPECT_EQ(in.compare(0, kept.size(), kept), 0);
    } else {
      EXPECT_EQ(Unescape(out), in);
    }
  }
}

// ------------------------------------------------------------ KvEscape

const std::vector<Case> kKvCases = {
    {"plain", "alice", "alice"},
    {"empty_quoted", "", "\"\""},
    {"space", "a b", "\"a b\""},
    {"equals", "a=b", "\"a=b\""},
    {"quote", "a\"b", "\"a\\\"b\""},
    {"backslash", "a\\b", "\"a\\\\b\""},
    {"lf_field_forgery", "x\naction=accept", "\"x\\x0aaction=accept\""},
    {"esc", "\x1b[0m", "\"\\x1b[0m\""},
    {"utf8", "\xc3\xa9", "\"\\xc3\\xa9\""},
    {"percent_plain", "5%", "5%"},
    {"cut_plain", std::string(300, 'a'), std::string(253, 'a') + "..."},
    {"cut_quoted", "a b" + std::string(300, 'c'), "\"a b" + std::string(250, 'c') + "...\""},
    {"special_after_cut", std::string(256, 'a') + " x=y\n", std::string(253, 'a') + "..."},
};

TEST(KvEscape, Table) {
  for (const Case& c : kKvCases) EXPECT_EQ(KvEscape(c.in), c.want) << c.name;
}

// ------------------------------------------------------------ MilterReplyText

const std::vector<Case> kMilterCases = {
    {"plain", "daily quota reached", "daily quota reached"},
    {"empty", "", ""},
    {"percent_doubled", "100% used", "100%% used"},
    {"format_attack", "%s%n%x", "%%s%%n%%x"},
    {"crlf_smtp_injection", "x\r\n250 ok", "x\\x0d\\x0a250 ok"},
    {"nul", "a\0b"s, "a\\x00b"},
    {"utf8_ascii_only", "d\xc3\xa9j\xc3\xa0", "d\\xc3\\xa9j\\xc3\\xa0"},
    {"backslash", "a\\b", "a\\\\b"},
    {"pair_not_split", std::string(897, 'a') + "%%", std::string(897, 'a') + "..."},
};

TEST(MilterReplyText, Table) {
  for (const Case& c : kMilterCases) EXPECT_EQ(MilterReplyText(c.in), c.want) << c.name;
  for (const std::string& in : {std::string(5000, '%'), std::string(1 << 20, '\n')}) {
    const std::string out = MilterReplyText(in);
    EXPECT_LE(out.size(), kMaxMilterReplyText);
    EXPECT_GE(out.size(), kMaxMilterReplyText - 6);
  }
}

// ------------------------------------------------------------ UTF-8

struct Utf8Case {
  const char* name;
  std::string in;
  bool valid;      // ValidUtf8
  bool printable;  // PrintableUtf8
};

const std::vector<Utf8Case> kUtf8Cases = {
    {"empty", "", true, true},
    {"ascii", "status=sent (250 ok)", true, true},
    {"nul", "a\0b"s, true, false},
    {"esc", "\x1b[2J", true, false},
    {"cr_lf", "a\r\n", true, false},
    {"tab", "a\tb", true, false},
    {"del", "a\x7f", true, false},
    {"two_bytes", "caf\xc3\xa9", true, true},
    {"three_bytes", "\xe2\x82\xac", true, true},
    {"four_bytes", "\xf0\x9f\x98\x80", true, true},
    {"max_code_point", "\xf4\x8f\xbf\xbf", true, true},
    {"c1_control_as_utf8", "\xc2\x9b", true, true},  // valid UTF-8; escaped on output
    {"last_before_surrogates", "\xed\x9f\xbf", true, true},
    {"first_after_surrogates", "\xee\x80\x80", true, true},
    {"above_max", "\xf4\x90\x80\x80", false, false},
    {"f5", "\xf5\x80\x80\x80", false, false},
    {"ff", "\xff", false, false},
    {"fe", "\xfe", false, false},
    {"lone_continuation", "\x80", false, false},
    {"overlong_nul", "\xc0\x80", false, false},
    {"overlong_c1", "\xc1\xbf", false, false},
    {"overlong_3", "\xe0\x80\xaf", false, false},
    {"overlong_3_max", "\xe0\x9f\xbf", false, false},
    {"overlong_4", "\xf0\x80\x80\xaf", false, false},
    {"overlong_4_max", "\xf0\x8f\xbf\xbf", false, false},
    {"surrogate_high", "\xed\xa0\x80", false, false},
    {"surrogate_low", "\xed\xbf\xbf", false, false},
    {"truncated_2", "\xc3", false, false},
    {"truncated_3", "\xe2\x82", false, false},
    {"truncated_4", "\xf0\x9f\x98", false, false},
    {"bad_second", "\xc3\x28", false, false},
    {"bad_third", "\xe2\x82\x28", false, false},
    {"bad_fourth", "\xf0\x9f\x98\x28", false, false},
};

TEST(Utf8, Table) {
  for (const Utf8Case& c : kUtf8Cases) {
    EXPECT_EQ(ValidUtf8(c.in), c.valid) << c.name;
    EXPECT_EQ(PrintableUtf8(c.in), c.printable) << c.name;
    // At every offset and with text after it: the 16- and 8-byte paths
    // must give the byte-at-a-time answer wherever the case falls.
    for (size_t pre = 0; pre < 40; ++pre) {
      for (size_t post : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{17}}) {
        const std::string s = std::string(pre, 'a') + c.in + std::string(post, 'b');
        ASSERT_EQ(ValidUtf8(s), c.valid) << c.name << " pre " << pre << " post " << post;
        ASSERT_EQ(PrintableUtf8(s), c.printable) << c.name << " pre " << pre << " post " << post;
      }
    }
  }
}

// A plain decoder of RFC 3629 §4, the reference for random inputs.
bool ReferenceUtf8(const std::string& s, bool refuse_controls) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f;
      len = 2;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f;
      len = 3;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (refuse_controls && (cp < 0x20 || cp == 0x7f)) return false;
    i += len;
  }
  return true;
}

TEST(Utf8, AgreesWithAReferenceDecoder) {
  std::mt19937 rng(42);
  const std::vector<std::string> pieces = {"a", "\n", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
                                           "\xf0\x9f\x98\x80", "\xed\xa0\x80", "\xc0\x80",
                                           "\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xff"};
  for (int n = 0; n < 20000; ++n) {
    std::string s;
    const size_t count = rng() % 40;
    for (size_t k = 0; k < count; ++k) {
      // Mostly good text, so that a single bad piece lands anywhere.
      const size_t p = rng() % 8 == 0 ? rng() % pieces.size() : rng() % 2 == 0 ? 0 : 3;
      s += rng() % 16 == 0 ? std::string(rng() % 40, 'x') : pieces[p];
    }
    ASSERT_EQ(ValidUtf8(s), ReferenceUtf8(s, false)) << n;
    ASSERT_EQ(PrintableUtf8(s), ReferenceUtf8(s, true)) << n;
  }
}

TEST(Utf8, Huge) {
  std::string s = Times(100000, "abc\xc3\xa9\xe2\x82\xac ");
  EXPECT_TRUE(ValidUtf8(s));
  EXPECT_TRUE(PrintableUtf8(s));
  s += "\xc3";
  EXPECT_FALSE(ValidUtf8(s));
  EXPECT_FALSE(PrintableUtf8(s));
}

// ------------------------------------------------------------ ASCII

TEST(Ascii, Lower) {
  static_assert(AsciiLower('A') == 'a' && AsciiLower('Z') == 'z' && AsciiLower('@') == '@' &&
                AsciiLower('[') == '[' && AsciiLower('a') == 'a');
  EXPECT_EQ(AsciiLower(""), "");
  EXPECT_EQ(AsciiLower("Mail.EXAMPLE.com"), "mail.example.com");
  // 8-bit bytes (Latin-1 'À', UTF-8 'É') are left alone, whatever the locale.
  EXPECT_EQ(AsciiLower("\xc0\xc3\x89Z\0"s), "\xc0\xc3\x89z\0"s);
  EXPECT_TRUE(EqualsIgnoreCase("Message-ID", "message-id"));
  EXPECT_FALSE(EqualsIgnoreCase("Message-ID", "message-i"));
  EXPECT_FALSE(EqualsIgnoreCase("\xc3\x89", "\xc3\xa9"));
}

TEST(Ascii, TrimWsp) {
  const std::vector<Case> cases = {
      {"empty", "", ""},
      {"only_wsp", " \t \t", ""},
      {"both_ends", "\t a b \t", "a b"},
      {"inner_kept", "a \t b", "a \t b"},
      {"crlf_kept", "\r\n a \r\n", "\r\n a \r\n"},
      {"nul_kept", " \0 "s, "\0"s},
      {"other_space_kept", "\v\fa\xa0", "\v\fa\xa0"},
  };
  for (const Case& c : cases) EXPECT_EQ(TrimWsp(c.in), c.want) << c.name;
  static_assert(TrimWsp("  x ") == "x");
}

// ------------------------------------------------------------ headers

TEST(Headers, UnfoldHeaderKeepsTheWhiteSpace) {
  const std::vector<Case> cases = {
      {"empty", "", ""},
      {"plain", " abuse", "abuse"},
      {"crlf_fold", " Subject\r\n\tline two ", "Subject\tline two"},
      {"lf_fold", "a\n b", "a b"},
      {"lone_cr_kept", "a\rb", "a\rb"},
      {"cr_at_end_kept", "a\r", "a\r"},
      {"only_folds", "\r\n \r\n\t", ""},
      {"nul_esc_kept", "a\0\x1b"s, "a\0\x1b"s},
  };
  for (const Case& c : cases) EXPECT_EQ(UnfoldHeader(c.in), c.want) << c.name;
}

TEST(Headers, FlattenHeaderMakesOnePlainLine) {
  const std::vector<Case> cases = {
      {"empty", "", ""},
      {"message_id", " <a@b.example>", "<a@b.example>"},
      {"folded", "\r\n\t<a@b.example>\r\n", "<a@b.example>"},
      {"tab_to_space", "a\tb", "a b"},
      {"lone_cr_dropped", "a\rb", "ab"},
      {"only_white", " \t\r\n ", ""},
      {"esc_not_escaped", "\x1b[0m", "\x1b[0m"},
      {"capped", std::string(2000, 'x'), std::string(998, 'x')},
  };
  for (const Case& c : cases) EXPECT_EQ(FlattenHeader(c.in), c.want) << c.name;
  EXPECT_EQ(FlattenHeader("  abcdef", 5), "abc");
}

}  // namespace
}  // namespace senderguard
