#include "senderguard/store/lmdb/lmdb_store.h"
#include "senderguard/store/codec.h"


#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <future>
#include <map>
#include <unordered_set>
#include <algorithm>

namespace senderguard {
namespace {

constexpr size_t kMaxBatch = 512;
constexpr uint64_t kMaxMapSize = 1ull << 40;  // 1 TiB
constexpr auto kReaderCheckEvery = std::chrono::seconds(60);
constexpr auto kHousekeepingEvery = std::chrono::minutes(10);
constexpr size_t kMaxPurgePerPass = 20000;

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
constexpr char kSchemaKey[] = "schema_version";

MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

Status LmdbError(const char* what, int rc) {
  if (rc == MDB_MAP_FULL) return Status::Full(std::string(what) + ": store map full");
  return Status::Io(std::string(what) + ": " + mdb_strerror(rc));
}

std::string CounterKey(std::string_view account, Window w, int64_t start) {
  std::string k(account);
  k.push_back('\0');
  k.push_back(static_cast<char>(w));
  PutBe64(&k, static_cast<uint64_t>(start));
  return k;
}

constexpr int64_t kDayRetention = 90;  // days of daily counts kept
const std::string kNoAccount;
constexpr int64_t kBounceRetention = 90 * 86400;

std::string DayKey(std::string_view account, int64_t day) {
  std::string k(account);
  k.push_back('\0');
  PutBe64(&k, static_cast<uint64_t>(day));
  return k;
}

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

std::string MsgIdKey(std::string_view message_id, std::string_view queue_id) {
  std::string k(message_id.substr(0, 400));  // LMDB keys are at most 511 bytes
  k.push_back('\0');
  k.append(queue_id.substr(0, 100));
  return k;
}

void AddCounts(DayCountsRecord* to, const DayCountsRecord& d) {
  auto add = [](uint64_t* a, uint64_t b) { *a = (*a > UINT64_MAX - b) ? UINT64_MAX : *a + b; };
  add(&to->delivered, d.delivered);
  add(&to->deferred, d.deferred);
  add(&to->hard, d.hard);
  add(&to->soft, d.soft);
  add(&to->technical, d.technical);
  add(&to->expired, d.expired);
  add(&to->complaints, d.complaints);
}

std::string SuppressionKey(std::string_view account, std::string_view address) {
  std::string k(account);
  k.push_back('\0');
  k.append(address);
  return k;
}

// Reads an 8-byte counter; a value of any other size is corruption.
Status GetCounter(MDB_txn* txn, MDB_dbi dbi, const std::string& key, uint64_t* out) {
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

Status Put(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value,
           const char* what) {
  MDB_val k = Val(key), v = Val(value);
  int rc = mdb_put(txn, dbi, &k, &v, 0);
  return rc == 0 ? Status::Ok() : LmdbError(what, rc);
}

}  // namespace

struct LmdbStore::Job {
  std::function<Status(MDB_txn*)> apply;
  std::function<void()> after_commit;
  std::promise<Status> done;
  Status status;
};

LmdbStore::LmdbStore(LmdbOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<LmdbStore>> LmdbStore::Open(const LmdbOptions& options) {
  std::unique_ptr<LmdbStore> s(new LmdbStore(options));
  Status st = s->OpenEnv();
  if (!st.ok()) return st;
  s->writer_ = std::thread([p = s.get()] { p->WriterLoop(); });
  return s;
}

Status LmdbStore::OpenEnv() {
  std::error_code ec;
  std::filesystem::create_directories(options_.path, ec);
  if (ec) return Status::Io("store " + options_.path + ": " + ec.message());
  ::chmod(options_.path.c_str(), 0750);
  int rc = mdb_env_create(&env_);
  if (rc != 0) return LmdbError("mdb_env_create", rc);
  mdb_env_set_maxdbs(env_, 16);  // 14 named databases (Dbis), 2 to spare
  mdb_env_set_maxreaders(env_, 1024);
  mdb_env_set_mapsize(env_, options_.map_size_bytes);
  unsigned flags = MDB_NOTLS;
  if (options_.sync_interval_ms > 0) flags |= MDB_NOSYNC;
  rc = mdb_env_open(env_, options_.path.c_str(), flags, 0640);
  if (rc != 0) {
    Status st = Status::Io("store " + options_.path + ": " + mdb_strerror(rc));
    mdb_env_close(env_);
    env_ = nullptr;
    return st;
  }
  int dead = 0;
  mdb_reader_check(env_, &dead);
  if (dead > 0) Log(Logger::Level::kInfo, "store=lmdb action=reader-check cleared=" + std::to_string(dead));

  // Create the databases and check the schema in one write transaction.
  for (int attempt = 0; attempt < 2; ++attempt) {
    MDB_txn* txn = nullptr;
    rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
      mdb_env_set_mapsize(env_, 0);
      continue;
    }
    if (rc != 0) return LmdbError("begin", rc);
    struct { const char* name; MDB_dbi* dbi; } dbs[] = {
        {"accounts", &dbi_.accounts}, {"counters", &dbi_.counters}, {"alerts", &dbi_.alerts},
        {"suppression", &dbi_.suppression}, {"audit", &dbi_.audit}, {"queue", &dbi_.queue},
        {"meta", &dbi_.meta}, {"days", &dbi_.days}, {"bounces", &dbi_.bounces},
        {"msgid", &dbi_.msgid}, {"positions", &dbi_.positions}, {"once", &dbi_.once},
        {"once_time", &dbi_.once_time}, {"deferred", &dbi_.deferred}};
    for (auto& d : dbs) {
      rc = mdb_dbi_open(txn, d.name, MDB_CREATE, d.dbi);
      if (rc != 0) {
        mdb_txn_abort(txn);
        return LmdbError(d.name, rc);
      }
    }
    MDB_val k = Val(kSchemaKey), v;
    rc = mdb_get(txn, dbi_.meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
      std::string ver;
      PutBe64(&ver, kSchemaVersion);
      Status st = Put(txn, dbi_.meta, kSchemaKey, ver, "schema");
      if (!st.ok()) {
        mdb_txn_abort(txn);
        return st;
      }
    } else if (rc != 0) {
      mdb_txn_abort(txn);
      return LmdbError("schema", rc);
    } else if (v.mv_size != 8) {
      mdb_txn_abort(txn);
      return Status::Corruption("store " + options_.path + ": bad schema record");
    } else if (uint64_t have = GetBe64(View(v)); have != kSchemaVersion) {
      mdb_txn_abort(txn);
      return Status::Invalid("store " + options_.path + ": schema version " + std::to_string(have) +
                             ", this build reads " + std::to_string(kSchemaVersion));
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return LmdbError("commit", rc);
    return Status::Ok();
  }
  return Status::Io("store " + options_.path + ": could not adopt map size");
}

LmdbStore::~LmdbStore() {
  {
    std::lock_guard<std::mutex> lk(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (env_ != nullptr) {
    mdb_env_sync(env_, 1);
    mdb_env_close(env_);
  }
}

void LmdbStore::Log(Logger::Level level, const std::string& line) {
  if (options_.logger != nullptr) options_.logger->Log(level, line);
}

void LmdbStore::Flush() { mdb_env_sync(env_, 1); }

uint64_t LmdbStore::MapSize() {
  std::shared_lock lk(env_mu_);
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

void LmdbStore::AdoptMapSize() {
  std::unique_lock lk(env_mu_);
  int rc = mdb_env_set_mapsize(env_, 0);
  if (rc != 0) Log(Logger::Level::kError, std::string("store=lmdb action=adopt-map-size error=\"") + mdb_strerror(rc) + "\"");
}

Status LmdbStore::Grow() {
  std::unique_lock lk(env_mu_);
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  uint64_t next = std::max<uint64_t>(info.me_mapsize * 2, 1ull << 20);
  if (next > kMaxMapSize) return Status::Full("store map at its limit");
  int rc = mdb_env_set_mapsize(env_, next);
  if (rc != 0) return LmdbError("grow map", rc);
  Log(Logger::Level::kWarning, "store=lmdb action=grow-map from=" + std::to_string(info.me_mapsize) +
                                   " to=" + std::to_string(next));
  return Status::Ok();
}

Status LmdbStore::Read(const std::function<Status(MDB_txn*)>& fn, size_t* txn_id) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::shared_lock lk(env_mu_);
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc == MDB_MAP_RESIZED) {
      lk.unlock();
      AdoptMapSize();
      continue;
    }
    if (rc == MDB_READERS_FULL) {
      int dead = 0;
      mdb_reader_check(env_, &dead);
      continue;
    }
    if (rc != 0) return LmdbError("begin read", rc);
    if (txn_id != nullptr) *txn_id = mdb_txn_id(txn);
    Status st = fn(txn);
    mdb_txn_abort(txn);
    return st;
  }
  return Status::Unavailable("store: could not begin a read transaction");
}

Status LmdbStore::Write(std::function<Status(MDB_txn*)> apply, std::function<void()> after_commit) {
  Job job;
  job.apply = std::move(apply);
  job.after_commit = std::move(after_commit);
  std::future<Status> f = job.done.get_future();
  std::unique_lock<std::mutex> lk(queue_mu_);
  if (stopping_) return Status::Unavailable("store is closing");
  queue_.push_back(&job);
  if (!leader_active_) {
    // No batch is being written: this caller writes the queue itself (no
    // hand-off to another thread), taking along whatever others queued
    // meanwhile. It stops after the batch that held its own job and leaves
    // any rest to the writer thread, so no caller waits on others for long.
    WriteQueued(lk, &job);
    if (!queue_.empty()) queue_cv_.notify_one();
  }
  lk.unlock();
  return f.get();
}

void LmdbStore::WriteQueued(std::unique_lock<std::mutex>& lk, const Job* until) {
  leader_active_ = true;
  bool done = false;
  std::vector<Job*> batch;
  while (!queue_.empty() && !done) {
    batch.clear();
    while (!queue_.empty() && batch.size() < kMaxBatch) {
      if (queue_.front() == until) done = true;
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    lk.unlock();
    RunBatch(batch);
    lk.lock();
  }
  leader_active_ = false;
  wrote_ = true;
}

void LmdbStore::WriterLoop() {
  auto next_reader_check = std::chrono::steady_clock::now() + kReaderCheckEvery;
  auto next_housekeeping = options_.housekeeping
                               ? std::chrono::steady_clock::now() + std::chrono::seconds(30)
                               : std::chrono::steady_clock::time_point::max();
  const auto sync_every = std::chrono::milliseconds(
      options_.sync_interval_ms > 0 ? options_.sync_interval_ms : 1000);
  auto next_sync = std::chrono::steady_clock::now() + sync_every;
  for (;;) {
    bool synced_needed = false;
    {
      std::unique_lock<std::mutex> lk(queue_mu_);
      auto wake = std::min({next_reader_check, next_sync, next_housekeeping});
      queue_cv_.wait_until(lk, wake, [&] { return stopping_ || (!queue_.empty() && !leader_active_); });
      // Jobs left by a leader (or queued while stopping): write them here.
      if (!queue_.empty() && !leader_active_) WriteQueued(lk, nullptr);
      if (stopping_ && queue_.empty() && !leader_active_) return;
      synced_needed = wrote_;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_sync) {
      if (synced_needed && options_.sync_interval_ms > 0) {
        {
          std::lock_guard<std::mutex> lk(queue_mu_);
          wrote_ = false;
        }
        mdb_env_sync(env_, 1);
      }
      next_sync = now + sync_every;
    }
    if (now >= next_reader_check) {
      (void)Maintain();
      next_reader_check = now + kReaderCheckEvery;
    }
    if (now >= next_housekeeping) {
      RunHousekeeping();
      next_housekeeping = now + kHousekeepingEvery;
    }
  }
}

void LmdbStore::RunBatch(std::vector<Job*>& batch) {
  Status batch_status;
  bool settled = false;
  for (int attempt = 0; attempt < 40 && !settled; ++attempt) {
    bool grow = false, resized = false;
    batch_status = Status::Ok();
    {
      std::shared_lock lk(env_mu_);
      MDB_txn* txn = nullptr;
      int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
      if (rc == MDB_MAP_RESIZED) {
        resized = true;
      } else if (rc != 0) {
        batch_status = LmdbError("begin write", rc);
      } else {
        for (Job* j : batch) {
          MDB_txn* child = nullptr;
          rc = mdb_txn_begin(env_, txn, 0, &child);
          if (rc != 0) {
            j->status = LmdbError("begin nested", rc);
            if (rc == MDB_MAP_FULL) grow = true;
            continue;
          }
          j->status = j->apply(child);
          if (j->status.ok()) {
            rc = mdb_txn_commit(child);
            if (rc != 0) j->status = LmdbError("commit nested", rc);
          } else {
            mdb_txn_abort(child);
          }
          if (j->status.code() == Status::Code::kFull) grow = true;
          if (grow) break;
        }
        if (grow) {
          mdb_txn_abort(txn);
        } else {
          std::lock_guard<std::mutex> lg(ledger_mu_);
          rc = mdb_txn_commit(txn);
          if (rc == 0) {
            for (Job* j : batch) {
              if (j->status.ok() && j->after_commit) j->after_commit();
            }
            // The id of the newest committed transaction. Not mdb_txn_id(txn):
            // a transaction that wrote nothing commits without taking an id,
            // and Reserve would then wait for a snapshot that never comes.
            MDB_envinfo info;
            mdb_env_info(env_, &info);
            last_applied_txn_ = info.me_last_txnid;
          } else if (rc == MDB_MAP_FULL) {
            grow = true;
          } else {
            batch_status = LmdbError("commit", rc);
          }
        }
      }
    }
    if (resized) {
      AdoptMapSize();
      continue;
    }
    if (grow) {
      batch_status = Grow();
      if (batch_status.ok()) continue;
    }
    settled = true;
  }
  if (!settled) batch_status = Status::Unavailable("store: write kept failing to find room");
  for (Job* j : batch) j->done.set_value(batch_status.ok() ? j->status : batch_status);
}

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

Status LmdbStore::Maintain() {
  int dead = 0;
  int rc = mdb_reader_check(env_, &dead);
  if (rc != 0) return LmdbError("reader check", rc);
  if (dead > 0) Log(Logger::Level::kInfo, "store=lmdb action=reader-check cleared=" + std::to_string(dead));
  return Status::Ok();
}

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

Status LmdbStore::AddSuppressions(const std::vector<SuppressionRecord>& records,
                                  const AuditEntry& audit) {
  return Write([&](MDB_txn* txn) {
    for (const auto& r : records) {
      Status p = Put(txn, dbi_.suppression, SuppressionKey(r.account, r.address), Encode(r),
                     "write suppression");
      if (!p.ok()) return p;
    }
    return PutAudit(txn, audit);
  });
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

// ---- quotas

Result<ReserveOutcome> LmdbStore::Reserve(std::string_view account,
                                          const std::vector<QuotaCharge>& charges, bool force) {
  if (charges.empty()) return ReserveOutcome{};
  std::vector<std::string> keys;
  keys.reserve(charges.size());
  for (const auto& c : charges) keys.push_back(CounterKey(account, c.window, c.span.start));
  // Read committed counts, then decide under the ledger lock. If one of our
  // commits landed after the snapshot, the ledger no longer counts it as
  // unwritten and the snapshot does not count it either: read again.
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::vector<uint64_t> used(charges.size(), 0);
    size_t snapshot = 0;
    Status st = Read(
        [&](MDB_txn* txn) {
          for (size_t i = 0; i < keys.size(); ++i) {
            Status s = GetCounter(txn, dbi_.counters, keys[i], &used[i]);
            if (!s.ok()) return s;
          }
          return Status::Ok();
        },
        &snapshot);
    if (!st.ok()) return st;
    std::lock_guard<std::mutex> lk(ledger_mu_);
    if (last_applied_txn_ > snapshot) continue;
    for (size_t i = 0; i < charges.size(); ++i) {
      auto it = ledger_.find(keys[i]);
      const uint64_t reserved = it == ledger_.end() ? 0 : it->second.reserved;
      const uint64_t unwritten = it == ledger_.end() ? 0 : it->second.unwritten;
      if (!force && !Fits(used[i] + unwritten, reserved, charges[i].amount, charges[i].limit)) {
        return ReserveOutcome{false, i, used[i] + unwritten, reserved};
      }
    }
    for (size_t i = 0; i < charges.size(); ++i) {
      if (charges[i].amount > 0) ledger_[keys[i]].reserved += charges[i].amount;
    }
    return ReserveOutcome{};
  }
  return Status::Unavailable("store: quota check kept racing with commits");
}

void LmdbStore::Release(std::string_view account, const std::vector<QuotaCharge>& held) {
  std::lock_guard<std::mutex> lk(ledger_mu_);
  for (const auto& c : held) {
    if (c.amount == 0) continue;
    auto it = ledger_.find(CounterKey(account, c.window, c.span.start));
    if (it == ledger_.end()) continue;
    it->second.reserved -= std::min(it->second.reserved, c.amount);
    if (it->second.reserved == 0 && it->second.unwritten == 0) ledger_.erase(it);
  }
}

Result<std::vector<QuotaAlert>> LmdbStore::Commit(std::string_view account,
                                                  const std::vector<QuotaCharge>& held,
                                                  const QueueEntry* queue, int64_t now) {
  std::vector<std::string> keys;
  for (const auto& c : held) keys.push_back(CounterKey(account, c.window, c.span.start));
  // Move the hold from "reserved" to "unwritten" so Reserve keeps counting it
  // while the write is queued; the writer drops "unwritten" as it commits.
  {
    std::lock_guard<std::mutex> lk(ledger_mu_);
    for (size_t i = 0; i < held.size(); ++i) {
      if (held[i].amount == 0) continue;
      auto& e = ledger_[keys[i]];
      e.reserved -= std::min(e.reserved, held[i].amount);
      e.unwritten += held[i].amount;
    }
  }
  auto drop_unwritten = [&] {  // REQUIRES: ledger_mu_ held
    for (size_t i = 0; i < held.size(); ++i) {
      auto it = ledger_.find(keys[i]);
      if (it == ledger_.end()) continue;
      it->second.unwritten -= std::min(it->second.unwritten, held[i].amount);
      if (it->second.reserved == 0 && it->second.unwritten == 0) ledger_.erase(it);
    }
  };
  std::vector<QuotaAlert> alerts;
  const std::string acct(account);
  Status st = Write(
      [&](MDB_txn* txn) {
        alerts.clear();
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
      drop_unwritten);
  if (!st.ok()) {
    std::lock_guard<std::mutex> lk(ledger_mu_);
    drop_unwritten();
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

namespace {
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
  std::map<std::pair<std::string, int64_t>, DayCountsRecord> sums;
  std::map<std::string, uint64_t> complaints;
  int64_t newest_day = std::max<int64_t>(DayNumber(batch.now), 0);
  for (const auto& e : batch.events) {
    const int64_t day = std::max<int64_t>(DayNumber(e.time), 0);
    // Account names are at most 255 bytes (identity.h); anything longer
    // cannot be a key and is counted as unattributed rather than failing
    // the batch (and every retry of it).
    const std::string& account = e.account.size() > 400 ? kNoAccount : e.account;
    AddCounts(&sums[{account, day}], e.delta);
    if (!account.empty()) complaints[account] += e.delta.complaints;
  }
  FeedbackResult result;
  Status st = Write([&](MDB_txn* txn) {
    result = FeedbackResult{};
    if (!batch.once_key.empty()) {
      // First, so a duplicate writes nothing at all.
      Status s = CheckAndRecordOnce(txn, batch.once_key, batch.now, &result.duplicate);
      if (!s.ok() || result.duplicate) return s;
    }
    for (const auto& [key, delta] : sums) {
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
    for (const auto& q : batch.queue_puts) {
      if (q.queue_id.empty() || q.queue_id.size() > 500) continue;
      Status s = PutQueue(txn, q);
      if (!s.ok()) return s;
    }
    for (const auto& d : batch.deferred) {
      if (d.queue_id.empty() || d.queue_id.size() > 500) continue;
      if (d.recipients.empty()) {
        MDB_val mk = Val(d.queue_id);
        int rc = mdb_del(txn, dbi_.deferred, &mk, nullptr);
        if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("delete deferred", rc);
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
    // Hard bounces toward global suppression; complaints suppress per account.
    std::vector<SuppressionRecord> adds;
    for (const auto& e : batch.events) {
      if (!e.hard_recipient.empty() && batch.suppress_after > 0 && e.hard_recipient.size() < 500) {
        MDB_val mk = Val(e.hard_recipient), mv;
        BounceRecord b;
        int rc = mdb_get(txn, dbi_.bounces, &mk, &mv);
        if (rc == 0 && !Decode(View(mv), "bounces", &b).ok()) b = BounceRecord{};
        if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("read bounces", rc);
        b.address = e.hard_recipient;
        b.count = b.count == UINT32_MAX ? b.count : b.count + 1;
        b.last_account = e.account;
        b.last_category = e.category;
        b.last_time = e.time;
        Status s = Put(txn, dbi_.bounces, e.hard_recipient, Encode(b), "write bounces");
        if (!s.ok()) return s;
        if (b.count >= batch.suppress_after) {  // again after a manual removal
          SuppressionRecord r;
          r.address = e.hard_recipient;
          r.reason = std::to_string(b.count) + " hard bounces (" + e.category + "), last for " +
                     (e.account.empty() ? std::string("an unknown account") : e.account);
          r.actor = batch.actor;
          r.since = batch.now;
          adds.push_back(std::move(r));
        }
      }
      if (!e.complainer.empty() && !e.account.empty() && e.complainer.size() < 400) {
        SuppressionRecord r;
        r.account = e.account;
        r.address = e.complainer;
        r.reason = "spam complaint";
        r.actor = batch.actor;
        r.since = batch.now;
        adds.push_back(std::move(r));
      }
    }
    for (const auto& r : adds) {
      const std::string k = SuppressionKey(r.account, r.address);
      MDB_val mk = Val(k), mv;
      int rc = mdb_get(txn, dbi_.suppression, &mk, &mv);
      if (rc == 0) continue;  // already there: keep the first reason
      if (rc != MDB_NOTFOUND) return LmdbError("read suppression", rc);
      Status s = Put(txn, dbi_.suppression, k, Encode(r), "write suppression");
      if (!s.ok()) return s;
      AuditEntry a;
      a.time_us = batch.now * 1000000;
      a.actor = batch.actor;
      a.action = "suppress-add";
      a.account = r.account;
      a.detail = r.address + ": " + r.reason;
      s = PutAudit(txn, a);
      if (!s.ok()) return s;
      result.suppressed.push_back(r);
    }
    // Reviews of every account counted for.
    if (review) {
      std::map<std::string, int64_t> accounts;
      std::unordered_set<std::string_view> only;
      if (batch.review_only) only.insert(batch.review_only->begin(), batch.review_only->end());
      for (const auto& [key, delta] : sums) {
        if (key.first.empty()) continue;
        if (batch.review_only && only.count(key.first) == 0) continue;
        auto& d = accounts[key.first];
        d = std::max({d, key.second, newest_day});
      }
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
        Status s = ReadDays(txn, dbi_.days, name, last_day - std::max(batch.review_days, 1) + 1,
                            last_day, &days);
        if (!s.ok()) return s;
        ReviewOutcome out;
        auto it = complaints.find(name);
        review(&a, days, it == complaints.end() ? 0 : it->second, &out);
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

}  // namespace senderguard
