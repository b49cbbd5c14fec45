// DKIM verification (RFC 6376) of a message as a milter sees it: header
// fields one by one, then the body in chunks, then the verdict of every
// signature. Built on libopendkim 2.11 (Debian 12), whose key lookups go
// through senderguard's own resolver (dns.h), never through libopendkim's
// default resolver (res_nquery on a shared res_state, system resolv.conf).
//
// Use:
//   auto v = Verifier::Create(&resolver);          // once per process
//   auto m = v->Begin();                           // once per message
//   for each header field: m->Header(name, value);
//   m->EndOfHeaders();                             // looks the keys up
//   if (m->WantsBody()) for each chunk: m->Body(chunk);
//   Verification result = m->Finish();
//
// What the milter must hand over, so the bytes match what the signer signed:
//  - Header values exactly as received after the colon, leading white space
//    included: negotiate SMFIP_HDR_LEADSPC. Without it Postfix drops the
//    white space after the colon and the caller must put one space back
//    (" " + value), which is right for nearly all mail, but a field written
//    "Subject:x" or "Subject:  x" then breaks "simple" header
//    canonicalization (relaxed does not care). Folded values may come with
//    "\n" (libmilter's form) or "\r\n" between the lines; both become CRLF.
//  - Every header field, in order, including ones the milter itself does not
//    care about (SMFIP_NOHDRS must not be set; SMFIP_NR_HDR is fine).
//  - The body as the MTA gives it (Postfix: CRLF line ends, dot-unstuffed).
//    Bare LF line ends are turned into CRLF, also across chunk boundaries;
//    a body that does not end in CRLF gets one (RFC 6376 §3.4.3, §3.4.4).
//    When WantsBody() is false after EndOfHeaders the body is not needed
//    (the milter may answer SMFIS_SKIP from its body callback).
//
// Key lookups. libopendkim's query hooks (dkim_dns_set_query_start /
// waitreply / cancel) are pointed at the Resolver: the start hook asks the
// resolver for the TXT RRset of "<s>._domainkey.<d>" synchronously, on the
// calling thread, and writes a DNS reply for libopendkim to parse, built
// from the records the resolver decoded and checked (not the raw upstream
// packet): NXDOMAIN and NODATA become a "key not found" (RFC 6376 §6.1.2:
// PERMFAIL), a timeout, SERVFAIL or any other failure to get an answer
// becomes a temporary error (TEMPFAIL), a name the resolver refuses to ask
// (malformed s= or d=) becomes "key not found", and a signature whose key
// name would be over 253 bytes is set aside before any lookup (libopendkim
// would otherwise fail the whole message). The lookups happen inside
// EndOfHeaders (libopendkim checks the header hash and the key there, the
// body hash at Finish): EndOfHeaders can block for up to max_signatures
// lookups, each bounded by the resolver's (or key_lookup_timeout's)
// timeout. Signatures that share a key (same d= and s=) share one lookup.
//
// Results, per signature (RFC 8601 §2.7.1 words, via SigResultName):
//   kPass       the header hash verified under the key AND the body hash
//               matched (DKIM_SIG_CHECK, not the PASSED flag alone, which
//               libopendkim also sets for a signature whose body hash is
//               wrong) and libopendkim recorded no other error;
//   kFail       signature or body hash mismatch; "t=s" key used for a
//               subdomain; "l=" longer than the body;
//   kTempError  the key could not be fetched for now (timeout, SERVFAIL),
//               or the library ran out of resources;
//   kPermError  key not found (NXDOMAIN, no TXT record), key record
//               malformed or revoked ("p=" empty, RFC 6376 §3.6.1),
//               several key records, key name too long, malformed
//               DKIM-Signature field, unknown a= or v=, expired signature,
//               a message without a usable From field;
//   kPolicy     verified, but not acceptable under RFC 8301: rsa-sha1, or an
//               RSA key under VerifierOptions::min_key_bits (1024);
//   kNeutral    not evaluated for a reason not listed above.
// Signature::testing says the key carried "t=y" (RFC 6376 §3.6.1: treat
// the message as unsigned, whatever the result); that is the caller's call.
//
// Untrusted input: every header field and body byte comes from the sender,
// and so do the key records (whoever runs the signing domain's DNS). Limits:
// at most kMaxHeaderFields fields and kMaxHeaderBytes bytes of header, a
// field at most kMaxFieldBytes; a field name must be printable ASCII other
// than ':' and no byte may be NUL. A message over a limit, or with a field
// that cannot be handed to libopendkim, is not verified (Verification::error
// says why; no signature passes), because dropping a field could make a
// signature pass that "oversigned" it. At most VerifierOptions::
// max_signatures DKIM-Signature fields (the first ones, top down) are handed
// to libopendkim; further ones are not, and are counted in
// Verification::signatures_ignored (RFC 6376 §6.1 lets a verifier limit the
// signatures it tries). Every string copied into a result is escaped by
// Printable (base/text.h: printable ASCII, '\' doubled, other bytes as
// \xNN) and cut (kMaxResultText). An unsigned message always gives an empty Verification,
// whatever else was wrong with it (that is not DKIM's business).
//
// Known limits of libopendkim 2.11 that apply here: a key record longer
// than 1024 bytes is cut by libopendkim (a key with a 4096-bit RSA key and
// the usual tags fits); the message's From field must exist and hold a
// parsable address, or no signature is evaluated at all.
//
// Thread safety: one Verifier serves any number of threads at once (the
// libopendkim library handle is set up in Create and only read afterwards;
// each lookup keeps its state in its own heap object). A Message is used by
// one thread at a time (libmilter may move a connection between threads
// between callbacks: that is fine). Methods throw nothing but the standard
// library's std::bad_alloc; the callbacks handed to libopendkim catch
// everything (nothing unwinds through its C frames).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "senderguard/auth/dns.h"
#include "senderguard/base/status.h"

