// senderguard-tail: follows Postfix's log and feeds every delivery outcome
// back into the store: per-account daily counts, hard-bounce counts toward
// suppression, the tier, and automatic suspension.
//
// SECURITY: the log is untrusted text: any local process can write to
// syslog, and the recipient, Message-ID and reply text inside genuine
// Postfix lines come from SMTP clients and remote servers. Lines are parsed
// with hard limits (postfix_log.h) and only attributed through queue ids the
// milter recorded. Runs as the user systemd gives it (it needs read access to
// the log or the journal, and write access to the store); writes only the
// LMDB store under [store] path. Spawns nothing.
//
// Exactly once: the position in the source (file identity and offset, or
// journal cursor) is committed in the same LMDB transaction as the counts it
// produced, so a crash or kill -9 at any moment neither loses nor repeats a
// line.
//
// Signals: SIGTERM/SIGINT finish the chunk in hand and exit 0.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <thread>

#include "committer.h"
#include "file_source.h"
#include "journal_source.h"
#include "senderguard/base/exit_codes.h"
#include "senderguard/config/config.h"
#include "senderguard/feedback/feedback.h"
#include "senderguard/store/open.h"
#include "senderguard/base/syslog_logger.h"

namespace sg = senderguard;
using sg::tail::FileSource;
using sg::tail::JournalSource;

