// LmdbStore's quota holds: what open SMTP transactions of every process on
// the environment hold, beside the committed counts, so that Reserve is
// exact when two milters (two Postfix instances) share one store.
//
//   held    counter key -> units held, all owners together (8 bytes, BE)
//   holds   owner id (16 bytes) + counter key -> units this owner holds
//   owners  owner id -> pid (8), process start time in clock ticks since
//           boot (8), boot id (the text of /proc/sys/kernel/random/boot_id)
//
// An owner is one LmdbStore (a process, or a test's second store). Its
// holds are given back when it closes; when its process died holding some
// (SIGKILL, a crash), ReclaimDeadOwners gives them back: another boot, no
// process with that pid, or a pid now used by a process started at another
// time. A pid in another PID namespace cannot be checked: processes sharing
// an environment must share a PID namespace (README, Store).
#include "senderguard/store/lmdb/lmdb_store.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "lmdb_internal.h"
#include "senderguard/base/text.h"
#include "senderguard/store/codec.h"

namespace senderguard {

using namespace lmdb_internal;

namespace {

constexpr size_t kOwnerIdSize = 16;

std::string ReadBootId() {
  std::ifstream f("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(f, id);
  return id;
}

// Field 22 of /proc/PID/stat (starttime, clock ticks after boot); nullopt
// when the process does not exist or the file cannot be read. The command
// name (field 2) may hold spaces and ')': fields are counted after the last ')'.
std::optional<uint64_t> ProcessStartTime(int64_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return std::nullopt;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return std::nullopt;
  }
  try {
    return std::stoull(field);
  } catch (...) {
    return std::nullopt;
  }
}

struct OwnerInfo {
  int64_t pid = 0;
  uint64_t start = 0;
  std::string boot_id;
};

bool DecodeOwner(std::string_view v, OwnerInfo* o) {
  if (v.size() < 16) return false;
  o->pid = static_cast<int64_t>(GetBe64(v.substr(0, 8)));
  o->start = GetBe64(v.substr(8, 8));
  o->boot_id = std::string(v.substr(16));
  return true;
}

// Alive unless shown dead. kill(pid, 0) fails with EPERM for a live process
// of another user (the CLI as root, the milter as senderguard): alive.
bool OwnerAlive(const OwnerInfo& o, const std::string& boot_id) {
  if (o.boot_id != boot_id) return false;
  if (o.pid <= 0) return false;
  if (::kill(static_cast<pid_t>(o.pid), 0) != 0 && errno == ESRCH) return false;
  const auto start = ProcessStartTime(o.pid);
  return !start.has_value() || *start == o.start;
}

}  // namespace

void LmdbStore::InitOwner() {
  static std::atomic<uint32_t> seq{0};
  const int64_t pid = ::getpid();
  const uint64_t start = ProcessStartTime(pid).value_or(0);
  owner_.clear();
  PutBe64(&owner_, static_cast<uint64_t>(pid));
  PutBe64(&owner_, (start << 16) ^ seq.fetch_add(1));
  owner_record_.clear();
  PutBe64(&owner_record_, static_cast<uint64_t>(pid));
  PutBe64(&owner_record_, start);
  owner_record_ += ReadBootId();
}

Status LmdbStore::AddHolds(MDB_txn* txn, const std::vector<std::string>& keys,
                           const std::vector<QuotaCharge>& charges) {
  MDB_val k = Val(owner_), v;
  int rc = mdb_get(txn, dbi_.owners, &k, &v);
  if (rc == MDB_NOTFOUND) {
    Status st = Put(txn, dbi_.owners, owner_, owner_record_, "write owner");
    if (!st.ok()) return st;
  } else if (rc != 0) {
    return LmdbError("read owner", rc);
  }
  for (size_t i = 0; i < charges.size(); ++i) {
    if (charges[i].amount == 0) continue;
    Status st = AddCounter(txn, dbi_.held, keys[i], charges[i].amount, 0);
    if (!st.ok()) return st;
    st = AddCounter(txn, dbi_.holds, owner_ + keys[i], charges[i].amount, 0);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Status LmdbStore::DropHolds(MDB_txn* txn, const std::vector<std::string>& keys,
                            const std::vector<QuotaCharge>& charges) {
  for (size_t i = 0; i < charges.size(); ++i) {
    if (charges[i].amount == 0) continue;
    // Give back at most what this owner holds, so a double release (or a
    // release after a reclaim) cannot take another process's hold.
    const std::string mine_key = owner_ + keys[i];
    uint64_t mine = 0;
    Status st = GetCounter(txn, dbi_.holds, mine_key, &mine);
    if (!st.ok()) return st;
    const uint64_t give = std::min(mine, charges[i].amount);
    if (give == 0) continue;
    st = AddCounter(txn, dbi_.holds, mine_key, 0, give);
    if (!st.ok()) return st;
    st = AddCounter(txn, dbi_.held, keys[i], 0, give);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Result<ReserveOutcome> LmdbStore::Reserve(std::string_view account,
                                          const std::vector<QuotaCharge>& charges, bool force) {
  if (charges.empty()) return ReserveOutcome{};
  std::vector<std::string> keys;
  keys.reserve(charges.size());
  for (const auto& c : charges) keys.push_back(CounterKey(account, c.window, c.span.start));
  ReserveOutcome out;
  Status st = Write(
      [&](MDB_txn* txn) {
        out = ReserveOutcome{};
        for (size_t i = 0; i < charges.size(); ++i) {
          uint64_t used = 0, held = 0;
          Status s = GetCounter(txn, dbi_.counters, keys[i], &used);
          if (!s.ok()) return s;
          s = GetCounter(txn, dbi_.held, keys[i], &held);
          if (!s.ok()) return s;
          if (!force && !Fits(used, held, charges[i].amount, charges[i].limit)) {
            out = ReserveOutcome{false, i, used, held};
            return Status::Ok();  // nothing written
          }
        }
        return AddHolds(txn, keys, charges);
      },
      /*durable=*/false);
  if (!st.ok()) return st;
  return out;
}

void LmdbStore::Release(std::string_view account, const std::vector<QuotaCharge>& held) {
  std::vector<std::string> keys;
  bool any = false;
  for (const auto& c : held) {
    keys.push_back(CounterKey(account, c.window, c.span.start));
    any = any || c.amount > 0;
  }
  if (!any) return;
  Status st = Write([&](MDB_txn* txn) { return DropHolds(txn, keys, held); }, /*durable=*/false);
  if (!st.ok()) {
    // Left held until this process ends (then reclaimed by another).
    Log(Logger::Level::kError, "store=lmdb action=release error=" + KvEscape(st.message()));
  }
}

Status LmdbStore::ReleaseOwner(MDB_txn* txn, std::string_view owner, uint64_t* units,
                               size_t* holds) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi_.holds, &cur);
  if (rc != 0) return LmdbError("cursor", rc);
  MDB_val k = Val(owner), v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const std::string_view key = View(k);
    if (key.size() < kOwnerIdSize || key.substr(0, kOwnerIdSize) != owner) break;
    const uint64_t amount = v.mv_size == 8 ? GetBe64(View(v)) : 0;
    Status st = AddCounter(txn, dbi_.held, std::string(key.substr(kOwnerIdSize)), 0, amount);
    if (!st.ok()) {
      mdb_cursor_close(cur);
      return st;
    }
    rc = mdb_cursor_del(cur, 0);
    if (rc != 0) break;
    *units += amount;
    ++*holds;
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("release owner", rc);
  MDB_val ok = Val(owner);
  rc = mdb_del(txn, dbi_.owners, &ok, nullptr);
  return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : LmdbError("delete owner", rc);
}

Status LmdbStore::ReclaimDeadOwners(size_t* reclaimed) {
  if (reclaimed != nullptr) *reclaimed = 0;
  const std::string boot_id = ReadBootId();
  std::vector<std::pair<std::string, OwnerInfo>> dead;
  Status st = Read([&](MDB_txn* txn) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbi_.owners, &cur);
    if (rc != 0) return LmdbError("cursor", rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      if (View(k) == owner_) continue;
      OwnerInfo o;
      if (!DecodeOwner(View(v), &o) || !OwnerAlive(o, boot_id)) {
        dead.emplace_back(std::string(View(k)), o);
      }
    }
    mdb_cursor_close(cur);
    return Status::Ok();
  });
  if (!st.ok() || dead.empty()) return st;
  uint64_t units = 0;
  size_t holds = 0;
  st = Write([&](MDB_txn* txn) {
    units = 0;
    holds = 0;
    for (const auto& d : dead) {
      Status s = ReleaseOwner(txn, d.first, &units, &holds);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (reclaimed != nullptr) *reclaimed = dead.size();
  std::string pids;
  for (const auto& d : dead) pids += (pids.empty() ? "" : ",") + std::to_string(d.second.pid);
  Log(Logger::Level::kWarning, "store=lmdb action=reclaim-holds owners=" +
                                   std::to_string(dead.size()) + " pids=" + pids + " holds=" +
                                   std::to_string(holds) + " units=" + std::to_string(units));
  return Status::Ok();
}

}  // namespace senderguard
