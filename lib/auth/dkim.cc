// DKIM verification on libopendkim 2.11, keys through dns::Resolver. See
// dkim.h. Facts about libopendkim below were read in its source at tag
// rel-opendkim-2-11-0-Beta2 (libopendkim/dkim.c, dkim-keys.c, dkim-dns.c).
// Over 600 lines by design: one library's adapter (handles, key hooks,
// header hand-over, results), whose parts share its lifetime rules.
#include "senderguard/auth/dkim.h"

// libopendkim's header uses C's _Bool, which g++ accepts in C++ and clang++
// does not: spell it as C++'s bool (the same type in the ABI) around it.
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool
#include <sys/time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>
#include <utility>

#include "senderguard/auth/dns_wire.h"
#include "senderguard/base/text.h"

namespace senderguard::dkim {

namespace {

constexpr size_t kMaxKeyName = 253;  // "<s>._domainkey.<d>", as dns::ValidQueryName
constexpr std::string_view kKeyLabel = "._domainkey.";
// libopendkim's id for a verifying handle: only used in its own messages.
const unsigned char kHandleId[] = "senderguard";

// Text for a result or a note (header fields, key records, libopendkim's
// messages that quote them): the one escaping policy (text.h), at most
// kMaxResultText bytes. libopendkim gives NULL for a missing value: "".
std::string ResultText(std::string_view text) { return Printable(text, kMaxResultText); }
std::string ResultText(const unsigned char* text) {
  return text == nullptr ? std::string() : ResultText(reinterpret_cast<const char*>(text));
}

bool IsFws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// A field name libopendkim takes as is: printable ASCII other than ':' and
// ';' (libopendkim refuses a ';' before the colon), optionally followed by
// white space (the obsolete "Subject :" form; libopendkim trims it).
bool AcceptableFieldName(std::string_view name, std::string_view* trimmed) {
  size_t end = name.size();
  while (end > 0 && IsWsp(name[end - 1])) --end;
  if (end == 0) return false;
  for (size_t i = 0; i < end; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x21 || c > 0x7e || c == ':' || c == ';') return false;
  }
  *trimmed = name.substr(0, end);
  return true;
}

// The tags of a DKIM-Signature value that a report names, read leniently
// (for fields libopendkim could not parse): "tag=value" pairs split at ';',
// folding white space dropped from values.
struct LooseTags {
  std::string d, s, a, b;
};
LooseTags ReadLooseTags(std::string_view value) {
  LooseTags t;
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t end = value.find(';', pos);
    if (end == std::string_view::npos) end = value.size();
    const std::string_view item = value.substr(pos, end - pos);
    pos = end + 1;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view tag = item.substr(0, eq);
    while (!tag.empty() && IsFws(tag.front())) tag.remove_prefix(1);
    while (!tag.empty() && IsFws(tag.back())) tag.remove_suffix(1);
    std::string* dst = tag == "d"   ? &t.d
                       : tag == "s" ? &t.s
                       : tag == "a" ? &t.a
                       : tag == "b" ? &t.b
                                    : nullptr;
    if (dst == nullptr || !dst->empty()) continue;  // first occurrence wins
    for (const char c : item.substr(eq + 1)) {
      if (!IsFws(c) && dst->size() < kMaxResultText) *dst += c;
    }
  }
  return t;
}

std::string HeaderB(std::string_view b) { return ResultText(b.substr(0, 12)); }

std::string StatText(DKIM* handle, DKIM_STAT st) {
  std::string s = "libopendkim: ";
  const char* r = dkim_getresultstr(st);
  s += r != nullptr ? r : ("status " + std::to_string(st));
  if (handle != nullptr) {
    const char* e = dkim_geterror(handle);
    if (e != nullptr && e[0] != '\0') {
      s += ": ";
      s += e;
    }
  }
  return ResultText(s);
}

// The key lookup notes of the message whose libopendkim call is running on
// this thread (set around dkim_eoh / dkim_eom only, never across calls).
thread_local std::vector<std::pair<std::string, std::string>>* tls_lookups = nullptr;

