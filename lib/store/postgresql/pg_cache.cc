// PgCache: the node's cache of accounts and suppression, kept by LISTEN
// sg_changes and the change log (pg_cache.h, docs/fleet.md "Caches").
#include "senderguard/store/postgresql/pg_cache.h"

#include <poll.h>

#include <algorithm>
#include <set>
#include <utility>

#include "senderguard/store/postgresql/pg_records.h"

namespace senderguard {

namespace {

constexpr int kChangesPage = 10000;  // rows of sg_changes_since per statement
constexpr int kFetchRows = 2000;  // rows per reload chunk (one LMDB transaction each)
constexpr auto kPollSlice = std::chrono::milliseconds(250);  // how soon a stop is seen

// Which database the cache holds a copy of: its name and OID (the same on a
// physical standby promoted to primary; another after a re-creation), and
// the highest seq it has logged or purged.
// The change log's newest seq (or the last one purged, when none is left).
constexpr char kNewestSeq[] =
    "greatest(coalesce((SELECT max(c.seq) FROM changes c), 0), "
    "(SELECT m.changes_purged_through FROM sg_meta m))";

// The seq of a notification's payload ({"seq": N, ...}); INT64_MAX when it
// has none (then the log is read anyway).
int64_t PayloadSeq(std::string_view payload) {
  const size_t at = payload.find("\"seq\"");
  if (at == std::string_view::npos) return INT64_MAX;
  size_t i = at + 5;
  while (i < payload.size() && (payload[i] == ' ' || payload[i] == ':')) ++i;
  int64_t v = 0;
  size_t digits = 0;
  for (; i < payload.size() && payload[i] >= '0' && payload[i] <= '9' && digits < 18; ++i, ++digits)
    v = v * 10 + (payload[i] - '0');
  return digits == 0 ? INT64_MAX : v;
}

int64_t MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t)
      .count();
}

}  // namespace

