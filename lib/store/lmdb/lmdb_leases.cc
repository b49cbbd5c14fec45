// LmdbStore's lease ledger: a fleet node's share of each leased window
// instance (model/lease.h), for the PostgreSQL store's PgLeases. It lives
// beside the holds so that a hold and the lease it spends are read and
// written in one transaction: every process of the node spends one lease,
// exactly.
//
//   leases  counter key -> LeaseEntry (version byte, fixed fields, the
//           pending call's idempotency key)
//   meta    "lease-chore:NAME" -> 8-byte monotonic ms of its last run
#include "senderguard/store/lmdb/lmdb_store.h"

#include <algorithm>
#include <map>

#include "lmdb_internal.h"
#include "senderguard/store/codec.h"

namespace senderguard {

using namespace lmdb_internal;

namespace {

constexpr uint8_t kLeaseVersion = 1;
constexpr size_t kFields = 20;
constexpr size_t kLeaseFixed = 3 + kFields * 8 + 2;  // version, flags, op; integers; key length
constexpr size_t kMaxPendingKey = 200;

std::string EncodeLease(const LeaseEntry& e) {
  std::string out;
  out.reserve(kLeaseFixed + e.pending_key.size());
  out.push_back(static_cast<char>(kLeaseVersion));
  out.push_back(static_cast<char>(e.dead ? 1 : 0));
  out.push_back(static_cast<char>(e.pending));
  for (uint64_t v : {static_cast<uint64_t>(e.lease_id), e.spare, e.unreported, e.excess,
                     static_cast<uint64_t>(e.pending_lease), e.pending_units,
                     static_cast<uint64_t>(e.pending_since_ms), static_cast<uint64_t>(e.deadline_ms),
                     static_cast<uint64_t>(e.last_use_ms), e.limit, static_cast<uint64_t>(e.reset),
                     e.acked, e.others, static_cast<uint64_t>(e.exhausted_until_ms),
                     e.allowance_used, static_cast<uint64_t>(e.rate_since_ms), e.rate_units,
                     e.rate_mups, e.boot, static_cast<uint64_t>(e.take_since_ms)})
    PutBe64(&out, v);
  const std::string_view key = std::string_view(e.pending_key).substr(0, kMaxPendingKey);
  out.push_back(static_cast<char>(key.size() >> 8));
  out.push_back(static_cast<char>(key.size() & 0xff));
  out.append(key);
  return out;
}

Status DecodeLease(std::string_view in, std::string_view key, LeaseEntry* e) {
  auto bad = [&](const std::string& why) {
    std::string account;
    Window w;
    int64_t start = 0;
    std::string name = LmdbStore::ParseLeaseKey(key, &account, &w, &start)
                           ? account + "/" + std::string(WindowName(w)) + "/" +
                                 std::to_string(start)
                           : "?";
    return Status::Corruption("leases/" + name + ": " + why);
  };
  if (in.size() < kLeaseFixed) return bad("record of " + std::to_string(in.size()) + " bytes");
  if (static_cast<uint8_t>(in[0]) != kLeaseVersion)
    return bad("version " + std::to_string(static_cast<uint8_t>(in[0])) + ", this build reads " +
               std::to_string(kLeaseVersion));
  const uint8_t flags = static_cast<uint8_t>(in[1]);
  const uint8_t op = static_cast<uint8_t>(in[2]);
  if (flags > 1) return bad("bad flags");
  if (op > static_cast<uint8_t>(LeaseOp::kReturn)) return bad("bad pending call");
  uint64_t v[kFields];
  for (size_t i = 0; i < kFields; ++i) v[i] = GetBe64(in.substr(3 + 8 * i, 8));
  const size_t klen = static_cast<size_t>(static_cast<uint8_t>(in[3 + kFields * 8])) << 8 |
                      static_cast<uint8_t>(in[3 + kFields * 8 + 1]);
  if (in.size() != kLeaseFixed + klen) return bad("bad key length");
  LeaseEntry out;
  out.dead = flags == 1;
  out.pending = static_cast<LeaseOp>(op);
  out.lease_id = static_cast<int64_t>(v[0]);
  out.spare = v[1];
  out.unreported = v[2];
  out.excess = v[3];
  out.pending_lease = static_cast<int64_t>(v[4]);
  out.pending_units = v[5];
  out.pending_since_ms = static_cast<int64_t>(v[6]);
  out.deadline_ms = static_cast<int64_t>(v[7]);
  out.last_use_ms = static_cast<int64_t>(v[8]);
  out.limit = v[9];
  out.reset = static_cast<int64_t>(v[10]);
  out.acked = v[11];
  out.others = v[12];
  out.exhausted_until_ms = static_cast<int64_t>(v[13]);
  out.allowance_used = v[14];
  out.rate_since_ms = static_cast<int64_t>(v[15]);
  out.rate_units = v[16];
  out.rate_mups = v[17];
  out.boot = v[18];
  out.take_since_ms = static_cast<int64_t>(v[19]);
  out.pending_key = std::string(in.substr(kLeaseFixed, klen));
  if (out.pending != LeaseOp::kNone && out.pending_key.empty()) return bad("pending call without a key");
  *e = std::move(out);
  return Status::Ok();
}

class TxnLedger final : public LmdbStore::LeaseLedger {
 public:
  TxnLedger(MDB_txn* txn, bool writable, MDB_dbi leases, MDB_dbi held, MDB_dbi counters)
      : txn_(txn), writable_(writable), leases_(leases), held_(held), counters_(counters) {}

