#include "pg_rows.h"

#include <algorithm>

#include "senderguard/store/postgresql/pg_records.h"

namespace senderguard::pg_rows {

namespace {
constexpr int64_t kMaxBigint = INT64_MAX;
constexpr int64_t kMaxInteger = INT32_MAX;
}  // namespace

bool DayAccountStorable(std::string_view account) {
  return account.empty() || PgStorableKey(account, kPgMaxAccountKey);
}

bool BounceAddressStorable(std::string_view address) { return PgStorableKey(address, kMaxKey); }

int64_t CountToPg(uint64_t v) { return static_cast<int64_t>(std::min<uint64_t>(v, kMaxBigint)); }
uint64_t CountFromPg(int64_t v) {
  if (v >= kMaxBigint) return UINT64_MAX;
  return v < 0 ? 0 : static_cast<uint64_t>(v);
}
int64_t BounceCountToPg(uint32_t v) { return std::min<int64_t>(v, kMaxInteger); }
uint32_t BounceCountFromPg(int64_t v) {
  if (v >= kMaxInteger) return UINT32_MAX;
  return v < 0 ? 0 : static_cast<uint32_t>(v);
}

std::vector<PgParam> ColumnArrays(const std::vector<std::vector<PgParam>>& rows, size_t columns) {
  std::vector<PgParam> out;
  out.reserve(columns);
  std::vector<std::string> column;
  for (size_t c = 0; c < columns; ++c) {
    column.clear();
    column.reserve(rows.size());
    for (const auto& row : rows) column.push_back(row.at(c).value_or(std::string()));
    out.push_back(PgTextArray(column));
  }
  return out;
}

std::string Unnest(const std::vector<const char*>& types, int first) {
  std::string out = "unnest(";
  for (size_t i = 0; i < types.size(); ++i) {
    if (i > 0) out += ", ";
    out += "$" + std::to_string(first + static_cast<int>(i)) + "::" + types[i] + "[]";
  }
  out += ")";
  return out;
}

std::vector<PgParam> DayCountParams(const DayCountsRecord& d) {
  return {PgInt(CountToPg(d.delivered)),  PgInt(CountToPg(d.deferred)), PgInt(CountToPg(d.hard)),
          PgInt(CountToPg(d.soft)),       PgInt(CountToPg(d.technical)), PgInt(CountToPg(d.expired)),
          PgInt(CountToPg(d.complaints)), PgInt(CountToPg(d.quota_used)), PgInt(CountToPg(d.refused)),
          PgInt(d.tier)};
}

DayCountsRecord DayCountsFromRow(const PgResult& r, int row, int col) {
  DayCountsRecord d;
  uint64_t* fields[] = {&d.delivered, &d.deferred,   &d.hard,       &d.soft,   &d.technical,
                        &d.expired,   &d.complaints, &d.quota_used, &d.refused};
  for (int i = 0; i < 9; ++i) *fields[i] = CountFromPg(r.GetInt(row, col + i));
  // The schema's CHECK keeps it in 0..255.
  d.tier = static_cast<uint8_t>(std::clamp<int64_t>(r.GetInt(row, col + 9), 0, 255));
  return d;
}

const std::vector<const char*>& DayRowTypes() {
  static const std::vector<const char*> kTypes = {"text",   "bigint", "bigint", "bigint",
                                                  "bigint", "bigint", "bigint", "bigint",
                                                  "bigint", "bigint", "bigint", "smallint"};
  return kTypes;
}

std::vector<PgParam> BounceParams(const BounceRecord& b) {
  return {b.address, PgInt(BounceCountToPg(b.count)), PgEncodeText(b.last_account),
          PgEncodeText(b.last_category), PgInt(b.last_time)};
}

BounceRecord BounceFromRow(const PgResult& r, int row, int col) {
  BounceRecord b;
  b.address = r.Get(row, col);
  b.count = BounceCountFromPg(r.GetInt(row, col + 1));
  b.last_account = PgDecodeText(r.Get(row, col + 2));
  b.last_category = PgDecodeText(r.Get(row, col + 3));
  b.last_time = r.GetInt(row, col + 4);
  return b;
}

std::vector<PgParam> SuppressionParams(const SuppressionRecord& s) {
  return {s.account, s.address, PgEncodeText(s.reason), PgEncodeText(s.actor), PgInt(s.since)};
}

std::vector<PgParam> AuditParams(const AuditEntry& e) {
  return {PgInt(e.time_us), PgEncodeText(e.actor), PgEncodeText(e.action),
          PgEncodeText(e.account), PgEncodeText(e.detail)};
}

AuditEntry AuditFromRow(const PgResult& r, int row, int col) {
  AuditEntry e;
  e.time_us = r.GetInt(row, col);
  e.actor = PgDecodeText(r.Get(row, col + 1));
  e.action = PgDecodeText(r.Get(row, col + 2));
  e.account = PgDecodeText(r.Get(row, col + 3));
  e.detail = PgDecodeText(r.Get(row, col + 4));
  return e;
}

}  // namespace senderguard::pg_rows
