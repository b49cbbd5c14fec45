#include "senderguard/store/postgresql/pg_conn.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <libpq-fe.h>

#include "senderguard/base/text.h"

namespace senderguard {

// ---- PgResult

PgResult::PgResult(pg_result* r) : r_(r) {}
PgResult::~PgResult() {
  if (r_ != nullptr) PQclear(r_);
}
PgResult::PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
PgResult& PgResult::operator=(PgResult&& o) noexcept {
  if (this != &o) {
    if (r_ != nullptr) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}
int PgResult::rows() const { return r_ == nullptr ? 0 : PQntuples(r_); }
int PgResult::cols() const { return r_ == nullptr ? 0 : PQnfields(r_); }
bool PgResult::IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
std::string_view PgResult::Get(int row, int col) const {
  if (IsNull(row, col)) return {};
  return std::string_view(PQgetvalue(r_, row, col),
                          static_cast<size_t>(PQgetlength(r_, row, col)));
}
int64_t PgResult::GetInt(int row, int col) const {
  if (IsNull(row, col)) return 0;
  return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10);
}
bool PgResult::GetBool(int row, int col) const { return Get(row, col) == "t"; }

PgParam PgInt(int64_t v) { return std::to_string(v); }
PgParam PgBool(bool v) { return std::string(v ? "t" : "f"); }
PgParam PgBytes(std::string_view bytes) {
  std::string s = "\\x";
  s.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    s.push_back(LowerHexDigit(c >> 4));
    s.push_back(LowerHexDigit(c));
  }
  return s;
}

// ---- PgConn

namespace {

// libpq prints notices (RAISE NOTICE, "relation already exists, skipping")
// to stderr by default; the store has nothing to say about them.
void IgnoreNotice(void*, const PGresult*) {}

// libpq's message on one line. A line break ends a sentence ("; ") unless
// it only wraps one: libpq indents a wrapped line with a tab, and a new
// sentence there starts with a capital ("refused\n\tIs the server running"
// -> "refused; Is the server running", "abnormally\n\tbefore" -> "abnormally
// before"). Runs of spaces ("FATAL:  ") become one.
std::string Trimmed(const char* s) {
  const std::string_view in = s == nullptr ? "" : s;
  std::string m;
  m.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char ch = in[i];
    if (ch == '\n') {
      size_t j = i + 1;
      while (j < in.size() && (in[j] == '\t' || in[j] == ' ')) ++j;
      const bool wrapped = j > i + 1 && j < in.size() && !(in[j] >= 'A' && in[j] <= 'Z');
      while (!m.empty() && m.back() == ' ') m.pop_back();
      if (j < in.size() && !m.empty()) m += wrapped ? " " : "; ";
      i = j - 1;
    } else if (ch == '\t' || ch == ' ') {
      if (!m.empty() && m.back() != ' ') m += ' ';
    } else {
      m += ch;
    }
  }
  while (!m.empty() && (m.back() == ' ' || m.back() == ';')) m.pop_back();
  return m;
}

// The parameters as libpq takes them: NULL for a NULL.
std::vector<const char*> ParamValues(const std::vector<PgParam>& params) {
  std::vector<const char*> values(params.size());
  for (size_t i = 0; i < params.size(); ++i)
    values[i] = params[i].has_value() ? params[i]->c_str() : nullptr;
  return values;
}

// A statement's first 60 bytes on one line: what its errors name.
std::string Head(std::string_view sql) {
  std::string head(sql.substr(0, std::min<size_t>(sql.size(), 60)));
  for (char& ch : head)
    if (ch == '\n') ch = ' ';
  return head;
}

}  // namespace

Status PgConn::CheckConninfo(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts != nullptr) {
    PQconninfoFree(opts);
    return Status::Ok();
  }
  std::string m = err != nullptr ? Trimmed(err) : std::string("out of memory");
  if (err != nullptr) PQfreemem(err);
  return Status::Invalid(m);
}

