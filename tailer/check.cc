#include "check.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "senderguard/base/exit_codes.h"
#include "senderguard/monitor/textfile.h"
#include "senderguard/store/open.h"

namespace senderguard::tail {

int CheckOnly(const Config& cfg, const std::string& config_path, const std::string& rules_path,
              size_t rules, bool journal) {
  if (const Status st = CheckStoreSettings(cfg); !st.ok()) {
    std::fprintf(stderr, "senderguard-tail: %s: %s\n", config_path.c_str(), st.message().c_str());
    return kExitConfig;
  }
  const Status dir = monitor::CheckTextfileDirectory(MonitoringTextfile(cfg, "senderguard-tail"));
  if (!dir.ok()) {
    std::fprintf(stderr, "senderguard-tail: %s: %s\n", config_path.c_str(), dir.message().c_str());
    return kExitConfig;
  }
  std::string source = cfg.tail_source;
  if (!journal && ::access(cfg.tail_source.c_str(), R_OK) != 0) {
    // Not an error: the service waits for a log that syslog has not made
    // yet. But a mistyped path must not pass unseen.
    const int err = errno;
    std::fprintf(stderr, "senderguard-tail: warning: [tail] source %s: %s%s\n", source.c_str(),
                 std::strerror(err), err == ENOENT ? " (following waits for it; --once fails)" : "");
    source += " (not readable now)";
  }
  if (rules == 0)
    std::fprintf(stderr, "senderguard-tail: warning: %s has no text rules: replies are classified by "
                         "their codes alone, and large receivers' codes mislead\n", rules_path.c_str());
  std::printf("%s: ok; %s: %zu rules; source %s\n", config_path.c_str(), rules_path.c_str(), rules,
              source.c_str());
  return 0;
}

}  // namespace senderguard::tail
