// Resolver over libunbound: see dns.h for the threading and caching design.
//
// Untrusted input: every byte of an answer comes from the network (a
// customer's zone, through the upstream). Rdata is decoded with a bounds
// check before every read; a record that does not decode is dropped and
// counted, never guessed at.
#include "senderguard/auth/dns.h"

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iterator>
#include <utility>

#include <unbound.h>

#include "senderguard/base/text.h"

namespace senderguard::dns {

namespace {

constexpr int kClassIn = 1;
constexpr int kRcodeNoError = 0;
constexpr int kRcodeNxDomain = 3;

// Set while a dispatcher thread runs ub_process: the completion callback
// only gets libunbound's user pointer, which carries the waiter's token.
thread_local Resolver* t_dispatching = nullptr;

std::string RcodeText(int rcode) {
  static constexpr const char* kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                           "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                           "NXRRSET", "NOTAUTH", "NOTZONE"};
  std::string s = "rcode " + std::to_string(rcode);
  if (rcode >= 0 && rcode < static_cast<int>(std::size(kNames))) {
    s += " (";
    s += kNames[rcode];
    s += ")";
  }
  return s;
}

// Appends one wire-format name (uncompressed, as libunbound stores rdata)
// starting at data[*pos] in presentation form without the final dot. Returns
// false if it runs past `len`, uses compression or exceeds 255 bytes.
bool DecodeName(const unsigned char* data, size_t len, size_t* pos, std::string* out) {
  size_t wire_len = 0;
  bool first = true;
  for (;;) {
    if (*pos >= len) return false;
    const unsigned label = data[*pos];
    if (label == 0) {
      ++*pos;
      return wire_len + 1 <= 255;
    }
    if (label > kMaxLabelLength) return false;  // compression pointer or reserved bits
    if (*pos + 1 + label > len) return false;
    wire_len += 1 + label;
    if (wire_len > 255) return false;
    if (!first) out->push_back('.');
    first = false;
    for (size_t i = 0; i < label; ++i) {
      const unsigned char c = data[*pos + 1 + i];
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_';
      if (plain) {
        out->push_back(static_cast<char>(c));
      } else {
        char esc[5];
        std::snprintf(esc, sizeof esc, "\\%03u", static_cast<unsigned>(c));
        out->append(esc, 4);
      }
    }
    *pos += 1 + label;
  }
}

// Decodes one RR's rdata of `type` into `a`. False: malformed or over a cap;
// nothing is appended then.
bool DecodeRecord(uint16_t type, const unsigned char* d, size_t len, DnsAnswer* a) {
  switch (type) {
    case kTypeTxt: {
      // RFC 1035 §3.3.14: one or more <character-string>s.
      if (len == 0) return false;
      std::string joined;
      size_t pos = 0;
      while (pos < len) {
        const size_t n = d[pos];
        if (pos + 1 + n > len) return false;
        if (joined.size() + n > kMaxTxtBytes) return false;
        joined.append(reinterpret_cast<const char*>(d + pos + 1), n);
        pos += 1 + n;
      }
      a->txt.push_back(std::move(joined));
      return true;
    }
    case kTypeA:
    case kTypeAaaa: {
      const bool v4 = type == kTypeA;
      if (len != (v4 ? 4u : 16u)) return false;
      char buf[INET6_ADDRSTRLEN];
      if (inet_ntop(v4 ? AF_INET : AF_INET6, d, buf, sizeof buf) == nullptr) return false;
      a->addresses.emplace_back(buf);
      return true;
    }
    case kTypeMx: {
      if (len < 3) return false;
      MxRecord mx;
      mx.preference = static_cast<uint16_t>((d[0] << 8) | d[1]);
      size_t pos = 2;
      if (!DecodeName(d, len, &pos, &mx.host) || pos != len) return false;
      a->mx.push_back(std::move(mx));
      return true;
    }
    case kTypePtr:
    case kTypeNs:
    case kTypeCname: {
      std::string name;
      size_t pos = 0;
      if (!DecodeName(d, len, &pos, &name) || pos != len) return false;
      a->names.push_back(std::move(name));
      return true;
    }
    default:
      return true;  // rdata only
  }
}

struct ResultFree {
  void operator()(ub_result* r) const { ub_resolve_free(r); }
};
using ResultPtr = std::unique_ptr<ub_result, ResultFree>;

// Turns libunbound's outcome into a DnsAnswer.
void Convert(uint16_t type, int err, const ub_result* r, DnsAnswer* a) {
  if (err != 0 || r == nullptr) {
    a->rcode = DnsAnswer::Rcode::kTempFail;
    a->error = std::string("resolver: ") + (err != 0 ? ub_strerror(err) : "no result");
    return;
  }
  if (r->answer_packet != nullptr && r->answer_len > 0) {
    a->wire.assign(static_cast<const char*>(r->answer_packet), static_cast<size_t>(r->answer_len));
  }
  if (r->canonname != nullptr) {
    a->canonical_name = r->canonname;
    if (a->canonical_name.size() > 1 && a->canonical_name.back() == '.') {
      a->canonical_name.pop_back();
    }
  }
  if (r->rcode == kRcodeNxDomain) {
    a->rcode = DnsAnswer::Rcode::kNxDomain;
  } else if (r->rcode != kRcodeNoError) {
    // RFC 7208 §5: any RCODE other than 0 and 3 is a temporary error.
    a->rcode = DnsAnswer::Rcode::kTempFail;
    a->error = RcodeText(r->rcode);
    return;
  } else if (!r->havedata || r->data == nullptr || r->data[0] == nullptr) {
    a->rcode = DnsAnswer::Rcode::kNoData;
  } else {
    a->rcode = DnsAnswer::Rcode::kOk;
    for (size_t i = 0; r->data[i] != nullptr; ++i) {
      if (a->rdata.size() >= kMaxRecords || r->len[i] < 0) {
        ++a->dropped;
        continue;
      }
      const auto* d = reinterpret_cast<const unsigned char*>(r->data[i]);
      const auto n = static_cast<size_t>(r->len[i]);
      if (!DecodeRecord(type, d, n, a)) {
        ++a->dropped;
        continue;
      }
      a->rdata.emplace_back(r->data[i], n);
    }
  }
  a->ttl = r->ttl > 0 ? static_cast<uint32_t>(r->ttl) : 0;
}

Status SetOption(ub_ctx* ctx, const char* name, const std::string& value) {
  const int rc = ub_ctx_set_option(ctx, name, value.c_str());
  if (rc != 0) {
    return Status::Invalid(std::string("dns: option ") + name + " " + value + ": " +
                           ub_strerror(rc));
  }
  return Status::Ok();
}

}  // namespace

std::string_view RcodeName(DnsAnswer::Rcode r) {
  switch (r) {
    case DnsAnswer::Rcode::kOk:
      return "ok";
    case DnsAnswer::Rcode::kNxDomain:
      return "nxdomain";
    case DnsAnswer::Rcode::kNoData:
      return "nodata";
    case DnsAnswer::Rcode::kTempFail:
      return "tempfail";
    case DnsAnswer::Rcode::kPermFail:
      return "permfail";
  }
  return "unknown";
}

bool ValidQueryName(std::string_view name, std::string* why) {
  auto fail = [why](const char* m) {
    if (why != nullptr) *why = m;
    return false;
  };
  if (name.empty()) return fail("empty name");
  if (name == ".") return true;
  if (name.back() == '.') name.remove_suffix(1);
  if (name.size() > kMaxNameLength) return fail("name longer than 253 bytes");
  size_t label = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label == 0) return fail("empty label");
      if (label > kMaxLabelLength) return fail("label longer than 63 bytes");
      label = 0;
      continue;
    }
    const auto c = static_cast<unsigned char>(name[i]);
    // No escapes (libunbound would decode \. and \DDD), no controls, no
    // spaces, no raw 8-bit bytes (IDNs arrive as A-labels, RFC 5891).
    if (c <= 0x20 || c >= 0x7f || c == '\\') return fail("byte not allowed in a name");
    ++label;
  }
  return true;
}

