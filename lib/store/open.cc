#include "senderguard/store/open.h"

#include <unistd.h>

#include "senderguard/store/lmdb/lmdb_store.h"

namespace senderguard {

Result<std::unique_ptr<Store>> OpenStore(const Config& config, const StoreUse& use) {
  LmdbOptions o;
  o.path = config.store_path;
  o.map_size_bytes = config.map_size_mb << 20;
  o.sync_interval_ms = use.durable ? 0 : config.sync_interval_ms;
  o.logger = use.logger;
  o.housekeeping = use.housekeeping;
  auto opened = LmdbStore::Open(o);
  if (!opened.ok()) return opened.status();
  return std::unique_ptr<Store>(std::move(opened.value()));
}

bool StoreExists(const Config& config) {
  return ::access((config.store_path + "/data.mdb").c_str(), F_OK) == 0;
}

}  // namespace senderguard
