// PgLeases (pg_leases.h): the lease ledger's edges. The arithmetic of an
// entry is model/lease.h's; this file reads and writes the ledger
// (LmdbStore) and talks to PostgreSQL (schema.sql's sg_lease_* functions).
//
// Calls to PostgreSQL, each one statement (one transaction, one round trip):
//   takes    SELECT ... FROM unnest(requests) CROSS JOIN LATERAL sg_lease_take(...)
//   reports  the same over sg_lease_commit, returns over sg_lease_return
// The requests are locked in (account, window, start) order, the schema's
// lock order, so that batches of two nodes never deadlock one another.
#include "senderguard/store/postgresql/pg_leases.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "senderguard/base/clock.h"
#include "senderguard/base/kvlog.h"
#include "pg_rows.h"
#include "senderguard/store/postgresql/pg_records.h"

namespace senderguard {

namespace {

using std::chrono::milliseconds;
using Ledger = LmdbStore::LeaseLedger;

constexpr milliseconds kTick(200);
constexpr int64_t kSyncWaitMs = 2000;       // Reserve waits this long for a take, in all
constexpr int kMaxTakeRounds = 16;          // takes per Reserve (a big charge near the limit)
constexpr milliseconds kCallTimeout(5000);  // the thread's and Settle's calls
constexpr int64_t kSettleMs = 5000;         // Usage and Settle wait this long for the node's calls
constexpr int64_t kExpireEveryMs = 3000;
constexpr int64_t kNodeSeenEveryMs = 10000;  // well within PgStoreOptions::node_stale_s
constexpr int64_t kPurgeEveryMs = 3600 * 1000;
constexpr int64_t kBackoffMinMs = 200;
constexpr int64_t kBackoffMaxMs = 2000;
constexpr size_t kMaxAccountsPerInsert = 1000;
constexpr size_t kMaxKnownAccounts = 100000;

int64_t MonoMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The monotonic clock restarts with the machine: entries say which boot
// their times belong to (FNV-1a of the kernel's boot id).
uint64_t BootHash() {
  std::ifstream f("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(f, id);
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : id) h = (h ^ c) * 1099511628211ull;
  return h == 0 ? 1 : h;
}

std::string FormatUtcTime(int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// An array literal of integers for a text-format parameter.
template <typename T>
std::string IntArray(const std::vector<T>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += std::to_string(v[i]);
  }
  out.push_back('}');
  return out;
}
// "{80,90}" -> 80, 90.
std::vector<int> ParseIntArray(std::string_view s) {
  std::vector<int> out;
  int v = 0;
  bool in = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      v = v * 10 + (c - '0');
      in = true;
    } else if (in) {
      out.push_back(v);
      v = 0;
      in = false;
    }
  }
  return out;
}

// A take for one window instance.
struct TakeReq {
  std::string key;  // LeaseKey
  std::string account;
  Window window = Window::kDay;
  int64_t start = 0;
  int64_t reset = 0;
  uint64_t limit = 0;
  uint64_t want = 0;
  std::string idem;
  // For the fleet's count in the answer: this node's acknowledged units
  // when it was sent, and whether no report of the entry was on its way.
  uint64_t acked = 0;
  bool quiet = false;
};
// A take of the window instance `key` (account, window, span) for `want`
// units, from entry `e` as it stands when the take is claimed.
TakeReq TakeOf(std::string key, std::string_view account, Window window, const WindowSpan& span,
               uint64_t limit, uint64_t want, std::string idem, const LeaseEntry& e) {
  TakeReq q;
  q.key = std::move(key);
  q.account = std::string(account);
  q.window = window;
  q.start = span.start;
  q.reset = span.reset;
  q.limit = limit;
  q.want = want;
  q.idem = std::move(idem);
  q.acked = e.acked;
  q.quiet = e.pending == LeaseOp::kNone;
  return q;
}
struct TakeAns {
  int64_t lease_id = 0;
  uint64_t granted = 0;
  int64_t committed = -1;  // the window's committed count (before), -1 unknown
};
// A report (sg_lease_commit) or a return (sg_lease_return) of one entry.
struct CallReq {
  std::string key;
  LeaseOp op = LeaseOp::kCommit;
  int64_t lease = 0;
  uint64_t units = 0;
  std::string idem;
};
struct CallAns {
  std::string status;
  uint64_t units = 0;
  int64_t committed = -1;
  std::vector<int> alerts;
};

}  // namespace

struct PgLeases::State {
  PgPool* pool;
  LmdbStore* local;
  const PgStoreOptions* o;
  LeaseTiming t;
  uint64_t boot = BootHash();
  std::string key_prefix;
  std::atomic<uint64_t> seq{0};
  std::atomic<uint64_t> statements{0};
  std::atomic<uint64_t> reserve_takes{0};
  std::atomic<bool> spent_here{false};

  // PostgreSQL's availability, as the last call found it.
  std::mutex avail_mu;
  // `down` changes under avail_mu (so that each change is logged once) and
  // is read without it.
  std::atomic<bool> down{false};
  int64_t down_since_ms = 0;

  // Takes this process has on their way (Reserve's), by LeaseKey.
  std::mutex take_mu;
  std::condition_variable take_cv;
  std::set<std::string> taking;

  // The thread.
  std::once_flag started;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  bool wake = false;
  std::thread thread;
  std::unique_ptr<PgConn> conn;  // the thread's own
  int64_t next_connect_ms = 0;
  int64_t backoff_ms = kBackoffMinMs;
  int64_t next_expire_ms = 0;
  int64_t next_purge_ms = 0;
  int64_t next_seen_ms = 0;      // the node name's claim renewed (claim_node)
  bool name_refused = false;     // another machine holds it (logged once per change)

  // Accounts that sent, whose record PostgreSQL may not have: name -> created.
  std::mutex acct_mu;
  std::map<std::string, int64_t> to_create;
  std::set<std::string, std::less<>> known;

  void Log(Logger::Level level, const std::string& line) {
    if (o->logger != nullptr) o->logger->Log(level, line);
  }
  std::string NewKey() { return key_prefix + std::to_string(seq.fetch_add(1)); }

