// The wall clock, read at the edges only: programs read it and pass the time
// into lib/'s decisions (decide/ never reads it; tests/layout_test.sh).
#pragma once

#include <cstdint>
#include <ctime>

namespace senderguard {

// Seconds since the Unix epoch, now. Thread-safe.
inline int64_t UnixNow() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace senderguard
