#include "senderguard/decide/quota.h"

#include <cctz/civil_time.h>

#include <chrono>
#include <cstdio>

namespace senderguard {
namespace {

using Seconds = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;

Seconds ToTp(int64_t t) { return Seconds(std::chrono::seconds(t)); }
int64_t FromTp(const std::chrono::system_clock::time_point& tp) {
  return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
}

// The instant a civil time begins in tz. For a civil time skipped by a DST
// gap, the transition instant (the first valid one after it).
template <typename Civil>
int64_t Begin(const Civil& c, const cctz::time_zone& tz) {
  const cctz::time_zone::civil_lookup cl = tz.lookup(cctz::civil_second(c));
  if (cl.kind == cctz::time_zone::civil_lookup::SKIPPED) return FromTp(cl.trans);
  return FromTp(cl.pre);
}

}  // namespace

std::string_view CountUnitName(CountUnit u) {
  return u == CountUnit::kMessages ? "messages" : "recipients";
}

std::optional<CountUnit> ParseCountUnit(std::string_view name) {
  if (name == "recipients") return CountUnit::kRecipients;
  if (name == "messages") return CountUnit::kMessages;
  return std::nullopt;
}

WindowSpan SpanAt(Window w, int64_t now, const cctz::time_zone& tz) {
  const cctz::civil_second cs = cctz::convert(ToTp(now), tz);
  switch (w) {
    case Window::kMinute: {
      // Every zone offset in use since 1972 is a whole number of minutes, so
      // local minutes are UTC minutes, including in a repeated DST hour.
      const int64_t start = now - (((now % 60) + 60) % 60);
      return {start, start + 60};
    }
    case Window::kHour: {
      const cctz::civil_hour h(cs);
      int64_t start = Begin(h, tz);
      int64_t reset = Begin(h + 1, tz);
      // In a repeated hour (DST fall-back) the local hour maps to two
      // instants; keep the one that contains now.
      const cctz::time_zone::civil_lookup cl = tz.lookup(cctz::civil_second(h));
      if (cl.kind == cctz::time_zone::civil_lookup::REPEATED) {
        const int64_t trans = FromTp(cl.trans);
        if (now >= trans) {
          start = FromTp(cl.post);
        } else {
          reset = trans;
        }
      }
      if (reset <= now) reset = start + 3600;
      return {start, reset};
    }
    case Window::kDay: {
      const cctz::civil_day d(cs);
      return {Begin(d, tz), Begin(d + 1, tz)};
    }
    case Window::kMonth: {
      const cctz::civil_month m(cs);
      return {Begin(m, tz), Begin(m + 1, tz)};
    }
  }
  return {now, now};
}

std::string FormatLocal(int64_t t, const cctz::time_zone& tz) {
  return cctz::format("%Y-%m-%d %H:%M %Z", ToTp(t), tz);
}

std::string FormatUtc(int64_t t) {
  return cctz::format("%Y-%m-%dT%H:%M:%SZ", ToTp(t), cctz::utc_time_zone());
}

std::vector<QuotaCharge> ChargesFor(const std::array<uint64_t, kWindowCount>& limits,
                                    const std::array<WindowPolicy, kWindowCount>& policy,
                                    int64_t now, const cctz::time_zone& tz,
                                    bool first_recipient) {
  std::vector<QuotaCharge> out;
  for (Window w : kAllWindows) {
    const size_t i = Index(w);
    if (limits[i] == kUnlimited) continue;
    QuotaCharge c;
    c.window = w;
    c.span = SpanAt(w, now, tz);
    c.limit = limits[i];
    c.amount = (policy[i].unit == CountUnit::kMessages && !first_recipient) ? 0 : 1;
    out.push_back(c);
  }
  return out;
}

}  // namespace senderguard
