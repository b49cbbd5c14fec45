// One SMTP connection as the milter sees it, and the process-wide context
// its callbacks share. libmilter may run one connection's callbacks on
// different threads (Debian builds it with a worker pool): all state lives
// in the Session reached through smfi_getpriv, never in thread_local.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "senderguard/config.h"
#include "senderguard/identity.h"
#include "senderguard/kvlog.h"
#include "senderguard/policy.h"
#include "senderguard/records.h"
#include "senderguard/store.h"

namespace senderguard::milter {

// Shared by every connection. The configuration is swapped whole on reload;
// each Session keeps the one it started with.
class Context {
 public:
  Context(std::shared_ptr<const Config> cfg, Store* store, Logger* logger)
      : cfg_(std::move(cfg)), store_(store), logger_(logger) {}
  std::shared_ptr<const Config> config() const {
    std::lock_guard<std::mutex> lk(mu_);
    return cfg_;
  }
  void set_config(std::shared_ptr<const Config> cfg) {
    std::lock_guard<std::mutex> lk(mu_);
    cfg_ = std::move(cfg);
  }
  Store* store() const { return store_; }
  Logger* logger() const { return logger_; }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Config> cfg_;
  Store* store_;
  Logger* logger_;
};

// What the callbacks return, independent of libmilter's types.
struct StepResult {
  Verdict verdict = Verdict::kContinue;
  Reply reply;  // used when verdict != kContinue
};

class Session {
 public:
  Session(Context* ctx, std::string client_address);
  ~Session();

  StepResult OnMail(std::string_view envelope_from, std::string_view sasl_login);
  StepResult OnRcpt(std::string_view recipient, std::string_view queue_id);
  // A header field of the message (only Message-ID and our token header
  // are looked at).
  void OnHeader(std::string_view name, std::string_view value);
  // At end of message, before OnEom: how many copies of the feedback-token
  // header the message brought (to delete: a client must not choose the
  // account a complaint blames), and the token to add ("" for none).
  int TokenHeadersSeen() const { return txn_.token_headers; }
  std::string Token() const;
  StepResult OnEom(std::string_view queue_id);
  void OnAbort();

  // For the callback guard: the answer to an unexpected failure.
  StepResult OnInternalError(std::string_view stage, std::string_view what);

 private:
  // Per-transaction state, reset at MAIL FROM, end of message and abort.
  struct Txn {
    bool active = false;
    std::optional<Identity> identity;
    std::optional<AccountRecord> record;
    std::vector<QuotaCharge> held;  // merged per window instance
    std::vector<std::string> recipients;
    std::string message_id;
    int token_headers = 0;
  };
  void ResetTxn();
  StepResult Act(const Decision& d, std::string_view stage, std::string_view queue_id);
  void LogDecision(const Decision& d, std::string_view stage, std::string_view queue_id);
  void Hold(const std::vector<QuotaCharge>& charges);
  void Alert(const QuotaAlert& a, std::string_view queue_id);
  const AccountRecord* record() const { return txn_.record ? &*txn_.record : nullptr; }

  Context* ctx_;
  std::shared_ptr<const Config> cfg_;
  std::string client_address_;
  Txn txn_;
};

}  // namespace senderguard::milter
