// Fuzz target: ParseConfig on arbitrary text. Besides crashes and sanitizer
// reports, it checks what config.h promises: an accepted configuration holds
// only in-range values; a refused one names "file:LINE: " on one line.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "senderguard/config/config.h"

namespace {

void Check(bool ok, const char* what, std::string_view detail = {}) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_config: invariant broken: %s [%.*s]\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

bool OneLineReply(const std::string& s) {
  if (s.empty() || s.size() > 400) return false;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t') return false;
  }
  return true;
}

// RFC 3629 well-formed UTF-8 (TOML files must be UTF-8).
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c == 0xe0) { n = 2; lo = 0xa0; }
    else if (c == 0xed) { n = 2; hi = 0x9f; }
    else if (c >= 0xe1 && c <= 0xef) n = 2;
    else if (c == 0xf0) { n = 3; lo = 0x90; }
    else if (c >= 0xf1 && c <= 0xf3) n = 3;
    else if (c == 0xf4) { n = 3; hi = 0x8f; }
    else return false;
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xbf)) return false;
    }
    i += n + 1;
  }
  return true;
}

// With SG_FUZZ_SKIP_KNOWN set, skip inputs that reach the toml11 bugs
// already reported (invalid UTF-8 in a literal string: heap over-read;
// deep nesting: stack overflow), so a long run can look for new ones.
bool SkipKnown(std::string_view text) {
  static const bool skip = std::getenv("SG_FUZZ_SKIP_KNOWN") != nullptr;
  if (!skip) return false;
  size_t open = 0;
  for (char c : text) open += (c == '[' || c == '{');
  return open > 200 || !ValidUtf8(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (SkipKnown(text)) return 0;
  auto r = senderguard::ParseConfig(text, "fuzz.conf");
  if (!r.ok()) {
    const std::string m = r.status().message();
    Check(r.status().code() == senderguard::Status::Code::kInvalid, "code", m);
    Check(m.rfind("fuzz.conf:", 0) == 0, "message prefix", m);
    size_t i = 10;
    while (i < m.size() && m[i] >= '0' && m[i] <= '9') ++i;
    Check(i > 10 && m.compare(i, 2, ": ") == 0, "message line number", m);
    Check(m.find('\n') == std::string::npos, "one-line message", m);
    return 0;
  }
  const senderguard::Config& c = **r;
  Check(!c.store_path.empty() && c.store_path[0] == '/', "store path", c.store_path);
  Check(c.map_size_mb >= 1 && c.map_size_mb <= (1u << 20), "map size");
  Check(c.sync_interval_ms <= 60000, "sync interval");
  Check(c.socket_mode <= 0777, "socket mode");
  Check(!c.identity.empty() && c.identity.size() <= 3, "identity");
  Check(c.notify_command.empty() || c.notify_command[0].rfind('/', 0) == 0, "notify_command");
  for (const auto& w : c.windows) {
    Check(w.default_limit == senderguard::kUnlimited || w.default_limit <= 1'000'000'000'000ULL,
          "window limit");
  }
  Check(OneLineReply(c.reply_suspended), "reply suspended", c.reply_suspended);
  Check(OneLineReply(c.reply_suppressed), "reply suppressed", c.reply_suppressed);
  Check(OneLineReply(c.reply_quota), "reply quota", c.reply_quota);
  Check(OneLineReply(c.reply_error), "reply error", c.reply_error);
  return 0;
}
