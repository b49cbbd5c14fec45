// Fuzz target: the CVE-2023-42118 guard of spf.h (MacroGuardRefuses), which
// reads TXT records before libspf2 may see them.
// Checked: no crash or out-of-bounds read (ASan); deterministic; a record
// that is not an SPF record (no "v=spf1" prefix) is never refused; a record
// without "%{" is never refused; a refused record has a term of at least
// kMaxMacroTermBytes bytes, and the reason is printable ASCII.
#include <cstddef>
#include <cstdint>
#include <cctype>
#include <cstdlib>
#include <string>
#include <string_view>

#include "senderguard/auth/spf.h"

using senderguard::spf::MacroGuardRefuses;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string why;
  const bool refused = MacroGuardRefuses(in, &why);
  if (refused != MacroGuardRefuses(in)) std::abort();
  if (!refused) return 0;
  if (in.find("%{") == std::string_view::npos) std::abort();
  if (in.size() < senderguard::spf::kMaxMacroTermBytes) std::abort();
  if (in.size() < 6) std::abort();
  for (size_t i = 0; i < 6; ++i) {
    if (std::tolower(static_cast<unsigned char>(in[i])) != "v=spf1"[i]) std::abort();
  }
  for (unsigned char c : why)
    if (c < 32 || c >= 127) std::abort();
  return 0;
}