  void MarkDown(const Status& why) {
    std::lock_guard<std::mutex> lk(avail_mu);
    if (down.exchange(true)) return;
    down_since_ms = MonoMs();
    KvLine l;
    l.Add("store", "postgresql").Add("action", "unavailable").Add("part", "leases")
        .Add("policy", o->on_unavailable == OnUnavailable::kLocal ? "local" : "tempfail")
        .Add("error", why.message());
    Log(Logger::Level::kError, l.str());
  }
  void MarkUp() {
    if (!down.load()) return;
    std::lock_guard<std::mutex> lk(avail_mu);
    if (!down.exchange(false)) return;
    KvLine l;
    l.Add("store", "postgresql").Add("action", "available").Add("part", "leases")
        .Add("after_ms", MonoMs() - down_since_ms);
    Log(Logger::Level::kInfo, l.str());
  }
  // Counts the statement and marks the database down or up by its outcome.
  template <typename R>
  void Note(const R& r) {
    ++statements;
    if (r.ok()) {
      MarkUp();
    } else if (r.status().code() == Status::Code::kUnavailable) {
      MarkDown(r.status());
    }
  }

  void Start() {
    std::call_once(started, [this] { thread = std::thread([this] { Run(); }); });
  }
  void Wake() {
    std::lock_guard<std::mutex> lk(mu);
    wake = true;
    cv.notify_one();
  }

  void Run();
  void Tick();
  PgConn* ThreadConn(int64_t now_ms);
  Status Pass(PgConn& c, const std::set<std::string>* only, bool urgent, bool give_back,
              milliseconds timeout, bool* sent);
  Status SendTakes(PgConn& c, std::vector<TakeReq>& reqs, std::vector<TakeAns>* out,
                   milliseconds timeout);
  Status SendCalls(PgConn& c, LeaseOp op, std::vector<CallReq>& reqs, std::vector<CallAns>* out,
                   milliseconds timeout);
  Status Apply(const std::vector<TakeReq>& takes, const std::vector<TakeAns>& tans,
               const std::vector<CallReq>& calls, const std::vector<CallAns>& cans,
               int64_t sent_ms);
  Status TakeNow(const std::vector<TakeReq>& reqs, int64_t give_up_ms);
  void Chores(PgConn& c, int64_t now_ms);
  Status CreateAccounts(PgConn& c, milliseconds timeout);
  // Runs fn on a pooled connection; once more on a fresh one when the
  // first turned out broken (an idle connection's server went away).
  Status Pooled(const std::function<Status(PgConn&)>& fn);
  // Urgent passes until the entries (`only`, or all) have nothing
  // unreported or pending (and, with give_back, no spare beside the
  // holds), within kSettleMs.
  Status Drive(PgConn& c, const std::set<std::string>* only, bool give_back);
  bool Unsettled(const std::set<std::string>* only, bool give_back);
  void Alert(std::string_view account, const QuotaAlert& a);
};

// ---- the calls

Status PgLeases::State::SendTakes(PgConn& c, std::vector<TakeReq>& reqs,
                                  std::vector<TakeAns>* out, milliseconds timeout) {
  out->clear();
  if (reqs.empty()) return Status::Ok();
  std::sort(reqs.begin(), reqs.end(), [](const TakeReq& a, const TakeReq& b) { return a.key < b.key; });
  std::vector<std::string> accounts, idems;
  std::vector<int> wins;
  std::vector<int64_t> starts, resets, limits, wants;
  for (const auto& r : reqs) {
    accounts.push_back(r.account);
    wins.push_back(static_cast<int>(r.window));
    starts.push_back(r.start);
    resets.push_back(r.reset);
    limits.push_back(pg_rows::CountToPg(r.limit));
    wants.push_back(pg_rows::CountToPg(r.want));
    idems.push_back(r.idem);
  }
  // The subquery reads the window's committed count as the statement began
  // (a take does not change it): the fleet's count for a refusal's `used`.
  static const char kSql[] =
      "SELECT u.ord, t.lease_id, t.granted,"
      " (SELECT w.committed FROM quota_windows w"
      "   WHERE w.account = u.account AND w.win = u.win AND w.start = u.start)"
      " FROM (SELECT * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[],"
      "        $6::bigint[], $7::bigint[], $8::text[])"
      "        WITH ORDINALITY AS x(account, win, start, reset, lim, want, idem, ord)"
      "       ORDER BY x.account, x.win, x.start) u"
      " CROSS JOIN LATERAL sg_lease_take($1, u.account, u.win, u.start, u.reset, u.lim, u.want,"
      "                                  u.idem, $9::int) t";
  auto r = c.Exec(kSql,
                  {o->node, PgTextArray(accounts), IntArray(wins), IntArray(starts),
                   IntArray(resets), IntArray(limits), IntArray(wants), PgTextArray(idems),
                   PgInt(t.ttl_ms)},
                  timeout);
  Note(r);
  if (!r.ok()) return r.status();
  const PgResult& res = r.value();
  if (res.rows() != static_cast<int>(reqs.size()))
    return Status::Io("postgresql: sg_lease_take answered " + std::to_string(res.rows()) +
                      " rows for " + std::to_string(reqs.size()));
  out->assign(reqs.size(), TakeAns{});
  for (int i = 0; i < res.rows(); ++i) {
    const int64_t ord = res.GetInt(i, 0);
    if (ord < 1 || ord > static_cast<int64_t>(reqs.size())) return Status::Io("postgresql: bad ordinal");
    TakeAns& a = (*out)[static_cast<size_t>(ord - 1)];
    a.lease_id = res.IsNull(i, 1) ? 0 : res.GetInt(i, 1);
    a.granted = static_cast<uint64_t>(std::max<int64_t>(0, res.GetInt(i, 2)));
    a.committed = res.IsNull(i, 3) ? -1 : res.GetInt(i, 3);
  }
  return Status::Ok();
}

