#include "socket.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace senderguard::milter {

namespace {

std::string UnixPath(const Config& cfg) {
  if (cfg.socket.rfind("unix:", 0) == 0) return cfg.socket.substr(5);
  if (cfg.socket.rfind("local:", 0) == 0) return cfg.socket.substr(6);
  return "";
}

}  // namespace

bool UnixSocketInUse(const Config& cfg) {
  const std::string path = UnixPath(cfg);
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) return false;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool listening = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return listening;
}

bool PrepareUnixSocket(const Config& cfg, Logger* log) {
  const std::string path = UnixPath(cfg);
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
