// SPF through libspf2 with senderguard's Resolver as its only DNS source.
// See spf.h for the limits, the CVE-2023-42118 guard and the error handler;
// functions named below are libspf2 1.2.10's (shevek/libspf2).
#include "senderguard/auth/spf.h"

// libspf2's headers need these first and have no extern "C" of their own.
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <syslog.h>

extern "C" {
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_rr.h>
}

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "senderguard/base/kvlog.h"
#include "senderguard/base/text.h"

namespace senderguard::spf {
namespace {

using dns::DnsAnswer;
using Rcode = DnsAnswer::Rcode;

// RFC 7208 §4.6.4: at most 10 PTR names are looked at; the rest are ignored.
constexpr size_t kMaxPtrNames = 10;

// The server's explanation, compiled by libspf2 at Create: plain text ("%_" is
// a space), no macro to expand and no DNS to ask. We never use explanations.
constexpr char kExplanation[] = "not%_authorized%_by%_SPF";
// What the get_exp hook returns instead of fetching the "exp=" TXT record.
constexpr char kFetchedExplanation[] = "explanation not fetched";

// libspf2 compiles a TXT record when it starts with "v=spf1" in any case and
// then a space or its end (SPF_server_get_record, SPF_record_compile).
bool LibspfCompiles(std::string_view txt) {
  static constexpr std::string_view kVersion = "v=spf1";
  if (txt.size() < kVersion.size()) return false;
  for (size_t i = 0; i < kVersion.size(); ++i) {
    const char c = txt[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != kVersion[i]) return false;
  }
  return txt.size() == kVersion.size() || txt[kVersion.size()] == ' ' ||
         txt[kVersion.size()] == '\0';
}

// RFC 7208 §4.3: a domain that is malformed or not multi-label gives "none".
// Accepted: LDH labels (and '_'), 1..63 bytes each, at least two, at most 253
// bytes without an optional final dot. Internationalized names must arrive as
// A-labels.
bool CheckableDomain(std::string_view d) {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  if (d.empty() || d.size() > dns::kMaxNameLength) return false;
  size_t labels = 0;
  size_t start = 0;
  while (start <= d.size()) {
    size_t end = d.find('.', start);
    if (end == std::string_view::npos) end = d.size();
    const std::string_view label = d.substr(start, end - start);
    if (label.empty() || label.size() > dns::kMaxLabelLength) return false;
    for (const char c : label) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
      if (!ok) return false;
    }
    ++labels;
    start = end + 1;
  }
  return labels >= 2;
}

// ---------------------------------------------------------------------------
// The DNS layer.

// What one CheckMailFrom has asked so far, for the limits of RFC 7208 §4.6.4.
struct CheckState {
  int txt_queries = 0;
  int terms = 0;  // queries made for DNS-querying terms
  int voids = 0;  // ... that found nothing
  // Targets of the last MX or PTR answer: their address lookups belong to
  // the term that asked for the MX/PTR records and are not terms themselves.
  std::vector<std::string> hosts;
  // Set when the outcome is decided (a limit, the guard): every later lookup
  // answers TRY_AGAIN so libspf2 stops at once, and the result is permerror.
  bool stopped = false;
  bool guarded = false;
  std::string stop_reason;
  std::string temp_failure;  // the first temporary DNS failure
  std::chrono::steady_clock::time_point deadline;  // kCheckTimeBudget from the start
};

// The check running on this thread; libspf2 calls the layer synchronously
// from SPF_request_query_mailfrom.
thread_local CheckState* t_check = nullptr;

uint16_t QueryType(ns_type type) {
  switch (type) {
    case ns_t_a:
      return dns::kTypeA;
    case ns_t_aaaa:
      return dns::kTypeAaaa;
    case ns_t_mx:
      return dns::kTypeMx;
    case ns_t_ptr:
      return dns::kTypePtr;
    case ns_t_txt:
      return dns::kTypeTxt;
    default:
      return 0;
  }
}

std::string_view TypeName(ns_type type) {
  switch (type) {
    case ns_t_a:
      return "A";
    case ns_t_aaaa:
      return "AAAA";
    case ns_t_mx:
      return "MX";
    case ns_t_ptr:
      return "PTR";
    case ns_t_txt:
      return "TXT";
    default:
      return "other";
  }
}

// An answer without records. NULL only when even that cannot be allocated
// (libspf2 then reports through SPF_error, which aborts).
SPF_dns_rr_t* Empty(SPF_dns_server_t* layer, const char* domain, ns_type type,
                    SPF_dns_stat_t herrno) {
  return SPF_dns_rr_new_init(layer, domain, type, 0, herrno);
}

SPF_dns_rr_t* Stop(CheckState* st, SPF_dns_server_t* layer, const char* domain, ns_type type,
                   std::string reason) {
  st->stopped = true;
  st->stop_reason = std::move(reason);
  return Empty(layer, domain, type, TRY_AGAIN);
}

// Removes `name` once from st->hosts; whether it was there.
bool TakeHost(CheckState* st, std::string_view name) {
  for (auto it = st->hosts.begin(); it != st->hosts.end(); ++it) {
    if (*it == name) {
      st->hosts.erase(it);
      return true;
    }
  }
  return false;
}

// libspf2's form of a positive answer (as spf_dns_resolv.c builds it: one
// buffer per RR, names and TXT NUL-terminated). NULL when out of memory.
SPF_dns_rr_t* Records(SPF_dns_server_t* layer, const char* domain, ns_type type, const DnsAnswer& a,
                      CheckState* st) {
  SPF_dns_rr_t* rr =
      SPF_dns_rr_new_init(layer, domain, type, static_cast<int>(a.ttl), NETDB_SUCCESS);
  if (rr == nullptr) return nullptr;
  int n = 0;
  const auto put = [&](const void* data, size_t len, bool text) {
    if (SPF_dns_rr_buf_realloc(rr, n, len + (text ? 1 : 0)) != SPF_E_SUCCESS) return false;
    auto* dst = reinterpret_cast<char*>(rr->rr[n]);
    std::memcpy(dst, data, len);
    if (text) dst[len] = '\0';
    ++n;
    return true;
  };
  bool ok = true;
  switch (type) {
    case ns_t_a:
    case ns_t_aaaa: {
      const size_t len = type == ns_t_a ? 4 : 16;
      for (const std::string& r : a.rdata) {
        if (r.size() == len && !(ok = put(r.data(), len, false))) break;
      }
      break;
    }
    case ns_t_mx:
      st->hosts.clear();
      for (const dns::MxRecord& mx : a.mx) {
        if (!(ok = put(mx.host.data(), mx.host.size(), true))) break;
        st->hosts.push_back(mx.host);
      }
      break;
    case ns_t_ptr:
      st->hosts.clear();
      for (size_t i = 0; i < a.names.size() && i < kMaxPtrNames; ++i) {
        if (!(ok = put(a.names[i].data(), a.names[i].size(), true))) break;
        st->hosts.push_back(a.names[i]);
      }
      break;
    case ns_t_txt:
      // Bytes as received; libspf2 reads each as a C string, so it sees a
      // record only up to an embedded NUL (the guard scanned all of it).
      for (const std::string& t : a.txt) {
        if (!(ok = put(t.data(), t.size(), true))) break;
      }
      break;
    default:
      break;
  }
  if (!ok) {
    SPF_dns_rr_free(rr);
    return nullptr;
  }
  rr->num_rr = n;
  if (n == 0) rr->herrno = NO_DATA;
  return rr;
}

// SPF_dns_server_t::lookup. libspf2 asks: TXT (and first type SPF) for the
// records, A/AAAA for "a", MX then A/AAAA of each host for "mx", PTR then
// A/AAAA of each name for "ptr" and the "p" macro, A for "exists". herrno:
// HOST_NOT_FOUND (NXDOMAIN), NO_DATA, TRY_AGAIN (a temporary failure: libspf2
// gives temperror), NETDB_SUCCESS with num_rr records.
SPF_dns_rr_t* LayerLookup(SPF_dns_server_t* layer, const char* domain, ns_type type,
                          int /*should_cache*/) {
  // RFC 7208 §3.1, §14.1: the SPF RR type is discontinued; never asked, so
  // libspf2 goes on to TXT.
  if (type == ns_t_spf) return Empty(layer, domain, type, NO_DATA);
  CheckState* st = t_check;
  if (st == nullptr || st->stopped) return Empty(layer, domain, type, TRY_AGAIN);
  const uint16_t qtype = QueryType(type);
  if (qtype == 0) return Empty(layer, domain, type, NO_DATA);  // libspf2 asks no other type
  const std::string_view name = domain != nullptr ? domain : "";

  // RFC 7208 §4.6.4: include, a, mx, ptr, exists and redirect are terms; the
  // first TXT query fetches the checked domain's own record and is not.
  bool term = true;
  if (type == ns_t_txt) {
    term = st->txt_queries++ > 0;
  } else if (type == ns_t_a || type == ns_t_aaaa) {
    term = !TakeHost(st, name);
  }
  if (term && ++st->terms > kMaxDnsTerms) {
    return Stop(
        st, layer, domain, type,
        "more than " + std::to_string(kMaxDnsTerms) + " DNS-querying terms (RFC 7208 4.6.4)");
  }
  // A macro expansion that is no valid name (spaces, over 253 bytes...)
  // names nothing.
  if (!dns::ValidQueryName(name)) return Empty(layer, domain, type, HOST_NOT_FOUND);

  auto* resolver = static_cast<dns::Resolver*>(layer->hook);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      st->deadline - std::chrono::steady_clock::now());
  if (left < std::chrono::milliseconds(10)) {
    if (st->temp_failure.empty()) {
      st->temp_failure = "SPF check ran out of its " +
                         std::to_string(kCheckTimeBudget.count() / 1000) + " s budget";
    }
    return Empty(layer, domain, type, TRY_AGAIN);
  }
  const DnsAnswer a = resolver->Lookup(name, qtype, std::min(left, resolver->timeout()));
  SPF_dns_rr_t* rr = nullptr;
  switch (a.rcode) {
    case Rcode::kTempFail:
      if (st->temp_failure.empty()) {
        st->temp_failure = "temporary DNS failure for " + std::string(name) + " " +
                           std::string(TypeName(type)) + ": " + a.error;
      }
      return Empty(layer, domain, type, TRY_AGAIN);
    case Rcode::kPermFail:
    case Rcode::kNxDomain:
      rr = Empty(layer, domain, type, HOST_NOT_FOUND);
      break;
    case Rcode::kNoData:
      rr = Empty(layer, domain, type, NO_DATA);
      break;
    case Rcode::kOk:
      if (type == ns_t_txt) {
        for (const std::string& txt : a.txt) {
          std::string why;
          if (MacroGuardRefuses(txt, &why)) {
            st->guarded = true;
            return Stop(st, layer, domain, type,
                        why + " in the SPF record of " + std::string(name));
          }
        }
      }
      rr = Records(layer, domain, type, a, st);
      if (rr == nullptr) {
        if (st->temp_failure.empty()) st->temp_failure = "out of memory building a DNS answer";
        return Empty(layer, domain, type, TRY_AGAIN);
      }
      break;
  }
  // RFC 7208 §4.6.4: a term's query that finds nothing is a void lookup.
  if (rr != nullptr && term && rr->num_rr == 0 && ++st->voids > kMaxVoidLookups) {
    SPF_dns_rr_free(rr);
    return Stop(st, layer, domain, type,
                "more than " + std::to_string(kMaxVoidLookups) + " void lookups (RFC 7208 4.6.4)");
  }
  return rr;
}

