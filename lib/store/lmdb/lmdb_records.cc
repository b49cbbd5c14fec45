// LmdbStore's records: accounts, audit, suppression, quota counters and
// alerts (Commit; the holds of open transactions are in lmdb_holds.cc), the queue map and its
// Message-ID index.
#include "senderguard/store/lmdb/lmdb_store.h"

#include <unistd.h>

#include <algorithm>

#include "lmdb_internal.h"
#include "senderguard/store/codec.h"

namespace senderguard {

using namespace lmdb_internal;

// ---- accounts

Result<std::optional<AccountRecord>> LmdbStore::GetAccount(std::string_view name) {
  std::optional<AccountRecord> out;
  Status st = Read([&](MDB_txn* txn) {
    MDB_val k = Val(name), v;
    int rc = mdb_get(txn, dbi_.accounts, &k, &v);
    if (rc == MDB_NOTFOUND) return Status::Ok();
    if (rc != 0) return LmdbError("read account", rc);
    AccountRecord a;
    Status d = Decode(View(v), "accounts/" + std::string(name), &a);
    if (d.ok()) out = std::move(a);
    return d;
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<AccountRecord>> LmdbStore::ListAccounts() {
  std::vector<AccountRecord> out;
  Status st = Read([&](MDB_txn* txn) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbi_.accounts, &cur);
    if (rc != 0) return LmdbError("cursor", rc);
    MDB_val k, v;
    Status s;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      AccountRecord a;
      s = Decode(View(v), "accounts/" + std::string(View(k)), &a);
      if (!s.ok()) break;
      out.push_back(std::move(a));
    }
    mdb_cursor_close(cur);
    if (s.ok() && rc != MDB_NOTFOUND) s = LmdbError("list accounts", rc);
    return s;
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<AccountRecord>> LmdbStore::ListAccountsAfter(std::string_view after, size_t limit) {
  std::vector<AccountRecord> out;
  if (limit == 0) return out;
  Status st = Read([&](MDB_txn* txn) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbi_.accounts, &cur);
    if (rc != 0) return LmdbError("cursor", rc);
    // The first key >= `after` (MDB_SET_RANGE), stepped over when it is `after`.
    MDB_val k{after.size(), const_cast<char*>(after.data())}, v;
    rc = after.empty() ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && !after.empty() && View(k) == after) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    Status s;
    for (; rc == 0 && out.size() < limit; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      AccountRecord a;
      s = Decode(View(v), "accounts/" + std::string(View(k)), &a);
      if (!s.ok()) break;
      out.push_back(std::move(a));
    }
    mdb_cursor_close(cur);
    if (s.ok() && rc != 0 && rc != MDB_NOTFOUND) s = LmdbError("list accounts", rc);
    return s;
  });
  if (!st.ok()) return st;
  return out;
}

Status LmdbStore::UpdateAccount(std::string_view name, const AccountChange& change,
                                const AuditEntry& audit) {
  const std::string key(name);
  return Write([&, key](MDB_txn* txn) {
    MDB_val k = Val(key), v;
    AccountRecord a;
    bool exists = false;
    int rc = mdb_get(txn, dbi_.accounts, &k, &v);
    if (rc == 0) {
      Status d = Decode(View(v), "accounts/" + key, &a);
      if (!d.ok()) return d;
      exists = true;
    } else if (rc == MDB_NOTFOUND) {
      a.name = key;
      a.created = audit.time_us / 1000000;
    } else {
      return LmdbError("read account", rc);
    }
    Status c = change(&a, exists);
    if (!c.ok()) return c;
    a.name = key;
    Status p = Put(txn, dbi_.accounts, key, Encode(a), "write account");
    if (!p.ok()) return p;
    return PutAudit(txn, audit);
  });
}

Status LmdbStore::UpdateAccounts(const std::vector<std::string>& names, const AccountBatchChange& change) {
  Status distinct = CheckDistinct(names);
  if (!distinct.ok()) return distinct;
  return Write([&](MDB_txn* txn) {
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string& key = names[i];
      MDB_val k = Val(key), v;
      AccountRecord a;
      bool exists = false;
      std::optional<AuditEntry> audit;
      int rc = mdb_get(txn, dbi_.accounts, &k, &v);
      if (rc == 0) {
        Status d = Decode(View(v), "accounts/" + key, &a);
        if (!d.ok()) return d;
        exists = true;
      } else if (rc != MDB_NOTFOUND) {
        return LmdbError("read account", rc);
      } else {
        a.name = key;
      }
      Status c = change(i, &a, exists, &audit);
      if (!c.ok()) return c;
      if (!audit) continue;
      a.name = key;
      if (!exists && a.created == 0) a.created = audit->time_us / 1000000;
      Status p = Put(txn, dbi_.accounts, key, Encode(a), "write account");
      if (!p.ok()) return p;
      Status pa = PutAudit(txn, *audit);
      if (!pa.ok()) return pa;
    }
    return Status::Ok();
  });
}

