// MIME as ARF reports need it (RFC 2045, 2046, 2231, 5322): see mime.h.
#include "senderguard/feedback/mime.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "senderguard/base/text.h"
#include "senderguard/feedback/arf.h"  // the caps: kMaxArfHeaderBlock, kMaxArfFields

namespace senderguard::mime {

using sv = std::string_view;

// Parameters read from one Content-Type (RFC 2231 sections count singly).
constexpr size_t kMaxParams = 64;

// ------------------------------------------------------------ bytes

// RFC 5322 §3.6.8 ftext: printable US-ASCII except ":".
bool FieldNameChar(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u >= 33 && u <= 126 && c != ':';
}

// RFC 2045 §5.1 token: printable US-ASCII except SPACE and tspecials.
bool TokenChar(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  if (u <= 32 || u >= 127) return false;
  return sv("()<>@,;:\\\"/[]?=").find(c) == sv::npos;
}

// Cuts s to at most max bytes, not inside a UTF-8 sequence.
bool Cap(std::string* s, size_t max) {
  if (s->size() <= max) return false;
  size_t n = max;
  for (int k = 0; k < 3 && n > 0 && (static_cast<unsigned char>((*s)[n]) & 0xC0) == 0x80; ++k) --n;
  s->resize(n);
  return true;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// ------------------------------------------------------------ header blocks

// Reads the header block at the start of `text` (see arf.h for the rules).
Status ParseHeaderBlock(sv text, const std::string& where, HeaderBlock* out) {
  *out = HeaderBlock{};
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    const size_t next = nl == sv::npos ? text.size() : nl + 1;
    size_t end = nl == sv::npos ? text.size() : nl;
    if (nl != sv::npos && end > pos && text[end - 1] == '\r') --end;
    const sv line = text.substr(pos, end - pos);
    if (line.empty()) {
      out->terminated = true;
      out->body = text.substr(next);
      return Status::Ok();
    }
    // Only lines of the header block count against its limit: a long
    // first line of a body is not a header.
    if (IsWsp(line[0])) {
      if (out->fields.empty()) break;  // a continuation of nothing: not a header line
      if (next > kMaxArfHeaderBlock) {
        return Status::Invalid(where + ": header block exceeds 256 KiB");
      }
      Field& f = out->fields.back();
      f.raw = sv(f.raw.data(), static_cast<size_t>(text.data() + end - f.raw.data()));
    } else {
      size_t i = 0;
      while (i < line.size() && FieldNameChar(line[i])) ++i;
      const size_t name_len = i;
      while (i < line.size() && IsWsp(line[i])) ++i;
      if (name_len == 0 || i >= line.size() || line[i] != ':') break;  // the body starts here
      if (next > kMaxArfHeaderBlock) {
        return Status::Invalid(where + ": header block exceeds 256 KiB");
      }
      if (out->fields.size() >= kMaxArfFields) {
        return Status::Invalid(where + ": header block has more than 1000 fields");
      }
      out->fields.push_back(Field{line.substr(0, name_len), line.substr(i + 1)});
    }
    if (nl == sv::npos) out->ends_mid_line = true;
    pos = next;
  }
  if (pos < text.size()) {  // stopped at a line that is not a field
    out->terminated = true;
    out->body = text.substr(pos);
  } else {
    out->body = text.substr(text.size());
  }
  return Status::Ok();
}

// ------------------------------------------------------------ Content-Type

// Skips whitespace and (nested) comments at s[*i] (RFC 5322 §3.2.2 CFWS;
// RFC 2045 §5.1 allows comments in Content-Type). An unterminated comment
// runs to the end.
void SkipCfws(sv s, size_t* i) {
  int depth = 0;
  while (*i < s.size()) {
    const char c = s[*i];
    if (depth > 0) {
      if (c == '\\') {
        ++*i;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        --depth;
      }
      ++*i;
    } else if (c == '(') {
      depth = 1;
      ++*i;
    } else if (IsWsp(c) || c == '\r' || c == '\n') {
      ++*i;
    } else {
      return;
    }
  }
}

namespace {

std::string PercentDecode(sv s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int h = HexValue(s[i + 1]), l = HexValue(s[i + 2]);
      if (h >= 0 && l >= 0) {
        r.push_back(static_cast<char>(h * 16 + l));
        i += 2;
        continue;
      }
    }
    r.push_back(s[i]);
  }
  return r;
}

}  // namespace

