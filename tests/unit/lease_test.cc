// A node's share of a leased quota window (model/lease.h): spending, the
// answers of PostgreSQL applied to the entry, and what the lease thread
// plans. Pure: times are passed in.
#include "senderguard/model/lease.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "senderguard/model/window.h"

namespace senderguard {
namespace {

const LeaseTiming kT = LeaseTimingFor(60);  // ttl 60 s: margin 6 s, idle 5 s
constexpr int64_t kNow = 1'000'000;          // monotonic ms
constexpr int64_t kUnix = 1'795'622'400;

LeaseEntry Fresh(uint64_t limit = 100) {
  LeaseEntry e;
  e.limit = limit;
  e.reset = kUnix + 3600;
  e.boot = 7;
  return e;
}
// An entry holding lease 10 with `spare` units, just taken.
LeaseEntry Leased(uint64_t spare) {
  LeaseEntry e = Fresh();
  EXPECT_TRUE(ApplyTake(&e, 10, spare, spare, kNow, kNow, kT));
  return e;
}

TEST(LeaseTiming, FromTheTtl) {
  EXPECT_EQ(kT.ttl_ms, 60000);
  EXPECT_EQ(kT.margin_ms, 6000);
  EXPECT_EQ(kT.idle_ms, 5000);
  const LeaseTiming short_ttl = LeaseTimingFor(2);
  EXPECT_EQ(short_ttl.margin_ms, 200);
  EXPECT_EQ(short_ttl.idle_ms, 500);
  EXPECT_LT(short_ttl.resend_ms, short_ttl.ttl_ms);
  EXPECT_EQ(LeaseTimingFor(0).ttl_ms, 1000);  // never zero
}

TEST(Lease, AFreshEntryHasNothingToSpend) {
  const LeaseEntry e = Fresh();
  EXPECT_FALSE(LeaseUsable(e, kNow));
  const LeaseFit f = CheckLease(e, 1, 0, 0, 100, 0, kNow);
  EXPECT_FALSE(f.fits);
  EXPECT_FALSE(f.exhausted);
  EXPECT_EQ(f.shortfall, 1u);
}

TEST(Lease, SpendsTheSpareBesideTheHoldsUntilTheDeadline) {
  LeaseEntry e = Leased(5);
  EXPECT_EQ(e.deadline_ms, kNow + 60000 - 6000);
  EXPECT_EQ(LeaseAvailable(e, 2, kNow), 3u);
  EXPECT_TRUE(CheckLease(e, 3, 2, 0, 100, 0, kNow).fits);
  const LeaseFit f = CheckLease(e, 4, 2, 0, 100, 0, kNow);
  EXPECT_FALSE(f.fits);
  EXPECT_EQ(f.shortfall, 1u);
  // At the deadline nothing is spent, though units are left.
  EXPECT_FALSE(CheckLease(e, 1, 0, 0, 100, 0, e.deadline_ms).fits);
  EXPECT_EQ(LeaseAvailable(e, 0, e.deadline_ms - 1), 5u);
}

TEST(Lease, CommitsComeOutOfTheSpareAndBeyondItAreExcess) {
  LeaseEntry e = Leased(3);
  NoteCommitted(&e, 2, kNow);
  EXPECT_EQ(e.spare, 1u);
  EXPECT_EQ(e.unreported, 2u);
  EXPECT_EQ(e.excess, 0u);
  NoteCommitted(&e, 3, kNow);  // a dry run's force, or the allowance
  EXPECT_EQ(e.spare, 0u);
  EXPECT_EQ(e.unreported, 5u);
  EXPECT_EQ(e.excess, 2u);
  // A take covers the excess first.
  ASSERT_TRUE(ApplyTake(&e, 10, 5, 5, kNow, kNow, kT));
  EXPECT_EQ(e.excess, 0u);
  EXPECT_EQ(e.spare, 3u);
}

TEST(Lease, AReportIsClaimedOnceAndAppliedOnceByItsKey) {
  LeaseEntry e = Leased(10);
  NoteCommitted(&e, 4, kNow);
  EXPECT_TRUE(ClaimReport(&e, "k1", kNow));
  EXPECT_EQ(e.pending, LeaseOp::kCommit);
  EXPECT_EQ(e.pending_units, 4u);
  EXPECT_EQ(e.unreported, 0u);
  NoteCommitted(&e, 1, kNow);
  EXPECT_FALSE(ClaimReport(&e, "k2", kNow)) << "one call on its way at a time";
  EXPECT_FALSE(ApplyAnswer(&e, "other", "ok", 4, 40, kNow, kT));
  EXPECT_EQ(e.pending, LeaseOp::kCommit);
  ASSERT_TRUE(ApplyAnswer(&e, "k1", "ok", 4, 40, kNow + 100, kT));
  EXPECT_EQ(e.pending, LeaseOp::kNone);
  EXPECT_EQ(e.acked, 4u);
  EXPECT_EQ(e.others, 36u);  // the fleet's 40 beside this node's 4
  EXPECT_EQ(e.deadline_ms, kNow + 100 + 54000);
  EXPECT_FALSE(ApplyAnswer(&e, "k1", "ok", 4, 40, kNow, kT)) << "applied twice";
  EXPECT_EQ(e.acked, 4u);
}

TEST(Lease, AnEndedLeaseSpendsNothingAndTheNextOneCoversWhatIsLeft) {
  LeaseEntry e = Leased(10);
  NoteCommitted(&e, 4, kNow);
  ASSERT_TRUE(ClaimReport(&e, "k1", kNow));
  NoteCommitted(&e, 2, kNow);  // committed while the report was on its way
  ASSERT_TRUE(ApplyAnswer(&e, "k1", "expired", 0, 50, kNow, kT));
  EXPECT_TRUE(e.dead);
  EXPECT_EQ(e.spare, 0u);
  EXPECT_EQ(e.excess, 2u);
  EXPECT_FALSE(LeaseUsable(e, kNow));
  // An older lease's answer arriving late is ignored.
  EXPECT_FALSE(ApplyTake(&e, 9, 5, 5, kNow, kNow, kT));
  // A new lease: its grant covers the 2 units first.
  ASSERT_TRUE(ApplyTake(&e, 11, 5, 5, kNow, kNow, kT));
  EXPECT_FALSE(e.dead);
  EXPECT_EQ(e.lease_id, 11);
  EXPECT_EQ(e.excess, 0u);
  EXPECT_EQ(e.spare, 3u);
  EXPECT_EQ(e.unreported, 2u);
}

TEST(Lease, AReportOfAnOlderLeaseDoesNotEndTheCurrentOne) {
  LeaseEntry e = Leased(10);
  NoteCommitted(&e, 4, kNow);
  ASSERT_TRUE(ClaimReport(&e, "k1", kNow));
  ASSERT_TRUE(ApplyTake(&e, 11, 5, 5, kNow, kNow, kT));  // lease 10 ended meanwhile
  ASSERT_TRUE(ApplyAnswer(&e, "k1", "expired", 0, -1, kNow, kT));
  EXPECT_FALSE(e.dead);
  EXPECT_EQ(e.spare, 5u);
}

TEST(Lease, AFullWindowRefusesWithoutAskingForAWhile) {
  LeaseEntry e = Fresh(100);
  ASSERT_TRUE(ApplyTake(&e, 0, 0, 3, kNow, kNow, kT));
  const LeaseFit f = CheckLease(e, 1, 0, 0, 100, 0, kNow + 10);
  EXPECT_TRUE(f.exhausted);
  EXPECT_FALSE(CheckLease(e, 1, 0, 0, 200, 0, kNow + 10).exhausted) << "the limit was raised";
  EXPECT_FALSE(CheckLease(e, 1, 0, 0, 100, 0, kNow + kT.exhausted_ms).exhausted);
  // A renewal (want 0) that grants nothing is no sign of a full window.
  LeaseEntry r = Leased(1);
  ASSERT_TRUE(ApplyTake(&r, 10, 0, 0, kNow, kNow, kT));
  EXPECT_EQ(r.exhausted_until_ms, 0);
}

TEST(Lease, TheLocalAllowanceIsBoundedPerEntryAndByTheLimit) {
  LeaseEntry e = Fresh(100);
  LeaseFit f = CheckLease(e, 1, 0, 0, 100, 5, kNow);
  EXPECT_TRUE(f.fits);
  EXPECT_TRUE(f.allowance);
  NoteHeld(&e, 1, true, kNow);
  e.allowance_used = 4;
  EXPECT_TRUE(CheckLease(e, 1, 0, 0, 100, 5, kNow).fits);
  EXPECT_FALSE(CheckLease(e, 2, 0, 0, 100, 5, kNow).fits);
  e.allowance_used = 0;
  EXPECT_FALSE(CheckLease(e, 1, 0, 100, 100, 5, kNow).fits) << "this node alone is at the limit";
  EXPECT_FALSE(CheckLease(e, 1, 0, 0, 100, 0, kNow).fits) << "no allowance given";
}

TEST(Lease, AReturnGivesBackTheSpareBesideTheHolds) {
  LeaseEntry e = Leased(10);
  EXPECT_TRUE(ClaimReturn(&e, 3, "r1", kNow));
  EXPECT_EQ(e.pending, LeaseOp::kReturn);
  EXPECT_EQ(e.pending_units, 7u);
  EXPECT_EQ(e.spare, 3u);
  ASSERT_TRUE(ApplyAnswer(&e, "r1", "ok", 7, -1, kNow, kT));
  EXPECT_FALSE(ClaimReturn(&e, 3, "r2", kNow)) << "nothing beside the holds";
}

TEST(Lease, BlocksFollowTheDemand) {
  LeaseEntry e = Fresh();
  EXPECT_EQ(LeaseBlock(e, kNow, kT), 1u);
  for (int i = 0; i < 100; ++i) NoteDemand(&e, 1, kNow + i * 10, kT);  // 100 units/s for 1 s
  EXPECT_EQ(LeaseBlock(e, kNow + 1000, kT), 200u);  // 100 units in a 2 s period: 50/s, 4 s
  for (int i = 0; i < 100; ++i) NoteDemand(&e, 1, kNow + 1000 + i * 10, kT);
  NoteDemand(&e, 1, kNow + 2000, kT);  // a new period: the last one's rate is kept
  EXPECT_EQ(LeaseBlock(e, kNow + 2000, kT), 400u);
  // Nothing asked, nothing counted (at a time before the period's start,
  // which a count would start the period again from), but in use.
  const LeaseEntry before = e;
  NoteDemand(&e, 0, kNow, kT);
  EXPECT_EQ(e.rate_since_ms, before.rate_since_ms);
  EXPECT_EQ(e.rate_units, before.rate_units);
  EXPECT_EQ(e.rate_mups, before.rate_mups);
  EXPECT_EQ(e.last_use_ms, kNow);
  EXPECT_EQ(LeaseBlock(e, kNow + 2000, kT), 400u);
}

TEST(Lease, TheNextMinuteIsLeasedJustBeforeItStarts) {
  LeaseEntry e = Leased(10);
  const int64_t start = kUnix - kUnix % 60;
  e.reset = start + 60;
  NoteDemand(&e, 1, kNow, kT);
  EXPECT_FALSE(NextInstanceDue(e, Window::kMinute, start, kNow, e.reset - 3, kT));
  auto next = NextInstanceDue(e, Window::kMinute, start, kNow, e.reset - 2, kT);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->start, start + 60);
  EXPECT_EQ(next->reset, start + 120);
  EXPECT_FALSE(NextInstanceDue(e, Window::kMinute, start, kNow, e.reset, kT)) << "too late";
  EXPECT_FALSE(NextInstanceDue(e, Window::kMinute, start, kNow + kT.idle_ms, e.reset - 1, kT))
      << "not in use";
  EXPECT_FALSE(NextInstanceDue(e, Window::kDay, start, kNow, e.reset - 1, kT))
      << "a day's length is the time zone's";
  const LeaseEntry n = NextInstanceEntry(e, *next, kNow + 5);
  EXPECT_EQ(n.reset, start + 120);
  EXPECT_EQ(n.limit, e.limit);
  EXPECT_EQ(n.lease_id, 0);
  EXPECT_EQ(n.last_use_ms, kNow + 5);
  EXPECT_EQ(LeaseBlock(n, kNow + 5, kT), LeaseBlock(e, kNow + 5, kT));
}

TEST(Lease, AnotherBootsTimesMeanNothing) {
  LeaseEntry e = Leased(10);
  NoteHeld(&e, 1, false, kNow);
  AdoptBoot(&e, 8);
  EXPECT_EQ(e.boot, 8u);
  EXPECT_FALSE(LeaseUsable(e, 5));
  EXPECT_EQ(e.last_use_ms, 0);
  EXPECT_EQ(e.spare, 10u);  // units stay: a take or a return settles them
}

// An entry is erased only with nothing unreported or pending: a fresh one
// (the first, or after an erased one) counts the node's units before it as
// acknowledged, so that the fleet's count beside them does not have them.
TEST(Lease, AFreshEntryKnowsTheNodesUnitsCountedBeforeIt) {
  const LeaseEntry fresh = LeaseEntryOf(std::nullopt, 10, kUnix + 3600, 7, 9);
  EXPECT_EQ(fresh.acked, 9u);
  EXPECT_EQ(fresh.others, 0u);
  EXPECT_EQ(fresh.unreported, 0u);
  EXPECT_EQ(fresh.lease_id, 0);
  EXPECT_EQ(fresh.limit, 10u);
  EXPECT_EQ(fresh.reset, kUnix + 3600);
  LeaseEntry stored = Leased(3);
  stored.acked = 4;
  EXPECT_EQ(LeaseEntryOf(stored, 10, kUnix + 3600, 7, 9).acked, 4u) << "a stored entry's own";
}

struct PlanCase {
  const char* name;
  std::function<void(LeaseEntry*)> setup;
  uint64_t held;
  int64_t at;  // ms after kNow
  LeasePlan want;
};

bool Same(const LeasePlan& a, const LeasePlan& b) {
  return a.take == b.take && a.want == b.want && a.report == b.report &&
         a.give_back == b.give_back && a.resend == b.resend && a.erase == b.erase;
}
std::string Show(const LeasePlan& p) {
  return "take=" + std::to_string(p.take) + " want=" + std::to_string(p.want) +
         " report=" + std::to_string(p.report) + " give_back=" + std::to_string(p.give_back) +
         " resend=" + std::to_string(p.resend) + " erase=" + std::to_string(p.erase);
}

TEST(Lease, WhatTheThreadDoes) {
  auto in_use = [](LeaseEntry* e) { NoteHeld(e, 1, false, kNow); };
  const PlanCase cases[] = {
      {"in use, half a block left: nothing", [&](LeaseEntry* e) { in_use(e); }, 0, 10, {}},
      {"in use and low: top up to a block",
       [&](LeaseEntry* e) {
         in_use(e);
         e->rate_mups = 10'000;  // 10 units/s: a block of 40
       },
       0, 10, {true, 30, false, false, false, false}},
      {"committed units: report", [&](LeaseEntry* e) { NoteCommitted(e, 2, kNow); }, 0, 10,
       {false, 0, true, false, false, false}},
      {"beyond the lease: cover them first",
       [&](LeaseEntry* e) { NoteCommitted(e, 12, kNow); }, 0, 10,
       {true, 2, false, false, false, false}},
      {"the lease ended: cover them all",
       [&](LeaseEntry* e) {
         NoteCommitted(e, 3, kNow);
         e->dead = true;
       },
       0, 10, {true, 3, false, false, false, false}},
      {"... unless the window is full: report them late",
       [&](LeaseEntry* e) {
         NoteCommitted(e, 3, kNow);
         e->dead = true;
         e->exhausted_until_ms = kNow + 500;
       },
       0, 10, {false, 0, true, false, false, false}},
      {"another process's take on its way",
       [&](LeaseEntry* e) {
         NoteCommitted(e, 12, kNow);
         e->take_since_ms = kNow;
       },
       0, 10, {}},
      {"idle: give back beside the holds", [](LeaseEntry*) {}, 0, 6000,
       {false, 0, false, true, false, false}},
      {"idle, all held: keep", [](LeaseEntry*) {}, 10, 6000, {}},
      {"window ended: give back", [](LeaseEntry* e) { e->reset = kUnix; }, 0, 10,
       {false, 0, false, true, false, false}},
      {"window ended, still charged: keep, no top-up",
       [&](LeaseEntry* e) {
         in_use(e);
         e->reset = kUnix;
         e->rate_mups = 10'000;
       },
       0, 10, {}},
      {"refused but asked for: in use, keep", [](LeaseEntry* e) { NoteDemand(e, 1, kNow, kT); },
       0, 1000, {}},
      {"near the deadline in use: renew",
       [&](LeaseEntry* e) {
         in_use(e);
         e->last_use_ms = kNow + 40000;
       },
       0, 42000, {true, 0, false, false, false, false}},
      {"a stale pending call: resend",
       [](LeaseEntry* e) {
         NoteCommitted(e, 1, kNow);
         ClaimReport(e, "k", kNow);
       },
       0, 3000, {false, 0, false, false, true, false}},
      {"a fresh pending call: wait",
       [](LeaseEntry* e) {
         NoteCommitted(e, 1, kNow);
         ClaimReport(e, "k", kNow);
       },
       0, 100, {}},
      {"ended, settled, empty: erase",
       [](LeaseEntry* e) {
         e->reset = kUnix;
         e->spare = 0;
       },
       0, 10, {false, 0, false, false, false, true}},
      {"idle past the ttl, empty: erase", [](LeaseEntry* e) { e->spare = 0; }, 0, 61000,
       {false, 0, false, false, false, true}},
      {"... but not while it spent an allowance",
       [](LeaseEntry* e) {
         e->spare = 0;
         e->allowance_used = 1;
       },
       0, 61000, {}},
  };
  for (const auto& c : cases) {
    LeaseEntry e = Leased(10);
    e.last_use_ms = 0;
    c.setup(&e);
    const LeasePlan p = PlanLease(e, c.held, kNow + c.at, kUnix, kT);
    EXPECT_TRUE(Same(p, c.want)) << c.name << ": got " << Show(p) << ", want " << Show(c.want);
  }
}

}  // namespace
}  // namespace senderguard