// libopendkim's handle types (DKIM_LIB, DKIM), kept out of this header.
struct dkim_lib;
struct dkim;

namespace senderguard::dkim {

namespace internal {
struct KeyService;  // what libopendkim's query hooks see (dkim.cc)
struct Hooks;       // the callbacks handed to libopendkim (dkim.cc)
}  // namespace internal

// Header limits (see above). kMaxFieldBytes counts name, colon and value;
// it matches Postfix's default header_size_limit (102400), beyond which
// Postfix itself cuts a field.
inline constexpr size_t kMaxHeaderFields = 1000;
inline constexpr size_t kMaxFieldBytes = 102400;
inline constexpr size_t kMaxHeaderBytes = 1024 * 1024;
// Longest domain, selector or reason text in a result, in bytes after
// escaping (longer ones end in "...").
inline constexpr size_t kMaxResultText = 256;

enum class SigResult : uint8_t { kPass, kFail, kNeutral, kTempError, kPermError, kPolicy };

// "pass", "fail", "neutral", "temperror", "permerror", "policy" (RFC 8601
// §2.7.1), for Authentication-Results and key=value log lines.
std::string_view SigResultName(SigResult r);

struct Signature {
  std::string domain;     // d=, as written ("" when missing)
  std::string selector;   // s=, as written ("" when missing)
  std::string algorithm;  // a=, as written ("rsa-sha256", "ed25519-sha256"...; "" when missing)
  std::string header_b;   // the first 12 characters of b= (RFC 6008 header.b), or ""
  SigResult result = SigResult::kNeutral;
  // Why, when not kPass: "body hash mismatch", "signature verification
  // failed", "key not found (nxdomain)", "key lookup failed (timeout after
  // 5000 ms)", "key revoked", "malformed signature: ..."...
  std::string reason;
  unsigned key_bits = 0;  // RSA modulus bits once the key was applied; 0 if not
  bool testing = false;   // the key says t=y
};

struct Verification {
  // At least one DKIM-Signature field was seen (handed over or ignored).
  bool signed_message = false;
  // One entry per DKIM-Signature field taken into account (the first
  // max_signatures), top down.
  std::vector<Signature> signatures;
  // DKIM-Signature fields beyond max_signatures, not evaluated.
  size_t signatures_ignored = 0;
  // Non-empty when the message as a whole could not be verified (over a
  // header limit, a field libopendkim refused, no usable From field, a
  // library or resource failure). No signature is kPass then; each one
  // handed over is reported with kPermError, or kTempError when
  // `temporary` (a failure that may not recur).
  std::string error;
  bool temporary = false;

