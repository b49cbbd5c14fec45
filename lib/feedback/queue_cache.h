// The feedback engine's tables keyed by Postfix queue id (feedback.h): a
// queue id's hash, computed once per line; QueueIdMap, a small open-addressing
// map for the engine's per-id sets; and QueueCache, the queue-map entries the
// engine holds between chunks.
//
// Internal to sg_feedback (namespace detail): exposed only because
// FeedbackEngine holds these by value. Not thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/store/store.h"

namespace senderguard {
namespace detail {

// The hash FeedbackEngine's queue-id tables use (std::hash of the bytes).
inline uint64_t QueueIdHash(std::string_view id) { return std::hash<std::string_view>{}(id); }

// A hash map from a queue id to V, for the engine's per-line lookups: open
// addressing with linear probing (one array, no node per entry), looked up
// by string_view with a hash computed once per line (QueueIdHash), erased
// with backward shift (no tombstones). At most half full. Pointers into it
// are valid only until the next insert or erase. Not thread-safe.
template <typename V>
class QueueIdMap {
 public:
  V* Find(std::string_view id, uint64_t h) {
    if (slots_.empty()) return nullptr;
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.h == h && s.key == id) return &s.value;
    }
  }
  bool Contains(std::string_view id, uint64_t h) { return Find(id, h) != nullptr; }
  // The value for `id`, inserted as V{} when missing.
  V& Get(std::string_view id, uint64_t h) {
    if (V* v = Find(id, h)) return *v;
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    const size_t mask = slots_.size() - 1;
    size_t i = h & mask;
    while (slots_[i].used) i = (i + 1) & mask;
    Slot& s = slots_[i];
    s.used = true;
    s.h = h;
    s.key.assign(id.data(), id.size());
    ++size_;
    return s.value;
  }
  void Insert(std::string_view id, uint64_t h) { (void)Get(id, h); }
  bool Erase(std::string_view id, uint64_t h) {
    if (slots_.empty()) return false;
    const size_t mask = slots_.size() - 1;
    size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
      if (!slots_[i].used) return false;
      if (slots_[i].h == h && slots_[i].key == id) break;
    }
    // Backward shift: move up every later entry of the run whose home is
    // not between the hole and itself.
    for (size_t j = (i + 1) & mask; slots_[j].used; j = (j + 1) & mask) {
      const size_t home = slots_[j].h & mask;
      const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
      if (stays) continue;
      slots_[i] = std::move(slots_[j]);
      i = j;
    }
    slots_[i] = Slot{};
    --size_;
    return true;
  }
  void Clear() {
    for (Slot& s : slots_) {
      if (s.used) s = Slot{};
    }
    size_ = 0;
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t h = 0;
    bool used = false;
    std::string key;
    V value{};
  };
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.clear();
    slots_.resize(std::max<size_t>(1024, old.size() * 2));
    const size_t mask = slots_.size() - 1;
    for (Slot& s : old) {
      if (!s.used) continue;
      size_t i = s.h & mask;
      while (slots_[i].used) i = (i + 1) & mask;
      slots_[i] = std::move(s);
    }
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

struct Unit {};

// A queue-map entry as the engine caches it.
struct CachedQueueEntry {
  QueueEntry entry;
  bool stub = false;  // written by us from a message-id line, no account yet
  bool link_tried = false;  // a stub: Link looked for its origin once already
};

// The queue-id cache: a map from entry.queue_id to CachedQueueEntry looked
// up by string_view (no string built per line), with open addressing
// (linear probing) over an array of (hash, index) slots, entries in a deque
// so that pointers to them stay valid while it grows. Erase frees an entry
// for reuse by a later Put: callers erase only when they hold no pointer
// (Apply, once a chunk is done).
class QueueCache {
 public:
  // Defined here rather than in queue_cache.cc: it runs for every line,
  // and its callers (FeedbackEngine::Apply) inline it.
  CachedQueueEntry* Find(std::string_view id, uint64_t h) {
    if (slots_.empty()) return nullptr;
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const uint64_t s = slots_[i];
      if (s == 0) return nullptr;
      if ((s >> 32) == (h >> 32)) {
        CachedQueueEntry& c = entries_[Index(s)];
        if (c.entry.queue_id == id) return &c;
      }
    }
  }
  // The entry for q.queue_id, set to {q, stub}; inserted when missing.
  void Put(QueueEntry q, bool stub);
  void Erase(std::string_view id, uint64_t h);
  void Clear();
  size_t size() const { return live_; }

 private:
  void Grow();
  static uint32_t Index(uint64_t slot) { return static_cast<uint32_t>(slot & 0xffffffffu) - 1; }
  std::vector<uint64_t> slots_;  // 0: empty; else (hash's high half << 32) | (index + 1)
  std::deque<CachedQueueEntry> entries_;
  std::vector<uint32_t> free_;   // indexes of erased entries
  size_t live_ = 0;
};

}  // namespace detail
}  // namespace senderguard
