// Private to store/lmdb: what the files of LmdbStore share (key builders,
// MDB_val conversions, error mapping, small read/write helpers). Not
// installed with the target's headers; nothing outside lib/store/lmdb/
// includes it.
//
// Keys compare with memcmp, so integers in them are big-endian (PutBe64).
#pragma once

#include <lmdb.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "senderguard/base/status.h"
#include "senderguard/model/window.h"
#include "senderguard/store/codec.h"

namespace senderguard::lmdb_internal {

inline MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

inline Status LmdbError(const char* what, int rc) {
  if (rc == MDB_MAP_FULL) return Status::Full(std::string(what) + ": store map full");
  return Status::Io(std::string(what) + ": " + mdb_strerror(rc));
}

// counters: account, NUL, window byte, 8-byte window start. alerts: the
// same, then the pct byte.
inline std::string CounterKey(std::string_view account, Window w, int64_t start) {
  std::string k(account);
  k.push_back('\0');
  k.push_back(static_cast<char>(w));
  PutBe64(&k, static_cast<uint64_t>(start));
  return k;
}

// msgid: the first 400 bytes of the Message-ID, NUL, the queue id; the
// value is empty.
inline std::string MsgIdKey(std::string_view message_id, std::string_view queue_id) {
  std::string k(message_id.substr(0, 400));  // LMDB keys are at most 511 bytes
  k.push_back('\0');
  k.append(queue_id.substr(0, 100));
  return k;
}

// days: account, NUL, 8-byte UTC day number (days from 1970 on only).
inline std::string DayKey(std::string_view account, int64_t day) {
  std::string k(account);
  k.push_back('\0');
  PutBe64(&k, static_cast<uint64_t>(day));
  return k;
}

// suppression: account ("" = global), NUL, address.
inline std::string SuppressionKey(std::string_view account, std::string_view address) {
  std::string k(account);
  k.push_back('\0');
  k.append(address);
  return k;
}

// Reads an 8-byte counter; a value of any other size is corruption.
inline Status GetCounter(MDB_txn* txn, MDB_dbi dbi, const std::string& key, uint64_t* out) {
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) {
    *out = 0;
    return Status::Ok();
  }
  if (rc != 0) return LmdbError("read counter", rc);
  if (v.mv_size != 8) return Status::Corruption("counters: value of " + std::to_string(v.mv_size) + " bytes");
  *out = GetBe64(View(v));
  return Status::Ok();
}

inline Status Put(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value,
                  const char* what) {
  MDB_val k = Val(key), v = Val(value);
  int rc = mdb_put(txn, dbi, &k, &v, 0);
  return rc == 0 ? Status::Ok() : LmdbError(what, rc);
}

// Deletes key; a key that is not there is no error.
inline Status Delete(MDB_txn* txn, MDB_dbi dbi, std::string_view key, const char* what) {
  MDB_val k = Val(key);
  int rc = mdb_del(txn, dbi, &k, nullptr);
  return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : LmdbError(what, rc);
}

// Sets *differs: whether key holds anything but `value` (or nothing).
// `what` names a failed read.
inline Status Differs(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value,
                      const char* what, bool* differs) {
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(what, rc);
  *differs = rc != 0 || View(v) != value;
  return Status::Ok();
}

// Puts key -> value unless it holds that value already (a rewrite of many
// records leaves the pages of unchanged ones alone).
inline Status PutIfChanged(MDB_txn* txn, MDB_dbi dbi, std::string_view key,
                           std::string_view value, const char* what) {
  bool differs = false;
  Status st = Differs(txn, dbi, key, value, what, &differs);
  if (!st.ok() || !differs) return st;
  return Put(txn, dbi, key, value, what);
}

// Adds `add` to an 8-byte counter and takes `sub` off (not below 0); a
// counter that reaches 0 is deleted. Sets *after to the new value.
// `write_what` and `delete_what` name a failed write.
inline Status AddCounter(MDB_txn* txn, MDB_dbi dbi, const std::string& key, uint64_t add,
                         uint64_t sub, uint64_t* after = nullptr,
                         const char* write_what = "write hold",
                         const char* delete_what = "delete hold") {
  uint64_t have = 0;
  Status st = GetCounter(txn, dbi, key, &have);
  if (!st.ok()) return st;
  const uint64_t next = have + add - std::min(have + add, sub);
  if (after != nullptr) *after = next;
  if (next == 0) return Delete(txn, dbi, key, delete_what);
  std::string v;
  PutBe64(&v, next);
  return Put(txn, dbi, key, v, write_what);
}

}  // namespace senderguard::lmdb_internal
