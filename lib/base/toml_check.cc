#include "senderguard/base/toml_check.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace senderguard {

// Checks what toml11 does not handle gracefully: lines over 8 KiB, bytes that are not UTF-8
// (it reports them with a misleading message) and arrays or inline tables
// nested deep enough to exhaust its recursive parser's stack. Strings and
// comments are skipped so their brackets do not count.
std::optional<std::string> PrecheckToml(std::string_view t, const std::string& file,
                                        const TomlLimits& limits) {
  const int kMaxDepth = limits.max_depth;
  size_t line = 1;
  int depth = 0;
  size_t i = 0;
  auto fail = [&](const std::string& why) { return file + ":" + std::to_string(line) + ": " + why; };
  constexpr size_t kMaxLine = 8192;
  size_t line_start = 0;
  for (size_t p = 0; p < t.size();) {
    const auto u = static_cast<unsigned char>(t[p]);
    if (u == '\n') {
      ++line;
      line_start = p + 1;
    } else if (p - line_start >= kMaxLine) {
      // toml11 takes time that grows faster than n^2 on very long dotted keys.
      return fail("syntax: line longer than 8192 bytes");
    }
    if (u < 0x80) {
      if (limits.reject_controls && ((u < 0x20 && u != '\n' && u != '\r' && u != '\t') || u == 0x7f))
        return fail("syntax: control character");
      ++p;
      continue;
    }
    // One UTF-8 sequence: shortest form, no surrogates, at most U+10FFFF.
    size_t n = u >= 0xf0 && u <= 0xf4 ? 4 : u >= 0xe0 && u <= 0xef ? 3 : u >= 0xc2 && u <= 0xdf ? 2 : 0;
    if (n == 0 || p + n > t.size()) return fail("syntax: invalid UTF-8");
    uint32_t cp = u & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(t[p + k]);
      if ((c & 0xc0) != 0x80) return fail("syntax: invalid UTF-8");
      cp = (cp << 6) | (c & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
      return fail("syntax: invalid UTF-8");
    p += n;
  }
  line = 1;
  int dots = 0;
  while (i < t.size()) {
    const char c = t[i];
    if (c == '\n') {
      ++line;
      dots = 0;
    } else if (c == '.') {
      // toml11's cost grows faster than n^2 with a dotted key's parts.
      if (++dots > 32) return fail("syntax: more than 32 dots on one line");
    } else if (c == '#') {
      while (i < t.size() && t[i] != '\n') ++i;
      continue;
    } else if (c == '"' || c == '\'') {
      const bool triple = t.substr(i, 3) == std::string(3, c);
      const std::string close = triple ? std::string(3, c) : std::string(1, c);
      size_t j = i + close.size();
      while (j < t.size() && t.substr(j, close.size()) != close) {
        if (c == '"' && t[j] == '\\') ++j;  // basic strings have escapes
        if (j < t.size() && t[j] == '\n') {
          if (!triple) break;  // unterminated: let toml11 report it
          ++line;
        }
        ++j;
      }
      // TOML 1.0: a multi-line string may end with one or two more quotes.
      if (triple) {
        for (int extra = 0; extra < 2 && j + 3 < t.size() && t[j + 3] == c; ++extra) ++j;
      }
      i = j + close.size();
      continue;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return fail("syntax: arrays or tables nested deeper than " + std::to_string(kMaxDepth));
    } else if (c == ']' || c == '}') {
      if (depth > 0) --depth;
    }
    ++i;
  }
  return std::nullopt;
}

// toml11's messages span several lines; keep the first meaningful one.
std::string TomlFirstLine(std::string_view what) {
  std::string_view s = what;
  auto nl = s.find('\n');
  if (nl != std::string_view::npos) s = s.substr(0, nl);
  if (s.rfind("[error] ", 0) == 0) s.remove_prefix(8);
  if (s.rfind("toml::parse_", 0) == 0) {
    auto colon = s.find(": ");
    if (colon != std::string_view::npos) s.remove_prefix(colon + 2);
  }
  return std::string(s);
}

namespace {

std::string TooLarge(const std::string& file, size_t max_bytes) {
  return file + ":1: file larger than " + std::to_string(max_bytes >> 10) + " KiB";
}

}  // namespace

void TomlFail(const std::string& file, const toml::value& v, std::string_view key,
              std::string_view what) {
  throw TomlError{file + ":" + std::to_string(v.location().line()) + ": " + std::string(key) +
                  ": " + std::string(what)};
}

std::string TomlTypeName(const toml::value& v) {
  std::ostringstream o;
  o << v.type();
  return o.str();
}

std::string TomlGetString(const std::string& file, const toml::value& v, std::string_view key,
                          size_t max) {
  if (!v.is_string()) TomlFail(file, v, key, "expected a string, got " + TomlTypeName(v));
  std::string s = v.as_string().str;
  if (s.size() > max) TomlFail(file, v, key, "longer than " + std::to_string(max) + " bytes");
  if (s.find('\0') != std::string::npos) TomlFail(file, v, key, "contains a NUL byte");
  return s;
}

Result<std::string> ReadTomlFile(const std::string& path, size_t max_bytes) {
  // No line number: the trouble is the file, not a line in it.
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Status::Invalid(path + ": no such file");
    return Status::Invalid(path + ": cannot open: " + std::strerror(errno));
  }
  // A directory opens, and reads as an empty file: a configuration of
  // defaults that nobody wrote.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return Status::Invalid(path + ": is a directory, not a file");
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > max_bytes) return Status::Invalid(TooLarge(path, max_bytes));
  }
  if (in.bad()) return Status::Invalid(path + ": cannot read: " + std::strerror(errno));
  return text;
}

Status ParseToml(std::string_view text, const std::string& file, size_t max_bytes,
                 const TomlLimits& limits, const std::function<void(const toml::value&)>& read) {
  if (text.size() > max_bytes) return Status::Invalid(TooLarge(file, max_bytes));
  if (auto bad = PrecheckToml(text, file, limits)) return Status::Invalid(*bad);
  try {
    std::istringstream in{std::string(text)};
    read(toml::parse(in, file));
  } catch (const TomlError& e) {
    return Status::Invalid(e.message);
  } catch (const toml::exception& e) {
    return Status::Invalid(file + ":" + std::to_string(e.location().line()) +
                           ": syntax: " + TomlFirstLine(e.what()));
  } catch (const std::exception& e) {
    return Status::Invalid(file + ":1: syntax: " + TomlFirstLine(e.what()));
  }
  return Status::Ok();
}

}  // namespace senderguard
