// Fuzz target: the Prometheus text parser and the two readers over it
// (monitor/prom_read.h), on arbitrary bytes: `senderguardctl stats` reads
// whatever sits at the configured path. The promise: an error or a result,
// never a crash, and the caps hold (samples, labels per sample).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "senderguard/monitor/prom_read.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace senderguard::monitor;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto samples = ParsePrometheusText(text);
  if (samples.ok()) {
    if (samples->size() > kMaxPromSamples) std::abort();
    for (const PromSample& s : *samples) {
      if (s.name.empty() || s.labels.size() > kMaxPromLabels) std::abort();
    }
  }
  (void)ReadMilterPrometheus(text);
  (void)ReadTailPrometheus(text);
  return 0;
}
