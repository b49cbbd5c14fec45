// LmdbStore's housekeeping: the periodic deletion of aged-out records
// (LmdbOptions::housekeeping), run by the writer thread as an ordinary
// group-committed write.
#include "senderguard/store/lmdb/lmdb_store.h"

#include <algorithm>
#include <ctime>

#include "lmdb_internal.h"
#include "senderguard/store/codec.h"

namespace senderguard {

using namespace lmdb_internal;

namespace {

constexpr size_t kMaxPurgePerPass = 20000;
constexpr int64_t kDayRetention = 90;  // days of daily counts kept
constexpr int64_t kBounceRetention = 90 * 86400;

// How long a window instance's counter and alerts are kept after it starts.
int64_t RetentionAfterStart(uint8_t window) {
  switch (static_cast<Window>(window)) {
    case Window::kMinute: return 2 * 3600;
    case Window::kHour: return 2 * 86400;
    case Window::kDay: return 40 * 86400;
    case Window::kMonth: return 400 * 86400;
  }
  return 400 * 86400;
}

}  // namespace

void LmdbStore::RunHousekeeping() {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  size_t deleted = 0;
  bool more = false;
  Status st = Write([&](MDB_txn* txn) {
    deleted = 0;
    more = false;
    return Purge(txn, now, &deleted, &more);
  });
  if (!st.ok()) {
    Log(Logger::Level::kError, "store=lmdb action=housekeeping error=" + KvEscape(st.message()));
  } else if (deleted > 0) {
    Log(Logger::Level::kInfo, "store=lmdb action=housekeeping deleted=" + std::to_string(deleted) +
                                  (more ? " more=yes" : ""));
  }
}

Status LmdbStore::Purge(MDB_txn* txn, int64_t now, size_t* deleted, bool* more) {
  // Counter keys end in window byte + 8-byte start; alert keys add a pct byte.
  struct Scan { MDB_dbi dbi; size_t tail; };
  for (const Scan& s : {Scan{dbi_.counters, 9}, Scan{dbi_.alerts, 10}}) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, s.dbi, &cur);
    if (rc != 0) return LmdbError("cursor", rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      const std::string_view key = View(k);
      if (key.size() < s.tail) continue;
      const std::string_view t = key.substr(key.size() - s.tail);
      const int64_t start = static_cast<int64_t>(GetBe64(t.substr(1, 8)));
      if (start + RetentionAfterStart(static_cast<uint8_t>(t[0])) >= now) continue;
      rc = mdb_cursor_del(cur, 0);
      if (rc != 0) break;
      if (++*deleted >= kMaxPurgePerPass) {
        *more = true;
        break;
      }
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("purge", rc);
    if (*more) return Status::Ok();
  }
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi_.queue, &cur);
  if (rc != 0) return LmdbError("cursor", rc);
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    QueueEntry q;
    // A corrupt entry is of no use to anyone: purge it too.
    const bool corrupt = !Decode(View(v), "queue", &q).ok();
    if (!corrupt && std::max(q.time, q.last_event) + options_.queue_retention_s >= now) continue;
    if (!corrupt && !q.message_id.empty()) {
      const std::string msgid_key = MsgIdKey(q.message_id, q.queue_id);
      MDB_val mk = Val(msgid_key);  // not Val(MsgIdKey(...)): the temporary dies first
      int drc = mdb_del(txn, dbi_.msgid, &mk, nullptr);
      if (drc != 0 && drc != MDB_NOTFOUND) {
        rc = drc;
        break;
      }
    }
    rc = mdb_cursor_del(cur, 0);
    if (rc != 0) break;
    if (++*deleted >= kMaxPurgePerPass) {
      *more = true;
      break;
    }
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("purge", rc);
  if (*more) return Status::Ok();
  // Daily counts: key ends in the 8-byte day; bounce counts: by last bounce.
  for (MDB_dbi dbi : {dbi_.days, dbi_.bounces}) {
    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0) return LmdbError("cursor", rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      bool old = false;
      if (dbi == dbi_.days) {
        const std::string_view key = View(k);
        if (key.size() < 9) continue;
        const int64_t day = static_cast<int64_t>(GetBe64(key.substr(key.size() - 8)));
        old = day + kDayRetention < now / 86400;
      } else {
        BounceRecord b;
        old = !Decode(View(v), "bounces", &b).ok() || b.last_time + kBounceRetention < now;
      }
      if (!old) continue;
      rc = mdb_cursor_del(cur, 0);
      if (rc != 0) break;
      if (++*deleted >= kMaxPurgePerPass) {
        *more = true;
        break;
      }
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("purge", rc);
    if (*more) break;
  }
  return Status::Ok();
}

}  // namespace senderguard
