// Shared by the TOML files senderguard reads (the configuration, the bounce
// rules): a check of the raw text before toml11 sees it, and toml11's error
// messages cut to their first meaningful line.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace senderguard {

struct TomlLimits {
  int max_depth = 32;            // arrays or inline tables nested deeper are refused
  bool reject_controls = false;  // refuse control characters other than tab, CR, LF
};

// Refuses what toml11 handles slowly or badly: lines over 8 KiB, bytes that
// are not UTF-8, more than 32 dots on a line outside strings and comments
// (toml11's cost grows faster than n^2 with a dotted key's parts), nesting
// deeper than limits.max_depth (its parser is recursive). Returns
// "file:LINE: syntax: what" or nullopt.
std::optional<std::string> PrecheckToml(std::string_view text, const std::string& file,
                                        const TomlLimits& limits);

// toml11's messages span several lines; the first meaningful one.
std::string TomlFirstLine(std::string_view what);

}  // namespace senderguard
