// Suspension state of an account: active, suspended, or reinstated until a
// time (then suspended again by itself). Pure functions over AccountRecord.
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
};

// The state at `now`: a reinstatement whose time has passed reads as
// suspended (the record need not be rewritten for that to hold).
EffectiveState EffectiveAt(const AccountRecord& a, int64_t now);

// Suspends. Suspending a suspended account replaces the reason.
void Suspend(AccountRecord* a, std::string_view reason, std::string_view actor, int64_t now);

// Reinstates a suspended (or reinstated) account: for `duration` seconds when
// given (then suspended again by itself), else for good.
// Returns Invalid when the account is active, or duration <= 0.
Status Reinstate(AccountRecord* a, std::string_view actor, int64_t now,
                 std::optional<int64_t> duration);

// Parses "24h", "1d", "90m", "3600s", "3600" into seconds; nullopt if bad or
// not positive or over ten years.
std::optional<int64_t> ParseDuration(std::string_view s);

}  // namespace senderguard
