// One line of Postfix's log, as the tailer reads it: which delivery outcome,
// queue event or bounce link it records, in a typed record of views.
//
// Input is untrusted: the log file holds whatever any local process handed to
// syslog, and inside genuine Postfix lines the recipient, sender and
// Message-ID come from the SMTP client and the reply text from the remote
// server. The parser reads from a std::string_view with hard limits, never
// reads outside it, allocates nothing, and keeps no state: it is a pure
// function and safe to call from any number of threads.
//
// Shapes read (Postfix 2.3 and later; checked against 3.7.11's own output and
// the 3.12 sources):
//   syslog, RFC 3164:     "Nov 25 18:27:32 host postfix/smtp[123]: BODY"
//                         (also "Nov 25 18:27:32.123456 ...", as journalctl
//                         -o short-precise writes it)
//   syslog, ISO 8601:     "2026-11-25T18:27:32.123456+00:00 host postfix/smtp[123]: BODY"
//                         (rsyslog's RSYSLOG_FileFormat, Debian 12's default;
//                         also "+0000", "Z" and no fraction, as journalctl
//                         -o short-iso[-precise] writes them)
//   Postfix maillog_file: "Nov 05 18:27:32 host postfix/smtp[123]: BODY"
//                         (postlogd zero-pads the day where syslog pads with a
//                         space; so does journalctl -o short)
//   Solaris / illumos:    "Nov 25 18:27:32 host postfix/smtp[123]: [ID 197553 mail.info] BODY"
//                         (syslogd puts the message id and facility.level
//                         between the tag and the message)
//   RFC 5424:             "<22>1 2026-11-25T18:27:32.123456+00:00 host postfix/smtp 123 - SD BODY"
//                         (RFC 5424 §6: PRI, VERSION, TIMESTAMP or "-", HOSTNAME,
//                         APP-NAME, PROCID or "-", MSGID or "-", then structured
//                         data, "-" or "[id k=\"v\" ...]..." (values may hold
//                         escaped '"', '\\' and ']'), and the message, after an
//                         optional UTF-8 BOM. rsyslog's RSYSLOG_SyslogProtocol23Format
//                         writes APP-NAME as its "programname", which stops at
//                         the first "/" unless parser.permitSlashInProgramName
//                         is on: "postfix" or "postfix-out" alone is read too,
//                         with an empty agent.)
// The tag is syslog_name "/" program: "postfix/smtp", "postfix-out/smtp" (a
// second instance), "postfix/submission/smtpd" (master.cf -o syslog_name=).
//
// and these BODYs (QUEUEID is a short "3B7C8A720CC" or long "4jZV3G6kF3z1bkqs" id):
//   agents     QUEUEID: to=<RCPT>[, orig_to=<ORIG>], relay=R[, conn_use=N], delay=D,
//                       delays=a/b/c/d[, other=V], dsn=X.Y.Z, status=WORD (REPLY)
//              (smtp, lmtp, local, virtual, pipe, discard, error, which also
//              runs the "retry" service, and qmgr and cleanup for outcomes they
//              decide themselves: the line is taken from any program)
//   qmgr       QUEUEID: from=<SENDER>, size=N, nrcpt=N (queue active)
//   qmgr       QUEUEID: from=<SENDER>, status=expired, returned to sender
//   any        QUEUEID: removed
//   cleanup    QUEUEID: message-id=VALUE
//   bounce     QUEUEID: sender non-delivery notification: NEWQUEUEID
//              (also "postmaster ...", "... delay notification", and
//              "sender delivery status notification")
// Everything else is "not a line we use" (kind == kNone, with the reason).
//
// Cut lines: Postfix cuts each log record at 2000 bytes of message
// (msg_syslog.c, msg_logger.c: MSG_SYSLOG_RECLEN, MSG_LOGGER_RECLEN), and a
// log daemon or a relay may cut shorter (1024 bytes over UDP, RFC 3164 §4.1)
// or at its own limit (rsyslog's maxMessageSize, 8 KiB). A delivery line whose
// message is at least kMinCutMessage bytes and that ends inside its reply
// (no closing ")") is read as cut: every field but the reply is whole, the
// reply is what is left of it (an incomplete UTF-8 sequence at the cut
// dropped), and PostfixLine::cut is set. A shorter one is malformed.
//
// Fields are read left to right: a "status=", ")" or "to=<" inside a reply
// text or an address cannot move a field. That holds for addresses because
// Postfix 3.5 and later log them in external form (info_log_address_format
// = external, the default), quoting a local part that holds ">" or ",". With
// "internal" (or Postfix before 3.5) a client-chosen local part such as
// `victim@example.com>, orig_to=<x` is indistinguishable from two fields;
// keep the default, or refuse such addresses at RCPT time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <cctz/time_zone.h>

