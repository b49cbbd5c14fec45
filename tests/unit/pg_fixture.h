// Fresh PostgreSQL databases for tests of the PostgreSQL store. The test
// binary runs under tests/pg/with_pg.sh, which starts a private server and
// exports SG_TEST_PG_CONNINFO; without it, PgTestServer() is empty and the
// tests skip.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "lmdb_fixture.h"
#include "senderguard/store/postgresql/pg_conn.h"
#include "senderguard/store/postgresql/pg_schema.h"
#include "senderguard/store/postgresql/pg_store.h"

namespace senderguard {

inline std::string PgTestServer() {
  const char* c = std::getenv("SG_TEST_PG_CONNINFO");
  return c == nullptr ? std::string() : std::string(c);
}

// Creates an empty database with the schema applied (`migrate` false: no
// schema) and returns its conninfo, or "" with *error set.
inline std::string PgTestDatabase(std::string* error, bool migrate = true) {
  static std::atomic<int> n{0};
  std::string server = PgTestServer();
  if (server.empty()) {
    *error = "SG_TEST_PG_CONNINFO is not set (run under tests/pg/with_pg.sh)";
    return {};
  }
  std::string name = "sgt_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
  auto admin = PgConn::Connect(server, "sg-test");
  if (!admin.ok()) {
    *error = admin.status().message();
    return {};
  }
  auto made = admin.value()->Exec("CREATE DATABASE " + name);
  if (!made.ok()) {
    *error = made.status().message();
    return {};
  }
  std::string conninfo = server + " dbname=" + name;
  if (migrate) {
    auto c = PgConn::Connect(conninfo, "sg-test");
    if (!c.ok()) {
      *error = c.status().message();
      return {};
    }
    int from = 0, to = 0;
    Status st = PgMigrate(*c.value(), &from, &to);
    if (!st.ok()) {
      *error = st.message();
      return {};
    }
  }
  return conninfo;
}

// Options of a PgStore on `conninfo` as node `node` (application_name
// `program`), its node's LMDB store a test store at `local_path`
// (lmdb_test::TestLmdbOptions), logging to `logger` (may be null).
inline PgStoreOptions PgTestStoreOptions(const std::string& conninfo, const std::string& node,
                                         const std::string& program,
                                         const std::string& local_path, Logger* logger) {
  PgStoreOptions o;
  o.conninfo = conninfo;
  o.node = node;
  o.program = program;
  o.local = lmdb_test::TestLmdbOptions(local_path, logger);
  o.logger = logger;
  return o;
}

// A test with a fresh database of its own (schema applied) in db_; skipped
// without a server. A subclass's SetUp calls this one first and returns
// when db_ is empty (skipped or failed).
class PgDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PgTestServer().empty()) GTEST_SKIP() << "no server (run under tests/pg/with_pg.sh)";
    std::string err;
    db_ = PgTestDatabase(&err);
    ASSERT_FALSE(db_.empty()) << err;
  }
  // A connection of the test's own to db_ (null, the test failed, when it cannot).
  std::unique_ptr<PgConn> ConnectDb(const std::string& program) {
    auto c = PgConn::Connect(db_, program);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c.value()) : nullptr;
  }

  std::string db_;
};

}  // namespace senderguard
