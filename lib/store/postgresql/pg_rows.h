// Rows of the PostgreSQL store and the records of model/records.h: which
// column holds which field, what becomes of text PostgreSQL cannot hold,
// and the array parameters that carry many rows in one statement
// (unnest($1::text[], $2::bigint[], ...)). Private to store/postgresql (not
// one of the target's headers); used by the feedback (pg_feedback.cc) and
// by `store copy` (pg_copy.cc). Pure functions; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/model/records.h"
#include "senderguard/store/postgresql/pg_conn.h"

namespace senderguard::pg_rows {

// The longest key the schema accepts (its CHECKs), in bytes.
inline constexpr size_t kMaxKey = 1024;

// Whether PostgreSQL's text can hold `s` at all: valid UTF-8 without NUL
// (the database's encoding is UTF-8; text never holds a NUL).
bool Storable(std::string_view s);
// Whether `s` can be a key (an account name, an address): Storable and at
// most kMaxKey bytes. A record whose key cannot is left out (and said so)
// rather than failing the statement and every retry of it.
bool IsKey(std::string_view s);
// Text that is no key (a reason, an actor, an audit detail): itself when
// Storable, else escaped (base/text.h Printable, the one escaping policy).
std::string Text(std::string_view s);

// A tailer's source and position are opaque bytes (store.h): stored as
// text, reversibly. Storable text not starting with \x01 is itself; other
// bytes are \x01 then their hex. So two different values never meet.
std::string OpaqueToText(std::string_view bytes);
std::string OpaqueFromText(std::string_view text);

// Counts are bigint (at most INT64_MAX); a count saturated at UINT64_MAX
// (feedback_rules.h AddCounts) is stored as INT64_MAX and read back as
// UINT64_MAX, so saturation survives the round trip. Bounce counts are
// integer: the same with INT32_MAX and UINT32_MAX.
int64_t CountToPg(uint64_t v);
uint64_t CountFromPg(int64_t v);
int64_t BounceCountToPg(uint32_t v);
uint32_t BounceCountFromPg(int64_t v);

// An array literal for a `$n::type[]` parameter: each value quoted, NULL
// for an absent one ('{"1","2"}' casts to bigint[] as well as to text[]).
std::string Array(const std::vector<PgParam>& values);
// Rows of parameters (each of `columns` values) turned into one array
// literal per column.
std::vector<PgParam> ColumnArrays(const std::vector<std::vector<PgParam>>& rows, size_t columns);
// "unnest($first::types[0][], $first+1::types[1][], ...)".
std::string Unnest(const std::vector<const char*>& types, int first);

// ---- day_counts: (account, day, then these seven)
inline constexpr char kDayCountColumns[] =
    "delivered, deferred, hard, soft, technical, expired, complaints";
// The seven counts as parameters (bigint), in kDayCountColumns' order.
std::vector<PgParam> DayCountParams(const DayCountsRecord& d);
// From seven columns starting at `col`.
DayCountsRecord DayCountsFromRow(const PgResult& r, int row, int col);

// ---- bounces: address, count, last_account, last_category, last_time
inline constexpr char kBounceColumns[] = "address, count, last_account, last_category, last_time";
std::vector<PgParam> BounceParams(const BounceRecord& b);
BounceRecord BounceFromRow(const PgResult& r, int row, int col);

// ---- suppression: account, address, reason, actor, since
inline constexpr char kSuppressionColumns[] = "account, address, reason, actor, since";
std::vector<PgParam> SuppressionParams(const SuppressionRecord& s);
SuppressionRecord SuppressionFromRow(const PgResult& r, int row, int col);

// ---- audit: time_us, actor, action, account, detail
inline constexpr char kAuditColumns[] = "time_us, actor, action, account, detail";
std::vector<PgParam> AuditParams(const AuditEntry& e);
AuditEntry AuditFromRow(const PgResult& r, int row, int col);

// ---- accounts (the verified domains are rows of account_domains)
// Limits: NULL = kInheritLimit (the configured default), -1 = kUnlimited,
// else the limit (at most INT64_MAX). Status by name (AccountStatusName).
inline constexpr char kAccountColumns[] =
    "name, limit_minute, limit_hour, limit_day, limit_month, status, status_reason, "
    "status_actor, status_since, reinstated_until, dry_run, created, tier, clean_days, "
    "rated_through, rates_since, domains_only";
inline constexpr size_t kAccountColumnCount = 17;
// The SQL types of kAccountColumns, in order (for Unnest).
const std::vector<const char*>& AccountTypes();
// kAccountColumns' values, in order; domains are not among them.
std::vector<PgParam> AccountParams(const AccountRecord& a);
// From kAccountColumns starting at `col` (domains left empty).
AccountRecord AccountFromRow(const PgResult& r, int row, int col);

}  // namespace senderguard::pg_rows
