#include "senderguard/monitor/textfile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace senderguard::monitor {

Status WriteTextfile(const std::string& path, std::string_view text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return Status::Io(tmp + ": cannot create: " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::Io(what + ": " + std::strerror(err));
  };
  // The umask (systemd's UMask=0007) must not hide it from node_exporter.
  if (::fchmod(fd, 0644) != 0) return fail(tmp + ": cannot chmod");
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(tmp + ": cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Status::Io(tmp + ": cannot write: " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Status::Io(path + ": cannot rename: " + std::strerror(err));
  }
  return Status::Ok();
}

Status CheckTextfileDirectory(const std::string& path) {
  if (path.empty()) return Status::Ok();
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string what = "[monitoring] textfile " + path + ": the directory " + dir;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::Invalid(what + " does not exist");
    return Status::Invalid(what + " cannot be read: " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) return Status::Invalid(what + " is not a directory");
  return Status::Ok();
}

}  // namespace senderguard::monitor