class LookupScope {
 public:
  explicit LookupScope(std::vector<std::pair<std::string, std::string>>* notes)
      : previous_(tls_lookups) {
    tls_lookups = notes;
  }
  ~LookupScope() { tls_lookups = previous_; }
  LookupScope(const LookupScope&) = delete;
  LookupScope& operator=(const LookupScope&) = delete;

 private:
  std::vector<std::pair<std::string, std::string>>* previous_;
};

void Note(std::string_view qname, std::string text) {
  if (tls_lookups == nullptr || tls_lookups->size() >= 64) return;
  tls_lookups->emplace_back(std::string(qname), ResultText(text));
}

}  // namespace

namespace internal {

// The query service handle libopendkim passes to every hook.
struct KeyService {
  dns::Resolver* resolver = nullptr;
  std::chrono::milliseconds timeout{0};  // 0: the resolver's own
};

// One key query: the libopendkim query handle, from start to cancel.
struct KeyQuery {
  int status = DKIM_DNS_SUCCESS;  // what waitreply reports
  size_t length = 0;              // reply bytes written into libopendkim's buffer
};

// libopendkim's callbacks. Each one catches everything: nothing may unwind
// through libopendkim's C frames.
struct Hooks {
  // dkim_dns_set_query_start. Contract (dkim_get_key_dns): return 0 and set
  // *qh, or non-zero for "query failed" (then no other hook is called for
  // it). The reply goes into buf (libopendkim's own 8 KiB buffer, alive
  // until cancel); its length is reported by waitreply.
  static int Start(void* srv, int type, unsigned char* query, unsigned char* buf, size_t buflen,
                   void** qh) noexcept {
    try {
      if (srv == nullptr || query == nullptr || buf == nullptr || qh == nullptr ||
          type != dns::kTypeTxt) {
        return DKIM_DNS_INVALID;
      }
      const auto* service = static_cast<const KeyService*>(srv);
      const std::string_view qname(reinterpret_cast<const char*>(query));
      auto q = std::make_unique<KeyQuery>();
      const dns::DnsAnswer a =
          service->timeout.count() > 0
              ? service->resolver->Lookup(qname, dns::kTypeTxt, service->timeout)
              : service->resolver->Lookup(qname, dns::kTypeTxt);
      std::string reply;
      using Rcode = dns::DnsAnswer::Rcode;
      switch (a.rcode) {
        case Rcode::kOk: {
          // The resolver keeps only records it could decode and that fit
          // its caps; the dropped ones still count: two or more records are
          // "multiple keys found" (RFC 6376 §3.6.2.2 leaves the result
          // undefined; libopendkim fails them), so a second record is
          // handed over as an empty placeholder whatever it held. Only the
          // first kept record's bytes matter.
          const size_t records = a.rdata.size() + a.dropped;
          std::vector<std::string_view> rdata;
          if (!a.rdata.empty()) rdata.emplace_back(a.rdata[0]);
          if (records >= 2) rdata.emplace_back(std::string_view("\0", 1));
          if (a.rdata.empty()) {
            Note(qname, "key record unusable (over the resolver's size cap or malformed)");
          } else {
            Note(qname, records >= 2 ? "several TXT records" : "ok");
          }
          reply = dns::BuildTxtReply(qname, dns::kRcodeNoError, rdata);
          break;
        }
        case Rcode::kNoData:
          Note(qname, "no TXT record");
          reply = dns::BuildTxtReply(qname, dns::kRcodeNoError, {});
          break;
        case Rcode::kNxDomain:
          Note(qname, "nxdomain");
          reply = dns::BuildTxtReply(qname, dns::kRcodeNxDomain, {});
          break;
        case Rcode::kPermFail:
          // A name that can never be asked (malformed s= or d=): no key.
          Note(qname, "invalid key name: " + a.error);
          reply = dns::BuildTxtReply(qname, dns::kRcodeNxDomain, {});
          break;
        case Rcode::kTempFail:
          Note(qname, a.error.empty() ? "temporary DNS failure" : a.error);
          q->status = a.timed_out ? DKIM_DNS_EXPIRED : DKIM_DNS_ERROR;
          break;
      }
      if (q->status == DKIM_DNS_SUCCESS) {
        if (reply.size() > buflen) {
          Note(qname, "reply too large");
          q->status = DKIM_DNS_ERROR;
        } else {
          std::memcpy(buf, reply.data(), reply.size());
          q->length = reply.size();
        }
      }
      *qh = q.release();
      return DKIM_DNS_SUCCESS;
    } catch (...) {
      return DKIM_DNS_ERROR;
    }
  }

