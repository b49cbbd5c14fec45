// Rows of the feedback tables (day_counts, bounces) and the array
// parameters that carry many rows in one statement (unnest($1::text[],
// $2::bigint[], ...)). Private to store/postgresql (not one of the target's
// headers); used by the feedback (pg_feedback.cc) and `store copy`
// (pg_copy.cc), and the parameters of suppression and audit rows, which
// the records (pg_records.cc) write too. Accounts, reading suppressions and
// the text escape are pg_records.h's, shared by every part. Pure
// functions; thread-compatible.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/model/records.h"
#include "senderguard/store/postgresql/pg_conn.h"

namespace senderguard::pg_rows {

// The longest key day_counts and bounces take (schema.sql's CHECKs).
inline constexpr size_t kMaxKey = 1024;

// Whether `account` can be day_counts' key: "" (unattributed), or a name
// the accounts table could hold too (pg_records.h PgCheckAccountName), so
// that a review of it can be written.
bool DayAccountStorable(std::string_view account);
// Whether `address` can be bounces' key: 1..kMaxKey bytes of UTF-8 without
// NUL.
bool BounceAddressStorable(std::string_view address);

// Counts are bigint (at most INT64_MAX); a count saturated at UINT64_MAX
// (feedback_rules.h AddCounts) is stored as INT64_MAX and read back as
// UINT64_MAX, so saturation survives the round trip. Bounce counts are
// integer: the same with INT32_MAX and UINT32_MAX.
int64_t CountToPg(uint64_t v);
uint64_t CountFromPg(int64_t v);
int64_t BounceCountToPg(uint32_t v);
uint32_t BounceCountFromPg(int64_t v);

// Rows of parameters (each of `columns` values, none NULL, none holding a
// NUL) turned into one array literal per column (PgTextArray; the literal
// casts to bigint[] as well as to text[]).
std::vector<PgParam> ColumnArrays(const std::vector<std::vector<PgParam>>& rows, size_t columns);
// "unnest($first::types[0][], $first+1::types[1][], ...)".
std::string Unnest(const std::vector<const char*>& types, int first);

// ---- day_counts: (account, day, then these ten)
inline constexpr char kDayCountColumns[] =
    "delivered, deferred, hard, soft, technical, expired, complaints, quota_used, refused, tier";
// The ten columns as parameters (bigint), in kDayCountColumns' order.
std::vector<PgParam> DayCountParams(const DayCountsRecord& d);
// From ten columns starting at `col`.
DayCountsRecord DayCountsFromRow(const PgResult& r, int row, int col);
// The array types of a row (account, day, then kDayCountColumns), for Unnest.
const std::vector<const char*>& DayRowTypes();

// ---- bounces: the last account and category are free text (PgEncodeText)
inline constexpr char kBounceColumns[] = "address, count, last_account, last_category, last_time";
std::vector<PgParam> BounceParams(const BounceRecord& b);
BounceRecord BounceFromRow(const PgResult& r, int row, int col);

// ---- suppression (pg_records.h's mapping): the five columns of
// kPgSuppressionColumns as parameters (text, text, text, text, bigint), the
// reason and the actor through PgEncodeText.
std::vector<PgParam> SuppressionParams(const SuppressionRecord& s);

// ---- audit: every text through PgEncodeText
inline constexpr char kAuditColumns[] = "time_us, actor, action, account, detail";
// The five columns of kAuditColumns as parameters (bigint, then text).
std::vector<PgParam> AuditParams(const AuditEntry& e);
// From five columns starting at `col`.
AuditEntry AuditFromRow(const PgResult& r, int row, int col);

}  // namespace senderguard::pg_rows
