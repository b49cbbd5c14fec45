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

#include "senderguard/auth/message_auth.h"
#include "senderguard/config/config.h"
#include "senderguard/decide/identity.h"
#include "senderguard/base/kvlog.h"
#include "senderguard/policy/policy.h"
#include "senderguard/model/records.h"
#include "senderguard/monitor/metrics.h"
#include "senderguard/monitor/sending_tally.h"
#include "senderguard/store/store.h"

namespace senderguard::milter {

// Shared by every connection. The configuration is swapped whole on reload;
// each Session keeps the one it started with.
class Context {
 public:
  Context(std::shared_ptr<const Config> cfg, Store* store, Logger* logger, AuthServices* auth)
      : cfg_(std::move(cfg)), store_(store), logger_(logger), auth_(auth) {}
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
  // DNS, SPF and DKIM for DMARC; set up at start whatever [dmarc] mode says
  // (a reload may turn it on), so never null once the milter runs.
  AuthServices* auth() const { return auth_; }
  // The counters every connection adds to (thread-safe, lock-free).
  monitor::MilterMetrics* metrics() { return &metrics_; }
  // Each account's figures per UTC day (accepted units, refusals, tier),
  // written to the store by the reporter thread (monitor.h), not per message.
  monitor::SendingTally* sending() { return &sending_; }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Config> cfg_;
  Store* store_;
  Logger* logger_;
  AuthServices* auth_;
  monitor::MilterMetrics metrics_;
  monitor::SendingTally sending_;
};

// Logs a quota alert (action=quota-alert) and runs [milter] notify_command
// with its facts. `queue_id` is the message's that crossed the threshold;
// empty for the fleet's alerts, which come with the node's lease reports.
void ReportQuotaAlert(const Config& cfg, Logger* logger, std::string_view account,
                      const QuotaAlert& a, std::string_view queue_id);

// A change to the message's header, made at end of message: delete the
// `index`th (1-based) field called `name` (value empty), or, index 0, insert
// `name: value` at the top.
struct HeaderEdit {
  std::string name;
  int index = 0;
  std::string value;
};

// What the callbacks return, independent of libmilter's types.
struct StepResult {
  Verdict verdict = Verdict::kContinue;
  Reply reply;  // used when verdict != kContinue
  std::vector<HeaderEdit> edits;  // end of message, when accepted: apply in order
};

class Session {
 public:
  Session(Context* ctx, std::string client_address);
  ~Session();
  // The configuration this connection started with (kept across reloads).
  const Config& config() const { return *cfg_; }

  // What the MTA agreed to at negotiation (libmilter SMFIP_* flags).
  struct Protocol {
    bool no_connect_reply = false;  // SMFIP_NR_CONN
    bool no_header_reply = false;  // SMFIP_NR_HDR
    bool leading_space = false;    // SMFIP_HDR_LEADSPC
    bool skip = false;             // SMFIP_SKIP
    bool no_body_reply = false;    // SMFIP_NR_BODY
    bool change_headers = false;   // SMFIF_CHGHDRS
    bool add_headers = false;      // SMFIF_ADDHDRS
  };
  Protocol protocol;

  // The connect step (again after XCLIENT): the client's address; any
  // transaction in progress is dropped.
  void OnConnect(std::string client_address);

  void OnHelo(std::string_view helo) { helo_ = std::string(helo.substr(0, 255)); }
  StepResult OnMail(std::string_view envelope_from, std::string_view sasl_login);
  StepResult OnRcpt(std::string_view recipient, std::string_view queue_id);
  // A header field of the message, `value` with its leading white space.
  void OnHeader(std::string_view name, std::string_view value);
  // A body chunk; false once the rest of the body is not needed.
  bool OnBody(std::string_view chunk);
  // End of message: the DMARC decision, then the quota commit. When
  // accepted, `edits` say which header fields to delete (copies of the
  // feedback-token header the client brought, Authentication-Results
  // claiming our authserv-id) and which to add.
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
    bool record_read = false;  // `record` is the store's answer (none: defaults apply)
    std::vector<QuotaCharge> held;  // merged per window instance
    std::vector<std::string> recipients;
    std::string message_id;
    int token_headers = 0;
    int ar_headers = 0;               // Authentication-Results fields seen
    std::vector<int> ar_claims;       // ... of them claiming our authserv-id (1-based)
    std::unique_ptr<MessageAuth> auth;  // DMARC applies to this transaction
    std::string failed;  // a header/body step failed (no reply possible there): why
  };
  void ResetTxn();
  StepResult Act(const Decision& d, std::string_view stage, std::string_view queue_id);
  // Logs the decision's line and counts it (monitor::MilterMetrics).
  void LogDecision(const Decision& d, std::string_view stage, std::string_view queue_id);
  // The on_error decision for a store operation that failed, counted as a
  // store error.
  Decision StoreError(std::string_view what);
  void Hold(const std::vector<QuotaCharge>& charges);
  void Alert(const QuotaAlert& a, std::string_view queue_id);
  const AccountRecord* record() const { return txn_.record ? &*txn_.record : nullptr; }
  // The reputation tier the transaction's limits were taken with; 0 when
  // the account's record could not be read.
  uint8_t TierInForce() const;
  std::string Token() const;
  std::string AuthservId() const;
  // Header deletions every accepted message gets, whatever else happened:
  // copies of the feedback-token header and Authentication-Results fields
  // claiming our authserv-id, both only ever written by us.
  std::vector<HeaderEdit> CleanupEdits() const;
  // The DMARC decision at end of message (continue when it does not apply).
  Decision CheckAuthentication(std::vector<HeaderEdit>* edits,
                               std::vector<std::pair<std::string, std::string>>* fields);

  Context* ctx_;
  std::shared_ptr<const Config> cfg_;
  std::string client_address_;
  std::string helo_;
  // A connect step that failed with no reply to give (SMFIP_NR_CONN): the
  // connection's MAIL commands are answered with it.
  std::string connect_failed_;
  Txn txn_;
};

}  // namespace senderguard::milter
