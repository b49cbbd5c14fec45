// Test helper shared by the unit tests that write instants as UTC civil
// times: UtcTime, converted with timegm() (not cctz), so expected values are
// computed independently of the code under test. Header-only, for tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <ctime>

#include <gtest/gtest.h>

namespace senderguard::test_support {

// The Unix time of a UTC civil time, given by its fields:
// UtcTime(2026, 11, 25, 14, 30) is 2026-11-25 14:30:00 UTC. Fields out of
// range are normalized as timegm() does.
inline int64_t UtcTime(int year, int month, int day, int hour = 0, int minute = 0,
                       int second = 0) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm));
}

// The Unix time of a UTC civil time written "YYYY-MM-DD HH:MM" or
// "YYYY-MM-DD HH:MM:SS" (seconds 0 when left out). Any other text, or a
// field out of range, is a test failure (ADD_FAILURE) and gives 0.
inline int64_t UtcTime(const char* text) {
  const size_t n = text == nullptr ? 0 : std::strlen(text);
  // Pattern: 'd' a digit, anything else itself.
  static constexpr char kPattern[] = "dddd-dd-dd dd:dd:dd";
  bool ok = n == 16 || n == 19;
  for (size_t i = 0; ok && i < n; ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    ok = kPattern[i] == 'd' ? digit : text[i] == kPattern[i];
  }
  const auto field = [&](size_t at, size_t len) {
    int v = 0;
    for (size_t i = at; i < at + len; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (ok) {
    year = field(0, 4);
    month = field(5, 2);
    day = field(8, 2);
    hour = field(11, 2);
    minute = field(14, 2);
    second = n == 19 ? field(17, 2) : 0;
    ok = month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 &&
         second <= 59;
  }
  if (!ok) {
    ADD_FAILURE() << "bad time literal \"" << (text == nullptr ? "(null)" : text)
                  << "\" (want YYYY-MM-DD HH:MM[:SS])";
    return 0;
  }
  return UtcTime(year, month, day, hour, minute, second);
}

}  // namespace senderguard::test_support
