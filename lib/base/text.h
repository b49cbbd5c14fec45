// Text helpers shared by every module: ASCII case and white space for
// protocol text, hex digits, the one UTF-8 check, header unfolding, and the
// one escaping policy for attacker text (Postfix's printable(), STYLE.md).
//
// The escaping policy, for everything that reaches a log, a terminal or an
// SMTP reply. Printable() keeps bytes 0x20..0x7e as they are, except '\'
// which is doubled, and writes every other byte (C0 controls with NUL, CR,
// LF, TAB and ESC; DEL; every byte >= 0x80) as "\xNN" in lower-case hex. The
// result is printable ASCII only, on one line, and can be read back without
// loss ("\\" and "\xNN" are its only escapes). Valid UTF-8 is escaped too:
// a terminal takes U+0080..U+009F (e.g. U+009B, CSI) for controls, and
// U+202E and its kin reorder a line; ASCII is what every log reader, pager
// and SMTP client shows the same way. A result is at most `max` bytes,
// including the "..." that marks a cut; a cut never splits an escape.
// The variants differ only where their context does: KvEscape (key=value
// logs) also escapes '"' and quotes a value holding a space, '=' or an
// escape; MilterReplyText (libmilter) also doubles '%'.
//
// Every function here is pure and thread-safe: it reads only its arguments
// and keeps no pointer to them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace senderguard {

// ------------------------------------------------------------ ASCII

// `c` with A-Z mapped to a-z; every other byte (including 8-bit) as is.
// Protocol text (header names, tags, domains) compares in ASCII only,
// whatever the locale.
constexpr char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// A copy of `s` with A-Z mapped to a-z; every other byte as is.
std::string AsciiLower(std::string_view s);

// Whether `a` and `b` are equal ignoring ASCII case.
constexpr bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// RFC 5234 WSP: a space or a horizontal tab.
constexpr bool IsWsp(char c) { return c == ' ' || c == '\t'; }

// `s` without leading and trailing WSP (spaces and tabs only: CR, LF and
// other controls are kept, a caller that must refuse them still sees them).
// The result views `s`'s bytes.
constexpr std::string_view TrimWsp(std::string_view s) {
  while (!s.empty() && IsWsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsWsp(s.back())) s.remove_suffix(1);
  return s;
}

// ------------------------------------------------------------ hex

// The value of the hex digit `c` (0-9, a-f, A-F); -1 for any other byte.
constexpr int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The lower-case hex digit of `v`'s low four bits.
constexpr char LowerHexDigit(unsigned v) { return "0123456789abcdef"[v & 15]; }

// ------------------------------------------------------------ UTF-8

// The length of the well-formed UTF-8 sequence that starts at s[i] (RFC 3629
// §4, as ValidUtf8 reads it): 1 for any ASCII byte (NUL included), 2..4 for
// a whole multi-byte sequence, 0 when the byte there starts none (a
// continuation byte, C0/C1, F5..FF, a truncated or overlong sequence, a
// surrogate, a code point above U+10FFFF). REQUIRES: i < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t i);

// Whether `s` is well-formed UTF-8 (RFC 3629 §4: no overlong forms, no
// surrogates U+D800..U+DFFF, nothing above U+10FFFF, no truncated sequence).
// Any ASCII byte, controls and NUL included, is valid. Checks 16 ASCII bytes
// at a time with SSE2 (every x86-64 has it), else 8: fit for hot paths.
bool ValidUtf8(std::string_view s);

// Whether `s` is printable text: ValidUtf8(s), and no ASCII control (0x00..
// 0x1f, TAB included) or DEL. What Postfix writes to its log is always so
// (msg_output.c), so a line that is not was damaged or forged. As fast as
// ValidUtf8.
bool PrintableUtf8(std::string_view s);

// ------------------------------------------------------------ headers

// RFC 5322 §2.2.3 unfolding of a header field value: each line break is
// removed (LF, or CR LF; a CR alone is kept) and the white space after it is
// kept, as the RFC says; then leading and trailing WSP is trimmed. Other
// bytes are left as they are: the result is not escaped.
std::string UnfoldHeader(std::string_view raw);

// A header value made one plain line for a record or a log field: every CR
// and LF removed (a lone CR too), each TAB made a space, then leading and
// trailing spaces trimmed. Reads at most the first `max` bytes of `raw`
// (RFC 5322 §2.1.1: a line is at most 998). Not escaped either.
std::string FlattenHeader(std::string_view raw, size_t max = 998);

// ------------------------------------------------------------ escaping

// The default cap of an escaped text, in bytes, "..." included.
inline constexpr size_t kMaxPrintable = 256;

// `s` under the escaping policy above, at most `max` bytes (a `max` below 3
// counts as 3, the mark's length). Never fails; the empty string gives "".
std::string Printable(std::string_view s, size_t max = kMaxPrintable);

// Appends Printable(s, max) to *out (which it does not otherwise read).
// REQUIRES: out != nullptr.
void AppendPrintable(std::string* out, std::string_view s, size_t max = kMaxPrintable);

// One value of a key=value log line (kvlog.h's KvLine): Printable, with '"'
// also escaped as \"; then, if the value is empty or holds a space, '=' or a
// '\' (an escape), in double quotes. So a value can never end its field or
// its line, and "\x0a" written by an attacker reads back as "\\x0a". The
// text inside the quotes is at most `max` bytes, "..." included.
std::string KvEscape(std::string_view value, size_t max = kMaxPrintable);

// The most text smfi_setreply takes in one line is 980 bytes; keep room.
inline constexpr size_t kMaxMilterReplyText = 900;

// Text for an SMTP reply given to libmilter's smfi_setreply: Printable (so
// ASCII only, RFC 5321 §4.2, and no CR/LF to end the reply early), with each
// '%' doubled (smfi_setreply reads the text as a format), at most `max`
// bytes, never ending in half of a "%%".
std::string MilterReplyText(std::string_view text, size_t max = kMaxMilterReplyText);

}  // namespace senderguard
