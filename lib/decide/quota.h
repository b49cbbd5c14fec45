// Quota windows: fixed windows aligned to the clock of a time zone, what a
// recipient costs in each, and when alerts fire. Pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <cctz/time_zone.h>

#include "senderguard/model/window.h"

namespace senderguard {

// What one window counts.
enum class CountUnit : uint8_t { kRecipients = 0, kMessages = 1 };
std::string_view CountUnitName(CountUnit u);  // "recipients", "messages"
std::optional<CountUnit> ParseCountUnit(std::string_view name);

// What happens to the recipient that would exceed a window.
enum class ExceedAction : uint8_t { kTempfail = 0, kReject = 1 };

// The instance of window `w` containing Unix time `now` in zone `tz`.
// Minutes and hours follow absolute time (zones have offsets that are whole
// minutes; an hour that a DST shift shortens or lengthens still ends when the
// local clock next shows :00). Days and months start at local midnight; a
// midnight that a DST shift skips starts at the first valid instant after it.
WindowSpan SpanAt(Window w, int64_t now, const cctz::time_zone& tz);

// "2026-11-25 00:00 UTC" (local time of tz, with its abbreviation).
std::string FormatLocal(int64_t t, const cctz::time_zone& tz);
// "2026-11-25T00:00:00Z"
std::string FormatUtc(int64_t t);

// Per-window settings that apply to every account.
struct WindowPolicy {
  uint64_t default_limit = kUnlimited;
  CountUnit unit = CountUnit::kRecipients;
  ExceedAction on_exceed = ExceedAction::kTempfail;
};

// The charges a recipient makes. `limits[i]` is the account's effective
// limit for window i; `first_recipient` is true for the transaction's first
// accepted recipient (a message counts once per window in messages mode).
// Windows with an unlimited limit are left out.
std::vector<QuotaCharge> ChargesFor(const std::array<uint64_t, kWindowCount>& limits,
                                    const std::array<WindowPolicy, kWindowCount>& policy,
                                    int64_t now, const cctz::time_zone& tz,
                                    bool first_recipient);

}  // namespace senderguard
