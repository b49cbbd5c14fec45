#include "follow.h"

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>

#include "chunk_reader.h"
#include "committer.h"
#include "monitor.h"
#include "senderguard/base/clock.h"
#include "senderguard/base/exit_codes.h"

namespace senderguard::tail {
namespace {

// Adds the forged lines the source skipped: the journal can tell
// (journal_source.h), a file cannot (nothing is added).
template <typename Source>
KvLine& AddForged(const Source& src, KvLine& line) {
  if constexpr (std::is_same_v<Source, JournalSource>) {
    line.Add("forged", std::to_string(src.forged()));
  }
  return line;
}

}  // namespace

template <typename Source>
int Follow(Source& src, bool once, const Config& cfg, BounceRules* rules,
           const std::function<bool()>& load_rules, Store* store, Logger* logger,
           const std::atomic<bool>& stop) {
  if constexpr (std::is_same_v<Source, FileSource>) {
    // Read once, a source that is not there is an error, not an empty log
    // (following, the source waits for it and says so once: source-missing).
    if (once && !src.opened()) {
      std::fprintf(stderr, "senderguard-tail: %s: no such file ([tail] source)\n",
                   src.Key().substr(5).c_str());
      return kExitIoError;
    }
  }
  FeedbackSettings fs;
  fs.tz = cfg.tail_tz;
  fs.suppress_after = cfg.suppress_after_hard_bounces;
  fs.filter_transports = cfg.tail_filter_transports;
  fs.reputation = cfg.reputation;
  auto engine_owner = std::make_unique<FeedbackEngine>(store, rules, fs);
  FeedbackEngine& engine = *engine_owner;
  // The recipients still deferred when the last run stopped, for the count
  // of their expiry.
  if (auto deferred = store->GetDeferred(FeedbackEngine::kMaxPendingMessages); deferred.ok()) {
    engine.RestorePending(deferred.value(), UnixNow());
  } else {
    logger->Log(Logger::Level::kWarning, KvLine()
                                             .Add("action", "deferred-unread")
                                             .Add("error", deferred.status().message())
                                             .str());
  }
  monitor::TailMetrics metrics;
  Committer committer(store, logger, cfg.reputation, stop, &metrics);
  const std::string actor = "senderguard-tail";
  const std::string key = src.Key();
  ChunkReader<Source> reader(&src, once, cfg, *rules, store, logger,
                             !std::is_same_v<Source, JournalSource>, stop);
  if (!load_rules()) {
    reader.Stop();
    return kExitConfig;
  }
  reader.StartClassifying();
  auto reporter = StartReporter(cfg, key, logger, &metrics);  // action=summary and [monitoring] textfile
  for (;;) {
    std::unique_ptr<Chunk> chunk = reader.Next();
    if (chunk == nullptr) break;
    FeedbackBatch batch;
    batch.source = key;
    batch.position = std::move(chunk->position);
    batch.suppress_after = cfg.suppress_after_hard_bounces;
    batch.review_days = cfg.reputation.window_days;
    batch.now = chunk->parsed.now;
    batch.actor = actor;
    // Reads of the store may fail (map being resized by another process...):
    // retry the same lines, nothing was appended.
    Status st;
    for (int attempt = 0;; ++attempt) {
      st = engine.Apply(chunk->parsed, &batch, nullptr);
      if (st.ok() || stop) break;
      logger->Log(Logger::Level::kError,
                  KvLine().Add("action", "store-read-error").Add("error", st.message()).str());
      batch.events.clear();
      batch.queue_puts.clear();
      batch.queue_stubs.clear();
      batch.deferred.clear();
      batch.review_only.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5000, 100 << std::min(attempt, 6))));
    }
    if (st.ok()) CountChunk(*chunk, batch, engine.stats(), &metrics);
    // The batch holds copies: the chunk's bytes may go.
    reader.Recycle(std::move(chunk));
    if (!st.ok()) break;
    if (!committer.Submit(std::move(batch))) return kExitTempFail;  // position not moved
  }
  reader.Stop();
  const int rc = reader.rc();
  // The engine's cache goes while the last batch commits.
  const EngineStats s = engine.stats();
  engine_owner.reset();
  if (!committer.Wait()) return kExitTempFail;
  store->Flush();
  reporter->Stop();
  KvLine line;
  line.Add("action", "stop")
      .Add("lines", std::to_string(s.lines))
      .Add("outcomes", std::to_string(s.outcomes))
      .Add("unattributed", std::to_string(s.unattributed))
      .Add("malformed", std::to_string(s.malformed))
      .Add("bad_bytes", std::to_string(s.bad_bytes))
      .Add("too_long", std::to_string(s.too_long))
      .Add("cut", std::to_string(s.cut))
      .Add("queue_reads", std::to_string(s.queue_reads));
  logger->Log(Logger::Level::kInfo, AddForged(src, line).str());
  return rc;
}

template int Follow<FileSource>(FileSource&, bool, const Config&, BounceRules*,
                                const std::function<bool()>&, Store*, Logger*,
                                const std::atomic<bool>&);
template int Follow<JournalSource>(JournalSource&, bool, const Config&, BounceRules*,
                                   const std::function<bool()>&, Store*, Logger*,
                                   const std::atomic<bool>&);

}  // namespace senderguard::tail