// ---- audit

Status LmdbStore::PutAudit(MDB_txn* txn, const AuditEntry& e) {
  std::string key;
  PutBe64(&key, static_cast<uint64_t>(e.time_us));
  // pid and a per-process sequence keep keys unique across processes.
  const uint64_t tail = (static_cast<uint64_t>(static_cast<uint32_t>(::getpid())) << 32) |
                        __atomic_add_fetch(&audit_seq_, 1, __ATOMIC_RELAXED);
  PutBe64(&key, tail);
  return Put(txn, dbi_.audit, key, Encode(e), "write audit");
}

Status LmdbStore::AppendAudit(const AuditEntry& entry) {
  return Write([&](MDB_txn* txn) { return PutAudit(txn, entry); });
}

Result<std::vector<AuditEntry>> LmdbStore::ListAudit(std::string_view account, size_t limit) {
  std::vector<AuditEntry> out;
  Status st = Read([&](MDB_txn* txn) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbi_.audit, &cur);
    if (rc != 0) return LmdbError("cursor", rc);
    MDB_val k, v;
    Status s;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0 && out.size() < limit;
         rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
      AuditEntry e;
      s = Decode(View(v), "audit", &e);
      if (!s.ok()) break;
      if (account.empty() || e.account == account) out.push_back(std::move(e));
    }
    mdb_cursor_close(cur);
    if (s.ok() && rc != 0 && rc != MDB_NOTFOUND) s = LmdbError("list audit", rc);
    return s;
  });
  if (!st.ok()) return st;
  return out;
}

// ---- suppression

Result<std::optional<SuppressionRecord>> LmdbStore::FindSuppression(std::string_view account,
                                                                    std::string_view address) {
  std::optional<SuppressionRecord> out;
  Status st = Read([&](MDB_txn* txn) {
    for (std::string_view owner : {std::string_view(), account}) {
      const std::string key = SuppressionKey(owner, address);
      MDB_val k = Val(key), v;
      int rc = mdb_get(txn, dbi_.suppression, &k, &v);
      if (rc == MDB_NOTFOUND) continue;
      if (rc != 0) return LmdbError("read suppression", rc);
      SuppressionRecord r;
      Status d = Decode(View(v), "suppression/" + std::string(address), &r);
      if (!d.ok()) return d;
      out = std::move(r);
      return Status::Ok();
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<size_t> LmdbStore::AddSuppressions(const std::vector<SuppressionRecord>& records,
                                          const SuppressionAddAudit& audit) {
  size_t added = 0;
  Status st = Write([&](MDB_txn* txn) {
    added = 0;
    for (const auto& r : records) {
      const std::string key = SuppressionKey(r.account, r.address);
      const std::string value = Encode(r);
      MDB_val k = Val(key), v = Val(value);
      const int rc = mdb_put(txn, dbi_.suppression, &k, &v, MDB_NOOVERWRITE);
      if (rc == MDB_KEYEXIST) continue;  // there already: left as it was
      if (rc != 0) return LmdbError("write suppression", rc);
      ++added;
    }
    return added > 0 ? PutAudit(txn, audit.For(added)) : Status::Ok();
  });
  if (!st.ok()) return st;
  return added;
}

Result<bool> LmdbStore::RemoveSuppression(std::string_view account, std::string_view address,
                                          const AuditEntry& audit) {
  bool removed = false;
  const std::string key = SuppressionKey(account, address);
  Status st = Write([&](MDB_txn* txn) {
    removed = false;
    MDB_val k = Val(key);
    int rc = mdb_del(txn, dbi_.suppression, &k, nullptr);
    if (rc == MDB_NOTFOUND) return Status::Ok();
    if (rc != 0) return LmdbError("delete suppression", rc);
    removed = true;
    return PutAudit(txn, audit);
  });
  if (!st.ok()) return st;
  return removed;
}

Result<std::vector<SuppressionRecord>> LmdbStore::ListSuppressions(
    const std::optional<std::string>& account, size_t limit) {
  std::vector<SuppressionRecord> out;
  Status st = Read([&](MDB_txn* txn) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbi_.suppression, &cur);
    if (rc != 0) return LmdbError("cursor", rc);
    std::string prefix;
    if (account) prefix = *account + std::string(1, '\0');
    MDB_val k = Val(prefix), v;
    Status s;
    rc = prefix.empty() ? mdb_cursor_get(cur, &k, &v, MDB_FIRST)
                        : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && out.size() < limit; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      if (!prefix.empty() && View(k).substr(0, prefix.size()) != prefix) break;
      SuppressionRecord r;
      s = Decode(View(v), "suppression", &r);
      if (!s.ok()) break;
      out.push_back(std::move(r));
    }
    mdb_cursor_close(cur);
    if (s.ok() && rc != 0 && rc != MDB_NOTFOUND) s = LmdbError("list suppression", rc);
    return s;
  });
  if (!st.ok()) return st;
  return out;
}

Result<uint64_t> LmdbStore::CountSuppressions(std::string_view account) {
  uint64_t n = 0;
  Status st = Read([&](MDB_txn* txn) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbi_.suppression, &cur);
    if (rc != 0) return LmdbError("cursor", rc);
    const std::string prefix = std::string(account) + std::string(1, '\0');
    MDB_val k = Val(prefix), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      if (View(k).substr(0, prefix.size()) != prefix) break;
      ++n;
    }
    mdb_cursor_close(cur);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return n;
}

