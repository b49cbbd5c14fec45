// The programs' shared command line (base/command_line.h): help wrapped to 80
// columns, the typo guess, -c "" and unknown options as usage errors.
#include "senderguard/base/command_line.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace senderguard {
namespace {

size_t LongestLine(const std::string& s) {
  std::istringstream in(s);
  size_t longest = 0;
  for (std::string line; std::getline(in, line);) longest = std::max(longest, line.size());
  return longest;
}

TEST(WrapHelp, ShortLinesUnchanged) {
  const std::string t = "Usage: x [OPTIONS]\n\nOptions:\n  -h,--help   print this help\n";
  EXPECT_EQ(WrapHelp(t, 80), t);
  EXPECT_EQ(WrapHelp("", 80), "");
}

TEST(WrapHelp, DescriptionContinuesUnderItsColumn) {
  const std::string line =
      "  --limit UINT                at most this many (default 1000; 0: all), newest first, "
      "in key order";
  const std::string got = WrapHelp(line, 80);
  EXPECT_EQ(got,
            "  --limit UINT                at most this many (default 1000; 0: all), newest\n"
            "                              first, in key order");
  EXPECT_LE(LongestLine(got), 80u);
}

TEST(WrapHelp, TableOfHostileLines) {
  struct Case {
    const char* name;
    std::string text;
  };
  const std::vector<Case> cases = {
      {"one long word", std::string(200, 'x')},
      {"long word after a name", "  -c FILE   " + std::string(150, 'y') + " tail words here"},
      {"description column far right", std::string(60, 'n') + "  " + std::string(30, 'd') + " more words to wrap"},
      {"prose", std::string(40, ' ') + "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g"},
      {"spaces only", std::string(120, ' ')},
      {"many lines", "  a  " + std::string(100, 'b') + "\n  c  d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j"},
  };
  for (const auto& c : cases) {
    const std::string got = WrapHelp(c.text, 80);
    // Nothing is lost but spaces; no line over 80 unless it is one word.
    std::string a, b;
    for (char ch : c.text) if (ch != ' ' && ch != '\n') a.push_back(ch);
    for (char ch : got) if (ch != ' ' && ch != '\n') b.push_back(ch);
    EXPECT_EQ(a, b) << c.name;
    std::istringstream in(got);
    for (std::string line; std::getline(in, line);) {
      // Only a word too long for any line may leave one over 80.
      std::istringstream words(line);
      size_t longest_word = 0;
      for (std::string w; words >> w;) longest_word = std::max(longest_word, w.size());
      if (longest_word <= 40) {
        EXPECT_LE(line.size(), 80u) << c.name << ": " << line;
      }
    }
  }
}

// The wrapper senderguardctl explain had of its own (cmd_explain.cc until
// WrapWords served both), kept here as the reference: `first`, then the
// words of `text` while they fit in `width`, each further line indented.
std::string ExplainWrapBefore(const std::string& first, const std::string& text, size_t indent, size_t width) {
  std::string out = first;
  size_t col = first.size();
  bool line_start = true;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find(' ', i);
    if (end == std::string::npos) end = text.size();
    const size_t len = end - i;
    if (!line_start && col + 1 + len > width) {
      out += "\n" + std::string(indent, ' ');
      col = indent;
    } else if (!line_start) {
      out += ' ';
      ++col;
    }
    line_start = false;
    out.append(text, i, len);
    col += len;
    i = end + 1;
  }
  return out;
}