  // dkim_dns_set_query_waitreply: the answer is already there. Returns the
  // status Start decided (DKIM_DNS_SUCCESS, _ERROR or _EXPIRED: libopendkim
  // turns the last two into a KEYFAIL, i.e. a temporary error) and the
  // reply length in *bytes.
  static int WaitReply(void* /*srv*/, void* qh, struct timeval* /*timeout*/, size_t* bytes,
                       int* error, int* dnssec) noexcept {
    const auto* q = static_cast<const KeyQuery*>(qh);
    // Not DKIM_DNS_INVALID: libopendkim would read that as a reply.
    if (q == nullptr) return DKIM_DNS_ERROR;
    if (bytes != nullptr) *bytes = q->length;
    if (error != nullptr) *error = 0;
    if (dnssec != nullptr) *dnssec = DKIM_DNSSEC_UNKNOWN;  // not validated (dns.h)
    return q->status;
  }

  // dkim_dns_set_query_cancel: libopendkim calls it once for every query
  // Start accepted, after waitreply, whatever the outcome: it frees the
  // query.
  static int Cancel(void* /*srv*/, void* qh) noexcept {
    delete static_cast<KeyQuery*>(qh);
    return 0;
  }

  // dkim_set_prescreen: runs inside dkim_eoh once the signatures are parsed,
  // before any key lookup. A signature whose key name would be longer than
  // a DNS name can be (libopendkim would then fail the whole message with a
  // resource error) is set aside with its own permanent error.
  static DKIM_CBSTAT Prescreen(DKIM* handle, DKIM_SIGINFO** sigs, int nsigs) noexcept {
    try {
      auto* message = static_cast<Message*>(dkim_get_user_context(handle));
      if (message == nullptr || sigs == nullptr || nsigs <= 0) return DKIM_CBSTAT_CONTINUE;
      message->set_aside_.assign(static_cast<size_t>(nsigs), std::string());
      for (int i = 0; i < nsigs; ++i) {
        const unsigned char* d = dkim_sig_getdomain(sigs[i]);
        const unsigned char* s = dkim_sig_getselector(sigs[i]);
        if (d == nullptr || s == nullptr) continue;  // already in error
        const size_t n = std::strlen(reinterpret_cast<const char*>(s)) + kKeyLabel.size() +
                         std::strlen(reinterpret_cast<const char*>(d));
        if (n > kMaxKeyName) {
          dkim_sig_ignore(sigs[i]);
          message->set_aside_[static_cast<size_t>(i)] =
              "key name too long (" + std::to_string(n) + " bytes)";
        }
      }
      return DKIM_CBSTAT_CONTINUE;
    } catch (...) {
      return DKIM_CBSTAT_ERROR;
    }
  }
};

}  // namespace internal

// One DKIM-Signature field handed to libopendkim.
struct Message::SigField {
  bool malformed = false;  // libopendkim refused its tag list
  std::string reason;      // why, when malformed
  LooseTags tags;          // read leniently, for reports without a siginfo
};

std::string_view SigResultName(SigResult r) {
  switch (r) {
    case SigResult::kPass:
      return "pass";
    case SigResult::kFail:
      return "fail";
    case SigResult::kNeutral:
      return "neutral";
    case SigResult::kTempError:
      return "temperror";
    case SigResult::kPermError:
      return "permerror";
    case SigResult::kPolicy:
      return "policy";
  }
  return "neutral";
}