Status PgLeases::State::SendCalls(PgConn& c, LeaseOp op, std::vector<CallReq>& reqs,
                                  std::vector<CallAns>* out, milliseconds timeout) {
  out->clear();
  if (reqs.empty()) return Status::Ok();
  std::sort(reqs.begin(), reqs.end(), [](const CallReq& a, const CallReq& b) { return a.key < b.key; });
  std::vector<int64_t> leases, units;
  std::vector<std::string> idems;
  for (const auto& r : reqs) {
    leases.push_back(r.lease);
    units.push_back(pg_rows::CountToPg(r.units));
    idems.push_back(r.idem);
  }
  // Leases are numbered in no particular window order: the requests are
  // ordered by their windows, (account, window, start), through the leases.
  static const char kCommit[] =
      "SELECT u.ord, c.status, c.units, c.committed, c.alerts::text"
      " FROM (SELECT x.*, l.account, l.win, l.start FROM unnest($2::bigint[], $3::bigint[], $4::text[])"
      "        WITH ORDINALITY AS x(lease, units, idem, ord) LEFT JOIN leases l ON l.id = x.lease"
      "       ORDER BY l.account, l.win, l.start, x.ord) u"
      " CROSS JOIN LATERAL sg_lease_commit($1, u.lease, u.units, u.idem) c";
  static const char kReturn[] =
      "SELECT u.ord, r.status, r.units, NULL::bigint, NULL::text"
      " FROM (SELECT x.*, l.account, l.win, l.start FROM unnest($2::bigint[], $3::bigint[], $4::text[])"
      "        WITH ORDINALITY AS x(lease, units, idem, ord) LEFT JOIN leases l ON l.id = x.lease"
      "       ORDER BY l.account, l.win, l.start, x.ord) u"
      " CROSS JOIN LATERAL sg_lease_return($1, u.lease, u.units, u.idem) r";
  auto r = c.Exec(op == LeaseOp::kCommit ? kCommit : kReturn,
                  {o->node, IntArray(leases), IntArray(units), PgTextArray(idems)}, timeout);
  Note(r);
  if (!r.ok()) return r.status();
  const PgResult& res = r.value();
  if (res.rows() != static_cast<int>(reqs.size()))
    return Status::Io("postgresql: lease call answered " + std::to_string(res.rows()) +
                      " rows for " + std::to_string(reqs.size()));
  out->assign(reqs.size(), CallAns{});
  for (int i = 0; i < res.rows(); ++i) {
    const int64_t ord = res.GetInt(i, 0);
    if (ord < 1 || ord > static_cast<int64_t>(reqs.size())) return Status::Io("postgresql: bad ordinal");
    CallAns& a = (*out)[static_cast<size_t>(ord - 1)];
    a.status = std::string(res.Get(i, 1));
    a.units = static_cast<uint64_t>(std::max<int64_t>(0, res.GetInt(i, 2)));
    a.committed = res.IsNull(i, 3) ? -1 : res.GetInt(i, 3);
    a.alerts = ParseIntArray(res.Get(i, 4));
  }
  return Status::Ok();
}

void PgLeases::State::Alert(std::string_view account, const QuotaAlert& a) {
  if (o->on_alert) {
    o->on_alert(account, a);
    return;
  }
  // The milter's line (milter/session.cc Session::Alert), but for the
  // queue id: the alert comes with the node's report, not with a message.
  KvLine line;
  line.Add("account", account)
      .Add("action", "quota-alert")
      .Add("window", WindowName(a.window))
      .Add("used", a.used)
      .Add("limit", a.limit)
      .Add("pct", a.pct)
      .Add("resets", FormatUtcTime(a.span.reset));
  Log(Logger::Level::kWarning, line.str());
}