struct Resolver::Waiter {
  std::condition_variable cv;
  bool done = false;            // guarded by Resolver::mu_
  int err = 0;                  // guarded by Resolver::mu_
  ub_result* result = nullptr;  // guarded by Resolver::mu_; owned once done
};

Result<std::unique_ptr<Resolver>> Resolver::Create(const ResolverOptions& o) {
  using std::chrono::milliseconds;
  if (o.timeout < milliseconds(10) || o.timeout > milliseconds(60000)) {
    return Status::Invalid("dns: timeout must be 10 ms .. 60 s");
  }
  ub_ctx* ctx = ub_ctx_create();
  if (ctx == nullptr) return Status::Unavailable("dns: ub_ctx_create failed");
  auto fail = [ctx](Status s) -> Result<std::unique_ptr<Resolver>> {
    ub_ctx_delete(ctx);
    return s;
  };

  // Iterator only: no DNSSEC validation (see dns.h). Loopback upstreams
  // allowed. The cache bounded in bytes and time. A forwarder that timed out
  // keeps being probed, so a short outage upstream does not turn into minutes
  // of immediate SERVFAILs.
  const std::pair<const char*, std::string> options[] = {
      {"module-config:", "iterator"},
      {"do-not-query-localhost:", "no"},
      {"msg-cache-size:", std::to_string(o.msg_cache_bytes)},
      {"rrset-cache-size:", std::to_string(o.rrset_cache_bytes)},
      {"cache-max-ttl:", std::to_string(o.cache_max_ttl)},
      {"cache-max-negative-ttl:", std::to_string(o.cache_max_negative_ttl)},
      {"infra-keep-probing:", "yes"},
      {"outgoing-range:", "128"},
  };
  for (const auto& [name, value] : options) {
    if (Status s = SetOption(ctx, name, value); !s.ok()) return fail(std::move(s));
  }
  if (o.forward_test_tld) {
    // "nodefault" is ignored when set through ub_ctx_set_option (libunbound
    // 1.17); a transparent zone without local data resolves normally.
    if (Status s = SetOption(ctx, "local-zone:", "test. transparent"); !s.ok()) {
      return fail(std::move(s));
    }
  }

  if (o.upstreams.empty()) {
    const int rc = ub_ctx_resolvconf(ctx, o.resolv_conf.c_str());
    if (rc != 0) {
      return fail(Status::Io("dns: " + o.resolv_conf + ": " +
                             (rc == UB_READFILE ? std::strerror(errno) : ub_strerror(rc))));
    }
  } else {
    for (const std::string& up : o.upstreams) {
      if (up.empty() || up.find_first_of(" \t\r\n") != std::string::npos) {
        return fail(Status::Invalid("dns: bad upstream \"" + up + "\""));
      }
      const int rc = ub_ctx_set_fwd(ctx, up.c_str());
      if (rc != 0) {
        return fail(Status::Invalid("dns: bad upstream \"" + up + "\": " + ub_strerror(rc)));
      }
    }
  }
  if (const int rc = ub_ctx_async(ctx, 1); rc != 0) {
    return fail(Status::Unavailable(std::string("dns: ub_ctx_async: ") + ub_strerror(rc)));
  }
  if (ub_fd(ctx) < 0) return fail(Status::Unavailable("dns: ub_fd failed"));
  const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    return fail(Status::Unavailable(std::string("dns: eventfd: ") + std::strerror(errno)));
  }

  std::unique_ptr<Resolver> r(new Resolver(ctx, wake, o));
  try {
    r->dispatcher_ = std::thread([p = r.get()] { p->DispatchLoop(); });
  } catch (const std::exception& e) {
    // ~Resolver releases ctx and wake; the dispatcher is not joinable.
    return Status::Unavailable(std::string("dns: dispatcher thread: ") + e.what());
  }
  return r;
}