bool Verification::AnyPass() const {
  return std::any_of(signatures.begin(), signatures.end(),
                     [](const Signature& s) { return s.result == SigResult::kPass; });
}

// ---------------------------------------------------------------------------
// Verifier

Result<std::unique_ptr<Verifier>> Verifier::Create(dns::Resolver* resolver,
                                                   const VerifierOptions& options) {
  if (resolver == nullptr) return Status::Invalid("dkim: no resolver");
  if (options.max_signatures < 1 || options.max_signatures > 32) {
    return Status::Invalid("dkim: max_signatures must be 1..32");
  }
  if (options.min_key_bits < 1024 || options.min_key_bits > 16384) {
    return Status::Invalid("dkim: min_key_bits must be 1024..16384 (RFC 8301)");
  }
  if (options.key_lookup_timeout.count() < 0 ||
      options.key_lookup_timeout > std::chrono::milliseconds(60000)) {
    return Status::Invalid("dkim: key_lookup_timeout must be 0..60000 ms");
  }

  DKIM_LIB* lib = dkim_init(nullptr, nullptr);
  if (lib == nullptr) return Status::Unavailable("dkim: dkim_init failed");

  auto service = std::make_unique<internal::KeyService>();
  service->resolver = resolver;
  service->timeout = options.key_lookup_timeout;

  // The query hooks. dkim_init leaves its res_* stubs in place for init and
  // close; with a service handle set, init is never called, but dkim_close
  // would hand our handle to res_nclose and free(): clear both. nslist,
  // config and trust anchor are left uninitialized by dkim_init and only
  // called through dkim_dns_nslist/config/trustanchor, which we never call:
  // cleared all the same.
  (void)dkim_dns_set_query_service(lib, service.get());
  dkim_dns_set_query_start(lib, &internal::Hooks::Start);
  dkim_dns_set_query_waitreply(lib, &internal::Hooks::WaitReply);
  dkim_dns_set_query_cancel(lib, &internal::Hooks::Cancel);
  dkim_dns_set_init(lib, nullptr);
  dkim_dns_set_close(lib, nullptr);
  dkim_dns_set_nslist(lib, nullptr);
  dkim_dns_set_config(lib, nullptr);
  dkim_dns_set_trustanchor(lib, nullptr);

  DKIM_STAT st = dkim_set_prescreen(lib, &internal::Hooks::Prescreen);
  // libopendkim's own query timeout (seconds) is only passed to waitreply,
  // which does not wait; set it to match anyway.
  u_int timeout_s =
      static_cast<u_int>(std::max<int64_t>(1, (options.key_lookup_timeout.count() + 999) / 1000));
  u_int min_bits = options.min_key_bits;
  // No flags: no temp files, no DNS-reply cache in libopendkim (the
  // resolver caches), bad signatures dropped from the signature list
  // (reported from our own field list), From required.
  uint32_t flags = DKIM_LIBFLAGS_NONE;
  if (st == DKIM_STAT_OK) {
    st = dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &min_bits, sizeof min_bits);
  }
  if (st == DKIM_STAT_OK) {
    st = dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_TIMEOUT, &timeout_s, sizeof timeout_s);
  }
  if (st == DKIM_STAT_OK) {
    st = dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
  }
  if (st == DKIM_STAT_OK && !dkim_libfeature(lib, DKIM_FEATURE_SHA256)) {
    dkim_close(lib);
    return Status::Unavailable("dkim: libopendkim built without SHA-256");
  }
  if (st != DKIM_STAT_OK) {
    dkim_close(lib);
    return Status::Unavailable("dkim: setting libopendkim options failed");
  }
  return std::unique_ptr<Verifier>(new Verifier(std::move(service), lib, options));
}

Verifier::Verifier(std::unique_ptr<internal::KeyService> service, ::dkim_lib* lib,
                   const VerifierOptions& options)
    : service_(std::move(service)), lib_(lib), options_(options) {}