TEST(WrapWords, AsExplainWrappedBefore) {
  // explain's layouts: a check's head and its detail; the reply under it; the outcome.
  const std::string head = "  quota day    REFUSE   ";
  const std::string detail =
      "used 1000 of 1000 messages (the account's own limit); resets 2026-12-08 00:00 CET, in 3h 12m";
  EXPECT_EQ(WrapWords(head + detail, 80, 24, head.size()),
            "  quota day    REFUSE   used 1000 of 1000 messages (the account's own limit);\n"
            "                        resets 2026-12-08 00:00 CET, in 3h 12m");
  // Every shape explain gives it, against the wrapper it replaced: texts of
  // words from 1 to 90 bytes (one longer than a line), one space apart.
  unsigned seed = 12345;
  auto next = [&seed](unsigned n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) % n;
  };
  const std::vector<std::pair<std::string, size_t>> firsts = {
      {head, 24}, {std::string(24, ' '), 28}, {"", 4}, {"  ", 29}, {"  suppression  pass     ", 24}};
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const unsigned words = 1 + next(30);
    for (unsigned w = 0; w < words; ++w) {
      if (!text.empty()) text += ' ';
      const unsigned len = next(10) == 0 ? 1 + next(90) : 1 + next(12);
      text += std::string(len, static_cast<char>('a' + next(26)));
    }
    for (const auto& [first, indent] : firsts) {
      EXPECT_EQ(WrapWords(first + text, 80, indent, std::max<size_t>(first.size(), 1)),
                ExplainWrapBefore(first, text, indent, 80))
          << "first \"" << first << "\" text \"" << text << "\"";
    }
  }
}

TEST(NearestWord, Typos) {
  const std::vector<std::string> cmds = {"list", "show", "quota", "suspend", "reinstate", "dry-run",
                                         "suppress", "audit", "domains"};
  EXPECT_EQ(NearestWord("lis", cmds), "list");
  EXPECT_EQ(NearestWord("lsit", cmds), "list");
  EXPECT_EQ(NearestWord("shwo", cmds), "show");
  EXPECT_EQ(NearestWord("supress", cmds), "suppress");
  EXPECT_EQ(NearestWord("reinstat", cmds), "reinstate");
  EXPECT_EQ(NearestWord("dom", cmds), "domains");  // the one prefix
  EXPECT_EQ(NearestWord("su", cmds), "");          // a prefix of two
  EXPECT_EQ(NearestWord("frobnicate", cmds), "");
  EXPECT_EQ(NearestWord("", cmds), "");
  EXPECT_EQ(NearestWord(std::string(10000, 'l'), cmds), "");
}

struct Parsed {
  std::optional<int> status;
  std::string config;
};

Parsed Parse(std::vector<std::string> args, int usage_status = kExitUsageError) {
  CLI::App app{"test"};
  PrepareCommandLine(app, "prog");
  Parsed p;
  AddConfigOption(app, &p.config);
  bool flag = false;
  app.add_flag("--once", flag, "a flag");
  args.insert(args.begin(), "prog");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  p.status = ParseCommandLine(app, static_cast<int>(argv.size()), argv.data(), usage_status);
  return p;
}

TEST(CommandLine, ConfigOption) {
  EXPECT_EQ(Parse({"-c", "/x.conf"}).status, std::nullopt);
  EXPECT_EQ(Parse({"--config=/x.conf"}).config, "/x.conf");
  EXPECT_EQ(Parse({}).status, std::nullopt);
  EXPECT_EQ(Parse({"-c", ""}).status, kExitUsageError);  // "" would mean the default path
  EXPECT_EQ(Parse({"--config="}).status, kExitUsageError);
  EXPECT_EQ(Parse({"-c"}).status, kExitUsageError);
  EXPECT_EQ(Parse({"-c", ""}, kExitTempFail).status, kExitTempFail);
}

TEST(CommandLine, UnknownOptionIsUsage) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(Parse({"--bogus"}).status, kExitUsageError);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("prog: "), std::string::npos) << err;
  EXPECT_NE(err.find("--bogus"), std::string::npos) << err;
  EXPECT_EQ(Parse({"--once"}).status, std::nullopt);
}

TEST(CommandLine, HelpFitsAndExitsZero) {
  testing::internal::CaptureStdout();
  EXPECT_EQ(Parse({"--help"}).status, 0);
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("--config"), std::string::npos);
  EXPECT_LE(LongestLine(out), 80u) << out;
}

}  // namespace
}  // namespace senderguard
