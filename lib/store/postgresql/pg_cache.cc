// PLACEHOLDER (branch pg only): replaced by the cache's implementation.
#include "senderguard/store/postgresql/pg_cache.h"

namespace senderguard {
PgCache::~PgCache() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}
Status PgCache::Start() { return Status::Unavailable("postgresql: cache not implemented yet"); }
Status PgCache::SyncNow() { return Status::Unavailable("postgresql: cache not implemented yet"); }
void PgCache::Run() {}
}  // namespace senderguard