Verifier::~Verifier() {
  if (lib_ != nullptr) dkim_close(lib_);
}

std::unique_ptr<Message> Verifier::Begin() const {
  DKIM_STAT st = DKIM_STAT_OK;
  DKIM* handle = dkim_verify(lib_, kHandleId, nullptr, &st);
  std::string error;
  if (handle == nullptr) {
    error = StatText(nullptr, st);
    if (st == DKIM_STAT_OK) error = "libopendkim: dkim_verify failed";
  }
  std::unique_ptr<Message> m(new Message(this, handle, std::move(error)));
  if (handle != nullptr) (void)dkim_set_user_context(handle, m.get());
  return m;
}

// ---------------------------------------------------------------------------
// Message

Message::Message(const Verifier* verifier, ::dkim* handle, std::string start_error)
    : verifier_(verifier), handle_(handle) {
  if (!start_error.empty()) Fail(std::move(start_error), true);
}

Message::~Message() {
  if (handle_ != nullptr) (void)dkim_free(handle_);
}

void Message::Fail(std::string why, bool temporary) {
  if (!error_.empty()) return;  // the first reason stands
  error_ = why.empty() ? "message not verifiable" : std::move(why);
  error_temporary_ = temporary;
  evaluating_ = false;
}

void Message::Header(std::string_view name, std::string_view value) {
  if (state_ == State::kFinished) return;
  std::string_view trimmed;
  const bool name_ok = AcceptableFieldName(name, &trimmed);
  const bool is_signature = name_ok && EqualsIgnoreCase(trimmed, "DKIM-Signature");
  if (state_ != State::kHeaders) {
    saw_signature_ = saw_signature_ || is_signature;
    Fail("header field after the end of the header", false);
    return;
  }
  if (is_signature) {
    saw_signature_ = true;
    if (fields_.size() >= verifier_->options_.max_signatures) {
      // Not handed to libopendkim at all: it would parse and evaluate it.
      // Only a signature that covers this field could notice (as if the
      // field had been added after signing).
      ++signatures_ignored_;
      return;
    }
  }
  const size_t fields_before = fields_.size();
  HandOver(name, trimmed, name_ok, value, is_signature);
  if (is_signature && fields_.size() == fields_before) {
    // Not handed over (the message is not verifiable): still reported,
    // with the message's error.
    SigField f;
    f.tags = ReadLooseTags(value);
    fields_.push_back(std::move(f));
  }
}

