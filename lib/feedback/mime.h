// MIME as feedback-loop reports (ARF, arf.h) need it: header blocks (RFC
// 5322 §2.2, §3.6.8), Content-Type with RFC 2231 parameters (RFC 2045 §5,
// RFC 2046 §5.1.1), and the base64 and quoted-printable transfer encodings
// (RFC 2045 §6). Tolerant of what real feedback loops send, with hard caps on
// what attacker text can make it do (see arf.h for the limits). Pure
// functions; thread-safe. Views returned point into the caller's input.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/base/status.h"

namespace senderguard::mime {

// RFC 5322 §3.6.8 ftext: printable US-ASCII except ":".
bool FieldNameChar(char c);
// RFC 2045 §5.1 token character.
bool TokenChar(char c);
// Cuts *s to at most `max` bytes, not inside a UTF-8 sequence; true when it
// cut. REQUIRES: s != nullptr.
bool Cap(std::string* s, size_t max);
// Skips white space, line breaks and (nested) comments at s[*i] (RFC 5322
// §3.2.2 CFWS). An unterminated comment runs to the end.
void SkipCfws(std::string_view s, size_t* i);

// One header field of a block.
struct Field {
  std::string_view name;
  std::string_view raw;  // the value after ":", still folded; without the final line break
};

struct HeaderBlock {
  std::vector<Field> fields;
  std::string_view body;                    // what follows the header block
  bool terminated = false;    // ended by a blank line or by a line that is not a field
  bool ends_mid_line = false; // the input ended inside the block without a final LF
};

// Reads the header block at the start of `text` (arf.h gives the rules:
// folding, caps, what ends a block). `where` names the part in errors
// (Status::Invalid). *out views `text`.
Status ParseHeaderBlock(std::string_view text, const std::string& where, HeaderBlock* out);

// One Content-Type parameter.
struct Param {
  std::string name;  // lowercased
  std::string value;
};

// A parsed Content-Type.
struct ContentType {
  std::string type = "text";  // lowercased; RFC 2045 §5.2 default text/plain
  std::string subtype = "plain";
  std::vector<Param> params;  // after RFC 2231 assembly, one per name
  std::vector<std::string> conflicts;  // names given twice with different values

  std::string Full() const { return type + "/" + subtype; }
  bool Is(std::string_view t, std::string_view st) const { return type == t && subtype == st; }
  const std::string* Get(std::string_view name) const {
    for (const Param& p : params) {
      if (p.name == name) return &p.value;
    }
    return nullptr;
  }
  bool Conflicted(std::string_view name) const {
    return std::find(conflicts.begin(), conflicts.end(), name) != conflicts.end();
  }
};

// RFC 2045 §5.1, tolerantly: comments anywhere between tokens, unquoted
// values holding tspecials ("boundary=----=_Part_1"), stray ";". An
// unreadable type leaves text/plain (RFC 2045 §5.2).
ContentType ParseContentType(std::string_view v);

// RFC 2045 §6.8 base64: line breaks and other bytes outside the alphabet are
// skipped; the first "=" ends the data.
std::string DecodeBase64(std::string_view in);
// RFC 2045 §6.7: "=XX" is a byte, "=" at the end of a line (after optional
// white space) is a soft line break; any other "=" is kept as it is.
std::string DecodeQuotedPrintable(std::string_view in);

}  // namespace senderguard::mime