// Applies the answers to the ledger in one transaction, then logs what they
// said (alerts, units counted late) once: only the process whose
// transaction cleared a pending call logs its answer.
Status PgLeases::State::Apply(const std::vector<TakeReq>& takes, const std::vector<TakeAns>& tans,
                              const std::vector<CallReq>& calls, const std::vector<CallAns>& cans,
                              int64_t sent_ms) {
  struct Said {
    std::string key;
    LeaseEntry entry;
    CallReq req;
    CallAns ans;
  };
  std::vector<Said> said;
  const int64_t now = MonoMs();
  Status st = local->WriteLeases([&](Ledger& L) {
    said.clear();
    for (size_t i = 0; i < takes.size() && i < tans.size(); ++i) {
      const TakeReq& q = takes[i];
      const TakeAns& a = tans[i];
      std::optional<LeaseEntry> got;
      Status s = L.Get(q.key, &got);
      uint64_t counted = 0;  // an entry erased meanwhile: its units were reported
      if (s.ok() && !got) s = L.Committed(q.key, &counted);
      if (!s.ok()) return s;
      LeaseEntry e = LeaseEntryOf(got, q.limit, q.reset, boot, counted);
      ApplyTake(&e, a.lease_id, a.granted, q.want, sent_ms, now, t);
      // A take that found the window full tells the fleet's count; exact
      // for this node when no report of it was under way meanwhile.
      if (a.granted == 0 && q.want > 0 && a.committed >= 0 && q.quiet &&
          e.pending == LeaseOp::kNone && e.acked == q.acked)
        e.others = static_cast<uint64_t>(a.committed) > e.acked
                       ? static_cast<uint64_t>(a.committed) - e.acked
                       : 0;
      s = L.Put(q.key, e);
      if (!s.ok()) return s;
    }
    for (size_t i = 0; i < calls.size() && i < cans.size(); ++i) {
      const CallReq& q = calls[i];
      const CallAns& a = cans[i];
      std::optional<LeaseEntry> got;
      Status s = L.Get(q.key, &got);
      if (!s.ok()) return s;
      if (!got) continue;
      LeaseEntry e = *got;
      AdoptBoot(&e, boot);
      if (!ApplyAnswer(&e, q.idem, a.status, a.units, a.committed, sent_ms, t)) continue;
      s = L.Put(q.key, e);
      if (!s.ok()) return s;
      said.push_back({q.key, e, q, a});
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  for (const Said& s : said) {
    std::string account;
    Window w = Window::kDay;
    int64_t start = 0;
    if (!LmdbStore::ParseLeaseKey(s.key, &account, &w, &start)) continue;
    if (s.req.op == LeaseOp::kCommit) {
      for (int pct : s.ans.alerts) {
        QuotaAlert a;
        a.window = w;
        a.span = WindowSpan{start, s.entry.reset};
        a.used = s.ans.committed >= 0 ? static_cast<uint64_t>(s.ans.committed) : 0;
        a.limit = s.entry.limit;
        a.pct = pct;
        Alert(account, a);
      }
    }
    const bool open = s.ans.status == "ok" || s.ans.status == "over";
    const uint64_t late = s.req.op == LeaseOp::kCommit && s.req.units > s.ans.units
                              ? s.req.units - s.ans.units
                              : 0;
    if (!open || (s.req.op == LeaseOp::kCommit && late > 0)) {
      // docs/fleet.md, "the one case": units sent under a lease the
      // database no longer held (or beyond it: a dry run, the allowance).
      KvLine l;
      l.Add("store", "postgresql");
      if (s.req.op == LeaseOp::kCommit) {
        l.Add("action", "late-units");
      } else {
        l.Add("action", "return-refused");
      }
      l.Add("account", account)
          .Add("window", WindowName(w))
          .Add("lease", s.req.lease)
          .Add("status", s.ans.status)
          .Add("units", s.req.op == LeaseOp::kCommit ? late : s.req.units);
      Log(Logger::Level::kWarning, l.str());
    }
  }
  return Status::Ok();
}

// One pass over the ledger (all of it, or the entries `only` names): plans
// each entry, claims its calls in one LMDB transaction (made durable before
// anything is sent), sends the takes, reports and returns (one statement
// each) and applies the answers. `urgent`: report and resend everything now
// (Usage, Settle); `give_back`: also return every spare (Settle). Sets *sent
// when it sent anything.
Status PgLeases::State::Pass(PgConn& c, const std::set<std::string>* only, bool urgent,
                             bool give_back, milliseconds timeout, bool* sent) {
  *sent = false;
  const int64_t now = MonoMs();
  const int64_t unix_now = UnixNow();
  std::vector<TakeReq> takes;
  std::vector<CallReq> reports, returns;
  struct Dropped {
    std::string key;
    uint64_t units;
  };
  std::vector<Dropped> dropped;
  std::vector<std::string> corrupt;
  Status st = local->WriteLeases([&](Ledger& L) {
    takes.clear();
    reports.clear();
    returns.clear();
    dropped.clear();
    corrupt.clear();
    std::vector<std::pair<std::string, LeaseEntry>> items;
    if (only != nullptr) {
      for (const auto& k : *only) {
        std::optional<LeaseEntry> e;
        Status s = L.Get(k, &e);
        if (s.code() == Status::Code::kCorruption) {
          corrupt.push_back(k);
        } else if (!s.ok()) {
          return s;
        } else if (e) {
          items.emplace_back(k, std::move(*e));
        }
      }
    } else {
      Status s = L.Scan([&](std::string_view k, const LeaseEntry* e) {
        if (e == nullptr) {
          corrupt.emplace_back(k);
        } else {
          items.emplace_back(std::string(k), *e);
        }
        return true;
      });
      if (!s.ok()) return s;
    }
    for (const auto& k : corrupt) {
      Status s = L.Erase(k);
      if (!s.ok()) return s;
    }
    for (auto& [key, e] : items) {
      AdoptBoot(&e, boot);
      uint64_t held = 0;
      Status s = L.Held(key, &held);
      if (!s.ok()) return s;
      LeasePlan p = PlanLease(e, held, now, unix_now, t);
      if (urgent) {
        // Everything now: resend what is pending, cover what no live lease
        // covers (once), report the rest; no top-up.
        const bool timely = LeaseUsable(e, now);
        const bool uncovered = e.unreported > 0 && (e.excess > 0 || !timely);
        p = LeasePlan{};
        p.resend = e.pending != LeaseOp::kNone;
        const bool coverable = uncovered && e.exhausted_until_ms <= now;
        p.take = coverable && (e.take_since_ms == 0 || now - e.take_since_ms >= t.resend_ms);
        p.want = timely ? e.excess : e.unreported;
        // Uncovered units wait for the take (this one or another
        // process's) rather than go late.
        p.report = e.unreported > 0 && e.pending == LeaseOp::kNone && !coverable;
        p.give_back = give_back && e.pending == LeaseOp::kNone && e.unreported == 0 &&
                      e.lease_id != 0 && !e.dead && e.spare > held;
      }
      bool changed = false;
      std::string account;
      Window w = Window::kDay;
      int64_t start = 0;
      const bool parsed = LmdbStore::ParseLeaseKey(key, &account, &w, &start);
      if (p.take && parsed && e.reset > start && e.limit != kUnlimited) {
        takes.push_back(TakeOf(key, account, w, WindowSpan{start, e.reset}, e.limit, p.want,
                               NewKey(), e));
        e.take_since_ms = now;
        changed = true;
      }
      if (e.pending != LeaseOp::kNone) {
        if (p.resend) {
          CallReq q{key, e.pending, e.pending_lease, e.pending_units, e.pending_key};
          (e.pending == LeaseOp::kCommit ? reports : returns).push_back(std::move(q));
          e.pending_since_ms = now;
          changed = true;
        }
      } else if (p.report) {
        if (e.lease_id == 0) {
          const uint64_t n = DropUnreportable(&e);
          if (n > 0) dropped.push_back({key, n});
        } else {
          ClaimReport(&e, NewKey(), now);
          reports.push_back({key, LeaseOp::kCommit, e.pending_lease, e.pending_units, e.pending_key});
        }
        changed = true;
      } else if (p.give_back && ClaimReturn(&e, held, NewKey(), now)) {
        returns.push_back({key, LeaseOp::kReturn, e.pending_lease, e.pending_units, e.pending_key});
        changed = true;
      }
      if (changed) {
        s = L.Put(key, e);
      } else if (p.erase) {
        s = L.Erase(key);
      }
      if (!s.ok()) return s;
      // The next minute's or hour's block before the boundary, so that its
      // first message does not wait on a take.
      const auto next = parsed && !urgent ? NextInstanceDue(e, w, start, now, unix_now, t)
                                          : std::nullopt;
      if (next && e.limit != kUnlimited) {
        const std::string nkey = LmdbStore::LeaseKey(account, w, next->start);
        std::optional<LeaseEntry> have;
        s = L.Get(nkey, &have);
        if (s.ok() && !have) {
          LeaseEntry n = NextInstanceEntry(e, *next, now);
          n.take_since_ms = now;
          takes.push_back(
              TakeOf(nkey, account, w, *next, e.limit, LeaseBlock(e, now, t), NewKey(), n));
          s = L.Put(nkey, n);
        }
        if (!s.ok() && s.code() != Status::Code::kCorruption) return s;
      }
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  for (const auto& k : corrupt)
    Log(Logger::Level::kError, KvLine()
                                   .Add("store", "postgresql")
                                   .Add("action", "lease-entry-dropped")
                                   .Add("reason", "corrupt")
                                   .Add("key", k)
                                   .str());
  for (const auto& d : dropped) {
    std::string account;
    Window w = Window::kDay;
    int64_t start = 0;
    if (!LmdbStore::ParseLeaseKey(d.key, &account, &w, &start)) continue;
    // No lease was ever had and the window is full: PostgreSQL has no call
    // that counts units late without a lease (schema.sql).
    KvLine l;
    l.Add("store", "postgresql").Add("action", "unreported-dropped").Add("account", account)
        .Add("window", WindowName(w)).Add("units", d.units);
    Log(Logger::Level::kWarning, l.str());
  }
  if (takes.empty() && reports.empty() && returns.empty()) return Status::Ok();
  *sent = true;
  // The keys reach the disk before any call that carries them.
  if (!reports.empty() || !returns.empty()) local->Flush();
  const int64_t sent_ms = MonoMs();
  std::vector<TakeAns> tans;
  std::vector<CallAns> rans, gans;
  // Reports first: they count what was sent and renew the leases; a take
  // that waits on a busy window must not hold them back.
  Status first = SendCalls(c, LeaseOp::kCommit, reports, &rans, timeout);
  if (!first.ok()) reports.clear();
  auto next = [&](const std::function<Status()>& send, const std::function<void()>& drop) {
    if (first.code() == Status::Code::kUnavailable) {
      drop();
      return;
    }
    Status s = send();
    if (!s.ok()) {
      if (first.ok()) first = s;
      drop();
    }
  };
  next([&] { return SendCalls(c, LeaseOp::kReturn, returns, &gans, timeout); },
       [&] { returns.clear(); });
  next([&] { return SendTakes(c, takes, &tans, timeout); }, [&] { takes.clear(); });
  std::vector<CallReq> calls = reports;
  calls.insert(calls.end(), returns.begin(), returns.end());
  std::vector<CallAns> cans = rans;
  cans.insert(cans.end(), gans.begin(), gans.end());
  Status s = Apply(takes, tans, calls, cans, sent_ms);
  if (!s.ok() && first.ok()) first = s;
  return first;
}

// A take for Reserve, now: one statement (sent again once, same keys, if the
// connection broke), within give_up_ms. Takes of this process for the same
// window instances are not sent twice: a caller finding one on its way
// waits for it instead.
Status PgLeases::State::TakeNow(const std::vector<TakeReq>& reqs_in, int64_t give_up_ms) {
  std::vector<TakeReq> reqs = reqs_in;
  {
    std::unique_lock<std::mutex> lk(take_mu);
    auto busy = [&] {
      for (const auto& r : reqs)
        if (taking.count(r.key) > 0) return true;
      return false;
    };
    if (busy()) {
      take_cv.wait_for(lk, milliseconds(std::max<int64_t>(0, give_up_ms - MonoMs())),
                       [&] { return !busy(); });
      return Status::Ok();  // the caller looks at the ledger again
    }
    for (const auto& r : reqs) taking.insert(r.key);
  }
  struct Done {
    State* s;
    const std::vector<TakeReq>* reqs;
    ~Done() {
      std::lock_guard<std::mutex> lk(s->take_mu);
      for (const auto& r : *reqs) s->taking.erase(r.key);
      s->take_cv.notify_all();
    }
  } done{this, &reqs};
  Status st;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int64_t left = give_up_ms - MonoMs();
    if (left <= 0) return st.ok() ? Status::Unavailable("postgresql: no lease in time") : st;
    auto c = pool->Acquire(milliseconds(left));
    if (!c.ok()) {
      if (c.status().code() == Status::Code::kUnavailable) MarkDown(c.status());
      return c.status();
    }
    const int64_t sent_ms = MonoMs();
    std::vector<TakeAns> ans;
    st = SendTakes(*c.value(), reqs, &ans, milliseconds(std::max<int64_t>(1, give_up_ms - sent_ms)));
    if (st.ok()) return Apply(reqs, ans, {}, {}, sent_ms);
    if (st.code() != Status::Code::kUnavailable) return st;
  }
  return st;
}

Status PgLeases::State::Pooled(const std::function<Status(PgConn&)>& fn) {
  Status st;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto c = pool->Acquire();
    if (!c.ok()) {
      if (c.status().code() == Status::Code::kUnavailable) MarkDown(c.status());
      return c.status();
    }
    st = fn(*c.value());
    if (st.code() != Status::Code::kUnavailable || c.value()->Healthy()) return st;
  }
  return st;
}

bool PgLeases::State::Unsettled(const std::set<std::string>* only, bool give_back) {
  bool left = false;
  auto look = [&](Ledger& L, std::string_view k, const LeaseEntry& e) {
    uint64_t held = 0;
    (void)L.Held(k, &held);
    left = e.pending != LeaseOp::kNone || e.unreported > 0 ||
           (give_back && e.lease_id != 0 && !e.dead && e.spare > held);
    return !left;
  };
  (void)local->ReadLeases([&](Ledger& L) {
    if (only == nullptr)
      return L.Scan([&](std::string_view k, const LeaseEntry* e) { return e == nullptr || look(L, k, *e); });
    for (const auto& k : *only) {
      std::optional<LeaseEntry> e;
      if (L.Get(k, &e).ok() && e && !look(L, k, *e)) break;
    }
    return Status::Ok();
  });
  return left;
}

Status PgLeases::State::Drive(PgConn& c, const std::set<std::string>* only, bool give_back) {
  const int64_t end = MonoMs() + kSettleMs;
  for (;;) {
    bool sent = false;
    Status st = Pass(c, only, /*urgent=*/true, give_back, kCallTimeout, &sent);
    if (!st.ok()) return st;
    if (!Unsettled(only, give_back)) return Status::Ok();
    if (MonoMs() >= end) return Status::Unavailable("postgresql: lease calls not settled in time");
    // Another process's call or take is on its way: let it land.
    if (!sent) std::this_thread::sleep_for(milliseconds(50));
  }
}

// ---- the thread

PgConn* PgLeases::State::ThreadConn(int64_t now_ms) {
  if (conn && conn->Healthy()) return conn.get();
  conn.reset();
  if (now_ms < next_connect_ms) return nullptr;
  auto c = PgConn::Connect(o->conninfo, o->program);
  if (!c.ok()) {
    MarkDown(c.status());
    next_connect_ms = now_ms + backoff_ms;
    backoff_ms = std::min(backoff_ms * 2, kBackoffMaxMs);
    return nullptr;
  }
  backoff_ms = kBackoffMinMs;
  conn = std::move(c.value());
  if (down.load()) Note(conn->Exec("SELECT 1", {}, kCallTimeout));
  return conn && conn->Healthy() ? conn.get() : nullptr;
}

void PgLeases::State::Chores(PgConn& c, int64_t now_ms) {
  bool due = false;
  if (o->claim_node && now_ms >= next_seen_ms) {
    next_seen_ms = now_ms + kNodeSeenEveryMs;
    auto claim = PgClaimNode(c, *o);
    Note(claim);
    if (claim.ok() && claim.value().ok == name_refused) {
      name_refused = !claim.value().ok;
      if (name_refused) {
        Log(Logger::Level::kError, KvLine()
                                       .Add("store", "postgresql")
                                       .Add("action", "node-name-refused")
                                       .Add("node", o->node)
                                       .Add("holder_host", claim.value().holder_host)
                                       .Add("seen_s_ago", claim.value().seen_s_ago)
                                       .Add("error", PgNodeClaimRefused(*o, claim.value()).message())
                                       .str());
      } else {
        Log(Logger::Level::kInfo,
            KvLine().Add("store", "postgresql").Add("action", "node-name-held").Add("node", o->node).str());
      }
    }
  }
  if (now_ms >= next_expire_ms) {
    next_expire_ms = now_ms + kExpireEveryMs;
    if (local->ClaimChore("expire", now_ms, kExpireEveryMs, &due).ok() && due)
      Note(c.Exec("SELECT * FROM sg_lease_expire()", {}, kCallTimeout));
  }
  if (now_ms >= next_purge_ms) {
    next_purge_ms = now_ms + kPurgeEveryMs / 60;
    if (local->ClaimChore("purge", now_ms, kPurgeEveryMs, &due).ok() && due)
      Note(c.Exec("SELECT * FROM sg_purge()", {}, kCallTimeout));
  }
}

Status PgLeases::State::CreateAccounts(PgConn& c, milliseconds timeout) {
  std::vector<std::string> names;
  std::vector<int64_t> created;
  {
    std::lock_guard<std::mutex> lk(acct_mu);
    for (auto it = to_create.begin(); it != to_create.end() && names.size() < kMaxAccountsPerInsert;) {
      names.push_back(it->first);
      created.push_back(it->second);
      it = to_create.erase(it);
    }
  }
  if (names.empty()) return Status::Ok();
  // First mail from an account without a record: create it, so `list`
  // shows every account that has sent (as LmdbStore's Commit does).
  auto r = c.Exec(
      "INSERT INTO accounts (name, created)"
      " SELECT n, t FROM unnest($1::text[], $2::bigint[]) AS u(n, t) ORDER BY n"
      " ON CONFLICT (name) DO NOTHING",
      {PgTextArray(names), IntArray(created)}, timeout);
  Note(r);
  std::lock_guard<std::mutex> lk(acct_mu);
  if (!r.ok()) {
    if (r.status().code() == Status::Code::kUnavailable) {
      for (size_t i = 0; i < names.size(); ++i) to_create.emplace(names[i], created[i]);
    } else {
      Log(Logger::Level::kError, KvLine()
                                     .Add("store", "postgresql")
                                     .Add("action", "create-accounts")
                                     .Add("error", r.status().message())
                                     .str());
    }
    return r.status();
  }
  if (known.size() > kMaxKnownAccounts) known.clear();
  known.insert(names.begin(), names.end());
  return Status::Ok();
}

void PgLeases::State::Tick() {
  const int64_t now = MonoMs();
  const int64_t unix_now = UnixNow();
  // A read first: most ticks of an idle node have nothing to send.
  bool work = false;
  Status st = local->ReadLeases([&](Ledger& L) {
    return L.Scan([&](std::string_view k, const LeaseEntry* e) {
      if (e == nullptr) {
        work = true;
        return false;
      }
      LeaseEntry x = *e;
      AdoptBoot(&x, boot);
      uint64_t held = 0;
      if (!L.Held(k, &held).ok()) return true;
      const LeasePlan p = PlanLease(x, held, now, unix_now, t);
      work = p.take || p.report || p.give_back || p.resend || p.erase;
      std::string account;
      Window w = Window::kDay;
      int64_t start = 0;
      if (!work && LmdbStore::ParseLeaseKey(k, &account, &w, &start)) {
        if (const auto next = NextInstanceDue(x, w, start, now, unix_now, t)) {
          std::optional<LeaseEntry> have;
          work = L.Get(LmdbStore::LeaseKey(account, w, next->start), &have).ok() && !have;
        }
      }
      return !work;
    });
  });
  bool accounts = false;
  {
    std::lock_guard<std::mutex> lk(acct_mu);
    accounts = !to_create.empty();
  }
  const bool chores = now >= next_expire_ms || now >= next_purge_ms ||
                      (o->claim_node && now >= next_seen_ms);
  if (!work && !accounts && !chores && !down.load()) return;
  PgConn* c = ThreadConn(now);
  if (c == nullptr) return;
  if (work || !st.ok()) {
    bool sent = false;
    st = Pass(*c, nullptr, /*urgent=*/false, /*give_back=*/false, kCallTimeout, &sent);
    if (!st.ok() && st.code() != Status::Code::kUnavailable)
      Log(Logger::Level::kError, KvLine()
                                     .Add("store", "postgresql")
                                     .Add("action", "lease-pass")
                                     .Add("error", st.message())
                                     .str());
  }
  if (!c->Healthy()) return;
  Chores(*c, now);
  if (accounts && c->Healthy()) (void)CreateAccounts(*c, kCallTimeout);
}

void PgLeases::State::Run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu);
      cv.wait_for(lk, kTick, [&] { return stop || wake; });
      if (stop) return;
      wake = false;
    }
    Tick();
  }
}

