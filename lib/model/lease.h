// A node's share of one quota window instance in a fleet (docs/fleet.md,
// "The lease protocol"): the ledger entry a node keeps for each (account,
// window, start) it spends from a leased block, and the arithmetic of it.
// Values and pure functions only: the PostgreSQL store (store/postgresql/
// pg_leases.cc) keeps one LeaseEntry per window instance in the node's LMDB,
// shared by every process of the machine, and decides with these functions
// what to hold locally and what to ask PostgreSQL for. The caller passes the
// time: `now_ms` is the machine's monotonic clock in milliseconds (one clock
// for every process of one boot), `unix_now` the wall clock in seconds.
//
// The units of an entry, as the node sees them:
//   spare       granted by the current lease and not yet committed here,
//               given back or claimed by a return (holds of open SMTP
//               transactions are spent from it: held <= spare normally)
//   unreported  committed here and not yet claimed by a report
//   excess      of `unreported`, units no live lease covers (committed
//               beyond the spare: a dry run, the local allowance, a lease
//               that ended): a take covers them before they are reported,
//               or the database counts them late
//   pending     the one call in flight (a report or a return), written
//               before it is sent and cleared by its answer, so a lost
//               answer is re-sent with the same idempotency key
// So, while nothing is in excess: spare + unreported + pending units <=
// what the lease holds in the database, and nothing this node sends can
// push the fleet's committed count over the limit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "senderguard/model/window.h"