// SPF_dns_server_t::get_exp: called by SPF_request_get_exp with the expanded
// "exp=" domain instead of fetching and compiling its TXT record, which is
// where the explanation-string overflows live (see spf.h). `domain` aliases
// *buf, so it is not read.
SPF_errcode_t LayerGetExp(SPF_server_t* /*server*/, const char* /*domain*/, char** buf,
                          size_t* buf_len) {
  if (*buf == nullptr || *buf_len < sizeof kFetchedExplanation) {
    char* bigger = static_cast<char*>(std::realloc(*buf, sizeof kFetchedExplanation));
    if (bigger == nullptr) return SPF_E_NO_MEMORY;
    *buf = bigger;
    *buf_len = sizeof kFetchedExplanation;
  }
  std::memcpy(*buf, kFetchedExplanation, sizeof kFetchedExplanation);
  return SPF_E_SUCCESS;
}

// ---------------------------------------------------------------------------
// libspf2's message handlers (process-wide).

std::string HandlerLine(const char* level, const char* file, int line, const char* msg) {
  std::string where = file != nullptr ? file : "?";
  where += ":" + std::to_string(line);
  return KvLine()
      .Add("module", "spf")
      .Add("libspf2", level)
      .Add("where", where)
      .Add("message", msg != nullptr ? msg : "")
      .str();
}

