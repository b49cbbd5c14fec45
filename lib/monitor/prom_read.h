// Reading back the Prometheus text files the daemons write (report.h), for
// `senderguardctl stats`: a small parser of the text exposition format 0.0.4
// and, over it, the milter's and the tailer's totals as the snapshots they
// were rendered from. Pure: the caller reads the file (and its age).
//
// The text is untrusted in the sense that anything may sit at the configured
// path (another program's file, a truncated copy, garbage): every size and
// count is capped, and a malformed line is an error naming its number, never
// a crash. Series this version does not know are skipped, so that a newer
// daemon's file still reads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "senderguard/base/status.h"
#include "senderguard/monitor/metrics.h"

namespace senderguard::monitor {

// Caps of ParsePrometheusText: a daemon's file is a few KiB.
inline constexpr size_t kMaxPromTextBytes = 4 << 20;
inline constexpr size_t kMaxPromSamples = 100000;
inline constexpr size_t kMaxPromLabels = 32;

// One sample line: name{label="value",...} value [timestamp].
struct PromSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in the line's order, values unescaped
  double value = 0;  // +Inf, -Inf and NaN as such

  // The value of label `key`, "" when the sample has none.
  std::string_view Label(std::string_view key) const;
};

// Every sample of `text`, in order. Comment lines (# HELP, # TYPE, any
// other #) and blank lines are skipped; a timestamp is read and dropped.
// Errors (Status::Invalid): "line N: what is wrong" for a malformed line
// (bad name, unterminated label value, bad escape, missing or bad value,
// more than kMaxPromLabels labels), "larger than 4 MiB", "more than 100000
// samples".
Result<std::vector<PromSample>> ParsePrometheusText(std::string_view text);

// The milter's file (MilterPrometheus) read back: its version and totals.
// Only decisions, dmarc and store_errors are filled (the histogram's
// buckets are not the counters' own and are left empty).
struct MilterFile {
  std::string version;
  MilterSnapshot totals;
};
// Errors (Status::Invalid): ParsePrometheusText's; "not senderguard-milter's
// file (no senderguard_build_info{program=\"senderguard-milter\"})"; a
// counter that is not a whole number from 0 to 2^64 ("line N" is not known
// here: "SERIES: bad count VALUE").
Result<MilterFile> ReadMilterPrometheus(std::string_view text);

// The tailer's file (TailPrometheus) read back: every field of TailSnapshot.
struct TailFile {
  std::string version;
  TailSnapshot totals;
};
// Errors as ReadMilterPrometheus's, for senderguard-tail.
Result<TailFile> ReadTailPrometheus(std::string_view text);

}  // namespace senderguard::monitor
