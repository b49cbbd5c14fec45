// store_fill: fills a senderguard LMDB store with many accounts and suppressed
// addresses, and measures on it the store work of the milter's decisions per
// message (bench/run.sh's scale figure, issue 13 item 8).
//
//   store_fill --store DIR --accounts N --suppressed M [--threads T]
//   store_fill --store DIR --measure --accounts N --suppressed M [--messages K]
//
// Fill: N accounts "acct0000001"... with their own quotas (day 5000, hour
// 500, as bench/run.sh's senderguardctl quota set), each through
// Store::UpdateAccount with its audit entry, from T threads (the writer's
// group commit batches them); M suppressed addresses, one in five for an
// account and the rest global, through Store::AddSuppressions in batches of
// 50,000, in key order (the addresses themselves are hashes: random, as real
// ones are).
//
// Measure: K messages of one recipient, with the store calls
// senderguard-milter's Session makes for one (milter/session.cc): GetAccount
// at MAIL FROM; at RCPT FindSuppression and, unless the recipient is
// suppressed, Reserve with the charges the windows give (EffectiveLimits,
// ChargesFor; minute and day defaults as bench/run.sh's configuration); at
// end of message Commit with the queue entry. The account is drawn among the
// N, the recipient is suppressed one time in ten (the message then ends at
// RCPT, as the milter refuses it). Prints the process's CPU time (all
// threads: the store's writer included) and wall time per message, after a
// warm-up of 2,000 messages. Only the store's part: no SMTP, no libmilter.
//
// The store is opened through OpenStore like every program ([store] path,
// the LMDB backend, sync_interval_ms 1000). Deterministic (splitmix64).
//
// SECURITY: a benchmark tool; it writes only the store it is given.
#include <getopt.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "senderguard/config/config.h"
#include "senderguard/decide/quota.h"
#include "senderguard/policy/policy.h"
#include "senderguard/store/open.h"

namespace sg = senderguard;

