// The PostgreSQL schema (schema.sql, compiled in) and its migrations:
// what `senderguardctl store init|migrate` applies and what PgStore::Open
// checks.
#pragma once

#include <string>
#include <vector>

#include "senderguard/base/status.h"
#include "senderguard/store/postgresql/pg_conn.h"

namespace senderguard {

struct PgMigration {
  int number = 0;
  std::string title;
  std::string sql;
};

// The migrations of schema.sql, in order (parsed from its
// "-- sg:migration N title" lines; numbered 1, 2, ... without gaps).
const std::vector<PgMigration>& PgMigrations();
// The number of the last one: the version this build works with.
int PgLatestSchemaVersion();

// The database's schema version: 0 when it has no senderguard schema.
Result<int> PgSchemaVersion(PgConn& conn);

// Applies every migration above the database's version, one transaction
// each, under pg_advisory_xact_lock(5347) (two nodes migrating at once apply
// each migration once). Sets *from and *to. A database newer than this build
// is an error (kInvalid) and is left alone.
Status PgMigrate(PgConn& conn, int* from, int* to);

}  // namespace senderguard
