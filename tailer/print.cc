#include "print.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chunk_reader.h"
#include "file_source.h"
#include "senderguard/base/clock.h"
#include "senderguard/base/exit_codes.h"
#include "senderguard/base/text.h"
#include "senderguard/decide/quota.h"

namespace senderguard::tail {
namespace {

// Appends `s` as a JSON string: '"', '\\' and control bytes escaped as
// nlohmann::json writes them, UTF-8 kept as it is. The texts come from lines
// the parser checked (printable UTF-8), so the loop is the common case; any
// other text (an account name from the store) goes through nlohmann::json,
// which writes its invalid bytes as U+FFFD.
void AppendJson(std::string_view s, std::string* out) {
  if (!ValidUtf8(s)) {
    out->append(nlohmann::json(std::string(s))
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the bytes not yet appended
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

// A text, or null for an empty one (a field the line does not have).
void AppendOrNull(std::string_view s, std::string* out) {
  if (s.empty()) {
    out->append("null");
  } else {
    AppendJson(s, out);
  }
}

// One object per line, fields in a fixed order (for people and for grep):
// time (ISO 8601, UTC, as the CLI's JSON writes times), queue_id, recipient,
// account (null: counts for no account), origin (null when it counts for the
// account; else why not: OutcomeOriginName), status, dsn, class and category
// (null for what is not a delivery: probes, unknown words), relay, reply,
// and "cut": true for a line cut inside its reply.
class JsonWriter {
 public:
  void Append(const Outcome& o, std::string* out) {
    if (o.time != last_time_ || last_iso_.empty()) {
      last_time_ = o.time;
      last_iso_ = FormatUtc(o.time);
    }
    out->append("{\"time\":\"");
    out->append(last_iso_);
    out->append("\",\"queue_id\":");
    AppendJson(o.queue_id, out);
    out->append(",\"recipient\":");
    AppendOrNull(o.recipient, out);  // qmgr's expiry of a whole message names none
    out->append(",\"account\":");
    if (o.account.empty()) {
      out->append("null");
    } else {
      AppendJson(o.account, out);
    }
    out->append(",\"origin\":");
    if (o.origin == OutcomeOrigin::kAccount) {
      out->append("null");
    } else {
      AppendJson(OutcomeOriginName(o.origin), out);
    }
    out->append(",\"status\":");
    AppendJson(o.status, out);
    out->append(",\"dsn\":");
    AppendOrNull(o.dsn, out);
    out->append(",\"class\":");
    if (!o.classified) {
      out->append("null,\"category\":null");
    } else {
      AppendJson(o.hop ? std::string_view("forwarded") : OutcomeClassName(o.cls), out);
      out->append(",\"category\":");
      AppendJson(BounceCategoryName(o.category), out);
    }
    out->append(",\"relay\":");
    AppendOrNull(o.relay, out);
    out->append(",\"reply\":");
    AppendOrNull(o.reply, out);
    if (o.cut) out->append(",\"cut\":true");
    out->append("}\n");
  }

 private:
  int64_t last_time_ = 0;
  std::string last_iso_;
};

// Whether a regular file starts with the magic bytes of gzip, xz, bzip2 or
// zstd (logrotate's compressors): its lines would all be skipped unseen.
bool IsCompressed(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return false;
  struct stat st {};
  unsigned char b[6] = {0};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const ssize_t n = regular ? ::pread(fd, b, sizeof b, 0) : 0;
  ::close(fd);
  if (n < 3) return false;
  return (b[0] == 0x1f && b[1] == 0x8b) ||                                       // gzip
         (n >= 6 && std::memcmp(b, "\xfd" "7zXZ\0", 6) == 0) ||                  // xz
         (b[0] == 'B' && b[1] == 'Z' && b[2] == 'h') ||                           // bzip2
         (n >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd);  // zstd
}

}  // namespace

int PrintFile(const std::string& file, const Config& cfg, const BounceRules& rules, Store* store,
              Logger* logger) {
  // "-" is standard input: a pipe (zcat mail.log.1.gz | ...), read as a stream.
  const std::string path = file == "-" ? "/dev/stdin" : file;
  if (::access(path.c_str(), R_OK) != 0) {
    std::fprintf(stderr, "senderguard-tail: %s: cannot read: %s\n", file.c_str(), std::strerror(errno));
    return kExitNoInput;
  }
  if (struct stat st {}; ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    std::fprintf(stderr, "senderguard-tail: %s: cannot read: %s\n", file.c_str(), std::strerror(EISDIR));
    return kExitNoInput;
  }
  FileSource src(path, logger);
  src.set_read_to_end(true);
  Status st = src.Restore(std::nullopt);
  if (!st.ok() || !src.opened()) {
    std::fprintf(stderr, "senderguard-tail: %s\n", st.ok() ? (file + ": cannot open").c_str() : st.message().c_str());
    return kExitNoInput;
  }
  if (IsCompressed(path)) {
    std::fprintf(stderr,
                 "senderguard-tail: %s: compressed (gzip, xz, bzip2 or zstd); decompress it into a "
                 "pipe: zcat (xzcat, bzcat, zstdcat) FILE | senderguard-tail --once --print -\n",
                 file.c_str());
    return kExitDataError;
  }
  FeedbackSettings fs;
  fs.tz = cfg.tail_tz;
  fs.filter_transports = cfg.tail_filter_transports;
  FeedbackEngine engine(store, &rules, fs);
  std::vector<RawLine> lines;
  std::vector<Outcome> outs;
  JsonWriter json;
  std::string text;
  uint64_t printed = 0;
  for (;;) {
    st = src.Read(&lines, kChunkLines);
    if (!st.ok()) {
      std::fprintf(stderr, "senderguard-tail: %s\n", st.message().c_str());
      return kExitIoError;
    }
    if (lines.empty()) break;
    FeedbackBatch batch;
    outs.clear();
    st = engine.Process(lines, UnixNow(), &batch, &outs);
    if (!st.ok()) {
      std::fprintf(stderr, "senderguard-tail: store: %s\n", st.message().c_str());
      return kExitIoError;
    }
    text.clear();
    for (const auto& o : outs) json.Append(o, &text);
    printed += outs.size();
    if (!text.empty() && std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) {
      std::fprintf(stderr, "senderguard-tail: writing the output: %s\n", std::strerror(errno));
      return kExitIoError;
    }
    src.Advance();
  }
  if (std::fflush(stdout) != 0) {
    std::fprintf(stderr, "senderguard-tail: writing the output: %s\n", std::strerror(errno));
    return kExitIoError;
  }
  const auto& s = engine.stats();
  std::fprintf(stderr,
               "senderguard-tail: lines=%llu used=%llu outcomes=%llu unattributed=%llu "
               "malformed=%llu bad_bytes=%llu too_long=%llu cut=%llu printed=%llu\n",
               static_cast<unsigned long long>(s.lines), static_cast<unsigned long long>(s.used),
               static_cast<unsigned long long>(s.outcomes),
               static_cast<unsigned long long>(s.unattributed),
               static_cast<unsigned long long>(s.malformed),
               static_cast<unsigned long long>(s.bad_bytes),
               static_cast<unsigned long long>(s.too_long), static_cast<unsigned long long>(s.cut),
               static_cast<unsigned long long>(printed));
  return kExitOk;
}

}  // namespace senderguard::tail
