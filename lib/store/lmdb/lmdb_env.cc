// LmdbStore's environment: opening it (databases, schema check), read
// transactions, group-committed writes (the leader and the writer thread),
// map growth and adoption of another process's growth, periodic fsync and
// reader-slot checks.
#include "senderguard/store/lmdb/lmdb_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>

#include "lmdb_internal.h"
#include "senderguard/store/codec.h"

namespace senderguard {

using namespace lmdb_internal;

namespace {

constexpr size_t kMaxBatch = 512;
constexpr uint64_t kMaxMapSize = 1ull << 40;  // 1 TiB
constexpr auto kReaderCheckEvery = std::chrono::seconds(60);
// How often the holds of processes that died are given back (lmdb_holds.cc):
// the bound on how long a killed milter's reservations can block others.
constexpr auto kOwnerCheckEvery = std::chrono::seconds(5);
constexpr auto kHousekeepingEvery = std::chrono::minutes(10);
constexpr char kSchemaKey[] = "schema_version";

}  // namespace

struct LmdbStore::Job {
  std::function<Status(MDB_txn*)> apply;
  bool durable = true;
  std::promise<Status> done;
  Status status;
};

LmdbStore::LmdbStore(LmdbOptions options) : options_(std::move(options)) { InitOwner(); }

Result<std::unique_ptr<LmdbStore>> LmdbStore::Open(const LmdbOptions& options) {
  std::unique_ptr<LmdbStore> s(new LmdbStore(options));
  Status st = s->OpenEnv();
  if (!st.ok()) return st;
  s->writer_ = std::thread([p = s.get()] { p->WriterLoop(); });
  // Holds left by processes that died while nothing else ran on the store.
  st = s->ReclaimDeadOwners();
  if (!st.ok()) return st;
  return s;
}

Status LmdbStore::OpenEnv() {
  std::error_code ec;
  std::filesystem::create_directories(options_.path, ec);
  if (ec) return Status::Io("store " + options_.path + ": " + ec.message());
  ::chmod(options_.path.c_str(), 0750);
  int rc = mdb_env_create(&env_);
  if (rc != 0) return LmdbError("mdb_env_create", rc);
  mdb_env_set_maxdbs(env_, 24);  // 18 named databases (Dbis), 6 to spare
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
  // Root opening a store in a directory that belongs to the service's user
  // (senderguardctl or senderguard-arf run as root before the milter's first
  // start) must not leave root's files there: the milter, as that user, could
  // no longer open them. Give the files to the directory's owner.
  struct stat dir {};
  if (::geteuid() == 0 && ::stat(options_.path.c_str(), &dir) == 0 && dir.st_uid != 0) {
    for (const char* name : {"/data.mdb", "/lock.mdb"}) {
      const std::string file = options_.path + name;
      struct stat st {};
      if (::stat(file.c_str(), &st) == 0 && st.st_uid == 0 &&
          ::chown(file.c_str(), dir.st_uid, dir.st_gid) != 0) {
        Log(Logger::Level::kWarning, "store=lmdb action=chown-failed file=" + file);
      }
    }
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
        {"once_time", &dbi_.once_time}, {"deferred", &dbi_.deferred},
        {"holds", &dbi_.holds}, {"held", &dbi_.held}, {"owners", &dbi_.owners},
        {"leases", &dbi_.leases}};
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
    } else if (uint64_t have = GetBe64(View(v)); have >= 1 && have < kSchemaVersion) {
      // Version 1 had no holds, held or owners, version 2 no leases (each
      // just created, empty), version 3 only version-1 day records (version
      // 2 adds the milter's figures; both are read): the upgrade is the
      // version record. An older build then refuses this store instead of
      // ignoring the holds of the others, spending leases it cannot see, or
      // taking a version-2 day record for a corrupt one and zeroing it. (A
      // build that has the store open already does not look again: stop the
      // tailer before starting a newer milter.)
      std::string ver;
      PutBe64(&ver, kSchemaVersion);
      Status st = Put(txn, dbi_.meta, kSchemaKey, ver, "schema");
      if (!st.ok()) {
        mdb_txn_abort(txn);
        return st;
      }
      Log(Logger::Level::kInfo, "store=lmdb action=upgrade-schema from=" + std::to_string(have) +
                                    " to=" + std::to_string(kSchemaVersion));
    } else if (have != kSchemaVersion) {
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

void LmdbStore::ReleaseHolds() {
  if (env_ == nullptr || !writer_.joinable()) return;
  uint64_t units = 0;
  size_t holds = 0;
  (void)Write([&](MDB_txn* txn) { return ReleaseOwner(txn, owner_, &units, &holds); });
}

LmdbStore::~LmdbStore() {
  // Open transactions end with this store: give back what they still hold.
  ReleaseHolds();
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

Status LmdbStore::Write(std::function<Status(MDB_txn*)> apply, bool durable) {
  Job job;
  job.apply = std::move(apply);
  job.durable = durable;
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
  auto next_owner_check = std::chrono::steady_clock::now() + kOwnerCheckEvery;
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
      auto wake = std::min({next_reader_check, next_owner_check, next_sync, next_housekeeping});
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
    if (now >= next_owner_check) {
      (void)ReclaimDeadOwners();
      next_owner_check = now + kOwnerCheckEvery;
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
          // A batch of holds alone (Reserve, Release) need not reach the
          // disk: holds of a machine that crashed are dropped at the next
          // start (their owners' boot id differs). With sync_interval_ms = 0
          // every other commit is synced, and carries these along.
          const bool skip_sync = options_.sync_interval_ms == 0 &&
                                 std::none_of(batch.begin(), batch.end(),
                                              [](const Job* j) { return j->durable; });
          if (skip_sync) mdb_env_set_flags(env_, MDB_NOSYNC, 1);
          rc = mdb_txn_commit(txn);
          if (skip_sync) mdb_env_set_flags(env_, MDB_NOSYNC, 0);
          if (rc == MDB_MAP_FULL) {
            grow = true;
          } else if (rc != 0) {
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

Status LmdbStore::Maintain() {
  int dead = 0;
  int rc = mdb_reader_check(env_, &dead);
  if (rc != 0) return LmdbError("reader check", rc);
  if (dead > 0) Log(Logger::Level::kInfo, "store=lmdb action=reader-check cleared=" + std::to_string(dead));
  return Status::Ok();
}

}  // namespace senderguard