void Message::HandOver(std::string_view name, std::string_view trimmed, bool name_ok,
                       std::string_view value, bool is_signature) {
  if (!error_.empty()) return;
  if (++header_fields_ > kMaxHeaderFields) {
    Fail("more than " + std::to_string(kMaxHeaderFields) + " header fields", false);
    return;
  }
  if (!name_ok) {
    Fail("header field name not acceptable: \"" + ResultText(name) + "\"", false);
    return;
  }
  // The field as libopendkim wants it: "name:value", folded lines joined by
  // CRLF, no final line break.
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.remove_suffix(1);
  // Turning LF into CRLF only adds bytes: check the size before copying.
  if (name.size() + 1 + value.size() > kMaxFieldBytes) {
    Fail("header field \"" + ResultText(trimmed) + "\" over " + std::to_string(kMaxFieldBytes) +
             " bytes",
         false);
    return;
  }
  scratch_.clear();
  scratch_.reserve(name.size() + 1 + value.size() + 16);
  scratch_.append(name);
  scratch_ += ':';
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\0') {
      Fail("NUL byte in header field \"" + ResultText(trimmed) + "\"", false);
      return;
    }
    if (c == '\n' && (i == 0 || value[i - 1] != '\r')) scratch_ += '\r';
    scratch_ += c;
  }
  if (scratch_.size() > kMaxFieldBytes) {
    Fail("header field \"" + ResultText(trimmed) + "\" over " + std::to_string(kMaxFieldBytes) +
             " bytes",
         false);
    return;
  }
  header_bytes_ += scratch_.size();
  if (header_bytes_ > kMaxHeaderBytes) {
    Fail("header over " + std::to_string(kMaxHeaderBytes) + " bytes", false);
    return;
  }
  if (handle_ == nullptr) return;  // Fail() was called at Begin

  const DKIM_STAT st =
      dkim_header(handle_, reinterpret_cast<unsigned char*>(scratch_.data()), scratch_.size());
  if (is_signature) {
    // libopendkim keeps the field (other signatures may cover it) but
    // drops a signature whose tag list it cannot parse (SYNTAX; CANTVRFY
    // for an unsupported mandatory tag): report it ourselves.
    SigField f;
    f.tags = ReadLooseTags(value);
    if (st == DKIM_STAT_SYNTAX || st == DKIM_STAT_CANTVRFY) {
      f.malformed = true;
      const char* e = dkim_geterror(handle_);
      f.reason = ResultText(std::string("malformed signature: ") +
                           (e != nullptr && e[0] != '\0' ? e : "syntax error"));
    } else if (st != DKIM_STAT_OK) {
      Fail(StatText(handle_, st), true);
    }
    fields_.push_back(std::move(f));
    return;
  }
  if (st == DKIM_STAT_SYNTAX) {
    Fail("header field \"" + ResultText(trimmed) + "\" refused: " + StatText(handle_, st), false);
  } else if (st != DKIM_STAT_OK) {
    Fail(StatText(handle_, st), true);
  }
}

void Message::EndOfHeaders() {
  if (state_ != State::kHeaders) return;
  state_ = State::kBody;
  if (!error_.empty() || handle_ == nullptr) return;
  LookupScope scope(&lookups_);
  const DKIM_STAT st = dkim_eoh(handle_);
  switch (st) {
    case DKIM_STAT_OK:
      evaluating_ = true;
      break;
    case DKIM_STAT_NOSIG:  // no signature it could parse, or all set aside
      evaluating_ = false;
      break;
    case DKIM_STAT_SYNTAX:
      // No From field, or one without a parsable address (dkim_getsender).
      Fail("message not verifiable: " + StatText(handle_, st), false);
      break;
    default:
      Fail(StatText(handle_, st), true);
      break;
  }
}

bool Message::WantsBody() const {
  if (state_ == State::kHeaders) return true;
  return state_ == State::kBody && evaluating_ && error_.empty();
}

void Message::Body(std::string_view chunk) {
  if (state_ == State::kFinished) return;
  if (state_ == State::kHeaders) EndOfHeaders();
  if (!evaluating_ || !error_.empty() || chunk.empty()) return;
  FeedBody(chunk);
}

void Message::FeedBody(std::string_view chunk) {
  // Bare LF becomes CRLF; a CR ending the previous chunk pairs with an LF
  // starting this one. Bare CR is left alone (it is data to DKIM).
  const char* data = chunk.data();
  size_t size = chunk.size();
  bool needs_copy = false;
  for (size_t i = 0; i < chunk.size(); ++i) {
    if (chunk[i] == '\n' && !(i == 0 ? body_last_cr_ : chunk[i - 1] == '\r')) {
      needs_copy = true;
      break;
    }
  }
  if (needs_copy) {
    scratch_.clear();
    scratch_.reserve(chunk.size() + chunk.size() / 16 + 2);
    bool prev_cr = body_last_cr_;
    for (const char c : chunk) {
      if (c == '\n' && !prev_cr) scratch_ += '\r';
      scratch_ += c;
      prev_cr = c == '\r';
    }
    data = scratch_.data();
    size = scratch_.size();
  }
  body_last_cr_ = chunk.back() == '\r';
  body_open_line_ = chunk.back() != '\n';
  const DKIM_STAT st =
      dkim_body(handle_, reinterpret_cast<unsigned char*>(const_cast<char*>(data)), size);
  if (st != DKIM_STAT_OK) Fail(StatText(handle_, st), true);
}

