// Fuzz target: account and address normalization and the identity order on
// attacker-controlled SASL login, envelope sender and client address. Checks
// the promises of identity.h on whatever they accept.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/decide/identity.h"

namespace {

using senderguard::IdentitySource;

void Check(bool ok, const char* what, const std::string& detail) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_identity: invariant broken: %s [%s]\n", what, detail.c_str());
  std::abort();
}

bool AccountByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '@' || c == '+' || c == ':' || c == '-';
}

bool LowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// identity.h: printable, every byte outside the alphabet written "=XX", at
// most kMaxAccountName bytes (a longer name is cut before an escape, never
// through one, and ends in "+" and 16 hex digits of a hash), and a canonical
// name maps to itself (what `list` prints, `suspend` takes).
bool WellFormed(std::string_view a) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == '=') {
      if (i + 2 >= a.size() || !LowerHex(a[i + 1]) || !LowerHex(a[i + 2])) return false;
      i += 2;
    } else if (!AccountByte(a[i])) {
      return false;
    }
  }
  return true;
}

void CheckAccount(const std::string& a) {
  Check(!a.empty() && a.size() <= senderguard::kMaxAccountName, "account length", a);
  Check(WellFormed(a), "malformed account name", a);
  Check(senderguard::NormalizeAccount(a) == a, "canonical name is not a fixed point", a);
}

void CheckDomain(const std::string& d) {
  Check(!d.empty() && d.size() <= 253, "domain length", d);
  Check(d.front() != '.' && d.back() != '.' && d.find("..") == std::string::npos,
        "domain labels", d);
  for (char c : d) {
    Check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.',
          "domain byte", d);
  }
  // The sender-domain identity relies on every valid domain being an account.
  Check(senderguard::NormalizeAccount(d) == d, "domain is an account name", d);
}

void CheckAddress(const std::string& a) {
  Check(a.size() <= senderguard::kMaxAddress, "address length", a);
  for (char c : a) {
    const unsigned char u = static_cast<unsigned char>(c);
    Check(u > 0x20 && u != 0x7f, "address byte", a);
    Check(!(c >= 'A' && c <= 'Z'), "address lower case", a);
  }
  const size_t at = a.rfind('@');
  Check(at != std::string::npos && at > 0 && at + 1 < a.size(), "address parts", a);
  if (a.substr(0, at).find('@') != std::string::npos) {
    Check(a.front() == '"' && at >= 2 && a[at - 1] == '"', "second '@' outside quotes", a);
  }
  Check(senderguard::NormalizeAddress(a) == a, "address idempotent", a);
  auto d = senderguard::AddressDomain(a);
  Check(d.has_value() && *d == a.substr(at + 1), "address domain", a);
  // A host name (ASCII: a Unicode domain becomes its A-labels), no label
  // starting or ending with '-'.
  Check(senderguard::ValidHostName(a.substr(at + 1)), "address domain is a host name", a);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const std::string sasl = fdp.ConsumeRandomLengthString(600);
  const std::string from = fdp.ConsumeRandomLengthString(600);
  const std::string client = fdp.ConsumeRandomLengthString(600);
  std::vector<IdentitySource> order;
  const size_t n = fdp.ConsumeIntegralInRange<size_t>(0, 4);
  for (size_t i = 0; i < n; ++i) {
    order.push_back(static_cast<IdentitySource>(fdp.ConsumeIntegralInRange<int>(0, 2)));
  }

  for (const std::string* s : {&sasl, &from, &client}) {
    auto a = senderguard::NormalizeAccount(*s);
    if (a) {
      CheckAccount(*a);
      Check(senderguard::NormalizeAccount(*s) == a, "account deterministic", *a);
    } else {
      // Only an empty or blank name is refused.
      Check(s->find_first_not_of(" \t") == std::string::npos, "non-blank name refused", *s);
    }
    if (auto a = senderguard::NormalizeAddress(*s)) CheckAddress(*a);
    if (auto d = senderguard::AddressDomain(*s)) CheckDomain(*d);
    if (auto src = senderguard::ParseIdentitySource(*s)) {
      Check(senderguard::IdentitySourceName(*src) == *s, "source name", *s);
    }
  }

  const senderguard::IdentityFacts facts{sasl, from, client};
  if (auto id = senderguard::ResolveIdentity(facts, order)) {
    CheckAccount(id->account);
    bool listed = false;
    for (auto s : order) listed = listed || s == id->source;
    Check(listed, "identity source not in the order", id->account);
    // Earlier sources in the order must not have yielded an account.
    for (auto s : order) {
      if (s == id->source) break;
      auto earlier = senderguard::ResolveIdentity(facts, {s});
      Check(!earlier.has_value(), "an earlier source was skipped", id->account);
    }
  } else {
    for (auto s : order) {
      Check(!senderguard::ResolveIdentity(facts, {s}).has_value(), "a source was skipped", "");
    }
  }
  return 0;
}
