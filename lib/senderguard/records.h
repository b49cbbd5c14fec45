// Stored records and their byte encoding.
//
// Every record starts with a version byte. Decoders check every length
// before reading and return Status::Corruption naming what was wrong; a
// record written by a newer schema than this build knows is refused, not
// guessed at. Fields are appended in later versions; a decoder fills the
// fields an older record lacks with their defaults.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/quota.h"
#include "senderguard/status.h"

namespace senderguard {

enum class AccountStatus : uint8_t { kActive = 0, kSuspended = 1, kReinstated = 2 };
std::string_view AccountStatusName(AccountStatus s);  // "active", "suspended", "reinstated"

// Limit sentinel for "no override: use the configured default".
inline constexpr uint64_t kInheritLimit = UINT64_MAX - 1;

struct AccountRecord {
  std::string name;
  // Per-window override; kInheritLimit = configured default, kUnlimited = none.
  std::array<uint64_t, kWindowCount> limits = {kInheritLimit, kInheritLimit, kInheritLimit,
                                               kInheritLimit};
  AccountStatus status = AccountStatus::kActive;
  std::string status_reason;  // why suspended (kept while reinstated)
  std::string status_actor;   // who made the last state change
  int64_t status_since = 0;   // when the last state change happened (Unix s)
  int64_t reinstated_until = 0;  // kReinstated only: when it falls back to suspended
  bool dry_run = false;       // log what would be refused, refuse nothing
  int64_t created = 0;
};

struct SuppressionRecord {
  std::string account;  // empty: global (the address refuses mail from everyone)
  std::string address;  // normalized
  std::string reason;
  std::string actor;
  int64_t since = 0;
};

struct AuditEntry {
  int64_t time_us = 0;
  std::string actor;    // "alice (uid 1000)", "senderguard-milter"
  std::string action;   // "suspend", "reinstate", "quota-set", ...
  std::string account;  // empty when not about one account
  std::string detail;   // what changed, free text
};

struct QueueEntry {
  std::string queue_id;
  std::string account;
  int64_t time = 0;
  std::vector<std::string> recipients;
};

std::string Encode(const AccountRecord& r);
std::string Encode(const SuppressionRecord& r);
std::string Encode(const AuditEntry& r);
std::string Encode(const QueueEntry& r);

// `what` names the record in error messages ("accounts/alice").
Status Decode(std::string_view bytes, std::string_view what, AccountRecord* out);
Status Decode(std::string_view bytes, std::string_view what, SuppressionRecord* out);
Status Decode(std::string_view bytes, std::string_view what, AuditEntry* out);
Status Decode(std::string_view bytes, std::string_view what, QueueEntry* out);

// Big-endian fixed-width integers, for keys that sort by memcmp.
void PutBe64(std::string* out, uint64_t v);
uint64_t GetBe64(std::string_view in);  // REQUIRES: in.size() >= 8

}  // namespace senderguard
