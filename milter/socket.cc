#include "socket.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace senderguard::milter {

bool PrepareUnixSocket(const Config& cfg, Logger* log) {
  std::string path;
  if (cfg.socket.rfind("unix:", 0) == 0) path = cfg.socket.substr(5);
  else if (cfg.socket.rfind("local:", 0) == 0) path = cfg.socket.substr(6);
  if (path.empty()) return true;
  gid_t gid = static_cast<gid_t>(-1);
  if (!cfg.socket_group.empty()) {
    struct group* g = getgrnam(cfg.socket_group.c_str());
    if (g == nullptr) {
      log->Log(Logger::Level::kError, KvLine().Add("action", "start-failed").Add("error", "unknown socket_group " + cfg.socket_group).str());
      return false;
    }
    gid = g->gr_gid;
  }
  if (gid != static_cast<gid_t>(-1) && chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    log->Log(Logger::Level::kError, KvLine().Add("action", "start-failed").Add("error", std::string("chown socket: ") + std::strerror(errno)).str());
    return false;
  }
  if (chmod(path.c_str(), cfg.socket_mode) != 0) {
    log->Log(Logger::Level::kError, KvLine().Add("action", "start-failed").Add("error", std::string("chmod socket: ") + std::strerror(errno)).str());
    return false;
  }
  return true;
}

}  // namespace senderguard::milter