// ---- PgLeases

PgLeases::PgLeases(PgPool* pool, LmdbStore* local, const PgStoreOptions* options)
    : s_(std::make_unique<State>()) {
  s_->pool = pool;
  s_->local = local;
  s_->o = options;
  s_->t = LeaseTimingFor(options->lease_ttl_s);
  std::random_device rd;
  const uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                     static_cast<uint64_t>(::getpid()) << 16 ^ static_cast<uint64_t>(MonoMs());
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx-", static_cast<unsigned long long>(r));
  s_->key_prefix = buf;
  // The milter (the one program that reads through the cache) keeps the
  // node's leases from its start: it sends again what a process that died
  // left pending. Others start the thread when they first spend.
  // The milter's thread from the start; the tailer's too, which keeps its
  // claim on the node name while its log is quiet (Chores).
  if (options->cached_reads || options->claim_node) s_->Start();
}

PgLeases::~PgLeases() {
  {
    std::lock_guard<std::mutex> lk(s_->mu);
    s_->stop = true;
  }
  s_->cv.notify_all();
  if (s_->thread.joinable()) s_->thread.join();
  s_->conn.reset();
  (void)Settle();
}

uint64_t PgLeases::statements() const { return s_->statements.load(); }
uint64_t PgLeases::reserve_takes() const { return s_->reserve_takes.load(); }

