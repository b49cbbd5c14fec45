// OpenStore: the one place a program's Store is built from the
// configuration ([store] in senderguard.conf). Programs name Store, never a
// backend: the backend is the configuration's choice.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "senderguard/base/kvlog.h"
#include "senderguard/base/status.h"
#include "senderguard/config/config.h"
#include "senderguard/store/store.h"

namespace senderguard {

// How a program uses the store, beyond what the configuration says.
struct StoreUse {
  Logger* logger = nullptr;   // may be null; must outlive the store
  // Long-running writers (the milter, the following tailer) delete what has
  // aged out, in the background (LmdbOptions::housekeeping).
  bool housekeeping = false;
  // Every commit durable before it returns ([store] sync_interval_ms is
  // ignored): short-lived writers (the CLI, the ARF ingester) exit right
  // after their few writes.
  bool durable = false;
  // The milter: with the PostgreSQL backend, accounts and suppression are
  // read from this node's cache (kept current by a listener thread), so the
  // common path never waits on the network. Others read the database.
  bool cached_reads = false;
  // The milter and the following tailer, with the PostgreSQL backend: this
  // machine holds its node name ([store.postgresql] node) in the fleet; a
  // second machine configured with the same name is refused.
  bool claim_node = false;
  // The program's name (PostgreSQL's application_name).
  std::string program = "senderguard";
  // PostgreSQL: the fleet's quota alerts come with the node's reports, from
  // the store's own thread, not from Commit (which returns none there).
  // Called on that thread; unset, the store logs them itself. Unused with
  // LMDB, where Commit returns them.
  std::function<void(std::string_view account, const QuotaAlert& alert)> on_alert;
};

// Opens (and creates, when missing) the store the configuration names.
// Errors: those of the backend (kIo, kCorruption, kUnavailable), with a
// message naming the store. The caller owns the result.
Result<std::unique_ptr<Store>> OpenStore(const Config& config, const StoreUse& use);

// What can be checked of the store's settings without opening it: with
// backend = "postgresql", that libpq can read [store.postgresql] conninfo
// (an unknown key such as "dbnmae", a missing '='). kInvalid with a message
// naming the key; OpenStore checks it first. For --check, and so that a
// typo is a configuration error (exit 78, not retried), not an outage.
Status CheckStoreSettings(const Config& config);

// This node's name in a fleet ([store.postgresql] node, else the host
// name): the owner of its leases and positions in PostgreSQL.
std::string FleetNodeName(const Config& config);

// The version of the LMDB store's layout this build writes (a store of an
// older one is upgraded in place when opened).
uint64_t LmdbSchemaVersion();

// A fleet node's cache of the shared tables, in its LMDB store ([store]
// path): the last change-log seq applied and the database it came from
// ("" when never loaded). nullopt when that store does not exist (never
// created here). For `senderguardctl store status`.
struct NodeCacheState {
  int64_t seq = 0;
  std::string source;
  std::string instance;    // the store's instance id ("" before its first fleet open)
  std::string node_error;  // the store is another node's (LmdbStore::ClaimNode's text); "" when not
};
Result<std::optional<NodeCacheState>> ReadNodeCacheState(const Config& config);

// A fleet node's ledger of one window instance, as its LMDB store holds it
// (model/lease.h): what `senderguardctl store status` shows of this node's
// leases when the database cannot say, and beside what it says.
struct NodeLedgerRow {
  std::string account;
  Window window = Window::kDay;
  int64_t start = 0;            // the window instance's start (Unix s)
  int64_t lease_id = 0;         // 0: none
  bool dead = false;            // the database said the lease ended
  uint64_t spare = 0;           // leased, not yet spent here
  uint64_t unreported = 0;      // spent here, not yet reported
  uint64_t pending = 0;         // in a report or return whose answer is awaited
  uint64_t held = 0;            // held by open SMTP transactions
  uint64_t allowance_used = 0;  // spent beyond leases (on_unavailable = "local")
  bool corrupt = false;         // an entry that does not decode (only `account` is set: the key)
};
// Every ledger entry of the node's store, in key order; empty when the
// store does not exist.
Result<std::vector<NodeLedgerRow>> ReadNodeLedger(const Config& config);

// Whether the store the configuration names exists already, so a reader
// (senderguard-tail --print, a read-only command) can refuse to create one.
bool StoreExists(const Config& config);

}  // namespace senderguard
