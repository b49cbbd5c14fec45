// SPF (RFC 7208): check_host() for the MAIL FROM identity, evaluated by
// libspf2 1.2.10 with every DNS question answered by senderguard's own
// Resolver (dns.h), never by the system resolver.
//
// How. One SPF_server_t per Checker, shared by all threads, built on a custom
// libspf2 DNS layer (SPF_dns_server_t) whose lookup calls Resolver::Lookup.
// State for one check (lookup counts, why the check was stopped) sits in a
// thread_local pointer the layer reads: libspf2 calls the layer synchronously
// on the checking thread, so checks on different threads never share it.
// No libspf2 cache layer is stacked on top: the Resolver caches.
//
// Untrusted input. The client address, HELO name and envelope sender come
// from the SMTP client; SPF records, explanation strings and every other DNS
// answer come from whoever runs the DNS of the domains involved. Inputs are
// capped (kMaxHeloBytes, kMaxMailFromBytes) and validated before libspf2 sees
// them; reason strings are printable ASCII with input bytes written as \xNN.
//
// Limits (RFC 7208 §4.6.4), as enforced here:
// - DNS-querying terms (include, a, mx, ptr, exists, redirect): at most
//   kMaxDnsTerms (10) per check, counted across includes and redirects by the
//   DNS layer; the 11th gives permerror. libspf2's own max_dns_mech (set to
//   10) counts per record only (each include starts a fresh count) and only
//   notices the excess at the next term, so on its own it is not enough.
//   Lookups for the "p" macro count as terms here (stricter than the RFC,
//   which says "p" SHOULD NOT be used at all, §7.3).
// - Void lookups (NXDOMAIN or no records for a term's query): at most
//   kMaxVoidLookups (2); the 3rd gives permerror. Not in libspf2; done by the
//   DNS layer.
// - "mx": libspf2 looks up the addresses of at most 10 MX hosts and gives
//   permerror when there are more than 10 and none of the first 10 matched.
//   (The RFC says permerror whenever there are more than 10.)
// - "ptr" and "p": the layer hands libspf2 at most 10 PTR names, so names
//   past the first 10 are ignored, as the RFC asks (libspf2 alone would give
//   permerror).
// - include/redirect loops end at the term limit (libspf2 also stops at a
//   nesting depth of 20 and at a redirect/include of the current domain).
// - No overall time limit: each lookup waits at most the Resolver's timeout,
//   and the first temporary failure ends the check (temperror).
//
// SECURITY: CVE-2023-42118 guard. Debian's libspf2 1.2.10-7.2 carries the
// CVE-2021-20314 fix ("ds_avail = _avail - sizeof(SPF_data_t)" in
// spf_compile.c) but not its follow-up, upstream commit d14abff ("Fix integer
// underflow", shevek/libspf2 PR #44, 2023-09-30), written after ZDI-23-1472
// (CVE-2023-42118) as the one integer underflow in macro parsing anyone found;
// ZDI never published details, so that this is their bug is likely, not
// confirmed (shevek/libspf2 issue #45). When libspf2 compiles one term of a
// record (a mechanism's domain-spec or a modifier's value, at most 511 bytes of
// compiled data), it restarts a string literal after every macro variable
// ("%{...}") with room = 511 - bytes used - 4, computed in size_t. Once the
// term's variables and literals have used 508 bytes, that wraps to ~2^64, the
// bounds check on the literal that follows never fires, and the literal
// (attacker text, each "%-" growing to 3 bytes) is copied past the 4096-byte
// stack buffer of SPF_c_mech_add / SPF_c_mod_add; the explanation compiler's
// buffer is only 515 bytes. We reproduced the stack overflow with this library
// build ("v=spf1 a:" + 127 x "%{d}" + 1700 x "%-", a 3.9 kB TXT record: "stack
// smashing detected"). Transformers and delimiters play no part; what matters
// is how much compiled data one term holds before its last macro variable. A
// term compiles to at most 11 + 2.75 x its length in bytes (4 per variable of
// >= 4 characters, at most 7 + 1.5 x its length per literal, one literal more
// than variables, 4 for a CIDR suffix), so a term shorter than 181 bytes can
// never reach 508. The guard therefore refuses, before libspf2 sees it, any TXT
// record libspf2 would compile (starts with "v=spf1" in any case, then a space
// or the end) that holds a space-separated term of kMaxMacroTermBytes (128)
// bytes or more containing "%{" (MacroGuardRefuses). Records without macros,
// and ordinary macro terms such as "exists:%{i}._spf.%{d}" or
// "include:%{ir}.%{v}.%{d}.spf.example.net", are evaluated as usual. A refused
// record makes the check permerror with guarded = true. Explanation strings
// (the TXT record named by "exp=") are never fetched nor compiled: the layer's
// get_exp hook returns a fixed text, and the server's default explanation is a
// fixed text without macros.
//
// libspf2's error handler. libspf2 reports broken invariants (a NULL from a
// DNS layer, failed allocations in macro expansion, NULL-pointer asserts)
// through SPF_error, whose handler is declared noreturn: in this build
// SPF_errorx has no code after the call, so a handler that returned would run
// into the next function. The handler installed here therefore logs to syslog
// (LOG_MAIL | LOG_ERR, escaped) and then aborts, as the default one does. The
// layer returns NULL only when it cannot allocate even an empty answer (any
// other allocation failure becomes a temporary DNS failure), and the
// rcpt-to/secondary-MX API is not used, so only memory exhaustion or a
// libspf2 bug reaches it. Warnings go to syslog (LOG_MAIL | LOG_WARNING);
// info and debug messages are dropped. libspf2's handlers are process-wide
// function pointers without a context argument, which is why they cannot use
// an injected Logger.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "senderguard/auth/dns.h"
#include "senderguard/base/status.h"