// ---- quotas (Reserve and Release are in lmdb_holds.cc)

Result<std::vector<QuotaAlert>> LmdbStore::Commit(std::string_view account,
                                                  const std::vector<QuotaCharge>& held,
                                                  const QueueEntry* queue, int64_t now) {
  std::vector<std::string> keys;
  for (const auto& c : held) keys.push_back(CounterKey(account, c.window, c.span.start));
  std::vector<QuotaAlert> alerts;
  const std::string acct(account);
  Status st = Write(
      [&](MDB_txn* txn) {
        alerts.clear();
        // The hold becomes a count in the same transaction: every process
        // on the environment sees one or the other, never both or neither.
        Status taken = DropHolds(txn, keys, held);
        if (!taken.ok()) return taken;
        for (size_t i = 0; i < held.size(); ++i) {
          if (held[i].amount == 0) continue;
          uint64_t used = 0;
          Status s = GetCounter(txn, dbi_.counters, keys[i], &used);
          if (!s.ok()) return s;
          used += held[i].amount;
          std::string val;
          PutBe64(&val, used);
          s = Put(txn, dbi_.counters, keys[i], val, "write counter");
          if (!s.ok()) return s;
          for (int pct : ThresholdsReached(used, held[i].limit)) {
            std::string ak = keys[i];
            ak.push_back(static_cast<char>(pct));
            std::string when;
            PutBe64(&when, static_cast<uint64_t>(now));
            MDB_val k = Val(ak), v = Val(when);
            int rc = mdb_put(txn, dbi_.alerts, &k, &v, MDB_NOOVERWRITE);
            if (rc == MDB_KEYEXIST) continue;
            if (rc != 0) return LmdbError("write alert", rc);
            alerts.push_back(QuotaAlert{held[i].window, held[i].span, used, held[i].limit, pct});
          }
        }
        if (queue != nullptr && !queue->queue_id.empty()) {
          Status s = PutQueue(txn, *queue);
          if (!s.ok()) return s;
        }
        // First mail from an account without a record: create it, so `list`
        // shows every account that has sent.
        MDB_val k = Val(acct), v;
        int rc = mdb_get(txn, dbi_.accounts, &k, &v);
        if (rc == MDB_NOTFOUND) {
          AccountRecord a;
          a.name = acct;
          a.created = now;
          Status s = Put(txn, dbi_.accounts, acct, Encode(a), "write account");
          if (!s.ok()) return s;
        } else if (rc != 0) {
          return LmdbError("read account", rc);
        }
        return Status::Ok();
      },
      /*durable=*/true);
  if (!st.ok()) {
    Release(account, held);
    return st;
  }
  return alerts;
}