Resolver::Resolver(ub_ctx* ctx, int wake_fd, const ResolverOptions& o)
    : ctx_(ctx),
      wake_fd_(wake_fd),
      timeout_(o.timeout),
      cache_entries_(o.answer_cache_bytes == 0 ? 0 : o.answer_cache_entries),
      cache_bytes_limit_(o.answer_cache_bytes),
      max_ttl_(o.cache_max_ttl),
      max_negative_ttl_(o.cache_max_negative_ttl) {}

// Names compare case-insensitively; one final dot is the same name.
std::string Resolver::CacheKey(std::string_view name, uint16_t type) {
  std::string key = std::to_string(type) + " ";
  for (char c : name.substr(0, name.size() - (name.size() > 1 && name.back() == '.' ? 1 : 0))) {
    key.push_back(AsciiLower(c));  // not std::tolower: the locale must not matter
  }
  return key;
}

bool Resolver::IsCached(std::string_view name, uint16_t type) {
  if (cache_entries_ == 0 || type == 0 || !ValidQueryName(name)) return false;
  const std::string key = CacheKey(name, type);
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto it = cache_.find(key);
  return it != cache_.end() && it->second.expires > now;
}

bool Resolver::FromCache(const std::string& key, DnsAnswer* out) {
  if (cache_entries_ == 0) return false;
  const auto now = std::chrono::steady_clock::now();
  std::shared_ptr<const DnsAnswer> hit;
  std::chrono::steady_clock::time_point stored;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(key);
    if (it == cache_.end()) return false;
    if (it->second.expires <= now) {
      cache_bytes_ -= it->second.bytes;
      cache_.erase(it);
      return false;
    }
    hit = it->second.answer;
    stored = it->second.stored;
  }
  *out = *hit;  // copied outside the lock
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - stored).count();
  out->ttl = out->ttl > age ? out->ttl - static_cast<uint32_t>(age) : 0;
  return true;
}

