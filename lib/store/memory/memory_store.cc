#include "senderguard/store/memory/memory_store.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "senderguard/base/clock.h"
#include "senderguard/store/feedback_rules.h"

namespace senderguard {
namespace {

// The keys of LmdbStore's counters and suppression databases, so that
// prefix matching and listing order (byte order) are the same.
std::string CounterKey(std::string_view account, Window w, int64_t start) {
  std::string k(account);
  k.push_back('\0');
  k.push_back(static_cast<char>(w));
  k.append(std::to_string(static_cast<uint64_t>(start)));  // unique, order unused
  return k;
}
std::string SuppressionKey(std::string_view account, std::string_view address) {
  std::string k(account);
  k.push_back('\0');
  k.append(address);
  return k;
}
bool StorableId(std::string_view id) { return !id.empty() && id.size() <= 500; }

class MemoryStoreImpl final : public MemoryStore {
 public:
  Result<std::optional<AccountRecord>> GetAccount(std::string_view name) override {
    std::lock_guard lk(mu_);
    auto it = accounts_.find(std::string(name));
    if (it == accounts_.end()) return std::optional<AccountRecord>();
    return std::optional<AccountRecord>(it->second);
  }

  Result<std::vector<AccountRecord>> ListAccounts() override {
    std::lock_guard lk(mu_);
    std::vector<AccountRecord> out;
    for (const auto& [name, a] : accounts_) out.push_back(a);
    return out;
  }

  Result<std::vector<AccountRecord>> ListAccountsAfter(std::string_view after, size_t limit) override {
    std::lock_guard lk(mu_);
    std::vector<AccountRecord> out;
    for (auto it = accounts_.upper_bound(std::string(after)); it != accounts_.end() && out.size() < limit; ++it)
      out.push_back(it->second);
    return out;
  }

  Status UpdateAccount(std::string_view name, const AccountChange& change,
                       const AuditEntry& audit) override {
    std::lock_guard lk(mu_);
    if (Status f = Fail(); !f.ok()) return f;
    const std::string key(name);
    auto it = accounts_.find(key);
    const bool exists = it != accounts_.end();
    AccountRecord a;
    if (exists) {
      a = it->second;
    } else {
      a.name = key;
      a.created = audit.time_us / 1000000;
    }
    Status c = change(&a, exists);
    if (!c.ok()) return c;
    a.name = key;
    accounts_[key] = std::move(a);
    PutAudit(audit);
    return Status::Ok();
  }

  Result<AccountContents> DeleteAccount(std::string_view name,
                                        const ContentsAudit& audit) override {
    std::lock_guard lk(mu_);
    if (name.empty()) return Status::Invalid("the empty account name is no account");
    const std::string key(name);
    AccountContents c = ContentsLocked(key);
    if (c.empty()) return c;
    const AuditEntry entry = audit(c);
    if (Status f = Fail(); !f.ok()) return f;
    accounts_.erase(key);
    const std::string prefix = key + std::string(1, '\0');
    EraseWithPrefix(&counters_, prefix);
    EraseWithPrefix(&alerts_, prefix);
    EraseWithPrefix(&suppression_, prefix);
    days_.erase(days_.lower_bound({key, INT64_MIN}), days_.lower_bound({key + '\0', INT64_MIN}));
    PutAudit(entry);
    return c;
  }

