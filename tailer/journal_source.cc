#include "journal_source.h"

#include <pwd.h>
#include <systemd/sd-journal.h>

#include <algorithm>
#include <cstring>

#include "senderguard/feedback/postfix_log.h"

namespace senderguard::tail {
namespace {

bool Field(sd_journal* j, const char* name, std::string* out) {
  const void* data = nullptr;
  size_t len = 0;
  if (sd_journal_get_data(j, name, &data, &len) < 0) return false;
  const size_t n = std::strlen(name);
  if (len <= n || std::memcmp(data, name, n) != 0 || static_cast<const char*>(data)[n] != '=')
    return false;
  out->assign(static_cast<const char*>(data) + n + 1, len - n - 1);
  return true;
}

// The decimal uid in a _UID value, if it is one.
std::optional<uid_t> ParseUid(const std::string& v) {
  if (v.empty() || v.size() > 10) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > UINT32_MAX) return std::nullopt;
  return static_cast<uid_t>(n);
}

constexpr auto kForgedLogEvery = std::chrono::hours(1);

}  // namespace

Result<std::vector<uid_t>> TrustedJournalUids(const std::string& postfix_user) {
  std::optional<uid_t> uid = ParseUid(postfix_user);
  if (!uid) {
    // getpwnam reads /etc/passwd (or NSS): once, at start.
    const struct passwd* pw = ::getpwnam(postfix_user.c_str());
    if (pw == nullptr) {
      return Status::Invalid("[tail] postfix_user: no user \"" + postfix_user +
                             "\" on this system (Postfix's mail_owner; or give its uid)");
    }
    uid = pw->pw_uid;
  }
  std::vector<uid_t> uids = {0};
  if (*uid != 0) uids.push_back(*uid);
  return uids;
}

JournalSource::JournalSource(std::string spec, std::vector<uid_t> trusted_uids, Logger* logger)
    : spec_(std::move(spec)), trusted_uids_(std::move(trusted_uids)), logger_(logger) {}

void JournalSource::Forged(const std::string& uid, const std::string& ident,
                           const std::string& msg) {
  ++forged_;
  ++forged_unlogged_;
  const auto now = std::chrono::steady_clock::now();
  if (forged_logged_ && now - *forged_logged_ < kForgedLogEvery) return;
  forged_logged_ = now;
  logger_->Log(Logger::Level::kWarning,
               KvLine()
                   .Add("source", spec_)
                   .Add("action", "forged")
                   .Add("uid", uid.empty() ? "-" : uid)
                   .Add("identifier", ident)
                   .Add("message", msg)
                   .Add("forged", std::to_string(forged_unlogged_))
                   .Add("detail", "a Postfix line written by a user that is neither Postfix's "
                                  "nor root: not counted (logged at most once an hour)")
                   .str());
  forged_unlogged_ = 0;
}

JournalSource::~JournalSource() {
  if (j_ != nullptr) sd_journal_close(j_);
}

Status JournalSource::Restore(const std::optional<std::string>& cursor, bool from_start) {
  int rc = 0;
  if (spec_.rfind("journal:", 0) == 0) {
    rc = sd_journal_open_directory(&j_, spec_.c_str() + 8, 0);
  } else {
    rc = sd_journal_open(&j_, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
  }
  if (rc < 0) return Status::Io(spec_ + ": sd_journal_open: " + std::strerror(-rc));
  rc = sd_journal_add_match(j_, "SYSLOG_FACILITY=2", 0);
  if (rc < 0) return Status::Io(spec_ + ": sd_journal_add_match: " + std::strerror(-rc));
  if (cursor && !cursor->empty()) {
    rc = sd_journal_seek_cursor(j_, cursor->c_str());
    if (rc >= 0 && sd_journal_next(j_) > 0 && sd_journal_test_cursor(j_, cursor->c_str()) > 0) {
      committed_cursor_ = *cursor;  // positioned on the last committed entry
      return Status::Ok();
    }
    logger_->Log(Logger::Level::kWarning,
                 KvLine()
                     .Add("source", spec_)
                     .Add("action", "cursor-lost")
                     .Add("detail", "stored cursor not in the journal (rotated away?); "
                                    "continuing from the oldest entry after it")
                     .str());
    if (rc >= 0) {
      sd_journal_seek_cursor(j_, cursor->c_str());
      return Status::Ok();
    }
  }
  if (from_start) {
    sd_journal_seek_head(j_);
  } else {
    sd_journal_seek_tail(j_);
    sd_journal_previous(j_);  // stand on the last entry: the next one is new
  }
  return Status::Ok();
}

Status JournalSource::Read(std::vector<RawLine>* lines, size_t max_lines) {
  lines->clear();
  texts_.clear();
  texts_.reserve(2 * max_lines);
  pending_cursor_ = committed_cursor_;
  std::vector<uint64_t> times;
  while (lines->size() < max_lines) {
    const int rc = sd_journal_next(j_);
    if (rc < 0) return Status::Io(spec_ + ": sd_journal_next: " + std::strerror(-rc));
    if (rc == 0) break;
    std::string ident, msg;
    uint64_t usec = 0;
    sd_journal_get_realtime_usec(j_, &usec);
    char* c = nullptr;
    if (sd_journal_get_cursor(j_, &c) >= 0 && c != nullptr) {
      pending_cursor_ = c;
      free(c);
    }
    if (!Field(j_, "SYSLOG_IDENTIFIER", &ident) || !Field(j_, "MESSAGE", &msg)) continue;
    // Who wrote it: journald's own field, which no client can set.
    std::string uid_text;
    const bool has_uid = Field(j_, "_UID", &uid_text);
    const std::optional<uid_t> uid = has_uid ? ParseUid(uid_text) : std::nullopt;
    if (!uid || std::find(trusted_uids_.begin(), trusted_uids_.end(), *uid) ==
                    trusted_uids_.end()) {
      // Skipped; a forgery if it is a line the tailer would read.
      if (ParsePostfixMessage(ident, msg).kind != PostfixEvent::kNone) {
        Forged(uid_text, ident, msg);
      }
      continue;
    }
    texts_.push_back(std::move(ident));
    texts_.push_back(std::move(msg));
    times.push_back(usec / 1000000);
  }
  for (size_t i = 0; i < times.size(); ++i) {
    lines->push_back(RawLine{texts_[2 * i + 1], texts_[2 * i], static_cast<int64_t>(times[i])});
  }
  return Status::Ok();
}

void JournalSource::Advance() { committed_cursor_ = pending_cursor_; }

void JournalSource::Wait(uint64_t ms) { sd_journal_wait(j_, ms * 1000); }

}  // namespace senderguard::tail
