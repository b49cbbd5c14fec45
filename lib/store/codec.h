// The byte encoding of the stored records (model/records.h).
//
// Every record starts with a version byte. Decoders check every length
// before reading and return Status::Corruption naming what was wrong; a
// record written by a newer schema than this build knows is refused, not
// guessed at. Fields are appended in later versions; a decoder fills the
// fields an older record lacks with their defaults.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "senderguard/base/status.h"
#include "senderguard/model/records.h"

namespace senderguard {

std::string Encode(const AccountRecord& r);
std::string Encode(const SuppressionRecord& r);
std::string Encode(const AuditEntry& r);
std::string Encode(const QueueEntry& r);
std::string Encode(const DayCountsRecord& r);
std::string Encode(const BounceRecord& r);
std::string Encode(const DeferredRecord& r);

// `what` names the record in error messages ("accounts/alice").
Status Decode(std::string_view bytes, std::string_view what, AccountRecord* out);
Status Decode(std::string_view bytes, std::string_view what, SuppressionRecord* out);
Status Decode(std::string_view bytes, std::string_view what, AuditEntry* out);
Status Decode(std::string_view bytes, std::string_view what, QueueEntry* out);
Status Decode(std::string_view bytes, std::string_view what, DayCountsRecord* out);
Status Decode(std::string_view bytes, std::string_view what, BounceRecord* out);
Status Decode(std::string_view bytes, std::string_view what, DeferredRecord* out);

// Big-endian fixed-width integers, for keys that sort by memcmp.
void PutBe64(std::string* out, uint64_t v);
uint64_t GetBe64(std::string_view in);  // REQUIRES: in.size() >= 8

}  // namespace senderguard
