// senderguardctl store init|migrate|status: the store itself.
//
// With [store] backend = "postgresql": init creates senderguard's schema on
// an empty database (schema.sql's migrations), migrate applies the
// migrations above the database's version, status shows the database, the
// schema version, this node, its cache and its open leases. They connect
// with PgConn directly, never through PgStore::Open, which refuses a
// database without the schema. With LMDB (the default) the programs create
// and upgrade the store themselves: init and migrate say so, status shows
// the path and the schema version.
#include <cstdio>

#include <unistd.h>

#include "cli.h"
#include "senderguard/decide/quota.h"
#include "senderguard/store/open.h"
#include "senderguard/store/postgresql/pg_conn.h"
#include "senderguard/store/postgresql/pg_schema.h"

namespace senderguard::cli {
namespace {

constexpr size_t kMaxLeasesShown = 100;

void RequirePostgresql(const Config& c, const char* what) {
  if (c.store_backend == StoreBackend::kPostgresql) return;
  throw Failure{kExitUsage, std::string("store ") + what +
                                " is for the PostgreSQL backend ([store] backend = \"postgresql\"); " +
                                c.source + " uses LMDB at " + c.store_path +
                                ", which the programs create and upgrade themselves"};
}

std::unique_ptr<PgConn> Connect(const Config& c) {
  auto conn = PgConn::Connect(c.postgresql.conninfo, "senderguardctl");
  if (!conn.ok()) throw Failure{kExitStore, conn.status().message()};
  return std::move(conn.value());
}

PgResult Query(PgConn& conn, const std::string& sql, const std::vector<PgParam>& params = {}) {
  auto r = conn.Exec(sql, params);
  if (!r.ok()) throw Failure{kExitStore, r.status().message()};
  return std::move(r.value());
}

std::string VersionText(int have, int latest) {
  if (have == 0) return "none (run `senderguardctl store init`)";
  std::string s = std::to_string(have) + " (this build: " + std::to_string(latest);
  if (have < latest) return s + "; run `senderguardctl store migrate`)";
  if (have > latest) return s + "; the database is newer: upgrade senderguard on this node)";
  return s + ", up to date)";
}

void Init(Env& env) {
  const Config& c = env.config();
  RequirePostgresql(c, "init");
  auto conn = Connect(c);
  const int have = Take(PgSchemaVersion(*conn));
  if (have != 0) {
    throw Failure{kExitUsage, "the database already has senderguard's schema (version " +
                                  std::to_string(have) + "): `senderguardctl store migrate` " +
                                  "applies what this build adds"};
  }
  int from = 0, to = 0;
  Check(PgMigrate(*conn, &from, &to));
  std::printf("schema created: version %d\n", to);
}

void Migrate(Env& env) {
  const Config& c = env.config();
  RequirePostgresql(c, "migrate");
  auto conn = Connect(c);
  // An empty database is init's: a migrate pointed at the wrong database
  // must not fill it.
  if (Take(PgSchemaVersion(*conn)) == 0) {
    throw Failure{kExitUsage,
                  "the database has no senderguard schema: `senderguardctl store init` creates it"};
  }
  int from = 0, to = 0;
  Check(PgMigrate(*conn, &from, &to));
  if (from == to) {
    std::printf("schema version %d: up to date\n", to);
  } else {
    std::printf("schema migrated from version %d to %d\n", from, to);
  }
}

void StatusLmdb(Env& env) {
  const Config& c = env.config();
  env.existing_store();  // opened: upgraded to this build's version, or refused
  if (env.json) {
    PrintJson({{"backend", "lmdb"}, {"path", c.store_path}, {"schema_version", LmdbSchemaVersion()}});
    return;
  }
  std::printf("backend          lmdb\n");
  std::printf("path             %s\n", Printable(c.store_path, kMaxShown).c_str());
  std::printf("schema version   %llu\n", static_cast<unsigned long long>(LmdbSchemaVersion()));
}

void StatusPostgresql(Env& env) {
  const Config& c = env.config();
  auto conn = Connect(c);
  PgResult t = Query(*conn,
                     "SELECT current_database(), current_user, "
                     "coalesce(host(inet_server_addr()), 'local socket'), "
                     "coalesce(inet_server_port()::text, ''), pg_is_in_recovery(), "
                     "current_setting('server_version')");
  const std::string db(t.Get(0, 0)), user(t.Get(0, 1)), host(t.Get(0, 2)), port(t.Get(0, 3));
  const bool standby = t.GetBool(0, 4);
  const std::string server(t.Get(0, 5));
  const int have = Take(PgSchemaVersion(*conn));
  const int latest = PgLatestSchemaVersion();
  const std::string node = FleetNodeName(c);
  const auto cache = Take(ReadNodeCacheState(c));

  int64_t newest = -1;
  nlohmann::json leases = nlohmann::json::array();
  size_t n_leases = 0;
  if (have > 0) {
    newest = Query(*conn, "SELECT coalesce(max(seq), 0) FROM changes").GetInt(0, 0);
    PgResult l = Query(*conn,
                       "SELECT account, win, start, granted - used - returned, "
                       "to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), id "
                       "FROM leases WHERE node = $1 AND state = 'open' "
                       "ORDER BY account, win, start",
                       {node});
    n_leases = static_cast<size_t>(l.rows());
    for (int i = 0; i < l.rows() && static_cast<size_t>(i) < kMaxLeasesShown; ++i) {
      const int64_t win = l.GetInt(i, 1);
      leases.push_back({{"id", l.GetInt(i, 5)},
                        {"account", std::string(l.Get(i, 0))},
                        {"window", win >= 0 && win < 4
                                       ? std::string(WindowName(static_cast<Window>(win)))
                                       : std::to_string(win)},
                        {"start", FormatUtc(l.GetInt(i, 2))},
                        {"held", l.GetInt(i, 3)},
                        {"expires", std::string(l.Get(i, 4))}});
    }
  }
  if (env.json) {
    nlohmann::json j;
    j["backend"] = "postgresql";
    j["target"] = {{"database", db}, {"user", user}, {"host", host},
                   {"port", port.empty() ? nlohmann::json(nullptr) : nlohmann::json(port)},
                   {"role", standby ? "standby" : "primary"}, {"server_version", server}};
    j["node"] = node;
    j["schema_version"] = have;
    j["schema_latest"] = latest;
    j["local_store"] = c.store_path;
    j["cache"] = cache ? nlohmann::json{{"seq", cache->seq},
                                        {"source", cache->source.empty() ? nlohmann::json(nullptr)
                                                                         : nlohmann::json(cache->source)},
                                        {"database_seq", newest < 0 ? nlohmann::json(nullptr)
                                                                    : nlohmann::json(newest)}}
                       : nlohmann::json(nullptr);
    j["open_leases"] = n_leases;
    j["leases"] = leases;
    PrintJson(j);
    return;
  }
  std::printf("backend          postgresql\n");
  std::printf("target           database %s as %s on %s%s%s (%s, PostgreSQL %s)\n",
              Printable(db, kMaxShown).c_str(), Printable(user, kMaxShown).c_str(),
              Printable(host, kMaxShown).c_str(), port.empty() ? "" : ":",
              Printable(port, kMaxShown).c_str(), standby ? "standby: read only" : "primary",
              Printable(server, kMaxShown).c_str());
  std::printf("node             %s\n", Printable(node, kMaxShown).c_str());
  std::printf("schema version   %s\n", VersionText(have, latest).c_str());
  std::printf("local store      %s\n", Printable(c.store_path, kMaxShown).c_str());
  if (!cache) {
    std::printf("cache            none yet (the milter loads it at its first start)\n");
  } else if (cache->source.empty()) {
    std::printf("cache            never loaded\n");
  } else {
    std::printf("cache seq        %lld (database: %s) of %s\n", static_cast<long long>(cache->seq),
                newest < 0 ? "-" : std::to_string(newest).c_str(),
                Printable(cache->source, kMaxShown).c_str());
  }
  if (have == 0) return;
  std::printf("open leases      %zu\n", n_leases);
  for (const auto& l : leases) {
    std::printf("  #%lld %-24s %-6s from %s  held %lld  expires %s\n",
                static_cast<long long>(l["id"].get<int64_t>()),
                Printable(l["account"].get<std::string>(), kMaxShown).c_str(),
                l["window"].get<std::string>().c_str(), l["start"].get<std::string>().c_str(),
                static_cast<long long>(l["held"].get<int64_t>()),
                l["expires"].get<std::string>().c_str());
  }
  if (n_leases > kMaxLeasesShown) std::printf("  ... and %zu more\n", n_leases - kMaxLeasesShown);
}

}  // namespace

void AddStoreCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand("store", "The store itself: create, migrate, status");
  cmd->footer("Example:\n  senderguardctl store status");
  cmd->require_subcommand(1);
  cmd->add_subcommand("init", "PostgreSQL: create senderguard's schema on an empty database")
      ->footer("Example:\n  senderguardctl store init && senderguardctl store status")
      ->callback([&env] { Init(env); });
  cmd->add_subcommand("migrate", "PostgreSQL: apply the schema migrations this build adds")
      ->footer("Example:\n  senderguardctl store migrate")
      ->callback([&env] { Migrate(env); });
  auto* status = cmd->add_subcommand(
      "status", "Backend, schema version, and with PostgreSQL this node's cache and leases");
  status->footer("Example:\n  senderguardctl store status --json");
  status->add_flag("--json", env.json, "one JSON document");
  status->callback([&env] {
    if (env.config().store_backend == StoreBackend::kPostgresql) {
      StatusPostgresql(env);
    } else {
      StatusLmdb(env);
    }
  });
}

}  // namespace senderguard::cli
