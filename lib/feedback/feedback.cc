// The feedback engine (feedback.h, FeedbackEngine): attribution of the
// parsed lines to accounts through the queue map, and the batch they count.
// Beside it: the line parser (line_parser.cc), the queue-id cache
// (queue_cache.h, queue_cache.cc) and the account review (account_review.cc).
#include "senderguard/feedback/feedback.h"

#include <algorithm>

#include "senderguard/decide/identity.h"

namespace senderguard {
namespace {

constexpr size_t kMaxCache = 200000;    // queue entries remembered between chunks
constexpr int64_t kMaxDeferredAge = 7 * 86400;  // older stored deferrals are forgotten
constexpr size_t kMaxNotices = 100000;
constexpr int64_t kLinkWindow = 2 * 86400;  // a Message-ID link reaches this far back
// A content filter's "queued as" reply follows the re-injected message's
// cleanup line by well under this (smtp_data_done_timeout is 600 s).
constexpr int64_t kHopWindow = 3600;
constexpr int64_t kTouchAfter = 86400;      // see kRemoved

void CountInto(DayCountsRecord* d, OutcomeClass c) {
  switch (c) {
    case OutcomeClass::kDelivered: ++d->delivered; break;
    case OutcomeClass::kDeferred: ++d->deferred; break;
    case OutcomeClass::kHard: ++d->hard; break;
    case OutcomeClass::kSoft: ++d->soft; break;
    case OutcomeClass::kTechnical: ++d->technical; break;
    case OutcomeClass::kExpired: ++d->expired; break;
  }
}

// Address as logged ("\"a b\"@x" keeps Postfix's quotes) -> suppression key.
std::string SuppressionAddress(std::string_view logged) {
  auto n = NormalizeAddress(logged);
  return n ? *n : std::string();
}

}  // namespace

std::string_view OutcomeOriginName(OutcomeOrigin o) {
  switch (o) {
    case OutcomeOrigin::kAccount: return "account";
    case OutcomeOrigin::kUnattributed: return "unattributed";
    case OutcomeOrigin::kPostfixNotice: return "postfix-notice";
    case OutcomeOrigin::kAddressProbe: return "address-probe";
    case OutcomeOrigin::kUnknownStatus: return "unknown-status";
  }
  return "unknown";
}

FeedbackEngine::FeedbackEngine(Store* store, const BounceRules* rules, FeedbackSettings settings)
    : store_(store),
      settings_(std::move(settings)),
      parser_(rules, settings_.tz) {}

void FeedbackEngine::Remember(QueueEntry q, bool stub) {
  // Never erases: callers hold pointers into the cache (the table keeps
  // them valid across inserts). Process trims it between chunks.
  cache_.Put(std::move(q), stub);
}

Status FeedbackEngine::Lookup(const std::vector<std::pair<uint64_t, std::string_view>>& wanted,
                              ParsedChunk* ahead) {
  if (store_ == nullptr || wanted.empty()) return Status::Ok();
  std::vector<std::string> rest;  // not read ahead: read here
  rest.reserve(wanted.size());
  if (ahead == nullptr || !ahead->prefetched) {
    for (const auto& w : wanted) rest.emplace_back(w.second);
  } else {
    const auto& ph = ahead->prefetch_hashes;
    for (const auto& [h, id] : wanted) {
      size_t i = static_cast<size_t>(std::lower_bound(ph.begin(), ph.end(), h) - ph.begin());
      while (i < ph.size() && ph[i] == h && ahead->prefetch_ids[i] != id) ++i;
      if (i == ph.size() || ph[i] != h) {
        rest.emplace_back(id);
        continue;
      }
      auto& e = ahead->prefetch_entries[i];
      if (e) {
        const bool stub = e->account.empty();
        Remember(std::move(*e), stub);
        e.reset();  // taken (an id is wanted once per chunk)
      }
    }
  }
  if (rest.empty()) return Status::Ok();
  stats_.queue_reads += rest.size();
  auto got = store_->GetQueueEntries(rest);
  if (!got.ok()) return got.status();
  for (auto& e : got.value()) {
    if (e) {
      const bool stub = e->account.empty();
      Remember(std::move(*e), stub);
    }
  }
  return Status::Ok();
}

void FeedbackEngine::RestorePending(const std::vector<DeferredRecord>& stored, int64_t now) {
  for (const DeferredRecord& d : stored) {
    if (d.queue_id.empty() || d.queue_id.size() > 100) continue;
    const uint64_t h = detail::QueueIdHash(d.queue_id);
    // Postfix gives up on a message after maximal_queue_lifetime (5 days by
    // default): an older record lost its "removed" line; it is deleted
    // with the next batch.
    if (d.recipients.empty() || now - d.time > kMaxDeferredAge ||
        pending_.size() >= kMaxPendingMessages) {
      if (!pending_dirty_.Contains(d.queue_id, h)) {
        pending_dirty_.Insert(d.queue_id, h);
        pending_dirty_ids_.push_back(d.queue_id);
      }
      continue;
    }
    auto& set = pending_.Get(d.queue_id, h);
    set.insert(d.recipients.begin(), d.recipients.end());
  }
}

// Links a stub (a queue id the milter never saw) to the entry with the same
// Message-ID that has an account. Returns whether it did.
bool FeedbackEngine::Link(Cached* c, FeedbackBatch* batch) {
  if (store_ == nullptr || c->entry.message_id.empty() || c->entry.message_id == "<>") return false;
  // Once per stub: the origin was recorded by the milter before the filter
  // re-queued the message, so a search that found none will not find one
  // later (a restarted tailer tries once more).
  // A store that cannot be read is asked again at the next line.
  if (c->link_tried) return false;
  ++stats_.link_lookups;
  auto ids = store_->FindByMessageId(c->entry.message_id);
  if (!ids.ok()) return false;
  std::vector<std::string> others;
  for (const auto& id : ids.value()) {
    if (id != c->entry.queue_id) others.push_back(id);
  }
  auto got = store_->GetQueueEntries(others);
  if (!got.ok()) return false;
  c->link_tried = true;
  // Newest first: the message most recently accepted with that Message-ID.
  for (size_t i = got.value().size(); i-- > 0;) {
    const auto& e = got.value()[i];
    if (!e || e->account.empty()) continue;
    if (c->entry.time - e->time > kLinkWindow) continue;
    c->entry.account = e->account;
    c->entry.recipients = e->recipients;
    c->stub = false;
    batch->queue_puts.push_back(c->entry);
    QueueEntry origin = *e;
    if (!origin.forwarded) {
      origin.forwarded = true;
      batch->queue_puts.push_back(origin);
      Remember(origin, false);
    }
    ++stats_.linked;
    return true;
  }
  return false;
}

Status FeedbackEngine::Prefetch(Store* store, ParsedChunk* chunk) {
  chunk->prefetched = false;
  chunk->prefetch_hashes.clear();
  chunk->prefetch_ids.clear();
  chunk->prefetch_entries.clear();
  if (store == nullptr) return Status::Ok();
  // By hash (computed by the parser): integer compares, bytes only on ties.
  // (Scratch kept per thread: a chunk's worth, reused chunk after chunk.)
  static thread_local std::vector<uint64_t> notices;
  static thread_local std::vector<std::pair<uint64_t, std::string_view>> ids;
  notices.clear();
  ids.clear();
  for (const ParsedChunk::Item& it : chunk->items) {
    if (it.p.kind == PostfixEvent::kNotification) notices.push_back(it.new_queue_id_hash);
  }
  std::sort(notices.begin(), notices.end());
  auto add = [&](std::string_view id, uint64_t h) {
    if (id.empty() || id.size() > 100) return;
    // (a hash shared with a notice only costs the read of that id)
    if (std::binary_search(notices.begin(), notices.end(), h)) return;
    ids.emplace_back(h, id);
  };
  // The messages that begin in this chunk (cleanup's message-id line comes
  // first): the others are usually cached already, and Apply reads the rest.
  for (const ParsedChunk::Item& it : chunk->items) {
    if (it.p.kind == PostfixEvent::kMessageId) add(it.p.queue_id, it.queue_id_hash);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  chunk->prefetch_hashes.clear();
  chunk->prefetch_hashes.reserve(ids.size());
  chunk->prefetch_ids.reserve(ids.size());
  for (const auto& [h, id] : ids) {
    chunk->prefetch_hashes.push_back(h);
    chunk->prefetch_ids.emplace_back(id);
  }
  Status st = store->GetQueueEntries(chunk->prefetch_ids, &chunk->prefetch_entries);
  if (!st.ok()) {
    chunk->prefetch_hashes.clear();
    chunk->prefetch_ids.clear();
    return st;
  }
  chunk->prefetched = true;
  return Status::Ok();
}

Status FeedbackEngine::Process(const std::vector<RawLine>& lines, int64_t now,
                               FeedbackBatch* batch, std::vector<Outcome>* outcomes) {
  parser_.Parse(lines, now, &parsed_);
  return Apply(parsed_, batch, outcomes);
}

Status FeedbackEngine::Apply(ParsedChunk& chunk, FeedbackBatch* batch,
                             std::vector<Outcome>* outcomes) {
  const int64_t now = chunk.now;
  // Bounded memory: forget what is cached between chunks (misses re-read
  // the store), never while a chunk holds pointers into it.
  if (cache_.size() >= kMaxCache) {
    cache_.Clear();
    cache_since_ = kNever;
  }
  if (cache_since_ == kNever) {
    for (const ParsedChunk::Item& it : chunk.items) {
      if (it.time != 0) {
        cache_since_ = it.time;
        break;
      }
    }
  }
  std::vector<std::pair<uint64_t, std::string_view>>& wanted = wanted_;  // (hash, id)
  wanted.clear();
  removed_.clear();
  size_t deliveries = 0;
  // What the first pass found for each item's queue id: the entry stays
  // where it is for the whole chunk (updated in place, never erased), so
  // the second pass looks up again only the ids not found here.
  hints_.assign(chunk.items.size(), nullptr);
  for (size_t i = 0; i < chunk.items.size(); ++i) {
    const ParsedChunk::Item& it = chunk.items[i];
    const PostfixLine& p = it.p;
    if (p.kind == PostfixEvent::kQueueActive) {
      // A null-sender message: if the milter never saw it, it is Postfix's
      // own (a bounce or delay notice), whatever order the bounce daemon's
      // "notification" line and the delivery lines reach the log in.
      if (null_sender_.size() >= kMaxNotices) null_sender_.Clear();
      null_sender_.Insert(p.queue_id, it.queue_id_hash);
      continue;
    }
    if (p.kind == PostfixEvent::kNotification) {
      // Postfix's own notice: never counted, never looked up. Recorded here,
      // before the second pass, because cleanup may log the notice's
      // message-id line before the bounce daemon logs this one.
      if (notices_.size() >= kMaxNotices) notices_.Clear();
      notices_.Insert(p.new_queue_id, it.new_queue_id_hash);
      continue;
    }
    auto want = [&](std::string_view id, uint64_t h, bool read_if_missing) -> Cached* {
      if (id.empty() || id.size() > 100) return nullptr;
      Cached* c = Find(id, h);
      if (c == nullptr ? read_if_missing : c->stub) wanted.emplace_back(h, id);
      return c;
    };
    if (notices_.Contains(p.queue_id, it.queue_id_hash)) continue;
    hints_[i] = want(p.queue_id, it.queue_id_hash, true);
    if (p.kind == PostfixEvent::kDelivery) {
      ++deliveries;
      // "queued as ID": ID is ours when a content filter re-injected the
      // message, and then cleanup logged ID's message-id line seconds
      // before (the filter answers after re-injecting), which put ID in the
      // cache. Once the cache holds every such line of the last hour, an ID
      // it misses is another server's (most "queued as" replies): no store
      // read. Until then (after a start, after the cache was emptied) the
      // store is asked, for a hop whose ID was logged before.
      want(it.queued_as, it.queued_as_hash,
           it.time - kHopWindow < cache_since_ && !Gone(it.queued_as, it.queued_as_hash));
    }
  }
  // Each id once (the order does not matter to Lookup).
  // Sorted by hash only: the same id lands next to itself without comparing
  // bytes; ids that share a hash may stay twice, which costs a lookup.
  std::sort(wanted.begin(), wanted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  Status st = Lookup(wanted, &chunk);
  if (!st.ok()) return st;
  batch->events.reserve(batch->events.size() + deliveries);
  stats_.lines += chunk.counts.lines;
  stats_.used += chunk.counts.used;
  stats_.malformed += chunk.counts.malformed;
  stats_.bad_bytes += chunk.counts.bad_bytes;
  stats_.too_long += chunk.counts.too_long;
  stats_.cut += chunk.counts.cut;

  // From here on nothing fails: the batch is only appended to.
  // Counts are summed per (account, day): one event each, whatever the
  // number of lines (a hard bounce that counts toward suppression keeps an
  // event of its own, for its recipient).
  summed_.clear();
  // Queue ids whose deferred recipients changed: written once each, as they
  // stand at the end of the chunk (Store::GetDeferred reads them back).
  auto mark_pending = [&](std::string_view id, uint64_t h) {
    if (id.empty() || id.size() > 100 || pending_dirty_.Contains(id, h)) return;
    pending_dirty_.Insert(id, h);
    pending_dirty_ids_.emplace_back(id);
  };
  auto event_for = [&](const std::string& account, int64_t t) -> FeedbackEvent& {
    const int64_t day = DayNumber(t);
    auto [at, fresh] = summed_.try_emplace(account);
    for (const auto& [d, index] : at->second) {
      if (d != day) continue;
      FeedbackEvent& e = batch->events[index];
      e.time = std::max(e.time, t);
      return e;
    }
    at->second.emplace_back(day, batch->events.size());
    batch->events.emplace_back();
    FeedbackEvent& e = batch->events.back();
    e.account = account;
    e.time = t;
    return e;
  };
  auto own_event = [&](const std::string& account, int64_t t) -> FeedbackEvent& {
    batch->events.emplace_back();
    FeedbackEvent& e = batch->events.back();
    e.account = account;
    e.time = t;
    return e;
  };
  static const std::string kUnattributed;
  // An outcome that counts nothing, for the caller's outcomes only.
  auto uncounted = [&](const ParsedChunk::Item& it, OutcomeOrigin origin) {
    const PostfixLine& p = it.p;
    Outcome o;
    o.queue_id = std::string(p.queue_id);
    o.origin = origin;
    o.time = it.time;
    if (p.kind == PostfixEvent::kExpired) {
      o.status = "expired";
      o.cls = OutcomeClass::kExpired;
      o.category = BounceCategory::kExpired;
    } else {
      o.recipient = std::string(p.recipient);
      o.status = std::string(p.status);
      o.dsn = std::string(p.dsn);
      o.reply = std::string(p.reply);
      o.relay = std::string(p.relay);
      o.cut = p.cut;
      o.classified = origin != OutcomeOrigin::kAddressProbe &&
                     origin != OutcomeOrigin::kUnknownStatus;
      o.cls = it.cl.cls;
      o.category = it.cl.category;
    }
    outcomes->push_back(std::move(o));
  };
  for (size_t i = 0; i < chunk.items.size(); ++i) {
    const ParsedChunk::Item& it = chunk.items[i];
    const PostfixLine& p = it.p;
    const std::string_view qid = p.queue_id;
    const uint64_t qh = it.queue_id_hash;
    auto find = [&]() { return hints_[i] != nullptr ? hints_[i] : Find(qid, qh); };
    switch (p.kind) {
      case PostfixEvent::kMessageId: {
        // No stub for Postfix's own notice: it can never be linked.
        if (notices_.Contains(qid, qh) || find() != nullptr) break;
        QueueEntry stub;
        stub.queue_id = std::string(qid);
        stub.time = it.time;
        stub.last_event = it.time;
        stub.message_id = std::string(p.message_id.substr(0, 998));
        batch->queue_stubs.push_back(stub);
        Remember(stub, true);
        break;
      }
      case PostfixEvent::kNotification:
        break;  // recorded in the first pass
      case PostfixEvent::kRemoved: {
        if (pending_.Erase(qid, qh)) mark_pending(qid, qh);
        notices_.Erase(qid, qh);
        null_sender_.Erase(qid, qh);
        // Queue-map entries expire 7 days after their last event. Rewrite
        // the entry only when that moves by more than a day: a message
        // delivered the day it was accepted costs no write here.
        Cached* c = find();
        if (c != nullptr && !c->stub &&
            it.time - std::max(c->entry.time, c->entry.last_event) > kTouchAfter) {
          c->entry.last_event = it.time;
          batch->queue_puts.push_back(c->entry);
        }
        // The message is gone: its entry leaves the cache with the chunk
        // (a late line for it reads the store), and a new message that
        // reuses the id in a later chunk is not taken for it.
        if (c != nullptr) removed_.emplace_back(qh, qid);
        break;
      }
      case PostfixEvent::kExpired: {
        if (notices_.Contains(qid, qh)) {
          if (outcomes != nullptr) uncounted(it, OutcomeOrigin::kPostfixNotice);
          break;
        }
        Cached* c = find();
        if (c != nullptr && c->stub) Link(c, batch);
        if ((c == nullptr || c->stub) && null_sender_.Contains(qid, qh)) {
          if (outcomes != nullptr) uncounted(it, OutcomeOrigin::kPostfixNotice);
          break;
        }
        const std::string& account = (c != nullptr && !c->stub) ? c->entry.account : kUnattributed;
        const auto* pit = pending_.Find(qid, qh);
        const uint64_t n = pit == nullptr || pit->empty() ? 1 : pit->size();
        if (pit != nullptr) {
          pending_.Erase(qid, qh);
          mark_pending(qid, qh);
        }
        FeedbackEvent& e = event_for(account, it.time);
        e.delta.expired += n;
        stats_.outcomes += n;
        if (account.empty()) stats_.unattributed += n;
        if (outcomes != nullptr) {
          Outcome o;
          o.queue_id = std::string(qid);
          o.account = account;
          o.status = "expired";
          o.cls = OutcomeClass::kExpired;
          o.category = BounceCategory::kExpired;
          o.origin = account.empty() ? OutcomeOrigin::kUnattributed : OutcomeOrigin::kAccount;
          o.time = it.time;
          outcomes->push_back(std::move(o));
        }
        break;
      }
      case PostfixEvent::kDelivery: {
        if (p.delivery == DeliveryStatus::kDeliverable ||
            p.delivery == DeliveryStatus::kUndeliverable || p.delivery == DeliveryStatus::kOther) {
          // Address probes and unknown words: not deliveries.
          if (outcomes != nullptr) {
            uncounted(it, p.delivery == DeliveryStatus::kOther ? OutcomeOrigin::kUnknownStatus
                                                               : OutcomeOrigin::kAddressProbe);
          }
          break;
        }
        if (notices_.Contains(qid, qh)) {
          if (outcomes != nullptr) uncounted(it, OutcomeOrigin::kPostfixNotice);
          break;
        }
        Cached* c = find();
        if (c != nullptr && c->stub) Link(c, batch);
        if ((c == nullptr || c->stub) && null_sender_.Contains(qid, qh)) {
          if (outcomes != nullptr) uncounted(it, OutcomeOrigin::kPostfixNotice);
          break;
        }
        const std::string& account =
            (c != nullptr && !c->stub) ? c->entry.account : kUnattributed;
        Outcome o;
        if (outcomes != nullptr) {
          o.queue_id = std::string(qid);
          o.recipient = std::string(p.recipient);
          o.account = account;
          o.status = std::string(p.status);
          o.dsn = std::string(p.dsn);
          o.reply = std::string(p.reply);
          o.relay = std::string(p.relay);
          o.origin = account.empty() ? OutcomeOrigin::kUnattributed : OutcomeOrigin::kAccount;
          o.cut = p.cut;
          o.time = it.time;
        }
        const Classification& cl = it.cl;
        o.cls = cl.cls;
        o.category = cl.category;
        // A hop to a content filter of this Postfix: the new queue id
        // carries the message on.
        // (An RFC 5424 line from rsyslog names no agent: its relay decides.)
        if (p.delivery == DeliveryStatus::kSent && (p.agent == "pipe" || p.agent.empty()) &&
            std::find(settings_.filter_transports.begin(), settings_.filter_transports.end(),
                      p.relay) != settings_.filter_transports.end()) {
          // Handed to a pipe content filter that sends it back through
          // Postfix: the copy it re-injects gets a new queue id, linked to
          // this account by its Message-ID at its first outcome.
          o.hop = true;
          ++stats_.hops;
        } else if (p.delivery == DeliveryStatus::kSent) {
          const std::string_view next = it.queued_as;
          Cached* n = next.empty() ? nullptr : Find(next, it.queued_as_hash);
          if (n == nullptr && !next.empty() && next != p.queue_id &&
              Gone(next, it.queued_as_hash)) {
            // The re-injected copy was delivered and removed before the
            // filter's answer reached the log: a hop all the same (the
            // copy's outcomes were linked by its Message-ID).
            o.hop = true;
            ++stats_.hops;
          } else if (n != nullptr && next != p.queue_id) {
            o.hop = true;
            ++stats_.hops;
            if (n->stub && !account.empty()) {
              n->entry.account = account;
              if (c != nullptr) n->entry.recipients = c->entry.recipients;
              n->stub = false;
              batch->queue_puts.push_back(n->entry);
              ++stats_.linked;
            }
          }
        }
        if (!o.hop) {
          if (o.cls == OutcomeClass::kDeferred) {
            if (pending_.size() < kMaxPendingMessages || pending_.Contains(qid, qh)) {
              if (pending_.Get(qid, qh).insert(std::string(p.recipient)).second) {
                mark_pending(qid, qh);
              }
            }
          } else if (auto* pit = pending_.Find(qid, qh); pit != nullptr) {
            if (pit->erase(std::string(p.recipient)) != 0) {
              if (pit->empty()) pending_.Erase(qid, qh);
              mark_pending(qid, qh);
            }
          }
          if (o.cls == OutcomeClass::kHard && SuppressesRecipient(o.category)) {
            FeedbackEvent& e = own_event(account, it.time);
            CountInto(&e.delta, o.cls);
            e.hard_recipient = SuppressionAddress(p.recipient);
            e.category = std::string(BounceCategoryName(o.category));
          } else {
            CountInto(&event_for(account, it.time).delta, o.cls);
          }
          if (o.cls != OutcomeClass::kDeferred) {
            ++stats_.outcomes;
            if (account.empty()) ++stats_.unattributed;
          }
        }
        if (outcomes != nullptr) outcomes->push_back(std::move(o));
        break;
      }
      case PostfixEvent::kQueueActive:
      case PostfixEvent::kNone:
        break;
    }
  }
  // No pointer into the cache is held from here on.
  for (const auto& [h, id] : removed_) {
    cache_.Erase(id, h);
    gone_.Insert(id, h);
  }
  removed_.clear();
  if (gone_since_ == kNever) gone_since_ = cache_since_;
  int64_t t = 0;  // the chunk's last time
  for (auto r = chunk.items.rbegin(); r != chunk.items.rend() && t == 0; ++r) t = r->time;
  if ((t != 0 && t - gone_since_ >= kHopWindow) || gone_.size() >= kMaxNotices) {
    std::swap(gone_, gone_before_);
    gone_.Clear();
    gone_since_ = t != 0 ? t : gone_since_;
  }
  for (const std::string& id : pending_dirty_ids_) {
    DeferredRecord d;
    d.queue_id = id;
    d.time = now;
    if (const auto* set = pending_.Find(id, detail::QueueIdHash(id)); set != nullptr) {
      d.recipients.assign(set->begin(), set->end());
      std::sort(d.recipients.begin(), d.recipients.end());
    }
    batch->deferred.push_back(std::move(d));
  }
  pending_dirty_.Clear();
  pending_dirty_ids_.clear();
  // Which accounts the store reviews with this batch.
  if (!batch->review_only) batch->review_only.emplace();
  std::unordered_set<std::string> named(batch->review_only->begin(), batch->review_only->end());
  for (const FeedbackEvent& e : batch->events) {
    if (e.account.empty() || named.count(e.account) != 0) continue;
    const bool bad = e.delta.hard > 0 || e.delta.complaints > 0 || e.delta.expired > 0;
    auto it = reviewed_.find(e.account);
    if (!bad && it != reviewed_.end() && now - it->second < settings_.review_every_s) continue;
    if (reviewed_.size() >= kMaxCache) reviewed_.clear();
    reviewed_[e.account] = now;
    batch->review_only->push_back(e.account);
    named.insert(e.account);
  }
  return Status::Ok();
}

}  // namespace senderguard
