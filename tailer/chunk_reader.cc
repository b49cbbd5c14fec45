#include "chunk_reader.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <type_traits>

#include "senderguard/base/clock.h"
#include "senderguard/base/exit_codes.h"

namespace senderguard::tail {

template <typename Source>
ChunkReader<Source>::ChunkReader(Source* src, bool once, const Config& cfg,
                                 const BounceRules& rules, Store* store, Logger* logger,
                                 bool threaded, const std::atomic<bool>& stop)
    : src_(src), once_(once), cfg_(cfg), store_(store), logger_(logger), stop_signal_(stop),
      parser_(&rules, cfg.tail_tz), threaded_(threaded) {
  parser_.set_categorize_deferrals(false);  // counted, never shown: see LineParser
  for (size_t i = 0; i < kAhead + 2; ++i) free_.push_back(std::make_unique<Chunk>());
  if (threaded_) thread_ = std::thread([this] { Run(); });
}

template <typename Source>
ChunkReader<Source>::~ChunkReader() {
  Stop();
}

template <typename Source>
void ChunkReader<Source>::StartClassifying() {
  if (threaded_ && !prepare_thread_.joinable()) prepare_thread_ = std::thread([this] { Prepare(); });
}

template <typename Source>
std::unique_ptr<Chunk> ChunkReader<Source>::Next() {
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

template <typename Source>
void ChunkReader<Source>::Recycle(std::unique_ptr<Chunk> c) {
  std::lock_guard<std::mutex> lock(mu_);
  free_.push_back(std::move(c));
  cv_.notify_all();
}

template <typename Source>
void ChunkReader<Source>::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (prepare_thread_.joinable()) prepare_thread_.join();
}

// One stage of the pipeline: takes chunks from `in` in order until it is
// empty and `in_ended` (or Stop), runs `work` on each without the lock,
// hands it to `out` (false from `work`: the end), then sets `out_ended`.
template <typename Source>
template <typename Work>
void ChunkReader<Source>::Stage(std::deque<std::unique_ptr<Chunk>>& in, const bool& in_ended,
                                std::deque<std::unique_ptr<Chunk>>& out, bool& out_ended,
                                Work work) {
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
template <typename Source>
void ChunkReader<Source>::Run() {
  static constexpr bool kEndless = false;
  Stage(free_, kEndless, parsed_, read_ended_, [this](Chunk* c) { return ReadOne(c); });
}

// The second stage: classifies and reads ahead, chunk by chunk, in order.
template <typename Source>
void ChunkReader<Source>::Prepare() {
  Stage(parsed_, read_ended_, full_, ended_, [this](Chunk* c) {
    parser_.Classify(&c->parsed);
    // A failed read ahead leaves the reads to Apply, which retries them.
    (void)FeedbackEngine::Prefetch(store_, &c->parsed);
    return true;
  });
}

template <typename Source>
bool ChunkReader<Source>::Stopping() {
  if (stop_signal_) return true;
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

// Fills *c with the next chunk; false at the end (once: nothing more to
// read; following: stopping). A chunk gathers several reads of the source
// (up to kCommitLines lines), as many as there are without waiting: fewer,
// larger commits.
template <typename Source>
bool ChunkReader<Source>::ReadOne(Chunk* c) {
  c->bytes.clear();
  c->nbufs = 0;
  c->lines.clear();
  lens_.clear();
  for (;;) {
    if (Stopping()) return false;
    Status st = src_->Read(&lines_, std::min(kChunkLines, kCommitLines - c->lines.size() - lens_.size()));
    if (!st.ok()) {
      logger_->Log(Logger::Level::kError, KvLine()
                                              .Add("source", src_->Key())
                                              .Add("action", "read-error")
                                              .Add("error", st.message())
                                              .str());
      if (!c->lines.empty() || !lens_.empty()) break;  // hand out what was read; the error comes back
      if (once_) {
        rc_ = kExitIoError;
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
      RawLine r;
      r.text = std::string_view(at, l.text);
      at += l.text;
      if (l.program != 0) r.program = std::string_view(at, l.program);
      at += l.program;
      r.time = l.time;
      c->lines.push_back(r);
    }
  }
  parser_.ParseLines(c->lines, UnixNow(), &c->parsed);
  return true;
}

template class ChunkReader<FileSource>;
template class ChunkReader<JournalSource>;

}  // namespace senderguard::tail
