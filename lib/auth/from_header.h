// The author domain of a message: the one domain DMARC evaluates, read from
// the message's From: header fields.
//
// DMARC (RFC 9989, "Extract Author Domain"; RFC 7489 §6.6.1 before it)
// evaluates the domain of the RFC5322.From address. A message qualifies when
// it has exactly one From: field and every mailbox in it has the same domain;
// a U-label domain is evaluated in its A-label form (RFC 5890 §2.3). Anything
// else has no author domain and is outside DMARC: RFC 9989 says a From: field
// whose mailboxes name several domains MUST be exempt from DMARC checking and
// warns that attackers send exactly such messages to slip a spoofed domain
// past it. What to do with those messages (reject, most likely) is the
// caller's decision; this module only says which case it is. OpenDMARC's two
// CVEs on this path are such inputs: several From: addresses
// (CVE-2019-16378, it took the first) and a From: without a domain
// (CVE-2021-34555, it crashed).
//
// Input is untrusted: the header values come from whoever sent the message.
// The parser reads each value from a std::string_view with hard limits
// (kMaxFromField bytes per field, kMaxAuthorMailboxes mailboxes, comments
// nested at most kMaxCommentDepth deep), runs in time linear in the input,
// never recurses, never reads outside its input, and keeps no state: it is a
// pure function and safe to call from any number of threads (libidn2, which
// it calls for non-ASCII domains, keeps no global state either).
//
// What it reads (RFC 5322 §3.4 address-list, with the §4.4 obsolete syntax
// that real mail carries, and RFC 6532's UTF-8 in atoms and quoted strings):
//   a@example.com                           Name <a@example.com>
//   "Q. Public" <a@example.com>             John Q. Public <a@example.com>
//   =?utf-8?q?J=C3=B6rg?= <a@example.com>   (encoded words skipped, not decoded)
//   "a b"@example.com   "x@y"@example.com   (quoted local parts)
//   a@example.com (Alice)                   (comments, nested, anywhere CFWS goes)
//   <@route1,@route2:a@example.com>         (obsolete source route: ignored)
//   Team: a@example.com, b@example.com;     undisclosed-recipients:;
//   a@example.com,,b@example.com            (empty list members)
//   a @ example . com   a@example.com.      (CFWS around dots, one final dot)
//   "a@evil.example" <b@good.example>       (the mailbox is b@good.example)
// and folding anywhere whitespace may go: "\r\n" or "\n" followed by a space
// or tab (libmilter hands values over folded as the client sent them). A
// line break at the very end of a value is ignored.
//
// Deliberately not read (kSyntax): control bytes other than tab (RFC 5322
// obs-qtext / obs-ctext allow them; no honest mail carries them, and keeping
// them out means `addresses` hold none), "\\" outside quotes, a line break
// not followed by white space, a second "<" in one mailbox, text after ">",
// unterminated quotes, comments, domain literals or angle brackets, words
// side by side in a local part or domain ("a b@example.com"), nested groups.
//
// Non-conforming display names are read the way mail clients show them:
// before "<", anything that is not a list separator is display name, so
// `John Q. Public <a@example.com>` and `a@evil.example <b@good.example>`
// both yield one mailbox, the one in angle brackets. A member with no "<" and
// no "@" is a mailbox without a domain when it is one word or dotted words
// ("alice", "john.doe": kNoDomain) and a display name with no address when
// it is several words ("John Smith": kNoAddress if nothing else is there).
// Note that an unquoted comma splits a member: `Smith, John <j@example.com>`
// is the domainless mailbox "Smith" and a second mailbox, so kNoDomain.
//
// Single-label domains ("a@localhost", "a@com") are accepted, and marked in
// Author::single_label for the log: RFC 9989 says public suffix domains are
// not exempt from DMARC, and a TLD operator may publish a record (RFC 9091);
// for any other single label the DMARC lookup simply finds no policy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace senderguard {

// Longest From: value read, in bytes; a longer one is kTooLong unread.
inline constexpr size_t kMaxFromField = 16 * 1024;
// Most mailboxes read from one From: field; one more is kTooLong.
inline constexpr size_t kMaxAuthorMailboxes = 100;
// Deepest comment nesting read, "(a (b))" being 2; deeper is kSyntax.
inline constexpr size_t kMaxCommentDepth = 32;

// Why there is no author domain (kNone when there is one).
enum class AuthorError : uint8_t {
  kNone = 0,
  kNoFrom,           // no From: field
  kMultipleFrom,     // two or more From: fields (RFC 5322 §3.6 allows one)
  kNoAddress,        // no mailbox: only an empty group, a display name, or nothing
  kNoDomain,         // a mailbox without a domain: "alice", "<alice>", "<>", "a@"
  kMultipleDomains,  // mailboxes with different domains (RFC 9989: exempt from DMARC)
  kBadDomain,        // a domain literal ("[192.0.2.1]"), a quoted domain, empty
                     // labels, a label > 63 or a name > 253 bytes (A-label form),
                     // a byte outside letters, digits and "-" (or "-" at a label's
                     // edge), an all-numeric last label, a non-ASCII label that is
                     // not UTF-8 or that IDNA (UTS #46, via libidn2) refuses
  kSyntax,           // the value is not an address list, even a lenient one
  kTooLong,          // a value over kMaxFromField, or over kMaxAuthorMailboxes mailboxes
};

// The outcome for one message. `domain` is set exactly when error == kNone.
struct Author {
  AuthorError error = AuthorError::kNone;
  // The author domain: lower case, A-label form (IDNA2008 with UTS #46
  // non-transitional mapping, as libidn2 does by default), no final dot,
  // at most 253 bytes of letters, digits, "-" and ".".
  std::string domain;
  // True when `domain` has a single label ("localhost", "com").
  bool single_label = false;
  // Every mailbox read, in order, as "local@domain" written in the header
  // (folding, comments and the white space around dots removed; quotes and
  // quoted pairs kept; the domain as written, not normalized). A mailbox
  // without "@" is just its local part ("" for "<>"). At most
  // kMaxAuthorMailboxes entries. Filled for every error except kNoFrom,
  // kMultipleFrom, kSyntax and a kTooLong value. The entries hold no CR, LF
  // or other control byte except tab, but may hold any 8-bit byte: they are
  // the sender's text, so log them escaped (KvLine does).
  std::vector<std::string> addresses;
  // For the log when error != kNone: one line of printable ASCII, at most a
  // few hundred bytes; bytes quoted from the input are written as \xNN.
  std::string detail;
};

// Finds the author domain in the values of a message's From: header fields,
// in header order, each as libmilter hands it over (the text after "From:",
// folded as sent, possibly 8-bit). The views need only live for the call.
// Never fails otherwise: every outcome is an Author.
Author ParseAuthor(const std::vector<std::string_view>& from_values);

// "none", "no-from", "multiple-from", "no-address", "no-domain",
// "multiple-domains", "bad-domain", "syntax", "too-long".
std::string_view AuthorErrorName(AuthorError e);

}  // namespace senderguard
