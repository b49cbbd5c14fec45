// Resolver: the one DNS resolver of the process. SPF (libspf2, through a
// custom DNS layer), DKIM keys (libopendkim, through its query hooks) and
// DMARC records (fetched by us) all ask it; nothing falls back to the system
// resolver (res_query, getaddrinfo, /etc/hosts) behind the configuration's
// back.
//
// Built on libunbound: one ub_ctx, one shared cache, used by every thread.
//
// Upstream. The configured forwarders ("192.0.2.1", "127.0.0.1@5353",
// "2001:db8::1@53") or, when none are configured, the nameservers of
// resolv.conf. libunbound forwards everything to them (a forward zone for "."
// without forward-first): it never recurses from the root on its own and never
// reads /etc/hosts (ub_ctx_hosts is not called). A forwarder on loopback is
// allowed (do-not-query-localhost: no), since resolv.conf often names a local
// cache (127.0.0.53, 127.0.0.1).
//
// Cache. libunbound's cache keeps positive answers for their TTL and
// NXDOMAIN/NODATA answers for the SOA minimum of their authority section
// (RFC 2308 §5), both bounded in bytes (msg-cache-size, rrset-cache-size) and
// in time (cache-max-ttl, cache-max-negative-ttl). How long a negative answer
// without an SOA is kept is libunbound's choice (briefly, if at all). Negative
// answers are cached per (name, type): an NXDOMAIN for TXT does not answer a
// later A question.
//
// Answer cache. Reaching libunbound's cache costs ~60 us of CPU per lookup
// (the question and the answer cross libunbound's thread and ours through
// pipes), more than a whole DMARC verdict. So answers (NOERROR, NXDOMAIN,
// NODATA; never failures or timeouts) are also kept here, per (name, type),
// for the TTL libunbound reported, capped by cache_max_ttl /
// cache_max_negative_ttl, within answer_cache_entries and
// answer_cache_bytes (when either is reached, expired entries go, then
// everything: the names are chosen by senders, so the bound matters more
// than the hit rate). An answer is kept without its `wire` copy, and one
// over 1/64 of the byte budget is not kept. A hit returns the stored answer
// (wire empty) with its TTL counted down. ResolverStats counts the hits.
//
// Special-use names. libunbound answers some names itself (RFC 6761/6762/
// 7686: localhost, the reverse zones of loopback and RFC 1918, "test.",
// "invalid.", "onion.", "home.arpa."...) without asking upstream. Mail never
// needs those answered by a server, except in tests that serve "*.test"
// domains from a DNS server on loopback: ResolverOptions::forward_test_tld
// sends "test." upstream.
//
// DNSSEC. Not validated: the context runs libunbound's iterator only (no
// validator module, no trust anchor); answers are taken as the upstream gives
// them. A validating upstream (a local unbound) still protects the path
// behind it; the path to it is trusted.
//
// Timeouts and threads. libunbound has no per-query timeout, so each lookup
// is asynchronous: Lookup() registers a waiter under a token, calls
// ub_resolve_async (libunbound's background *thread*, ub_ctx_async(ctx, 1),
// does the network work) and sleeps on its own condition variable until its
// deadline. One dispatcher thread owned by the Resolver waits on ub_fd() and
// calls ub_process(); the completion callback runs there, finds the waiter
// by token under a mutex, hands it the result and wakes it. A waiter whose
// deadline passes removes its token under that mutex and calls ub_cancel
// (without holding the mutex); a result that arrives for a token that is
// gone is freed by the dispatcher. So any number of threads wait at once, each
// with its own deadline, no thread ever blocks inside libunbound, and no
// result outlives its lookup. A timed-out query keeps running inside
// libunbound until its own retries end (its answer, if any, then lands in the
// cache for the next lookup).
//
// Lifetime. Create the Resolver after any fork (its threads do not survive
// one). Its two threads (the dispatcher, and libunbound's, started by the
// dispatcher with a local "localhost." lookup that sends nothing) block every
// signal, whatever the creating thread's mask.
//
// Thread safety: every method may be called from any number of threads at
// once. No method throws.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "senderguard/base/status.h"

