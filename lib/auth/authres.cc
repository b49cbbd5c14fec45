#include "senderguard/auth/authres.h"

#include <cctype>

#include "senderguard/base/text.h"

namespace senderguard::authres {
namespace {

constexpr size_t kMaxText = 200;

// RFC 2045 token: printable ASCII except SP and tspecials.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 32 || c >= 127) return false;
    if (std::string_view("()<>@,;:\\\"/[]?=").find(static_cast<char>(c)) != std::string_view::npos)
      return false;
  }
  return true;
}

// Text we put in the header is first escaped by the one policy (Printable:
// printable ASCII, '\\' doubled, other bytes as \xNN, at most kMaxText
// bytes); then each syntax gets what it needs on top.

// An authserv-id, method, result or property name: a token, so the bytes in
// `forbid` (and so the '\\' of an escape) become '?'. These are our own
// words or the configuration's; the '?' only keeps a bad one a token.
std::string Token(std::string_view s, std::string_view forbid) {
  std::string out = Printable(s, kMaxText);
  for (char& c : out) {
    if (forbid.find(c) != std::string_view::npos) c = '?';
  }
  return out;
}

// `s` with each byte of `specials` written as an RFC 5322 §3.2.1
// quoted-pair.
std::string QuotedPairs(std::string_view s, std::string_view specials) {
  std::string out;
  for (char c : Printable(s, kMaxText)) {
    if (specials.find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string Quoted(std::string_view s) { return "\"" + QuotedPairs(s, "\"\\") + "\""; }

// A comment's text (RFC 5322 §3.2.2 ctext, quoted-pairs for the rest).
std::string Comment(std::string_view s) { return "(" + QuotedPairs(s, "()\\") + ")"; }

// A property value: a token, or a domain/address as it is (RFC 8601 §2.2
// pvalue allows [local-part "@"] domain-name), else a quoted string.
std::string Value(std::string_view v) {
  if (IsToken(v)) return std::string(v);
  bool domain_like = !v.empty() && v.size() <= kMaxText;
  for (unsigned char c : v) domain_like = domain_like && (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '@');
  if (domain_like && v.find('@') == v.rfind('@')) return std::string(v);
  return Quoted(v);
}

}  // namespace

std::string Build(std::string_view authserv_id, const std::vector<ResInfo>& results) {
  std::string out = Token(authserv_id, " ;()\"\\");
  if (results.empty()) return out + "; none";
  for (const auto& r : results) {
    out += ";\n\t" + Token(r.method, " ;=()\"\\") + "=" + Token(r.result, " ;=()\"\\");
    if (!r.comment.empty()) out += " " + Comment(r.comment);
    if (!r.reason.empty()) out += " reason=" + Quoted(r.reason);
    for (const auto& [k, v] : r.properties) out += " " + Token(k, " ;=()\"\\") + "=" + Value(v);
  }
  return out;
}

bool ClaimsAuthservId(std::string_view value, std::string_view authserv_id) {
  // Skip CFWS (white space, folding, comments nested up to a limit), then
  // read the authserv-id: a token or a quoted string, ended by CFWS or ';'.
  size_t i = 0;
  int depth = 0;
  while (i < value.size()) {
    const char c = value[i];
    if (depth > 0) {
      if (c == '\\') ++i;
      else if (c == '(') ++depth;
      else if (c == ')') --depth;
      ++i;
      if (depth > 32) return false;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') { ++i; continue; }
    if (c == '(') { depth = 1; ++i; continue; }
    break;
  }
  if (i >= value.size()) return false;
  std::string id;
  if (value[i] == '"') {
    for (++i; i < value.size() && value[i] != '"'; ++i) {
      if (value[i] == '\\' && i + 1 < value.size()) ++i;
      id.push_back(value[i]);
    }
  } else {
    while (i < value.size() && value[i] != ';' && value[i] != '(' && value[i] != ' ' &&
           value[i] != '\t' && value[i] != '\r' && value[i] != '\n')
      id.push_back(value[i++]);
  }
  return !id.empty() && EqualsIgnoreCase(id, authserv_id);
}

}  // namespace senderguard::authres
