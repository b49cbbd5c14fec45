// The author of a message (RFC 5322 §3.6.2 From:, §3.4 addresses) for
// DMARC: see from_header.h. Over 600 lines by design: one RFC 5322
// address-list lexer and parser, hostile input in mind.
#include "senderguard/auth/from_header.h"

#include <idn2.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "senderguard/base/text.h"

namespace senderguard {
namespace {

using sv = std::string_view;
constexpr size_t npos = sv::npos;

// Input quoted in a detail: 100 bytes of escaped text, then "..." if cut.
constexpr size_t kMaxShown = 103;

// ------------------------------------------------------------ bytes

enum : uint8_t {
  kAtext = 1,    // RFC 5322 §3.2.3 atext, plus every 8-bit byte (RFC 6532 §3.2)
  kCtl = 2,      // a control byte other than tab (CR and LF are checked first)
  kEwToken = 4,  // RFC 2047 §2 token: printable ASCII but especials
  kEwText = 8,   // what we let an encoded word's text hold (see EncodedWordLength)
};

constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> t{};
  const sv atext_specials = "!#$%&'*+-/=?^_`{|}~";
  const sv ew_especials = "()<>@,;:\"/[]?.=";
  const sv structure = "\"()<>[]\\?";
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool printable = c > 0x20 && c < 0x7f;
    uint8_t v = 0;
    if (alnum || c >= 0x80 || (c < 0x80 && atext_specials.find(ch) != sv::npos)) v |= kAtext;
    if ((c < 0x20 && c != '\t') || c == 0x7f) v |= kCtl;
    if (printable && ew_especials.find(ch) == sv::npos) v |= kEwToken;
    if (printable && structure.find(ch) == sv::npos) v |= kEwText;
    t[static_cast<size_t>(c)] = v;
  }
  return t;
}();

uint8_t Class(char c) { return kClass[static_cast<unsigned char>(c)]; }

// The length of the line break that starts at s[i] when it is folding
// (RFC 5322 §3.2.2: CRLF followed by white space; a bare LF the same, since
// libmilter passes on what the client sent, and Postfix stores LF), or one
// that ends the value. 0 for any other CR or LF.
size_t FoldLength(sv s, size_t i) {
  size_t k;
  if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
    k = 2;
  } else if (s[i] == '\n') {
    k = 1;
  } else {
    return 0;
  }
  return i + k == s.size() || IsWsp(s[i + k]) ? k : 0;
}

// Quoted text and literals as written, unfolded. The lexer let CR and LF in
// only as part of a fold, so dropping them is exactly RFC 5322 unfolding.
void AppendUnfolded(std::string* out, sv s) {
  for (char c : s) {
    if (c != '\r' && c != '\n') out->push_back(c);
  }
}

// ------------------------------------------------------------ lexer

// The lexer turns a value into tokens, dropping white space, folds and
// comments (RFC 5322 CFWS), so the grammar below never sees them: that is
// what lets CFWS sit anywhere the obsolete syntax (§4.4) allows it.
enum class Tok : uint8_t {
  kWord,     // an atom, 8-bit bytes allowed
  kEncoded,  // an encoded word (RFC 2047): a display-name word
  kQuoted,   // a quoted string, quotes included
  kLiteral,  // a domain literal, brackets included
  kLt,
  kGt,
  kAt,
  kComma,
  kColon,
  kSemi,
  kDot,
  kEnd,  // always last; pos is the value's size
};

struct Token {
  Tok kind;
  uint32_t pos;  // byte offset in the value (kMaxFromField fits)
  uint32_t len;
};

// Longest encoded word recognised. RFC 2047 §2 allows 75 bytes; senders
// exceed it, and the cap only bounds the look-ahead.
constexpr size_t kMaxEncodedWord = 1024;

std::string At(const char* what, size_t pos) {
  return std::string(what) + " at byte " + std::to_string(pos);
}

class Lexer {
 public:
  explicit Lexer(sv s) : s_(s) {}

