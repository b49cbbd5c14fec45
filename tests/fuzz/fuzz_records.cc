// Fuzz target: Decode of every record type on the same bytes. A decoder may
// refuse (kCorruption) but never crash or read out of bounds. What it accepts
// in the current version must encode back to exactly the input (the encoding
// is canonical), so a store rewrite never changes a record it did not mean to
// change; a record of an older version is rewritten in the current one, which
// must decode to the same record and then stay byte-identical.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "senderguard/model/records.h"
#include "senderguard/store/codec.h"

namespace {

template <typename T>
void RoundTrip(std::string_view in, const char* name) {
  T rec;
  senderguard::Status s = senderguard::Decode(in, name, &rec);
  if (!s.ok()) {
    if (s.code() != senderguard::Status::Code::kCorruption ||
        s.message().rfind(std::string(name) + ": ", 0) != 0) {
      std::fprintf(stderr, "fuzz_records: %s: bad failure: %s\n", name, s.message().c_str());
      std::abort();
    }
    return;
  }
  const std::string once = senderguard::Encode(rec);
  if (once == in) return;
  // Older version: the input's version byte is below the one written now.
  if (in.empty() || once.empty() || static_cast<uint8_t>(in[0]) >= static_cast<uint8_t>(once[0])) {
    std::fprintf(stderr, "fuzz_records: %s: accepted bytes do not re-encode identically\n", name);
    std::abort();
  }
  T again;
  if (!senderguard::Decode(once, name, &again).ok() || senderguard::Encode(again) != once) {
    std::fprintf(stderr, "fuzz_records: %s: an upgraded record does not round-trip\n", name);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  RoundTrip<senderguard::AccountRecord>(in, "accounts/fuzz");
  RoundTrip<senderguard::SuppressionRecord>(in, "suppression/fuzz");
  RoundTrip<senderguard::AuditEntry>(in, "audit/fuzz");
  RoundTrip<senderguard::QueueEntry>(in, "queue/fuzz");
  RoundTrip<senderguard::DayCountsRecord>(in, "days/fuzz");
  RoundTrip<senderguard::BounceRecord>(in, "bounces/fuzz");
  if (size >= 8) (void)senderguard::GetBe64(in);
  return 0;
}