namespace {

std::atomic<bool> g_stop{false};
extern "C" void OnSignal(int) { g_stop = true; }

constexpr size_t kChunkLines = 8192;
// Lines per commit when following: several reads of kChunkLines at most,
// when they are there. Larger commits rewrite the same pages (an account's
// day, the position) fewer times.
constexpr size_t kCommitLines = 32768;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

std::string Json(const sg::Outcome& o) {
  nlohmann::ordered_json j;  // fields in a fixed order, for people and for grep
  j["time"] = o.time;
  j["queue_id"] = o.queue_id;
  j["recipient"] = o.recipient;
  if (o.account.empty()) j["account"] = nullptr;
  else j["account"] = o.account;
  j["status"] = o.status;
  j["dsn"] = o.dsn;
  j["class"] = o.hop ? "forwarded" : std::string(sg::OutcomeClassName(o.cls));
  j["category"] = std::string(sg::BounceCategoryName(o.category));
  j["relay"] = o.relay;
  j["reply"] = o.reply;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// --once --print FILE: classify and attribute, print JSON lines, write nothing.
int PrintFile(const std::string& file, const sg::Config& cfg, const sg::BounceRules& rules,
              sg::Store* store, sg::Logger* logger) {
  FileSource src(file, logger);
  sg::Status st = src.Restore(std::nullopt);
  if (!st.ok()) {
    std::fprintf(stderr, "senderguard-tail: %s\n", st.message().c_str());
    return 66;  // EX_NOINPUT
  }
  if (::access(file.c_str(), R_OK) != 0) {
    std::fprintf(stderr, "senderguard-tail: %s: cannot read\n", file.c_str());
    return 66;
  }
  sg::FeedbackSettings fs;
  fs.tz = cfg.tail_tz;
  fs.filter_transports = cfg.tail_filter_transports;
  sg::FeedbackEngine engine(store, &rules, fs);
  std::vector<sg::RawLine> lines;
  std::vector<sg::Outcome> outs;
  for (;;) {
    st = src.Read(&lines, kChunkLines);
    if (!st.ok()) {
      std::fprintf(stderr, "senderguard-tail: %s\n", st.message().c_str());
      return 74;
    }
    if (lines.empty()) break;
    sg::FeedbackBatch batch;
    outs.clear();
    st = engine.Process(lines, Now(), &batch, &outs);
    if (!st.ok()) {
      std::fprintf(stderr, "senderguard-tail: store: %s\n", st.message().c_str());
      return 74;
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
  return 0;
}

// A chunk of the source, read and parsed: the lines' bytes (the file
// source's buffers, handed over, or else a copy), the parse, and the
// position after it.
struct Chunk {
  // bufs[0, nbufs): FileSource::AdvanceInto. The lines are views into these
  // strings' heap blocks (always far beyond the small-string size), which
  // neither a swap nor the vector's growth moves.
  std::vector<std::string> bufs;
  size_t nbufs = 0;
  std::string bytes;              // other sources: a copy
  std::vector<sg::RawLine> lines;
  sg::ParsedChunk parsed;
  std::string position;
};

// Reads the source in chunks and prepares them for the attribution thread,
// in log order. Threaded, two stages run up to kAhead chunks ahead: one
// thread reads and parses (sg::LineParser::ParseLines: parse, timestamps),
// another classifies the bounces and reads the chunk's queue-map entries
// ahead (sg::FeedbackEngine::Prefetch), so that the attribution thread
// only attributes; with the committer that is four stages over the cores.
// Not threaded, Next() reads, parses and classifies inline (the journal: an
// sd_journal stays on the thread that opened it) and Apply reads the store.
// The source's in-memory position moves on as chunks are handed out; the
// stored position moves only with the commit of each chunk's batch, so a
// chunk read but not committed is read again after a restart.
template <typename Source>
class ChunkReader {
 public:
  static constexpr size_t kAhead = 2;

  ChunkReader(Source* src, bool once, const sg::Config& cfg, const sg::BounceRules& rules,
              sg::Store* store, sg::Logger* logger, bool threaded)
      : src_(src), once_(once), cfg_(cfg), store_(store), logger_(logger),
        parser_(&rules, cfg.tail_tz), threaded_(threaded) {
    parser_.set_categorize_deferrals(false);  // counted, never shown: see LineParser
    for (size_t i = 0; i < kAhead + 2; ++i) free_.push_back(std::make_unique<Chunk>());
    if (threaded_) thread_ = std::thread([this] { Run(); });
  }
  // Threaded, reading and parsing start at construction and classifying
  // here: the rules may still be loading until then (they compile while the
  // first chunk is read). Not threaded, Next() classifies: call it before.
  void StartClassifying() {
    if (threaded_ && !prepare_thread_.joinable()) prepare_thread_ = std::thread([this] { Prepare(); });
  }
  ~ChunkReader() { Stop(); }

  // The next chunk in log order, or null at the end (then rc() says why:
  // 0, or 74 after a read error with --once). Return it with Recycle.
  std::unique_ptr<Chunk> Next() {
    if (!threaded_) {
      std::unique_ptr<Chunk> c = std::move(free_.front());
      free_.pop_front();
      if (ReadOne(c.get())) {
        parser_.Classify(&c->parsed);
        return c;
      }
      free_.push_back(std::move(c));
      return nullptr;
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !full_.empty() || ended_; });
    if (full_.empty()) return nullptr;
    std::unique_ptr<Chunk> c = std::move(full_.front());
    full_.pop_front();
    return c;
  }
  void Recycle(std::unique_ptr<Chunk> c) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(c));
    cv_.notify_all();
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    if (prepare_thread_.joinable()) prepare_thread_.join();
  }
  int rc() const { return rc_; }

 private:
  // One stage of the pipeline: takes chunks from `in` in order until it is
  // empty and `in_ended` (or Stop), runs `work` on each without the lock,
  // hands it to `out` (false from `work`: the end), then sets `out_ended`.
  template <typename Work>
  void Stage(std::deque<std::unique_ptr<Chunk>>& in, const bool& in_ended,
             std::deque<std::unique_ptr<Chunk>>& out, bool& out_ended, Work work) {
    for (;;) {
      std::unique_ptr<Chunk> c;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !in.empty() || in_ended || stop_; });
        if (stop_ || in.empty()) break;
        c = std::move(in.front());
        in.pop_front();
      }
      if (!work(c.get())) break;
      std::lock_guard<std::mutex> lock(mu_);
      out.push_back(std::move(c));
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    out_ended = true;
    cv_.notify_all();
  }

  // The first stage: reads and parses free chunks (there is always one
  // more to fill until the end of the source).
  void Run() {
    static constexpr bool kEndless = false;
    Stage(free_, kEndless, parsed_, read_ended_, [this](Chunk* c) { return ReadOne(c); });
  }

  // The second stage: classifies and reads ahead, chunk by chunk, in order.
  void Prepare() {
    Stage(parsed_, read_ended_, full_, ended_, [this](Chunk* c) {
      parser_.Classify(&c->parsed);
      // A failed read ahead leaves the reads to Apply, which retries them.
      (void)sg::FeedbackEngine::Prefetch(store_, &c->parsed);
      return true;
    });
  }

  bool Stopping() {
    if (g_stop) return true;
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  }

  // Fills *c with the next chunk; false at the end (once: nothing more to
  // read; following: stopping). A chunk gathers several reads of the source
  // (up to kCommitLines lines), as many as there are without waiting: fewer,
  // larger commits.
  bool ReadOne(Chunk* c) {
    c->bytes.clear();
    c->nbufs = 0;
    c->lines.clear();
    lens_.clear();
    for (;;) {
      if (Stopping()) return false;
      sg::Status st = src_->Read(&lines_, std::min(kChunkLines, kCommitLines - c->lines.size() - lens_.size()));
      if (!st.ok()) {
        logger_->Log(sg::Logger::Level::kError, sg::KvLine()
                                                    .Add("source", src_->Key())
                                                    .Add("action", "read-error")
                                                    .Add("error", st.message())
                                                    .str());
        if (!c->lines.empty() || !lens_.empty()) break;  // hand out what was read; the error comes back
        if (once_) {
          rc_ = 74;  // EX_IOERR
          return false;
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      if (lines_.empty()) {
        if (!c->lines.empty() || !lens_.empty()) break;
        if (once_) return false;
        if constexpr (std::is_same_v<Source, JournalSource>) {
          src_->Wait(cfg_.tail_poll_ms);
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(cfg_.tail_poll_ms));
        }
        continue;
      }
      c->position = src_->PendingPosition();
      if constexpr (std::is_same_v<Source, FileSource>) {
        // The file source hands its buffer over: the views stay valid.
        if (c->nbufs == c->bufs.size()) c->bufs.emplace_back();
        c->lines.insert(c->lines.end(), lines_.begin(), lines_.end());
        src_->AdvanceInto(&c->bufs[c->nbufs++]);
      } else {
        // Copies: the source's buffer moves on at Advance.
        for (const auto& l : lines_) {
          c->bytes.append(l.text);
          c->bytes.append(l.program);
          lens_.push_back(Lens{l.text.size(), l.program.size(), l.time});
        }
        src_->Advance();
      }
      if (c->lines.size() + lens_.size() >= kCommitLines) break;
    }
    if (!lens_.empty()) {
      const char* at = c->bytes.data();
      c->lines.reserve(lens_.size());
      for (const Lens& l : lens_) {
        sg::RawLine r;
        r.text = std::string_view(at, l.text);
        at += l.text;
        if (l.program != 0) r.program = std::string_view(at, l.program);
        at += l.program;
        r.time = l.time;
        c->lines.push_back(r);
      }
    }
    parser_.ParseLines(c->lines, Now(), &c->parsed);
    return true;
  }

  struct Lens {
    size_t text, program;
    int64_t time;
  };
  Source* src_;
  const bool once_;
  const sg::Config& cfg_;
  sg::Store* store_;
  sg::Logger* logger_;
  sg::LineParser parser_;  // ParseLines on the reading thread, Classify (const) on the other
  std::vector<sg::RawLine> lines_;
  std::vector<Lens> lens_;
  const bool threaded_;
  int rc_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Chunk>> free_, parsed_, full_;
  bool stop_ = false, read_ended_ = false, ended_ = false;
  std::thread thread_, prepare_thread_;
};

