// An email feedback report (ARF, RFC 5965; RFC 6650 for the headers-only
// copy), as senderguard-arf reads it from a Postfix pipe transport or alias:
// what kind of complaint it is and which of our messages it is about.
//
// Input is untrusted twice over: anyone can send a message that looks like a
// feedback report to the abuse address (ParseArf does not authenticate the
// reporter), and the copy of the original message inside a genuine report
// holds header fields written by the sender being complained about. The
// parser reads from a std::string_view with hard limits (the kMaxArf*
// constants), never reads outside it, takes time linear in its size (at most
// kMaxArfDepth passes over any byte), recurses only to kMaxArfDepth, and keeps
// no state: it is a pure function and safe to call from any number of threads.
//
// Shapes read:
//   multipart/report; report-type=feedback-report      RFC 5965 §2
//     part: human-readable text (any type)             ignored
//     part: message/feedback-report                    the fields, §3.1-3.2
//     part: message/rfc822 or text/rfc822-headers      the original, §2 (d),
//                                                      RFC 6650 §5
//   the same report one or more levels down inside a multipart/mixed (or any
//   multipart/*) or a message/rfc822 attachment of one, as forwarders and
//   some providers wrap it, to a nesting depth of kMaxArfDepth.
// Parts are told apart by their Content-Type, not their position. Each part
// read may be 7bit, 8bit, binary, base64 or quoted-printable (RFC 2045 §6).
//
// Header parsing follows RFC 5322 §2.2 and Postfix's cleanup(8), which is
// what our milter saw: lines end in LF (a CR before it is dropped; a bare CR
// is part of the line), a line starting with SP or HTAB continues the field
// before it, names compare case-insensitively, and the first line that is
// neither a field nor a continuation ends the header block.
//
// Tolerated, each leaving a line in ArfReport::notes: a multipart without its
// close delimiter, a preamble or epilogue, a feedback-report part without a
// trailing blank line or with its fields in the part's own header, blank
// lines before the original's header block, a multipart/report without
// report-type that holds a message/feedback-report part, a missing User-Agent
// or Version, a leading mbox "From " line (pipe(8) flag F), a descriptive
// value longer than kMaxArfValue (truncated).
//
// Refused, where a guess could blame the wrong account: two different
// values of the token header or of Message-ID in the original (or two ids in
// one Message-ID), two original parts that disagree on either, a truncated
// report (an original in the last part of a multipart without its close
// delimiter whose header block is not ended by a blank line or a body, or a
// feedback-report part there that ends mid-line), two feedback reports in one
// wrapper, two message/feedback-report parts, two different Feedback-Type
// fields, a token or Message-ID longer than kMaxArfValue, an unknown transfer
// encoding on a part that is read, and two different Content-Type,
// Content-Transfer-Encoding, boundary or report-type values in one entity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/base/status.h"

namespace senderguard {

inline constexpr size_t kMaxArfMessage = 16 * 1024 * 1024;  // whole input, bytes
inline constexpr size_t kMaxArfHeaderBlock = 256 * 1024;     // one header block, bytes
inline constexpr size_t kMaxArfFields = 1000;                // fields in one header block
inline constexpr size_t kMaxArfParts = 100;                  // MIME entities in the message
inline constexpr int kMaxArfDepth = 4;                       // nesting below the top level
// Longest value kept, after unfolding: RFC 5322 §2.1.1's line limit, which
// no single field we use needs to exceed.
inline constexpr size_t kMaxArfValue = 998;
inline constexpr size_t kMaxArfRecipients = 100;  // Original-Rcpt-To fields kept
inline constexpr size_t kMaxArfNotes = 16;        // ArfReport::notes kept

// One feedback report. All strings are copies (nothing points into the
// input), unfolded (RFC 5322 §2.2.3) and trimmed of surrounding SP/HTAB, but
// otherwise raw bytes as received: RFC 2047 encoded words are not decoded and
// any byte but LF may appear. Log them escaped. Empty means absent.
struct ArfReport {
  // From the message/feedback-report part (RFC 5965 §3.1, §3.2).
  std::string feedback_type;  // first token, lowercased: "abuse", "fraud", "virus",
                              // "other", "not-spam", "auth-failure", ...; never empty
  std::string user_agent;
  std::string version;
  std::string original_envelope_id;
  std::string original_mail_from;              // one pair of <> removed; "<>" gives ""
  std::vector<std::string> original_rcpt_to;   // <> removed; may be empty (redacted or
                                               // absent); at most kMaxArfRecipients
  std::string arrival_date;                    // Arrival-Date, else the draft's Received-Date
  std::string source_ip;
  std::string reported_domain;                 // the first Reported-Domain
  uint32_t incidents = 1;                      // Incidents (§3.2: 1 when absent or unreadable)

  // From the original message's header block (the message/rfc822 or
  // text/rfc822-headers part).
  bool has_original = false;  // an original part was found
  bool headers_only = false;  // ... and every one found was text/rfc822-headers
  // The msg-id of the Message-ID field: comments and whitespace removed,
  // "<" and ">" kept ("<abc@example.com>"). A value without angle brackets is
  // kept as its single word. Empty when absent or not readable as one id.
  std::string message_id;
  std::string token;  // the field named by token_header
  std::string original_from, original_to, original_subject;  // first of each, at most
                                                              // kMaxArfValue bytes

  // What the parser tolerated or dropped, one short line each, for the
  // caller's log (at most kMaxArfNotes; duplicates once).
  std::vector<std::string> notes;
};

// Parses `message`, one whole mail message (header block and body, as a
// pipe transport hands it over), as a feedback report. `token_header` names
// the header field our milter adds to every message it accepts (e.g.
// "X-Senderguard-ID"), compared case-insensitively; empty means none (token
// is then always empty).
//
// A report without an original part, or whose original holds neither the
// token nor a Message-ID, parses: the caller decides what an unattributable
// complaint is worth (has_original, token and message_id tell it apart).
//
// Errors (all Status::Invalid, the message one line for stderr or a log):
// the input is larger than kMaxArfMessage; token_header is not a valid field
// name (RFC 5322 §3.6.8 ftext, at most 128 bytes); the message is not a
// feedback report (top-level type, report-type, no report inside a wrapper);
// no message/feedback-report part or no Feedback-Type field; a limit above
// exceeded; any "Refused" case in this file's opening comment.
Result<ArfReport> ParseArf(std::string_view message, std::string_view token_header);

}  // namespace senderguard