namespace senderguard {

enum class LeaseOp : uint8_t { kNone = 0, kCommit = 1, kReturn = 2 };

struct LeaseEntry {
  int64_t lease_id = 0;        // the database's lease; 0 = none yet
  bool dead = false;           // the database said it ended (expired, closed, unknown)
  uint64_t spare = 0;
  uint64_t unreported = 0;
  uint64_t excess = 0;
  LeaseOp pending = LeaseOp::kNone;
  int64_t pending_lease = 0;   // the lease the pending call names
  uint64_t pending_units = 0;
  std::string pending_key;     // its idempotency key
  int64_t pending_since_ms = 0;
  int64_t deadline_ms = 0;     // no unit of the lease is spent from this time on
  int64_t last_use_ms = 0;     // the last Reserve (held or not) or commit
  uint64_t limit = 0;          // the window's limit as last charged (for takes)
  int64_t reset = 0;           // the window instance's end (Unix s)
  uint64_t acked = 0;          // units of this node the database counted committed
  uint64_t others = 0;         // the fleet's committed count beside `acked`, as last known
  int64_t exhausted_until_ms = 0;  // a take found the window full: refuse without asking
  int64_t take_since_ms = 0;   // a process of the node sent a take for it (no second one)
  uint64_t allowance_used = 0;     // on_unavailable = "local": units spent beyond leases
  int64_t rate_since_ms = 0;   // demand: units asked since then ...
  uint64_t rate_units = 0;
  uint64_t rate_mups = 0;      // ... and the rate of the last period, in milli-units per s
  uint64_t boot = 0;           // the boot the monotonic times above belong to
};

// The timings of leases, from [store.postgresql] lease_ttl_s.
struct LeaseTiming {
  int64_t ttl_ms = 60000;      // the database ends a lease this long after the last call on it
  int64_t margin_ms = 6000;    // the node stops spending this much earlier
  int64_t idle_ms = 5000;      // a lease unused this long is given back
  int64_t block_ms = 4000;     // a take asks for this long of the recent demand
  int64_t exhausted_ms = 1000; // after a take found nothing, ask again after this long
  int64_t resend_ms = 3000;    // a pending call unanswered this long is sent again
  int64_t rate_period_ms = 2000;
};
LeaseTiming LeaseTimingFor(uint32_t ttl_s);

// An entry written in another boot: its monotonic times mean nothing now
// (deadline passed, pending call stale, idle). Sets e->boot = boot.
void AdoptBoot(LeaseEntry* e, uint64_t boot);

// The entry of a window instance as the ledger holds it (`stored`), its
// times adopted to this boot (AdoptBoot); when none is stored, a fresh one
// of `limit` and `reset` (no lease, nothing spare or unreported) whose
// `acked` is `counted`, the node's count of the instance before it: an
// entry is erased only with nothing unreported or pending, so the units
// counted before it were reported and are in the fleet's count (with 0, a
// take finding the window full would count them in `others` too, and a
// refusal's `used` = `others` + the node's count would have them twice).
LeaseEntry LeaseEntryOf(const std::optional<LeaseEntry>& stored, uint64_t limit, int64_t reset,
                        uint64_t boot, uint64_t counted);
// The lease can be spent: known to the database, not ended, before its deadline.
bool LeaseUsable(const LeaseEntry& e, int64_t now_ms);
// Units a new hold may take: the spare beside `held`, when usable.
uint64_t LeaseAvailable(const LeaseEntry& e, uint64_t held, int64_t now_ms);
// A take found the window full less than exhausted_ms ago, for this limit.
bool LeaseExhausted(const LeaseEntry& e, uint64_t limit, int64_t now_ms);
// What a take asks for: the demand of the last block_ms, at least 1.
uint64_t LeaseBlock(const LeaseEntry& e, int64_t now_ms, const LeaseTiming& t);

// Counts `amount` units asked for (a Reserve, held or not), for LeaseBlock;
// the entry is in use (its spare is not given back meanwhile).
void NoteDemand(LeaseEntry* e, uint64_t amount, int64_t now_ms, const LeaseTiming& t);

// One charge against the entry, in Reserve.
struct LeaseFit {
  bool fits = false;
  bool allowance = false;  // fits only by the local allowance
  bool exhausted = false;  // refused: the fleet has nothing left (no take would help)
  uint64_t shortfall = 0;  // otherwise: units a take must add
};
// `allowance`: units of the local allowance the node may spend (0 when not
// in on_unavailable = "local" with PostgreSQL down). `committed`: this
// node's count of the window instance; a charge the node alone would put
// over `limit` never fits by the allowance.
LeaseFit CheckLease(const LeaseEntry& e, uint64_t amount, uint64_t held, uint64_t committed,
                    uint64_t limit, uint64_t allowance, int64_t now_ms);
// A hold was made: the entry is in use (and spends its allowance).
void NoteHeld(LeaseEntry* e, uint64_t amount, bool by_allowance, int64_t now_ms);
// `amount` held units were committed here.
void NoteCommitted(LeaseEntry* e, uint64_t amount, int64_t now_ms);

// Answers, applied to the entry they concern. `sent_ms` is when the call
// was sent: the lease's deadline becomes sent_ms + ttl - margin (docs/
// fleet.md: earlier than the database's expiry whatever the clocks' offsets).
//
// A take answered `lease_id` (0: none: nothing granted and no open lease)
// and `granted` units. A higher id than the entry's is a new lease (the old
// one ended): the entry's unreported units then need its cover; a lower id
// is an answer older than the entry's lease and is ignored (its units went
// with the lease that ended). Returns false when ignored.
bool ApplyTake(LeaseEntry* e, int64_t lease_id, uint64_t granted, uint64_t want, int64_t sent_ms,
               int64_t now_ms, const LeaseTiming& t);
// Claims a report of every unreported unit (REQUIRES: nothing pending, a
// lease id): the units go to `pending` under `key`. False when there is
// nothing to report.
bool ClaimReport(LeaseEntry* e, std::string_view key, int64_t now_ms);
// Claims a return of the spare beside `held`. False when there is none.
bool ClaimReturn(LeaseEntry* e, uint64_t held, std::string_view key, int64_t now_ms);
// The pending call under `key` was answered with `status` ("ok", "over",
// "expired", "closed", "unknown"), `units` committed or returned, and for a
// commit the window's committed count after it (`committed`, -1 unknown).
// False (and nothing changed) when the entry's pending call is not that key
// (another process applied the same answer first).
bool ApplyAnswer(LeaseEntry* e, std::string_view key, std::string_view status, uint64_t units,
                 int64_t committed, int64_t sent_ms, const LeaseTiming& t);
// Drops units nothing can be reported against (no lease was ever had and
// the window is full): returns how many.
uint64_t DropUnreportable(LeaseEntry* e);

// What the lease thread should do with an entry now.
struct LeasePlan {
  bool take = false;     // sg_lease_take(want) (want 0: renew)
  uint64_t want = 0;
  bool report = false;   // claim and send a report of the unreported units
  bool give_back = false;  // claim and send a return of the spare beside the holds
  bool resend = false;   // the pending call is stale: send it again, same key
  bool erase = false;    // nothing left to do: the entry can go
};
// `held`: units held by open transactions on the window instance.
LeasePlan PlanLease(const LeaseEntry& e, uint64_t held, int64_t now_ms, int64_t unix_now,
                    const LeaseTiming& t);

// The window instance after the entry's (of window `w`, starting at
// `start`), when the node should take its block now: the entry is in use
// and its instance ends within 2 s, so the first message after the boundary
// finds units leased. Only windows of a fixed length (minute, hour); a
// day's or month's next instance depends on the time zone (and comes once
// a day at most).
std::optional<WindowSpan> NextInstanceDue(const LeaseEntry& e, Window w, int64_t start,
                                          int64_t now_ms, int64_t unix_now, const LeaseTiming& t);
// A fresh entry for that next instance, carrying the demand and in use.
LeaseEntry NextInstanceEntry(const LeaseEntry& e, const WindowSpan& next, int64_t now_ms);

}  // namespace senderguard