namespace {
size_t AnswerBytes(const DnsAnswer& a) {
  size_t n = sizeof(DnsAnswer) + a.canonical_name.size() + a.error.size();
  for (const auto* v : {&a.txt, &a.addresses, &a.names, &a.rdata})
    for (const auto& e : *v) n += e.size() + sizeof(std::string);
  for (const auto& m : a.mx) n += m.host.size() + sizeof(MxRecord);
  return n;
}
}  // namespace

void Resolver::ToCache(std::string key, const DnsAnswer& a) {
  if (cache_entries_ == 0 || a.ttl == 0) return;
  if (a.rcode != DnsAnswer::Rcode::kOk && a.rcode != DnsAnswer::Rcode::kNxDomain &&
      a.rcode != DnsAnswer::Rcode::kNoData)
    return;
  auto copy = std::make_shared<DnsAnswer>(a);
  copy->wire.clear();
  copy->wire.shrink_to_fit();
  const size_t bytes = AnswerBytes(*copy) + key.size() + 64;
  if (bytes > cache_bytes_limit_ / 64) return;
  const uint32_t cap = a.rcode == DnsAnswer::Rcode::kOk ? max_ttl_ : max_negative_ttl_;
  const auto now = std::chrono::steady_clock::now();
  const auto expires = now + std::chrono::seconds(std::min(a.ttl, cap));
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (auto it = cache_.find(key); it != cache_.end()) {
    cache_bytes_ -= it->second.bytes;
    cache_.erase(it);
  }
  if (cache_.size() >= cache_entries_ || cache_bytes_ + bytes > cache_bytes_limit_) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      if (it->second.expires <= now) {
        cache_bytes_ -= it->second.bytes;
        it = cache_.erase(it);
      } else {
        ++it;
      }
    }
    if (cache_.size() >= cache_entries_ || cache_bytes_ + bytes > cache_bytes_limit_) {
      cache_.clear();
      cache_bytes_ = 0;
    }
  }
  cache_bytes_ += bytes;
  cache_.emplace(std::move(key), Cached{std::move(copy), now, expires, bytes});
}

Resolver::~Resolver() {
  if (dispatcher_.joinable()) {
    const uint64_t one = 1;
    while (write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
    dispatcher_.join();
  }
  // Results still queued inside libunbound (timed-out queries) are freed
  // with the context; no callback runs during or after this.
  ub_ctx_delete(ctx_);
  close(wake_fd_);
}

void Resolver::DispatchLoop() {
  t_dispatching = this;
  // Signals are for the threads that handle them (libmilter sigwaits in its
  // own). libunbound starts its thread at the first ub_resolve_async, with
  // the mask of the calling thread: make that call here, for "localhost."
  // (answered by libunbound itself, nothing is sent), so its thread blocks
  // every signal too. Token 0 is never registered: the answer is dropped.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  int prime_id = 0;
  (void)ub_resolve_async(ctx_, "localhost.", kTypeA, kClassIn, nullptr, &Resolver::OnResult,
                         &prime_id);
  pollfd fds[2] = {{ub_fd(ctx_), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    const int n = poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      poll(nullptr, 0, 10);  // should not happen; do not spin
      continue;
    }
    if (fds[1].revents != 0) break;
    if (fds[0].revents != 0 && ub_process(ctx_) != 0) {
      poll(nullptr, 0, 10);  // broken pipe to libunbound's thread: waiters time out
    }
  }
  t_dispatching = nullptr;
}

void Resolver::OnResult(void* token, int err, ub_result* result) {
  Resolver* self = t_dispatching;
  if (self == nullptr) {  // not from our ub_process: nobody to hand it to
    ub_resolve_free(result);
    return;
  }
  self->Deliver(reinterpret_cast<uintptr_t>(token), err, result);
}

void Resolver::Deliver(uint64_t token, int err, ub_result* result) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = waiters_.find(token);
  if (it == waiters_.end()) {  // its lookup timed out and left
    ub_resolve_free(result);
    return;
  }
  Waiter* w = it->second;
  waiters_.erase(it);
  w->err = err;
  w->result = result;
  w->done = true;
  // Under the lock: once it is released the waiter may return and destroy w.
  w->cv.notify_one();
}

