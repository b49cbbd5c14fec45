// LmdbStore's delivery feedback: ApplyFeedback (daily counts, queue-map
// puts and stubs, deferred records, bounce counts, suppressions, reviews,
// position) with its exactly-once keys, the reads of what it writes
// (GetDays, GetBounces, GetPosition, GetDeferred), and ApplyLocalFeedback,
// the node's part of a batch under the PostgreSQL backend.
#include "senderguard/store/lmdb/lmdb_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <functional>

#include "lmdb_internal.h"
#include "senderguard/base/clock.h"
#include "senderguard/store/codec.h"
#include "senderguard/store/feedback_rules.h"

namespace senderguard {

using namespace lmdb_internal;

namespace {

// Feedback idempotency keys (FeedbackBatch::once_key) are stored as their
// SHA-256: a fixed 32 bytes whatever the caller passes (a hostile report's
// Message-ID can be 998 bytes; LMDB keys stop at 511), never empty.
constexpr size_t kOnceDigestSize = 32;
// Expired keys deleted per batch that records one: more than the one it
// adds, so expired keys never pile up, and few enough to keep the write short.
constexpr size_t kOncePrunePerWrite = 16;

std::string OnceDigest(std::string_view once_key) {
  unsigned char md[EVP_MAX_MD_SIZE] = {};
  unsigned int len = 0;
  EVP_Digest(once_key.data(), once_key.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(md), kOnceDigestSize);
}

// once_time key: 8-byte big-endian time, then the digest (oldest first).
std::string OnceTimeKey(int64_t time, std::string_view digest) {
  std::string k;
  PutBe64(&k, static_cast<uint64_t>(time));
  k.append(digest);
  return k;
}

Status ReadDays(MDB_txn* txn, MDB_dbi dbi, std::string_view account, int64_t first, int64_t last,
                StoredDays* out) {
  out->clear();
  first = std::max<int64_t>(first, 0);  // days are stored unsigned (from 1970 on)
  if (last < first) return Status::Ok();
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != 0) return LmdbError("cursor", rc);
  const std::string start = DayKey(account, first);
  const std::string_view prefix(start.data(), account.size() + 1);
  MDB_val k = Val(start), v;
  Status st;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const std::string_view key = View(k);
    if (key.size() != prefix.size() + 8 || key.substr(0, prefix.size()) != prefix) break;
    const int64_t day = static_cast<int64_t>(GetBe64(key.substr(prefix.size())));
    if (day > last) break;
    DayCountsRecord d;
    // A corrupt bucket is left out (and replaced when next counted into):
    // one bad record must not block every later count of the account.
    if (!Decode(View(v), "days", &d).ok()) continue;
    out->emplace_back(day, d);
  }
  mdb_cursor_close(cur);
  if (!st.ok()) return st;
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("read days", rc);
  return Status::Ok();
}

}  // namespace