Verification Message::Finish() {
  if (state_ == State::kFinished) {
    Verification v;
    v.signed_message = saw_signature_;
    v.error = "Finish called twice";
    return v;
  }
  if (state_ == State::kHeaders) EndOfHeaders();
  state_ = State::kFinished;
  if (evaluating_ && error_.empty() && body_open_line_) {
    // RFC 6376 §3.4.3, §3.4.4: a non-empty body without a final CRLF gets
    // one (libopendkim would refuse it: "CRLF at end of body missing").
    static constexpr char kCrlf[] = "\r\n";
    FeedBody(std::string_view(kCrlf, 2));
  }
  if (evaluating_ && error_.empty()) {
    LookupScope scope(&lookups_);
    const DKIM_STAT st = dkim_eom(handle_, nullptr);
    switch (st) {
      // The overall verdict of libopendkim's "final" signature: each
      // signature's own outcome is read below.
      case DKIM_STAT_OK:
      case DKIM_STAT_BADSIG:
      case DKIM_STAT_NOKEY:
      case DKIM_STAT_KEYFAIL:
      case DKIM_STAT_REVOKED:
      case DKIM_STAT_CANTVRFY:
      case DKIM_STAT_NOSIG:
        break;
      default:
        Fail(StatText(handle_, st), true);
        break;
    }
  }
  return Collect();
}

namespace {

std::string KeyNote(const std::vector<std::pair<std::string, std::string>>& lookups,
                    const unsigned char* selector, const unsigned char* domain) {
  if (selector == nullptr || domain == nullptr) return "";
  std::string qname = reinterpret_cast<const char*>(selector);
  qname.append(kKeyLabel);
  qname += reinterpret_cast<const char*>(domain);
  for (auto it = lookups.rbegin(); it != lookups.rend(); ++it) {
    if (it->first == qname) return " (" + it->second + ")";
  }
  return "";
}

// One signature libopendkim evaluated.
Signature Describe(DKIM_SIGINFO* sig, unsigned min_key_bits,
                   const std::vector<std::pair<std::string, std::string>>& lookups) {
  Signature s;
  const unsigned char* domain = dkim_sig_getdomain(sig);
  const unsigned char* selector = dkim_sig_getselector(sig);
  s.domain = ResultText(domain);
  s.selector = ResultText(selector);
  s.algorithm = ResultText(
      dkim_sig_gettagvalue(sig, false, reinterpret_cast<u_char*>(const_cast<char*>("a"))));
  const unsigned char* b =
      dkim_sig_gettagvalue(sig, false, reinterpret_cast<u_char*>(const_cast<char*>("b")));
  if (b != nullptr) s.header_b = HeaderB(reinterpret_cast<const char*>(b));
  unsigned int bits = 0;
  if (dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK) s.key_bits = bits;

  const unsigned flags = dkim_sig_getflags(sig);
  const int error = dkim_sig_geterror(sig);
  const int bh = dkim_sig_getbh(sig);
  s.testing = (flags & DKIM_SIGFLAG_TESTKEY) != 0;

  if (DKIM_SIG_CHECK(sig) && error == DKIM_SIGERROR_OK) {
    dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
    (void)dkim_sig_getsignalg(sig, &alg);
    if (alg == DKIM_SIGN_RSASHA1) {
      // RFC 8301 §3.1: verifiers must not consider rsa-sha1 valid.
      s.result = SigResult::kPolicy;
      s.reason = "rsa-sha1 not accepted (RFC 8301)";
    } else {
      s.result = SigResult::kPass;
    }
    return s;
  }

  const char* text = dkim_sig_geterrorstr(error);
  std::string reason = text != nullptr ? text : "error " + std::to_string(error);
  switch (error) {
    case DKIM_SIGERROR_BADSIG:
    case DKIM_SIGERROR_OK:  // passed, but the body hash was never checked
      s.result = SigResult::kFail;
      if (bh == DKIM_SIGBH_MISMATCH) {
        reason = "body hash mismatch";
      } else if ((flags & DKIM_SIGFLAG_PASSED) == 0) {
        reason = "signature verification failed";
      } else {
        reason = "body hash not verified";
      }
      break;
    case DKIM_SIGERROR_SUBDOMAIN:   // t=s key, i= in a subdomain
    case DKIM_SIGERROR_TOOLARGE_L:  // l= longer than the body
    case DKIM_SIGERROR_MBSFAILED:
      s.result = SigResult::kFail;
      break;
    case DKIM_SIGERROR_KEYFAIL:
      s.result = SigResult::kTempError;
      reason = "key lookup failed" + KeyNote(lookups, selector, domain);
      break;
    case DKIM_SIGERROR_NOKEY:
      s.result = SigResult::kPermError;
      reason = "key not found" + KeyNote(lookups, selector, domain);
      break;
    case DKIM_SIGERROR_KEYTOOSMALL:
      s.result = SigResult::kPolicy;
      reason = "key too small: " + std::to_string(s.key_bits) + " bits, minimum " +
               std::to_string(min_key_bits);
      break;
    case DKIM_SIGERROR_UNKNOWN:
      // Never evaluated: libopendkim stopped on a resource failure.
      s.result = SigResult::kTempError;
      reason = "not evaluated";
      break;
    default:
      // Key record problems (revoked, malformed, several records, wrong
      // type or hash), signature tag problems (missing, invalid, expired).
      s.result = SigResult::kPermError;
      if (error == DKIM_SIGERROR_DNSSYNTAX) reason = "key record malformed";
      if (error == DKIM_SIGERROR_MULTIREPLY) reason = "several key records";
      break;
  }
  s.reason = ResultText(reason);
  return s;
}

}  // namespace

