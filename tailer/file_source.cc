#include "file_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace senderguard::tail {
namespace {

constexpr size_t kReadBytes = 1 << 20;     // one read
constexpr size_t kMaxBuffered = 4 << 20;   // a "line" longer than this is cut
constexpr uint64_t kFingerprintBytes = 256;

std::string Hex64(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016" PRIx64, v);
  return b;
}

std::string Dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

uint64_t Fnv1a(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

FileSource::FileSource(std::string path, Logger* logger)
    : path_(std::move(path)), logger_(logger) {}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

std::string FileSource::Fingerprint(int fd, uint64_t* len) const {
  char b[kFingerprintBytes];
  ssize_t n = ::pread(fd, b, sizeof b, 0);
  if (n < 0) n = 0;
  *len = static_cast<uint64_t>(n);
  return Hex64(Fnv1a(std::string_view(b, static_cast<size_t>(n))));
}

Status FileSource::OpenFd(int fd, uint64_t offset) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::Io(path_ + ": fstat: " + std::strerror(errno));
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  ident_ = Ident{st.st_dev, st.st_ino};
  stream_ = read_to_end_ && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
  offset_ = offset;
  len_ = 0;
  handed_ = 0;
  fp_ = Fingerprint(fd_, &fp_len_);
  return Status::Ok();
}

Status FileSource::OpenPath(uint64_t offset) {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) {  // not there yet: Read keeps trying
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      if (!missing_logged_) {  // once per absence: a mistyped path must not look like a quiet log
        missing_logged_ = true;
        logger_->Log(Logger::Level::kWarning,
                     KvLine()
                         .Add("source", Key())
                         .Add("action", "source-missing")
                         .Add("detail", "no such file; waiting for it to appear")
                         .str());
      }
      return Status::Ok();
    }
    return Status::Io(path_ + ": " + std::strerror(errno));
  }
  missing_logged_ = false;
  return OpenFd(fd, offset);
}

Status FileSource::Restore(const std::optional<std::string>& position) {
  if (!position) return OpenPath(0);
  unsigned long long dev = 0, ino = 0, off = 0, fplen = 0;
  char fp[17] = {0};
  if (std::sscanf(position->c_str(), "v1 %llu %llu %llu %llu %16s", &dev, &ino, &off, &fplen, fp) !=
      5) {
    logger_->Log(Logger::Level::kWarning, KvLine()
                                              .Add("source", Key())
                                              .Add("action", "position-unreadable")
                                              .Add("detail", "reading from the start")
                                              .str());
    return OpenPath(0);
  }
  auto matches = [&](int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return false;
    if (static_cast<uint64_t>(st.st_size) < off) return false;
    // The fingerprint covers the bytes that existed when it was taken.
    char b[kFingerprintBytes];
    ssize_t n = ::pread(fd, b, std::min<uint64_t>(fplen, sizeof b), 0);
    if (n < 0 || static_cast<uint64_t>(n) != fplen) return false;
    return Hex64(Fnv1a(std::string_view(b, static_cast<size_t>(n)))) == fp;
  };
  struct stat st {};
  const bool path_there = ::stat(path_.c_str(), &st) == 0;
  if (path_there && st.st_dev == dev && st.st_ino == ino) {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return Status::Io(path_ + ": " + std::strerror(errno));
    if (matches(fd)) return OpenFd(fd, off);
    ::close(fd);
    logger_->Log(Logger::Level::kWarning,
                 KvLine()
                     .Add("source", Key())
                     .Add("action", "truncated")
                     .Add("detail", "the file was truncated while stopped; reading from its start")
                     .str());
    return OpenPath(0);
  }
  // Rotated while we were stopped: find the old inode beside the path.
  const std::string dir = Dir(path_);
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      const std::string p = dir + "/" + e->d_name;
      struct stat ost {};
      if (::stat(p.c_str(), &ost) != 0 || !S_ISREG(ost.st_mode)) continue;
      if (ost.st_dev != dev || ost.st_ino != ino) continue;
      const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
      if (fd < 0) continue;
      if (!matches(fd)) {
        ::close(fd);
        continue;
      }
      ::closedir(d);
      logger_->Log(Logger::Level::kInfo, KvLine()
                                             .Add("source", Key())
                                             .Add("action", "resume-rotated")
                                             .Add("file", p)
                                             .str());
      draining_ = true;
      return OpenFd(fd, off);
    }
    ::closedir(d);
  }
  logger_->Log(Logger::Level::kWarning,
               KvLine()
                   .Add("source", Key())
                   .Add("action", "rotated-file-missing")
                   .Add("detail",
                        "the file was rotated while stopped and the old one is gone "
                        "(compressed or deleted): its unread lines are lost")
                   .str());
  return OpenPath(0);
}