namespace {

// libpq says "no password supplied" when its password file gave none: the
// file is missing or unreadable, or no line matches, which a misspelt
// database or user name also causes (a user test met all three). Names
// what was looked for.
std::string PasswordHint(PGconn* c) {
  if (std::string_view(PQerrorMessage(c)).find("no password supplied") == std::string_view::npos)
    return "";
  std::string passfile;
  if (PQconninfoOption* opts = PQconninfo(c)) {
    for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o)
      if (std::strcmp(o->keyword, "passfile") == 0 && o->val != nullptr) passfile = o->val;
    PQconninfoFree(opts);
  }
  const auto str = [](const char* v) { return std::string(v != nullptr ? v : ""); };
  const std::string whose =
      " (no password for user \"" + str(PQuser(c)) + "\" and database \"" + str(PQdb(c)) + "\": ";
  // libpq ignores a password file that others may read, saying so only on
  // standard error (a user test's 0644 file read as "missing").
  struct stat st {};
  if (!passfile.empty() && ::stat(passfile.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    return whose + "the password file " + passfile +
           " is readable by others, and libpq ignores it: chmod 0600 it)";
  if (passfile.empty()) passfile = "~/.pgpass (or $PGPASSFILE)";
  return whose + "the password file " + passfile +
         " is missing or unreadable, or none of its lines matches host:port:database:user;"
         " a misspelt database or user name shows this way too)";
}

}  // namespace

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& conninfo,
                                                const std::string& application_name) {
  // Keywords and values, so that conninfo may be a URI or key=value pairs
  // and application_name is not left to the string's parser.
  const char* keys[] = {"dbname", "application_name", "connect_timeout", nullptr};
  const char* values[] = {conninfo.c_str(), application_name.c_str(), "5", nullptr};
  // expand_dbname = 1: "dbname" holds the whole connection string; a
  // connect_timeout in it wins over the default 5 s given after it? No:
  // later keywords override, so the 5 s applies only when conninfo gives
  // none (libpq ignores a NULL or empty value; checked below).
  if (conninfo.find("connect_timeout") != std::string::npos) values[2] = "";
  PGconn* c = PQconnectdbParams(keys, values, 1);
  if (c == nullptr) return Status::Unavailable("postgresql: out of memory connecting");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string m = Trimmed(PQerrorMessage(c)) + PasswordHint(c);
    PQfinish(c);
    return Status::Unavailable("postgresql: cannot connect: " + m);
  }
  PQsetNoticeReceiver(c, IgnoreNotice, nullptr);
  return std::unique_ptr<PgConn>(new PgConn(c));
}

PgConn::~PgConn() {
  if (c_ != nullptr) PQfinish(c_);
}

Status PgConn::ErrorOf(pg_result* r, std::string_view what) const {
  const char* state = r == nullptr ? nullptr : PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string msg = Trimmed(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(c_));
  if (msg.empty()) msg = Trimmed(PQerrorMessage(c_));
  std::string m = "postgresql: " + std::string(what) + ": " +
                  (state != nullptr ? std::string(state) + " " : std::string()) + msg;
  if (PQstatus(c_) != CONNECTION_OK || state == nullptr) return Status::Unavailable(m);
  std::string_view s(state);
  if (s.substr(0, 2) == "08" || s.substr(0, 2) == "57" || s == "25006")  // connection, shutdown, read-only
    return Status::Unavailable(m);
  if (s.substr(0, 2) == "22" || s.substr(0, 2) == "23" || s == "P0001") return Status::Invalid(m);
  return Status::Io(m);
}

Result<PgResult> PgConn::Exec(std::string_view sql, const std::vector<PgParam>& params) {
  if (c_ == nullptr || PQstatus(c_) != CONNECTION_OK)
    return Status::Unavailable("postgresql: not connected");
  std::string q(sql);
  PGresult* r;
  if (params.empty()) {
    r = PQexec(c_, q.c_str());
  } else {
    const std::vector<const char*> values = ParamValues(params);
    r = PQexecParams(c_, q.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                     nullptr, nullptr, 0);
  }
  PgResult res(r);
  ExecStatusType st = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ErrorOf(r, Head(sql));
  return res;
}

Result<PgResult> PgConn::Exec(std::string_view sql, const std::vector<PgParam>& params,
                              std::chrono::milliseconds timeout) {
  if (c_ == nullptr || PQstatus(c_) != CONNECTION_OK)
    return Status::Unavailable("postgresql: not connected");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string q(sql);
  const std::vector<const char*> values = ParamValues(params);
  const std::string head = Head(sql);
  // Shuts the socket: libpq then finds the connection broken (Healthy()
  // false, so a pool drops it) and its state stays consistent for Reset().
  auto give_up = [&](const std::string& why) -> Status {
    ::shutdown(PQsocket(c_), SHUT_RDWR);
    (void)PQconsumeInput(c_);
    while (PGresult* r = PQgetResult(c_)) PQclear(r);
    return Status::Unavailable("postgresql: " + head + ": " + why);
  };
  auto wait = [&](short events) -> bool {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{PQsocket(c_), events, 0};
    int rc;
    do {
      rc = ::poll(&p, 1, static_cast<int>(left.count()));
    } while (rc < 0 && errno == EINTR);
    return rc > 0;
  };
  if (PQsendQueryParams(c_, q.c_str(), static_cast<int>(params.size()), nullptr,
                        values.empty() ? nullptr : values.data(), nullptr, nullptr, 0) == 0)
    return ErrorOf(nullptr, head);
  // Non-blocking sends: PQflush returns 1 while data remains.
  if (PQsetnonblocking(c_, 1) != 0) return ErrorOf(nullptr, head);
  for (;;) {
    const int f = PQflush(c_);
    if (f == 0) break;
    if (f < 0) {
      PQsetnonblocking(c_, 0);
      return ErrorOf(nullptr, head);
    }
    if (!wait(POLLOUT)) {
      PQsetnonblocking(c_, 0);
      return give_up("no answer in " + std::to_string(timeout.count()) + " ms");
    }
  }
  PQsetnonblocking(c_, 0);
  PgResult last;
  pg_result* last_raw = nullptr;
  for (;;) {
    while (PQisBusy(c_) != 0) {
      if (!wait(POLLIN)) return give_up("no answer in " + std::to_string(timeout.count()) + " ms");
      if (PQconsumeInput(c_) == 0) return ErrorOf(nullptr, head);
    }
    PGresult* r = PQgetResult(c_);
    if (r == nullptr) break;
    last = PgResult(r);
    last_raw = r;
  }
  ExecStatusType st = last_raw == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(last_raw);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ErrorOf(last_raw, head);
  return last;
}