namespace senderguard {

// Longest line read, in bytes, not counting a trailing "\n". Postfix's own
// lines stay far below it (rsyslog cuts messages at 8 KiB by default); a
// longer line is not Postfix's and is skipped as kTooLong unread.
inline constexpr size_t kMaxPostfixLine = 64 * 1024;

// Shortest message (from the queue id to the end of the line) of a delivery
// line read as cut (see "Cut lines" above): below Postfix's own cut (2000)
// and a UDP relay's (1024 bytes of packet, header included).
inline constexpr size_t kMinCutMessage = 900;

enum class PostfixEvent : uint8_t {
  kNone = 0,      // not a line we use; PostfixLine::skip says why
  kDelivery,      // a recipient's outcome: to=<...>, ..., status=WORD (REPLY)
  kQueueActive,   // qmgr took the message: from=<...>, size=N, nrcpt=N (queue active)
  kExpired,       // qmgr gave up on the message: from=<...>, status=expired, returned to sender
  kRemoved,       // the queue file is gone: "removed"
  kMessageId,     // cleanup saw or added the Message-ID: message-id=...
  kNotification,  // bounce daemon queued a notice about the message: ... notification: NEWID
};

// Why a line was not used (kNone when it was).
enum class PostfixSkip : uint8_t {
  kNone = 0,
  kTooLong,    // longer than kMaxPostfixLine
  kIgnored,    // not Postfix, or a Postfix line of a kind we do not read
  kMalformed,  // began like a line we read but broke its grammar (a cut line, ...);
               // worth counting: a rise means the log format changed under us
  kBadBytes,   // a line we would use holds NUL, a control byte or invalid UTF-8:
               // Postfix writes neither (msg_output.c makes text printable),
               // so the bytes are damage (a crash's NUL-filled block) or forgery
};

// The status word of a delivery line.
enum class DeliveryStatus : uint8_t {
  kOther = 0,      // a word this build does not know (see PostfixLine::status)
  kSent,           // "sent"
  kDeferred,       // "deferred"
  kBounced,        // "bounced"
  kSoftBounce,     // "SOFTBOUNCE": would have bounced, but soft_bounce = yes keeps it queued
  kExpired,        // "expired" (qmgr logs expiry on the from= line; kept for older shapes)
  kDeliverable,    // "deliverable": an address-verification probe, not a delivery
  kUndeliverable,  // "undeliverable": an address-verification probe, not a delivery
};

enum class NotificationKind : uint8_t {
  kNonDelivery = 0,  // "non-delivery notification": the bounce message
  kDelay,            // "delay notification": delay_warning_time passed
  kSuccess,          // "delivery status notification": DSN success or verbose trace
};

// One parsed line. Every string_view points into the line given to the
// parser and is valid only as long as that line's bytes are: copy what must
// outlive it. Views are returned as logged, not unquoted or normalized (a
// recipient with special characters keeps Postfix's quotes:
// "\"a b\"@example.com"). Fields that the event does not have are empty / 0.
// When kind is kNone, a kIgnored or kMalformed line keeps the syslog prefix,
// program and queue id if they were read (for a caller's diagnostics); a
// kTooLong or kBadBytes line keeps nothing. (The views' "{}" lets callers
// and tests write designated initializers under g++ 12's
// -Wmissing-field-initializers.)
struct PostfixLine {
  PostfixEvent kind = PostfixEvent::kNone;
  PostfixSkip skip = PostfixSkip::kIgnored;

  // Syslog prefix (empty from ParsePostfixMessage).
  std::string_view timestamp{};  // as written (empty: RFC 5424's "-"); see ParseSyslogTime
  std::string_view host{};
  uint32_t pid = 0;
  // "postfix/smtp", "postfix-out/smtp", "postfix/submission/smtpd". Postfix
  // writes syslog_name + "/" + the daemon's program name (mail_task.c), so
  // `agent` is the daemon (the "retry" service runs "error", Debian's "relay"
  // service logs as "postfix/relay/smtp") and `instance` is the syslog_name,
  // which tells multi-instance setups apart. An RFC 5424 APP-NAME without a
  // "/" (rsyslog's "postfix") gives program = instance and an empty agent.
  std::string_view program{};
  std::string_view instance{};  // "postfix", "postfix-out", "postfix/relay"
  std::string_view agent{};     // "smtp", "error", "qmgr", ...

