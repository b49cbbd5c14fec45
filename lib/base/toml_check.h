// Shared by the TOML files senderguard reads (the configuration, the bounce
// rules): reading the file with a size cap, a check of the raw text before
// toml11 sees it, the one way a reader stops at its first error, and every
// error as "file:line: what". Thread-safe: no state.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <toml.hpp>

#include "senderguard/base/status.h"

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

// Thrown by a reader's checks (through TomlFail) to stop at the first error;
// ParseToml turns it into its Status.
struct TomlError {
  std::string message;
};

// Throws TomlError "file:LINE: key: what", LINE being v's line.
[[noreturn]] void TomlFail(const std::string& file, const toml::value& v, std::string_view key,
                           std::string_view what);

// "string", "integer", ... : v's type, for messages.
std::string TomlTypeName(const toml::value& v);

// v as a string of at most `max` bytes without NUL; TomlFail otherwise.
std::string TomlGetString(const std::string& file, const toml::value& v, std::string_view key,
                          size_t max);

// The whole file at `path`, at most max_bytes. Errors (Status::Invalid):
// "path: no such file", "path: is a directory, not a file", "path: cannot
// open: why", "path: cannot read: why", "path:1: file larger than N KiB".
Result<std::string> ReadTomlFile(const std::string& path, size_t max_bytes);

// Checks `text` (at most max_bytes, then PrecheckToml with `limits`), parses
// it and hands the root table to `read`. Whatever stops it — a TomlError
// from `read`, toml11's syntax error, any other exception — comes back as
// Status::Invalid("file:LINE: ..."); `read` may have done part of its work
// by then, so the caller keeps what it builds only when the result is ok.
Status ParseToml(std::string_view text, const std::string& file, size_t max_bytes,
                 const TomlLimits& limits, const std::function<void(const toml::value&)>& read);

}  // namespace senderguard
