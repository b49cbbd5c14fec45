// Fuzz target: KvEscape and KvLine on arbitrary bytes. The promise of
// kvlog.h: a value can never forge a field or a line. So the escaped value
// holds no raw space, '=' or newline outside double quotes, only printable
// ASCII anywhere, and reads back (unescaped) to the value, or to its longest
// prefix whose escaped form fits kMaxValue with a "..." mark.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "senderguard/base/kvlog.h"

namespace {

void Check(bool ok, const char* what, const std::string& out) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_kvlog: invariant broken: %s [%s]\n", what, out.c_str());
  std::abort();
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Undoes KvEscape; checks the syntax on the way.
std::string Unescape(const std::string& out) {
  for (char c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    Check(u >= 0x20 && u < 0x7f, "non-printable byte in output", out);
  }
  if (out.empty() || out[0] != '"') {
    for (char c : out) {
      Check(c != ' ' && c != '=' && c != '"' && c != '\\', "special byte outside quotes", out);
    }
    return out;
  }
  Check(out.size() >= 2 && out.back() == '"', "unterminated quotes", out);
  std::string v;
  for (size_t i = 1; i + 1 < out.size(); ++i) {
    const char c = out[i];
    Check(c != '"', "raw quote inside quotes", out);
    if (c != '\\') {
      v.push_back(c);
      continue;
    }
    Check(i + 2 < out.size(), "dangling backslash", out);
    const char e = out[i + 1];
    if (e == '"' || e == '\\') {
      v.push_back(e);
      i += 1;
    } else {
      Check(e == 'x' && i + 4 < out.size() && Hex(out[i + 2]) >= 0 && Hex(out[i + 3]) >= 0,
            "bad escape", out);
      v.push_back(static_cast<char>(Hex(out[i + 2]) * 16 + Hex(out[i + 3])));
      i += 3;
    }
  }
  return v;
}

// The size of `v` escaped, quotes not counted: printable ASCII 1 byte, '"'
// and '\\' 2, every other byte 4 ("\\xNN").
size_t EscapedSize(std::string_view v) {
  size_t n = 0;
  for (unsigned char c : v) n += c == '"' || c == '\\' ? 2 : c >= 0x20 && c < 0x7f ? 1 : 4;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string out = senderguard::KvEscape(in);
  const std::string back = Unescape(out);
  // The cap counts bytes written (text.h): a value whose escaped form fits
  // reads back byte for byte; a longer one as its longest prefix that fits
  // with the "..." mark.
  constexpr size_t kMax = senderguard::KvLine::kMaxValue;
  if (EscapedSize(in) <= kMax) {
    Check(back == in, "does not read back", out);
  } else {
    Check(back.size() >= 3 && back.compare(back.size() - 3, 3, "...") == 0, "no cut mark", out);
    const std::string_view kept = std::string_view(back).substr(0, back.size() - 3);
    Check(in.substr(0, kept.size()) == kept, "cut value is not a prefix", out);
    Check(EscapedSize(kept) + 3 <= kMax, "cut value over the cap", out);
    Check(EscapedSize(in.substr(0, kept.size() + 1)) > kMax - 3, "cut earlier than needed", out);
  }

  // Two fields around the hostile value: still exactly three fields.
  senderguard::KvLine line;
  line.Add("a", "1").Add("v", in).Add("z", "2");
  const std::string& s = line.str();
  Check(s.rfind("a=1 v=", 0) == 0, "line start", s);
  Check(s.size() >= 4 && s.compare(s.size() - 4, 4, " z=2") == 0, "line end", s);
  Check(s.substr(6, s.size() - 10) == out, "line holds the escaped value", s);
  return 0;
}