  Result<AccountContents> RenameAccount(std::string_view from, std::string_view to,
                                        const MoveAudit& audit) override {
    std::lock_guard lk(mu_);
    if (from.empty() || to.empty()) return Status::Invalid("the empty account name is no account");
    if (from == to) return Status::Invalid("account " + std::string(from) + ": renamed to itself");
    const std::string old_name(from), new_name(to);
    const AccountContents c = ContentsLocked(old_name);
    if (c.empty()) return Status::NotFound("no such account: " + old_name);
    if (!ContentsLocked(new_name).empty())
      return Status::Invalid("account " + new_name + " exists already");
    const std::vector<AuditEntry> entries = audit(c);
    if (Status f = Fail(); !f.ok()) return f;
    if (auto it = accounts_.find(old_name); it != accounts_.end()) {
      AccountRecord a = std::move(it->second);
      accounts_.erase(it);
      a.name = new_name;
      accounts_.emplace(new_name, std::move(a));
    }
    const std::string from_prefix = old_name + std::string(1, '\0');
    const std::string to_prefix = new_name + std::string(1, '\0');
    MoveWithPrefix(&counters_, from_prefix, to_prefix);
    MoveWithPrefix(&alerts_, from_prefix, to_prefix);
    MoveWithPrefix(&suppression_, from_prefix, to_prefix);
    for (auto& [key, r] : suppression_) {
      if (key.compare(0, to_prefix.size(), to_prefix) == 0) r.account = new_name;
    }
    std::vector<std::pair<int64_t, DayCountsRecord>> days;
    for (auto d = days_.lower_bound({old_name, INT64_MIN}); d != days_.end() && d->first.first == old_name;) {
      days.emplace_back(d->first.second, d->second);
      d = days_.erase(d);
    }
    for (const auto& [day, counts] : days) days_[{new_name, day}] = counts;
    for (const auto& e : entries) PutAudit(e);
    return c;
  }

  Status UpdateAccounts(const std::vector<std::string>& names, const AccountBatchChange& change) override {
    if (Status d = CheckDistinct(names); !d.ok()) return d;
    std::lock_guard lk(mu_);
    if (Status f = Fail(); !f.ok()) return f;
    // All or nothing: the changes are made on copies, kept only when every one is ok.
    std::vector<std::pair<AccountRecord, AuditEntry>> writes;
    for (size_t i = 0; i < names.size(); ++i) {
      auto it = accounts_.find(names[i]);
      const bool exists = it != accounts_.end();
      AccountRecord a;
      if (exists) a = it->second;
      a.name = names[i];
      std::optional<AuditEntry> audit;
      Status c = change(i, &a, exists, &audit);
      if (!c.ok()) return c;
      if (!audit) continue;
      a.name = names[i];
      if (!exists && a.created == 0) a.created = audit->time_us / 1000000;
      writes.emplace_back(std::move(a), std::move(*audit));
    }
    for (auto& [a, audit] : writes) {
      const std::string key = a.name;
      accounts_[key] = std::move(a);
      PutAudit(audit);
    }
    return Status::Ok();
  }

  Result<std::optional<SuppressionRecord>> FindSuppression(std::string_view account,
                                                           std::string_view address) override {
    std::lock_guard lk(mu_);
    for (std::string_view owner : {std::string_view(), account}) {
      auto it = suppression_.find(SuppressionKey(owner, address));
      if (it != suppression_.end()) return std::optional<SuppressionRecord>(it->second);
    }
    return std::optional<SuppressionRecord>();
  }

  Result<size_t> AddSuppressions(const std::vector<SuppressionRecord>& records,
                                 const SuppressionAddAudit& audit) override {
    std::lock_guard lk(mu_);
    if (Status f = Fail(); !f.ok()) return f;
    size_t added = 0;
    for (const auto& r : records) added += suppression_.emplace(SuppressionKey(r.account, r.address), r).second ? 1 : 0;
    if (added > 0) PutAudit(audit.For(added));
    return added;
  }

  Result<bool> RemoveSuppression(std::string_view account, std::string_view address,
                                 const AuditEntry& audit) override {
    std::lock_guard lk(mu_);
    if (Status f = Fail(); !f.ok()) return f;
    if (suppression_.erase(SuppressionKey(account, address)) == 0) return false;
    PutAudit(audit);
    return true;
  }

