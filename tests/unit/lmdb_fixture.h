// The LMDB test fixture shared by lmdb_store_test, lmdb_feedback_test and
// store_contract_test: a fresh temporary directory per test, a store opened
// on it, and raw LMDB access to plant corruption. LMDB allows one open
// handle per environment per process, so the raw helpers run only while the
// store is closed.
#pragma once

#include <gtest/gtest.h>
#include <lmdb.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/base/kvlog.h"
#include "senderguard/store/lmdb/lmdb_store.h"

namespace senderguard::lmdb_test {

class CapturingLogger : public Logger {
 public:
  void Log(Level, std::string_view line) override {
    std::lock_guard<std::mutex> lk(mu_);
    lines_.emplace_back(line);
  }
  // How many lines contain `needle`.
  size_t Count(std::string_view needle) {
    std::lock_guard<std::mutex> lk(mu_);
    size_t n = 0;
    for (const auto& l : lines_) n += l.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }
  bool Saw(std::string_view needle) { return Count(needle) > 0; }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// A fresh directory under the system's temporary directory, removed with
// everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sg-lmdb-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Options of a test store at `path`: a 64 MiB map, a short sync interval.
inline LmdbOptions TestLmdbOptions(const std::string& path, Logger* logger,
                                   uint64_t map_size = 64ull << 20) {
  LmdbOptions o;
  o.path = path;
  o.map_size_bytes = map_size;
  o.sync_interval_ms = 50;
  o.logger = logger;
  return o;
}

class LmdbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>();
    path_ = dir_->path() + "/store";  // not yet existing: Open creates it
  }
  void TearDown() override {
    store_.reset();
    dir_.reset();
  }

  LmdbOptions Options(uint64_t map_size = 64ull << 20) {
    return TestLmdbOptions(path_, &logger_, map_size);
  }
  void OpenStore(uint64_t map_size = 64ull << 20) {
    store_.reset();
    auto r = LmdbStore::Open(Options(map_size));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    store_ = std::move(*r);
  }
  void CloseStore() { store_.reset(); }

  // Runs `fn` on the environment through the raw LMDB API, with the flags the
  // store uses. REQUIRES: the store is closed.
  void Raw(const std::function<void(MDB_txn*)>& fn) {
    ASSERT_EQ(store_, nullptr);
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 24), 0);
    ASSERT_EQ(mdb_env_set_mapsize(env, 64ull << 20), 0);
    ASSERT_EQ(mdb_env_open(env, path_.c_str(), MDB_NOTLS | MDB_NOSYNC, 0640), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    fn(txn);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_sync(env, 1);
    mdb_env_close(env);
  }
  static void RawPut(MDB_txn* txn, const char* db, std::string_view key, std::string_view value) {
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, db, 0, &dbi), 0) << db;
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  }
  static std::string RawGet(MDB_txn* txn, const char* db, std::string_view key) {
    MDB_dbi dbi;
    EXPECT_EQ(mdb_dbi_open(txn, db, 0, &dbi), 0) << db;
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
    if (mdb_get(txn, dbi, &k, &v) != 0) return "<none>";
    return std::string(static_cast<const char*>(v.mv_data), v.mv_size);
  }
  // Overwrites every value of database `db` with `bytes`; returns how many.
  static int RawCorruptAll(MDB_txn* txn, const char* db, std::string_view bytes) {
    MDB_dbi dbi;
    EXPECT_EQ(mdb_dbi_open(txn, db, 0, &dbi), 0) << db;
    MDB_cursor* cur = nullptr;
    EXPECT_EQ(mdb_cursor_open(txn, dbi, &cur), 0);
    if (cur == nullptr) return 0;
    MDB_val k, v;
    int n = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      MDB_val bad{bytes.size(), const_cast<char*>(bytes.data())};
      EXPECT_EQ(mdb_cursor_put(cur, &k, &bad, MDB_CURRENT), 0);
      ++n;
    }
    mdb_cursor_close(cur);
    return n;
  }
  // Entries of a named database. REQUIRES: inside Raw.
  static size_t RawEntries(MDB_txn* txn, const char* db) {
    MDB_dbi dbi;
    EXPECT_EQ(mdb_dbi_open(txn, db, 0, &dbi), 0) << db;
    MDB_stat st{};
    EXPECT_EQ(mdb_stat(txn, dbi, &st), 0);
    return st.ms_entries;
  }

  std::unique_ptr<TempDir> dir_;
  std::string path_;
  CapturingLogger logger_;
  std::unique_ptr<LmdbStore> store_;
};

}  // namespace senderguard::lmdb_test