  // Appends the tokens of the value and a kEnd; false (with *why) when the
  // value breaks the lexical rules listed in from_header.h.
  bool Run(std::vector<Token>* out, std::string* why) {
    const size_t n = s_.size();
    size_t i = 0;
    while (i < n) {
      const char c = s_[i];
      if (IsWsp(c)) {
        ++i;
        continue;
      }
      if (c == '\r' || c == '\n') {
        const size_t k = FoldLength(s_, i);
        if (k == 0) return Fail("line break not followed by white space", i, why);
        i += k;
        continue;
      }
      Tok kind;
      size_t len = 1;
      switch (c) {
        case '(':
          if (!SkipComment(&i, why)) return false;
          continue;
        case '"':
          len = Delimited(i, '"', why);
          if (len == 0) return false;
          kind = Tok::kQuoted;
          break;
        case '[':
          len = Delimited(i, ']', why);
          if (len == 0) return false;
          kind = Tok::kLiteral;
          break;
        case '<': kind = Tok::kLt; break;
        case '>': kind = Tok::kGt; break;
        case '@': kind = Tok::kAt; break;
        case ',': kind = Tok::kComma; break;
        case ':': kind = Tok::kColon; break;
        case ';': kind = Tok::kSemi; break;
        case '.': kind = Tok::kDot; break;
        case ')': return Fail("')' without '('", i, why);
        case ']': return Fail("']' without '['", i, why);
        case '\\': return Fail("'\\' outside quotes", i, why);
        default:
          if (Class(c) & kCtl) return Fail("control byte", i, why);
          kind = Tok::kEncoded;
          len = EncodedWordLength(i);
          if (len == 0) {
            kind = Tok::kWord;
            size_t j = i;
            while (j < n && (Class(s_[j]) & kAtext)) ++j;
            len = j - i;
          }
          break;
      }
      out->push_back(Token{kind, static_cast<uint32_t>(i), static_cast<uint32_t>(len)});
      i += len;
    }
    out->push_back(Token{Tok::kEnd, static_cast<uint32_t>(n), 0});
    return true;
  }

 private:
  static bool Fail(const char* what, size_t pos, std::string* why) {
    *why = At(what, pos);
    return false;
  }

  // One byte inside a quoted string, comment or literal at s_[*i], which is
  // not the closing byte: a quoted pair, a fold, or a plain byte. False for
  // a control byte, a bare line break, or a "\" at the end.
  bool InnerByte(size_t* i, std::string* why) const {
    const char c = s_[*i];
    if (c == '\\') {
      // RFC 5322 quoted-pair; obs-qp's NUL, controls, CR and LF refused.
      if (*i + 1 >= s_.size()) return Fail("'\\' at the end", *i, why);
      const char e = s_[*i + 1];
      if (e == '\r' || e == '\n' || (Class(e) & kCtl)) return Fail("control byte", *i + 1, why);
      *i += 2;
      return true;
    }
    if (c == '\r' || c == '\n') {
      const size_t k = FoldLength(s_, *i);
      if (k == 0) return Fail("line break not followed by white space", *i, why);
      *i += k;
      return true;
    }
    if (Class(c) & kCtl) return Fail("control byte", *i, why);
    ++*i;
    return true;
  }

  // At s_[*i] == '(': moves *i past the matching ')'. Nesting is counted,
  // not recursed into, and capped at kMaxCommentDepth.
  bool SkipComment(size_t* pos, std::string* why) const {
    size_t depth = 0;
    size_t i = *pos;
    while (i < s_.size()) {
      const char c = s_[i];
      if (c == '(') {
        if (++depth > kMaxCommentDepth) return Fail("comments nested too deep", i, why);
        ++i;
      } else if (c == ')') {
        ++i;
        if (--depth == 0) {
          *pos = i;
          return true;
        }
      } else if (!InnerByte(&i, why)) {
        return false;
      }
    }
    return Fail("unterminated comment", *pos, why);
  }

  // At s_[start] == '"' or '[': the length through the closing byte, or 0.
  size_t Delimited(size_t start, char close, std::string* why) const {
    size_t i = start + 1;
    while (i < s_.size()) {
      const char c = s_[i];
      if (c == close) return i + 1 - start;
      if (close == ']' && c == '[') {
        Fail("'[' inside a domain literal", i, why);
        return 0;
      }
      if (!InnerByte(&i, why)) return 0;
    }
    Fail(close == '"' ? "unterminated quoted string" : "unterminated domain literal", start, why);
    return 0;
  }

