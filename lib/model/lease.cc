#include "senderguard/model/lease.h"

#include <algorithm>

#include "senderguard/model/window.h"

namespace senderguard {

namespace {

constexpr uint64_t kMaxBlock = 1'000'000;
constexpr uint64_t kMaxRateUnits = 1'000'000'000;

int64_t DeadlineAfter(int64_t sent_ms, const LeaseTiming& t) {
  return sent_ms + t.ttl_ms - t.margin_ms;
}

// Units a take adds first cover the units no live lease covers.
void Cover(LeaseEntry* e) {
  const uint64_t c = std::min(e->excess, e->spare);
  e->spare -= c;
  e->excess -= c;
}

// The lease ended: nothing more is spent from it, and whatever is still to
// report needs a new lease's cover.
void Ended(LeaseEntry* e) {
  e->dead = true;
  e->spare = 0;
  e->excess = e->unreported;
}

}  // namespace

LeaseTiming LeaseTimingFor(uint32_t ttl_s) {
  LeaseTiming t;
  t.ttl_ms = static_cast<int64_t>(std::max<uint32_t>(ttl_s, 1)) * 1000;
  // Clocks' rates agree far better than 10%; the margin also covers the
  // time a call takes to reach the database after it was sent.
  t.margin_ms = std::max<int64_t>(200, t.ttl_ms / 10);
  t.idle_ms = std::clamp<int64_t>(t.ttl_ms / 4, 100, 5000);
  t.exhausted_ms = std::clamp<int64_t>(t.ttl_ms / 4, 100, 1000);
  t.resend_ms = std::clamp<int64_t>(t.ttl_ms / 3, 300, 3000);
  return t;
}

void AdoptBoot(LeaseEntry* e, uint64_t boot) {
  if (e->boot == boot) return;
  e->deadline_ms = 0;
  e->last_use_ms = 0;
  e->pending_since_ms = 0;
  e->exhausted_until_ms = 0;
  e->take_since_ms = 0;
  e->rate_since_ms = 0;
  e->rate_units = 0;
  e->boot = boot;
}

LeaseEntry LeaseEntryOf(const std::optional<LeaseEntry>& stored, uint64_t limit, int64_t reset,
                        uint64_t boot, uint64_t counted) {
  LeaseEntry e;
  if (stored) {
    e = *stored;
    AdoptBoot(&e, boot);
  } else {
    e.limit = limit;
    e.reset = reset;
    e.boot = boot;
    e.acked = counted;
  }
  return e;
}

bool LeaseUsable(const LeaseEntry& e, int64_t now_ms) {
  return e.lease_id != 0 && !e.dead && now_ms < e.deadline_ms;
}

uint64_t LeaseAvailable(const LeaseEntry& e, uint64_t held, int64_t now_ms) {
  if (!LeaseUsable(e, now_ms)) return 0;
  return e.spare > held ? e.spare - held : 0;
}

bool LeaseExhausted(const LeaseEntry& e, uint64_t limit, int64_t now_ms) {
  return e.exhausted_until_ms > now_ms && e.limit == limit;
}

uint64_t LeaseBlock(const LeaseEntry& e, int64_t now_ms, const LeaseTiming& t) {
  uint64_t mups = e.rate_mups;
  if (e.rate_since_ms > 0 && now_ms >= e.rate_since_ms) {
    const int64_t span = std::max(now_ms - e.rate_since_ms, t.rate_period_ms);
    mups = std::max<uint64_t>(mups, e.rate_units * 1'000'000 / static_cast<uint64_t>(span));
  }
  // ceil(units per s * block s), in integers: mups * block_ms / 1e6.
  const uint64_t block = (mups * static_cast<uint64_t>(t.block_ms) + 999'999) / 1'000'000;
  return std::clamp<uint64_t>(block, 1, kMaxBlock);
}

void NoteDemand(LeaseEntry* e, uint64_t amount, int64_t now_ms, const LeaseTiming& t) {
  e->last_use_ms = now_ms;  // asked for: in use, held or not
  if (amount == 0) return;
  if (e->rate_since_ms <= 0 || now_ms < e->rate_since_ms) {
    e->rate_since_ms = now_ms;
    e->rate_units = 0;
  } else if (now_ms - e->rate_since_ms >= t.rate_period_ms) {
    e->rate_mups = e->rate_units * 1'000'000 / static_cast<uint64_t>(now_ms - e->rate_since_ms);
    e->rate_since_ms = now_ms;
    e->rate_units = 0;
  }
  e->rate_units = std::min(e->rate_units + amount, kMaxRateUnits);
}

LeaseFit CheckLease(const LeaseEntry& e, uint64_t amount, uint64_t held, uint64_t committed,
                    uint64_t limit, uint64_t allowance, int64_t now_ms) {
  LeaseFit f;
  const uint64_t avail = LeaseAvailable(e, held, now_ms);
  if (amount <= avail) {
    f.fits = true;
    return f;
  }
  if (LeaseExhausted(e, limit, now_ms)) {
    f.exhausted = true;
    return f;
  }
  if (allowance > 0 && e.allowance_used <= allowance && amount <= allowance - e.allowance_used &&
      Fits(committed, held, amount, limit)) {
    f.fits = true;
    f.allowance = true;
    return f;
  }
  f.shortfall = amount - avail;
  return f;
}

void NoteHeld(LeaseEntry* e, uint64_t amount, bool by_allowance, int64_t now_ms) {
  e->last_use_ms = now_ms;
  if (by_allowance) e->allowance_used += amount;
}

void NoteCommitted(LeaseEntry* e, uint64_t amount, int64_t now_ms) {
  const uint64_t from_spare = std::min(e->spare, amount);
  e->spare -= from_spare;
  e->excess += amount - from_spare;
  e->unreported += amount;
  e->last_use_ms = now_ms;
}

bool ApplyTake(LeaseEntry* e, int64_t lease_id, uint64_t granted, uint64_t want, int64_t sent_ms,
               int64_t now_ms, const LeaseTiming& t) {
  e->take_since_ms = 0;
  if (lease_id == 0) {  // nothing granted, no open lease
    if (want > 0) e->exhausted_until_ms = now_ms + t.exhausted_ms;
    return true;
  }
  if (lease_id < e->lease_id) return false;  // lease ids only grow
  if (lease_id > e->lease_id) {
    // A new lease: the entry's previous one ended (or there was none).
    // Whatever is still unreported is reported against this one.
    e->lease_id = lease_id;
    e->spare = 0;
    e->excess = e->unreported;
    e->deadline_ms = DeadlineAfter(sent_ms, t);
  } else {
    e->deadline_ms = std::max(e->deadline_ms, DeadlineAfter(sent_ms, t));
  }
  e->dead = false;
  e->spare += granted;
  Cover(e);
  if (want > 0 && granted == 0) {
    e->exhausted_until_ms = now_ms + t.exhausted_ms;
  } else if (granted > 0) {
    e->exhausted_until_ms = 0;
  }
  return true;
}

bool ClaimReport(LeaseEntry* e, std::string_view key, int64_t now_ms) {
  if (e->pending != LeaseOp::kNone || e->unreported == 0 || e->lease_id == 0) return false;
  e->pending = LeaseOp::kCommit;
  e->pending_lease = e->lease_id;
  e->pending_units = e->unreported;
  e->pending_key = std::string(key);
  e->pending_since_ms = now_ms;
  e->unreported = 0;
  e->excess = 0;  // reported with the rest: the database counts them late
  return true;
}

bool ClaimReturn(LeaseEntry* e, uint64_t held, std::string_view key, int64_t now_ms) {
  if (e->pending != LeaseOp::kNone || e->lease_id == 0 || e->dead || e->spare <= held)
    return false;
  e->pending = LeaseOp::kReturn;
  e->pending_lease = e->lease_id;
  e->pending_units = e->spare - held;
  e->pending_key = std::string(key);
  e->pending_since_ms = now_ms;
  e->spare = held;
  return true;
}

bool ApplyAnswer(LeaseEntry* e, std::string_view key, std::string_view status, uint64_t units,
                 int64_t committed, int64_t sent_ms, const LeaseTiming& t) {
  if (e->pending == LeaseOp::kNone || e->pending_key != key) return false;
  const LeaseOp op = e->pending;
  const bool current = e->pending_lease == e->lease_id;
  e->pending = LeaseOp::kNone;
  e->pending_lease = 0;
  e->pending_units = 0;
  e->pending_key.clear();
  e->pending_since_ms = 0;
  const bool open = status == "ok" || status == "over";
  if (!open) {
    if (current) Ended(e);
    return true;
  }
  if (op == LeaseOp::kCommit) {
    e->acked += units;
    if (committed >= 0 && static_cast<uint64_t>(committed) >= e->acked)
      e->others = static_cast<uint64_t>(committed) - e->acked;
  }
  if (current) e->deadline_ms = std::max(e->deadline_ms, DeadlineAfter(sent_ms, t));
  return true;
}

uint64_t DropUnreportable(LeaseEntry* e) {
  if (e->lease_id != 0 || e->pending != LeaseOp::kNone) return 0;
  const uint64_t n = e->unreported;
  e->unreported = 0;
  e->excess = 0;
  return n;
}

LeasePlan PlanLease(const LeaseEntry& e, uint64_t held, int64_t now_ms, int64_t unix_now,
                    const LeaseTiming& t) {
  LeasePlan p;
  const bool in_use = e.last_use_ms > 0 && now_ms - e.last_use_ms < t.idle_ms;
  const bool ended = unix_now >= e.reset;
  const bool exhausted = e.exhausted_until_ms > now_ms;
  const bool alive = e.lease_id != 0 && !e.dead;
  const bool timely = alive && now_ms < e.deadline_ms;
  const bool idle_pending = e.pending == LeaseOp::kNone;
  if (!idle_pending) p.resend = now_ms - e.pending_since_ms >= t.resend_ms;

  // Units no live lease covers are covered by a take first (so that they
  // count as committed while the window has room), else reported late.
  const bool uncovered = e.unreported > 0 && (e.excess > 0 || !timely);
  if (uncovered && !exhausted) {
    p.take = true;
    p.want = timely ? e.excess : e.unreported;
  } else if (e.unreported > 0 && idle_pending) {
    p.report = true;
  }

  if (in_use && !ended && !exhausted) {
    const uint64_t avail = LeaseAvailable(e, held, now_ms);
    const uint64_t block = LeaseBlock(e, now_ms, t);
    if (avail * 2 < block) {
      p.take = true;
      p.want = std::max(p.want, block - avail);
    } else if (timely && e.deadline_ms - now_ms < t.ttl_ms / 2) {
      p.take = true;  // renew
    }
  }

  // Another process of the node has a take on its way.
  if (p.take && e.take_since_ms > 0 && now_ms - e.take_since_ms < t.resend_ms) {
    p.take = false;
    p.want = 0;
  }

  // Idle, or its window over and no longer charged: what is not held goes
  // back (holds of open transactions stay until their end).
  if (!in_use && idle_pending && e.unreported == 0 && alive && e.spare > held) p.give_back = true;

  const bool empty = idle_pending && e.unreported == 0 && held == 0 && (e.spare == 0 || !alive);
  const bool forgotten = !in_use && e.allowance_used == 0 && now_ms - e.last_use_ms >= t.ttl_ms;
  p.erase = empty && !p.take && (ended || forgotten);
  return p;
}

std::optional<WindowSpan> NextInstanceDue(const LeaseEntry& e, Window w, int64_t start,
                                          int64_t now_ms, int64_t unix_now, const LeaseTiming& t) {
  const int64_t length = e.reset - start;
  if (!((w == Window::kMinute && length == 60) || (w == Window::kHour && length == 3600)))
    return std::nullopt;
  const bool in_use = e.last_use_ms > 0 && now_ms - e.last_use_ms < t.idle_ms;
  if (!in_use || unix_now >= e.reset || e.reset - unix_now > 2) return std::nullopt;
  return WindowSpan{e.reset, e.reset + length};
}

LeaseEntry NextInstanceEntry(const LeaseEntry& e, const WindowSpan& next, int64_t now_ms) {
  LeaseEntry n;
  n.limit = e.limit;
  n.reset = next.reset;
  n.boot = e.boot;
  n.last_use_ms = now_ms;
  n.rate_mups = e.rate_mups;
  n.rate_since_ms = e.rate_since_ms;
  n.rate_units = e.rate_units;
  return n;
}

}  // namespace senderguard