  Status Get(std::string_view key, std::optional<LeaseEntry>* out) override {
    out->reset();
    MDB_val k = Val(key), v;
    int rc = mdb_get(txn_, leases_, &k, &v);
    if (rc == MDB_NOTFOUND) return Status::Ok();
    if (rc != 0) return LmdbError("read lease", rc);
    LeaseEntry e;
    Status st = DecodeLease(View(v), key, &e);
    if (!st.ok()) return st;
    *out = std::move(e);
    return Status::Ok();
  }
  Status Put(std::string_view key, const LeaseEntry& entry) override {
    if (!writable_) return Status::Invalid("leases: write in a read transaction");
    return lmdb_internal::Put(txn_, leases_, key, EncodeLease(entry), "write lease");
  }
  Status Erase(std::string_view key) override {
    if (!writable_) return Status::Invalid("leases: write in a read transaction");
    return Delete(txn_, leases_, key, "delete lease");
  }
  Status Held(std::string_view key, uint64_t* out) override {
    return GetCounter(txn_, held_, std::string(key), out);
  }
  Status Committed(std::string_view key, uint64_t* out) override {
    return GetCounter(txn_, counters_, std::string(key), out);
  }
  Status Scan(const std::function<bool(std::string_view, const LeaseEntry*)>& fn) override {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn_, leases_, &cur);
    if (rc != 0) return LmdbError("cursor", rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      LeaseEntry e;
      const bool good = DecodeLease(View(v), View(k), &e).ok();
      if (!fn(View(k), good ? &e : nullptr)) break;
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : LmdbError("scan leases", rc);
  }