  Result<std::vector<SuppressionRecord>> ListSuppressions(const std::optional<std::string>& account,
                                                          size_t limit) override {
    std::lock_guard lk(mu_);
    std::vector<SuppressionRecord> out;
    const std::string prefix = account ? *account + std::string(1, '\0') : std::string();
    for (auto it = suppression_.lower_bound(prefix);
         it != suppression_.end() && out.size() < limit; ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      out.push_back(it->second);
    }
    return out;
  }

  Result<uint64_t> CountSuppressions(std::string_view account) override {
    std::lock_guard lk(mu_);
    const std::string prefix = std::string(account) + std::string(1, '\0');
    uint64_t n = 0;
    for (auto it = suppression_.lower_bound(prefix);
         it != suppression_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      ++n;
    }
    return n;
  }

  Result<ReserveOutcome> Reserve(std::string_view account, const std::vector<QuotaCharge>& charges,
                                 bool force) override {
    std::lock_guard lk(mu_);
    std::vector<std::string> keys;
    for (const auto& c : charges) keys.push_back(CounterKey(account, c.window, c.span.start));
    for (size_t i = 0; i < charges.size() && !force; ++i) {
      const uint64_t used = Lookup(counters_, keys[i]);
      const uint64_t reserved = Lookup(reserved_, keys[i]);
      if (!Fits(used, reserved, charges[i].amount, charges[i].limit)) {
        return ReserveOutcome{false, i, used, reserved};
      }
    }
    for (size_t i = 0; i < charges.size(); ++i) {
      if (charges[i].amount > 0) reserved_[keys[i]] += charges[i].amount;
    }
    return ReserveOutcome{};
  }

  void Release(std::string_view account, const std::vector<QuotaCharge>& held) override {
    std::lock_guard lk(mu_);
    ReleaseLocked(account, held);
  }

  Result<std::vector<QuotaAlert>> Commit(std::string_view account,
                                         const std::vector<QuotaCharge>& held,
                                         const QueueEntry* queue, int64_t now) override {
    std::lock_guard lk(mu_);
    ReleaseLocked(account, held);  // the hold becomes a count, or goes on failure
    if (Status f = Fail(); !f.ok()) return f;
    std::vector<QuotaAlert> alerts;
    for (const auto& c : held) {
      if (c.amount == 0) continue;
      const std::string key = CounterKey(account, c.window, c.span.start);
      uint64_t& used = counters_[key];
      used += c.amount;
      for (int pct : ThresholdsReached(used, c.limit)) {
        if (!alerts_.insert(key + static_cast<char>(pct)).second) continue;
        alerts.push_back(QuotaAlert{c.window, c.span, used, c.limit, pct});
      }
    }
    if (queue != nullptr && !queue->queue_id.empty()) PutQueue(*queue);
    const std::string name(account);
    if (accounts_.count(name) == 0) {
      AccountRecord a;
      a.name = name;
      a.created = now;
      accounts_.emplace(name, std::move(a));
    }
    return alerts;
  }

  Result<std::vector<WindowUsage>> Usage(std::string_view account,
                                         const std::vector<WindowUsage>& windows) override {
    std::lock_guard lk(mu_);
    std::vector<WindowUsage> out = windows;
    for (auto& w : out) w.used = Lookup(counters_, CounterKey(account, w.window, w.span.start));
    return out;
  }

  Result<uint64_t> ResetUsage(std::string_view account, Window window, const WindowSpan& span,
                              const UsageAudit& audit) override {
    std::lock_guard lk(mu_);
    const std::string key = CounterKey(account, window, span.start);
    const uint64_t was = Lookup(counters_, key);
    if (was == 0) return uint64_t{0};
    const AuditEntry entry = audit(was);
    if (Status f = Fail(); !f.ok()) return f;
    counters_.erase(key);
    for (auto it = alerts_.lower_bound(key);
         it != alerts_.end() && it->size() == key.size() + 1 && it->compare(0, key.size(), key) == 0;) {
      it = alerts_.erase(it);
    }
    PutAudit(entry);
    return was;
  }

