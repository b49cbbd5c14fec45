#include "senderguard/store/open.h"

#include <unistd.h>

#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/postgresql/pg_conn.h"
#include "senderguard/store/postgresql/pg_store.h"

namespace senderguard {

std::string FleetNodeName(const Config& config) {
  if (!config.postgresql.node.empty()) return config.postgresql.node;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "localhost";
  return host;
}

namespace {

// The node's LMDB store as the configuration places it.
LmdbOptions LocalOptions(const Config& config, uint64_t sync_interval_ms) {
  LmdbOptions o;
  o.path = config.store_path;
  o.map_size_bytes = config.map_size_mb << 20;
  o.sync_interval_ms = sync_interval_ms;
  return o;
}

}  // namespace

Status CheckStoreSettings(const Config& config) {
  if (config.store_backend != StoreBackend::kPostgresql) return Status::Ok();
  const Status st = PgConn::CheckConninfo(config.postgresql.conninfo);
  if (st.ok()) return st;
  return Status::Invalid("[store.postgresql] conninfo: " + st.message());
}

Result<std::unique_ptr<Store>> OpenStore(const Config& config, const StoreUse& use) {
  if (Status st = CheckStoreSettings(config); !st.ok()) return st;
  LmdbOptions o = LocalOptions(config, use.durable ? 0 : config.sync_interval_ms);
  o.logger = use.logger;
  o.housekeeping = use.housekeeping;
  if (config.store_backend == StoreBackend::kPostgresql) {
    PgStoreOptions p;
    p.conninfo = config.postgresql.conninfo;
    p.node = FleetNodeName(config);
    p.program = use.program;
    p.local = o;
    p.logger = use.logger;
    p.cached_reads = use.cached_reads;
    p.claim_node = use.claim_node;
    p.on_alert = use.on_alert;
    p.on_unavailable = config.postgresql.on_unavailable;
    p.local_allowance = config.postgresql.local_allowance;
    p.lease_ttl_s = config.postgresql.lease_ttl_s;
    auto pg = PgStore::Open(p);
    if (!pg.ok()) return pg.status();
    return std::unique_ptr<Store>(std::move(pg.value()));
  }
  auto opened = LmdbStore::Open(o);
  if (!opened.ok()) return opened.status();
  return std::unique_ptr<Store>(std::move(opened.value()));
}

uint64_t LmdbSchemaVersion() { return kSchemaVersion; }

Result<std::optional<NodeCacheState>> ReadNodeCacheState(const Config& config) {
  if (::access((config.store_path + "/data.mdb").c_str(), F_OK) != 0)
    return std::optional<NodeCacheState>();
  auto s = LmdbStore::Open(LocalOptions(config, /*sync_interval_ms=*/0));
  if (!s.ok()) return s.status();
  auto state = s.value()->GetCacheState();
  if (!state.ok()) return state.status();
  NodeCacheState out{state.value().seq, state.value().source, "", ""};
  const Status named = s.value()->ClaimNode(FleetNodeName(config), &out.instance, /*record=*/false);
  if (named.code() == Status::Code::kInvalid) out.node_error = named.message();
  else if (!named.ok()) return named;
  return std::optional<NodeCacheState>(std::move(out));
}

Result<std::vector<NodeLedgerRow>> ReadNodeLedger(const Config& config) {
  std::vector<NodeLedgerRow> rows;
  if (::access((config.store_path + "/data.mdb").c_str(), F_OK) != 0) return rows;
  auto s = LmdbStore::Open(LocalOptions(config, /*sync_interval_ms=*/0));
  if (!s.ok()) return s.status();
  Status st = s.value()->ReadLeases([&](LmdbStore::LeaseLedger& ledger) -> Status {
    rows.clear();
    Status inner;
    Status scan = ledger.Scan([&](std::string_view key, const LeaseEntry* e) {
      NodeLedgerRow r;
      if (e == nullptr || !LmdbStore::ParseLeaseKey(key, &r.account, &r.window, &r.start)) {
        r = NodeLedgerRow{};
        r.account = std::string(key);
        r.corrupt = true;
        rows.push_back(std::move(r));
        return true;
      }
      r.lease_id = e->lease_id;
      r.dead = e->dead;
      r.spare = e->spare;
      r.unreported = e->unreported;
      r.pending = e->pending == LeaseOp::kNone ? 0 : e->pending_units;
      r.allowance_used = e->allowance_used;
      inner = ledger.Held(key, &r.held);
      rows.push_back(std::move(r));
      return inner.ok();
    });
    return inner.ok() ? scan : inner;
  });
  if (!st.ok()) return st;
  return rows;
}

bool StoreExists(const Config& config) {
  // PostgreSQL: the database is the store; opening it says whether it has
  // the schema (`senderguardctl store init` creates it).
  if (config.store_backend == StoreBackend::kPostgresql) return true;
  return ::access((config.store_path + "/data.mdb").c_str(), F_OK) == 0;
}

}  // namespace senderguard
