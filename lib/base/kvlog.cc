#include "senderguard/base/kvlog.h"

namespace senderguard {

std::string KvEscape(std::string_view v) {
  bool truncated = false;
  if (v.size() > KvLine::kMaxValue) {
    v = v.substr(0, KvLine::kMaxValue);
    truncated = true;
  }
  bool quote = v.empty();
  for (char c : v) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '=' || c == '\\') {
      quote = true;
      break;
    }
  }
  if (!quote) return truncated ? std::string(v) + "..." : std::string(v);
  std::string out = "\"";
  static const char kHex[] = "0123456789abcdef";
  for (char c : v) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u >= 0x7f) {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  if (truncated) out += "...";
  out.push_back('"');
  return out;
}

KvLine& KvLine::Add(std::string_view key, std::string_view value) {
  if (!s_.empty()) s_.push_back(' ');
  s_.append(key);
  s_.push_back('=');
  s_ += KvEscape(value);
  return *this;
}

KvLine& KvLine::Add(std::string_view key, int64_t value) {
  return Add(key, std::string_view(std::to_string(value)));
}

KvLine& KvLine::Add(std::string_view key, uint64_t value) {
  return Add(key, std::string_view(std::to_string(value)));
}

}  // namespace senderguard
