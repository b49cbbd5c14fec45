// Quota holds shared by every process on one LMDB environment (two milters
// on one store): Reserve is exact across processes, a process's holds go
// when it closes, and those of a process killed while holding come back.
// LMDB allows one handle per environment per process, so the other
// processes are this test binary run again (posix_spawn, never a bare fork
// of a threaded process) in child mode: SG_HOLDS_CHILD names what to do.
#include "lmdb_fixture.h"
#include "senderguard/decide/quota.h"
#include "senderguard/store/codec.h"
#include "senderguard/store/lmdb/lmdb_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace senderguard {
namespace {

constexpr int64_t kNow = 1'795'622'400;  // 2026-11-25 16:00:00 UTC
constexpr uint64_t kLimit = 100;

QuotaCharge DayCharge(uint64_t amount = 1) {
  QuotaCharge c;
  c.window = Window::kDay;
  c.span = SpanAt(Window::kDay, kNow, cctz::utc_time_zone());
  c.limit = kLimit;
  c.amount = amount;
  return c;
}

// ---- child mode: SG_HOLDS_CHILD="MODE PATH"
//   reserve-all: reserve one unit at a time until refused, print the count,
//                commit them all, exit (normally: the store closes)
//   hold-and-exit N: reserve N units, print "held", exit normally
//   hold-and-wait N: reserve N units, print "held", wait to be killed
//   release-and-_exit N: reserve N units, print "held", ReleaseHolds, Flush, _Exit (the milter's exit)
TEST(LmdbHoldsChild, Run) {
  const char* spec = std::getenv("SG_HOLDS_CHILD");
  if (spec == nullptr) GTEST_SKIP() << "child mode only";
  char mode[32] = {0}, path[PATH_MAX] = {0};
  unsigned long n = 0;
  ASSERT_GE(std::sscanf(spec, "%31s %4095s %lu", mode, path, &n), 2);
  auto r = LmdbStore::Open(lmdb_test::TestLmdbOptions(path, nullptr));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto store = std::move(*r);
  const std::string m = mode;
  if (m == "reserve-all") {
    uint64_t got = 0;
    for (;;) {
      auto res = store->Reserve("acct", {DayCharge()}, false);
      ASSERT_TRUE(res.ok()) << res.status().ToString();
      if (!res->ok) break;
      ++got;
    }
    std::printf("CHILD: %llu\n", static_cast<unsigned long long>(got));
    std::fflush(stdout);
    for (uint64_t i = 0; i < got; ++i) ASSERT_TRUE(store->Commit("acct", {DayCharge()}, nullptr, kNow).ok());
    return;
  }
  auto res = store->Reserve("acct", {DayCharge(n)}, false);
  ASSERT_TRUE(res.ok() && res->ok);
  std::printf("CHILD: held\n");
  std::fflush(stdout);
  if (m == "hold-and-wait") {
    for (;;) ::pause();
  }
  if (m == "release-and-_exit") {
    // As the milter leaves: no destructor runs.
    store->ReleaseHolds();
    store->Flush();
    std::_Exit(0);
  }
}

// A child running this binary in child mode, its stdout on a pipe.
class Child {
 public:
  Child(const std::string& mode, const std::string& path, uint64_t n = 0) {
    char exe[PATH_MAX];
    const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    EXPECT_GT(len, 0);
    exe[len > 0 ? len : 0] = '\0';
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::string env_spec = "SG_HOLDS_CHILD=" + mode + " " + path + " " + std::to_string(n);
    std::vector<char*> envp;
    envp.push_back(env_spec.data());
    for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
    envp.push_back(nullptr);
    std::string filter = "--gtest_filter=LmdbHoldsChild.Run";
    char* argv[] = {exe, filter.data(), nullptr};
    EXPECT_EQ(posix_spawn(&pid_, exe, &fa, nullptr, argv, envp.data()), 0);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    out_ = ::fdopen(fds[0], "r");
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
    if (out_ != nullptr) std::fclose(out_);
  }
  // The next line the child prints after "CHILD: " (gtest's own skipped).
  std::string ReadLine() {
    char buf[256];
    while (std::fgets(buf, sizeof buf, out_) != nullptr) {
      std::string line(buf);
      if (!line.empty() && line.back() == '\n') line.pop_back();
      if (line.rfind("CHILD: ", 0) == 0) return line.substr(7);
    }
    return "<eof>";
  }
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  void Kill() { ::kill(pid_, SIGKILL); }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

class LmdbHoldsTest : public lmdb_test::LmdbTest {};

TEST_F(LmdbHoldsTest, ReserveIsExactAcrossProcesses) {
  OpenStore();  // creates the environment
  // Three other processes and this one each hold all they can: together
  // exactly the limit, whatever the interleaving (each alone would get 100
  // if holds lived in one process's memory).
  std::vector<std::unique_ptr<Child>> kids;
  for (int i = 0; i < 3; ++i) kids.push_back(std::make_unique<Child>("reserve-all", path_));
  uint64_t mine = 0;
  for (;;) {
    auto r = store_->Reserve("acct", {DayCharge()}, false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (!r->ok) break;
    ++mine;
  }
  uint64_t total = mine;
  for (auto& k : kids) {
    const std::string line = k->ReadLine();
    total += std::strtoull(line.c_str(), nullptr, 10);
    EXPECT_EQ(k->Wait(), 0) << line;
  }
  // Nobody released: every process stopped at its first refusal, which comes
  // only once held + committed reach the limit. So exactly the limit.
  EXPECT_EQ(total, kLimit);
  for (uint64_t i = 0; i < mine; ++i) ASSERT_TRUE(store_->Commit("acct", {DayCharge()}, nullptr, kNow).ok());
  auto u = store_->Usage("acct", {WindowUsage{Window::kDay, DayCharge().span, 0}});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ((*u)[0].used, total);
  auto more = store_->Reserve("acct", {DayCharge()}, false);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->ok, total < kLimit);
}

TEST_F(LmdbHoldsTest, ReservesUpToTheLimitWhenTheOthersHoldFirst) {
  OpenStore();
  Child a("hold-and-wait", path_, 30), b("hold-and-wait", path_, 50);
  ASSERT_EQ(a.ReadLine(), "held");
  ASSERT_EQ(b.ReadLine(), "held");
  auto refused = store_->Reserve("acct", {DayCharge(21)}, false);
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->ok);
  EXPECT_EQ(refused->reserved, 80u);
  auto fits = store_->Reserve("acct", {DayCharge(20)}, false);
  ASSERT_TRUE(fits.ok());
  EXPECT_TRUE(fits->ok);
}

TEST_F(LmdbHoldsTest, AStoreThatClosesGivesBackWhatItHeld) {
  OpenStore();
  Child c("hold-and-exit", path_, 60);
  ASSERT_EQ(c.ReadLine(), "held");
  EXPECT_EQ(c.Wait(), 0);
  auto r = store_->Reserve("acct", {DayCharge(100)}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok) << "reserved=" << r->reserved;
}

// The milter leaves with _Exit (libmilter's threads may still use the
// store): ReleaseHolds gives back what it held, so the next start finds no
// dead owner (it logged "reclaim-holds owners=1 ... holds=0" after every
// clean stop).
TEST_F(LmdbHoldsTest, AProcessThatReleasesAndExitsLeavesNothingToReclaim) {
  OpenStore();
  Child c("release-and-_exit", path_, 60);
  ASSERT_EQ(c.ReadLine(), "held");
  EXPECT_EQ(c.Wait(), 0);
  size_t reclaimed = 99;
  ASSERT_TRUE(store_->ReclaimDeadOwners(&reclaimed).ok());
  EXPECT_EQ(reclaimed, 0u);
  EXPECT_FALSE(logger_.Saw("action=reclaim-holds"));
  auto r = store_->Reserve("acct", {DayCharge(100)}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok) << "reserved=" << r->reserved;
}

TEST_F(LmdbHoldsTest, ReserveWorksAgainAfterReleaseHolds) {
  OpenStore();
  ASSERT_TRUE(store_->Reserve("acct", {DayCharge(60)}, false).value().ok);
  store_->ReleaseHolds();
  ASSERT_TRUE(store_->Reserve("acct", {DayCharge(100)}, false).value().ok) << "the 60 came back";
  EXPECT_FALSE(store_->Reserve("acct", {DayCharge(1)}, false).value().ok) << "the new hold stands";
  store_->ReleaseHolds();
  EXPECT_TRUE(store_->Reserve("acct", {DayCharge(100)}, false).value().ok) << "and is given back too";
}

TEST_F(LmdbHoldsTest, HoldsOfAKilledProcessComeBack) {
  OpenStore();
  Child c("hold-and-wait", path_, 60);
  ASSERT_EQ(c.ReadLine(), "held");
  auto before = store_->Reserve("acct", {DayCharge(41)}, false);
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(before->ok);
  size_t reclaimed = 99;
  ASSERT_TRUE(store_->ReclaimDeadOwners(&reclaimed).ok());
  EXPECT_EQ(reclaimed, 0u) << "a live process's holds were taken";
  c.Kill();
  c.Wait();
  ASSERT_TRUE(store_->ReclaimDeadOwners(&reclaimed).ok());
  EXPECT_EQ(reclaimed, 1u);
  EXPECT_TRUE(logger_.Saw("action=reclaim-holds owners=1"));
  EXPECT_TRUE(logger_.Saw("units=60"));
  auto after = store_->Reserve("acct", {DayCharge(100)}, false);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->ok) << "reserved=" << after->reserved;
}

