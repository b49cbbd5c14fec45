// LmdbStore as a fleet node's cache (lmdb_store.h, lmdb_cache.cc): rows
// written without audit, the seq never lowered, and a whole reload in
// chunks that leaves exactly the rows it was given, whatever was there.
#include <gtest/gtest.h>

#include "lmdb_fixture.h"
#include "senderguard/store/codec.h"

namespace senderguard {
namespace {

using Rows = LmdbStore::CacheRows;

AccountRecord Acct(std::string name, AccountStatus status = AccountStatus::kActive) {
  AccountRecord a;
  a.name = std::move(name);
  a.status = status;
  return a;
}
SuppressionRecord Supp(std::string account, std::string address) {
  SuppressionRecord s;
  s.account = std::move(account);
  s.address = std::move(address);
  s.reason = "cache";
  return s;
}

class LmdbCacheTest : public lmdb_test::LmdbTest {
 protected:
  void SetUp() override {
    LmdbTest::SetUp();
    OpenStore();
  }
  std::vector<std::string> Names() {
    std::vector<std::string> out;
    auto list = store_->ListAccounts();
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    if (!list.ok()) return out;
    for (const auto& a : list.value()) out.push_back(a.name);
    return out;
  }
  std::vector<std::string> Suppressed() {
    std::vector<std::string> out;
    auto list = store_->ListSuppressions(std::nullopt, 1000);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    if (!list.ok()) return out;
    for (const auto& s : list.value()) out.push_back(s.account + "/" + s.address);
    return out;
  }
  // A reload that hands out `chunks` one by one.
  Status Reload(std::vector<Rows> chunks, int64_t seq, std::string source = "db/1") {
    size_t i = 0;
    return store_->CacheReplaceAll(
        [&](Rows* chunk) -> Result<bool> {
          if (i == chunks.size()) return false;
          *chunk = chunks[i++];
          return true;
        },
        seq, source);
  }
};

TEST_F(LmdbCacheTest, ApplyWritesAndDeletesWithoutAuditAndNeverLowersTheSeq) {
  auto state = store_->GetCacheState();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state.value().seq, 0);
  EXPECT_EQ(state.value().source, "");

  Rows r;
  r.accounts = {Acct("alice", AccountStatus::kSuspended), Acct("bob")};
  r.suppressions = {Supp("", "x@example.org"), Supp("alice", "y@example.org")};
  ASSERT_TRUE(store_->CacheApply(r, 7).ok());
  EXPECT_EQ(store_->GetAccount("alice").value()->status, AccountStatus::kSuspended);
  EXPECT_TRUE(store_->FindSuppression("carol", "x@example.org").value().has_value());
  EXPECT_TRUE(store_->ListAudit("", 10).value().empty()) << "a cache write is no change of its own";
  EXPECT_EQ(store_->GetCacheState().value().seq, 7);

  Rows gone;
  gone.gone_accounts = {"alice", "nobody"};  // deleting what is not there is fine
  gone.gone_suppressions = {{"", "x@example.org"}, {"", "never@example.org"}};
  ASSERT_TRUE(store_->CacheApply(gone, 5).ok());
  EXPECT_FALSE(store_->GetAccount("alice").value().has_value());
  EXPECT_FALSE(store_->FindSuppression("carol", "x@example.org").value().has_value());
  EXPECT_EQ(store_->GetCacheState().value().seq, 7) << "another process applied further";

