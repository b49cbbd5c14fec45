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

// This node's ledger (the local side of its leases) as JSON rows.
nlohmann::json LedgerJson(const std::vector<NodeLedgerRow>& ledger) {
  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < ledger.size() && i < kMaxLeasesShown; ++i) {
    const NodeLedgerRow& r = ledger[i];
    if (r.corrupt) {
      rows.push_back({{"key", r.account}, {"corrupt", true}});
      continue;
    }
    rows.push_back({{"account", r.account},
                    {"window", std::string(WindowName(r.window))},
                    {"start", FormatUtc(r.start)},
                    {"lease", r.lease_id == 0 ? nlohmann::json(nullptr) : nlohmann::json(r.lease_id)},
                    {"lease_ended", r.dead},
                    {"spare", r.spare},
                    {"unreported", r.unreported},
                    {"pending", r.pending},
                    {"in_transactions", r.held},
                    {"allowance_used", r.allowance_used}});
  }
  return rows;
}

void PrintLedger(const std::vector<NodeLedgerRow>& ledger) {
  std::printf("node's ledger    %zu window instance(s) (local: spare = leased, not yet spent here)\n",
              ledger.size());
  for (size_t i = 0; i < ledger.size() && i < kMaxLeasesShown; ++i) {
    const NodeLedgerRow& r = ledger[i];
    if (r.corrupt) {
      std::printf("  %s: an entry that does not decode\n", Printable(r.account, kMaxShown).c_str());
      continue;
    }
    std::string line = "  " + Printable(r.account, kMaxShown) + " " + std::string(WindowName(r.window)) +
                       " from " + FormatUtc(r.start) + "  " +
                       (r.lease_id == 0 ? std::string("no lease")
                                        : "lease #" + std::to_string(r.lease_id) + (r.dead ? " (ended)" : "")) +
                       "  spare " + std::to_string(r.spare) + "  unreported " + std::to_string(r.unreported);
    if (r.pending > 0) line += "  pending " + std::to_string(r.pending);
    if (r.held > 0) line += "  in open transactions " + std::to_string(r.held);
    if (r.allowance_used > 0) line += "  local allowance used " + std::to_string(r.allowance_used);
    std::printf("%s\n", line.c_str());
  }
  if (ledger.size() > kMaxLeasesShown) std::printf("  ... and %zu more\n", ledger.size() - kMaxLeasesShown);
}

// What the database says, when it answers.
struct DatabaseView {
  std::string db, user, host, port, server;
  bool standby = false;
  int have = 0;
  int64_t newest = -1;
  nlohmann::json leases = nlohmann::json::array();
  size_t n_leases = 0;
  bool name_claimed = false;  // the nodes table has the node (schema 4 and up)
  std::string holder_instance, holder_host;
  int64_t holder_seen_s = 0;
};

DatabaseView ReadDatabase(PgConn& conn, const std::string& node) {
  DatabaseView v;
  PgResult t = Query(conn,
                     "SELECT current_database(), current_user, "
                     "coalesce(host(inet_server_addr()), 'local socket'), "
                     "coalesce(inet_server_port()::text, ''), pg_is_in_recovery(), "
                     "current_setting('server_version')");
  v.db = t.Get(0, 0);
  v.user = t.Get(0, 1);
  v.host = t.Get(0, 2);
  v.port = t.Get(0, 3);
  v.standby = t.GetBool(0, 4);
  v.server = t.Get(0, 5);
  v.have = Take(PgSchemaVersion(conn));
  if (v.have == 0) return v;
  v.newest = Query(conn, "SELECT coalesce(max(seq), 0) FROM changes").GetInt(0, 0);
  PgResult l = Query(conn,
                     "SELECT account, win, start, granted - used - returned, "
                     "to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), id "
                     "FROM leases WHERE node = $1 AND state = 'open' "
                     "ORDER BY account, win, start",
                     {node});
  v.n_leases = static_cast<size_t>(l.rows());
  if (v.have >= 4) {
    PgResult n = Query(conn,
                       "SELECT instance, host, greatest(extract(epoch FROM now() - seen_at), 0)::bigint "
                       "FROM nodes WHERE node = $1",
                       {node});
    if (n.rows() == 1) {
      v.name_claimed = true;
      v.holder_instance = n.Get(0, 0);
      v.holder_host = n.Get(0, 1);
      v.holder_seen_s = n.GetInt(0, 2);
    }
  }
  for (int i = 0; i < l.rows() && static_cast<size_t>(i) < kMaxLeasesShown; ++i) {
    const int64_t win = l.GetInt(i, 1);
    v.leases.push_back({{"id", l.GetInt(i, 5)},
                        {"account", std::string(l.Get(i, 0))},
                        {"window", win >= 0 && win < 4 ? std::string(WindowName(static_cast<Window>(win)))
                                                       : std::to_string(win)},
                        {"start", FormatUtc(l.GetInt(i, 2))},
                        {"held", l.GetInt(i, 3)},
                        {"expires", std::string(l.Get(i, 4))}});
  }
  return v;
}

// Who holds the node's name in the fleet, as a suffix of the node line.
std::string NameText(const DatabaseView& v, const std::optional<NodeCacheState>& cache) {
  if (!v.name_claimed) return "";
  const std::string seen = ", seen " + std::to_string(v.holder_seen_s) + " s ago";
  if (cache && !cache->instance.empty() && cache->instance == v.holder_instance)
    return " (held by this machine" + seen + ")";
  return " (held by another machine: host " + Printable(v.holder_host, kMaxShown) + seen +
         "; this machine's milter and tailer are refused)";
}

