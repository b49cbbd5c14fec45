#include "print.h"

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
    AppendJson(o.recipient, out);
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
    AppendJson(o.dsn, out);
    out->append(",\"class\":");
    if (!o.classified) {
      out->append("null,\"category\":null");
    } else {
      AppendJson(o.hop ? std::string_view("forwarded") : OutcomeClassName(o.cls), out);
      out->append(",\"category\":");
      AppendJson(BounceCategoryName(o.category), out);
    }
    out->append(",\"relay\":");
    AppendJson(o.relay, out);
    out->append(",\"reply\":");
    AppendJson(o.reply, out);
    if (o.cut) out->append(",\"cut\":true");
    out->append("}\n");
  }

 private:
  int64_t last_time_ = 0;
  std::string last_iso_;
};

}  // namespace

int PrintFile(const std::string& file, const Config& cfg, const BounceRules& rules, Store* store,
              Logger* logger) {
  FileSource src(file, logger);
  Status st = src.Restore(std::nullopt);
  if (!st.ok()) {
    std::fprintf(stderr, "senderguard-tail: %s\n", st.message().c_str());
    return kExitNoInput;
  }
  if (::access(file.c_str(), R_OK) != 0) {
    std::fprintf(stderr, "senderguard-tail: %s: cannot read\n", file.c_str());
    return kExitNoInput;
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
               "malformed=%llu cut=%llu printed=%llu\n",
               static_cast<unsigned long long>(s.lines), static_cast<unsigned long long>(s.used),
               static_cast<unsigned long long>(s.outcomes),
               static_cast<unsigned long long>(s.unattributed),
               static_cast<unsigned long long>(s.malformed),
               static_cast<unsigned long long>(s.cut), static_cast<unsigned long long>(printed));
  return kExitOk;
}

}  // namespace senderguard::tail