namespace {

// RFC 2231 §3-4: "name*" (charset'language'%XX), "name*0", "name*1*", ...
// Sections are joined in order from 0 up to the first missing one.
void AssembleParams(std::vector<Param> raw, ContentType* ct) {
  struct Section {
    std::string base;
    int index;  // -1 for "name*" or a plain name
    bool extended;
    std::string value;
  };
  std::vector<Section> secs;
  for (Param& p : raw) {
    Section s{p.name, -1, false, std::move(p.value)};
    const size_t star = s.base.find('*');
    if (star != std::string::npos) {
      std::string rest = s.base.substr(star + 1);
      s.base.resize(star);
      if (!rest.empty() && rest.back() == '*') {
        s.extended = true;
        rest.pop_back();
      } else if (rest.empty()) {
        s.extended = true;  // "name*"
      }
      if (!rest.empty()) {
        if (rest.size() > 3 || !std::all_of(rest.begin(), rest.end(),
                                            [](char c) { return c >= '0' && c <= '9'; })) {
          continue;  // not a section number: ignore the parameter
        }
        s.index = 0;
        for (char c : rest) s.index = s.index * 10 + (c - '0');
      }
    }
    secs.push_back(std::move(s));
  }
  auto add = [ct](std::string name, std::string value) {
    for (const Param& p : ct->params) {
      if (p.name == name) {
        if (p.value != value && !ct->Conflicted(name)) ct->conflicts.push_back(name);
        return;
      }
    }
    ct->params.push_back(Param{std::move(name), std::move(value)});
  };
  std::vector<bool> used(secs.size(), false);
  for (size_t i = 0; i < secs.size(); ++i) {
    if (used[i]) continue;
    const Section& s = secs[i];
    if (s.index < 0) {
      used[i] = true;
      if (!s.extended) {
        add(s.base, s.value);
      } else {
        // charset'language'value: drop the first two fields.
        const size_t q1 = s.value.find('\'');
        const size_t q2 = q1 == std::string::npos ? q1 : s.value.find('\'', q1 + 1);
        add(s.base, PercentDecode(q2 == std::string::npos ? sv(s.value)
                                                          : sv(s.value).substr(q2 + 1)));
      }
      continue;
    }
    // Sections of s.base: at most kMaxParams of them, so quadratic is fine.
    std::string value;
    for (int want = 0;; ++want) {
      size_t found = secs.size();
      for (size_t j = 0; j < secs.size(); ++j) {
        if (!used[j] && secs[j].index == want && secs[j].base == s.base) {
          found = j;
          break;
        }
      }
      if (found == secs.size()) break;
      used[found] = true;
      sv v = secs[found].value;
      if (secs[found].extended) {
        if (want == 0) {
          const size_t q1 = v.find('\'');
          const size_t q2 = q1 == sv::npos ? q1 : v.find('\'', q1 + 1);
          if (q2 != sv::npos) v.remove_prefix(q2 + 1);
        }
        value += PercentDecode(v);
      } else {
        value += v;
      }
    }
    for (size_t j = 0; j < secs.size(); ++j) {
      if (secs[j].base == s.base && secs[j].index >= 0) used[j] = true;  // gaps: dropped
    }
    add(s.base, std::move(value));
  }
}

}  // namespace

// RFC 2045 §5.1, tolerantly: comments anywhere between tokens, unquoted
// values holding tspecials ("boundary=----=_Part_1"), stray ";". An
// unreadable type leaves text/plain (RFC 2045 §5.2).
ContentType ParseContentType(sv v) {
  ContentType ct;
  size_t i = 0;
  SkipCfws(v, &i);
  size_t b = i;
  while (i < v.size() && TokenChar(v[i])) ++i;
  const sv type = v.substr(b, i - b);
  SkipCfws(v, &i);
  if (type.empty() || i >= v.size() || v[i] != '/') return ct;
  ++i;
  SkipCfws(v, &i);
  b = i;
  while (i < v.size() && TokenChar(v[i])) ++i;
  const sv subtype = v.substr(b, i - b);
  if (subtype.empty()) return ct;
  ct.type = AsciiLower(type);
  ct.subtype = AsciiLower(subtype);

  std::vector<Param> raw;
  while (raw.size() < kMaxParams) {
    SkipCfws(v, &i);
    if (i >= v.size()) break;
    if (v[i] != ';') {
      // Junk between parameters: resynchronize at the next ";" outside quotes.
      bool quoted = false;
      while (i < v.size() && (quoted || v[i] != ';')) {
        if (v[i] == '\\' && quoted) {
          ++i;
        } else if (v[i] == '"') {
          quoted = !quoted;
        }
        ++i;
      }
      continue;
    }
    ++i;
    SkipCfws(v, &i);
    b = i;
    while (i < v.size() && v[i] != '=' && v[i] != ';' && !IsWsp(v[i]) && v[i] != '(' &&
           v[i] != '"') {
      ++i;
    }
    const sv name = v.substr(b, i - b);
    SkipCfws(v, &i);
    if (name.empty() || i >= v.size() || v[i] != '=') continue;
    ++i;
    SkipCfws(v, &i);
    std::string value;
    if (i < v.size() && v[i] == '"') {
      ++i;
      while (i < v.size() && v[i] != '"') {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        value.push_back(v[i]);
        ++i;
      }
      if (i < v.size()) ++i;  // the closing quote
    } else {
      b = i;
      while (i < v.size() && v[i] != ';' && !IsWsp(v[i]) && v[i] != '(') ++i;
      value.assign(v.substr(b, i - b));
    }
    raw.push_back(Param{AsciiLower(name), std::move(value)});
  }
  AssembleParams(std::move(raw), &ct);
  return ct;
}

// ------------------------------------------------------------ decoding

std::string DecodeBase64(sv in) {
  std::string out;
  out.reserve(in.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else if (c == '=') {
      break;  // padding: the end of the data (RFC 2045 §6.8)
    } else {
      continue;  // line breaks and anything outside the alphabet are ignored
    }
    acc = ((acc << 6) | static_cast<uint32_t>(v)) & 0xFFFFFF;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// RFC 2045 §6.7: "=XX" is a byte, "=" at the end of a line (after optional
// whitespace) is a soft line break; any other "=" is kept as it is.
std::string DecodeQuotedPrintable(sv in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c != '=') {
      out.push_back(c);
      continue;
    }
    if (i + 2 < in.size()) {
      const int h = HexValue(in[i + 1]), l = HexValue(in[i + 2]);
      if (h >= 0 && l >= 0) {
        out.push_back(static_cast<char>(h * 16 + l));
        i += 2;
        continue;
      }
    }
    size_t j = i + 1;
    while (j < in.size() && IsWsp(in[j])) ++j;
    if (j < in.size() && in[j] == '\r' && j + 1 < in.size() && in[j + 1] == '\n') ++j;
    if (j >= in.size() || in[j] == '\n') {
      i = j;  // soft line break (or "=" at the very end)
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace senderguard::mime
