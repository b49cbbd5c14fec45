#include "source_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "file_source.h"
#include "senderguard/base/exit_codes.h"

namespace senderguard::tail {

int LockSource(const std::string& store_dir, const std::string& key) {
  char name[40];  // a short, stable file name per source
  std::snprintf(name, sizeof name, "/tail-%016" PRIx64 ".lock", Fnv1a(key));
  const std::string path = store_dir + name;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) {
    std::fprintf(stderr, "senderguard-tail: %s: cannot make the source's lock: %s\n", path.c_str(),
                 std::strerror(errno));
    return kExitIoError;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[24] = {0};
    const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    if (n > 0 && pid[n - 1] == '\n') pid[n - 1] = '\0';
    ::close(fd);
    if (err == EWOULDBLOCK) {
      std::fprintf(stderr,
                   "senderguard-tail: another senderguard-tail (pid %s) is reading %s into the "
                   "store %s; one reader per source and store, or its lines would count twice\n",
                   n > 0 ? pid : "?", key.c_str(), store_dir.c_str());
      return kExitTempFail;
    }
    std::fprintf(stderr, "senderguard-tail: %s: flock: %s\n", path.c_str(), std::strerror(err));
    return kExitIoError;
  }
  // Who holds it, for the message above (the lock itself is the flock).
  if (::ftruncate(fd, 0) == 0) {
    char pid[24];
    const int len = std::snprintf(pid, sizeof pid, "%d\n", static_cast<int>(::getpid()));
    if (::pwrite(fd, pid, static_cast<size_t>(len), 0) != len) {
      // Only the message's pid is lost: the lock holds.
    }
  }
  return 0;  // fd stays open: the lock lasts as long as the process
}

}  // namespace senderguard::tail