Result<ReserveOutcome> PgLeases::Reserve(std::string_view account,
                                         const std::vector<QuotaCharge>& charges, bool force) {
  if (charges.empty()) return ReserveOutcome{};
  bool leased = false;
  for (const auto& c : charges) leased = leased || c.limit != kUnlimited;
  // A name PostgreSQL cannot hold (NUL, not UTF-8, too long) never enters
  // the ledger: it would fail every batch it rides in.
  if (leased) {
    Status valid = PgCheckAccountName(account);
    if (!valid.ok()) return valid;
  }
  State& S = *s_;
  S.Start();
  S.spent_here = true;
  const int64_t give_up = MonoMs() + kSyncWaitMs;
  bool unreachable = false;
  for (int round = 0;; ++round) {
    const int64_t now = MonoMs();
    const bool down = unreachable || S.down.load();
    const uint64_t allowance =
        down && S.o->on_unavailable == OnUnavailable::kLocal ? S.o->local_allowance : 0;
    ReserveOutcome refusal;
    bool refused = false, wake = false;
    std::vector<TakeReq> needs;
    std::vector<Window> allowance_started;
    auto held = S.local->ReserveLeased(account, charges, [&](std::vector<LmdbStore::LeaseSlot>& slots) {
      refusal = ReserveOutcome{};
      refused = wake = false;
      needs.clear();
      allowance_started.clear();
      std::vector<LeaseFit> fits(slots.size());
      bool all = true;
      for (size_t i = 0; i < slots.size(); ++i) {
        auto& s = slots[i];
        const QuotaCharge& c = charges[s.first];
        if (c.limit == kUnlimited) continue;  // not leased
        LeaseEntry e = LeaseEntryOf(s.entry, c.limit, c.span.reset, S.boot, s.committed);
        e.limit = c.limit;
        e.reset = c.span.reset;
        NoteDemand(&e, round == 0 ? s.amount : 0, now, S.t);  // counted once, in use each round
        s.entry = e;
        s.write = true;
        if (force) {
          fits[i].fits = true;
          continue;
        }
        fits[i] = CheckLease(e, s.amount, s.held, s.committed, c.limit, allowance, now);
        if (fits[i].fits) continue;
        all = false;
        if (fits[i].exhausted) {
          if (!refused) refusal = ReserveOutcome{false, s.first, e.others + s.committed, s.held};
          refused = true;
          continue;
        }
        needs.push_back(TakeOf(s.key, account, c.window, c.span, c.limit,
                               std::max(fits[i].shortfall, LeaseBlock(e, now, S.t)), S.NewKey(),
                               e));
      }
      if (!all) return false;
      for (size_t i = 0; i < slots.size(); ++i) {
        auto& s = slots[i];
        if (!s.entry || charges[s.first].limit == kUnlimited) continue;
        LeaseEntry& e = *s.entry;
        if (fits[i].allowance && e.allowance_used == 0)
          allowance_started.push_back(charges[s.first].window);
        NoteHeld(&e, s.amount, fits[i].allowance, now);
        const uint64_t avail = LeaseAvailable(e, s.held + s.amount, now);
        if (avail * 2 < LeaseBlock(e, now, S.t)) wake = true;
      }
      return true;
    });
    if (!held.ok()) return held.status();
    if (held.value()) {
      for (const Window w : allowance_started) {
        KvLine l;
        l.Add("store", "postgresql").Add("action", "local-allowance").Add("account", account)
            .Add("window", WindowName(w)).Add("allowance", S.o->local_allowance);
        S.Log(Logger::Level::kWarning, l.str());
      }
      if (wake) S.Wake();
      return ReserveOutcome{};
    }
    if (refused) return refusal;  // the fleet has nothing left in that window
    if (down)
      return Status::Unavailable(
          allowance > 0
              ? "postgresql: unreachable; this node's leased units and local allowance for the window are spent"
              : "postgresql: unreachable, and this node holds no leased unit of the window to spend");
    if (round >= kMaxTakeRounds || MonoMs() >= give_up)
      return Status::Unavailable("postgresql: no lease in time");
    ++S.reserve_takes;
    Status st = S.TakeNow(needs, give_up);
    if (!st.ok()) {
      if (st.code() != Status::Code::kUnavailable) return st;
      unreachable = true;  // next round: the on_unavailable policy
    }
  }
}

