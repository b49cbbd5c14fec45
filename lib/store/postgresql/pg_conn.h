// PgConn: one libpq connection, with the few things the PostgreSQL store
// needs: statements with text parameters, transactions retried on
// serialization failures and deadlocks, LISTEN/NOTIFY, and errors turned
// into Status. Not thread safe: one thread uses a connection at a time
// (PgPool hands them out).
//
// Errors: kUnavailable when the server cannot be reached or the connection
// broke (the statement may or may not have run: callers retry only what is
// idempotent, as the lease functions are by their keys), kInvalid for a
// statement the server refused for its arguments (SQLSTATE class 22, 23,
// P0001 raised by the schema's functions), kIo for anything else. Messages
// carry the SQLSTATE and the server's text.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/base/status.h"

struct pg_conn;
struct pg_result;

namespace senderguard {

// A statement's rows (owned; moves only).
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* r);
  ~PgResult();
  PgResult(PgResult&& o) noexcept;
  PgResult& operator=(PgResult&& o) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const;
  int cols() const;
  bool IsNull(int row, int col) const;
  std::string_view Get(int row, int col) const;   // "" for NULL
  int64_t GetInt(int row, int col) const;         // 0 for NULL or not a number
  bool GetBool(int row, int col) const;           // PostgreSQL's 't'

 private:
  pg_result* r_ = nullptr;
};

// A statement parameter: text, or NULL.
using PgParam = std::optional<std::string>;
PgParam PgInt(int64_t v);
PgParam PgBool(bool v);
// bytea input in hex format ("\x...").
PgParam PgBytes(std::string_view bytes);

struct PgNotification {
  std::string channel;
  std::string payload;
};

class PgConn {
 public:
  // Connects; `application_name` is shown in pg_stat_activity.
  static Result<std::unique_ptr<PgConn>> Connect(const std::string& conninfo,
                                                 const std::string& application_name);
  // Whether libpq can read `conninfo` (key=value pairs or a URI), without
  // connecting: kInvalid with libpq's reason (an unknown key, a missing '=')
  // when not.
  static Status CheckConninfo(const std::string& conninfo);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // One statement (no parameters: may be several statements separated by ';').
  Result<PgResult> Exec(std::string_view sql, const std::vector<PgParam>& params = {});
  // One statement, waiting at most `timeout` for its answer (a server that
  // stopped answering, a network that drops packets: TCP alone would wait
  // for minutes). On timeout the connection is shut (the statement may or
  // may not have run: callers resend only what is idempotent) and
  // kUnavailable returned; Reset() reconnects.
  Result<PgResult> Exec(std::string_view sql, const std::vector<PgParam>& params,
                        std::chrono::milliseconds timeout);
  // BEGIN (with `begin`, e.g. "BEGIN ISOLATION LEVEL REPEATABLE READ"), fn,
  // COMMIT; rolls back when fn fails. Runs fn again (at most 5 times in all)
  // after a serialization failure or a deadlock (SQLSTATE 40001, 40P01), so fn
  // must only touch the database and locals it resets. A broken connection
  // is not retried (kUnavailable).
  Status Transaction(const std::function<Status(PgConn&)>& fn,
                     std::string_view begin = "BEGIN");
  // Whether the connection is usable; Reset() reconnects (kUnavailable when
  // the server is still unreachable).
  bool Healthy() const;
  // Healthy(), and for an idle connection that does not LISTEN, nothing
  // sent by the server meanwhile (which would be its end), without waiting.
  bool StillUp() const;
  Status Reset();
  // For poll(): the connection's socket, -1 when broken.
  int Socket() const;
  // Reads what the server sent and returns the notifications received
  // (LISTEN), without blocking. kUnavailable when the connection broke.
  Result<std::vector<PgNotification>> Notifications();

 private:
  explicit PgConn(pg_conn* c) : c_(c) {}
  Status ErrorOf(pg_result* r, std::string_view what) const;
  pg_conn* c_ = nullptr;
};

// Connections for the threads of one program: Acquire waits up to
// `wait` for a free one, opening one when fewer than `size` are open, and
// the lease returns it when destroyed (a broken one is dropped and reopened
// on demand). Thread safe.
class PgPool {
 public:
  PgPool(std::string conninfo, std::string application_name, size_t size);
  ~PgPool();

  class Lease {
   public:
    Lease() = default;
    Lease(PgPool* pool, std::unique_ptr<PgConn> conn) : pool_(pool), conn_(std::move(conn)) {}
    ~Lease();
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) noexcept = default;
    PgConn* operator->() { return conn_.get(); }
    PgConn& operator*() { return *conn_; }

   private:
    PgPool* pool_ = nullptr;
    std::unique_ptr<PgConn> conn_;
  };
  // kUnavailable when no connection could be had in time (the message names
  // why: the server's error, or every connection busy).
  Result<Lease> Acquire(std::chrono::milliseconds wait = std::chrono::milliseconds(2000));
  // Runs fn in a transaction on a pooled connection (PgConn::Transaction).
  Status Transaction(const std::function<Status(PgConn&)>& fn, std::string_view begin = "BEGIN");

 private:
  void Return(std::unique_ptr<PgConn> conn);
  const std::string conninfo_;
  const std::string application_name_;
  const size_t size_;
  std::mutex mu_;
  std::vector<std::unique_ptr<PgConn>> idle_;
  size_t open_ = 0;
  std::condition_variable cv_;
};

}  // namespace senderguard