Result<std::vector<WindowUsage>> LmdbStore::Usage(std::string_view account,
                                                  const std::vector<WindowUsage>& windows) {
  std::vector<WindowUsage> out = windows;
  Status st = Read([&](MDB_txn* txn) {
    for (auto& w : out) {
      Status s = GetCounter(txn, dbi_.counters, CounterKey(account, w.window, w.span.start), &w.used);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<uint64_t> LmdbStore::ResetUsage(std::string_view account, Window window,
                                       const WindowSpan& span, const UsageAudit& audit) {
  const std::string key = CounterKey(account, window, span.start);
  uint64_t was = 0;
  Status st = Write([&](MDB_txn* txn) {
    Status s = GetCounter(txn, dbi_.counters, key, &was);
    if (!s.ok() || was == 0) return s;
    s = Delete(txn, dbi_.counters, key, "delete counter");
    if (!s.ok()) return s;
    // alerts: the counter key and one byte (the percentage).
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbi_.alerts, &cur);
    if (rc != 0) return LmdbError("cursor", rc);
    MDB_val k = Val(key), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      const std::string_view found = View(k);
      if (found.size() != key.size() + 1 || found.substr(0, key.size()) != key) break;
      rc = mdb_cursor_del(cur, 0);
      if (rc != 0) break;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("delete alerts", rc);
    return PutAudit(txn, audit(was));
  });
  if (!st.ok()) return st;
  return was;
}

Result<std::optional<QueueEntry>> LmdbStore::GetQueueEntry(std::string_view queue_id) {
  std::optional<QueueEntry> out;
  if (queue_id.empty() || queue_id.size() > 500) return out;  // LMDB keys: 1..511 bytes
  Status st = Read([&](MDB_txn* txn) {
    MDB_val k = Val(queue_id), v;
    int rc = mdb_get(txn, dbi_.queue, &k, &v);
    if (rc == MDB_NOTFOUND) return Status::Ok();
    if (rc != 0) return LmdbError("read queue map", rc);
    QueueEntry q;
    Status d = Decode(View(v), "queue/" + std::string(queue_id), &q);
    if (d.ok()) out = std::move(q);
    return d;
  });
  if (!st.ok()) return st;
  return out;
}

Status LmdbStore::PutQueue(MDB_txn* txn, const QueueEntry& q) {
  Status s = Put(txn, dbi_.queue, q.queue_id, Encode(q), "write queue map");
  if (!s.ok() || q.message_id.empty()) return s;
  return Put(txn, dbi_.msgid, MsgIdKey(q.message_id, q.queue_id), "", "write message-id index");
}

Status LmdbStore::GetQueueEntries(const std::vector<std::string>& queue_ids,
                                  std::vector<std::optional<QueueEntry>>* out) {
  Status st = Read([&](MDB_txn* txn) {
    out->clear();
    out->resize(queue_ids.size());
    for (size_t i = 0; i < queue_ids.size(); ++i) {
      MDB_val k = Val(queue_ids[i]), v;
      if (queue_ids[i].empty() || queue_ids[i].size() > 500) continue;
      int rc = mdb_get(txn, dbi_.queue, &k, &v);
      if (rc == MDB_NOTFOUND) continue;
      if (rc != 0) return LmdbError("read queue map", rc);
      // A corrupt entry attributes nothing; the caller counts it
      // unattributed (so the error's text is never built here).
      QueueEntry& q = (*out)[i].emplace();
      if (!Decode(View(v), "queue", &q).ok()) (*out)[i].reset();
    }
    return Status::Ok();
  });
  if (!st.ok()) out->clear();
  return st;
}

Result<std::vector<std::string>> LmdbStore::FindByMessageId(std::string_view message_id) {
  std::vector<std::pair<int64_t, std::string>> found;
  Status st = Read([&](MDB_txn* txn) {
    found.clear();
    const std::string prefix = MsgIdKey(message_id, "");
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbi_.msgid, &cur);
    if (rc != 0) return LmdbError("cursor", rc);
    MDB_val k = Val(prefix), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && found.size() < 100;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      const std::string_view key = View(k);
      if (key.substr(0, prefix.size()) != prefix) break;
      std::string qid(key.substr(prefix.size()));
      MDB_val qk = Val(qid), qv;
      QueueEntry q;
      // The key holds only the first 400 bytes of the Message-ID: compare
      // the whole one recorded in the entry.
      if (mdb_get(txn, dbi_.queue, &qk, &qv) != 0 || !Decode(View(qv), "queue", &q).ok() ||
          q.message_id != message_id) {
        continue;
      }
      found.emplace_back(q.time, std::move(qid));
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("read message-id index", rc);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  std::stable_sort(found.begin(), found.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

}  // namespace senderguard
