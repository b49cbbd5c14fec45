#include "senderguard/store/postgresql/pg_schema.h"

#include <cstdlib>
#include <string_view>

namespace senderguard {

extern const char kPgSchemaSql[];  // schema_sql.cc, generated from schema.sql

namespace {

constexpr std::string_view kMarker = "-- sg:migration ";

std::vector<PgMigration> Parse() {
  std::vector<PgMigration> out;
  std::string_view s(kPgSchemaSql);
  size_t pos = 0;
  PgMigration* cur = nullptr;
  while (pos < s.size()) {
    size_t eol = s.find('\n', pos);
    if (eol == std::string_view::npos) eol = s.size();
    std::string_view line = s.substr(pos, eol - pos);
    if (line.substr(0, kMarker.size()) == kMarker) {
      std::string_view rest = line.substr(kMarker.size());
      size_t sp = rest.find(' ');
      PgMigration m;
      m.number = std::atoi(std::string(rest.substr(0, sp)).c_str());
      m.title = sp == std::string_view::npos ? "" : std::string(rest.substr(sp + 1));
      out.push_back(std::move(m));
      cur = &out.back();
    } else if (cur != nullptr) {
      cur->sql.append(line);
      cur->sql.push_back('\n');
    }
    pos = eol + 1;
  }
  return out;
}

}  // namespace

const std::vector<PgMigration>& PgMigrations() {
  static const std::vector<PgMigration> m = Parse();
  return m;
}

int PgLatestSchemaVersion() {
  const auto& m = PgMigrations();
  return m.empty() ? 0 : m.back().number;
}

Result<int> PgSchemaVersion(PgConn& conn) {
  // A query on the catalog, not to_regclass(): that goes through this
  // backend's catalog cache, which can still hold "no such table" from before
  // another node's migration committed while this one waited on the lock.
  auto has = conn.Exec(
      "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables "
      "WHERE schemaname = current_schema() AND tablename = 'sg_meta')");
  if (!has.ok()) return has.status();
  if (!has.value().GetBool(0, 0)) return 0;
  auto v = conn.Exec("SELECT schema_version FROM sg_meta");
  if (!v.ok()) return v.status();
  if (v.value().rows() != 1) return Status::Corruption("postgresql: sg_meta has no row");
  return static_cast<int>(v.value().GetInt(0, 0));
}

Status PgMigrate(PgConn& conn, int* from, int* to) {
  auto v = PgSchemaVersion(conn);
  if (!v.ok()) return v.status();
  *from = *to = v.value();
  if (*from > PgLatestSchemaVersion())
    return Status::Invalid("postgresql: the database's schema is version " +
                           std::to_string(*from) + ", newer than this build's " +
                           std::to_string(PgLatestSchemaVersion()) +
                           ": upgrade senderguard on this node");
  for (const PgMigration& m : PgMigrations()) {
    Status st = conn.Transaction([&](PgConn& c) -> Status {
      auto lock = c.Exec("SELECT pg_advisory_xact_lock(5347)");
      if (!lock.ok()) return lock.status();
      auto now = PgSchemaVersion(c);  // again, under the lock
      if (!now.ok()) return now.status();
      if (now.value() >= m.number) return Status::Ok();
      auto r = c.Exec(m.sql);
      if (!r.ok())
        return r.status().Prefixed("migration " + std::to_string(m.number) + " (" + m.title +
                                   "): ");
      *to = m.number;
      return Status::Ok();
    });
    if (!st.ok()) return st;
  }
  auto after = PgSchemaVersion(conn);
  if (!after.ok()) return after.status();
  *to = after.value();
  return Status::Ok();
}

}  // namespace senderguard
