#include "senderguard/decide/identity.h"

#include <idn2.h>

#include <algorithm>
#include <cstdint>

#include "senderguard/base/text.h"

namespace senderguard {
namespace {

std::string_view StripBrackets(std::string_view s) {
  s = TrimWsp(s);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return TrimWsp(s);
}

bool AccountByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '@' || c == '+' || c == ':' || c == '-';
}

// RFC 1035 host name syntax, lower case, labels 1..63, total <= 253.
bool ValidDomain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    char c = d[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label != 0;
}

// The A-labels of a domain written in Unicode ("b\xc3\xbccher.example" ->
// "xn--bcher-kva.example"), as IDNA2008 with UTS #46 non-transitional
// mapping gives them: the same conversion as dmarc::NormalizeDomain, so an
// address's domain and a verified domain read alike. nullopt when it is not
// a valid IDN.
std::optional<std::string> ALabels(std::string_view domain) {
  const std::string in(domain);
  char* out = nullptr;
  const int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(in.c_str()),
                                reinterpret_cast<uint8_t**>(&out), IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK || out == nullptr) {
    idn2_free(out);
    return std::nullopt;
  }
  std::string a = AsciiLower(std::string_view(out));
  idn2_free(out);
  return a;
}

}  // namespace

bool ValidHostName(std::string_view d) {
  if (!ValidDomain(d)) return false;
  // No label starts or ends with '-'.
  size_t start = 0;
  while (start <= d.size()) {
    size_t end = d.find('.', start);
    if (end == std::string_view::npos) end = d.size();
    if (end > start && (d[start] == '-' || d[end - 1] == '-')) return false;
    start = end + 1;
  }
  return true;
}

