// ChunkReader: reads the tailer's source in chunks and prepares them for
// the attribution thread (the follow loop), in log order.
//
// Threaded (the file source), two stages run up to kAhead chunks ahead: one
// thread reads and parses (LineParser::ParseLines: parse, timestamps),
// another classifies the bounces and reads the chunk's queue-map entries
// ahead (FeedbackEngine::Prefetch), so that the attribution thread only
// attributes; with the Committer that is four stages over the cores.
// Not threaded, Next() reads, parses and classifies inline (the journal: an
// sd_journal stays on the thread that opened it) and Apply reads the store.
//
// The source's in-memory position moves on as chunks are handed out; the
// stored position moves only with the commit of each chunk's batch, so a
// chunk read but not committed is read again after a restart.
//
// Logs "action=read-error" for each failed read of the source; following,
// it retries each second, with --once it ends (rc() 74).
//
// Ownership: the reader owns its chunks and its threads; *src, `cfg`,
// `rules` (compiled, or still loading until StartClassifying), *store,
// *logger and `stop` must outlive it. Thread safety: Next, Recycle,
// StartClassifying, Stop and rc are called from one thread (the follow
// loop); the reader's own threads are joined by Stop and the destructor.
//
// Source is FileSource or JournalSource (instantiated in chunk_reader.cc,
// with the per-line loops, so that they inline there).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "file_source.h"
#include "journal_source.h"
#include "senderguard/base/kvlog.h"
#include "senderguard/config/config.h"
#include "senderguard/feedback/feedback.h"
#include "senderguard/store/store.h"

namespace senderguard::tail {

// Lines per read of the source (and per chunk of --print).
inline constexpr size_t kChunkLines = 8192;
// Lines per commit when following: several reads of kChunkLines at most,
// when they are there. Larger commits rewrite the same pages (an account's
// day, the position) fewer times.
inline constexpr size_t kCommitLines = 32768;

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
  std::vector<RawLine> lines;
  ParsedChunk parsed;
  std::string position;
};

template <typename Source>
class ChunkReader {
 public:
  static constexpr size_t kAhead = 2;

  // Threaded, starts reading and parsing at once.
  ChunkReader(Source* src, bool once, const Config& cfg, const BounceRules& rules, Store* store,
              Logger* logger, bool threaded, const std::atomic<bool>& stop);
  // Stop().
  ~ChunkReader();
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

  // Threaded, reading and parsing start at construction and classifying
  // here: the rules may still be loading until then (they compile while the
  // first chunk is read). Not threaded, Next() classifies: call it before.
  void StartClassifying();

  // The next chunk in log order, or null at the end (then rc() says why:
  // 0, or 74 after a read error with --once). Return it with Recycle.
  std::unique_ptr<Chunk> Next();
  void Recycle(std::unique_ptr<Chunk> c);
  // Stops the reader's threads and joins them; Next() then returns null.
  void Stop();
  int rc() const { return rc_; }

 private:
  template <typename Work>
  void Stage(std::deque<std::unique_ptr<Chunk>>& in, const bool& in_ended,
             std::deque<std::unique_ptr<Chunk>>& out, bool& out_ended, Work work);
  void Run();
  void Prepare();
  bool Stopping();
  bool ReadOne(Chunk* c);

  struct Lens {
    size_t text, program;
    int64_t time;
  };
  Source* src_;
  const bool once_;
  const Config& cfg_;
  Store* store_;
  Logger* logger_;
  const std::atomic<bool>& stop_signal_;  // a signal asked to stop
  LineParser parser_;  // ParseLines on the reading thread, Classify (const) on the other
  std::vector<RawLine> lines_;
  std::vector<Lens> lens_;
  const bool threaded_;
  int rc_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Chunk>> free_, parsed_, full_;
  bool stop_ = false, read_ended_ = false, ended_ = false;
  std::thread thread_, prepare_thread_;
};

extern template class ChunkReader<FileSource>;
extern template class ChunkReader<JournalSource>;

}  // namespace senderguard::tail
