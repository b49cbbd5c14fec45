// A Logger that writes to syslog (facility mail) and, when asked, to stderr.
// For executables; lib/ decisions never log directly.
#pragma once

#include <string>

#include "senderguard/base/kvlog.h"

namespace senderguard {

class SyslogLogger final : public Logger {
 public:
  // Opens syslog with `ident` (kept alive by this object) and LOG_PID.
  SyslogLogger(std::string ident, bool also_stderr);
  ~SyslogLogger() override;
  void Log(Level level, std::string_view line) override;
  void set_stderr(bool on) { also_stderr_ = on; }

 private:
  std::string ident_;
  bool also_stderr_;
};

}  // namespace senderguard
