#include "senderguard/decide/account_state.h"

#include <charconv>
#include <cstdint>

namespace senderguard {

EffectiveState EffectiveAt(const AccountRecord& a, int64_t now) {
  EffectiveState e;
  switch (a.status) {
    case AccountStatus::kActive:
      break;
    case AccountStatus::kSuspended:
      if (a.suspended_until > 0 && now >= a.suspended_until) {
        e.suspension_expired = true;  // active again: the status stays kActive
      } else {
        e.status = AccountStatus::kSuspended;
        e.may_send = false;
      }
      break;
    case AccountStatus::kReinstated:
      if (now < a.reinstated_until) {
        e.status = AccountStatus::kReinstated;
      } else {
        e.status = AccountStatus::kSuspended;
        e.may_send = false;
        e.reinstatement_expired = true;
      }
      break;
  }
  return e;
}

void Suspend(AccountRecord* a, std::string_view reason, std::string_view actor, int64_t now) {
  a->status = AccountStatus::kSuspended;
  a->status_reason = std::string(reason);
  a->status_actor = std::string(actor);
  a->status_since = now;
  a->reinstated_until = 0;
  a->suspended_until = 0;
}

Status SuspendFor(AccountRecord* a, std::string_view reason, std::string_view actor, int64_t now,
                  int64_t duration) {
  if (duration <= 0) return Status::Invalid("duration must be positive");
  Suspend(a, reason, actor, now);
  a->suspended_until = duration > INT64_MAX - now ? INT64_MAX : now + duration;
  return Status::Ok();
}

Status Reinstate(AccountRecord* a, std::string_view actor, int64_t now,
                 std::optional<int64_t> duration) {
  if (EffectiveAt(*a, now).status == AccountStatus::kActive) {
    return Status::Invalid("account " + a->name + " is not suspended");
  }
  if (duration && *duration <= 0) return Status::Invalid("duration must be positive");
  a->status_actor = std::string(actor);
  a->status_since = now;
  a->suspended_until = 0;
  if (duration) {
    a->status = AccountStatus::kReinstated;
    a->reinstated_until = *duration > INT64_MAX - now ? INT64_MAX : now + *duration;
  } else {
    a->status = AccountStatus::kActive;
    a->status_reason.clear();
    a->reinstated_until = 0;
  }
  return Status::Ok();
}

std::optional<int64_t> ParseDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t mult = 1;
  switch (s.back()) {
    case 's': mult = 1; s.remove_suffix(1); break;
    case 'm': mult = 60; s.remove_suffix(1); break;
    case 'h': mult = 3600; s.remove_suffix(1); break;
    case 'd': mult = 86400; s.remove_suffix(1); break;
    default: break;
  }
  int64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || n <= 0) return std::nullopt;
  if (n > 10LL * 366 * 86400 / mult) return std::nullopt;
  return n * mult;
}

}  // namespace senderguard