// SPF_errorx is noreturn and has no code after calling the handler: log, then
// abort as the default handler does (spf.h).
__attribute__((noreturn)) void OnLibspfError(const char* file, int line, const char* msg) {
  syslog(LOG_MAIL | LOG_ERR, "%s", HandlerLine("error", file, line, msg).c_str());
  std::abort();
}

void OnLibspfWarning(const char* file, int line, const char* msg) {
  syslog(LOG_MAIL | LOG_WARNING, "%s", HandlerLine("warning", file, line, msg).c_str());
}

void InstallHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    SPF_error_handler = OnLibspfError;
    SPF_warning_handler = OnLibspfWarning;
    SPF_info_handler = nullptr;  // NULL: dropped (spf_log.c)
    SPF_debug_handler = nullptr;
  });
}

// ---------------------------------------------------------------------------
// Results.

struct RequestFree {
  void operator()(SPF_request_t* r) const { SPF_request_free(r); }
};
struct ResponseFree {
  void operator()(SPF_response_t* r) const { SPF_response_free(r); }
};

SpfResult FromLibspf(SPF_result_t r, SPF_errcode_t err) {
  switch (r) {
    case SPF_RESULT_NEUTRAL:
      return SpfResult::kNeutral;
    case SPF_RESULT_PASS:
      return SpfResult::kPass;
    case SPF_RESULT_FAIL:
      return SpfResult::kFail;
    case SPF_RESULT_SOFTFAIL:
      return SpfResult::kSoftFail;
    case SPF_RESULT_NONE:
      return SpfResult::kNone;
    case SPF_RESULT_TEMPERROR:
      return SpfResult::kTempError;
    case SPF_RESULT_PERMERROR:
      return SpfResult::kPermError;
    case SPF_RESULT_INVALID:
    default:
      // A DNS TRY_AGAIN for the top-level record ends here (spf_server.c
      // leaves the result unset), as does a record that does not compile.
      return err == SPF_E_DNS_ERROR || err == SPF_E_NO_MEMORY ? SpfResult::kTempError
                                                              : SpfResult::kPermError;
  }
}

