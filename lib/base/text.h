// ASCII helpers for protocol text (header names, authserv-ids, keywords),
// which compare case-insensitively in ASCII only, whatever the locale.
#pragma once

#include <cstddef>
#include <string_view>

namespace senderguard {

constexpr char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Whether `a` and `b` are equal ignoring ASCII case.
constexpr bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

}  // namespace senderguard