  // An encoded word "=?charset?enc?text?=" at s_[i] standing alone (RFC 2047
  // §5: followed by white space, a special or the end): its length, else 0.
  // It is a display-name word and is not decoded. Its text may hold the
  // specials "@,;:." (senders put them there unencoded, "=?utf-8?q?Smith,_J?=")
  // but not a byte that opens or closes a quote, comment, literal or angle
  // address, so an encoded word never changes where those are.
  size_t EncodedWordLength(size_t i) const {
    if (i + 1 >= s_.size() || s_[i] != '=' || s_[i + 1] != '?') return 0;
    const size_t limit = std::min(s_.size(), i + kMaxEncodedWord);
    size_t j = i + 2;
    for (int part = 0; part < 2; ++part) {  // charset, encoding
      const size_t b = j;
      while (j < limit && (Class(s_[j]) & kEwToken)) ++j;
      if (j == b || j >= limit || s_[j] != '?') return 0;
      ++j;
    }
    while (j < limit && (Class(s_[j]) & kEwText)) ++j;
    if (j + 1 >= limit || s_[j] != '?' || s_[j + 1] != '=') return 0;
    j += 2;
    if (j < s_.size() && (Class(s_[j]) & kAtext)) return 0;
    return j - i;
  }

  sv s_;
};

// ------------------------------------------------------------ grammar

struct Mailbox {
  std::string address;     // local@domain as written, unfolded
  size_t domain_at = npos;  // offset of the domain in `address`; npos without "@"
  const char* problem = nullptr;  // why the domain cannot be one, seen by the grammar
};

// RFC 5322 §3.4 address-list / mailbox-list with the §4.4 obsolete forms and
// the lenient display names described in from_header.h, over the tokens.
class ListParser {
 public:
  ListParser(sv s, const std::vector<Token>& tokens) : s_(s), t_(tokens) {}

  // False on a syntax error (`why` set) or when there are more than
  // kMaxAuthorMailboxes mailboxes (`too_many` set, `mailboxes` holds the
  // first kMaxAuthorMailboxes).
  bool Run() {
    size_t p = 0;
    bool in_group = false;
    for (;;) {
      // One member: up to a separator outside "<...>".
      const size_t start = p;
      size_t lt = npos, gt = npos;
      for (;;) {
        const Tok k = Kind(p);
        if (k == Tok::kEnd || k == Tok::kComma || k == Tok::kSemi || k == Tok::kColon) break;
        if (gt != npos) return Fail("text after '>'", p);
        if (k == Tok::kGt) return Fail("'>' without '<'", p);
        if (k == Tok::kLt) {
          size_t q = p + 1;
          while (Kind(q) != Tok::kGt && Kind(q) != Tok::kLt && Kind(q) != Tok::kEnd) ++q;
          if (Kind(q) == Tok::kEnd) return Fail("'<' without '>'", p);
          if (Kind(q) == Tok::kLt) return Fail("'<' inside '<...>'", q);
          lt = p;
          gt = q;
          p = q + 1;
          continue;
        }
        ++p;
      }
      const Tok k = Kind(p);
      if (k == Tok::kColon) {
        // RFC 5322 §3.4 group (allowed in From: by RFC 6854): its name is a
        // phrase.
        if (in_group) return Fail("group inside a group", p);
        if (lt != npos) return Fail("':' after '<...>'", p);
        for (size_t i = start; i < p; ++i) {
          if (!PhraseToken(Kind(i))) return Fail("group name is not a phrase", i);
        }
        in_group = true;
        ++p;
        continue;
      }
      if (!Member(start, p, lt, gt)) return false;
      // A group still open at the end is taken as closed: a missing ";"
      // hides nothing.
      if (k == Tok::kEnd) return true;
      ++p;
      if (k == Tok::kSemi) {
        if (!in_group) return Fail("';' outside a group", p - 1);
        in_group = false;
        if (Kind(p) == Tok::kComma) {
          ++p;
        } else if (Kind(p) != Tok::kEnd) {
          return Fail("text after ';'", p);
        }
      }
    }
  }

  std::vector<Mailbox> mailboxes;
  size_t display_only = 0;  // members that were a display name and no address
  std::string why;
  bool too_many = false;

 private:
  Tok Kind(size_t i) const { return t_[i].kind; }
  sv Text(size_t i) const { return s_.substr(t_[i].pos, t_[i].len); }

  bool Fail(const char* what, size_t tok) {
    why = At(what, t_[tok].pos);
    return false;
  }

  bool Add(Mailbox m) {
    if (mailboxes.size() == kMaxAuthorMailboxes) {
      too_many = true;
      return false;
    }
    mailboxes.push_back(std::move(m));
    return true;
  }