// libspf2's first error message, else its error code or reason in words.
std::string LibspfReason(SPF_response_t* resp, SPF_errcode_t err) {
  for (int i = 0; i < SPF_response_messages(resp); ++i) {
    SPF_error_t* e = SPF_response_message(resp, i);
    if (SPF_error_errorp(e) && SPF_error_message(e) != nullptr) return SPF_error_message(e);
  }
  if (SPF_response_errcode(resp) != SPF_E_SUCCESS) return SPF_strerror(SPF_response_errcode(resp));
  if (err != SPF_E_SUCCESS) return SPF_strerror(err);
  switch (SPF_response_reason(resp)) {
    case SPF_REASON_MECH:
      return "a mechanism matched";
    case SPF_REASON_DEFAULT:
      return "no mechanism matched";
    default:
      return SPF_strreason(SPF_response_reason(resp));
  }
}

}  // namespace

std::string_view SpfResultName(SpfResult r) {
  switch (r) {
    case SpfResult::kNone:
      return "none";
    case SpfResult::kNeutral:
      return "neutral";
    case SpfResult::kPass:
      return "pass";
    case SpfResult::kFail:
      return "fail";
    case SpfResult::kSoftFail:
      return "softfail";
    case SpfResult::kTempError:
      return "temperror";
    case SpfResult::kPermError:
      return "permerror";
  }
  return "permerror";
}