 private:
  MDB_txn* txn_;
  bool writable_;
  MDB_dbi leases_, held_, counters_;
};

// The counter keys of `charges` (a lease's key is its window's counter key).
std::vector<std::string> KeysOf(std::string_view account, const std::vector<QuotaCharge>& charges) {
  std::vector<std::string> keys;
  keys.reserve(charges.size());
  for (const auto& c : charges) keys.push_back(CounterKey(account, c.window, c.span.start));
  return keys;
}

// The distinct window instances of `charges` (keys: KeysOf), in the order
// first charged.
std::vector<LmdbStore::LeaseSlot> SlotsOf(const std::vector<std::string>& keys,
                                          const std::vector<QuotaCharge>& charges) {
  std::vector<LmdbStore::LeaseSlot> slots;
  std::map<std::string_view, size_t> index;
  for (size_t i = 0; i < charges.size(); ++i) {
    auto [it, fresh] = index.emplace(keys[i], slots.size());
    if (fresh) {
      LmdbStore::LeaseSlot s;
      s.key = keys[i];
      s.first = i;
      slots.push_back(std::move(s));
    }
    slots[it->second].amount += charges[i].amount;
  }
  return slots;
}

Status ReadSlots(LmdbStore::LeaseLedger& ledger, std::vector<LmdbStore::LeaseSlot>* slots) {
  for (auto& s : *slots) {
    s.write = false;
    Status st = ledger.Committed(s.key, &s.committed);
    if (st.ok()) st = ledger.Held(s.key, &s.held);
    if (st.ok()) st = ledger.Get(s.key, &s.entry);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Status WriteSlots(LmdbStore::LeaseLedger& ledger, const std::vector<LmdbStore::LeaseSlot>& slots) {
  for (const auto& s : slots) {
    if (!s.write) continue;
    Status st = s.entry ? ledger.Put(s.key, *s.entry) : ledger.Erase(s.key);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace

std::string LmdbStore::LeaseKey(std::string_view account, Window window, int64_t start) {
  return CounterKey(account, window, start);
}

bool LmdbStore::ParseLeaseKey(std::string_view key, std::string* account, Window* window,
                              int64_t* start) {
  // account, NUL, window byte, 8-byte start: the account may hold NULs, so
  // the fixed tail is read from the end.
  if (key.size() < 10 || key[key.size() - 10] != '\0') return false;
  const uint8_t w = static_cast<uint8_t>(key[key.size() - 9]);
  if (w > static_cast<uint8_t>(Window::kMonth)) return false;
  *account = std::string(key.substr(0, key.size() - 10));
  *window = static_cast<Window>(w);
  *start = static_cast<int64_t>(GetBe64(key.substr(key.size() - 8)));
  return true;
}

Result<bool> LmdbStore::ReserveLeased(
    std::string_view account, const std::vector<QuotaCharge>& charges,
    const std::function<bool(std::vector<LeaseSlot>& slots)>& decide) {
  const std::vector<std::string> keys = KeysOf(account, charges);
  std::vector<LeaseSlot> slots = SlotsOf(keys, charges);
  bool held = false;
  Status st = Write(
      [&](MDB_txn* txn) {
        held = false;
        TxnLedger ledger(txn, true, dbi_.leases, dbi_.held, dbi_.counters);
        Status s = ReadSlots(ledger, &slots);
        if (!s.ok()) return s;
        held = decide(slots);
        s = WriteSlots(ledger, slots);
        if (!s.ok() || !held) return s;
        return AddHolds(txn, keys, charges);
      },
      /*durable=*/false);
  if (!st.ok()) return st;
  return held;
}

Status LmdbStore::CommitLeased(std::string_view account, const std::vector<QuotaCharge>& held,
                               const QueueEntry* queue,
                               const std::function<void(std::vector<LeaseSlot>& slots)>& note) {
  const std::vector<std::string> keys = KeysOf(account, held);
  std::vector<LeaseSlot> slots = SlotsOf(keys, held);
  return Write(
      [&](MDB_txn* txn) {
        // The hold becomes a count and a ledger entry's unreported units in
        // one transaction: every process sees all of it or none.
        Status s = DropHolds(txn, keys, held);
        if (!s.ok()) return s;
        for (size_t i = 0; i < held.size(); ++i) {
          if (held[i].amount == 0) continue;
          s = AddCounter(txn, dbi_.counters, keys[i], held[i].amount, 0, nullptr, "write counter");
          if (!s.ok()) return s;
        }
        TxnLedger ledger(txn, true, dbi_.leases, dbi_.held, dbi_.counters);
        s = ReadSlots(ledger, &slots);
        if (!s.ok()) return s;
        note(slots);
        s = WriteSlots(ledger, slots);
        if (!s.ok()) return s;
        if (queue != nullptr && !queue->queue_id.empty()) return PutQueue(txn, *queue);
        return Status::Ok();
      },
      /*durable=*/true);
}

Status LmdbStore::ReadLeases(const std::function<Status(LeaseLedger& ledger)>& fn) {
  return Read([&](MDB_txn* txn) {
    TxnLedger ledger(txn, false, dbi_.leases, dbi_.held, dbi_.counters);
    return fn(ledger);
  });
}

Status LmdbStore::WriteLeases(const std::function<Status(LeaseLedger& ledger)>& fn) {
  return Write([&](MDB_txn* txn) {
    TxnLedger ledger(txn, true, dbi_.leases, dbi_.held, dbi_.counters);
    return fn(ledger);
  });
}

Status LmdbStore::ClaimChore(std::string_view name, int64_t now_ms, int64_t every_ms, bool* due) {
  const std::string key = "lease-chore:" + std::string(name);
  return Write(
      [&](MDB_txn* txn) {
        *due = false;
        uint64_t last = 0;
        MDB_val k = Val(key), v;
        int rc = mdb_get(txn, dbi_.meta, &k, &v);
        if (rc == 0 && v.mv_size == 8) {
          last = GetBe64(View(v));
        } else if (rc != 0 && rc != MDB_NOTFOUND) {
          return LmdbError("read chore", rc);
        }
        const auto l = static_cast<int64_t>(last);
        if (rc == 0 && l <= now_ms && now_ms - l < every_ms) return Status::Ok();
        *due = true;
        std::string val;
        PutBe64(&val, static_cast<uint64_t>(now_ms));
        return Put(txn, dbi_.meta, key, val, "write chore");
      },
      /*durable=*/false);
}

}  // namespace senderguard