std::optional<std::string> NormalizeAccount(std::string_view raw) {
  std::string_view s = TrimWsp(raw);
  if (s.empty()) return std::nullopt;
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  auto hex = [](char h) { return (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f'); };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = AsciiLower(s[i]);
    if (AccountByte(c)) {
      out.push_back(c);
    } else if (c == '=' && i + 2 < s.size() &&
               hex(AsciiLower(s[i + 1])) && hex(AsciiLower(s[i + 2]))) {
      // Already an "=XX" escape: keep it, so a canonical name (as `list`
      // prints it) normalizes to itself.
      out.push_back('=');
      out.push_back(AsciiLower(s[i + 1]));
      out.push_back(AsciiLower(s[i + 2]));
      i += 2;
    } else {
      const auto u = static_cast<unsigned char>(c);
      out.push_back('=');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  if (out.size() > kMaxAccountName) {
    uint64_t h = 1469598103934665603ULL;  // FNV-1a over the whole encoded name
    for (char c : out) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    // Cut before an "=XX" escape rather than through it, then "+" and the
    // hash: the result is short enough to be left alone when normalized again.
    size_t cut = 200;
    if (out[cut - 1] == '=') cut -= 1;
    else if (out[cut - 2] == '=') cut -= 2;
    out.resize(cut);
    out.push_back('+');
    for (int i = 15; i >= 0; --i) out.push_back(kHex[(h >> (4 * i)) & 15]);
  }
  return out;
}

std::optional<std::string> NormalizeAddress(std::string_view raw) { return NormalizeAddress(raw, nullptr); }

std::optional<std::string> NormalizeAddress(std::string_view raw, std::string* why) {
  auto refuse = [why](std::string_view reason) -> std::optional<std::string> {
    if (why != nullptr) *why = std::string(reason);
    return std::nullopt;
  };
  constexpr std::string_view kControl = "contains a space or a control character";
  constexpr std::string_view kTwoAts = "two '@' (quote a local part that has one)";
  auto control = [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  };
  std::string_view s = StripBrackets(raw);
  if (s.empty()) return refuse("empty");
  if (s.size() > kMaxAddress) {
    return refuse(why == nullptr ? "" : "too long (" + std::to_string(s.size()) + " bytes; at most " +
                                            std::to_string(kMaxAddress) + ")");
  }
  size_t at = s.rfind('@');
  if (at == std::string_view::npos) return refuse("no '@' (expected local@domain)");
  if (at == 0) return refuse("nothing before the '@'");
  if (at + 1 == s.size()) return refuse("no domain after the '@'");
  // Another '@' is allowed only inside a quoted local part ("a@b"@example.com).
  // (A space or control anywhere is the reason given first.)
  const bool two_ats = s.substr(0, at).find('@') != std::string_view::npos;
  if (two_ats && !(s.front() == '"' && at >= 2 && s[at - 1] == '"')) {
    return refuse(std::any_of(s.begin(), s.end(), control) ? kControl : kTwoAts);
  }
  std::string out;
  out.reserve(s.size());
  bool ascii_domain = true;
  for (size_t i = 0; i < s.size(); ++i) {
    if (control(s[i])) return refuse(kControl);
    if (static_cast<unsigned char>(s[i]) >= 0x80 && i > at) ascii_domain = false;
    out.push_back(AsciiLower(s[i]));
  }
  // A domain refused below is named as such, unless the local part (quoted)
  // has a second '@', which is named instead, as it always was.
  const std::string_view bad_domain =
      two_ats ? kTwoAts
              : "the domain is not a host name (labels of letters, digits and hyphens, at most 63 each, "
                "none starting or ending with a hyphen; a Unicode name must be a valid IDN)";
  if (!ascii_domain) {
    // SMTPUTF8 (RFC 6531) lets a recipient's domain be written in Unicode;
    // it is the same mailbox as its A-label form, which is what is stored.
    auto a = ALabels(std::string_view(s).substr(at + 1));
    if (!a) return refuse(bad_domain);
    out.resize(at + 1);
    out += *a;
    if (out.size() > kMaxAddress) return refuse(bad_domain);
  }
  const std::string_view domain = std::string_view(out).substr(at + 1);
  if (!ValidHostName(domain)) return refuse(bad_domain);
  return out;
}

std::optional<std::string> AddressDomain(std::string_view raw) {
  std::string_view s = StripBrackets(raw);
  size_t at = s.rfind('@');
  if (at == std::string_view::npos || at + 1 >= s.size()) return std::nullopt;
  std::string d;
  for (char c : s.substr(at + 1)) d.push_back(AsciiLower(c));
  if (!d.empty() && d.back() == '.') d.pop_back();
  if (!ValidDomain(d)) return std::nullopt;
  return d;
}

std::string_view IdentitySourceName(IdentitySource s) {
  switch (s) {
    case IdentitySource::kSasl: return "sasl";
    case IdentitySource::kSenderDomain: return "sender-domain";
    case IdentitySource::kClientAddress: return "client-address";
  }
  return "?";
}

std::optional<IdentitySource> ParseIdentitySource(std::string_view name) {
  for (auto s : {IdentitySource::kSasl, IdentitySource::kSenderDomain,
                 IdentitySource::kClientAddress}) {
    if (IdentitySourceName(s) == name) return s;
  }
  return std::nullopt;
}

std::optional<Identity> ResolveIdentity(const IdentityFacts& facts,
                                        const std::vector<IdentitySource>& order) {
  for (IdentitySource src : order) {
    std::optional<std::string> name;
    switch (src) {
      case IdentitySource::kSasl:
        if (!facts.sasl_login.empty()) name = NormalizeAccount(facts.sasl_login);
        break;
      case IdentitySource::kSenderDomain:
        if (auto d = AddressDomain(facts.envelope_from)) name = NormalizeAccount(*d);
        break;
      case IdentitySource::kClientAddress:
        if (!facts.client_address.empty()) name = NormalizeAccount(facts.client_address);
        break;
    }
    if (name) return Identity{std::move(*name), src};
  }
  return std::nullopt;
}

}  // namespace senderguard
