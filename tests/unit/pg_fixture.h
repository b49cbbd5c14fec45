// Fresh PostgreSQL databases for tests of the PostgreSQL store. The test
// binary runs under tests/pg/with_pg.sh, which starts a private server and
// exports SG_TEST_PG_CONNINFO; without it, PgTestServer() is empty and the
// tests skip.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "senderguard/store/postgresql/pg_conn.h"
#include "senderguard/store/postgresql/pg_schema.h"

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

}  // namespace senderguard