struct ub_ctx;
struct ub_result;

namespace senderguard::dns {

// RR types in host order (RFC 1035 §3.2.2, RFC 3596).
inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeNs = 2;
inline constexpr uint16_t kTypeCname = 5;
inline constexpr uint16_t kTypePtr = 12;
inline constexpr uint16_t kTypeMx = 15;
inline constexpr uint16_t kTypeTxt = 16;
inline constexpr uint16_t kTypeAaaa = 28;

// Caps on what one answer may hand to callers. Records beyond them are
// dropped and counted in DnsAnswer::dropped, never truncated: a cut TXT
// record would change meaning silently.
inline constexpr size_t kMaxRecords = 64;      // per answer
inline constexpr size_t kMaxTxtBytes = 4096;   // per TXT record, joined
inline constexpr size_t kMaxNameLength = 253;  // presentation, no final dot
inline constexpr size_t kMaxLabelLength = 63;

struct MxRecord {
  uint16_t preference = 0;
  std::string host;  // presentation form, no final dot ("" for the root, RFC 7505 null MX)
};

struct DnsAnswer {
  // RFC 7208 §5 and RFC 9989 treat every failure to get an answer (SERVFAIL,
  // REFUSED, any RCODE other than 0 and 3, a timeout, a network error) as
  // temporary: those are kTempFail. kPermFail is reserved for questions that
  // can never succeed: a malformed name or type, refused before any query.
  enum class Rcode { kOk, kNxDomain, kNoData, kTempFail, kPermFail };

  Rcode rcode = Rcode::kTempFail;

  // Filled by type; each filled vector is index-aligned with `rdata`.
  // TXT: each RR's character-strings concatenated without separator (RFC 7208
  // §3.3, RFC 9989 / RFC 7489 §6.1), bytes exactly as received (may contain
  // NUL or non-ASCII bytes; an RR of only empty strings gives "").
  std::vector<std::string> txt;
  // A / AAAA: addresses as text ("192.0.2.1", "2001:db8::1").
  std::vector<std::string> addresses;
  // MX.
  std::vector<MxRecord> mx;
  // PTR / NS / CNAME: target names, presentation form, no final dot. Bytes
  // other than letters, digits, '-' and '_' are escaped as \DDD (RFC 1035 §5.1).
  std::vector<std::string> names;
  // Every type: each kept RR's rdata, as received (A: 4 bytes, AAAA: 16).
  std::vector<std::string> rdata;

  // The TTL of the answer in seconds (for a negative answer, the time
  // libunbound will keep it). 0 unless rcode is kOk/kNxDomain/kNoData.
  uint32_t ttl = 0;
  // The final name after CNAMEs, presentation form ("" if none was reported).
  std::string canonical_name;
  // The answer as a DNS message in wire format (RFC 1035 §4), as libunbound
  // assembled it from the upstream answer or its cache. Empty when there was
  // no answer (timeout, refused name) and when it came from the answer cache.
  std::string wire;
  bool timed_out = false;
  size_t dropped = 0;  // records dropped: over a cap, or rdata malformed
  // Why a kTempFail / kPermFail happened, for a log line.
  std::string error;

