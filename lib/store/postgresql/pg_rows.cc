#include "pg_rows.h"

#include <algorithm>

#include "senderguard/base/text.h"

namespace senderguard::pg_rows {

namespace {

constexpr int64_t kMaxBigint = INT64_MAX;
constexpr int64_t kMaxInteger = INT32_MAX;

PgParam Limit(uint64_t v) {
  if (v == kInheritLimit) return std::nullopt;
  if (v == kUnlimited) return PgInt(-1);
  return PgInt(static_cast<int64_t>(std::min<uint64_t>(v, kMaxBigint)));
}

uint64_t LimitFromRow(const PgResult& r, int row, int col) {
  if (r.IsNull(row, col)) return kInheritLimit;
  const int64_t v = r.GetInt(row, col);
  return v < 0 ? kUnlimited : static_cast<uint64_t>(v);
}

AccountStatus StatusFromName(std::string_view s) {
  if (s == "suspended") return AccountStatus::kSuspended;
  if (s == "reinstated") return AccountStatus::kReinstated;
  return AccountStatus::kActive;
}

}  // namespace

bool Storable(std::string_view s) {
  return s.find('\0') == std::string_view::npos && ValidUtf8(s);
}

bool IsKey(std::string_view s) { return s.size() <= kMaxKey && Storable(s); }

std::string Text(std::string_view s) {
  if (Storable(s)) return std::string(s);
  return Printable(s, s.size() * 4 + 3);  // whole: every byte escaped at most as \xNN
}

std::string OpaqueToText(std::string_view bytes) {
  if (Storable(bytes) && (bytes.empty() || bytes[0] != '\x01')) return std::string(bytes);
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\x01";
  out.reserve(1 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string OpaqueFromText(std::string_view text) {
  if (text.empty() || text[0] != '\x01') return std::string(text);
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 1; i + 1 < text.size(); i += 2) {
    const int hi = nib(text[i]), lo = nib(text[i + 1]);
    if (hi < 0 || lo < 0) return std::string(text);  // not ours: as stored
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

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

std::string Array(const std::vector<PgParam>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    if (!values[i]) {
      out += "NULL";
      continue;
    }
    out.push_back('"');
    for (char c : *values[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

std::vector<PgParam> ColumnArrays(const std::vector<std::vector<PgParam>>& rows, size_t columns) {
  std::vector<PgParam> out;
  out.reserve(columns);
  std::vector<PgParam> column;
  for (size_t c = 0; c < columns; ++c) {
    column.clear();
    column.reserve(rows.size());
    for (const auto& row : rows) column.push_back(row.at(c));
    out.push_back(Array(column));
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
  return {PgInt(CountToPg(d.delivered)), PgInt(CountToPg(d.deferred)), PgInt(CountToPg(d.hard)),
          PgInt(CountToPg(d.soft)),      PgInt(CountToPg(d.technical)), PgInt(CountToPg(d.expired)),
          PgInt(CountToPg(d.complaints))};
}

DayCountsRecord DayCountsFromRow(const PgResult& r, int row, int col) {
  DayCountsRecord d;
  uint64_t* fields[] = {&d.delivered, &d.deferred, &d.hard,      &d.soft,
                        &d.technical, &d.expired,  &d.complaints};
  for (int i = 0; i < 7; ++i) *fields[i] = CountFromPg(r.GetInt(row, col + i));
  return d;
}

std::vector<PgParam> BounceParams(const BounceRecord& b) {
  return {b.address, PgInt(BounceCountToPg(b.count)), Text(b.last_account),
          Text(b.last_category), PgInt(b.last_time)};
}

BounceRecord BounceFromRow(const PgResult& r, int row, int col) {
  BounceRecord b;
  b.address = r.Get(row, col);
  b.count = BounceCountFromPg(r.GetInt(row, col + 1));
  b.last_account = r.Get(row, col + 2);
  b.last_category = r.Get(row, col + 3);
  b.last_time = r.GetInt(row, col + 4);
  return b;
}

std::vector<PgParam> SuppressionParams(const SuppressionRecord& s) {
  return {s.account, s.address, Text(s.reason), Text(s.actor), PgInt(s.since)};
}

SuppressionRecord SuppressionFromRow(const PgResult& r, int row, int col) {
  SuppressionRecord s;
  s.account = r.Get(row, col);
  s.address = r.Get(row, col + 1);
  s.reason = r.Get(row, col + 2);
  s.actor = r.Get(row, col + 3);
  s.since = r.GetInt(row, col + 4);
  return s;
}

std::vector<PgParam> AuditParams(const AuditEntry& e) {
  return {PgInt(e.time_us), Text(e.actor), Text(e.action), Text(e.account), Text(e.detail)};
}

AuditEntry AuditFromRow(const PgResult& r, int row, int col) {
  AuditEntry e;
  e.time_us = r.GetInt(row, col);
  e.actor = r.Get(row, col + 1);
  e.action = r.Get(row, col + 2);
  e.account = r.Get(row, col + 3);
  e.detail = r.Get(row, col + 4);
  return e;
}

const std::vector<const char*>& AccountTypes() {
  static const std::vector<const char*> kTypes = {
      "text",   "bigint", "bigint",  "bigint",   "bigint", "text",
      "text",   "text",   "bigint",  "bigint",   "boolean", "bigint",
      "smallint", "integer", "bigint", "bigint", "boolean"};
  return kTypes;
}

std::vector<PgParam> AccountParams(const AccountRecord& a) {
  return {a.name,
          Limit(a.limits[0]),
          Limit(a.limits[1]),
          Limit(a.limits[2]),
          Limit(a.limits[3]),
          std::string(AccountStatusName(a.status)),
          Text(a.status_reason),
          Text(a.status_actor),
          PgInt(a.status_since),
          PgInt(a.reinstated_until),
          PgBool(a.dry_run),
          PgInt(a.created),
          PgInt(std::clamp<int>(a.tier, 1, 5)),  // the schema's CHECK: tiers 1..5
          PgInt(std::min<int64_t>(a.clean_days, kMaxInteger)),
          PgInt(a.rated_through),
          PgInt(a.rates_since),
          PgBool(a.domains_only)};
}

AccountRecord AccountFromRow(const PgResult& r, int row, int col) {
  AccountRecord a;
  a.name = r.Get(row, col);
  for (int w = 0; w < 4; ++w) a.limits[w] = LimitFromRow(r, row, col + 1 + w);
  a.status = StatusFromName(r.Get(row, col + 5));
  a.status_reason = r.Get(row, col + 6);
  a.status_actor = r.Get(row, col + 7);
  a.status_since = r.GetInt(row, col + 8);
  a.reinstated_until = r.GetInt(row, col + 9);
  a.dry_run = r.GetBool(row, col + 10);
  a.created = r.GetInt(row, col + 11);
  a.tier = static_cast<uint8_t>(std::clamp<int64_t>(r.GetInt(row, col + 12), 1, 5));
  a.clean_days = static_cast<uint32_t>(std::max<int64_t>(r.GetInt(row, col + 13), 0));
  a.rated_through = r.GetInt(row, col + 14);
  a.rates_since = r.GetInt(row, col + 15);
  a.domains_only = r.GetBool(row, col + 16);
  return a;
}

}  // namespace senderguard::pg_rows