Verification Message::Collect() {
  Verification v;
  if (!saw_signature_) return v;  // unsigned: nothing to say, whatever else failed
  v.signed_message = true;
  v.signatures_ignored = signatures_ignored_;
  v.error = error_;
  v.temporary = error_temporary_;

  DKIM_SIGINFO** sigs = nullptr;
  int nsigs = 0;
  if (error_.empty() && handle_ != nullptr &&
      dkim_getsiglist(handle_, &sigs, &nsigs) != DKIM_STAT_OK) {
    sigs = nullptr;
    nsigs = 0;
  }
  size_t next = 0;  // libopendkim lists the well-formed signatures, in field order
  for (const SigField& f : fields_) {
    Signature s;
    if (f.malformed || !error_.empty() || sigs == nullptr || next >= static_cast<size_t>(nsigs)) {
      s.domain = ResultText(f.tags.d);
      s.selector = ResultText(f.tags.s);
      s.algorithm = ResultText(f.tags.a);
      s.header_b = HeaderB(f.tags.b);
      if (f.malformed) {
        s.result = SigResult::kPermError;
        s.reason = f.reason;
      } else if (!error_.empty()) {
        s.result = error_temporary_ ? SigResult::kTempError : SigResult::kPermError;
        s.reason = ResultText(error_);
      } else {
        s.result = SigResult::kNeutral;
        s.reason = "not evaluated";
      }
      v.signatures.push_back(std::move(s));
      continue;
    }
    const size_t index = next++;
    DKIM_SIGINFO* sig = sigs[index];
    if ((dkim_sig_getflags(sig) & DKIM_SIGFLAG_IGNORE) != 0) {
      s.domain = ResultText(dkim_sig_getdomain(sig));
      s.selector = ResultText(dkim_sig_getselector(sig));
      s.algorithm = ResultText(f.tags.a);
      s.header_b = HeaderB(f.tags.b);
      s.result = SigResult::kPermError;
      s.reason =
          index < set_aside_.size() && !set_aside_[index].empty() ? set_aside_[index] : "set aside";
    } else {
      s = Describe(sig, verifier_->options_.min_key_bits, lookups_);
    }
    v.signatures.push_back(std::move(s));
  }
  return v;
}

}  // namespace senderguard::dkim
