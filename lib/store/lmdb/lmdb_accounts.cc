// LmdbStore's operations on an account as a whole (store.h DeleteAccount,
// RenameAccount):
// everything kept under its name, found by prefix walks of the databases
// whose keys start with the account's name and a NUL (counters, alerts,
// days, suppression) and its record.
#include "senderguard/store/lmdb/lmdb_store.h"

#include "lmdb_internal.h"
#include <string>
#include <utility>
#include <vector>

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

// The keys and values of `dbi` under `prefix`, copied (nothing of an
// MDB_val outlives the cursor walk).
Status ReadPrefix(MDB_txn* txn, MDB_dbi dbi, const std::string& prefix,
                  std::vector<std::pair<std::string, std::string>>* out, const char* what) {
  out->clear();
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != 0) return LmdbError("cursor", rc);
  MDB_val k = Val(prefix), v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (View(k).substr(0, prefix.size()) != prefix) break;
    out->emplace_back(std::string(View(k)), std::string(View(v)));
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

Result<AccountContents> LmdbStore::RenameAccount(std::string_view from, std::string_view to,
                                                 const MoveAudit& audit) {
  if (from.empty() || to.empty()) return Status::Invalid("the empty account name is no account");
  if (from == to) return Status::Invalid("account " + std::string(from) + ": renamed to itself");
  const std::string old_name(from), new_name(to);
  AccountContents c;
  Status st = Write([&](MDB_txn* txn) {
    Status s = AccountRows(txn, old_name, /*erase=*/false, &c);
    if (!s.ok()) return s;
    if (c.empty()) return Status::NotFound("no such account: " + old_name);
    AccountContents there;
    s = AccountRows(txn, new_name, /*erase=*/false, &there);
    if (!s.ok()) return s;
    if (!there.empty()) return Status::Invalid("account " + new_name + " exists already");
    const std::vector<AuditEntry> entries = audit(c);
    if (c.record) {
      MDB_val k = Val(old_name), v;
      int rc = mdb_get(txn, dbi_.accounts, &k, &v);
      if (rc != 0) return LmdbError("read account", rc);
      AccountRecord a;
      s = Decode(View(v), "accounts/" + old_name, &a);
      if (!s.ok()) return s;
      a.name = new_name;
      s = Put(txn, dbi_.accounts, new_name, Encode(a), "write account");
      if (s.ok()) s = Delete(txn, dbi_.accounts, old_name, "delete account");
      if (!s.ok()) return s;
    }
    const std::string from_prefix = old_name + std::string(1, '\0');
    const std::string to_prefix = new_name + std::string(1, '\0');
    std::vector<std::pair<std::string, std::string>> rows;
    for (MDB_dbi dbi : {dbi_.counters, dbi_.alerts, dbi_.days, dbi_.suppression}) {
      s = ReadPrefix(txn, dbi, from_prefix, &rows, "read account rows");
      if (!s.ok()) return s;
      for (auto& [key, value] : rows) {
        std::string moved = to_prefix + key.substr(from_prefix.size());
        if (dbi == dbi_.suppression) {  // the entry names its account too
          SuppressionRecord r;
          s = Decode(value, "suppression/" + key.substr(from_prefix.size()), &r);
          if (!s.ok()) return s;
          r.account = new_name;
          value = Encode(r);
        }
        s = Delete(txn, dbi, key, "delete account row");
        if (s.ok()) s = Put(txn, dbi, moved, value, "write account row");
        if (!s.ok()) return s;
      }
    }
    for (const auto& e : entries) {
      s = PutAudit(txn, e);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return c;
}

}  // namespace senderguard
