// SendingTally (monitor/sending_tally.h): the milter's per-day figures held
// in memory between two writes to the store.
#include "senderguard/monitor/sending_tally.h"

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace senderguard::monitor {
namespace {

auto Tie(const SendingDay& d) { return std::make_tuple(d.account, d.day, d.quota_used, d.refused, d.tier); }

std::vector<std::tuple<std::string, int64_t, uint64_t, uint64_t, uint8_t>> Ties(
    const std::vector<SendingDay>& days) {
  std::vector<std::tuple<std::string, int64_t, uint64_t, uint64_t, uint8_t>> out;
  for (const auto& d : days) out.push_back(Tie(d));
  return out;
}

using Row = std::tuple<std::string, int64_t, uint64_t, uint64_t, uint8_t>;

TEST(SendingTally, CountsPerAccountAndDayThenTakeEmptiesIt) {
  SendingTally t;
  EXPECT_TRUE(t.Take().empty());
  t.AddAccepted("bob", 20000, 3, 2);
  t.AddAccepted("alice", 20000, 1, 1);
  t.AddRefused("alice", 20000, 0);   // tier unknown: keeps the one seen
  t.AddRefused("alice", 20001, 4);   // the next UTC day is its own key
  t.AddAccepted("alice", 20000, 5, 3);  // the tier in force last wins
  t.AddRefused("", 20000, 0);        // any name, as given
  EXPECT_EQ(t.size(), 4u);
  const auto got = Ties(t.Take());
  const std::vector<Row> want = {Row{"", 20000, 0, 1, 0}, Row{"alice", 20000, 6, 1, 3},
                                 Row{"alice", 20001, 0, 1, 4}, Row{"bob", 20000, 3, 0, 2}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(t.Take().empty());
  EXPECT_EQ(t.TakeDropped(), 0u);
}

TEST(SendingTally, SaturatesInsteadOfWrapping) {
  SendingTally t;
  t.AddAccepted("a", 1, UINT64_MAX - 1, 1);
  t.AddAccepted("a", 1, 5, 1);
  auto got = t.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].quota_used, UINT64_MAX);
  t.MergeBack(got);
  t.AddAccepted("a", 1, 1, 0);
  EXPECT_EQ(t.Take().at(0).quota_used, UINT64_MAX);
}

// A failed write: the batch goes back under what was counted since; a
// tier counted since is newer and stays.
TEST(SendingTally, MergeBackAddsUnderTheNewerCounts) {
  SendingTally t;
  t.AddAccepted("alice", 7, 2, 1);
  t.AddRefused("bob", 7, 2);
  std::vector<SendingDay> failed = t.Take();
  t.AddAccepted("alice", 7, 1, 3);
  t.AddRefused("alice", 8, 0);
  t.MergeBack(std::move(failed));
  const std::vector<Row> want = {Row{"alice", 7, 3, 0, 3}, Row{"alice", 8, 0, 1, 0},
                                 Row{"bob", 7, 0, 1, 2}};
  EXPECT_EQ(Ties(t.Take()), want);
}

// Bounded: a new key beyond max_keys is dropped (and counted once for the
// log line); keys already held still count.
TEST(SendingTally, BoundedDropsNewKeysAndCountsThem) {
  SendingTally t(3);
  for (int i = 0; i < 5; ++i) t.AddRefused("acct" + std::to_string(i), 1, 1);
  t.AddRefused("acct0", 1, 1);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.TakeDropped(), 2u);
  EXPECT_EQ(t.TakeDropped(), 0u);
  std::vector<SendingDay> failed = t.Take();
  ASSERT_EQ(failed.size(), 3u);
  EXPECT_EQ(failed[0].refused, 2u);
  t.AddRefused("new1", 1, 0);
  t.AddRefused("new2", 1, 0);
  t.MergeBack(failed);  // room for one of the three: acct0 (the first)
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.TakeDropped(), 2u);
  const std::vector<Row> want = {Row{"acct0", 1, 0, 2, 1}, Row{"new1", 1, 0, 1, 0},
                                 Row{"new2", 1, 0, 1, 0}};
  EXPECT_EQ(Ties(t.Take()), want);
}

TEST(SendingTally, ThreadsCountEveryOne) {
  SendingTally t;
  std::vector<std::thread> threads;
  std::vector<SendingDay> taken;
  std::mutex mu;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < 5000; ++i) {
        t.AddAccepted(k % 2 ? "a" : "b", 1, 1, 1);
        t.AddRefused("a", 1, 2);
        if (i % 1000 == 0) {  // the reporter's Take, meanwhile
          auto part = t.Take();
          std::lock_guard<std::mutex> lk(mu);
          for (auto& d : part) taken.push_back(std::move(d));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (auto& d : t.Take()) taken.push_back(std::move(d));
  uint64_t used = 0, refused = 0;
  for (const auto& d : taken) {
    used += d.quota_used;
    refused += d.refused;
  }
  EXPECT_EQ(used, 20000u);
  EXPECT_EQ(refused, 20000u);
}

}  // namespace
}  // namespace senderguard::monitor