  Rows bad;
  bad.accounts = {Acct(std::string(512, 'a'))};
  EXPECT_EQ(store_->CacheApply(bad, 9).code(), Status::Code::kInvalid);
  bad.accounts = {Acct("")};
  EXPECT_EQ(store_->CacheApply(bad, 9).code(), Status::Code::kInvalid);
  bad.accounts.clear();
  bad.suppressions = {Supp(std::string(300, 'a'), std::string(300, 'b') + "@x")};
  EXPECT_EQ(store_->CacheApply(bad, 9).code(), Status::Code::kInvalid);
  EXPECT_EQ(store_->GetCacheState().value().seq, 7) << "a refused apply writes nothing";
}

TEST_F(LmdbCacheTest, ReloadInChunksLeavesExactlyTheRowsGiven) {
  // What the local store held before (an old copy, or LMDB-backend data).
  Rows before;
  for (const char* n : {"a", "b", "c", "d", "e", "zz"}) before.accounts.push_back(Acct(n));
  before.suppressions = {Supp("", "g1@x"), Supp("", "g2@x"), Supp("b", "s@x"), Supp("zz", "t@x")};
  ASSERT_TRUE(store_->CacheApply(before, 3).ok());

  Rows c1, c2, c3, c4;
  c1.accounts = {Acct("b", AccountStatus::kSuspended), Acct("ba")};
  c2.accounts = {Acct("d")};
  c2.suppressions = {Supp("", "g2@x")};  // accounts end in a chunk that starts suppression
  c3.suppressions = {Supp("", "g3@x"), Supp("a", "s@x")};
  c4.suppressions = {Supp("d", "u@x")};
  size_t accounts = 0, suppressions = 0;
  std::vector<Rows> chunks = {c1, c2, c3, c4};
  size_t i = 0;
  ASSERT_TRUE(store_
                  ->CacheReplaceAll(
                      [&](Rows* chunk) -> Result<bool> {
                        if (i == chunks.size()) return false;
                        *chunk = chunks[i++];
                        return true;
                      },
                      42, "db/7", &accounts, &suppressions)
                  .ok());
  EXPECT_EQ(Names(), (std::vector<std::string>{"b", "ba", "d"}));
  EXPECT_EQ(Suppressed(), (std::vector<std::string>{"/g2@x", "/g3@x", "a/s@x", "d/u@x"}));
  EXPECT_EQ(store_->GetAccount("b").value()->status, AccountStatus::kSuspended);
  EXPECT_EQ(accounts, 3u);
  EXPECT_EQ(suppressions, 4u);
  auto state = store_->GetCacheState().value();
  EXPECT_EQ(state.seq, 42);
  EXPECT_EQ(state.source, "db/7");

  // An empty database: an empty cache, at a lower seq (set exactly).
  ASSERT_TRUE(Reload({}, 1, "db/8").ok());
  EXPECT_TRUE(Names().empty());
  EXPECT_TRUE(Suppressed().empty());
  EXPECT_EQ(store_->GetCacheState().value().seq, 1);
  EXPECT_EQ(store_->GetCacheState().value().source, "db/8");
}

TEST_F(LmdbCacheTest, ReloadRefusesRowsOutOfOrderAndKeepsTheOldStateOnFailure) {
  // The old state, loaded again before each case: a refused chunk writes
  // none of its rows, and a refused or failed reload records neither its
  // seq nor its source (chunks before it stay written: each is its own
  // transaction).
  Rows r;
  r.accounts = {Acct("a"), Acct("b")};
  r.suppressions = {Supp("a", "s@x")};
  const auto old_state = [&] { ASSERT_TRUE(Reload({r}, 5, "db/1").ok()); };
  const auto state_kept = [&](const char* what) {
    auto state = store_->GetCacheState().value();
    EXPECT_EQ(state.seq, 5) << what;
    EXPECT_EQ(state.source, "db/1") << what;
  };

  old_state();
  Rows backwards;
  backwards.accounts = {Acct("c"), Acct("b")};
  EXPECT_EQ(Reload({backwards}, 9, "db/2").code(), Status::Code::kInvalid);
  EXPECT_EQ(Names(), (std::vector<std::string>{"a", "b"})) << "the one chunk, refused: no row of it";
  EXPECT_EQ(Suppressed(), (std::vector<std::string>{"a/s@x"}));
  state_kept("accounts out of order");

  old_state();
  Rows late;
  late.accounts = {Acct("x")};
  Rows supp;
  supp.suppressions = {Supp("", "a@x")};
  EXPECT_EQ(Reload({supp, late}, 9, "db/2").code(), Status::Code::kInvalid)
      << "accounts after suppression entries";
  EXPECT_EQ(Names(), std::vector<std::string>{}) << "the first chunk was written, not the refused one";
  state_kept("accounts after suppression entries");

  old_state();
  Rows deletion;
  deletion.gone_accounts = {"a"};
  EXPECT_EQ(Reload({deletion}, 9, "db/2").code(), Status::Code::kInvalid);
  EXPECT_EQ(Names(), (std::vector<std::string>{"a", "b"})) << "a deletion in a reload: refused";
  state_kept("a deletion in a reload");

  old_state();
  int calls = 0;
  Status st = store_->CacheReplaceAll(
      [&](Rows* chunk) -> Result<bool> {
        if (++calls == 2) return Status::Unavailable("postgresql: connection lost");
        chunk->accounts = {Acct("m")};
        return true;
      },
      9, "db/2");
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_EQ(calls, 2);
  state_kept("a failed reload records nothing: the next one redoes it");
}

}  // namespace
}  // namespace senderguard
