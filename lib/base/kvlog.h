// key=value log lines and the logger that lib/ writes through.
//
// Values that come from outside (addresses, logins, reply texts) are escaped
// and truncated so a hostile string cannot forge fields or lines.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "senderguard/base/text.h"  // KvEscape, the escaping of one value

namespace senderguard {

// Where log lines go. Implementations must be thread-safe.
class Logger {
 public:
  enum class Level { kError, kWarning, kInfo, kDebug };
  virtual ~Logger() = default;
  virtual void Log(Level level, std::string_view line) = 0;
};

// Builds "k1=v1 k2=v2". Each value is written by KvEscape (text.h): the
// one escaping policy, '"' escaped too, and in double quotes when it is empty
// or holds a space, '=' or an escape; at most kMaxValue bytes inside the
// quotes, "..." included. Keys are the caller's constants, written as given.
// Not thread-safe; build one line per thread.
class KvLine {
 public:
  static constexpr size_t kMaxValue = kMaxPrintable;
  KvLine& Add(std::string_view key, std::string_view value);
  KvLine& Add(std::string_view key, int64_t value);
  KvLine& Add(std::string_view key, uint64_t value);
  KvLine& Add(std::string_view key, int value) { return Add(key, static_cast<int64_t>(value)); }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

}  // namespace senderguard
