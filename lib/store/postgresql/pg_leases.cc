// PLACEHOLDER (branch pg only): replaced by the leases' implementation.
#include "senderguard/store/postgresql/pg_leases.h"

namespace senderguard {
struct PgLeases::State {};
namespace {
Status Todo() { return Status::Unavailable("postgresql: leases not implemented yet"); }
}  // namespace
PgLeases::PgLeases(PgPool*, LmdbStore*, const PgStoreOptions*) : s_(std::make_unique<State>()) {}
PgLeases::~PgLeases() = default;
Result<ReserveOutcome> PgLeases::Reserve(std::string_view, const std::vector<QuotaCharge>&, bool) {
  return Todo();
}
void PgLeases::Release(std::string_view, const std::vector<QuotaCharge>&) {}
Result<std::vector<QuotaAlert>> PgLeases::Commit(std::string_view, const std::vector<QuotaCharge>&,
                                                 const QueueEntry*, int64_t) {
  return Todo();
}
Result<std::vector<WindowUsage>> PgLeases::Usage(std::string_view,
                                                 const std::vector<WindowUsage>&) {
  return Todo();
}
Status PgLeases::Settle() { return Status::Ok(); }
}  // namespace senderguard