void PgLeases::Release(std::string_view account, const std::vector<QuotaCharge>& held) {
  s_->local->Release(account, held);
}

Result<std::vector<QuotaAlert>> PgLeases::Commit(std::string_view account,
                                                 const std::vector<QuotaCharge>& held,
                                                 const QueueEntry* queue, int64_t now) {
  State& S = *s_;
  S.Start();
  const int64_t ms = MonoMs();
  const bool storable = PgCheckAccountName(account).ok();
  Status st = S.local->CommitLeased(account, held, queue, [&](std::vector<LmdbStore::LeaseSlot>& slots) {
    if (!storable) return;  // counted here only (Reserve refused such a name)
    for (auto& s : slots) {
      const QuotaCharge& c = held[s.first];
      if (c.limit == kUnlimited || s.amount == 0) continue;
      // s.committed has this commit's units already.
      LeaseEntry e = LeaseEntryOf(s.entry, c.limit, c.span.reset, S.boot,
                                  s.committed - std::min(s.committed, s.amount));
      NoteCommitted(&e, s.amount, ms);
      s.entry = e;
      s.write = true;
    }
  });
  if (!st.ok()) {
    S.local->Release(account, held);
    return st;
  }
  if (storable) {
    std::lock_guard<std::mutex> lk(S.acct_mu);
    if (S.known.find(account) == S.known.end()) S.to_create.emplace(account, now);
  }
  return std::vector<QuotaAlert>{};
}