namespace senderguard::spf {

inline constexpr int kMaxDnsTerms = 10;            // RFC 7208 §4.6.4
inline constexpr int kMaxVoidLookups = 2;          // RFC 7208 §4.6.4
// The whole check's time budget (RFC 7208 §4.6.4: "at least 20 seconds"):
// each lookup waits at most what is left of it, and a check that runs out
// is temperror. Bounds what a slow zone (a sender's) can hold a thread.
inline constexpr std::chrono::milliseconds kCheckTimeBudget{20000};
inline constexpr size_t kMaxMacroTermBytes = 128;  // CVE-2023-42118 guard, see above
// Input caps. RFC 5321 §4.5.3.1 allows a 255-byte domain and a 256-byte
// path; the sender cap is above Postfix's 2048-byte SMTP line limit, so no
// sender Postfix accepts is turned away by it.
inline constexpr size_t kMaxHeloBytes = 255;
inline constexpr size_t kMaxMailFromBytes = 2048;
inline constexpr size_t kMaxReasonBytes = 200;

// RFC 7208 §2.6 results.
enum class SpfResult : uint8_t { kNone, kNeutral, kPass, kFail, kSoftFail, kTempError, kPermError };

// "none" "neutral" "pass" "fail" "softfail" "temperror" "permerror": the
// words of RFC 8601 §2.7.2, for Authentication-Results and log lines.
std::string_view SpfResultName(SpfResult r);

struct SpfCheck {
  SpfResult result = SpfResult::kNone;
  // The domain whose policy was checked: the MAIL FROM domain (after the last
  // '@'), or the HELO name for the null sender (RFC 7208 §2.4). Escaped by
  // Printable (base/text.h: printable ASCII, '\' doubled, other bytes as
  // \xNN), at most kMaxReasonBytes. Empty when there was none.
  std::string domain;
  // One printable-ASCII line (text from outside escaped by Printable, at most
  // kMaxReasonBytes) saying why: libspf2's reason or first error, or which
  // limit, guard or input check decided.
  std::string reason;
  // True when the CVE-2023-42118 guard refused a record (result is
  // kPermError then).
  bool guarded = false;
};

// Whether the CVE-2023-42118 guard refuses the TXT record `txt` (bytes as
// received, character-strings joined): true when libspf2 would compile it
// (it starts with "v=spf1", any case, followed by a space or its end) and it
// holds a term (bytes between spaces, as libspf2 splits them) of at least
// kMaxMacroTermBytes bytes containing "%{". On true, `why` (if given) names
// the guard and the term's length. Pure; thread-safe.
bool MacroGuardRefuses(std::string_view txt, std::string* why = nullptr);

// Evaluates SPF for connections. One per process, shared by all milter
// threads: CheckMailFrom may be called from any number of threads at once.
// Create it after any fork, like the Resolver it uses.
class Checker {
 public:
  // `resolver` answers every DNS question and must outlive the Checker.
  // Installs the libspf2 message handlers (once per process, see above).
  // Returns Status::Invalid for a null resolver, Status::Unavailable when
  // libspf2 cannot build its server.
  static Result<std::unique_ptr<Checker>> Create(dns::Resolver* resolver);

  // REQUIRES: no CheckMailFrom in progress.
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  // check_host() (RFC 7208 §4) for the MAIL FROM identity.
  //   ip:        the client address, "192.0.2.1" or "2001:db8::1"; an
  //              IPv4-mapped IPv6 address ("::ffff:192.0.2.1") is checked as
  //              IPv4 (RFC 7208 §5).
  //   helo:      the HELO/EHLO name, may be empty.
  //   mail_from: the envelope sender without <>, "" for the null sender, which
  //              is checked as postmaster@helo (RFC 7208 §2.4); a sender
  //              "@domain" as postmaster@domain (§4.3).
  // Never throws, never fails: every outcome is an SpfResult. Inputs that
  // leave nothing to check give kNone with a reason and no DNS query: a
  // sender over kMaxMailFromBytes or holding a NUL, a sender without '@', a
  // domain that is malformed or single-label (§4.3: "none"), a client address
  // that does not parse, a loopback client (libspf2 would answer "pass" for
  // it without looking at any record; we do not claim that). A HELO name over
  // kMaxHeloBytes or holding a NUL ends the check (kNone) only for the null
  // sender; otherwise it is replaced by "" (it then only feeds the "h"
  // macro), so a hostile HELO cannot turn a "fail" into "none".
  // A temporary DNS failure (SERVFAIL, timeout...) anywhere gives kTempError;
  // libspf2 reports it for the top-level record as SPF_RESULT_INVALID with
  // SPF_E_DNS_ERROR, mapped here. Any other SPF_RESULT_INVALID (a record that
  // does not compile) is kPermError (§4.6); an out-of-memory one is
  // kTempError. Blocks for the DNS lookups (each up to the Resolver's
  // timeout).
  SpfCheck CheckMailFrom(std::string_view ip, std::string_view helo,
                         std::string_view mail_from) const;

 private:
  struct Impl;
  explicit Checker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace senderguard::spf
