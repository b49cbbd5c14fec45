// Quota windows as values: which window, one instance of it, what a
// recipient charges to it, and the arithmetic of a count against a limit.
// What the decisions (decide/quota.h) compute and the store keeps.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace senderguard {

enum class Window : uint8_t { kMinute = 0, kHour = 1, kDay = 2, kMonth = 3 };
inline constexpr std::array<Window, 4> kAllWindows = {Window::kMinute, Window::kHour,
                                                     Window::kDay, Window::kMonth};
inline constexpr size_t kWindowCount = 4;
inline size_t Index(Window w) { return static_cast<size_t>(w); }

std::string_view WindowName(Window w);       // "minute", "hour", "day", "month"
std::string_view WindowAdjective(Window w);  // "per-minute", "hourly", "daily", "monthly"
std::optional<Window> ParseWindow(std::string_view name);

// A limit of kUnlimited means the window is not enforced.
inline constexpr uint64_t kUnlimited = UINT64_MAX;

// One window instance: [start, reset) in Unix seconds.
struct WindowSpan {
  int64_t start = 0;
  int64_t reset = 0;
};

// One window's part of a quota check.
struct QuotaCharge {
  Window window = Window::kDay;
  WindowSpan span;
  uint64_t limit = kUnlimited;
  uint64_t amount = 0;  // what this recipient adds (0 for a later recipient in messages mode)
};

// The outcome of Reserve: ok, or which charge would not fit and why.
struct ReserveOutcome {
  bool ok = true;
  size_t refused = 0;     // index into the charges, when !ok
  uint64_t used = 0;      // committed count of that window
  uint64_t reserved = 0;  // held by open transactions in that window
};

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
