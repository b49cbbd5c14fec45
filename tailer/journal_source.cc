#include "journal_source.h"

#include <systemd/sd-journal.h>

#include <cstring>

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

}  // namespace

JournalSource::JournalSource(std::string spec, Logger* logger)
    : spec_(std::move(spec)), logger_(logger) {}

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
