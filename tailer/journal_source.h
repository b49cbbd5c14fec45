// JournalSource: follows systemd's journal through libsystemd's sd-journal,
// entries of facility mail (SYSLOG_FACILITY=2), as Postfix logs there when
// syslog goes to journald. Position = the journal cursor of the last entry
// handed out and committed. "journal" reads the local system journal;
// "journal:/DIR" reads the journal files in DIR (for tests and for journals
// copied off another machine). A first start, with no cursor stored, begins
// at the end: history is not counted again.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "senderguard/feedback/feedback.h"
#include "senderguard/base/kvlog.h"
#include "senderguard/base/status.h"

struct sd_journal;

namespace senderguard::tail {

class JournalSource {
 public:
  JournalSource(std::string spec, Logger* logger);
  ~JournalSource();
  JournalSource(const JournalSource&) = delete;
  JournalSource& operator=(const JournalSource&) = delete;

  std::string Key() const { return spec_; }
  Status Restore(const std::optional<std::string>& cursor, bool from_start);
  // Up to max_lines entries; views valid until the next Read.
  Status Read(std::vector<RawLine>* lines, size_t max_lines);
  std::string PendingPosition() const { return pending_cursor_; }
  void Advance();
  // Waits up to `ms` for new entries.
  void Wait(uint64_t ms);

 private:
  std::string spec_;
  Logger* logger_;
  sd_journal* j_ = nullptr;
  std::string committed_cursor_, pending_cursor_;
  std::vector<std::string> texts_;  // storage behind the views of the last Read
};

}  // namespace senderguard::tail
