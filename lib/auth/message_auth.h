// Message authentication, as the milter does it at end of message: the DNS resolver, SPF checker
// and DKIM verifier the process shares, and the per-message state that feeds
// them (From: values, Authentication-Results fields, the DKIM verification)
// and, at end of message, asks the pure DMARC code for a verdict.
//
// Everything here does I/O (DNS); the decisions stay in lib/ (dmarc.h for
// the verdict, policy.h for the reply). [dmarc] mode selects what SPF and
// DKIM mean:
//   outbound: SPF of the envelope sender's domain judged from each configured
//             egress address (pass only if it passes from all of them, since a
//             receiver may see any); DKIM = the signatures already on the
//             message that verify, plus signing_domains and the account's
//             verified domains (the platform signs with those on the way out).
//   inbound:  SPF for the connecting client's address and HELO name; DKIM =
//             the signatures that verify.
//
// Threads: one AuthServices per process, used by every connection at once.
// A MessageAuth belongs to one transaction; libmilter may call it from
// different threads, one at a time. SPF runs on its own thread from MAIL FROM
// on, so its DNS lookups overlap with the DATA phase and with the DMARC
// lookups at end of message.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "senderguard/config/config.h"
#include "senderguard/auth/dkim.h"
#include "senderguard/auth/dmarc.h"
#include "senderguard/auth/dns.h"
#include "senderguard/auth/from_header.h"
#include "senderguard/model/records.h"
#include "senderguard/auth/spf.h"
#include "senderguard/base/status.h"

namespace senderguard {

// Threads kept between tasks, so a message's SPF check starts without the
// cost of a new thread (~50 us, more than the check itself with a warm
// cache). A task runs at once on an idle thread, else on a new one while
// fewer than `max_threads` exist, else when one frees up. Thread-safe.
class TaskPool {
 public:
  explicit TaskPool(size_t max_threads) : max_threads_(max_threads) {}
  ~TaskPool();  // runs what is queued, then joins
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  template <typename F>
  auto Submit(F f) -> std::future<decltype(f())> {
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
    auto future = task->get_future();
    Enqueue([task] { (*task)(); });
    return future;
  }

 private:
  void Enqueue(std::function<void()> fn);
  void Work();

  const size_t max_threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  std::vector<std::thread> threads_;         // guarded by mu_
  size_t idle_ = 0;                          // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
};

class AuthServices {
 public:
  // Builds the resolver ([dmarc] upstream, dns_timeout_ms, test_tld), the
  // SPF checker and the DKIM verifier. Status::Invalid / Unavailable when one
  // cannot be set up.
  static Result<std::unique_ptr<AuthServices>> Create(const Config& cfg);

  dns::Resolver& resolver() { return *resolver_; }
  const spf::Checker& spf() const { return *spf_; }
  const dkim::Verifier& dkim() const { return *dkim_; }
  // The host name, the default authserv-id.
  const std::string& hostname() const { return hostname_; }
  TaskPool& pool() { return pool_; }

 private:
  AuthServices() : pool_(256) {}
  std::unique_ptr<dns::Resolver> resolver_;
  std::unique_ptr<spf::Checker> spf_;
  std::unique_ptr<dkim::Verifier> dkim_;
  std::string hostname_;
  TaskPool pool_;  // declared last, destroyed first: its tasks use the members above
};

// SPF as the message will be judged: one result and what it is about.
struct SpfSummary {
  spf::SpfResult result = spf::SpfResult::kNone;
  std::string domain;  // the identity checked (MAIL FROM domain, or HELO)
  std::string detail;  // for the log and the A-R comment: egress address(es) or client
  std::string reason;
};

// What end of message learned, for the decision and the log.
struct AuthOutcome {
  Author author;                        // From: parse (error set when unusable)
  std::optional<dmarc::Verdict> verdict;  // set when the author domain was evaluated
  SpfSummary spf;
  dkim::Verification dkim;
  std::vector<std::string> dkim_domains;  // the domains counted as DKIM pass
  // The Authentication-Results value to add (empty: none).
  std::string authentication_results;
  // key=value fields for the decision's log line (item 8 of issue 4).
  std::vector<std::pair<std::string, std::string>> fields;
};

class MessageAuth {
 public:
  // `cfg` must outlive this object (the Session holds it). `client_address`
  // and `helo` are used in inbound mode only.
  MessageAuth(AuthServices* services, const Config* cfg, std::string client_address,
              std::string helo);
  ~MessageAuth();
  MessageAuth(const MessageAuth&) = delete;
  MessageAuth& operator=(const MessageAuth&) = delete;

  // MAIL FROM: starts SPF on its own thread. `envelope_from` as the MTA gives
  // it ("<a@b.example>" or "a@b.example", "<>" for the null sender).
  void StartSpf(std::string_view envelope_from);

  // Each header, in order, the value with its leading white space: From:
  // values are kept, and every field while a DKIM signature may need it.
  void Header(std::string_view name, std::string_view value);

  // Whether body chunks are still needed (a DKIM signature is being checked).
  bool WantsBody() const;
  void Body(std::string_view chunk);

  // End of message: the verdict for the message as `account` (with `rec`,
  // may be null) sends it.
  AuthOutcome Finish(const AccountRecord* rec, std::string_view authserv_id);

 private:
  SpfSummary WaitSpf();
  // First body chunk or end of message: starts the DKIM verification when
  // the message carries a signature (headers were kept until then, so an
  // unsigned message costs no DKIM work).
  void EndHeaders();

  AuthServices* services_;
  const Config* cfg_;
  std::string client_address_;
  std::string helo_;
  std::future<SpfSummary> spf_;
  std::string spf_domain_;  // the MAIL FROM domain (or HELO) SPF is about
  std::vector<std::string> from_values_;
  size_t from_fields_ = 0;
  bool spf_helo_identity_ = false;  // null sender: SPF checked the HELO name
  std::vector<std::pair<std::string, std::string>> headers_;  // until EndHeaders
  size_t header_bytes_ = 0;
  bool headers_overflow_ = false;
  std::unique_ptr<dkim::Message> dkim_;
  bool headers_done_ = false;
  bool has_signature_ = false;
};

}  // namespace senderguard
