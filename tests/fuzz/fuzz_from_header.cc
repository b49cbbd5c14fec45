// Fuzz target: ParseAuthor on arbitrary From: values.
//
// The input is one field, or two when it holds a NUL: the bytes before the
// first NUL are the first field, the rest (further NULs and all) the second.
// Checked for every input:
// 1. No crash, no read outside the input (ASan), deterministic.
// 2. The outcome is well formed: error == kNone exactly when a domain is
//    set; the domain is lower-case LDH labels of 1..63 bytes, no final dot,
//    at most 253 bytes; detail is set exactly on error and is printable
//    ASCII; addresses are at most kMaxAuthorMailboxes and hold no control
//    byte but tab.
// 3. Round trip: when one field yields a domain, the addresses it reports,
//    written back as "a1, a2, ...", yield the same domain and addresses; and
//    the same field given twice is kMultipleFrom.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/auth/from_header.h"

namespace {

using senderguard::Author;
using senderguard::AuthorError;

void Check(bool ok, const char* what, std::string_view detail) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_from_header: invariant broken: %s [%.*s]\n", what,
               static_cast<int>(detail.size() > 2000 ? 2000 : detail.size()), detail.data());
  std::abort();
}

void CheckDomain(const std::string& d) {
  Check(!d.empty() && d.size() <= 253, "domain length", d);
  Check(d.back() != '.', "trailing dot", d);
  size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      Check(label > 0, "empty label", d);
      label = 0;
      continue;
    }
    Check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-', "domain byte", d);
    Check(++label <= 63, "label length", d);
  }
  Check(label > 0, "empty last label", d);
}

void CheckOutcome(const Author& a, std::string_view in) {
  Check((a.error == AuthorError::kNone) == !a.domain.empty(), "domain iff none", in);
  Check((a.error == AuthorError::kNone) == a.detail.empty(), "detail iff error", a.detail);
  Check(a.detail.size() <= 400, "detail length", a.detail);
  for (char c : a.detail) {
    const auto u = static_cast<unsigned char>(c);
    Check(u >= 0x20 && u < 0x7f, "raw byte in detail", a.detail);
  }
  Check(a.addresses.size() <= senderguard::kMaxAuthorMailboxes, "address count", in);
  for (const std::string& addr : a.addresses) {
    for (char c : addr) {
      const auto u = static_cast<unsigned char>(c);
      Check(u == '\t' || (u >= 0x20 && u != 0x7f), "control byte in an address", addr);
    }
  }
  if (a.error == AuthorError::kNone) {
    CheckDomain(a.domain);
    Check(!a.addresses.empty(), "domain without an address", in);
    Check(a.single_label == (a.domain.find('.') == std::string::npos), "single_label", a.domain);
  } else {
    Check(!a.single_label, "single_label on error", in);
  }
}

bool Same(const Author& a, const Author& b) {
  return a.error == b.error && a.domain == b.domain && a.addresses == b.addresses &&
         a.detail == b.detail && a.single_label == b.single_label;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> fields;
  const size_t nul = in.find('\0');
  if (nul == std::string_view::npos) {
    fields.push_back(in);
  } else {
    fields.push_back(in.substr(0, nul));
    fields.push_back(in.substr(nul + 1));
  }

  const Author a = senderguard::ParseAuthor(fields);
  CheckOutcome(a, in);
  Check(Same(a, senderguard::ParseAuthor(fields)), "not deterministic", in);
  if (fields.size() == 2) {
    Check(a.error == AuthorError::kMultipleFrom, "two fields not refused", in);
    // Each field alone, for the checks above.
    for (std::string_view f : fields) CheckOutcome(senderguard::ParseAuthor({f}), f);
    return 0;
  }

  Check(senderguard::ParseAuthor({in, in}).error == AuthorError::kMultipleFrom,
        "the same field twice not refused", in);
  if (in.size() > senderguard::kMaxFromField) {
    Check(a.error == AuthorError::kTooLong, "long field not refused", in.substr(0, 100));
  }
  if (a.error == AuthorError::kNone) {
    std::string joined;
    for (const std::string& addr : a.addresses) {
      if (!joined.empty()) joined += ", ";
      joined += addr;
    }
    if (joined.size() <= senderguard::kMaxFromField) {
      const Author b = senderguard::ParseAuthor({joined});
      Check(b.error == AuthorError::kNone, "round trip: error", joined);
      Check(b.domain == a.domain, "round trip: domain", joined);
      Check(b.addresses == a.addresses, "round trip: addresses", joined);
    }
  }
  return 0;
}