// `rules` is filled by load_rules(), which Follow calls once reading has
// begun (so that the rules compile while the first chunk is read); false
// from it stops before anything is classified or committed.
template <typename Source>
int Follow(Source& src, bool once, const sg::Config& cfg, sg::BounceRules* rules,
           const std::function<bool()>& load_rules, sg::Store* store, sg::Logger* logger) {
  sg::FeedbackSettings fs;
  fs.tz = cfg.tail_tz;
  fs.suppress_after = cfg.suppress_after_hard_bounces;
  fs.filter_transports = cfg.tail_filter_transports;
  fs.reputation = cfg.reputation;
  auto engine_owner = std::make_unique<sg::FeedbackEngine>(store, rules, fs);
  sg::FeedbackEngine& engine = *engine_owner;
  // The recipients still deferred when the last run stopped, for the count
  // of their expiry.
  if (auto deferred = store->GetDeferred(sg::FeedbackEngine::kMaxPendingMessages); deferred.ok()) {
    engine.RestorePending(deferred.value(), Now());
  } else {
    logger->Log(sg::Logger::Level::kWarning, sg::KvLine()
                                                 .Add("action", "deferred-unread")
                                                 .Add("error", deferred.status().message())
                                                 .str());
  }
  sg::tail::Committer committer(store, logger, cfg.reputation, g_stop);
  auto last_stats = std::chrono::steady_clock::now();
  uint64_t lines_at_stats = 0;
  int64_t newest = 0;
  const std::string actor = "senderguard-tail";
  const std::string key = src.Key();
  ChunkReader<Source> reader(&src, once, cfg, *rules, store, logger,
                             !std::is_same_v<Source, JournalSource>);
  if (!load_rules()) {
    reader.Stop();
    return sg::kExitConfig;
  }
  reader.StartClassifying();
  for (;;) {
    std::unique_ptr<Chunk> chunk = reader.Next();
    if (chunk == nullptr) break;
    sg::FeedbackBatch batch;
    batch.source = key;
    batch.position = std::move(chunk->position);
    batch.suppress_after = cfg.suppress_after_hard_bounces;
    batch.review_days = cfg.reputation.window_days;
    batch.now = chunk->parsed.now;
    batch.actor = actor;
    // Reads of the store may fail (map being resized by another process...):
    // retry the same lines, nothing was appended.
    sg::Status st;
    for (int attempt = 0;; ++attempt) {
      st = engine.Apply(chunk->parsed, &batch, nullptr);
      if (st.ok() || g_stop) break;
      logger->Log(sg::Logger::Level::kError,
                  sg::KvLine().Add("action", "store-read-error").Add("error", st.message()).str());
      batch.events.clear();
      batch.queue_puts.clear();
      batch.queue_stubs.clear();
      batch.deferred.clear();
      batch.review_only.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5000, 100 << std::min(attempt, 6))));
    }
    // The batch holds copies: the chunk's bytes may go.
    reader.Recycle(std::move(chunk));
    if (!st.ok()) break;
    for (const auto& e : batch.events) newest = std::max(newest, e.time);
    if (!committer.Submit(std::move(batch))) return 75;  // EX_TEMPFAIL: position not moved
    const auto t = std::chrono::steady_clock::now();
    if (t - last_stats >= std::chrono::seconds(60)) {
      const auto& s = engine.stats();
      const double secs = std::chrono::duration<double>(t - last_stats).count();
      logger->Log(sg::Logger::Level::kInfo,
                  sg::KvLine()
                      .Add("action", "stats")
                      .Add("source", key)
                      .Add("lines", std::to_string(s.lines))
                      .Add("lines_per_s", std::to_string(static_cast<uint64_t>((s.lines - lines_at_stats) / secs)))
                      .Add("outcomes", std::to_string(s.outcomes))
                      .Add("unattributed", std::to_string(s.unattributed))
                      .Add("malformed", std::to_string(s.malformed))
                      .Add("lag_s", std::to_string(newest > 0 ? std::max<int64_t>(0, Now() - newest) : 0))
                      .str());
      last_stats = t;
      lines_at_stats = s.lines;
    }
  }
  reader.Stop();
  const int rc = reader.rc();
  // The engine's cache goes while the last batch commits.
  const sg::EngineStats s = engine.stats();
  engine_owner.reset();
  if (!committer.Wait()) return 75;
  store->Flush();
  logger->Log(sg::Logger::Level::kInfo, sg::KvLine()
                                            .Add("action", "stop")
                                            .Add("lines", std::to_string(s.lines))
                                            .Add("outcomes", std::to_string(s.outcomes))
                                            .Add("unattributed", std::to_string(s.unattributed))
                                            .Add("queue_reads", std::to_string(s.queue_reads))
                                            .str());
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"senderguard-tail: feeds Postfix's delivery outcomes back into senderguard"};
  std::string config_flag, print_file, rules_flag;
  bool once = false, log_stderr = false, check = false, from_start = false;
  app.add_option("-c,--config", config_flag, "configuration file (default $SENDERGUARD_CONF or " +
                                                 std::string(sg::kDefaultConfigPath) + ")");
  app.add_flag("--once", once, "read what is there now, then exit (no following)");
  app.add_option("--print", print_file,
                 "with --once: read FILE and print one JSON object per delivery outcome; "
                 "writes nothing");
  app.add_option("--rules", rules_flag, "bounce rules file (overrides [tail] rules)");
  app.add_flag("--stderr", log_stderr, "log to stderr too");
  app.add_flag("--check", check, "check the configuration and the rules, then exit");
  app.add_flag("--from-start", from_start, "journal: with no stored cursor, start at the oldest entry");
  CLI11_PARSE(app, argc, argv);

  const std::string path = sg::ConfigPath(config_flag);
  sg::SyslogLogger logger("senderguard-tail", log_stderr);
  std::shared_ptr<const sg::Config> cfg;
  {
    auto loaded = sg::LoadConfig(path);
    if (!loaded.ok()) {
      // --print needs no configuration: defaults do.
      if (!print_file.empty() && config_flag.empty() && ::access(path.c_str(), F_OK) != 0) {
        cfg = std::make_shared<sg::Config>();
      } else {
        std::fprintf(stderr, "senderguard-tail: %s\n", loaded.status().message().c_str());
        return sg::kExitConfig;
      }
    } else {
      cfg = loaded.value();
    }
  }
  if (cfg->log_stderr) logger.set_stderr(true);
  if (!print_file.empty() && !once) {
    std::fprintf(stderr, "senderguard-tail: --print goes with --once\n");
    return 64;
  }
  const std::string rules_path = rules_flag.empty() ? cfg->tail_rules : rules_flag;
  // Compiling the rules takes tens of milliseconds: following, they load on
  // a thread of their own while the store opens and the first chunk is
  // read; Follow waits for them before it classifies anything.
  std::future<sg::Result<sg::BounceRules>> rules_loading =
      std::async(std::launch::async, [rules_path] { return sg::BounceRules::Load(rules_path); });
  sg::BounceRules rules;
  // Waits for the rules (once; later calls give the same answer).
  std::optional<bool> rules_ok;
  auto take_rules = [&]() {
    if (rules_ok) return *rules_ok;
    auto loaded = rules_loading.get();
    rules_ok = loaded.ok();
    if (!loaded.ok()) {
      std::fprintf(stderr, "senderguard-tail: %s\n", loaded.status().message().c_str());
      return false;
    }
    rules = std::move(loaded.value());
    return true;
  };
  if (check || !print_file.empty()) {
    if (!take_rules()) return sg::kExitConfig;
  }
  if (check) {
    std::printf("%s: ok; %s: %zu rules\n", path.c_str(), rules_path.c_str(), rules.size());
    return 0;
  }

  sg::StoreUse use;
  use.logger = &logger;
  use.housekeeping = !once;

  if (!print_file.empty()) {
    // Attribution needs the store, but printing must not create one.
    std::unique_ptr<sg::Store> store;
    if (sg::StoreExists(*cfg)) {
      auto opened = sg::OpenStore(*cfg, use);
      if (opened.ok()) store = std::move(opened.value());
    }
    return PrintFile(print_file, *cfg, rules, store.get(), &logger);
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  // A first run (no store yet) waits for the rules before it creates one:
  // a broken rules file leaves nothing behind.
  if (!sg::StoreExists(*cfg) && !take_rules()) {
    return sg::kExitConfig;
  }
  // An I/O error before following: a broken rules file is the error to
  // report first, as it was found before the store.
  auto io_error = [&](const std::string& message) {
    if (!take_rules()) return sg::kExitConfig;
    std::fprintf(stderr, "senderguard-tail: %s\n", message.c_str());
    return 74;  // EX_IOERR
  };
  auto opened = sg::OpenStore(*cfg, use);
  if (!opened.ok()) return io_error(opened.status().message());
  sg::Store* store = opened.value().get();
  const std::string& source = cfg->tail_source;
  const bool journal = source == "journal" || source.rfind("journal:", 0) == 0;
  const std::string key = journal ? source : "file:" + source;
  auto pos = store->GetPosition(key);
  if (!pos.ok()) return io_error(pos.status().message());
  const bool resume = pos.value().has_value();
  auto load_rules = [&]() {
    if (!take_rules()) return false;
    logger.Log(sg::Logger::Level::kInfo, sg::KvLine()
                                             .Add("action", "start")
                                             .Add("source", source)
                                             .Add("rules", std::to_string(rules.size()))
                                             .Add("resume", resume ? "yes" : "no")
                                             .str());
    return true;
  };
  if (journal) {
    JournalSource src(source, &logger);
    sg::Status st = src.Restore(pos.value(), from_start);
    if (!st.ok()) return io_error(st.message());
    return Follow(src, once, *cfg, &rules, load_rules, store, &logger);
  }
  FileSource src(source, &logger);
  sg::Status st = src.Restore(pos.value());
  if (!st.ok()) return io_error(st.message());
  return Follow(src, once, *cfg, &rules, load_rules, store, &logger);
}
