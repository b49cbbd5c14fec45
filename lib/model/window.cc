#include "senderguard/model/window.h"

namespace senderguard {

std::string_view WindowName(Window w) {
  switch (w) {
    case Window::kMinute: return "minute";
    case Window::kHour: return "hour";
    case Window::kDay: return "day";
    case Window::kMonth: return "month";
  }
  return "?";
}

std::string_view WindowAdjective(Window w) {
  switch (w) {
    case Window::kMinute: return "per-minute";
    case Window::kHour: return "hourly";
    case Window::kDay: return "daily";
    case Window::kMonth: return "monthly";
  }
  return "?";
}

std::optional<Window> ParseWindow(std::string_view name) {
  for (Window w : kAllWindows) {
    if (WindowName(w) == name) return w;
  }
  return std::nullopt;
}

std::vector<int> ThresholdsReached(uint64_t used, uint64_t limit) {
  std::vector<int> out;
  if (limit == kUnlimited || limit == 0) return out;
  for (int pct : kAlertThresholds) {
    // used*100 >= pct*limit without overflow for any realistic limit.
    const unsigned __int128 lhs = static_cast<unsigned __int128>(used) * 100;
    const unsigned __int128 rhs = static_cast<unsigned __int128>(limit) * pct;
    if (lhs >= rhs) out.push_back(pct);
  }
  return out;
}

}  // namespace senderguard
