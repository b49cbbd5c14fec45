// LmdbStore as a fleet node's cache (PgStore, store/postgresql/pg_cache.cc):
// cached accounts and suppression entries written as PostgreSQL holds them,
// without audit, and the cache's position in meta.
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lmdb_internal.h"
#include "senderguard/base/text.h"
#include "senderguard/store/codec.h"
#include "senderguard/store/lmdb/lmdb_store.h"

namespace senderguard {

using namespace lmdb_internal;

namespace {

constexpr char kCacheSeqKey[] = "pg_cache_seq";
constexpr char kCacheSourceKey[] = "pg_cache_source";
constexpr char kNodeKey[] = "pg_node";
constexpr char kNodeInstanceKey[] = "pg_node_instance";

// 128 random bits as 32 hex digits.
Result<std::string> NewInstanceId() {
  unsigned char b[16];
  size_t got = 0;
  while (got < sizeof b) {
    const ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Io("getrandom: " + std::string(std::strerror(errno)));
    got += static_cast<size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}
constexpr size_t kMaxKey = 511;  // LMDB's default mdb_env_get_maxkeysize

Status CheckKey(std::string_view key, std::string_view what) {
  if (key.empty() || key.size() > kMaxKey) {
    return Status::Invalid("cache: " + std::string(what) + " key of " + std::to_string(key.size()) +
                           " bytes (1.." + std::to_string(kMaxKey) + ")");
  }
  return Status::Ok();
}

// Deletes every key k of dbi with after < k (any k when after is nullopt)
// and k <= upto (no bound when upto is nullopt) that `keep` (sorted) does
// not hold.
Status DeleteRange(MDB_txn* txn, MDB_dbi dbi, const std::optional<std::string>& after,
                   const std::optional<std::string>& upto, const std::vector<std::string>& keep,
                   const char* what) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != 0) return LmdbError("cursor", rc);
  MDB_val k = Val(after ? *after : std::string_view()), v;
  rc = after ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  if (rc == 0 && after && View(k) == *after) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  while (rc == 0) {
    const std::string_view key = View(k);
    if (upto && key > *upto) break;
    if (!std::binary_search(keep.begin(), keep.end(), key)) {
      rc = mdb_cursor_del(cur, 0);
      if (rc != 0) break;
      // After a delete the cursor stands on the next entry; MDB_NEXT
      // returns that one (LMDB's C_DEL), not the one after it.
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : LmdbError(what, rc);
}

// Keys of one chunk, checked to be storable and strictly ascending after
// `after`.
Status SortedKeys(const std::vector<std::string>& keys, const std::optional<std::string>& after,
                  std::string_view what) {
  for (size_t i = 0; i < keys.size(); ++i) {
    Status st = CheckKey(keys[i], what);
    if (!st.ok()) return st;
    const std::string* prev = i > 0 ? &keys[i - 1] : (after ? &*after : nullptr);
    if (prev != nullptr && !(*prev < keys[i])) {
      return Status::Invalid("cache: reload rows of " + std::string(what) +
                             " out of order (bytewise key order expected)");
    }
  }
  return Status::Ok();
}

}  // namespace

Status LmdbStore::CacheApply(const CacheRows& rows, int64_t seq) {
  std::vector<std::string> acct_values, supp_keys, supp_values, gone_supp;
  for (const auto& a : rows.accounts) {
    Status st = CheckKey(a.name, "account");
    if (!st.ok()) return st;
    acct_values.push_back(Encode(a));
  }
  for (const auto& n : rows.gone_accounts) {
    Status st = CheckKey(n, "account");
    if (!st.ok()) return st;
  }
  for (const auto& s : rows.suppressions) {
    supp_keys.push_back(SuppressionKey(s.account, s.address));
    Status st = CheckKey(supp_keys.back(), "suppression");
    if (!st.ok()) return st;
    supp_values.push_back(Encode(s));
  }
  for (const auto& [account, address] : rows.gone_suppressions) {
    gone_supp.push_back(SuppressionKey(account, address));
    Status st = CheckKey(gone_supp.back(), "suppression");
    if (!st.ok()) return st;
  }
  return Write([&](MDB_txn* txn) {
    for (size_t i = 0; i < rows.accounts.size(); ++i) {
      Status st = PutIfChanged(txn, dbi_.accounts, rows.accounts[i].name, acct_values[i],
                               "write cached account");
      if (!st.ok()) return st;
    }
    for (const auto& n : rows.gone_accounts) {
      Status st = Delete(txn, dbi_.accounts, n, "delete cached account");
      if (!st.ok()) return st;
    }
    for (size_t i = 0; i < supp_keys.size(); ++i) {
      Status st = PutIfChanged(txn, dbi_.suppression, supp_keys[i], supp_values[i],
                               "write cached suppression");
      if (!st.ok()) return st;
    }
    for (const auto& k : gone_supp) {
      Status st = Delete(txn, dbi_.suppression, k, "delete cached suppression");
      if (!st.ok()) return st;
    }
    uint64_t have = 0;
    Status st = GetCounter(txn, dbi_.meta, kCacheSeqKey, &have);
    if (!st.ok()) return st;
    if (seq > 0 && static_cast<uint64_t>(seq) > have) {
      std::string val;
      PutBe64(&val, static_cast<uint64_t>(seq));
      return Put(txn, dbi_.meta, kCacheSeqKey, val, "write cache seq");
    }
    return Status::Ok();
  });
}

Status LmdbStore::CacheReplaceAll(const std::function<Result<bool>(CacheRows* chunk)>& next,
                                  int64_t seq, std::string_view source, size_t* accounts,
                                  size_t* suppressions) {
  std::optional<std::string> after_acct, after_supp;  // the last keys written
  bool in_supp = false;  // suppression rows began: every account was given
  size_t n_acct = 0, n_supp = 0;
  for (;;) {
    CacheRows chunk;
    auto more = next(&chunk);
    if (!more.ok()) return more.status();
    if (!chunk.gone_accounts.empty() || !chunk.gone_suppressions.empty())
      return Status::Invalid("cache: a reload names rows, not deletions");
    if (!chunk.accounts.empty() && in_supp)
      return Status::Invalid("cache: reload rows of accounts after suppression entries");
    std::vector<std::string> acct_keys, acct_values, supp_keys, supp_values;
    for (const auto& a : chunk.accounts) {
      acct_keys.push_back(a.name);
      acct_values.push_back(Encode(a));
    }
    for (const auto& s : chunk.suppressions) {
      supp_keys.push_back(SuppressionKey(s.account, s.address));
      supp_values.push_back(Encode(s));
    }
    Status st = SortedKeys(acct_keys, after_acct, "account");
    if (st.ok()) st = SortedKeys(supp_keys, after_supp, "suppression");
    if (!st.ok()) return st;
    const bool last = !more.value();
    const bool accounts_end = last || !supp_keys.empty();  // no account comes after this chunk
    st = Write([&](MDB_txn* txn) {
      if (!acct_keys.empty() || (accounts_end && !in_supp)) {
        std::optional<std::string> upto;
        if (!accounts_end) upto = acct_keys.back();
        Status s = DeleteRange(txn, dbi_.accounts, after_acct, upto, acct_keys,
                               "delete cached accounts");
        if (!s.ok()) return s;
        for (size_t i = 0; i < acct_keys.size(); ++i) {
          s = PutIfChanged(txn, dbi_.accounts, acct_keys[i], acct_values[i],
                           "write cached account");
          if (!s.ok()) return s;
        }
      }
      if (!supp_keys.empty() || last) {
        std::optional<std::string> upto;
        if (!last) upto = supp_keys.back();
        Status s = DeleteRange(txn, dbi_.suppression, after_supp, upto, supp_keys,
                               "delete cached suppression");
        if (!s.ok()) return s;
        for (size_t i = 0; i < supp_keys.size(); ++i) {
          s = PutIfChanged(txn, dbi_.suppression, supp_keys[i], supp_values[i],
                           "write cached suppression");
          if (!s.ok()) return s;
        }
      }
      if (!last) return Status::Ok();
      std::string val;
      PutBe64(&val, static_cast<uint64_t>(std::max<int64_t>(seq, 0)));
      Status s = Put(txn, dbi_.meta, kCacheSeqKey, val, "write cache seq");
      if (!s.ok()) return s;
      return Put(txn, dbi_.meta, kCacheSourceKey, source, "write cache source");
    });
    if (!st.ok()) return st;
    n_acct += acct_keys.size();
    n_supp += supp_keys.size();
    if (!acct_keys.empty()) after_acct = acct_keys.back();
    if (!supp_keys.empty()) after_supp = supp_keys.back();
    if (accounts_end) in_supp = true;
    if (last) break;
  }
  if (accounts != nullptr) *accounts = n_acct;
  if (suppressions != nullptr) *suppressions = n_supp;
  return Status::Ok();
}

Status LmdbStore::ClaimNode(std::string_view node, std::string* instance, bool record) {
  std::string owner, id;
  bool found = false;
  auto look = [&](MDB_txn* txn) {
    found = false;
    id.clear();
    MDB_val ik = Val(kNodeInstanceKey), iv;
    int rc = mdb_get(txn, dbi_.meta, &ik, &iv);
    if (rc == 0) id.assign(View(iv));
    if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("read node instance", rc);
    MDB_val k = Val(kNodeKey), v;
    rc = mdb_get(txn, dbi_.meta, &k, &v);
    if (rc == MDB_NOTFOUND) return Status::Ok();
    if (rc != 0) return LmdbError("read node", rc);
    owner.assign(View(v));
    found = true;
    return Status::Ok();
  };
  Status st = Read(look);  // a write only the first time (and once in a store of before the id)
  if (st.ok() && ((!found && record) || id.empty())) {
    auto fresh = NewInstanceId();
    if (!fresh.ok()) return fresh.status();
    st = Write([&](MDB_txn* txn) {
      Status s = look(txn);
      if (!s.ok()) return s;
      if (!found && record) {
        found = true;
        owner = std::string(node);
        s = Put(txn, dbi_.meta, kNodeKey, node, "write node");
        if (!s.ok()) return s;
      }
      if (!id.empty()) return Status::Ok();
      id = fresh.value();
      return Put(txn, dbi_.meta, kNodeInstanceKey, id, "write node instance");
    });
  }
  if (!st.ok()) return st;
  if (instance != nullptr) *instance = id;
  if (!found) return Status::Ok();  // unnamed, and left so
  if (owner == node) return Status::Ok();
  return Status::Invalid("store " + options_.path + ": it is the cache and ledger of node \"" +
                         Printable(owner, 255) + "\", and this configuration names node \"" +
                         Printable(node, 255) +
                         "\" ([store.postgresql] node): processes that share a [store] path are"
                         " one node; give them the same node name, or each node its own path"
                         " (to rename a node: senderguard.conf(5), node)");
}

Result<LmdbStore::CacheState> LmdbStore::GetCacheState() {
  CacheState out;
  Status st = Read([&](MDB_txn* txn) {
    uint64_t seq = 0;
    Status s = GetCounter(txn, dbi_.meta, kCacheSeqKey, &seq);
    if (!s.ok()) return s;
    out.seq = static_cast<int64_t>(seq);
    MDB_val k = Val(kCacheSourceKey), v;
    int rc = mdb_get(txn, dbi_.meta, &k, &v);
    if (rc == 0) out.source.assign(View(v));
    else if (rc != MDB_NOTFOUND) return LmdbError("read cache source", rc);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace senderguard
