// JournalSource: follows systemd's journal through libsystemd's sd-journal,
// entries of facility mail (SYSLOG_FACILITY=2), as Postfix logs there when
// syslog goes to journald. Position = the journal cursor of the last entry
// handed out and committed. "journal" reads the local system journal;
// "journal:/DIR" reads the journal files in DIR (for tests and for journals
// copied off another machine). A first start, with no cursor stored, begins
// at the end: history is not counted again.
//
// Forged entries: any local user can log "postfix/smtp" lines (logger -t),
// and a queue id is printed in every message's Received: header. The
// journal records who wrote each entry (_UID, set by journald from the
// socket's credentials: a client cannot choose it), so only entries written
// by the users given to the constructor are handed out: Postfix's
// mail_owner and root (master(8), postsuper(1), and the delivery agents
// that run as root: local, virtual, pipe). An entry of anyone else (or
// with no _UID) is skipped; if it is a Postfix line the tailer would read,
// it is counted as forged and logged ("action=forged", the first one of a
// source at once, then at most one line an hour with the count since).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
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
  // `trusted_uids`: the users whose entries are read (see above).
  JournalSource(std::string spec, std::vector<uid_t> trusted_uids, Logger* logger);
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
  // Forged Postfix lines skipped so far (see above).
  uint64_t forged() const { return forged_; }

 private:
  // Counts and, rate-limited, logs a forged entry at the current position.
  void Forged(const std::string& uid, const std::string& ident, const std::string& msg);

  std::string spec_;
  std::vector<uid_t> trusted_uids_;
  Logger* logger_;
  uint64_t forged_ = 0;
  uint64_t forged_unlogged_ = 0;  // since the last action=forged line
  std::optional<std::chrono::steady_clock::time_point> forged_logged_;
  sd_journal* j_ = nullptr;
  std::string committed_cursor_, pending_cursor_;
  std::vector<std::string> texts_;  // storage behind the views of the last Read
};

// The users whose entries a JournalSource reads: Postfix's mail_owner
// (`postfix_user`, [tail] postfix_user: a name looked up with getpwnam, or a
// decimal uid) and root. Fails (Status::Invalid) when the name is not a user
// of this system.
Result<std::vector<uid_t>> TrustedJournalUids(const std::string& postfix_user);

}  // namespace senderguard::tail
