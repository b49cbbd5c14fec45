// LmdbStore's lease ledger (lmdb_leases.cc), the local half of the fleet's
// quotas: Reserve and Commit against ledger entries in the holds'
// transaction, the entries' encoding, node-wide chores, the schema upgrade.
#include "lmdb_fixture.h"
#include "senderguard/decide/quota.h"
#include "senderguard/store/codec.h"
#include "senderguard/store/lmdb/lmdb_store.h"

#include <gtest/gtest.h>

namespace senderguard {
namespace {

constexpr int64_t kNow = 1'795'622'400;  // 2026-11-25 16:00:00 UTC

QuotaCharge Charge(Window w, uint64_t limit, uint64_t amount = 1) {
  QuotaCharge c;
  c.window = w;
  c.span = SpanAt(w, kNow, cctz::utc_time_zone());
  c.limit = limit;
  c.amount = amount;
  return c;
}

// Every field, for comparisons.
std::string Dump(const LeaseEntry& e) {
  std::string s;
  for (int64_t v : {e.lease_id, static_cast<int64_t>(e.dead), static_cast<int64_t>(e.spare),
                    static_cast<int64_t>(e.unreported), static_cast<int64_t>(e.excess),
                    static_cast<int64_t>(e.pending), e.pending_lease,
                    static_cast<int64_t>(e.pending_units), e.pending_since_ms, e.deadline_ms,
                    e.last_use_ms, static_cast<int64_t>(e.limit), e.reset,
                    static_cast<int64_t>(e.acked), static_cast<int64_t>(e.others),
                    e.exhausted_until_ms, e.take_since_ms, static_cast<int64_t>(e.allowance_used),
                    e.rate_since_ms, static_cast<int64_t>(e.rate_units),
                    static_cast<int64_t>(e.rate_mups), static_cast<int64_t>(e.boot)})
    s += std::to_string(v) + " ";
  return s + e.pending_key;
}

class LmdbLeasesTest : public lmdb_test::LmdbTest {
 protected:
  std::optional<LeaseEntry> Entry(const QuotaCharge& c, std::string_view account = "acct") {
    std::optional<LeaseEntry> e;
    Status st = store_->ReadLeases([&](LmdbStore::LeaseLedger& L) {
      return L.Get(LmdbStore::LeaseKey(account, c.window, c.span.start), &e);
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return e;
  }
};

TEST_F(LmdbLeasesTest, KeysParseBack) {
  const std::string k = LmdbStore::LeaseKey(std::string("a\0b", 3), Window::kHour, 1234);
  std::string account;
  Window w = Window::kDay;
  int64_t start = 0;
  ASSERT_TRUE(LmdbStore::ParseLeaseKey(k, &account, &w, &start));
  EXPECT_EQ(account, std::string("a\0b", 3));
  EXPECT_EQ(w, Window::kHour);
  EXPECT_EQ(start, 1234);
  for (std::string_view bad : {std::string_view(""), std::string_view("short"),
                               std::string_view("acct\0\x09" "12345678", 14)}) {
    EXPECT_FALSE(LmdbStore::ParseLeaseKey(bad, &account, &w, &start)) << bad.size();
  }
}

TEST_F(LmdbLeasesTest, ReserveHoldsOnlyWhenTheCallbackSaysSo) {
  OpenStore();
  const QuotaCharge day = Charge(Window::kDay, 10, 2);
  const QuotaCharge hour = Charge(Window::kHour, 100);
  // Refused: nothing held, but the entries it marked are written.
  auto r = store_->ReserveLeased("acct", {day, hour}, [](std::vector<LmdbStore::LeaseSlot>& slots) {
    EXPECT_EQ(slots.size(), 2u);
    for (auto& s : slots) {
      EXPECT_EQ(s.held, 0u);
      EXPECT_FALSE(s.entry.has_value());
      LeaseEntry e;
      e.rate_units = s.amount;
      s.entry = e;
      s.write = true;
    }
    return false;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r.value());
  ASSERT_TRUE(Entry(day).has_value());
  EXPECT_EQ(Entry(day)->rate_units, 2u);
  // Held: the next call sees the holds of every charge.
  r = store_->ReserveLeased("acct", {day, hour}, [](std::vector<LmdbStore::LeaseSlot>&) { return true; });
  ASSERT_TRUE(r.ok() && r.value());
  // The callbacks' checks count only when they ran: their calls are counted.
  int calls = 0;
  r = store_->ReserveLeased("acct", {day, hour}, [&](std::vector<LmdbStore::LeaseSlot>& slots) {
    ++calls;
    EXPECT_EQ(slots.size(), 2u);
    if (slots.size() != 2) return false;
    EXPECT_EQ(slots[0].held, 2u);
    EXPECT_EQ(slots[1].held, 1u);
    return false;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(calls, 1);
  // The holds are LmdbStore's own: Release gives them back.
  store_->Release("acct", {day, hour});
  calls = 0;
  r = store_->ReserveLeased("acct", {day}, [&](std::vector<LmdbStore::LeaseSlot>& slots) {
    ++calls;
    EXPECT_EQ(slots.size(), 1u);
    if (slots.empty()) return false;
    EXPECT_EQ(slots[0].held, 0u);
    return false;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(calls, 1);
}

TEST_F(LmdbLeasesTest, ChargesOfOneWindowInstanceShareOneSlot) {
  OpenStore();
  const QuotaCharge day = Charge(Window::kDay, 10);
  int calls = 0;
  auto r = store_->ReserveLeased("acct", {day, day, Charge(Window::kDay, 10, 3)},
                                 [&](std::vector<LmdbStore::LeaseSlot>& slots) {
                                   ++calls;
                                   EXPECT_EQ(slots.size(), 1u);
                                   if (slots.empty()) return true;
                                   EXPECT_EQ(slots[0].amount, 5u);
                                   EXPECT_EQ(slots[0].first, 0u);
                                   return true;
                                 });
  ASSERT_TRUE(r.ok() && r.value());
  EXPECT_EQ(calls, 1);
}

TEST_F(LmdbLeasesTest, CommitCountsQueuesAndNotesInOneTransaction) {
  OpenStore();
  const QuotaCharge day = Charge(Window::kDay, 10);
  std::vector<QuotaCharge> held = {day, day};
  ASSERT_TRUE(store_->ReserveLeased("acct", held, [](auto&) { return true; }).value());
  QueueEntry q;
  q.queue_id = "4Q1";
  q.account = "acct";
  q.time = kNow;
  Status st = store_->CommitLeased("acct", held, &q, [](std::vector<LmdbStore::LeaseSlot>& slots) {
    ASSERT_EQ(slots.size(), 1u);
    EXPECT_EQ(slots[0].amount, 2u);
    EXPECT_EQ(slots[0].committed, 2u) << "the count is added before the callback";
    EXPECT_EQ(slots[0].held, 0u) << "... and the hold taken";
    LeaseEntry e;
    e.unreported = slots[0].amount;
    slots[0].entry = e;
    slots[0].write = true;
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Entry(day)->unreported, 2u);
  EXPECT_EQ(store_->Usage("acct", {WindowUsage{Window::kDay, day.span, 0}}).value()[0].used, 2u);
  EXPECT_TRUE(store_->GetQueueEntry("4Q1").value().has_value());
  // No account record, unlike Commit: the fleet's store creates it in PostgreSQL.
  EXPECT_FALSE(store_->GetAccount("acct").value().has_value());
}

TEST_F(LmdbLeasesTest, EntriesRoundTripAndCorruptOnesAreNamed) {
  OpenStore();
  LeaseEntry e;
  e.lease_id = 42;
  e.dead = true;
  e.spare = 1;
  e.unreported = 2;
  e.excess = 3;
  e.pending = LeaseOp::kReturn;
  e.pending_lease = 41;
  e.pending_units = 4;
  e.pending_key = "abc-7";
  e.pending_since_ms = 5;
  e.deadline_ms = 6;
  e.last_use_ms = 7;
  e.limit = 8;
  e.reset = 9;
  e.acked = 10;
  e.others = 11;
  e.exhausted_until_ms = 12;
  e.take_since_ms = 13;
  e.allowance_used = 14;
  e.rate_since_ms = 15;
  e.rate_units = 16;
  e.rate_mups = 17;
  e.boot = 18;
  const QuotaCharge day = Charge(Window::kDay, 10);
  const std::string key = LmdbStore::LeaseKey("acct", day.window, day.span.start);
  ASSERT_TRUE(store_->WriteLeases([&](LmdbStore::LeaseLedger& L) { return L.Put(key, e); }).ok());
  auto got = Entry(day);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(Dump(*got), Dump(e));
  CloseStore();
  Raw([&](MDB_txn* txn) { RawPut(txn, "leases", key, std::string("\x01\x00", 2)); });
  OpenStore();
  std::optional<LeaseEntry> bad;
  Status st = store_->ReadLeases([&](LmdbStore::LeaseLedger& L) { return L.Get(key, &bad); });
  EXPECT_EQ(st.code(), Status::Code::kCorruption);
  EXPECT_NE(st.message().find("leases/acct/day/"), std::string::npos) << st.message();
  int nulls = 0;
  ASSERT_TRUE(store_->ReadLeases([&](LmdbStore::LeaseLedger& L) {
    return L.Scan([&](std::string_view, const LeaseEntry* x) {
      nulls += x == nullptr;
      return true;
    });
  }).ok());
  EXPECT_EQ(nulls, 1);
}

TEST_F(LmdbLeasesTest, ChoresRunOncePerIntervalForTheNode) {
  OpenStore();
  bool due = false;
  ASSERT_TRUE(store_->ClaimChore("expire", 10'000, 3000, &due).ok());
  EXPECT_TRUE(due);
  ASSERT_TRUE(store_->ClaimChore("expire", 12'000, 3000, &due).ok());
  EXPECT_FALSE(due);
  ASSERT_TRUE(store_->ClaimChore("purge", 12'000, 3000, &due).ok());
  EXPECT_TRUE(due) << "each chore its own";
  ASSERT_TRUE(store_->ClaimChore("expire", 13'000, 3000, &due).ok());
  EXPECT_TRUE(due);
  ASSERT_TRUE(store_->ClaimChore("expire", 500, 3000, &due).ok());
  EXPECT_TRUE(due) << "a time from another boot";
}

TEST_F(LmdbLeasesTest, SchemaTwoIsUpgraded) {
  OpenStore();
  CloseStore();
  Raw([](MDB_txn* txn) {
    std::string v;
    PutBe64(&v, 2);
    RawPut(txn, "meta", "schema_version", v);
  });
  OpenStore();
  EXPECT_TRUE(logger_.Saw("action=upgrade-schema from=2 to=" + std::to_string(kSchemaVersion)));
  CloseStore();
  std::string got;
  Raw([&](MDB_txn* txn) { got = RawGet(txn, "meta", "schema_version"); });
  EXPECT_EQ(GetBe64(got), kSchemaVersion);
  EXPECT_EQ(kSchemaVersion, 4u);
}

}  // namespace
}  // namespace senderguard
