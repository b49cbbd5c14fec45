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

namespace senderguard {

enum class Window : uint8_t { kMinute = 0, kHour = 1, kDay = 2, kMonth = 3 };
inline constexpr std::array<Window, 4> kAllWindows = {Window::kMinute, Window::kHour,
                                                     Window::kDay, Window::kMonth};
inline constexpr size_t kWindowCount = 4;
inline size_t Index(Window w) { return static_cast<size_t>(w); }

std::string_view WindowName(Window w);       // "minute", "hour", "day", "month"
std::string_view WindowAdjective(Window w);  // "per-minute", "hourly", "daily", "monthly"
std::optional<Window> ParseWindow(std::string_view name);

// What one window counts.
enum class CountUnit : uint8_t { kRecipients = 0, kMessages = 1 };
std::string_view CountUnitName(CountUnit u);  // "recipients", "messages"
std::optional<CountUnit> ParseCountUnit(std::string_view name);

// What happens to the recipient that would exceed a window.
enum class ExceedAction : uint8_t { kTempfail = 0, kReject = 1 };

// A limit of kUnlimited means the window is not enforced.
inline constexpr uint64_t kUnlimited = UINT64_MAX;

// One window instance: [start, reset) in Unix seconds.
struct WindowSpan {
  int64_t start = 0;
  int64_t reset = 0;
};

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

// One window's part of a quota check.
struct QuotaCharge {
  Window window = Window::kDay;
  WindowSpan span;
  uint64_t limit = kUnlimited;
  uint64_t amount = 0;  // what this recipient adds (0 for a later recipient in messages mode)
};

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

// Does adding `amount` to `used` (plus `reserved` by open transactions)
// stay within `limit`?
inline bool Fits(uint64_t used, uint64_t reserved, uint64_t amount, uint64_t limit) {
  if (limit == kUnlimited) return true;
  if (used > limit || reserved > limit - used) return false;
  return amount <= limit - used - reserved;
}

// Alert thresholds in percent, in ascending order.
inline constexpr std::array<int, 3> kAlertThresholds = {80, 90, 100};

// Thresholds that `used` has reached for `limit` (used*100 >= pct*limit).
// Empty for an unlimited or zero limit.
std::vector<int> ThresholdsReached(uint64_t used, uint64_t limit);

}  // namespace senderguard