Status PgConn::Transaction(const std::function<Status(PgConn&)>& fn, std::string_view begin) {
  for (int attempt = 0;; ++attempt) {
    auto b = Exec(begin);
    if (!b.ok()) return b.status();
    Status st = fn(*this);
    if (st.ok()) {
      auto c = Exec("COMMIT");
      if (c.ok()) return Status::Ok();
      st = c.status();
    } else if (PQtransactionStatus(c_) != PQTRANS_IDLE && Healthy()) {
      (void)Exec("ROLLBACK");
    }
    bool retry = attempt < 4 && (st.message().find(" 40001 ") != std::string::npos ||
                                 st.message().find(" 40P01 ") != std::string::npos);
    if (!retry) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(5 << attempt));
  }
}

bool PgConn::Healthy() const { return c_ != nullptr && PQstatus(c_) == CONNECTION_OK; }

bool PgConn::StillUp() const {
  if (!Healthy()) return false;
  // An idle pooled connection (no LISTEN) has nothing to read unless the
  // server ended it: a restart's or failover's "terminating connection due
  // to administrator command", which libpq sees as a broken connection only
  // at the next statement. Anything to read: not handed out (a reconnect
  // costs less than a statement that fails).
  pollfd p{PQsocket(c_), POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

Status PgConn::Reset() {
  PQreset(c_);
  if (PQstatus(c_) != CONNECTION_OK)
    return Status::Unavailable("postgresql: cannot reconnect: " + Trimmed(PQerrorMessage(c_)));
  return Status::Ok();
}

int PgConn::Socket() const { return c_ == nullptr ? -1 : PQsocket(c_); }

Result<std::vector<PgNotification>> PgConn::Notifications() {
  if (PQconsumeInput(c_) == 0)
    return Status::Unavailable("postgresql: connection lost: " + Trimmed(PQerrorMessage(c_)));
  std::vector<PgNotification> out;
  while (PGnotify* n = PQnotifies(c_)) {
    out.push_back({n->relname != nullptr ? n->relname : "", n->extra != nullptr ? n->extra : ""});
    PQfreemem(n);
  }
  return out;
}

// ---- PgPool

PgPool::PgPool(std::string conninfo, std::string application_name, size_t size)
    : conninfo_(std::move(conninfo)), application_name_(std::move(application_name)),
      size_(size == 0 ? 1 : size) {}

PgPool::~PgPool() = default;

PgPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->Return(std::move(conn_));
}

void PgPool::Return(std::unique_ptr<PgConn> conn) {
  std::lock_guard<std::mutex> lk(mu_);
  if (conn->Healthy()) {
    idle_.push_back(std::move(conn));
  } else {
    // Dropped; the next Acquire opens a fresh one. The idle ones were opened
    // before it broke and went the same way when the server restarted or
    // failed over: they go too, rather than each failing one statement.
    open_ -= 1 + idle_.size();
    idle_.clear();
  }
  cv_.notify_all();
}

Result<PgPool::Lease> PgPool::Acquire(std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lk(mu_);
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (idle_.empty() && open_ >= size_) {
    if (cv_.wait_until(lk, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= size_)
      return Status::Unavailable("postgresql: all " + std::to_string(size_) +
                                 " connections busy");
  }
  while (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    if (c->StillUp()) return Lease(this, std::move(c));
    --open_;  // the server ended it while it was idle
  }
  ++open_;
  lk.unlock();
  auto c = PgConn::Connect(conninfo_, application_name_);
  if (!c.ok()) {
    std::lock_guard<std::mutex> relock(mu_);
    --open_;
    cv_.notify_one();
    return c.status();
  }
  return Lease(this, std::move(c.value()));
}

Status PgPool::Transaction(const std::function<Status(PgConn&)>& fn, std::string_view begin) {
  auto conn = Acquire();
  if (!conn.ok()) return conn.status();
  return (*conn.value()).Transaction(fn, begin);
}

}  // namespace senderguard
