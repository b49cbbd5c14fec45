// PLACEHOLDER (branch pg only): replaced by the records' implementation.
#include "senderguard/store/postgresql/pg_records.h"

namespace senderguard {
namespace {
Status Todo() { return Status::Unavailable("postgresql: records not implemented yet"); }
}  // namespace
Result<std::optional<AccountRecord>> PgRecords::GetAccount(std::string_view) { return Todo(); }
Result<std::vector<AccountRecord>> PgRecords::ListAccounts() { return Todo(); }
Status PgRecords::UpdateAccount(std::string_view, const Store::AccountChange&, const AuditEntry&) {
  return Todo();
}
Result<std::optional<SuppressionRecord>> PgRecords::FindSuppression(std::string_view,
                                                                    std::string_view) {
  return Todo();
}
Status PgRecords::AddSuppressions(const std::vector<SuppressionRecord>&, const AuditEntry&) {
  return Todo();
}
Result<bool> PgRecords::RemoveSuppression(std::string_view, std::string_view, const AuditEntry&) {
  return Todo();
}
Result<std::vector<SuppressionRecord>> PgRecords::ListSuppressions(
    const std::optional<std::string>&, size_t) {
  return Todo();
}
Result<uint64_t> PgRecords::CountSuppressions(std::string_view) { return Todo(); }
Status PgRecords::AppendAudit(const AuditEntry&) { return Todo(); }
Result<std::vector<AuditEntry>> PgRecords::ListAudit(std::string_view, size_t) { return Todo(); }
}  // namespace senderguard
