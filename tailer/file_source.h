// FileSource: follows a log file by path, as syslog or Postfix's
// maillog_file writes it, through rotation by rename and by copytruncate.
//
// Position = the file's identity (device, inode, a fingerprint of its first
// bytes) and the offset after the last complete line handed out and
// committed. Lines are handed out in chunks; the caller commits the
// position it got with the chunk in the same store transaction as what the
// chunk counted, then calls Advance(). A partial last line stays unread
// until its "\n" arrives.
//
// Rotation while running: at the end of the file, a path that now names
// another inode means rename rotation: the old file is read to its end
// first, then the new one from its start. A file shorter than the offset
// means copytruncate: reading restarts at 0 (lines written between the copy
// and the truncation are lost; that is copytruncate's own race).
// Rotation while stopped: on restart, if the path names another inode, the
// old inode is looked for in the same directory (logrotate's "mail.log.1",
// Postfix's "postfix.log.20261125-101010") and its unread end is read
// first; if it is gone (compressed, deleted) a warning says so.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/feedback/feedback.h"
#include "senderguard/base/kvlog.h"
#include "senderguard/base/status.h"

namespace senderguard::tail {

// FNV-1a of `bytes`: the file fingerprint's hash, and the source lock's
// file name (source_lock.h). Stable across builds: stored positions hold it.
uint64_t Fnv1a(std::string_view bytes);

class FileSource {
 public:
  FileSource(std::string path, Logger* logger);
  ~FileSource();
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  // The key the position is stored under: "file:" + path.
  std::string Key() const { return "file:" + path_; }

  // Opens the file and seeks to `position` (from the store), or to the start.
  Status Restore(const std::optional<std::string>& position);

  // Hands out up to `max_lines` complete lines (views valid until the next
  // Read or Advance). Empty when there is nothing new; then it checks for
  // rotation, and a later Read continues in the right file.
  Status Read(std::vector<RawLine>* lines, size_t max_lines);
  // The position after the lines of the last Read (store it with them).
  std::string PendingPosition() const;
  // Marks the lines of the last Read as committed.
  void Advance();
  // Advance, handing the bytes of the last Read's lines to *out instead of
  // dropping them: their views stay valid, now pointing into *out, until
  // *out changes. *out's old buffer becomes the reading buffer, so a caller
  // that keeps lines past Advance copies nothing and allocates nothing.
  void AdvanceInto(std::string* out);
  // Bytes in the file past the committed offset (how far behind we are).
  uint64_t Backlog() const;
  // Whether the file is open (false while the path names nothing).
  bool opened() const { return fd_ >= 0; }
  // For a file read once to its end (--print): a last line without its
  // "\n" is handed out at the end instead of waiting for the rest, and a
  // pipe or terminal (no offsets: /dev/stdin, a FIFO) is read as a stream.
  // Positions mean nothing then: never commit them.
  void set_read_to_end(bool on) { read_to_end_ = on; }

 private:
  struct Ident {
    dev_t dev = 0;
    ino_t ino = 0;
  };
  Status OpenPath(uint64_t offset);
  Status OpenFd(int fd, uint64_t offset);
  std::string Fingerprint(int fd, uint64_t* len) const;
  bool CheckRotation();
  void Advanced();  // after the handed bytes left buf_

  std::string path_;
  Logger* logger_;
  int fd_ = -1;
  Ident ident_;
  std::string fp_;      // fingerprint of the first fp_len_ bytes
  uint64_t fp_len_ = 0;
  uint64_t offset_ = 0;  // committed: start of buf_
  std::string buf_;      // buf_[0, len_): bytes read from offset_ on; the rest is room
  size_t len_ = 0;
  size_t handed_ = 0;    // bytes of buf_ handed out by the last Read
  bool draining_ = false;
  bool read_to_end_ = false;
  bool stream_ = false;          // read_to_end_ and the file has no offsets
  bool eof_ = false;             // the last read returned 0 bytes
  bool missing_logged_ = false;  // the path named nothing, logged once
  std::optional<std::chrono::steady_clock::time_point> missing_since_;  // the path named nothing since
  bool leaving_ = false;         // rotated: the old file's unfinished last line is handed out, then the switch
  std::optional<std::chrono::steady_clock::time_point> rotation_seen_;  // reading an old (renamed) file to its end before switching
};

}  // namespace senderguard::tail