// The database's view and this node's local one. While the database cannot
// be reached the local one is shown all the same (the cache the milter
// decides from, the units this node may still spend), then the command
// fails with the database's error.
void StatusPostgresql(Env& env) {
  const Config& c = env.config();
  const std::string node = FleetNodeName(c);
  const auto cache = Take(ReadNodeCacheState(c));
  const auto ledger = Take(ReadNodeLedger(c));
  auto conn = PgConn::Connect(c.postgresql.conninfo, "senderguardctl");
  const std::string unreachable = conn.ok() ? std::string() : conn.status().message();
  DatabaseView v;
  if (conn.ok()) v = ReadDatabase(*conn.value(), node);
  const int latest = PgLatestSchemaVersion();
  auto fail_if_unreachable = [&] {
    if (!unreachable.empty())
      throw Failure{kExitStore, "the database cannot be used (this node's local state is shown): " + unreachable};
  };
  if (env.json) {
    nlohmann::json j;
    j["backend"] = "postgresql";
    if (!unreachable.empty()) {
      j["target"] = {{"error", unreachable}};
      j["schema_version"] = nullptr;
    } else {
      j["target"] = {{"database", v.db}, {"user", v.user}, {"host", v.host},
                     {"port", v.port.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.port)},
                     {"role", v.standby ? "standby" : "primary"}, {"server_version", v.server}};
      j["schema_version"] = v.have;
    }
    j["node"] = node;
    if (v.name_claimed) {
      const bool mine = cache && !cache->instance.empty() && cache->instance == v.holder_instance;
      j["node_holder"] = {{"this_machine", mine}, {"host", v.holder_host}, {"seen_s_ago", v.holder_seen_s}};
    } else {
      j["node_holder"] = nullptr;
    }
    j["node_error"] = cache && !cache->node_error.empty() ? nlohmann::json(cache->node_error) : nlohmann::json(nullptr);
    j["schema_latest"] = latest;
    j["local_store"] = c.store_path;
    j["cache"] = cache ? nlohmann::json{{"seq", cache->seq},
                                        {"source", cache->source.empty() ? nlohmann::json(nullptr)
                                                                         : nlohmann::json(cache->source)},
                                        {"database_seq", v.newest < 0 ? nlohmann::json(nullptr)
                                                                      : nlohmann::json(v.newest)}}
                       : nlohmann::json(nullptr);
    if (unreachable.empty()) {
      j["open_leases"] = v.n_leases;
      j["leases"] = v.leases;
    } else {
      j["open_leases"] = nullptr;
      j["leases"] = nullptr;
    }
    j["ledger"] = LedgerJson(ledger);
    j["ledger_entries"] = ledger.size();
    PrintJson(j);
    return fail_if_unreachable();
  }
  std::printf("backend          postgresql\n");
  if (!unreachable.empty()) {
    std::printf("target           cannot be used (the error is below)\n");
  } else {
    std::printf("target           database %s as %s on %s%s%s (%s, PostgreSQL %s)\n",
                Printable(v.db, kMaxShown).c_str(), Printable(v.user, kMaxShown).c_str(),
                Printable(v.host, kMaxShown).c_str(), v.port.empty() ? "" : ":",
                Printable(v.port, kMaxShown).c_str(), v.standby ? "standby: read only" : "primary",
                Printable(v.server, kMaxShown).c_str());
  }
  std::printf("node             %s%s\n", Printable(node, kMaxShown).c_str(), NameText(v, cache).c_str());
  if (cache && !cache->node_error.empty())
    std::printf("                 warning: %s\n", Printable(cache->node_error, 4 * kMaxShown).c_str());
  if (unreachable.empty()) std::printf("schema version   %s\n", VersionText(v.have, latest).c_str());
  std::printf("local store      %s\n", Printable(c.store_path, kMaxShown).c_str());
  if (!cache) {
    std::printf("cache            none yet (the milter loads it at its first start)\n");
  } else if (cache->source.empty()) {
    std::printf("cache            never loaded\n");
  } else {
    std::printf("cache seq        %lld (database: %s) of %s\n", static_cast<long long>(cache->seq),
                v.newest < 0 ? "-" : std::to_string(v.newest).c_str(),
                Printable(cache->source, kMaxShown).c_str());
  }
  if (unreachable.empty() && v.have > 0) {
    std::printf("open leases      %zu\n", v.n_leases);
    for (const auto& l : v.leases) {
      std::printf("  #%lld %-24s %-6s from %s  held %lld  expires %s\n",
                  static_cast<long long>(l["id"].get<int64_t>()),
                  Printable(l["account"].get<std::string>(), kMaxShown).c_str(),
                  l["window"].get<std::string>().c_str(), l["start"].get<std::string>().c_str(),
                  static_cast<long long>(l["held"].get<int64_t>()),
                  l["expires"].get<std::string>().c_str());
    }
    if (v.n_leases > kMaxLeasesShown) std::printf("  ... and %zu more\n", v.n_leases - kMaxLeasesShown);
  }
  if (cache || !ledger.empty()) PrintLedger(ledger);
  fail_if_unreachable();
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