  std::string_view queue_id{};  // every event

  // kDelivery.
  std::string_view recipient{};  // between "to=<" and ">"
  std::string_view orig_to{};    // before alias or virtual rewriting; empty when not logged
  std::string_view relay{};      // "mx.example[192.0.2.1]:25", "none", "local", "virtual", ...
  std::string_view delay{};      // "0.05", "307136" (seconds, as logged)
  std::string_view delays{};     // "0.01/0.03/0/0"
  std::string_view dsn{};        // "5.1.1" (RFC 3463 §2: class.subject.detail)
  std::string_view status{};     // the word: "sent", "deferred", "bounced", ...
  DeliveryStatus delivery = DeliveryStatus::kOther;
  // The line was cut inside the reply (see "Cut lines" above): `reply` runs
  // to the end of what is left. (Here, in the padding after `delivery`.)
  bool cut = false;
  // The text in the parentheses after the status word, from the first "("
  // after "status=WORD " to the ")" that ends the line. The remote server
  // writes much of it, so it may hold parentheses, commas and "status=".
  std::string_view reply{};

  // kQueueActive, kExpired.
  std::string_view sender{};  // between "from=<" and ">"; empty for the null sender
  uint64_t size = 0;          // kQueueActive: message size in bytes
  uint32_t nrcpt = 0;         // kQueueActive: recipients in this queue file
  bool forced = false;        // kExpired: "status=force-expired" (postsuper -e)

  // kMessageId: the header value as cleanup logged it, usually "<id@host>";
  // "<>" when the message had none. Client-supplied: it is not unique.
  std::string_view message_id{};

  // kNotification: `queue_id` is the original message, `new_queue_id` the
  // notification Postfix queued about it.
  std::string_view new_queue_id{};
  NotificationKind notification = NotificationKind::kNonDelivery;
  bool to_postmaster = false;  // "postmaster ... notification" rather than "sender ..."
};

// Parses one line of a log file written by syslog or by Postfix's
// maillog_file. `line` may end in "\n" or "\r\n" (ignored) and may hold any
// bytes. Returns kind != kNone for a line of a shape listed at the top of
// this file, else kind == kNone and `skip` saying why. Never fails otherwise.
PostfixLine ParsePostfixLine(std::string_view line);
// The same into *out, which must be a default PostfixLine (for callers that
// parse into storage of their own).
void ParsePostfixLine(std::string_view line, PostfixLine* out);

// The same for a source that keeps the syslog fields apart, such as the
// systemd journal: `program` is SYSLOG_IDENTIFIER ("postfix/smtp"), `message`
// is MESSAGE. timestamp, host and pid are left empty; the caller has them.
PostfixLine ParsePostfixMessage(std::string_view program, std::string_view message);
void ParsePostfixMessage(std::string_view program, std::string_view message, PostfixLine* out);

// Whether `id` has the shape of a Postfix queue id: a short id (6 to 20
// upper-case hex digits) or a long id (enable_long_queue_ids: at least 10
// time characters, "z", inode characters, all from Postfix's vowel-free
// alphabet; mail_queue.h). Rejects "NOQUEUE".
bool IsPostfixQueueId(std::string_view id);

// Converts a timestamp as returned in PostfixLine::timestamp to Unix seconds
// (a fraction is dropped: "Nov 25 18:27:32.123456" is "Nov 25 18:27:32").
// ISO 8601 timestamps carry their UTC offset. RFC 3164 ones carry neither
// year nor zone: they are read as local time in `tz`
// (the zone of the process that wrote the log), in the latest year that
// does not put them more than a day after `now`: the year `now` has in `tz`,
// the year before for a December line read in January, the year after for a
// "Jan  1 00:00:05" read at 23:59:59 on Dec 31. A local time that a DST change
// repeats takes its first occurrence; one it skips is read with the offset
// in force before the change. Returns nullopt for anything else, including
// impossible dates (Feb 30, Feb 29 outside a leap year, hour 24) and, for
// RFC 3164, a `now` more than 2^40 s (34,000 years) from the epoch.
std::optional<int64_t> ParseSyslogTime(std::string_view timestamp, int64_t now,
                                       const cctz::time_zone& tz);

std::string_view PostfixEventName(PostfixEvent e);      // "none", "delivery", "queue-active", ...
std::string_view PostfixSkipName(PostfixSkip s);        // "none", "too-long", "ignored", ...
std::string_view DeliveryStatusName(DeliveryStatus s);  // "other", "sent", "deferred", ...

}  // namespace senderguard