bool FileSource::CheckRotation() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {  // renamed, new one not there yet; or removed
    const auto now = std::chrono::steady_clock::now();
    if (errno == ENOENT && !missing_logged_) {
      if (!missing_since_) {
        missing_since_ = now;
      } else if (now - *missing_since_ >= std::chrono::seconds(5)) {
        // Longer than a rotation takes: say so once, as for a path that
        // named nothing from the start.
        missing_logged_ = true;
        logger_->Log(Logger::Level::kWarning,
                     KvLine()
                         .Add("source", Key())
                         .Add("action", "source-missing")
                         .Add("detail", "the file was removed or renamed and no new one is there; "
                                        "waiting for it to appear")
                         .str());
      }
    }
    return false;
  }
  missing_since_.reset();
  if (fd_ < 0 || st.st_dev != ident_.dev || st.st_ino != ident_.ino) {
    // The writer may append to the renamed file until it reopens (syslog
    // after its HUP): keep reading it until it has been quiet for a second.
    const auto now = std::chrono::steady_clock::now();
    if (fd_ >= 0 && (!rotation_seen_ || now - *rotation_seen_ < std::chrono::seconds(1))) {
      if (!rotation_seen_) rotation_seen_ = now;
      return false;
    }
    rotation_seen_.reset();
    if (fd_ >= 0 && len_ > 0) {
      // The old file ends in a line without its "\n", and its writer has
      // moved on: that line is whole. Read hands it out, then switches.
      leaving_ = true;
      return true;
    }
    if (fd_ >= 0) {
      logger_->Log(Logger::Level::kInfo,
                   KvLine().Add("source", Key()).Add("action", "rotated").str());
    }
    (void)OpenPath(0);
    return true;
  }
  struct stat fst {};
  if (::fstat(fd_, &fst) == 0 && static_cast<uint64_t>(fst.st_size) < offset_ + len_) {
    logger_->Log(Logger::Level::kInfo,
                 KvLine().Add("source", Key()).Add("action", "truncated").str());
    offset_ = 0;
    len_ = 0;
    handed_ = 0;
    fp_ = Fingerprint(fd_, &fp_len_);
    return true;
  }
  return false;
}

Status FileSource::Read(std::vector<RawLine>* lines, size_t max_lines) {
  lines->clear();
  handed_ = 0;
  if (leaving_ && len_ == 0) {  // the old file's last line went out: now the new file
    leaving_ = false;
    logger_->Log(Logger::Level::kInfo, KvLine().Add("source", Key()).Add("action", "rotated").str());
    (void)OpenPath(0);
  }
  if (fd_ < 0) {
    (void)OpenPath(0);
    if (fd_ < 0) return Status::Ok();
  }
  for (int round = 0; round < 2; ++round) {
    // Read more when what is buffered holds no complete line, or is small.
    const std::string_view held(buf_.data(), len_);
    if (held.find('\n') == std::string_view::npos || len_ < kReadBytes / 4) {
      // Reads until a line ends, the file ends, or kMaxBuffered bytes hold
      // no line end (then handed out whole, below): a line longer than one
      // read must not look like the end of the file.
      eof_ = false;
      for (;;) {
        const size_t have = len_;
        // Buffers are allocated (and zeroed) once, with room for a partial
        // line, and only ever reused: those handed around by AdvanceInto
        // keep fitting.
        if (buf_.size() < have + kReadBytes) {
          std::string bigger(have + kReadBytes + kReadBytes / 4, '\0');
          std::memcpy(bigger.data(), buf_.data(), have);
          buf_.swap(bigger);
        }
        const ssize_t n =
            stream_ ? ::read(fd_, buf_.data() + have, kReadBytes)
                    : ::pread(fd_, buf_.data() + have, kReadBytes, static_cast<off_t>(offset_ + have));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Status::Io(path_ + ": read: " + std::strerror(errno));
        len_ = have + static_cast<size_t>(n);
        if (n == 0) eof_ = true;
        if (n == 0 || len_ >= kMaxBuffered ||
            std::string_view(buf_.data() + have, static_cast<size_t>(n)).find('\n') !=
                std::string_view::npos) {
          break;
        }
      }
    }
    const std::string_view data(buf_.data(), len_);
    size_t start = 0;
    while (lines->size() < max_lines) {
      const size_t nl = data.find('\n', start);
      if (nl == std::string_view::npos) break;
      lines->push_back(RawLine{data.substr(start, nl - start), {}, 0});
      start = nl + 1;
    }
    if (lines->empty() && (len_ >= kMaxBuffered || ((read_to_end_ || leaving_ || draining_) && eof_ && len_ > 0))) {
      // No line end in 4 MiB: not a log line. Hand it out whole (the parser
      // skips it as too long) rather than stall. Read once to its end, a
      // last line without its "\n" is a line too.
      lines->push_back(RawLine{data, {}, 0});
      start = len_;
    }
    handed_ = start;
    if (!lines->empty()) return Status::Ok();
    // Nothing new here.
    if (draining_) {
      draining_ = false;
      Status s = OpenPath(0);
      if (!s.ok()) return s;
      if (fd_ < 0) return Status::Ok();
      continue;
    }
    if (round == 0 && CheckRotation()) {
      if (fd_ < 0) return Status::Ok();
      continue;
    }
    break;
  }
  return Status::Ok();
}

std::string FileSource::PendingPosition() const {
  return "v1 " + std::to_string(static_cast<unsigned long long>(ident_.dev)) + " " +
         std::to_string(static_cast<unsigned long long>(ident_.ino)) + " " +
         std::to_string(offset_ + handed_) + " " + std::to_string(fp_len_) + " " + fp_;
}

void FileSource::Advance() {
  std::memmove(buf_.data(), buf_.data() + handed_, len_ - handed_);
  len_ -= handed_;
  Advanced();
}

void FileSource::AdvanceInto(std::string* out) {
  // The handed lines are views into buf_'s heap block (Read sized it to at
  // least kReadBytes, far beyond the small-string buffer), which the swap
  // moves into *out unchanged.
  out->swap(buf_);
  const size_t left = len_ - handed_;  // the partial line after them
  if (buf_.size() < left) buf_.resize(left);
  std::memcpy(buf_.data(), out->data() + handed_, left);
  len_ = left;
  Advanced();
}

void FileSource::Advanced() {
  offset_ += handed_;
  handed_ = 0;
  // The fingerprint grows with the file until it covers its full length.
  if (fp_len_ < kFingerprintBytes && fd_ >= 0) fp_ = Fingerprint(fd_, &fp_len_);
}

uint64_t FileSource::Backlog() const {
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) return 0;
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  return size > offset_ ? size - offset_ : 0;
}

}  // namespace senderguard::tail
