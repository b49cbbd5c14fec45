// Fuzz target: Authentication-Results (authres.h) on hostile input.
// The input is split at the first NUL: the part before is an existing
// Authentication-Results value as a client could send it, the part after is
// text that ends up in the header we build (a DKIM domain, a reason).
// Checked: no crash or out-of-bounds read (ASan); ClaimsAuthservId is
// deterministic and false for an empty id; the value we build holds no CR,
// no NUL, no byte outside printable ASCII except "\n\t" folds, and still
// names our authserv-id as its own.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "senderguard/auth/authres.h"

using namespace senderguard::authres;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string_view existing = in.substr(0, nul);
  const std::string_view text = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);

  const bool a = ClaimsAuthservId(existing, "mx.example.net");
  if (a != ClaimsAuthservId(existing, "mx.example.net")) std::abort();
  if (ClaimsAuthservId(existing, "")) std::abort();

  std::vector<ResInfo> r = {{"spf", "pass", std::string(text), std::string(text), {{"smtp.mailfrom", std::string(text)}}},
                            {"dkim", std::string(text), "", "", {{std::string(text), std::string(text)}}}};
  const std::string v = Build("mx.example.net", r);
  for (size_t i = 0; i < v.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(v[i]);
    if (c == '\n') {
      if (i + 1 >= v.size() || v[i + 1] != '\t') std::abort();
      continue;
    }
    if (c == '\t' && i > 0 && v[i - 1] == '\n') continue;
    if (c < 32 || c >= 127) std::abort();
  }
  if (!ClaimsAuthservId(v, "mx.example.net")) std::abort();
  return 0;
}
