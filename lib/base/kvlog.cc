#include "senderguard/base/kvlog.h"

namespace senderguard {

KvLine& KvLine::Add(std::string_view key, std::string_view value) {
  if (!s_.empty()) s_.push_back(' ');
  s_.append(key);
  s_.push_back('=');
  s_ += KvEscape(value, kMaxValue);
  return *this;
}

KvLine& KvLine::Add(std::string_view key, int64_t value) {
  return Add(key, std::string_view(std::to_string(value)));
}

KvLine& KvLine::Add(std::string_view key, uint64_t value) {
  return Add(key, std::string_view(std::to_string(value)));
}

}  // namespace senderguard