// The node's own parts of a batch (queue-map puts and stubs, deferred
// records), in the order ApplyFeedback has always written them. Writing
// them again writes the same: puts and deferred records are replaced
// whole, a stub only fills a queue id that has no entry.
Status LmdbStore::PutLocalParts(MDB_txn* txn, const FeedbackBatch& batch) {
  for (const auto& q : batch.queue_puts) {
    if (q.queue_id.empty() || q.queue_id.size() > 500) continue;
    Status s = PutQueue(txn, q);
    if (!s.ok()) return s;
  }
  for (const auto& d : batch.deferred) {
    if (d.queue_id.empty() || d.queue_id.size() > 500) continue;
    if (d.recipients.empty()) {
      Status s = Delete(txn, dbi_.deferred, d.queue_id, "delete deferred");
      if (!s.ok()) return s;
      continue;
    }
    Status s = Put(txn, dbi_.deferred, d.queue_id, Encode(d), "write deferred");
    if (!s.ok()) return s;
  }
  for (const auto& q : batch.queue_stubs) {
    if (q.queue_id.empty() || q.queue_id.size() > 500) continue;
    MDB_val mk = Val(q.queue_id), mv;
    int rc = mdb_get(txn, dbi_.queue, &mk, &mv);
    if (rc == 0) continue;
    if (rc != MDB_NOTFOUND) return LmdbError("read queue map", rc);
    Status s = PutQueue(txn, q);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status LmdbStore::CheckAndRecordOnce(MDB_txn* txn, std::string_view once_key, int64_t now,
                                     bool* duplicate) {
  *duplicate = false;
  now = std::max<int64_t>(now, 0);  // times are stored unsigned, as days are
  const std::string digest = OnceDigest(once_key);
  MDB_val k = Val(digest), v;
  int rc = mdb_get(txn, dbi_.once, &k, &v);
  if (rc == 0) {
    // A value of another size is corruption: the key counts as not recorded
    // (counted again, and overwritten) rather than blocking every retry.
    if (v.mv_size == 8) {
      const int64_t recorded = static_cast<int64_t>(GetBe64(View(v)));
      // recorded > now: the clock went back; still the same report.
      if (recorded >= 0 && (recorded > now || now - recorded <= kOnceRetention)) {
        *duplicate = true;
        return Status::Ok();
      }
      // Expired and not yet pruned: recorded again below, at `now`.
      const std::string old_time_key = OnceTimeKey(recorded, digest);
      MDB_val tk = Val(old_time_key);
      rc = mdb_del(txn, dbi_.once_time, &tk, nullptr);
      if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("delete once key", rc);
    }
  } else if (rc != MDB_NOTFOUND) {
    return LmdbError("read once key", rc);
  }
  std::string when;
  PutBe64(&when, static_cast<uint64_t>(now));
  Status s = Put(txn, dbi_.once, digest, when, "write once key");
  if (!s.ok()) return s;
  s = Put(txn, dbi_.once_time, OnceTimeKey(now, digest), "", "write once key");
  if (!s.ok()) return s;

  // Prune from the oldest while expired. once_time only ever gains a key
  // together with once, so walking its front bounds both.
  MDB_cursor* cur = nullptr;
  rc = mdb_cursor_open(txn, dbi_.once_time, &cur);
  if (rc != 0) return LmdbError("cursor", rc);
  size_t deleted = 0;
  MDB_val ck, cv;
  for (rc = mdb_cursor_get(cur, &ck, &cv, MDB_FIRST); rc == 0 && deleted < kOncePrunePerWrite;
       rc = mdb_cursor_get(cur, &ck, &cv, MDB_NEXT)) {
    const std::string_view key = View(ck);
    if (key.size() == 8 + kOnceDigestSize) {
      const uint64_t t = GetBe64(key);
      const bool expired =
          t <= static_cast<uint64_t>(now) && now - static_cast<int64_t>(t) > kOnceRetention;
      if (!expired) break;  // the rest is younger
      // Delete the key itself only if it still holds this time (it does not
      // when it was recorded again after expiring). A copy: `key` points
      // into the page under the cursor.
      const std::string digest_of(key.substr(8));
      MDB_val dk = Val(digest_of), dv;
      int grc = mdb_get(txn, dbi_.once, &dk, &dv);
      if (grc == 0 && dv.mv_size == 8 && GetBe64(View(dv)) == t) {
        grc = mdb_del(txn, dbi_.once, &dk, nullptr);
      }
      if (grc != 0 && grc != MDB_NOTFOUND) {
        rc = grc;
        break;
      }
    }  // else not an index key of ours: dropped
    rc = mdb_cursor_del(cur, 0);
    if (rc != 0) break;
    ++deleted;
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("prune once keys", rc);
  return Status::Ok();
}

Result<std::vector<DeferredRecord>> LmdbStore::GetDeferred(size_t max) {
  std::vector<DeferredRecord> out;
  Status st = Read([&](MDB_txn* txn) {
    out.clear();
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbi_.deferred, &cur);
    if (rc != 0) return LmdbError("cursor", rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && out.size() < max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      DeferredRecord d;
      // A corrupt record is skipped: its expiry counts one, as without it.
      if (Decode(View(v), "deferred", &d).ok()) out.push_back(std::move(d));
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("read deferred", rc);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<std::string>> LmdbStore::GetPosition(std::string_view source) {
  std::optional<std::string> out;
  if (source.empty() || source.size() > 500) return out;
  Status st = Read([&](MDB_txn* txn) {
    MDB_val k = Val(source), v;
    int rc = mdb_get(txn, dbi_.positions, &k, &v);
    if (rc == MDB_NOTFOUND) return Status::Ok();
    if (rc != 0) return LmdbError("read position", rc);
    out = std::string(View(v));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<StoredDays> LmdbStore::GetDays(std::string_view account, int64_t first_day,
                                      int64_t last_day) {
  StoredDays out;
  Status st = Read([&](MDB_txn* txn) {
    return ReadDays(txn, dbi_.days, account, first_day, last_day, &out);
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<BounceRecord>> LmdbStore::GetBounces(std::string_view address) {
  std::optional<BounceRecord> out;
  Status st = Read([&](MDB_txn* txn) {
    MDB_val k = Val(address), v;
    int rc = mdb_get(txn, dbi_.bounces, &k, &v);
    if (rc == MDB_NOTFOUND) return Status::Ok();
    if (rc != 0) return LmdbError("read bounces", rc);
    BounceRecord b;
    Status d = Decode(View(v), "bounces/" + std::string(address), &b);
    if (d.ok()) out = std::move(b);
    return d;
  });
  if (!st.ok()) return st;
  return out;
}

Result<FeedbackResult> LmdbStore::ApplyFeedback(const FeedbackBatch& batch,
                                                const AccountReview& review) {
  // Sum the batch per (account, day) first: one read-modify-write per bucket.
  const FeedbackSums sums = SumFeedback(batch);
  FeedbackResult result;
  Status st = Write([&](MDB_txn* txn) {
    result = FeedbackResult{};
    if (!batch.once_key.empty()) {
      // First, so a duplicate writes nothing at all.
      Status s = CheckAndRecordOnce(txn, batch.once_key, batch.now, &result.duplicate);
      if (!s.ok() || result.duplicate) return s;
    }
    Status added = AddDays(txn, sums.days);
    if (!added.ok()) return added;
    Status local = PutLocalParts(txn, batch);
    if (!local.ok()) return local;
    // Hard bounces toward global suppression; complaints suppress per account.
    std::vector<SuppressionRecord> adds;
    for (const auto& e : batch.events) {
      if (CountsHardBounce(e, batch)) {
        MDB_val mk = Val(e.hard_recipient), mv;
        BounceRecord b;
        int rc = mdb_get(txn, dbi_.bounces, &mk, &mv);
        if (rc == 0 && !Decode(View(mv), "bounces", &b).ok()) b = BounceRecord{};
        if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("read bounces", rc);
        std::optional<SuppressionRecord> r = CountHardBounce(e, batch, &b);
        Status s = Put(txn, dbi_.bounces, e.hard_recipient, Encode(b), "write bounces");
        if (!s.ok()) return s;
        if (r) adds.push_back(std::move(*r));
      }
      if (auto r = ComplaintSuppression(e, batch)) adds.push_back(std::move(*r));
    }
    for (const auto& r : adds) {
      const std::string k = SuppressionKey(r.account, r.address);
      MDB_val mk = Val(k), mv;
      int rc = mdb_get(txn, dbi_.suppression, &mk, &mv);
      if (rc == 0) continue;  // already there: keep the first reason
      if (rc != MDB_NOTFOUND) return LmdbError("read suppression", rc);
      Status s = Put(txn, dbi_.suppression, k, Encode(r), "write suppression");
      if (!s.ok()) return s;
      const AuditEntry a = SuppressionAudit(r, batch);
      s = PutAudit(txn, a);
      if (!s.ok()) return s;
      result.suppressed.push_back(r);
    }
    // Reviews of every account counted for.
    if (review) {
      const std::map<std::string, int64_t> accounts = AccountsToReview(batch, sums);
      for (const auto& [name, last_day] : accounts) {
        if (name.size() > 500) continue;
        MDB_val mk = Val(name), mv;
        AccountRecord a;
        bool exists = false;
        std::string before;
        int rc = mdb_get(txn, dbi_.accounts, &mk, &mv);
        if (rc == 0) {
          before.assign(View(mv));
          Status d = Decode(View(mv), "accounts/" + name, &a);
          if (!d.ok()) {  // never overwrite a record we cannot read
            Log(Logger::Level::kError, "store=lmdb action=review-skip error=" + KvEscape(d.message()));
            continue;
          }
          exists = true;
        } else if (rc == MDB_NOTFOUND) {
          a.name = name;
          a.created = batch.now;
        } else {
          return LmdbError("read account", rc);
        }
        StoredDays days;
        Status s = ReadDays(txn, dbi_.days, name, ReviewFirstDay(batch, last_day), last_day, &days);
        if (!s.ok()) return s;
        ReviewOutcome out;
        auto it = sums.complaints.find(name);
        review(&a, days, it == sums.complaints.end() ? 0 : it->second, &out);
        const std::string after = Encode(a);
        if (!exists || after != before) {
          s = Put(txn, dbi_.accounts, name, after, "write account");
          if (!s.ok()) return s;
        }
        for (const auto& e : out.audit) {
          s = PutAudit(txn, e);
          if (!s.ok()) return s;
        }
        for (auto& l : out.alerts) result.alerts.push_back(std::move(l));
      }
    }
    if (!batch.source.empty()) {
      Status s = Put(txn, dbi_.positions, batch.source, batch.position, "write position");
      if (!s.ok()) return s;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return result;
}

Status LmdbStore::AddDays(MDB_txn* txn,
                          const std::map<std::pair<std::string, int64_t>, DayCountsRecord>& deltas) {
  for (const auto& [key, delta] : deltas) {
    const std::string k = DayKey(key.first, key.second);
    MDB_val mk = Val(k), mv;
    DayCountsRecord d;
    int rc = mdb_get(txn, dbi_.days, &mk, &mv);
    if (rc == 0) {
      // A corrupt bucket is replaced rather than blocking every later count.
      if (!Decode(View(mv), "days", &d).ok()) {
        d = DayCountsRecord{};
        Log(Logger::Level::kWarning,
            "store=lmdb action=replace-corrupt-days account=" + KvEscape(key.first));
      }
    } else if (rc != MDB_NOTFOUND) {
      return LmdbError("read days", rc);
    }
    AddCounts(&d, delta);
    Status s = Put(txn, dbi_.days, k, Encode(d), "write days");
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status LmdbStore::AddSendingDays(const std::vector<SendingDay>& days) {
  if (days.empty()) return Status::Ok();
  const auto deltas = SumSendingDays(days);
  const int64_t now = UnixNow();
  return Write([&](MDB_txn* txn) {
    Status st = AddDays(txn, deltas);
    if (!st.ok()) return st;
    // An account the milter judged (refused, or counted) without a record
    // gets one, as a first Commit makes it: so that list, top, report --all,
    // account delete and rename see an account that was only ever refused.
    std::string last;
    for (const auto& [key, delta] : deltas) {
      if (key.first.empty() || key.first == last) continue;
      last = key.first;
      MDB_val k = Val(key.first), v;
      const int rc = mdb_get(txn, dbi_.accounts, &k, &v);
      if (rc == MDB_NOTFOUND) {
        AccountRecord a;
        a.name = key.first;
        a.created = now;
        Status s = Put(txn, dbi_.accounts, key.first, Encode(a), "write account");
        if (!s.ok()) return s;
      } else if (rc != 0) {
        return LmdbError("read account", rc);
      }
    }
    return Status::Ok();
  });
}

Status LmdbStore::ApplyLocalFeedback(const FeedbackBatch& batch) {
  if (batch.queue_puts.empty() && batch.queue_stubs.empty() && batch.deferred.empty())
    return Status::Ok();
  return Write([&](MDB_txn* txn) {
    return PutLocalParts(txn, batch);
  });
}

}  // namespace senderguard
