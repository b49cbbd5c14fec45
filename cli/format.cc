// Shared by the subcommands: table cells within 80 columns, compact counts,
// percentages and rates, and the checks of arguments that several commands take (a duration, a
// reason).
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "cli.h"
#include "senderguard/decide/account_state.h"

namespace senderguard::cli {
namespace {

constexpr size_t kMaxInput = 256u << 20;  // 256 MiB: a million accounts with room to spare

}  // namespace

std::string ReadInput(const std::string& path) {
  std::string text;
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    if (std::cin.bad()) throw Failure{kExitStore, "reading standard input failed"};
    text = ss.str();
  } else {
    // A directory opens and reads as an empty file: "imported 0" would pass for success.
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      throw Failure{kExitNotFound, "cannot read " + path + ": is a directory, not a file"};
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Failure{kExitNotFound, "cannot open " + path + ": " + std::strerror(errno)};
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw Failure{kExitStore, "reading " + path + " failed"};
    text = ss.str();
  }
  if (text.size() > kMaxInput) {
    throw Failure{kExitUsage, (path == "-" ? std::string("standard input") : path) + ": over 256 MiB; split it"};
  }
  return text;
}

std::string Cell(std::string_view text, size_t width, bool wide) {
  // Printable cuts at `max` bytes with "..." and never splits an escape;
  // its output is ASCII, one column a byte.
  return Printable(text, wide ? kMaxShown : width);
}

std::string Count(uint64_t n, bool wide) {
  if (wide || n < 10000) return std::to_string(n);
  static const char kUnits[] = {'k', 'M', 'G', 'T', 'P', 'E'};
  uint64_t unit = 1000;
  size_t u = 0;
  while (n / unit >= 1000 && u + 1 < sizeof kUnits) {
    unit *= 1000;
    ++u;
  }
  const uint64_t whole = n / unit;
  std::string out = std::to_string(whole);
  if (whole < 10) out += "." + std::to_string((n % unit) / (unit / 10));
  return out + kUnits[u];
}

int64_t DurationArg(const std::string& option, const std::string& text) {
  const std::string bad = "bad " + option + " \"" + text.substr(0, 60) + "\": ";
  // A bare number was read as seconds ("--for 24" meant 24 seconds): the unit is required.
  const bool shaped = text.size() >= 2 && std::string_view("smhd").find(text.back()) != std::string_view::npos &&
                      text.find_first_not_of("0123456789") == text.size() - 1;
  if (!shaped) throw Failure{kExitUsage, bad + "a number and its unit (s, m, h or d), e.g. 24h, 1d, 90m"};
  const std::optional<int64_t> secs = ParseDuration(text);
  if (!secs) throw Failure{kExitUsage, bad + "from 1s to 3660d (ten years)"};
  return *secs;
}

void CheckReason(const std::string& option, const std::string& reason) {
  if (reason.empty() || reason.size() > 1000) {
    throw Failure{kExitUsage, option + " must be 1 to 1000 bytes (got " + std::to_string(reason.size()) + ")"};
  }
}

std::string Percent(double rate) {
  char buf[32];
  const double pct = rate * 100.0;
  if (pct < 100.0) {
    std::snprintf(buf, sizeof buf, "%.2f%%", pct);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f%%", std::min(pct, 1e15));
  }
  return buf;
}

nlohmann::json RateJson(double rate, uint64_t whole) {
  return whole == 0 ? nlohmann::json(nullptr) : nlohmann::json(rate);
}

std::string NoControls(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  auto hex = [&out](unsigned char c) {
    static const char kHex[] = "0123456789abcdef";
    out += "\\x";
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && !(keep_newlines && c == '\n')) || c == 0x7f) {
      hex(c);
    } else if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      hex(c);
      hex(static_cast<unsigned char>(text[++i]));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace senderguard::cli
