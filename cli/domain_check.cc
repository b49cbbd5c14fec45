#include <libpsl.h>

#include "cli.h"
#include "senderguard/auth/dmarc.h"
#include "senderguard/decide/identity.h"

namespace senderguard::cli {

VerifiedDomainCheck::VerifiedDomainCheck() : psl_(psl_latest(nullptr)) {}

VerifiedDomainCheck::~VerifiedDomainCheck() {
  if (psl_ != nullptr) psl_free(psl_);
}

std::optional<std::string> VerifiedDomainCheck::operator()(std::string_view raw, std::string* why) const {
  auto d = dmarc::NormalizeDomain(raw);
  // A host name, as an address's domain (identity.h), of two labels or more.
  if (!d || d->find('.') == std::string::npos || !ValidHostName(*d)) {
    *why = "not a domain name: \"" + Printable(raw, 60) + "\" (e.g. mail.example.com)";
    return std::nullopt;
  }
  // A public suffix ("co.uk", "github.io") is nobody's to verify: every
  // domain under it would count as the account's.
  if (psl_ != nullptr && psl_is_public_suffix2(psl_, d->c_str(), PSL_TYPE_ANY) != 0) {
    *why = *d + " is a public suffix, not a domain an account can own";
    return std::nullopt;
  }
  return d;
}

}  // namespace senderguard::cli
