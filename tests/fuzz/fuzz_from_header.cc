#include <cstddef>
#include <cstdint>

#include "senderguard/from_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }
