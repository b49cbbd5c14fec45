#include "senderguard/store/postgresql/pg_store.h"

#include <unistd.h>

#include <fstream>

#include "senderguard/store/postgresql/pg_cache.h"
#include "senderguard/store/postgresql/pg_conn.h"
#include "senderguard/store/postgresql/pg_feedback.h"
#include "senderguard/store/postgresql/pg_leases.h"
#include "senderguard/store/postgresql/pg_records.h"
#include "senderguard/base/kvlog.h"
#include "senderguard/store/postgresql/pg_schema.h"

namespace senderguard {

namespace {

bool RefusedByConfiguration(const std::string& why) {
  auto has = [&](const char* m) { return why.find(m) != std::string::npos; };
  if (has("password authentication failed") || has("no password supplied") || has("no pg_hba.conf entry"))
    return true;
  // A role or database that does not exist; not "too many connections for
  // role" (a full server is an outage).
  return (has("FATAL:  role \"") || has("FATAL:  database \"") || has("FATAL: role \"") ||
          has("FATAL: database \"")) &&
         has("does not exist");
}

// The running system: the kernel's boot id and the machine id (either may
// be missing: a container without /etc/machine-id).
std::string LocalBootIdentity() {
  std::string out;
  for (const char* path : {"/proc/sys/kernel/random/boot_id", "/etc/machine-id"}) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    if (line.size() > 100) line.resize(100);
    out += (out.empty() ? "" : "/") + line;
  }
  return out;
}

std::string LocalHostName() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "localhost";
  return host;
}

}  // namespace

PgStore::PgStore(PgStoreOptions options) : options_(std::move(options)) {}

PgStore::~PgStore() {
  // Parts that run threads stop first; the local store outlives them.
  cache_.reset();
  leases_.reset();
  feedback_.reset();
  records_.reset();
}

Result<std::unique_ptr<PgStore>> PgStore::Open(const PgStoreOptions& options) {
  if (options.node.empty()) return Status::Invalid("postgresql store: no node name");
  std::unique_ptr<PgStore> s(new PgStore(options));
  s->pool_ = std::make_unique<PgPool>(options.conninfo, options.program, options.pool_size);
  bool on_cache = false;
  auto conn = s->pool_->Acquire();
  if (!conn.ok()) {
    // Unreachable: a milter whose node cache was loaded before starts on it
    // (the cache's thread reconnects; quotas follow on_unavailable), so an
    // MTA restarted during an outage keeps its policy. Anything else, or a
    // node that never loaded its cache, cannot start without the database.
    // Only when no server answered: a server that refused us (a wrong
    // password or database name: "FATAL: ...") is a configuration to fix,
    // not an outage, unless it is on its way up or down (a failover).
    const std::string why = conn.status().message();  // status() is a copy: keep the text
    // A server that answered that this configuration cannot log in (the
    // role, the password, the database, pg_hba.conf) is a configuration
    // error: kInvalid, which the programs exit 78 on (not retried).
    if (RefusedByConfiguration(why)) return Status::Invalid(why);
    const bool answered = why.find("FATAL") != std::string::npos &&
                          why.find("starting up") == std::string::npos &&
                          why.find("shutting down") == std::string::npos &&
                          why.find("in recovery") == std::string::npos;
    if (!options.cached_reads || conn.status().code() != Status::Code::kUnavailable || answered)
      return conn.status();
    auto local = LmdbStore::Open(options.local);
    if (!local.ok()) return local.status();
    auto state = local.value()->GetCacheState();
    if (!state.ok()) return state.status();
    if (state.value().source.empty()) return conn.status();
    if (options.logger != nullptr)
      options.logger->Log(Logger::Level::kWarning,
                          KvLine()
                              .Add("store", "postgresql")
                              .Add("action", "start-on-cache")
                              .Add("node", options.node)
                              .Add("cache", state.value().source)
                              .Add("seq", state.value().seq)
                              .Add("error", conn.status().message())
                              .str());
    s->local_ = std::move(local.value());
    on_cache = true;
  } else {
    auto v = PgSchemaVersion(*conn.value());
    if (!v.ok()) return v.status();
    const int want = PgLatestSchemaVersion();
    // Missing or older: kUnavailable, so a program started before the
    // schema comes up (retried) once `store init` / `store migrate` ran.
    // Newer: kInvalid, this build must be upgraded (not retried).
    if (v.value() == 0)
      return Status::Unavailable(
          "postgresql: the database has no senderguard schema: run `senderguardctl store init`");
    if (v.value() < want)
      return Status::Unavailable("postgresql: the database's schema is version " +
                             std::to_string(v.value()) + ", this build needs " +
                             std::to_string(want) + ": run `senderguardctl store migrate`");
    if (v.value() > want)
      return Status::Invalid("postgresql: the database's schema is version " +
                             std::to_string(v.value()) + ", newer than this build's " +
                             std::to_string(want) + ": upgrade senderguard on this node");
    { PgPool::Lease done = std::move(conn.value()); }  // back to the pool
    auto local = LmdbStore::Open(options.local);
    if (!local.ok()) return local.status();
    s->local_ = std::move(local.value());
  }
  // The store names one node; only the programs that act as the node (the
  // milter, the tailer) name a new one, once the fleet granted them the
  // name: a refused start or a CLI command leaves a new store unnamed.
  if (Status st = s->local_->ClaimNode(options.node, &s->options_.instance, /*record=*/false); !st.ok())
    return st;
  s->options_.host = LocalHostName();
  if (s->options_.boot.empty()) s->options_.boot = LocalBootIdentity();
  if (options.claim_node && !on_cache) {
    // One machine per node name. Started on its cache (the database down),
    // the lease thread claims it once the database answers.
    auto c = s->pool_->Acquire();
    if (!c.ok()) return c.status();
    auto claim = PgClaimNode(*c.value(), s->options_);
    if (!claim.ok()) return claim.status();
    if (!claim.value().ok) return PgNodeClaimRefused(s->options_, claim.value());
  }
  if (options.claim_node) {
    if (Status st = s->local_->ClaimNode(options.node, nullptr, /*record=*/true); !st.ok()) return st;
  }
  s->records_ = std::make_unique<PgRecords>(s->pool_.get(), s->local_.get(), &s->options_);
  s->leases_ = std::make_unique<PgLeases>(s->pool_.get(), s->local_.get(), &s->options_);
  s->feedback_ = std::make_unique<PgFeedback>(s->pool_.get(), s->local_.get(), &s->options_);
  if (options.cached_reads) {
    s->cache_ = std::make_unique<PgCache>(s->local_.get(), &s->options_);
    Status st = s->cache_->Start();
    if (!st.ok()) return st;
  }
  return s;
}

Result<std::optional<AccountRecord>> PgStore::GetAccount(std::string_view name) {
  return records_->GetAccount(name);
}
Result<std::vector<AccountRecord>> PgStore::ListAccounts() { return records_->ListAccounts(); }
Result<std::vector<AccountRecord>> PgStore::ListAccountsAfter(std::string_view after, size_t limit) {
  return records_->ListAccountsAfter(after, limit);
}
Status PgStore::UpdateAccounts(const std::vector<std::string>& names, const AccountBatchChange& change) {
  return records_->UpdateAccounts(names, change);
}
Status PgStore::UpdateAccount(std::string_view name, const AccountChange& change,
                              const AuditEntry& audit) {
  return records_->UpdateAccount(name, change, audit);
}
Result<AccountContents> PgStore::DeleteAccount(std::string_view name,
                                               const ContentsAudit& audit) {
  return records_->DeleteAccount(name, audit);
}
Result<AccountContents> PgStore::RenameAccount(std::string_view from, std::string_view to,
                                               const MoveAudit& audit) {
  return records_->RenameAccount(from, to, audit);
}
Result<std::optional<SuppressionRecord>> PgStore::FindSuppression(std::string_view account,
                                                                  std::string_view address) {
  return records_->FindSuppression(account, address);
}
Result<size_t> PgStore::AddSuppressions(const std::vector<SuppressionRecord>& records,
                                        const SuppressionAddAudit& audit) {
  return records_->AddSuppressions(records, audit);
}
Result<bool> PgStore::RemoveSuppression(std::string_view account, std::string_view address,
                                        const AuditEntry& audit) {
  return records_->RemoveSuppression(account, address, audit);
}
Result<std::vector<SuppressionRecord>> PgStore::ListSuppressions(
    const std::optional<std::string>& account, size_t limit) {
  return records_->ListSuppressions(account, limit);
}
Result<uint64_t> PgStore::CountSuppressions(std::string_view account) {
  return records_->CountSuppressions(account);
}
Status PgStore::AppendAudit(const AuditEntry& entry) { return records_->AppendAudit(entry); }
Result<std::vector<AuditEntry>> PgStore::ListAudit(std::string_view account, size_t limit) {
  return records_->ListAudit(account, limit);
}

Result<ReserveOutcome> PgStore::Reserve(std::string_view account,
                                        const std::vector<QuotaCharge>& charges, bool force) {
  return leases_->Reserve(account, charges, force);
}
void PgStore::Release(std::string_view account, const std::vector<QuotaCharge>& held) {
  leases_->Release(account, held);
}
Result<std::vector<QuotaAlert>> PgStore::Commit(std::string_view account,
                                                const std::vector<QuotaCharge>& held,
                                                const QueueEntry* queue, int64_t now) {
  return leases_->Commit(account, held, queue, now);
}
Result<std::vector<WindowUsage>> PgStore::Usage(std::string_view account,
                                                const std::vector<WindowUsage>& windows) {
  return leases_->Usage(account, windows);
}

Result<uint64_t> PgStore::ResetUsage(std::string_view account, Window window,
                                     const WindowSpan& span, const UsageAudit& audit) {
  return leases_->ResetUsage(account, window, span, audit);
}

// The queue map and deferred recipients are the node's own.
Result<std::optional<QueueEntry>> PgStore::GetQueueEntry(std::string_view queue_id) {
  return local_->GetQueueEntry(queue_id);
}
Status PgStore::GetQueueEntries(const std::vector<std::string>& queue_ids,
                                std::vector<std::optional<QueueEntry>>* out) {
  return local_->GetQueueEntries(queue_ids, out);
}
Result<std::vector<std::string>> PgStore::FindByMessageId(std::string_view message_id) {
  return local_->FindByMessageId(message_id);
}
Result<std::vector<DeferredRecord>> PgStore::GetDeferred(size_t max) {
  return local_->GetDeferred(max);
}

Result<FeedbackResult> PgStore::ApplyFeedback(const FeedbackBatch& batch,
                                              const AccountReview& review) {
  return feedback_->ApplyFeedback(batch, review);
}
Result<std::optional<std::string>> PgStore::GetPosition(std::string_view source) {
  return feedback_->GetPosition(source);
}
Result<StoredDays> PgStore::GetDays(std::string_view account, int64_t first_day,
                                    int64_t last_day) {
  return feedback_->GetDays(account, first_day, last_day);
}
Result<std::optional<BounceRecord>> PgStore::GetBounces(std::string_view address) {
  return feedback_->GetBounces(address);
}

Status PgStore::AddSendingDays(const std::vector<SendingDay>& days) {
  return feedback_->AddSendingDays(days);
}

Status PgStore::Maintain() { return local_->Maintain(); }

void PgStore::ReleaseHolds() { local_->ReleaseHolds(); }

void PgStore::Flush() {
  (void)leases_->Settle();
  local_->Flush();
}

}  // namespace senderguard
