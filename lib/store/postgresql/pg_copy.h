// CopyStore: `senderguardctl store copy`, between an LMDB store and the
// PostgreSQL store, either way: accounts (quotas, state, verified domains,
// dry run, reputation tier), suppressions, daily counts, bounce counts and
// the audit log. The queue map, deferred recipients, quota counters and
// tailer positions are not copied: they belong to one MTA and its moment.
//
// A copy is an upsert: each record of the source replaces the
// destination's record under the same key (an account by name, a
// suppression by account and address, a day by account and day, a bounce
// count by address); records only the destination has are kept. Audit
// entries are appended unless the destination holds them already, counted
// by (time_us, actor, action, account, detail): an entry the source holds
// n times is there n times after any number of copies. So a second copy
// changes nothing and writes nothing.
//
// Into PostgreSQL: one transaction, under SET LOCAL sg.bulk = 'on', so the
// nodes' caches get one "resync" change and reload whole rather than one
// notification per row (schema.sql, sg_log_change); a failed copy leaves
// nothing. A dry run does the same and rolls back, so its figures are the
// real ones. Into LMDB: in transactions of a few thousand records; a copy
// that fails part way is completed by running it again. The source is read
// in one snapshot (an LMDB read transaction; a REPEATABLE READ one).
//
// What the destination cannot hold is skipped and counted (PostgreSQL:
// what pg_records.h refuses, keys that are not UTF-8, hold a NUL or are
// longer than the nodes' caches take; LMDB: keys over its 511 bytes), and
// so is a record of the source that cannot be read.
//
// Errors: kInvalid for a request that cannot be done (no LMDB store at the
// path for --from; the database without senderguard's schema, or another
// version: `senderguardctl store init|migrate`), kUnavailable when
// PostgreSQL cannot be reached, kIo/kCorruption/kFull from the stores.
// Runs on the caller's thread; opens its own connection and LMDB handle.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "senderguard/base/status.h"

namespace senderguard {

struct StoreCopyRequest {
  enum class Direction { kLmdbToPostgresql, kPostgresqlToLmdb };
  Direction direction = Direction::kLmdbToPostgresql;
  std::string lmdb_path;                  // the LMDB store's directory
  uint64_t map_size_bytes = 256ull << 20;  // its initial map size (it grows)
  std::string conninfo;                   // libpq connection string
  std::string program = "senderguardctl";  // application_name
  bool dry_run = false;                   // count, write nothing
};

// What a copy did with one kind of record.
struct StoreCopyCount {
  std::string kind;      // "accounts", "suppression", "days", "bounces", "audit"
  uint64_t read = 0;     // records read from the source
  uint64_t written = 0;  // new or changed in the destination (dry run: would be)
  uint64_t skipped = 0;  // unreadable in the source or not storable in the destination
};

// The counts per kind, in the order above.
Result<std::vector<StoreCopyCount>> CopyStore(const StoreCopyRequest& request);

}  // namespace senderguard
