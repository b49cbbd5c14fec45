#include "senderguard/feedback.h"

#include <algorithm>
#include <cctype>
#include <climits>

#include "senderguard/account_state.h"
#include "senderguard/identity.h"
#include "senderguard/kvlog.h"

namespace senderguard {
namespace {

constexpr size_t kMaxCache = 200000;    // queue entries remembered between chunks
constexpr size_t kMaxPending = 100000;  // queue ids with deferred recipients tracked
constexpr size_t kMaxNotices = 100000;
constexpr int64_t kLinkWindow = 2 * 86400;  // a Message-ID link reaches this far back
constexpr int64_t kTouchAfter = 86400;      // see kRemoved

// "... queued as 4jZV3G6kF3z1bkqs)" -> the id, if the reply names one.
std::string_view QueuedAs(std::string_view reply) {
  const size_t at = reply.rfind("queued as ");
  if (at == std::string_view::npos) return {};
  std::string_view id = reply.substr(at + 10);
  size_t n = 0;
  while (n < id.size() && n < 32 && (std::isalnum(static_cast<unsigned char>(id[n])) != 0)) ++n;
  id = id.substr(0, n);
  return IsPostfixQueueId(id) ? id : std::string_view();
}

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

DayCounts ToDayCounts(const DayCountsRecord& r) {
  DayCounts d;
  d.delivered = r.delivered;
  d.deferred = r.deferred;
  d.hard = r.hard;
  d.soft = r.soft;
  d.technical = r.technical;
  d.expired = r.expired;
  d.complaints = r.complaints;
  return d;
}

DayCountsRecord ToRecord(const DayCounts& d) {
  return DayCountsRecord{d.delivered, d.deferred, d.hard, d.soft, d.technical, d.expired,
                         d.complaints};
}

FeedbackEngine::FeedbackEngine(Store* store, const BounceRules* rules, FeedbackSettings settings)
    : store_(store), rules_(rules), settings_(std::move(settings)) {}

FeedbackEngine::Cached* FeedbackEngine::Find(std::string_view qid) {
  auto it = cache_.find(std::string(qid));
  return it == cache_.end() ? nullptr : &it->second;
}

void FeedbackEngine::Remember(const QueueEntry& q, bool stub) {
  // Never erases: callers hold pointers into the cache (std::unordered_map
  // keeps them valid across inserts). Process trims it between chunks.
  cache_[q.queue_id] = Cached{q, stub};
}

Status FeedbackEngine::Lookup(const std::vector<std::string>& ids) {
  if (store_ == nullptr || ids.empty()) return Status::Ok();
  auto got = store_->GetQueueEntries(ids);
  if (!got.ok()) return got.status();
  for (auto& e : got.value()) {
    if (e) Remember(*e, e->account.empty());
  }
  return Status::Ok();
}

// Links a stub (a queue id the milter never saw) to the entry with the same
// Message-ID that has an account. Returns whether it did.
bool FeedbackEngine::Link(Cached* c, FeedbackBatch* batch) {
  if (store_ == nullptr || c->entry.message_id.empty() || c->entry.message_id == "<>") return false;
  auto ids = store_->FindByMessageId(c->entry.message_id);
  if (!ids.ok() || ids.value().empty()) return false;
  std::vector<std::string> others;
  for (const auto& id : ids.value()) {
    if (id != c->entry.queue_id) others.push_back(id);
  }
  auto got = store_->GetQueueEntries(others);
  if (!got.ok()) return false;
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

Status FeedbackEngine::Process(const std::vector<RawLine>& lines, int64_t now,
                               FeedbackBatch* batch, std::vector<Outcome>* outcomes) {
  // Bounded memory: forget what is cached between chunks (misses re-read
  // the store), never while a chunk holds pointers into it.
  if (cache_.size() >= kMaxCache) cache_.clear();
  struct Item {
    PostfixLine p;
    int64_t time;
  };
  std::vector<Item> items;
  items.reserve(lines.size());
  std::vector<std::string> missing;
  std::unordered_set<std::string_view> asked;
  for (const RawLine& raw : lines) {
    ++stats_.lines;
    PostfixLine p = raw.program.empty() ? ParsePostfixLine(raw.text)
                                        : ParsePostfixMessage(raw.program, raw.text);
    if (p.kind == PostfixEvent::kNone) {
      if (p.skip == PostfixSkip::kMalformed) ++stats_.malformed;
      if (p.skip == PostfixSkip::kBadBytes) ++stats_.bad_bytes;
      if (p.skip == PostfixSkip::kTooLong) ++stats_.too_long;
      continue;
    }
    if (p.kind == PostfixEvent::kQueueActive) {
      // A null-sender message: if the milter never saw it, it is Postfix's
      // own (a bounce or delay notice), whatever order the bounce daemon's
      // "notification" line and the delivery lines reach the log in.
      if (p.sender.empty() && p.queue_id.size() <= 100) {
        if (null_sender_.size() >= kMaxNotices) null_sender_.clear();
        null_sender_.insert(std::string(p.queue_id));
      }
      continue;
    }
    ++stats_.used;
    int64_t t = raw.time;
    if (t == 0) {
      if (p.timestamp == last_ts_ && !last_ts_.empty()) {
        t = last_ts_value_;
      } else {
        auto parsed = ParseSyslogTime(p.timestamp, now, settings_.tz);
        t = parsed ? *parsed : now;
        last_ts_.assign(p.timestamp);
        last_ts_value_ = t;
      }
    }
    auto want = [&](std::string_view id) {
      if (id.empty() || id.size() > 100) return;
      const Cached* c = Find(id);
      if (c != nullptr && !c->stub) return;
      if (asked.insert(id).second) missing.emplace_back(id);
    };
    if (p.kind != PostfixEvent::kNotification) want(p.queue_id);
    if (p.kind == PostfixEvent::kDelivery && p.delivery == DeliveryStatus::kSent) {
      want(QueuedAs(p.reply));
    }
    items.push_back(Item{p, t});
  }
  Status st = Lookup(missing);
  if (!st.ok()) return st;

  // From here on nothing fails: the batch is only appended to.
  auto event_for = [&](const std::string& account, int64_t t) -> FeedbackEvent& {
    batch->events.emplace_back();
    FeedbackEvent& e = batch->events.back();
    e.account = account;
    e.time = t;
    return e;
  };
  for (Item& it : items) {
    const PostfixLine& p = it.p;
    const std::string qid(p.queue_id);
    switch (p.kind) {
      case PostfixEvent::kMessageId: {
        if (Find(qid) != nullptr) break;
        QueueEntry stub;
        stub.queue_id = qid;
        stub.time = it.time;
        stub.last_event = it.time;
        stub.message_id = std::string(p.message_id.substr(0, 998));
        batch->queue_stubs.push_back(stub);
        Remember(stub, true);
        break;
      }
      case PostfixEvent::kNotification:
        if (notices_.size() >= kMaxNotices) notices_.clear();
        notices_.insert(std::string(p.new_queue_id));
        break;
      case PostfixEvent::kRemoved: {
        pending_.erase(qid);
        notices_.erase(qid);
        null_sender_.erase(qid);
        // Queue-map entries expire 7 days after their last event. Rewrite
        // the entry only when that moves by more than a day: a message
        // delivered the day it was accepted costs no write here.
        Cached* c = Find(qid);
        if (c != nullptr && !c->stub &&
            it.time - std::max(c->entry.time, c->entry.last_event) > kTouchAfter) {
          c->entry.last_event = it.time;
          batch->queue_puts.push_back(c->entry);
        }
        break;
      }
      case PostfixEvent::kExpired: {
        if (notices_.count(qid) != 0) break;
        Cached* c = Find(qid);
        if (c != nullptr && c->stub) Link(c, batch);
        if ((c == nullptr || c->stub) && null_sender_.count(qid) != 0) break;
        const std::string account = (c != nullptr && !c->stub) ? c->entry.account : "";
        auto pit = pending_.find(qid);
        const uint64_t n = pit == pending_.end() || pit->second.empty() ? 1 : pit->second.size();
        if (pit != pending_.end()) pending_.erase(pit);
        FeedbackEvent& e = event_for(account, it.time);
        e.delta.expired = n;
        stats_.outcomes += n;
        if (account.empty()) stats_.unattributed += n;
        if (outcomes != nullptr) {
          Outcome o;
          o.queue_id = qid;
          o.account = account;
          o.status = "expired";
          o.cls = OutcomeClass::kExpired;
          o.category = BounceCategory::kOther;
          o.time = it.time;
          outcomes->push_back(std::move(o));
        }
        break;
      }
      case PostfixEvent::kDelivery: {
        if (p.delivery == DeliveryStatus::kDeliverable ||
            p.delivery == DeliveryStatus::kUndeliverable || p.delivery == DeliveryStatus::kOther) {
          break;  // address probes and unknown words: not deliveries
        }
        if (notices_.count(qid) != 0) break;
        Cached* c = Find(qid);
        if (c != nullptr && c->stub) Link(c, batch);
        if ((c == nullptr || c->stub) && null_sender_.count(qid) != 0) break;
        const std::string account = (c != nullptr && !c->stub) ? c->entry.account : "";
        Outcome o;
        if (outcomes != nullptr) {
          o.queue_id = qid;
          o.recipient = std::string(p.recipient);
          o.account = account;
          o.status = std::string(p.status);
          o.dsn = std::string(p.dsn);
          o.reply = std::string(p.reply);
          o.relay = std::string(p.relay);
          o.time = it.time;
        }
        const Classification cl = rules_->Classify(p.status, p.dsn, p.reply);
        o.cls = cl.cls;
        o.category = cl.category;
        // A hop to a content filter of this Postfix: the new queue id
        // carries the message on.
        if (p.delivery == DeliveryStatus::kSent) {
          const std::string_view next = QueuedAs(p.reply);
          Cached* n = next.empty() ? nullptr : Find(next);
          if (n != nullptr && next != p.queue_id) {
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
          const std::string rcpt(p.recipient);
          if (o.cls == OutcomeClass::kDeferred) {
            if (pending_.size() < kMaxPending || pending_.count(qid) != 0) pending_[qid].insert(rcpt);
          } else if (auto pit = pending_.find(qid); pit != pending_.end()) {
            pit->second.erase(rcpt);
          }
          FeedbackEvent& e = event_for(account, it.time);
          CountInto(&e.delta, o.cls);
          if (o.cls == OutcomeClass::kHard && SuppressesRecipient(o.category)) {
            e.hard_recipient = SuppressionAddress(p.recipient);
            e.category = std::string(BounceCategoryName(o.category));
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

// ---- review

namespace {
DayBuckets ToBuckets(const StoredDays& days) {
  DayBuckets b;
  b.reserve(days.size());
  for (const auto& [day, counts] : days) b.emplace_back(day, ToDayCounts(counts));
  return b;
}
int64_t SinceDay(const AccountRecord& a) {
  return a.rates_since > 0 ? DayNumber(a.rates_since) + 1 : INT64_MIN;
}
}  // namespace

Rates AccountRates(const ReputationConfig& cfg, int64_t now, const AccountRecord& account,
                   const StoredDays& days) {
  return ComputeRates(ToBuckets(days), DayNumber(now), SinceDay(account), cfg);
}

void ReviewAccount(const ReputationConfig& cfg, int64_t now, const std::string& actor,
                   AccountRecord* a, const StoredDays& days, uint64_t batch_complaints,
                   ReviewOutcome* out) {
  const DayBuckets buckets = ToBuckets(days);
  const int64_t today = DayNumber(now);
  TierState ts{a->tier, static_cast<int>(std::min<uint32_t>(a->clean_days, INT_MAX)),
               a->rated_through};
  if (ts.rated_through == 0 && a->created > 0) ts.rated_through = DayNumber(a->created) - 1;
  const TierState next = StepTier(ts, buckets, today, cfg);
  if (next.tier != a->tier) {
    AuditEntry e;
    e.time_us = now * 1000000;
    e.actor = actor;
    e.action = "tier";
    e.account = a->name;
    e.detail = "tier " + std::to_string(a->tier) + " -> " + std::to_string(next.tier);
    out->audit.push_back(e);
    out->alerts.push_back("account=" + KvEscape(a->name) + " action=tier from=" +
                          std::to_string(a->tier) + " to=" + std::to_string(next.tier));
  }
  a->tier = static_cast<uint8_t>(next.tier);
  a->clean_days = static_cast<uint32_t>(std::max(0, next.clean_days));
  a->rated_through = next.rated_through;

  const Rates rates = ComputeRates(buckets, today, SinceDay(*a), cfg);
  const EffectiveState eff = EffectiveAt(*a, now);
  const SuspendDecision d = DecideSuspension(rates, eff.status, batch_complaints, cfg);
  if (d.reason == SuspendReason::kNone) return;
  const std::string reason = std::string(SuspendReasonName(d.reason)) + ": " + d.detail;
  Suspend(a, reason, actor, now);
  AuditEntry e;
  e.time_us = now * 1000000;
  e.actor = actor;
  e.action = "suspend";
  e.account = a->name;
  e.detail = reason;
  out->audit.push_back(e);
  out->alerts.push_back("account=" + KvEscape(a->name) + " action=suspend reason=" +
                        std::string(SuspendReasonName(d.reason)) +
                        " complaint_rate=" + std::to_string(rates.complaint_rate) +
                        " hard_rate=" + std::to_string(rates.hard_rate) +
                        " delivered=" + std::to_string(rates.totals.delivered) +
                        " detail=" + KvEscape(d.detail));
}

}  // namespace senderguard