  bool ok() const { return rcode == Rcode::kOk; }
};

// "ok", "nxdomain", "nodata", "tempfail", "permfail": for key=value log lines.
std::string_view RcodeName(DnsAnswer::Rcode r);

// Whether `name` may be asked: presentation form, an optional final dot,
// at most 253 bytes without it, labels of 1..63 bytes, only printable ASCII
// other than backslash (no escapes reach libunbound; internationalized names
// must arrive as A-labels) and no spaces. "." (the root) is valid; "" is not.
// On failure, `why` (if given) says what is wrong.
bool ValidQueryName(std::string_view name, std::string* why = nullptr);

struct ResolverOptions {
  // Forwarders, "ADDRESS[@PORT]". Empty: the nameservers of `resolv_conf`
  // (ub_ctx_resolvconf; a resolv.conf without any means 127.0.0.1).
  std::vector<std::string> upstreams;
  std::string resolv_conf = "/etc/resolv.conf";
  // Default per-lookup timeout; range 10 ms .. 60 s.
  std::chrono::milliseconds timeout{5000};
  // Cache bounds (libunbound msg-cache-size / rrset-cache-size).
  size_t msg_cache_bytes = 4u << 20;
  size_t rrset_cache_bytes = 8u << 20;
  uint32_t cache_max_ttl = 86400;          // cache-max-ttl, seconds
  uint32_t cache_max_negative_ttl = 3600;  // cache-max-negative-ttl, seconds
  // Send "test." upstream instead of answering NXDOMAIN locally (tests).
  bool forward_test_tld = false;
  // The answer cache in front of libunbound (see above); 0 turns it off.
  size_t answer_cache_entries = 20000;
  size_t answer_cache_bytes = 8u << 20;
};

// Counters since creation; read with relaxed ordering (for stats and tests).
struct ResolverStats {
  uint64_t cache_hits = 0;     // questions answered from the answer cache
  uint64_t lookups = 0;        // questions handed to libunbound
  uint64_t answered = 0;       // ... that came back before their deadline
  uint64_t timeouts = 0;       // ... whose deadline passed
  uint64_t temp_failures = 0;  // kTempFail results, timeouts included
  uint64_t refused_names = 0;  // malformed names/types, never asked
  uint64_t dropped_records = 0;
};

class Resolver {
 public:
  // Builds the context and starts the dispatcher and libunbound's thread. Returns
  // Status::Invalid for a bad option or forwarder address, Status::Io when
  // resolv.conf cannot be read, Status::Unavailable when libunbound or the
  // threads cannot be set up. Nothing is sent upstream before the first lookup.
  static Result<std::unique_ptr<Resolver>> Create(const ResolverOptions& options);

  // REQUIRES: no Lookup in progress on another thread.
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Asks for `type` records (class IN) of `name` and waits at most the
  // configured timeout (or `timeout` when given). Never throws; every failure
  // is in the returned answer. A name failing ValidQueryName, or a type of 0,
  // gives kPermFail without any query.
  DnsAnswer Lookup(std::string_view name, uint16_t type);
  DnsAnswer Lookup(std::string_view name, uint16_t type, std::chrono::milliseconds timeout);

  // Lookup(name, kTypeTxt).
  DnsAnswer Txt(std::string_view name) { return Lookup(name, kTypeTxt); }

  // Whether the answer cache holds an unexpired answer for the question (a
  // Lookup would return at once). Asks nothing, counts nothing.
  bool IsCached(std::string_view name, uint16_t type);

  ResolverStats stats() const;
  // The default per-lookup timeout.
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  struct Waiter;
  Resolver(ub_ctx* ctx, int wake_fd, const ResolverOptions& options);
  bool FromCache(const std::string& key, DnsAnswer* out);
  static std::string CacheKey(std::string_view name, uint16_t type);
  void ToCache(std::string key, const DnsAnswer& a);
  static void OnResult(void* token, int err, ub_result* result);
  void Deliver(uint64_t token, int err, ub_result* result);
  void DispatchLoop();

  ub_ctx* const ctx_;
  const int wake_fd_;  // eventfd that stops the dispatcher
  const std::chrono::milliseconds timeout_;
  std::thread dispatcher_;

  std::mutex mu_;
  uint64_t next_token_ = 1;                        // guarded by mu_
  std::unordered_map<uint64_t, Waiter*> waiters_;  // guarded by mu_

  struct Cached {
    std::shared_ptr<const DnsAnswer> answer;
    std::chrono::steady_clock::time_point stored, expires;
    size_t bytes = 0;
  };
  const size_t cache_entries_;
  const size_t cache_bytes_limit_;
  size_t cache_bytes_ = 0;  // guarded by cache_mu_
  const uint32_t max_ttl_, max_negative_ttl_;
  std::mutex cache_mu_;
  std::unordered_map<std::string, Cached> cache_;  // guarded by cache_mu_

  std::atomic<uint64_t> cache_hits_{0}, lookups_{0}, answered_{0}, timeouts_{0}, temp_failures_{0},
      refused_names_{0}, dropped_records_{0};
};

}  // namespace senderguard::dns