  Result<std::optional<QueueEntry>> GetQueueEntry(std::string_view queue_id) override {
    std::lock_guard lk(mu_);
    auto it = queue_.find(std::string(queue_id));
    if (it == queue_.end()) return std::optional<QueueEntry>();
    return std::optional<QueueEntry>(it->second);
  }

  using Store::GetQueueEntries;
  Status GetQueueEntries(const std::vector<std::string>& queue_ids,
                         std::vector<std::optional<QueueEntry>>* out) override {
    std::lock_guard lk(mu_);
    out->clear();
    out->resize(queue_ids.size());
    for (size_t i = 0; i < queue_ids.size(); ++i) {
      auto it = queue_.find(queue_ids[i]);
      if (it != queue_.end()) (*out)[i] = it->second;
    }
    return Status::Ok();
  }

  Result<std::vector<std::string>> FindByMessageId(std::string_view message_id) override {
    std::lock_guard lk(mu_);
    std::vector<std::pair<int64_t, std::string>> found;
    const std::string id(message_id);
    for (auto it = msgid_.lower_bound({id, std::string()});
         it != msgid_.end() && it->first == id && found.size() < 100; ++it) {
      auto q = queue_.find(it->second);
      // The index keeps every Message-ID an entry ever had: check the entry.
      if (q == queue_.end() || q->second.message_id != id) continue;
      found.emplace_back(q->second.time, it->second);
    }
    std::stable_sort(found.begin(), found.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    for (auto& f : found) out.push_back(std::move(f.second));
    return out;
  }

  Result<FeedbackResult> ApplyFeedback(const FeedbackBatch& batch,
                                       const AccountReview& review) override {
    const FeedbackSums sums = SumFeedback(batch);
    std::lock_guard lk(mu_);
    if (Status f = Fail(); !f.ok()) return f;
    FeedbackResult result;
    if (!batch.once_key.empty()) {
      // First, so a duplicate writes nothing at all.
      const int64_t now = std::max<int64_t>(batch.now, 0);
      auto it = once_.find(batch.once_key);
      if (it != once_.end() && (it->second > now || now - it->second <= kOnceRetention)) {
        result.duplicate = true;
        return result;
      }
      once_[batch.once_key] = now;
    }
    for (const auto& [key, delta] : sums.days) AddCounts(&days_[key], delta);
    for (const auto& q : batch.queue_puts) {
      if (StorableId(q.queue_id)) PutQueue(q);
    }
    for (const auto& d : batch.deferred) {
      if (!StorableId(d.queue_id)) continue;
      if (d.recipients.empty()) {
        deferred_.erase(d.queue_id);
      } else {
        deferred_[d.queue_id] = d;
      }
    }
    for (const auto& q : batch.queue_stubs) {
      if (StorableId(q.queue_id) && queue_.count(q.queue_id) == 0) PutQueue(q);
    }
    std::vector<SuppressionRecord> adds;
    for (const auto& e : batch.events) {
      if (CountsHardBounce(e, batch)) {
        if (auto r = CountHardBounce(e, batch, &bounces_[e.hard_recipient])) {
          adds.push_back(std::move(*r));
        }
      }
      if (auto r = ComplaintSuppression(e, batch)) adds.push_back(std::move(*r));
    }
    for (const auto& r : adds) {
      if (!suppression_.emplace(SuppressionKey(r.account, r.address), r).second) continue;
      PutAudit(SuppressionAudit(r, batch));
      result.suppressed.push_back(r);
    }
    if (review) {
      for (const auto& [name, last_day] : AccountsToReview(batch, sums)) {
        if (name.size() > 500) continue;
        AccountRecord a;
        auto it = accounts_.find(name);
        if (it != accounts_.end()) {
          a = it->second;
        } else {
          a.name = name;
          a.created = batch.now;
        }
        ReviewOutcome out;
        auto c = sums.complaints.find(name);
        review(&a, DaysLocked(name, ReviewFirstDay(batch, last_day), last_day),
               c == sums.complaints.end() ? 0 : c->second, &out);
        accounts_[name] = std::move(a);
        for (const auto& e : out.audit) PutAudit(e);
        for (auto& l : out.alerts) result.alerts.push_back(std::move(l));
      }
    }
    if (!batch.source.empty()) positions_[batch.source] = batch.position;
    return result;
  }

  Result<std::vector<DeferredRecord>> GetDeferred(size_t max) override {
    std::lock_guard lk(mu_);
    std::vector<DeferredRecord> out;
    for (auto it = deferred_.begin(); it != deferred_.end() && out.size() < max; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  Result<std::optional<std::string>> GetPosition(std::string_view source) override {
    std::lock_guard lk(mu_);
    if (!StorableId(source)) return std::optional<std::string>();
    auto it = positions_.find(std::string(source));
    if (it == positions_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  Result<StoredDays> GetDays(std::string_view account, int64_t first_day,
                             int64_t last_day) override {
    std::lock_guard lk(mu_);
    return DaysLocked(std::string(account), first_day, last_day);
  }

  Result<std::optional<BounceRecord>> GetBounces(std::string_view address) override {
    std::lock_guard lk(mu_);
    auto it = bounces_.find(std::string(address));
    if (it == bounces_.end()) return std::optional<BounceRecord>();
    return std::optional<BounceRecord>(it->second);
  }

  Status AddSendingDays(const std::vector<SendingDay>& days) override {
    if (days.empty()) return Status::Ok();
    const auto deltas = SumSendingDays(days);
    std::lock_guard lk(mu_);
    if (Status f = Fail(); !f.ok()) return f;
    const int64_t now = UnixNow();
    for (const auto& [key, delta] : deltas) {
      AddCounts(&days_[key], delta);
      // As LmdbStore: an account the milter judged gets its record.
      if (!key.first.empty() && accounts_.count(key.first) == 0) {
        AccountRecord a;
        a.name = key.first;
        a.created = now;
        accounts_.emplace(key.first, std::move(a));
      }
    }
    return Status::Ok();
  }

  Status AppendAudit(const AuditEntry& entry) override {
    std::lock_guard lk(mu_);
    if (Status f = Fail(); !f.ok()) return f;
    PutAudit(entry);
    return Status::Ok();
  }

  Result<std::vector<AuditEntry>> ListAudit(std::string_view account, size_t limit) override {
    std::lock_guard lk(mu_);
    std::vector<AuditEntry> out;
    for (auto it = audit_.rbegin(); it != audit_.rend() && out.size() < limit; ++it) {
      if (account.empty() || it->second.account == account) out.push_back(it->second);
    }
    return out;
  }

  Status Maintain() override { return Status::Ok(); }
  void Flush() override {}

  void FailNextWrites(int n, Status status) override {
    std::lock_guard lk(mu_);
    fail_count_ = n;
    fail_status_ = std::move(status);
  }

 private:
  // REQUIRES: mu_ held. The injected failure of this write, if any.
  Status Fail() {
    if (fail_count_ <= 0) return Status::Ok();
    --fail_count_;
    return fail_status_;
  }
  // REQUIRES: mu_ held. What is kept under the account's name.
  AccountContents ContentsLocked(const std::string& key) {
    AccountContents c;
    auto it = accounts_.find(key);
    if (it != accounts_.end()) {
      c.record = true;
      c.domains = it->second.domains.size();
    }
    const std::string prefix = key + std::string(1, '\0');
    c.windows = CountWithPrefix(counters_, prefix);
    c.suppressions = CountWithPrefix(suppression_, prefix);
    for (auto d = days_.lower_bound({key, INT64_MIN}); d != days_.end() && d->first.first == key; ++d)
      ++c.days;
    return c;
  }
  template <typename M>
  static uint64_t CountWithPrefix(const M& m, const std::string& prefix) {
    uint64_t n = 0;
    for (auto it = m.lower_bound(prefix); it != m.end() && KeyOf(*it).compare(0, prefix.size(), prefix) == 0; ++it)
      ++n;
    return n;
  }
  template <typename M>
  static void EraseWithPrefix(M* m, const std::string& prefix) {
    auto it = m->lower_bound(prefix);
    while (it != m->end() && KeyOf(*it).compare(0, prefix.size(), prefix) == 0) it = m->erase(it);
  }
  template <typename M>
  static void MoveWithPrefix(M* m, const std::string& from, const std::string& to) {
    M moved;
    auto it = m->lower_bound(from);
    while (it != m->end() && KeyOf(*it).compare(0, from.size(), from) == 0) {
      auto node = m->extract(it++);
      Rekey(&node, to + NodeKey(node).substr(from.size()));
      moved.insert(std::move(node));
    }
    m->merge(moved);
  }
  template <typename Node>
  static std::string NodeKey(Node& n) {
    if constexpr (requires { n.key(); }) {
      return n.key();
    } else {
      return n.value();
    }
  }
  template <typename Node>
  static void Rekey(Node* n, std::string key) {
    if constexpr (requires { n->key(); }) {
      n->key() = std::move(key);
    } else {
      n->value() = std::move(key);
    }
  }
  static const std::string& KeyOf(const std::string& k) { return k; }
  template <typename V>
  static const std::string& KeyOf(const std::pair<const std::string, V>& kv) { return kv.first; }
  static uint64_t Lookup(const std::map<std::string, uint64_t>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? 0 : it->second;
  }
  void ReleaseLocked(std::string_view account, const std::vector<QuotaCharge>& held) {
    for (const auto& c : held) {
      if (c.amount == 0) continue;
      auto it = reserved_.find(CounterKey(account, c.window, c.span.start));
      if (it == reserved_.end()) continue;
      it->second -= std::min(it->second, c.amount);
      if (it->second == 0) reserved_.erase(it);
    }
  }
  void PutQueue(const QueueEntry& q) {
    queue_[q.queue_id] = q;
    if (!q.message_id.empty()) msgid_.emplace(q.message_id, q.queue_id);
  }
  // Newest last; time_us is ordered unsigned, as LmdbStore's big-endian key.
  void PutAudit(const AuditEntry& e) {
    audit_.emplace(std::make_pair(static_cast<uint64_t>(e.time_us), ++audit_seq_), e);
  }
  StoredDays DaysLocked(const std::string& account, int64_t first, int64_t last) {
    StoredDays out;
    first = std::max<int64_t>(first, 0);
    if (last < first) return out;
    for (auto it = days_.lower_bound({account, first});
         it != days_.end() && it->first.first == account && it->first.second <= last; ++it) {
      out.emplace_back(it->first.second, it->second);
    }
    return out;
  }

  std::mutex mu_;
  std::map<std::string, AccountRecord> accounts_;
  std::map<std::string, SuppressionRecord> suppression_;  // SuppressionKey
  std::map<std::pair<uint64_t, uint64_t>, AuditEntry> audit_;  // (time_us, sequence)
  uint64_t audit_seq_ = 0;
  std::map<std::string, uint64_t> counters_;  // CounterKey -> committed
  std::map<std::string, uint64_t> reserved_;  // CounterKey -> held by open transactions
  std::set<std::string> alerts_;              // CounterKey + pct
  std::map<std::string, QueueEntry> queue_;
  std::set<std::pair<std::string, std::string>> msgid_;  // (Message-ID, queue id)
  std::map<std::pair<std::string, int64_t>, DayCountsRecord> days_;
  std::map<std::string, BounceRecord> bounces_;
  std::map<std::string, std::string> positions_;
  std::map<std::string, DeferredRecord> deferred_;
  std::map<std::string, int64_t> once_;  // once_key -> time recorded
  int fail_count_ = 0;
  Status fail_status_;
};

}  // namespace

std::unique_ptr<MemoryStore> NewMemoryStore() { return std::make_unique<MemoryStoreImpl>(); }

}  // namespace senderguard