TEST_F(LmdbHoldsTest, HoldsOfAProcessKilledWhileNothingRanComeBackAtOpen) {
  OpenStore();
  CloseStore();
  {
    Child c("hold-and-wait", path_, 60);
    ASSERT_EQ(c.ReadLine(), "held");
    c.Kill();
    c.Wait();
  }
  OpenStore();
  auto r = store_->Reserve("acct", {DayCharge(100)}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok) << "reserved=" << r->reserved;
}

TEST_F(LmdbHoldsTest, HoldsOfAnotherBootAreDropped) {
  OpenStore();
  ASSERT_TRUE(store_->Reserve("acct", {DayCharge(70)}, false).ok());
  CloseStore();
  // Plant an owner of this pid (alive) but another boot, holding 70.
  Raw([](MDB_txn* txn) {
    std::string owner(16, '\x07'), rec, key = owner + std::string("acct") + '\0' + '\x02';
    PutBe64(&rec, static_cast<uint64_t>(::getpid()));
    PutBe64(&rec, 1);
    rec += "00000000-0000-0000-0000-000000000000";
    PutBe64(&key, static_cast<uint64_t>(DayCharge().span.start));
    std::string seventy;
    PutBe64(&seventy, 70);
    RawPut(txn, "owners", owner, rec);
    RawPut(txn, "holds", key, seventy);
    RawPut(txn, "held", key.substr(16), seventy);
  });
  OpenStore();
  auto r = store_->Reserve("acct", {DayCharge(100)}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok) << "reserved=" << r->reserved;
}

TEST_F(LmdbHoldsTest, ReleaseGivesBackOnlyWhatThisStoreHolds) {
  OpenStore();
  Child c("hold-and-wait", path_, 50);
  ASSERT_EQ(c.ReadLine(), "held");
  ASSERT_TRUE(store_->Reserve("acct", {DayCharge(10)}, false)->ok);
  store_->Release("acct", {DayCharge(10)});
  store_->Release("acct", {DayCharge(10)});  // twice: must not take the child's
  auto r = store_->Reserve("acct", {DayCharge(51)}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->reserved, 50u);
}

TEST_F(LmdbHoldsTest, SchemaOneIsUpgraded) {
  OpenStore();
  CloseStore();
  Raw([](MDB_txn* txn) {
    std::string v;
    PutBe64(&v, 1);
    RawPut(txn, "meta", "schema_version", v);
  });
  OpenStore();
  EXPECT_TRUE(logger_.Saw("action=upgrade-schema from=1 to=" + std::to_string(kSchemaVersion)));
  CloseStore();
  std::string got;
  Raw([&](MDB_txn* txn) { got = RawGet(txn, "meta", "schema_version"); });
  EXPECT_EQ(GetBe64(got), kSchemaVersion);
}

}  // namespace
}  // namespace senderguard