DnsAnswer Resolver::Lookup(std::string_view name, uint16_t type) {
  return Lookup(name, type, timeout_);
}

DnsAnswer Resolver::Lookup(std::string_view name, uint16_t type,
                           std::chrono::milliseconds timeout) {
  DnsAnswer a;
  std::string why;
  if (type == 0) why = "type 0";
  if (type == 0 || !ValidQueryName(name, &why)) {
    a.rcode = DnsAnswer::Rcode::kPermFail;
    a.error = "malformed question: " + why;
    refused_names_.fetch_add(1, std::memory_order_relaxed);
    return a;
  }
  const std::string qname(name);
  std::string key = CacheKey(name, type);
  if (FromCache(key, &a)) {
    cache_hits_.fetch_add(1, std::memory_order_relaxed);
    return a;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;

  Waiter w;
  uint64_t token;
  {
    std::lock_guard<std::mutex> lock(mu_);
    token = next_token_++;
    waiters_.emplace(token, &w);
  }
  lookups_.fetch_add(1, std::memory_order_relaxed);
  int async_id = 0;
  const int rc = ub_resolve_async(ctx_, qname.c_str(), type, kClassIn,
                                  reinterpret_cast<void*>(static_cast<uintptr_t>(token)),
                                  &Resolver::OnResult, &async_id);
  if (rc != 0) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      waiters_.erase(token);
    }
    a.rcode = DnsAnswer::Rcode::kTempFail;
    a.error = std::string("resolver: ") + ub_strerror(rc);
    temp_failures_.fetch_add(1, std::memory_order_relaxed);
    return a;
  }

  std::unique_lock<std::mutex> lock(mu_);
  if (!w.cv.wait_until(lock, deadline, [&w] { return w.done; })) {
    waiters_.erase(token);
    lock.unlock();
    // Not under mu_: ub_cancel takes libunbound's lock, which ub_process may
    // hold while our callback waits for mu_.
    (void)ub_cancel(ctx_, async_id);
    a.rcode = DnsAnswer::Rcode::kTempFail;
    a.timed_out = true;
    a.error = "timeout after " + std::to_string(timeout.count()) + " ms";
    timeouts_.fetch_add(1, std::memory_order_relaxed);
    temp_failures_.fetch_add(1, std::memory_order_relaxed);
    return a;
  }
  lock.unlock();
  ResultPtr result(w.result);
  answered_.fetch_add(1, std::memory_order_relaxed);
  Convert(type, w.err, result.get(), &a);
  if (a.rcode == DnsAnswer::Rcode::kTempFail) {
    temp_failures_.fetch_add(1, std::memory_order_relaxed);
  }
  if (a.dropped != 0) dropped_records_.fetch_add(a.dropped, std::memory_order_relaxed);
  ToCache(std::move(key), a);
  return a;
}

ResolverStats Resolver::stats() const {
  ResolverStats s;
  s.cache_hits = cache_hits_.load(std::memory_order_relaxed);
  s.lookups = lookups_.load(std::memory_order_relaxed);
  s.answered = answered_.load(std::memory_order_relaxed);
  s.timeouts = timeouts_.load(std::memory_order_relaxed);
  s.temp_failures = temp_failures_.load(std::memory_order_relaxed);
  s.refused_names = refused_names_.load(std::memory_order_relaxed);
  s.dropped_records = dropped_records_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace senderguard::dns
