// senderguard-tail --check: the configuration, the rules and the source, as
// the service would use them, then exit.
#pragma once
#include <cstddef>
#include <string>

#include "senderguard/config/config.h"

namespace senderguard::tail {

// Prints "CONFIG: ok; RULES: N rules; source SOURCE" and returns 0, or
// prints what is wrong and returns 78 (the monitoring textfile's directory).
// A [tail] source file that is missing or unreadable is a warning on stderr,
// not an error: the service waits for a log syslog has not made yet, but a
// mistyped path must not pass unseen. The journal is not checked here.
int CheckOnly(const Config& cfg, const std::string& config_path, const std::string& rules_path,
              size_t rules, bool journal);

}  // namespace senderguard::tail