  // Tokens [b, e) of one list member; [lt, gt] its "<...>" if it has one.
  bool Member(size_t b, size_t e, size_t lt, size_t gt) {
    if (b == e) return true;  // obs-mbox-list / obs-addr-list empty member
    // Before "<" everything is display name (see from_header.h).
    if (lt != npos) return Angle(lt + 1, gt);
    return AddrSpec(b, e, false);
  }

  // Inside "<...>": [obs-route] addr-spec.
  bool Angle(size_t b, size_t e) {
    size_t p = b;
    if (p < e && (Kind(p) == Tok::kAt || Kind(p) == Tok::kComma)) {
      // RFC 5322 §4.4 obs-route: *("," / "@" domain) ":", ignored.
      for (;;) {
        while (p < e && Kind(p) == Tok::kComma) ++p;
        if (p == e || Kind(p) != Tok::kAt) break;
        const size_t d = ++p;
        while (p < e && (Kind(p) == Tok::kWord || Kind(p) == Tok::kDot ||
                         Kind(p) == Tok::kLiteral)) {
          ++p;
        }
        if (p == d) return Fail("empty domain in a source route", p);
      }
      if (p == e || Kind(p) != Tok::kColon) return Fail("source route without ':'", p);
      ++p;
    }
    return AddrSpec(p, e, true);
  }

  // local-part "@" domain in [b, e); without "@", a mailbox without a domain
  // or (outside "<...>") a display name alone.
  bool AddrSpec(size_t b, size_t e, bool in_angle) {
    size_t at = npos;
    for (size_t i = b; i < e; ++i) {
      if (Kind(i) != Tok::kAt) continue;
      if (at != npos) return Fail("second '@'", i);
      at = i;
    }
    Mailbox m;
    if (at == npos) {
      if (b == e) return Add(std::move(m));  // "<>"
      // An encoded word alone is display name (RFC 2047 §5 puts it in
      // phrases only), not a mailbox "=?utf-8?q?...?=" without a domain.
      const size_t bad = LocalPart(b, e, false, &m.address);
      if (bad == npos) return Add(std::move(m));
      if (!in_angle && Phrase(b, e)) {
        ++display_only;
        return true;
      }
      return Fail(in_angle ? "not an address inside '<...>'" : "not an address", bad);
    }
    if (at == b) return Fail("empty local part", at);
    const size_t bad = LocalPart(b, at, true, &m.address);
    if (bad != npos) return Fail("bad local part", bad);
    m.address.push_back('@');
    m.domain_at = m.address.size();
    return Domain(at + 1, e, &m) && Add(std::move(m));
  }

  // RFC 5322 §4.4 obs-local-part, word *("." word), read leniently: dots
  // may lead, trail or repeat (some mobile carriers hand out "taro.@..."),
  // as the local part plays no part in DMARC. Appends it to *out; npos when
  // it is one, else the token that breaks it. An encoded word counts as the
  // atom it also is when `encoded_is_atom`.
  size_t LocalPart(size_t b, size_t e, bool encoded_is_atom, std::string* out) const {
    bool word_before = false, any_word = false;
    for (size_t i = b; i < e; ++i) {
      switch (Kind(i)) {
        case Tok::kDot:
          out->push_back('.');
          word_before = false;
          break;
        case Tok::kEncoded:
          if (!encoded_is_atom) return i;
          [[fallthrough]];
        case Tok::kWord:
        case Tok::kQuoted:
          if (word_before) return i;
          AppendUnfolded(out, Text(i));
          word_before = any_word = true;
          break;
        default:
          return i;
      }
    }
    return any_word ? npos : b;
  }

  // RFC 5322 §4.4 obs-phrase: words and dots.
  static bool PhraseToken(Tok k) {
    return k == Tok::kWord || k == Tok::kEncoded || k == Tok::kQuoted || k == Tok::kDot;
  }

  bool Phrase(size_t b, size_t e) const {
    for (size_t i = b; i < e; ++i) {
      if (!PhraseToken(Kind(i))) return false;
    }
    return true;
  }

