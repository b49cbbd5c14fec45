#include "senderguard/base/syslog_logger.h"

#include <syslog.h>

#include <cstdio>
#include <mutex>

namespace senderguard {

SyslogLogger::SyslogLogger(std::string ident, bool also_stderr)
    : ident_(std::move(ident)), also_stderr_(also_stderr) {
  openlog(ident_.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
}

SyslogLogger::~SyslogLogger() { closelog(); }

void SyslogLogger::Log(Level level, std::string_view line) {
  int prio = LOG_INFO;
  const char* tag = "info";
  switch (level) {
    case Level::kError: prio = LOG_ERR; tag = "error"; break;
    case Level::kWarning: prio = LOG_WARNING; tag = "warning"; break;
    case Level::kInfo: prio = LOG_INFO; tag = "info"; break;
    case Level::kDebug: prio = LOG_DEBUG; tag = "debug"; break;
  }
  syslog(prio, "%.*s", static_cast<int>(line.size()), line.data());
  if (also_stderr_) {
    static std::mutex mu;
    std::lock_guard<std::mutex> lk(mu);
    std::fprintf(stderr, "%s[%s]: %.*s\n", ident_.c_str(), tag, static_cast<int>(line.size()),
                 line.data());
  }
}

}  // namespace senderguard
