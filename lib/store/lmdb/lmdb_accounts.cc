// LmdbStore's operations on an account as a whole (store.h DeleteAccount):
// everything kept under its name, found by prefix walks of the databases
// whose keys start with the account's name and a NUL (counters, alerts,
// days, suppression) and its record.
#include "senderguard/store/lmdb/lmdb_store.h"

#include "lmdb_internal.h"
#include "senderguard/store/codec.h"

namespace senderguard {

using namespace lmdb_internal;

namespace {

// Counts the keys of `dbi` that start with `prefix` and, with `erase`,
// deletes them. Returns the count in *n.
Status WalkPrefix(MDB_txn* txn, MDB_dbi dbi, const std::string& prefix, bool erase, uint64_t* n,
                  const char* what) {
  *n = 0;
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != 0) return LmdbError("cursor", rc);
  MDB_val k = Val(prefix), v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (View(k).substr(0, prefix.size()) != prefix) break;
    ++*n;
    // After a delete the cursor stands on the next key: MDB_NEXT reads it.
    if (erase && (rc = mdb_cursor_del(cur, 0)) != 0) break;
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(what, rc);
  return Status::Ok();
}

}  // namespace

Status LmdbStore::AccountRows(MDB_txn* txn, const std::string& name, bool erase,
                              AccountContents* out) {
  *out = AccountContents{};
  MDB_val k = Val(name), v;
  int rc = mdb_get(txn, dbi_.accounts, &k, &v);
  if (rc == 0) {
    AccountRecord a;
    Status d = Decode(View(v), "accounts/" + name, &a);
    // A record that does not decode is still the account's: counted, and
    // deleted with the rest (its domains unknown).
    out->record = true;
    if (d.ok()) out->domains = a.domains.size();
    if (erase) {
      Status s = Delete(txn, dbi_.accounts, name, "delete account");
      if (!s.ok()) return s;
    }
  } else if (rc != MDB_NOTFOUND) {
    return LmdbError("read account", rc);
  }
  const std::string prefix = name + std::string(1, '\0');
  uint64_t alerts = 0;
  Status s = WalkPrefix(txn, dbi_.counters, prefix, erase, &out->windows, "account counters");
  if (s.ok()) s = WalkPrefix(txn, dbi_.alerts, prefix, erase, &alerts, "account alerts");
  if (s.ok()) s = WalkPrefix(txn, dbi_.days, prefix, erase, &out->days, "account days");
  if (s.ok())
    s = WalkPrefix(txn, dbi_.suppression, prefix, erase, &out->suppressions, "account suppression");
  return s;
}

Result<AccountContents> LmdbStore::DeleteAccount(std::string_view name,
                                                 const ContentsAudit& audit) {
  if (name.empty()) return Status::Invalid("the empty account name is no account");
  const std::string key(name);
  AccountContents c;
  Status st = Write([&](MDB_txn* txn) {
    Status s = AccountRows(txn, key, /*erase=*/false, &c);
    if (!s.ok() || c.empty()) return s;
    const AuditEntry entry = audit(c);
    s = AccountRows(txn, key, /*erase=*/true, &c);
    if (!s.ok()) return s;
    return PutAudit(txn, entry);
  });
  if (!st.ok()) return st;
  return c;
}

}  // namespace senderguard
