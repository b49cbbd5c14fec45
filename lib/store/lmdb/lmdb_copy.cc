// LmdbStore's whole-store walks and imports, for `senderguardctl store
// copy` (lib/store/postgresql/pg_copy.cc): every account, suppression,
// daily bucket, bounce record and audit entry, read in key order inside one
// read transaction, and records written as another store holds them.
#include "senderguard/store/lmdb/lmdb_store.h"

#include "lmdb_internal.h"
#include "senderguard/store/codec.h"

namespace senderguard {

using namespace lmdb_internal;

namespace {

// Calls fn(key, value) for every entry of `dbi`, in key order (or the
// reverse); stops at fn's first error.
Status Walk(MDB_txn* txn, MDB_dbi dbi, const char* what,
            const std::function<Status(std::string_view, std::string_view)>& fn) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != 0) return LmdbError("cursor", rc);
  MDB_val k, v;
  Status st;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    st = fn(View(k), View(v));
    if (!st.ok()) break;
  }
  mdb_cursor_close(cur);
  if (!st.ok()) return st;
  if (rc != MDB_NOTFOUND) return LmdbError(what, rc);
  return Status::Ok();
}

void Count(size_t* n) {
  if (n != nullptr) ++*n;
}

}  // namespace

Status LmdbStore::ForEachAccount(const std::function<Status(const AccountRecord&)>& fn,
                                 size_t* corrupt) {
  return Read([&](MDB_txn* txn) {
    return Walk(txn, dbi_.accounts, "list accounts", [&](std::string_view k, std::string_view v) {
      AccountRecord a;
      if (!Decode(v, "accounts", &a).ok()) {
        Count(corrupt);
        return Status::Ok();
      }
      a.name.assign(k);  // the key is the name the store answers to
      return fn(a);
    });
  });
}

Status LmdbStore::ForEachSuppression(const std::function<Status(const SuppressionRecord&)>& fn,
                                     size_t* corrupt) {
  return Read([&](MDB_txn* txn) {
    return Walk(txn, dbi_.suppression, "list suppression",
                [&](std::string_view k, std::string_view v) {
                  SuppressionRecord r;
                  const size_t nul = k.find('\0');
                  if (nul == std::string_view::npos || !Decode(v, "suppression", &r).ok()) {
                    Count(corrupt);
                    return Status::Ok();
                  }
                  r.account.assign(k.substr(0, nul));
                  r.address.assign(k.substr(nul + 1));
                  return fn(r);
                });
  });
}

Status LmdbStore::ForEachDays(
    const std::function<Status(std::string_view, int64_t, const DayCountsRecord&)>& fn,
    size_t* corrupt) {
  return Read([&](MDB_txn* txn) {
    return Walk(txn, dbi_.days, "list days", [&](std::string_view k, std::string_view v) {
      DayCountsRecord d;
      // account, NUL, 8-byte day: the account is all before the last 9 bytes.
      if (k.size() < 9 || k[k.size() - 9] != '\0' || !Decode(v, "days", &d).ok()) {
        Count(corrupt);
        return Status::Ok();
      }
      const int64_t day = static_cast<int64_t>(GetBe64(k.substr(k.size() - 8)));
      return fn(k.substr(0, k.size() - 9), day, d);
    });
  });
}

Status LmdbStore::ForEachBounce(const std::function<Status(const BounceRecord&)>& fn,
                                size_t* corrupt) {
  return Read([&](MDB_txn* txn) {
    return Walk(txn, dbi_.bounces, "list bounces", [&](std::string_view k, std::string_view v) {
      BounceRecord b;
      if (!Decode(v, "bounces", &b).ok()) {
        Count(corrupt);
        return Status::Ok();
      }
      b.address.assign(k);
      return fn(b);
    });
  });
}

Status LmdbStore::ForEachAudit(const std::function<Status(const AuditEntry&)>& fn,
                               size_t* corrupt) {
  return Read([&](MDB_txn* txn) {
    return Walk(txn, dbi_.audit, "list audit", [&](std::string_view, std::string_view v) {
      AuditEntry e;
      if (!Decode(v, "audit", &e).ok()) {
        Count(corrupt);
        return Status::Ok();
      }
      return fn(e);
    });
  });
}

Status LmdbStore::Import(const ImportBatch& batch, bool dry_run, ImportCounts* written,
                         ImportCounts* skipped) {
  // Puts `value` under `key` unless it holds that already; counts.
  auto upsert = [dry_run](MDB_txn* txn, MDB_dbi dbi, std::string_view key,
                          const std::string& value, uint64_t* n, uint64_t* skip) {
    if (key.empty() || key.size() > 500) {  // LMDB keys stop at 511 bytes
      ++*skip;
      return Status::Ok();
    }
    bool differs = false;
    Status s = Differs(txn, dbi, key, value, "read", &differs);
    if (!s.ok() || !differs) return s;
    ++*n;
    return dry_run ? Status::Ok() : Put(txn, dbi, key, value, "import");
  };
  auto apply = [&](MDB_txn* txn) {
    *written = ImportCounts{};
    *skipped = ImportCounts{};
    Status s;
    for (const auto& a : batch.accounts) {
      s = upsert(txn, dbi_.accounts, a.name, Encode(a), &written->accounts, &skipped->accounts);
      if (!s.ok()) return s;
    }
    for (const auto& r : batch.suppressions) {
      s = upsert(txn, dbi_.suppression, SuppressionKey(r.account, r.address), Encode(r),
                 &written->suppressions, &skipped->suppressions);
      if (!s.ok()) return s;
    }
    for (const auto& d : batch.days) {
      if (d.day < 0) {  // stored unsigned: from 1970 on
        ++skipped->days;
        continue;
      }
      s = upsert(txn, dbi_.days, DayKey(d.account, d.day), Encode(d.counts), &written->days,
                 &skipped->days);
      if (!s.ok()) return s;
    }
    for (const auto& b : batch.bounces) {
      s = upsert(txn, dbi_.bounces, b.address, Encode(b), &written->bounces, &skipped->bounces);
      if (!s.ok()) return s;
    }
    for (const auto& e : batch.audit) {
      ++written->audit;
      if (dry_run) continue;
      s = PutAudit(txn, e);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  };
  return dry_run ? Read(apply) : Write(apply);
}

}  // namespace senderguard