  // The domain in [b, e), appended to m->address as written. Label rules
  // are checked later on the text; here only the shape: atoms and dots
  // (obs-domain), or one literal. An empty domain ("a@") leaves the mailbox
  // without one.
  bool Domain(size_t b, size_t e, Mailbox* m) {
    if (b == e) {
      m->domain_at = npos;
      return true;
    }
    bool word_before = false;
    for (size_t i = b; i < e; ++i) {
      switch (Kind(i)) {
        case Tok::kDot:
          m->address.push_back('.');
          word_before = false;
          break;
        case Tok::kWord:
        case Tok::kQuoted:
        case Tok::kLiteral:
          if (word_before) return Fail("two words in a domain", i);
          if (Kind(i) == Tok::kLiteral && e - b != 1) return Fail("domain literal in a name", i);
          if (Kind(i) == Tok::kQuoted && !m->problem) m->problem = "quoted domain";
          if (Kind(i) == Tok::kLiteral) m->problem = "domain literal";
          AppendUnfolded(&m->address, Text(i));
          word_before = true;
          break;
        default:
          return Fail("unexpected byte in a domain", i);
      }
    }
    return true;
  }

  sv s_;
  const std::vector<Token>& t_;
};

// ------------------------------------------------------------ domains

// Raw domains longer than this are refused before IDNA sees them: no U-label
// form of a 253-byte name comes near it.
constexpr size_t kMaxRawDomain = 1024;

bool Ascii(sv s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// One label to A-label form with libidn2 (UTS #46 non-transitional mapping,
// NFC, IDNA2008 rules). REQUIRES: `label` holds no NUL (the lexer refused it).
bool ToALabel(sv label, std::string* out, std::string* why) {
  const std::string in(label);
  char* res = nullptr;
  const int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(in.c_str()),
                                reinterpret_cast<uint8_t**>(&res),
                                IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK) {
    *why = std::string("IDNA refuses a label: ") + idn2_strerror_name(rc);
    idn2_free(res);
    return false;
  }
  out->append(res);
  idn2_free(res);
  return true;
}

// The raw domain as written to the lower-case A-label form, checked against
// the host name rules (RFC 1035 §2.3.4 lengths, RFC 1123 §2.1 LDH labels).
// ASCII labels are only lowercased: libidn2 would refuse real host names
// such as "r3---sn-x.example" (hyphens in places 3 and 4). Labels that are
// UTF-8, or ASCII "xn--" labels (to check their Punycode), go through IDNA.
bool NormalizeDomain(sv raw, std::string* out, std::string* why) {
  if (!raw.empty() && raw.back() == '.') raw.remove_suffix(1);  // the root
  if (raw.empty()) {
    *why = "empty domain";
    return false;
  }
  if (raw.size() > kMaxRawDomain) {
    *why = "domain longer than 1024 bytes";
    return false;
  }
  std::string d;
  size_t b = 0;
  for (;;) {
    const size_t dot = raw.find('.', b);
    const sv label = raw.substr(b, dot == npos ? npos : dot - b);
    if (label.empty()) {
      *why = "empty label";
      return false;
    }
    if (Ascii(label)) {
      const size_t from = d.size();
      for (char c : label) d.push_back(AsciiLower(c));
      if (d.compare(from, 4, "xn--") == 0) {
        const std::string lowered = d.substr(from);
        d.resize(from);
        if (!ToALabel(lowered, &d, why)) return false;
      }
    } else {
      if (!ValidUtf8(label)) {
        *why = "label is not UTF-8";
        return false;
      }
      if (!ToALabel(label, &d, why)) return false;
    }
    if (dot == npos) break;
    d.push_back('.');
    b = dot + 1;
  }
  // The checks on the result: IDNA mapping can add dots (U+3002) or empty
  // a label (U+200B), so they run on what DNS will be asked.
  if (d.size() > 253) {
    *why = "name longer than 253 bytes";
    return false;
  }
  size_t start = 0;
  bool all_digits = true;
  for (size_t i = 0; i <= d.size(); ++i) {
    if (i == d.size() || d[i] == '.') {
      const size_t len = i - start;
      if (len == 0) {
        *why = "empty label";
        return false;
      }
      if (len > 63) {
        *why = "label longer than 63 bytes";
        return false;
      }
      if (d[start] == '-' || d[i - 1] == '-') {
        *why = "label begins or ends with '-'";
        return false;
      }
      if (i < d.size()) all_digits = true;
      start = i + 1;
      continue;
    }
    const char c = d[i];
    const bool digit = c >= '0' && c <= '9';
    if (!digit && !(c >= 'a' && c <= 'z') && c != '-') {
      *why = "byte outside letters, digits and '-'";
      return false;
    }
    if (!digit) all_digits = false;
  }
  // RFC 3696 §2: a top-level label is never all digits; "a@192.0.2.1" is an
  // address written without brackets.
  if (all_digits) {
    *why = "all-numeric last label";
    return false;
  }
  *out = std::move(d);
  return true;
}