PgCache::~PgCache() {
  {
    std::lock_guard<std::mutex> lk(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PgCache::Log(Logger::Level level, const std::string& line) {
  if (options_->logger != nullptr) options_->logger->Log(level, line);
}

void PgCache::Lost(const Status& why) {
  if (lost_) return;
  lost_ = true;
  lost_at_ = std::chrono::steady_clock::now();
  Log(Logger::Level::kWarning,
      KvLine().Add("store", "postgresql").Add("action", "cache-lost").Add("error", why.message()).str());
}

void PgCache::Back() {
  if (!lost_) return;
  lost_ = false;
  Log(Logger::Level::kInfo, KvLine()
                                .Add("store", "postgresql")
                                .Add("action", "cache-back")
                                .Add("seq", applied_)
                                .Add("down_ms", MsSince(lost_at_))
                                .str());
}

Status PgCache::Start() {
  auto state = local_->GetCacheState();
  if (!state.ok()) return state.status();
  applied_ = state.value().seq;
  Status st = Connect();
  if (!st.ok()) {
    if (state.value().source.empty()) return st.Prefixed("postgresql cache: ");
    Lost(st);  // serve the local copy; the thread reconnects
  }
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

Status PgCache::Connect() {
  conn_.reset();
  auto c = PgConn::Connect(options_->conninfo, options_->program + "/cache");
  if (!c.ok()) return c.status();
  auto listen = c.value()->Exec("LISTEN sg_changes");
  if (!listen.ok()) return listen.status();
  Status st = CatchUp(*c.value());
  if (!st.ok()) return st;
  conn_ = std::move(c.value());
  return Status::Ok();
}

Status PgCache::CatchUp(PgConn& conn) {
  // The local state first: another process of this node may raise it at
  // any time, never above what the database has logged by then.
  auto state = local_->GetCacheState();
  if (!state.ok()) return state.status();
  auto src = conn.Exec(std::string("SELECT current_database() || '/' || d.oid::text, ") +
                       kNewestSeq + " FROM pg_database d WHERE d.datname = current_database()");
  if (!src.ok()) return src.status();
  if (src.value().rows() != 1) return Status::Io("postgresql: cannot name the database");
  const std::string source(src.value().Get(0, 0));
  const int64_t newest = src.value().GetInt(0, 1);
  // A copy of another database, or of this one before it lost changes
  // (restored from a backup): nothing in the log says what differs.
  if (state.value().source != source || state.value().seq > newest)
    return Reload(conn, source, state.value().source.empty() ? "start" : "source");
  int64_t after = state.value().seq;
  applied_ = after;
  for (;;) {
    auto page = conn.Exec("SELECT seq, kind, account, address FROM sg_changes_since($1, $2)",
                          {PgInt(after), PgInt(kChangesPage)});
    if (!page.ok()) return page.status();
    const PgResult& r = page.value();
    if (r.rows() == 0) return Status::Ok();
    std::set<std::string> names;
    std::set<std::pair<std::string, std::string>> keys;
    int64_t last = after;
    bool resync = false;
    for (int i = 0; i < r.rows(); ++i) {
      const std::string_view kind = r.Get(i, 1);
      if (kind == "resync") {
        resync = true;
        break;
      }
      last = r.GetInt(i, 0);
      if (r.IsNull(i, 2)) continue;
      if (kind == "suppression") {
        if (!r.IsNull(i, 3)) keys.emplace(std::string(r.Get(i, 2)), std::string(r.Get(i, 3)));
      } else {  // account, domains: the account's record holds both
        names.emplace(r.Get(i, 2));
      }
    }
    if (last > after) {
      LmdbStore::CacheRows rows;
      size_t skipped = 0;
      std::vector<std::string> want;
      for (const auto& n : names) {
        if (PgStorableKey(n, kPgMaxAccountKey)) want.push_back(n);
        else ++skipped;
      }
      auto accounts = PgReadAccounts(conn, want, /*lock=*/false);
      if (!accounts.ok()) return accounts.status();
      std::set<std::string> found;
      for (auto& a : accounts.value()) {
        found.insert(a.name);
        rows.accounts.push_back(std::move(a));
      }
      for (const auto& n : want)
        if (found.count(n) == 0) rows.gone_accounts.push_back(n);
      std::vector<std::pair<std::string, std::string>> want_keys;
      for (const auto& k : keys) {
        if (PgCheckSuppressionKey(k.first, k.second).ok()) want_keys.push_back(k);
        else ++skipped;
      }
      auto supp = PgReadSuppressions(conn, want_keys);
      if (!supp.ok()) return supp.status();
      std::set<std::pair<std::string, std::string>> found_keys;
      for (auto& s : supp.value()) {
        found_keys.emplace(s.account, s.address);
        rows.suppressions.push_back(std::move(s));
      }
      for (const auto& k : want_keys)
        if (found_keys.count(k) == 0) rows.gone_suppressions.push_back(k);
      Status st = local_->CacheApply(rows, last);
      if (!st.ok()) return st;
      if (skipped > 0) {
        Log(Logger::Level::kWarning, KvLine()
                                         .Add("store", "postgresql")
                                         .Add("action", "cache-skip")
                                         .Add("rows", static_cast<uint64_t>(skipped))
                                         .Add("why", "key longer than the local cache holds")
                                         .str());
      }
      after = last;
      applied_ = last;
    }
    if (resync) {
      Status st = Reload(conn, source, "resync");
      if (!st.ok()) return st;
      after = applied_;
      continue;
    }
    if (r.rows() < kChangesPage) return Status::Ok();
  }
}

Status PgCache::Reload(PgConn& conn, const std::string& source, const char* reason) {
  const auto t0 = std::chrono::steady_clock::now();
  size_t n_accounts = 0, n_suppressions = 0, skipped = 0;
  int64_t seq = 0;
  Status st = conn.Transaction(
      [&](PgConn& c) -> Status {
        skipped = 0;
        // The first statement takes the snapshot: the log's newest seq and
        // the tables as of that seq (seqs are taken at commit, in order).
        auto m = c.Exec(std::string("SELECT ") + kNewestSeq);
        if (!m.ok()) return m.status();
        seq = m.value().GetInt(0, 0);
        auto d1 = c.Exec(std::string("DECLARE sg_cache_accounts NO SCROLL CURSOR FOR SELECT ") +
                         kPgAccountColumns + " FROM accounts a ORDER BY a.name COLLATE \"C\"");
        if (!d1.ok()) return d1.status();
        auto d2 = c.Exec(std::string("DECLARE sg_cache_suppression NO SCROLL CURSOR FOR SELECT ") +
                         kPgSuppressionColumns +
                         " FROM suppression s ORDER BY s.account COLLATE \"C\", s.address "
                         "COLLATE \"C\"");
        if (!d2.ok()) return d2.status();
        bool accounts_done = false, suppression_done = false;
        const std::string fetch = "FETCH " + std::to_string(kFetchRows) + " FROM ";
        return local_->CacheReplaceAll(
            [&](LmdbStore::CacheRows* chunk) -> Result<bool> {
              while (!accounts_done) {
                auto r = c.Exec(fetch + "sg_cache_accounts");
                if (!r.ok()) return r.status();
                accounts_done = r.value().rows() < kFetchRows;
                for (int i = 0; i < r.value().rows(); ++i) {
                  if (!PgStorableKey(r.value().Get(i, 0), kPgMaxAccountKey)) {
                    ++skipped;
                    continue;
                  }
                  AccountRecord a;
                  Status s = PgReadAccountRow(r.value(), i, 0, &a);
                  if (!s.ok()) return s;
                  chunk->accounts.push_back(std::move(a));
                }
                if (!chunk->accounts.empty()) return true;
              }
              while (!suppression_done) {
                auto r = c.Exec(fetch + "sg_cache_suppression");
                if (!r.ok()) return r.status();
                suppression_done = r.value().rows() < kFetchRows;
                for (int i = 0; i < r.value().rows(); ++i) {
                  SuppressionRecord s = PgReadSuppressionRow(r.value(), i, 0);
                  if (!PgCheckSuppressionKey(s.account, s.address).ok()) {
                    ++skipped;
                    continue;
                  }
                  chunk->suppressions.push_back(std::move(s));
                }
                if (!chunk->suppressions.empty()) return true;
              }
              return false;
            },
            seq, source, &n_accounts, &n_suppressions);
      },
      "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  if (!st.ok()) return st;
  applied_ = seq;
  KvLine line;
  line.Add("store", "postgresql")
      .Add("action", "cache-load")
      .Add("reason", reason)
      .Add("accounts", static_cast<uint64_t>(n_accounts))
      .Add("suppressions", static_cast<uint64_t>(n_suppressions))
      .Add("seq", seq)
      .Add("ms", MsSince(t0));
  if (skipped > 0) line.Add("skipped", static_cast<uint64_t>(skipped));
  Log(skipped > 0 ? Logger::Level::kWarning : Logger::Level::kInfo, line.str());
  return Status::Ok();
}

void PgCache::Run() {
  using Clock = std::chrono::steady_clock;
  auto backoff = std::chrono::duration_cast<Clock::duration>(kMinBackoff);
  auto next_try = Clock::now();
  auto next_sync = Clock::now() + kPeriodicSync;
  auto wait = [&](Clock::duration d) {
    std::unique_lock<std::mutex> lk(stop_mu_);
    stop_cv_.wait_for(lk, std::min<Clock::duration>(d, kPollSlice), [&] { return stop_.load(); });
  };
  auto grow = [&] { backoff = std::min<Clock::duration>(backoff * 2, kMaxBackoff); };
  while (!stop_) {
    if (conn_ == nullptr) {
      if (Clock::now() < next_try) {
        wait(next_try - Clock::now());
        continue;
      }
      Status st = Connect();
      if (!st.ok()) {
        Lost(st);
        next_try = Clock::now() + backoff;
        grow();
        continue;
      }
      Back();
      backoff = kMinBackoff;
      next_sync = Clock::now() + kPeriodicSync;
      continue;
    }
    // What the server sent (queued during the last catch-up too), without
    // blocking; then, when there is nothing to do, wait on the socket.
    auto notes = conn_->Notifications();
    if (!notes.ok()) {
      Lost(notes.status());
      conn_.reset();
      next_try = Clock::now();  // at once; the back-off applies from the next failure
      continue;
    }
    int64_t top = 0;
    for (const auto& n : notes.value()) top = std::max(top, PayloadSeq(n.payload));
    const bool due = Clock::now() >= next_sync;
    if (top <= applied_ && !due) {
      pollfd p{conn_->Socket(), POLLIN, 0};
      (void)::poll(&p, 1, static_cast<int>(kPollSlice.count()));
      continue;
    }
    Status st = CatchUp(*conn_);
    if (!st.ok()) {
      Lost(st);
      if (!conn_->Healthy()) {
        conn_.reset();
        next_try = Clock::now();
      } else {
        next_sync = Clock::now() + backoff;  // the database answered: try again later
        grow();
      }
      continue;
    }
    Back();
    backoff = kMinBackoff;
    next_sync = Clock::now() + kPeriodicSync;
  }
}

}  // namespace senderguard