bool MacroGuardRefuses(std::string_view txt, std::string* why) {
  if (!LibspfCompiles(txt)) return false;
  // libspf2 splits terms on ' ' only (SPF_record_compile), and compiles each
  // mechanism or modifier value from within one such term.
  size_t start = 0;
  while (start < txt.size()) {
    size_t end = txt.find(' ', start);
    if (end == std::string_view::npos) end = txt.size();
    const std::string_view term = txt.substr(start, end - start);
    if (term.size() >= kMaxMacroTermBytes && term.find("%{") != std::string_view::npos) {
      if (why != nullptr) {
        *why = "CVE-2023-42118 guard: macro term of " + std::to_string(term.size()) + " bytes";
      }
      return true;
    }
    start = end + 1;
  }
  return false;
}

struct Checker::Impl {
  SPF_dns_server_t layer{};
  SPF_server_t* server = nullptr;
  ~Impl() {
    // SPF_server_new_dns leaves the layer to us (destroy_resolver = 0).
    if (server != nullptr) SPF_server_free(server);
  }
};

Checker::Checker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Checker::~Checker() = default;

Result<std::unique_ptr<Checker>> Checker::Create(dns::Resolver* resolver) {
  if (resolver == nullptr) return Status::Invalid("spf: no resolver");
  InstallHandlers();
  auto impl = std::make_unique<Impl>();
  SPF_dns_server_t& layer = impl->layer;
  layer.destroy = nullptr;  // owned by Impl, not by libspf2
  layer.lookup = LayerLookup;
  layer.get_spf = nullptr;  // libspf2 fetches and selects the record through lookup
  layer.get_exp = LayerGetExp;
  layer.add_cache = nullptr;
  layer.layer_below = nullptr;  // nothing below: no system resolver
  layer.name = "senderguard";
  layer.debug = 0;
  layer.hook = resolver;

  impl->server = SPF_server_new_dns(&layer, 0);
  if (impl->server == nullptr) return Status::Unavailable("spf: SPF_server_new_dns failed");
  if (SPF_server_set_max_dns_mech(impl->server, kMaxDnsTerms) != SPF_E_SUCCESS ||
      SPF_server_set_max_dns_mx(impl->server, 10) != SPF_E_SUCCESS ||
      SPF_server_set_max_dns_ptr(impl->server, static_cast<int>(kMaxPtrNames)) != SPF_E_SUCCESS) {
    return Status::Unavailable("spf: cannot set libspf2 limits");
  }
  SPF_response_t* messages = nullptr;
  const SPF_errcode_t err = SPF_server_set_explanation(impl->server, kExplanation, &messages);
  if (messages != nullptr) SPF_response_free(messages);
  if (err != SPF_E_SUCCESS) {
    return Status::Unavailable(std::string("spf: explanation: ") + SPF_strerror(err));
  }
  return std::unique_ptr<Checker>(new Checker(std::move(impl)));
}