Author Fail(Author a, AuthorError e, std::string detail) {
  a.error = e;
  a.domain.clear();
  a.single_label = false;
  a.detail = std::move(detail);
  return a;
}

}  // namespace

Author ParseAuthor(const std::vector<std::string_view>& from_values) {
  Author a;
  if (from_values.empty()) return Fail(std::move(a), AuthorError::kNoFrom, "no From: field");
  if (from_values.size() > 1) {
    return Fail(std::move(a), AuthorError::kMultipleFrom,
                std::to_string(from_values.size()) + " From: fields");
  }
  const sv value = from_values[0];
  if (value.size() > kMaxFromField) {
    return Fail(std::move(a), AuthorError::kTooLong,
                "From: field of " + std::to_string(value.size()) + " bytes, over " +
                    std::to_string(kMaxFromField));
  }

  std::vector<Token> tokens;
  std::string why;
  if (!Lexer(value).Run(&tokens, &why)) {
    return Fail(std::move(a), AuthorError::kSyntax, std::move(why));
  }
  ListParser parser(value, tokens);
  const bool parsed = parser.Run();
  if (!parsed && !parser.too_many) {
    return Fail(std::move(a), AuthorError::kSyntax, std::move(parser.why));
  }
  for (const Mailbox& m : parser.mailboxes) a.addresses.push_back(m.address);
  if (parser.too_many) {
    return Fail(std::move(a), AuthorError::kTooLong,
                "more than " + std::to_string(kMaxAuthorMailboxes) + " mailboxes");
  }
  if (parser.mailboxes.empty()) {
    return Fail(std::move(a), AuthorError::kNoAddress,
                parser.display_only ? "a display name without an address" : "no mailbox");
  }

  for (const Mailbox& m : parser.mailboxes) {
    if (m.domain_at == npos) {
      std::string d = "mailbox without a domain: ";
      AppendPrintable(&d, m.address.empty() ? "<>" : m.address, kMaxShown);
      return Fail(std::move(a), AuthorError::kNoDomain, std::move(d));
    }
  }

  std::vector<std::string> domains;
  domains.reserve(parser.mailboxes.size());
  for (const Mailbox& m : parser.mailboxes) {
    const sv raw = sv(m.address).substr(m.domain_at);
    std::string d;
    std::string reason = m.problem ? m.problem : "";
    if (reason.empty() && !domains.empty() && raw == sv(parser.mailboxes[0].address)
                                                          .substr(parser.mailboxes[0].domain_at)) {
      domains.push_back(domains.front());  // the common case: the same text again
      continue;
    }
    if (reason.empty() && NormalizeDomain(raw, &d, &reason)) {
      domains.push_back(std::move(d));
      continue;
    }
    std::string detail = "bad domain ";
    AppendPrintable(&detail, raw, kMaxShown);
    detail += ": " + reason;
    return Fail(std::move(a), AuthorError::kBadDomain, std::move(detail));
  }

  for (const std::string& d : domains) {
    if (d != domains.front()) {
      std::string detail = std::to_string(domains.size()) + " mailboxes, domains differ: ";
      AppendPrintable(&detail, domains.front(), kMaxShown);
      detail.push_back(' ');
      AppendPrintable(&detail, d, kMaxShown);
      return Fail(std::move(a), AuthorError::kMultipleDomains, std::move(detail));
    }
  }
  a.domain = std::move(domains.front());
  a.single_label = a.domain.find('.') == npos;
  return a;
}

std::string_view AuthorErrorName(AuthorError e) {
  switch (e) {
    case AuthorError::kNone: return "none";
    case AuthorError::kNoFrom: return "no-from";
    case AuthorError::kMultipleFrom: return "multiple-from";
    case AuthorError::kNoAddress: return "no-address";
    case AuthorError::kNoDomain: return "no-domain";
    case AuthorError::kMultipleDomains: return "multiple-domains";
    case AuthorError::kBadDomain: return "bad-domain";
    case AuthorError::kSyntax: return "syntax";
    case AuthorError::kTooLong: return "too-long";
  }
  return "unknown";
}

}  // namespace senderguard
