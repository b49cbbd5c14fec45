// The records senderguard keeps, as plain values: what the decisions take as
// input and the store keeps (its byte encoding is store/codec.h).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/model/window.h"

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
  // v2: reputation (written by the tailer and the ARF ingester).
  uint8_t tier = 1;              // 1..5; the quota multiplier of reputation.h
  uint32_t clean_days = 0;       // clean days counted toward the next tier
  int64_t rated_through = 0;     // last UTC day number judged for the tier
  int64_t rates_since = 0;       // Unix s: rates start the day after this (operator reinstatement)
  // v2: From: domains the account has verified (DMARC); with domains_only,
  // any other From: domain is refused.
  bool domains_only = false;
  std::vector<std::string> domains;
  // v3: kSuspended only: when a timed suspension ends by itself (Unix s);
  // 0 = suspended until an operator reinstates it.
  int64_t suspended_until = 0;
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
  // v2
  std::string message_id;   // the Message-ID header as the milter saw it ("" when none)
  int64_t last_event = 0;   // Unix s of the last log event seen for it (0: none yet)
  bool forwarded = false;   // handed to a content filter that re-queued it under a new id
};

// One account on one UTC day: its delivery outcomes (reputation.h's
// DayCounts, from the tailer and the ARF ingester) and, v2, what the milter
// did with its mail that day (Store::AddSendingDays).
struct DayCountsRecord {
  uint64_t delivered = 0, deferred = 0, hard = 0, soft = 0, technical = 0, expired = 0,
           complaints = 0;
  // v2, the milter's: units committed against the quota (in the day
  // window's unit: recipients, or messages), SMTP refusals it replied
  // (any reason; a dry run's "would refuse" is none), and the reputation
  // tier in force the last time it accepted or refused mail for the
  // account that day (0: not seen).
  uint64_t quota_used = 0, refused = 0;
  uint8_t tier = 0;
};

// What the milter adds to one DayCountsRecord (Store::AddSendingDays):
// quota_used and refused are added, tier replaces the stored one when not 0.
struct SendingDay {
  std::string account;
  int64_t day = 0;  // UTC day number (DayNumber)
  uint64_t quota_used = 0, refused = 0;
  uint8_t tier = 0;
};

// Hard bounces of one recipient, toward global suppression.
struct BounceRecord {
  std::string address;
  uint32_t count = 0;
  std::string last_account;
  std::string last_category;
  int64_t last_time = 0;
};

// The recipients of one queued message that the tailer saw deferred and not
// yet final (for the count of an expiry), as of `time`.
struct DeferredRecord {
  std::string queue_id;
  int64_t time = 0;  // Unix s of the last change
  std::vector<std::string> recipients;
};

// The UTC day number of a Unix time: floor(unix_seconds / 86400), so that
// times before 1970 fall on the day they belong to; the day of a
// DayCountsRecord.
constexpr int64_t DayNumber(int64_t unix_seconds) {
  int64_t q = unix_seconds / 86400;
  if (unix_seconds % 86400 < 0) --q;
  return q;
}

}  // namespace senderguard
