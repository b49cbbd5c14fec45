#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "cli.h"
#include "senderguard/base/clock.h"
#include "senderguard/decide/identity.h"
#include "senderguard/decide/quota.h"
#include "senderguard/store/open.h"

namespace senderguard::cli {

const Config& Env::config() {
  if (!config_) {
    const std::string path = ConfigPath(config_flag);
    auto cfg = LoadConfig(path);
    if (!cfg.ok()) throw Failure{kExitConfig, cfg.status().message()};
    config_ = *cfg;
  }
  return *config_;
}

namespace {

// [store] path must be a directory (LMDB keeps data.mdb and lock.mdb in it,
// the PostgreSQL backend its node's cache): a file there, often data.mdb
// itself, is named with what to do, not left to read "nothing has been
// recorded there" or LMDB's "Not a directory". Throws Failure{kExitStore}.
void CheckStoreDirectory(const Config& c) {
  const std::string& path = c.store_path;
  const std::string where = "[store] path \"" + path + "\" (" + c.source + ")";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOTDIR) {
      throw Failure{kExitStore, where + ": a part of it is a file, not a directory; set [store] path to the "
                                        "store's directory"};
    }
    return;  // missing: a reader says so, a writer creates it
  }
  if (S_ISDIR(st.st_mode)) return;
  const size_t slash = path.rfind('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string what = where + " is a file, not a directory: the store is a directory holding data.mdb and lock.mdb";
  if (base == "data.mdb" || base == "lock.mdb") {
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    what += "; this is one of its files: set path = \"" + dir + "\"";
  } else {
    what += "; set [store] path to the store's directory (or move this file away)";
  }
  throw Failure{kExitStore, what};
}

}  // namespace

Store& Env::store() {
  if (!store_) {
    const Config& c = config();
    CheckStoreDirectory(c);
    StoreUse use;
    use.durable = true;  // the CLI's few writes are durable at once
    use.program = "senderguardctl";
    auto s = OpenStore(c, use);
    // kInvalid: PostgreSQL refused this configuration's login, the store is
    // another node's, or the database is newer than this build.
    if (!s.ok()) throw Failure{s.status().code() == Status::Code::kInvalid ? kExitConfig : kExitStore, s.status().message()};
    store_ = std::move(*s);
  }
  return *store_;
}

Store& Env::existing_store() {
  if (!store_) CheckStoreDirectory(config());
  if (!store_ && !StoreExists(config())) {
    throw Failure{kExitStore, "no store at " + config().store_path + " (the configuration's [store] path, " +
                                  config().source + "): nothing has been recorded there"};
  }
  return store();
}

std::string Env::Actor() const {
  std::string name;
  if (struct passwd* pw = getpwuid(getuid())) name = pw->pw_name;
  else name = "uid " + std::to_string(getuid());
  if (const char* sudo = std::getenv("SUDO_USER"); sudo != nullptr && *sudo != '\0') {
    name += std::string(" (sudo ") + sudo + ")";
  }
  return name;
}

AuditEntry Env::Audit(std::string action, std::string account, std::string detail) const {
  AuditEntry e;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  e.time_us = static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  e.actor = Actor();
  e.action = std::move(action);
  e.account = std::move(account);
  e.detail = std::move(detail);
  return e;
}

std::string Env::Account(const std::string& raw) const {
  auto n = NormalizeAccount(raw);
  if (!n) throw Failure{kExitUsage, "empty account name"};
  // The milter keeps a longer login as its first bytes, "+" and a hash; a
  // name typed here is the one list shows, never longer.
  if (raw.size() > kMaxAccountName) {
    throw Failure{kExitUsage, "account name too long (" + std::to_string(raw.size()) + " bytes, at most " +
                                  std::to_string(kMaxAccountName) + "): give the name as list shows it"};
  }
  return *n;
}

namespace {

// At most 60 bytes of a user's argument, for a message (main escapes it).
std::string Quoted(std::string_view raw) {
  return "\"" + std::string(raw.substr(0, 60)) + (raw.size() > 60 ? "...\"" : "\"");
}

}  // namespace

std::string Env::Address(const std::string& raw) const {
  std::string why;
  auto n = NormalizeAddress(raw, &why);
  if (!n) throw Failure{kExitUsage, "invalid address " + Quoted(raw) + ": " + why};
  return *n;
}

int64_t Env::Now() const { return UnixNow(); }

bool Env::ChangeAccount(const std::string& name, int create_arg, const AccountEdit& edit, const AuditEntry& audit) {
  const bool create = create_arg == 1;
  const std::string hint = create_arg == kNoCreateOption ? "" : "; give --create to make its record";
  if (!store_) CheckStoreDirectory(config());
  if (!create && !store_ && !StoreExists(config())) {
    throw Failure{kExitNotFound, "no such account: " + name + " (there is no store at " + config().store_path +
                                     " yet)" + hint};
  }
  // An edit that changes nothing aborts the transaction with an error of
  // its own, told apart by `unchanged` (set by the last run of the change),
  // not by its message; kInvalid, which no backend retries.
  bool unchanged = false;
  const Status st = store().UpdateAccount(
      name,
      [&](AccountRecord* a, bool exists) {
        unchanged = false;
        if (!exists && !create) return Status::NotFound("no such account: " + name + hint);
        bool changed = false;
        Status e = edit(a, &changed);
        if (!e.ok()) return e;
        if (changed) return Status::Ok();
        unchanged = true;
        return Status::Invalid("unchanged");
      },
      audit);
  if (!st.ok() && unchanged) return false;
  Check(st);
  return true;
}

void Env::AddCreateFlag(CLI::App* cmd, bool& create) {
  cmd->add_flag("--create", create, "make the account's record if it has none (else: no such account)");
}

std::string Env::HumanTime(int64_t t) { return FormatLocal(t, config().tz); }

void Check(const Status& s) {
  if (s.ok()) return;
  if (s.code() == Status::Code::kNotFound) throw Failure{kExitNotFound, s.message()};
  if (s.code() == Status::Code::kInvalid) throw Failure{kExitUsage, s.message()};
  throw Failure{kExitStore, s.message()};
}

// Stored texts can hold bytes that are not UTF-8 (bounce texts, reasons):
// replace them rather than fail.
void PrintJson(const nlohmann::json& j) {
  std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace senderguard::cli
