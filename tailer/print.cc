#include "print.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "chunk_reader.h"
#include "file_source.h"
#include "senderguard/base/clock.h"
#include "senderguard/base/exit_codes.h"

namespace senderguard::tail {
namespace {


std::string Json(const Outcome& o) {
  nlohmann::ordered_json j;  // fields in a fixed order, for people and for grep
  j["time"] = o.time;
  j["queue_id"] = o.queue_id;
  j["recipient"] = o.recipient;
  if (o.account.empty()) j["account"] = nullptr;
  else j["account"] = o.account;
  j["status"] = o.status;
  j["dsn"] = o.dsn;
  j["class"] = o.hop ? "forwarded" : std::string(OutcomeClassName(o.cls));
  j["category"] = std::string(BounceCategoryName(o.category));
  j["relay"] = o.relay;
  j["reply"] = o.reply;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

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
    for (const auto& o : outs) std::cout << Json(o) << '\n';
    src.Advance();
  }
  std::cout.flush();
  const auto& s = engine.stats();
  std::fprintf(stderr,
               "senderguard-tail: lines=%llu used=%llu outcomes=%llu unattributed=%llu "
               "malformed=%llu\n",
               static_cast<unsigned long long>(s.lines), static_cast<unsigned long long>(s.used),
               static_cast<unsigned long long>(s.outcomes),
               static_cast<unsigned long long>(s.unattributed),
               static_cast<unsigned long long>(s.malformed));
  return kExitOk;
}

}  // namespace senderguard::tail