Result<std::vector<WindowUsage>> PgLeases::Usage(std::string_view account,
                                                 const std::vector<WindowUsage>& windows) {
  State& S = *s_;
  std::vector<WindowUsage> out = windows;
  for (auto& w : out) w.used = 0;
  if (windows.empty()) return out;
  std::set<std::string> keys;
  for (const auto& w : windows) keys.insert(LmdbStore::LeaseKey(account, w.window, w.span.start));
  if (PgCheckAccountName(account).ok()) {  // else PostgreSQL holds no such name
    Status st = S.Pooled([&](PgConn& c) -> Status {
      // This node's unreported units first, so that the fleet's count has them.
      Status s = S.Drive(c, &keys, /*give_back=*/false);
      if (!s.ok()) return s;
      std::vector<int> wins;
      std::vector<int64_t> starts;
      for (const auto& w : windows) {
        wins.push_back(static_cast<int>(w.window));
        starts.push_back(w.span.start);
      }
      auto r = c.Exec(
          "SELECT u.ord, coalesce(w.committed + w.late, 0)"
          " FROM unnest($2::int[], $3::bigint[]) WITH ORDINALITY AS u(win, start, ord)"
          " LEFT JOIN quota_windows w ON w.account = $1 AND w.win = u.win AND w.start = u.start",
          {std::string(account), IntArray(wins), IntArray(starts)}, kCallTimeout);
      S.Note(r);
      if (!r.ok()) return r.status();
      for (int i = 0; i < r.value().rows(); ++i) {
        const int64_t ord = r.value().GetInt(i, 0);
        if (ord >= 1 && ord <= static_cast<int64_t>(out.size()))
          out[static_cast<size_t>(ord - 1)].used = static_cast<uint64_t>(r.value().GetInt(i, 1));
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
  }
  // What the node counted and PostgreSQL does not have yet.
  Status st = S.local->ReadLeases([&](Ledger& L) {
    for (auto& w : out) {
      std::optional<LeaseEntry> e;
      Status s = L.Get(LmdbStore::LeaseKey(account, w.window, w.span.start), &e);
      if (!s.ok()) return s;
      if (!e) continue;
      w.used += e->unreported + (e->pending == LeaseOp::kCommit ? e->pending_units : 0);
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<uint64_t> PgLeases::ResetUsage(std::string_view account, Window window,
                                      const WindowSpan& span, const Store::UsageAudit& audit) {
  State& S = *s_;
  uint64_t was = 0;
  if (!PgCheckAccountName(account).ok()) return was;  // PostgreSQL holds no such name
  const std::set<std::string> keys = {LmdbStore::LeaseKey(account, window, span.start)};
  Status st = S.Pooled([&](PgConn& c) -> Status {
    // This node's unreported units first: what it sent before the reset
    // goes with the reset.
    Status s = S.Drive(c, &keys, /*give_back=*/false);
    if (!s.ok()) return s;
    return c.Transaction([&](PgConn& t) -> Status {
      was = 0;
      const std::vector<PgParam> key = {std::string(account), PgInt(static_cast<int>(window)),
                                        PgInt(span.start)};
      auto r = t.Exec(
          "SELECT committed + late FROM quota_windows WHERE account = $1 AND win = $2 AND "
          "start = $3 FOR NO KEY UPDATE",
          key);
      if (!r.ok()) return r.status();
      if (r.value().rows() == 0 || r.value().GetInt(0, 0) <= 0) return Status::Ok();
      was = static_cast<uint64_t>(r.value().GetInt(0, 0));
      auto u = t.Exec(
          "UPDATE quota_windows SET committed = 0, late = 0, alerted = 0 "
          "WHERE account = $1 AND win = $2 AND start = $3",
          key);
      if (!u.ok()) return u.status();
      return PgInsertAudit(t, audit(was));
    });
  });
  if (!st.ok()) return st;
  return was;
}

Status PgLeases::Settle() {
  State& S = *s_;
  if (S.down.load()) return Status::Unavailable("postgresql: unreachable");
  return S.Pooled([&](PgConn& c) -> Status {
    Status st = S.Drive(c, nullptr, S.spent_here.load());
    Status a = S.CreateAccounts(c, kCallTimeout);
    return st.ok() ? a : st;
  });
}

}  // namespace senderguard
