// Suspension state of an account: active, suspended (for good or until a
// time, then active again by itself), or reinstated until a time (then
// suspended again by itself). Pure functions over AccountRecord.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "senderguard/model/records.h"
#include "senderguard/base/status.h"

namespace senderguard {

struct EffectiveState {
  AccountStatus status = AccountStatus::kActive;  // as it stands at `now`
  bool may_send = true;
  bool reinstatement_expired = false;  // stored kReinstated whose time ran out
  bool suspension_expired = false;     // stored kSuspended for a time that ran out
};

// The state at `now`: a reinstatement whose time has passed reads as
// suspended, a timed suspension whose time has passed as active (the record
// need not be rewritten for either to hold).
EffectiveState EffectiveAt(const AccountRecord& a, int64_t now);

// Suspends for good (until reinstated). Suspending a suspended account
// replaces the reason, and a timed suspension becomes one for good.
void Suspend(AccountRecord* a, std::string_view reason, std::string_view actor, int64_t now);

// Suspends for `duration` seconds: refused until now + duration (saturated
// at the largest time), then active again by itself. Replaces any earlier
// suspension or reinstatement. Returns Invalid (and changes nothing) when
// duration <= 0.
Status SuspendFor(AccountRecord* a, std::string_view reason, std::string_view actor, int64_t now,
                  int64_t duration);

// Reinstates a suspended (or reinstated) account: for `duration` seconds when
// given (then suspended again by itself), else for good.
// Returns Invalid when the account is active at `now` (a timed suspension
// that ran out is), or duration <= 0.
Status Reinstate(AccountRecord* a, std::string_view actor, int64_t now,
                 std::optional<int64_t> duration);

// Parses "24h", "1d", "90m", "3600s", "3600" into seconds; nullopt if bad or
// not positive or over ten years.
std::optional<int64_t> ParseDuration(std::string_view s);

}  // namespace senderguard
