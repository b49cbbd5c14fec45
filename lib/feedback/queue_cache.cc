// The queue-id cache (queue_cache.h): its inserts, erases and growth. Find,
// run for every line, is in the header.
#include "senderguard/feedback/queue_cache.h"

#include <algorithm>

namespace senderguard {
namespace detail {

namespace {
// Queue ids leave the cache with their "removed" line, so it holds the
// messages in the queue: a table this size (32 KiB) serves most hosts.
constexpr size_t kMinSlots = size_t{1} << 12;
uint64_t HashId(std::string_view id) { return QueueIdHash(id); }
// The slot's tag: the hash's high half (never 0 together with an index).
uint64_t Tag(uint64_t h) { return (h >> 32) << 32; }
}  // namespace

void QueueCache::Put(QueueEntry q, bool stub) {
  const uint64_t h = HashId(q.queue_id);
  if (CachedQueueEntry* c = Find(q.queue_id, h)) {
    c->entry = std::move(q);
    c->stub = stub;
    return;
  }
  // At most half full: short probes.
  if ((live_ + 1) * 2 > slots_.size()) Grow();
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
    entries_[index] = CachedQueueEntry{std::move(q), stub};
  } else {
    index = static_cast<uint32_t>(entries_.size());
    entries_.push_back(CachedQueueEntry{std::move(q), stub});
  }
  ++live_;
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  while (slots_[i] != 0) i = (i + 1) & mask;
  slots_[i] = Tag(h) | (static_cast<uint64_t>(index) + 1);
}

void QueueCache::Erase(std::string_view id, uint64_t h) {
  if (slots_.empty()) return;
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  for (;; i = (i + 1) & mask) {
    const uint64_t s = slots_[i];
    if (s == 0) return;
    if ((s >> 32) == (h >> 32) && entries_[Index(s)].entry.queue_id == id) break;
  }
  const uint32_t index = Index(slots_[i]);
  // Backward shift: move up every later slot of the run whose home is not
  // between the hole and itself.
  for (size_t j = (i + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
    const size_t home = HashId(entries_[Index(slots_[j])].entry.queue_id) & mask;
    const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    i = j;
  }
  slots_[i] = 0;
  entries_[index] = CachedQueueEntry{};  // its strings go now
  free_.push_back(index);
  --live_;
}

void QueueCache::Grow() {
  std::vector<uint64_t> old = std::move(slots_);
  slots_.assign(std::max(kMinSlots, old.size() * 2), 0);
  const size_t mask = slots_.size() - 1;
  for (uint64_t s : old) {
    if (s == 0) continue;
    const uint64_t h = HashId(entries_[Index(s)].entry.queue_id);
    size_t i = h & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void QueueCache::Clear() {
  entries_.clear();
  free_.clear();
  live_ = 0;
  std::fill(slots_.begin(), slots_.end(), 0);
}

}  // namespace detail
}  // namespace senderguard