SpfCheck Checker::CheckMailFrom(std::string_view ip, std::string_view helo,
                                std::string_view mail_from) const {
  SpfCheck out;
  const auto done = [&out](SpfResult result, std::string_view reason) {
    out.result = result;
    out.reason = Printable(reason, kMaxReasonBytes);
    return out;
  };

  if (mail_from.size() > kMaxMailFromBytes) return done(SpfResult::kNone, "sender too long");
  if (mail_from.find('\0') != std::string_view::npos) {
    return done(SpfResult::kNone, "NUL byte in sender");
  }
  // Past the null sender, the HELO name only feeds the "h" macro: an unusable
  // one is replaced by "" rather than ending the check, so that it cannot be
  // used to dodge a "fail".
  const bool helo_usable =
      helo.size() <= kMaxHeloBytes && helo.find('\0') == std::string_view::npos;
  if (!helo_usable) helo = {};

  // RFC 7208 §2.4: the null sender is checked as postmaster@<HELO name>.
  std::string_view domain = helo;
  if (!mail_from.empty()) {
    const size_t at = mail_from.rfind('@');
    if (at == std::string_view::npos) return done(SpfResult::kNone, "sender without @domain");
    domain = mail_from.substr(at + 1);
  }
  out.domain = Printable(domain, kMaxReasonBytes);
  if (domain.empty()) {
    return done(SpfResult::kNone, helo_usable ? "no domain to check" : "unusable HELO name");
  }
  if (!CheckableDomain(domain)) {
    return done(SpfResult::kNone, "malformed or single-label domain (RFC 7208 4.3)");
  }

  if (ip.size() > INET6_ADDRSTRLEN || ip.find('\0') != std::string_view::npos) {
    return done(SpfResult::kNone, "invalid client address");
  }
  const std::string ip_text(ip);
  in_addr v4{};
  in6_addr v6{};
  bool is_v4 = inet_pton(AF_INET, ip_text.c_str(), &v4) == 1;
  if (!is_v4) {
    if (inet_pton(AF_INET6, ip_text.c_str(), &v6) != 1) {
      return done(SpfResult::kNone, "invalid client address");
    }
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {  // RFC 7208 §5: checked as IPv4
      std::memcpy(&v4, &v6.s6_addr[12], 4);
      is_v4 = true;
    }
  }
  // libspf2 answers "pass" for these without evaluating anything
  // (SPF_request_query_mailfrom, "localhost free ride").
  if (is_v4 ? (ntohl(v4.s_addr) >> 24) == 127 : IN6_IS_ADDR_LOOPBACK(&v6)) {
    return done(SpfResult::kNone, "loopback client, not evaluated");
  }

  std::unique_ptr<SPF_request_t, RequestFree> request(SPF_request_new(impl_->server));
  if (request == nullptr) return done(SpfResult::kTempError, "out of memory");
  const SPF_errcode_t set_ip =
      is_v4 ? SPF_request_set_ipv4(request.get(), v4) : SPF_request_set_ipv6(request.get(), v6);
  // The HELO name first: libspf2 then turns an empty sender into postmaster@helo.
  const std::string helo_text(helo);
  const std::string from_text(mail_from);
  if (set_ip != SPF_E_SUCCESS ||
      SPF_request_set_helo_dom(request.get(), helo_text.c_str()) != SPF_E_SUCCESS ||
      SPF_request_set_env_from(request.get(), from_text.c_str()) != SPF_E_SUCCESS) {
    return done(SpfResult::kTempError, "out of memory");
  }

  CheckState st;
  st.deadline = std::chrono::steady_clock::now() + kCheckTimeBudget;
  t_check = &st;
  SPF_response_t* raw = nullptr;
  const SPF_errcode_t err = SPF_request_query_mailfrom(request.get(), &raw);
  t_check = nullptr;
  const std::unique_ptr<SPF_response_t, ResponseFree> response(raw);

  if (st.stopped) {
    out.guarded = st.guarded;
    return done(SpfResult::kPermError, st.stop_reason);
  }
  if (response == nullptr) return done(SpfResult::kTempError, "out of memory");
  const SpfResult result = FromLibspf(SPF_response_result(response.get()), err);
  if (result == SpfResult::kTempError && !st.temp_failure.empty()) {
    return done(result, st.temp_failure);
  }
  return done(result, LibspfReason(response.get(), err));
}

}  // namespace senderguard::spf