namespace {

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string AccountName(uint64_t i) {
  char b[32];
  std::snprintf(b, sizeof b, "acct%07" PRIu64, i + 1);
  return b;
}

// The i-th suppressed address (i < M), or an address never suppressed (i >= M).
std::string Address(uint64_t i) {
  char b[64];
  std::snprintf(b, sizeof b, "%016" PRIx64 "@d%" PRIu64 ".test", Mix(i), i % 50000);
  return b;
}

// Suppressed address i belongs to an account's list one time in five.
std::string SuppressionAccount(uint64_t i, uint64_t accounts) {
  return i % 5 == 0 ? AccountName(Mix(i ^ 0x5555) % accounts) : std::string();
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Options {
  std::string store;
  uint64_t accounts = 0;
  uint64_t suppressed = 0;
  uint64_t messages = 20000;
  int threads = 4;
  bool measure = false;
};

void Usage(FILE* f) {
  std::fprintf(f,
               "usage: store_fill --store DIR --accounts N --suppressed M [--threads T]\n"
               "       store_fill --store DIR --measure --accounts N --suppressed M [--messages K]\n");
}

bool ParseCount(const char* s, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-') return false;
  *out = v;
  return true;
}

bool ParseOptions(int argc, char** argv, Options* o) {
  static const option kLong[] = {{"store", required_argument, nullptr, 's'},
                                 {"accounts", required_argument, nullptr, 'a'},
                                 {"suppressed", required_argument, nullptr, 'p'},
                                 {"messages", required_argument, nullptr, 'm'},
                                 {"threads", required_argument, nullptr, 't'},
                                 {"measure", no_argument, nullptr, 'M'},
                                 {"help", no_argument, nullptr, 'h'},
                                 {nullptr, 0, nullptr, 0}};
  int c;
  uint64_t n = 0;
  while ((c = getopt_long(argc, argv, "", kLong, nullptr)) != -1) {
    switch (c) {
      case 's': o->store = optarg; break;
      case 'a': if (!ParseCount(optarg, &o->accounts)) return false; break;
      case 'p': if (!ParseCount(optarg, &o->suppressed)) return false; break;
      case 'm': if (!ParseCount(optarg, &o->messages)) return false; break;
      case 't':
        if (!ParseCount(optarg, &n) || n < 1 || n > 64) return false;
        o->threads = static_cast<int>(n);
        break;
      case 'M': o->measure = true; break;
      case 'h': Usage(stdout); std::exit(0);
      default: return false;
    }
  }
  return optind == argc && !o->store.empty() && o->accounts > 0;
}

sg::Config MakeConfig(const Options& o) {
  sg::Config cfg;
  cfg.store_path = o.store;
  cfg.map_size_mb = 1024;
  // bench/run.sh's phase (c): minute and day limits for every account.
  cfg.windows[static_cast<size_t>(sg::Window::kMinute)].default_limit = 10000000;
  cfg.windows[static_cast<size_t>(sg::Window::kDay)].default_limit = 100000000;
  return cfg;
}

int Fill(sg::Store* store, const Options& o) {
  const double t0 = WallSeconds();
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = static_cast<uint64_t>(t); i < o.accounts && !failed;
           i += static_cast<uint64_t>(o.threads)) {
        const std::string name = AccountName(i);
        sg::AuditEntry audit{NowUs(), "store_fill", "quota-set", name, "day=5000 hour=500"};
        sg::Status st = store->UpdateAccount(
            name,
            [](sg::AccountRecord* a, bool) {
              a->limits[static_cast<size_t>(sg::Window::kDay)] = 5000;
              a->limits[static_cast<size_t>(sg::Window::kHour)] = 500;
              return sg::Status::Ok();
            },
            audit);
        if (!st.ok()) {
          std::fprintf(stderr, "store_fill: account %s: %s\n", name.c_str(), st.message().c_str());
          failed = true;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  if (failed) return 74;
  const double t1 = WallSeconds();
  // In key order (LMDB's: account, NUL, address), so each batch writes its own pages once;
  // in random order every batch would rewrite pages all over the tree (tried: 40 GB written
  // for the first 3 million).
  std::vector<std::string> keys;
  keys.reserve(o.suppressed);
  for (uint64_t j = 0; j < o.suppressed; ++j) {
    std::string k = SuppressionAccount(j, o.accounts);
    k.push_back('\0');
    k += Address(j);
    keys.push_back(std::move(k));
  }
  std::sort(keys.begin(), keys.end());
  const uint64_t kBatch = 50000;
  std::vector<sg::SuppressionRecord> batch;
  batch.reserve(kBatch);
  const int64_t since = NowUs() / 1000000;
  for (uint64_t i = 0; i < keys.size(); i += kBatch) {
    batch.clear();
    for (uint64_t j = i; j < keys.size() && j < i + kBatch; ++j) {
      const size_t nul = keys[j].find('\0');
      batch.push_back({keys[j].substr(0, nul), keys[j].substr(nul + 1), "hard-bounce", "store_fill",
                       since});
    }
    sg::AuditEntry audit{NowUs(), "store_fill", "suppress-import", "",
                         std::to_string(batch.size()) + " addresses"};
    auto st = store->AddSuppressions(batch, audit);
    if (!st.ok()) {
      std::fprintf(stderr, "store_fill: suppressions: %s\n", st.status().message().c_str());
      return 74;
    }
  }
  store->Flush();
  const double t2 = WallSeconds();
  std::printf("filled: %" PRIu64 " accounts in %.1f s, %" PRIu64 " suppressed addresses in %.1f s\n",
              o.accounts, t1 - t0, o.suppressed, t2 - t1);
  return 0;
}

// One message as the milter's Session calls the store; false when a call failed.
bool Message(sg::Store* store, const sg::Config& cfg, const Options& o, uint64_t n,
             uint64_t* refused) {
  const uint64_t r = Mix(n ^ 0xabcdef);
  const std::string account = AccountName(r % o.accounts);
  // One in ten is a suppressed global address, the rest were never suppressed.
  uint64_t ai = o.suppressed + (r >> 8);
  if ((r >> 40) % 10 == 0 && o.suppressed > 0) {
    ai = (r >> 8) % o.suppressed;
    if (ai % 5 == 0) ai = ai + 1 < o.suppressed ? ai + 1 : ai - 1;  // a global one
  }
  const std::string rcpt = Address(ai);
  auto rec = store->GetAccount(account);
  if (!rec.ok()) return false;
  const sg::AccountRecord* record = rec->has_value() ? &**rec : nullptr;
  auto sup = store->FindSuppression(account, rcpt);
  if (!sup.ok()) return false;
  if (sup->has_value()) {
    ++*refused;
    return true;
  }
  const int64_t now = NowUs() / 1000000;
  const auto charges = sg::ChargesFor(sg::EffectiveLimits(cfg, record), cfg.windows, now, cfg.tz,
                                      true);
  auto out = store->Reserve(account, charges, false);
  if (!out.ok()) return false;
  if (!out->ok) {  // not expected with these limits: give the units back
    store->Release(account, charges);
    ++*refused;
    return true;
  }
  sg::QueueEntry q;
  char id[24];
  std::snprintf(id, sizeof id, "%012" PRIX64, static_cast<uint64_t>(Mix(n) & 0xffffffffffffull));
  q.queue_id = id;
  q.account = account;
  q.time = now;
  q.recipients = {rcpt};
  q.message_id = "<" + std::to_string(n) + "@store-fill.test>";
  auto alerts = store->Commit(account, charges, &q, now);
  return alerts.ok();
}

int Measure(sg::Store* store, const sg::Config& cfg, const Options& o) {
  uint64_t refused = 0;
  const uint64_t seed = static_cast<uint64_t>(NowUs());
  for (uint64_t n = 0; n < 2000; ++n) {
    if (!Message(store, cfg, o, seed + n, &refused)) {
      std::fprintf(stderr, "store_fill: a store call failed during the warm-up\n");
      return 74;
    }
  }
  refused = 0;
  const double c0 = CpuSeconds(), w0 = WallSeconds();
  for (uint64_t n = 0; n < o.messages; ++n) {
    if (!Message(store, cfg, o, seed + 2000 + n, &refused)) {
      std::fprintf(stderr, "store_fill: a store call failed\n");
      return 74;
    }
  }
  const double c1 = CpuSeconds(), w1 = WallSeconds();
  const double k = static_cast<double>(o.messages);
  std::printf("measured: %" PRIu64 " accounts, %" PRIu64 " suppressed: %" PRIu64
              " messages (%" PRIu64 " refused at RCPT as suppressed): %.1f us CPU, %.1f us wall per message\n",
              o.accounts, o.suppressed, o.messages, refused, (c1 - c0) * 1e6 / k,
              (w1 - w0) * 1e6 / k);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) {
    Usage(stderr);
    return 2;
  }
  const sg::Config cfg = MakeConfig(o);
  sg::StoreUse use;
  use.program = "store_fill";
  auto store = sg::OpenStore(cfg, use);
  if (!store.ok()) {
    std::fprintf(stderr, "store_fill: %s\n", store.status().message().c_str());
    return 74;
  }
  return o.measure ? Measure(store->get(), cfg, o) : Fill(store->get(), o);
}
