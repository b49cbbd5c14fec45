#include "senderguard/base/text.h"

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace senderguard {

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

// ------------------------------------------------------------ UTF-8

namespace {

// The RFC 3629 §4 table: the length of the sequence at p[i] (REQUIRES: i <
// n, p[i] >= 0x80), 0 when it is not well formed (the second byte's bounds
// shut out overlong forms, surrogates and code points above U+10FFFF).
inline size_t MultiByteSequenceAt(const unsigned char* p, size_t n, size_t i) {
  const unsigned char c = p[i];
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;  // bounds of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong below U+0800
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;  // overlong below U+10000
    if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;  // a continuation byte first, C0/C1 (overlong), F5..FF
  }
  if (len > n - i) return 0;
  if (p[i + 1] < lo || p[i + 1] > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (p[i + k] < 0x80 || p[i + k] > 0xbf) return 0;
  }
  return len;
}

// The one UTF-8 scan. kRefuseControls: ASCII controls (0x00..0x1f) and DEL
// fail too. Runs of ASCII are skipped sixteen bytes at a time with SSE2,
// else eight; a multi-byte sequence is checked against the RFC 3629 §4
// table (MultiByteSequenceAt).
template <bool kRefuseControls>
bool ScanUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  size_t i = 0;
  while (i < n) {
#if defined(__SSE2__)
    while (i + 16 <= n) {
      const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      int bad;
      if constexpr (kRefuseControls) {
        // Signed, bytes 0x80..0xff are negative: "< 0x20" flags them with
        // the control bytes; 0x7f is flagged apart.
        bad = _mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(w, _mm_set1_epi8(0x20)),
                                             _mm_cmpeq_epi8(w, _mm_set1_epi8(0x7f))));
      } else {
        bad = _mm_movemask_epi8(w);  // the high bits: bytes >= 0x80
      }
      if (bad != 0) {
        i += static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(bad)));
        break;
      }
      i += 16;
    }
    if (i >= n) break;
#endif
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      uint64_t flags = w;  // any byte >= 0x80
      if constexpr (kRefuseControls) {
        // Any byte < 0x20, any byte == 0x7f (exact as an "any" test: a
        // borrow only spreads above a byte that already hit).
        const uint64_t below = (w - kOnes * 0x20) & ~w;
        const uint64_t del = w ^ (kOnes * 0x7f);
        const uint64_t is_del = (del - kOnes) & ~del;
        flags |= below | is_del;
      }
      if ((flags & kHigh) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      if (kRefuseControls && (c < 0x20 || c == 0x7f)) return false;
      ++i;
      continue;
    }
    const size_t len = MultiByteSequenceAt(p, n, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

}  // namespace

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  return p[i] < 0x80 ? 1 : MultiByteSequenceAt(p, s.size(), i);
}

bool ValidUtf8(std::string_view s) { return ScanUtf8<false>(s); }

bool PrintableUtf8(std::string_view s) { return ScanUtf8<true>(s); }

// ------------------------------------------------------------ headers

std::string UnfoldHeader(std::string_view raw) {
  std::string r;
  r.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\n') continue;
    if (c == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    r.push_back(c);
  }
  const std::string_view t = TrimWsp(r);
  return std::string(t);
}

std::string FlattenHeader(std::string_view raw, size_t max) {
  std::string out;
  for (char c : raw.substr(0, max)) {
    if (c == '\r' || c == '\n') continue;
    out.push_back(c == '\t' ? ' ' : c);
  }
  const size_t b = out.find_first_not_of(' ');
  const size_t e = out.find_last_not_of(' ');
  return b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
}

// ------------------------------------------------------------ escaping

namespace {

constexpr std::string_view kCutMark = "...";

// What a context adds to the one policy.
enum class Context {
  kPlain,   // Printable
  kKv,      // '"' as \" too
  kMilter,  // '%' as %% too
};

// Appends `s` escaped to *out, at most `max` bytes (the mark included).
// Returns whether it cut.
template <Context kContext>
bool Escape(std::string* out, std::string_view s, size_t max) {
  if (max < kCutMark.size()) max = kCutMark.size();
  const size_t start = out->size();
  // Where a cut would leave the text: after the last piece that still
  // leaves room for the mark.
  size_t keep = start;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    char piece[4];
    size_t len = 2;
    if (c == '\\' || (kContext == Context::kKv && c == '"')) {
      piece[0] = '\\';
      piece[1] = ch;
    } else if (kContext == Context::kMilter && c == '%') {
      piece[0] = piece[1] = '%';
    } else if (c >= 0x20 && c < 0x7f) {
      piece[0] = ch;
      len = 1;
    } else {
      piece[0] = '\\';
      piece[1] = 'x';
      piece[2] = LowerHexDigit(c >> 4);
      piece[3] = LowerHexDigit(c);
      len = 4;
    }
    if (out->size() - start + len > max) {
      out->resize(keep);
      out->append(kCutMark);
      return true;
    }
    out->append(piece, len);
    if (out->size() - start + kCutMark.size() <= max) keep = out->size();
  }
  return false;
}

}  // namespace

void AppendPrintable(std::string* out, std::string_view s, size_t max) {
  Escape<Context::kPlain>(out, s, max);
}

std::string Printable(std::string_view s, size_t max) {
  std::string out;
  Escape<Context::kPlain>(&out, s, max);
  return out;
}

std::string KvEscape(std::string_view value, size_t max) {
  std::string out = "\"";
  Escape<Context::kKv>(&out, value, max);
  // Every escape holds a '\': quotes are needed exactly when the text holds
  // a space, '=' or an escape, or is empty (an empty value must still show).
  if (out.size() > 1 && out.find_first_of(" =\\", 1) == std::string::npos) return out.substr(1);
  out.push_back('"');
  return out;
}

std::string MilterReplyText(std::string_view text, size_t max) {
  std::string out;
  Escape<Context::kMilter>(&out, text, max);
  return out;
}

}  // namespace senderguard