  // Whether some signature passed.
  bool AnyPass() const;
};

struct VerifierOptions {
  // DKIM-Signature fields handed to libopendkim per message; 1..32.
  size_t max_signatures = 8;
  // Smallest RSA key accepted (RFC 8301 §3.2: not under 1024); 1024..16384.
  unsigned min_key_bits = 1024;
  // Per key lookup; 0 means the resolver's own timeout. At most 60 s.
  std::chrono::milliseconds key_lookup_timeout{0};
};

class Message;

class Verifier {
 public:
  // Sets up one libopendkim library handle with the query hooks pointed at
  // `resolver`. `resolver` is not owned and must outlive the Verifier.
  // Call it at startup: dkim_init also calls the libc res_init(), which is
  // not thread-safe (nothing here uses the libc resolver afterwards).
  // Returns Status::Invalid for a null resolver or an option out of range,
  // Status::Unavailable when libopendkim cannot be initialized.
  static Result<std::unique_ptr<Verifier>> Create(dns::Resolver* resolver,
                                                  const VerifierOptions& options = {});

  // REQUIRES: every Message from Begin() was destroyed.
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // Starts one message. Never null: if libopendkim cannot start a
  // verification, the Message reports that (temporary) from Finish().
  // The Message must not outlive the Verifier.
  std::unique_ptr<Message> Begin() const;

  const VerifierOptions& options() const { return options_; }

 private:
  friend class Message;
  friend struct internal::Hooks;
  Verifier(std::unique_ptr<internal::KeyService> service, ::dkim_lib* lib,
           const VerifierOptions& options);

  std::unique_ptr<internal::KeyService> service_;
  ::dkim_lib* lib_ = nullptr;  // owned; dkim_close in the destructor
  VerifierOptions options_;
};

// One message. Calls must come in order: Header*, EndOfHeaders, Body*,
// Finish. Body() before EndOfHeaders() and Finish() before either implies
// EndOfHeaders(); a Header() after EndOfHeaders() makes the message
// unverifiable (a caller bug, reported in Verification::error); calls after
// Finish() are ignored.
class Message {
 public:
  ~Message();  // frees the libopendkim handle
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  // One header field: `name` without the colon, `value` everything after
  // the colon, without the final line break (see the file comment about
  // SMFIP_HDR_LEADSPC and folding).
  void Header(std::string_view name, std::string_view value);

  // End of the header: the signatures are parsed and their keys looked up
  // (this blocks on DNS).
  void EndOfHeaders();

  // After EndOfHeaders: whether any signature still needs the body. False
  // for an unsigned message, one whose signatures are all malformed, or one
  // that cannot be verified. Before EndOfHeaders: true.
  bool WantsBody() const;

  // A chunk of the body, any size (empty is fine).
  void Body(std::string_view chunk);

  // Ends the message and returns the verdict. A second call returns a
  // Verification whose error says so.
  Verification Finish();

 private:
  friend class Verifier;
  friend struct internal::Hooks;
  struct SigField;
  Message(const Verifier* verifier, ::dkim* handle, std::string start_error);

  void Fail(std::string why, bool temporary);
  void HandOver(std::string_view name, std::string_view trimmed, bool name_ok,
                std::string_view value, bool is_signature);
  void FeedBody(std::string_view chunk);
  Verification Collect();

  const Verifier* const verifier_;
  ::dkim* handle_ = nullptr;  // owned; dkim_free in the destructor

  enum class State : uint8_t { kHeaders, kBody, kFinished };
  State state_ = State::kHeaders;
  bool evaluating_ = false;  // dkim_eoh succeeded: signatures await the body
  std::string error_;        // non-empty: the message cannot be verified
  bool error_temporary_ = false;

  size_t header_fields_ = 0;
  size_t header_bytes_ = 0;
  bool saw_signature_ = false;
  size_t signatures_ignored_ = 0;
  std::vector<SigField> fields_;  // DKIM-Signature fields handed over, top down
  // What the resolver said, per key name ("s._domainkey.d", "nxdomain").
  std::vector<std::pair<std::string, std::string>> lookups_;
  // Why the prescreen set a signature aside, by libopendkim's signature
  // index ("" for those it kept).
  std::vector<std::string> set_aside_;
  std::string scratch_;          // one field, or one body chunk in CRLF form
  bool body_last_cr_ = false;    // the last body byte handed over was CR
  bool body_open_line_ = false;  // the body handed over so far does not end in CRLF
};

}  // namespace senderguard::dkim
