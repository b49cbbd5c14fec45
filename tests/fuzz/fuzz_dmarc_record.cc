#include <cstddef>
#include <cstdint>

#include "senderguard/dmarc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }
