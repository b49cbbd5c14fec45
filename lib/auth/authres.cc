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

// Printable ASCII only, cut; `forbid` are replaced too.
std::string Clean(std::string_view s, std::string_view forbid) {
  std::string out;
  for (unsigned char c : s.substr(0, kMaxText)) {
    const bool bad = c < 32 || c >= 127 || forbid.find(static_cast<char>(c)) != std::string_view::npos;
    out.push_back(bad ? '?' : static_cast<char>(c));
  }
  return out;
}

std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : Clean(s, "")) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

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
  std::string out = Clean(authserv_id, " ;()\"\\");
  if (results.empty()) return out + "; none";
  for (const auto& r : results) {
    out += ";\n\t" + Clean(r.method, " ;=()\"\\") + "=" + Clean(r.result, " ;=()\"\\");
    if (!r.comment.empty()) out += " (" + Clean(r.comment, "()\\") + ")";
    if (!r.reason.empty()) out += " reason=" + Quoted(r.reason);
    for (const auto& [k, v] : r.properties) out += " " + Clean(k, " ;=()\"\\") + "=" + Value(v);
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
