#include "senderguard/feedback/postfix_log.h"

#include <cctz/civil_time.h>

#include <array>
#include <chrono>
#include <cstring>

#include "senderguard/base/text.h"

namespace senderguard {
namespace {

using sv = std::string_view;

bool Digit(char c) { return c >= '0' && c <= '9'; }

// Removes the literal `lit` from the start of *s if it is there. A template
// so that the length is a constant and the compare is inlined.
template <size_t N>
bool Consume(sv* s, const char (&lit)[N]) {
  constexpr size_t n = N - 1;
  if (s->size() < n || std::memcmp(s->data(), lit, n) != 0) return false;
  s->remove_prefix(n);
  return true;
}

// Decimal digits [1, max_digits] at the start of *s, removed. No sign, no
// overflow: callers bound max_digits to fit.
bool ConsumeNumber(sv* s, size_t max_digits, uint64_t* out) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < s->size() && i < max_digits && Digit((*s)[i])) {
    v = v * 10 + static_cast<uint64_t>((*s)[i] - '0');
    ++i;
  }
  if (i == 0 || (i < s->size() && Digit((*s)[i]))) return false;
  s->remove_prefix(i);
  *out = v;
  return true;
}

// ------------------------------------------------------------ queue ids

// Byte classes for queue ids, one table lookup per byte.
enum : uint8_t { kAlnum = 1, kUpperHex = 2, kLongIdChar = 4 };

constexpr std::array<uint8_t, 256> kIdClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool digit = c >= '0' && c <= '9';
    const bool upper = c >= 'A' && c <= 'Z';
    const bool lower = c >= 'a' && c <= 'z';
    const int u = lower ? c - 'a' + 'A' : c;
    const bool vowel = u == 'A' || u == 'E' || u == 'I' || u == 'O' || u == 'U';
    uint8_t v = 0;
    if (digit || upper || lower) v |= kAlnum;
    if (digit || (c >= 'A' && c <= 'F')) v |= kUpperHex;
    // Long queue ids use digits and consonants only (mail_queue.h: "the
    // alphabet is made safe by removing all the vowels").
    if (digit || ((upper || lower) && !vowel)) v |= kLongIdChar;
    t[static_cast<size_t>(c)] = v;
  }
  return t;
}();

constexpr size_t kMaxQueueId = 32;

// The queue id rules over a scanned id: `classes` is the AND of its bytes'
// classes, `last_z` the position of its last 'z' (npos if none).
bool QueueIdRules(size_t size, uint8_t classes, size_t last_z) {
  if (size < 6 || size > kMaxQueueId || !(classes & kAlnum)) return false;
  // Short ids: 5 hex digits of microseconds, then the inode in hex
  // (mail_queue.h MQID_SH_*); at most 5 + 16 digits.
  if (classes & kUpperHex) return size <= 21;
  // Long ids: >= 6 + 4 time characters, 'z', the inode in base 51 (no 'z').
  return (classes & kLongIdChar) && last_z != sv::npos && last_z >= 10 && last_z + 1 < size;
}

// Scans alphanumerics at the start of s (at most kMaxQueueId + 1 of them).
size_t ScanId(sv s, uint8_t* classes, size_t* last_z) {
  uint8_t all = kAlnum | kUpperHex | kLongIdChar;
  size_t z = sv::npos;
  size_t i = 0;
  for (; i < s.size() && i <= kMaxQueueId; ++i) {
    const uint8_t c = kIdClass[static_cast<unsigned char>(s[i])];
    if (!(c & kAlnum)) break;
    all &= c;
    if (s[i] == 'z') z = i;
  }
  *classes = i == 0 ? 0 : all;
  *last_z = z;
  return i;
}

// ------------------------------------------------------------ timestamps

constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";

// 1..12 for "Jan".."Dec" at the start of s, else 0.
int MonthIndex(sv s) {
  if (s.size() < 3) return 0;
  for (size_t m = 0; m < 12; ++m) {
    if (s[0] == kMonths[m * 3] && s[1] == kMonths[m * 3 + 1] && s[2] == kMonths[m * 3 + 2]) {
      return static_cast<int>(m) + 1;
    }
  }
  return 0;
}

// Two digits at s[i], i+1 (caller checked the size).
int Two(sv s, size_t i) { return (s[i] - '0') * 10 + (s[i + 1] - '0'); }

bool DigitsAt(sv s, size_t i, size_t n) {
  for (size_t k = i; k < i + n; ++k) {
    if (!Digit(s[k])) return false;
  }
  return true;
}

// "Mmm dd hh:mm:ss" (dd as " 5" or "05"): the shape only.
bool Rfc3164Shape(sv s) {
  if (s.size() != 15 || MonthIndex(s) == 0 || s[3] != ' ') return false;
  if (!(Digit(s[4]) || s[4] == ' ') || !Digit(s[5])) return false;
  return s[6] == ' ' && DigitsAt(s, 7, 2) && s[9] == ':' && DigitsAt(s, 10, 2) &&
         s[12] == ':' && DigitsAt(s, 13, 2);
}

// "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+hh:mm|+hhmm)": the shape only (no
// calendar check). On success *offset_s is the UTC offset in seconds.
bool IsoShape(sv s, int* offset_s) {
  if (s.size() < 20) return false;
  if (!DigitsAt(s, 0, 4) || s[4] != '-' || !DigitsAt(s, 5, 2) || s[7] != '-' ||
      !DigitsAt(s, 8, 2) || (s[10] != 'T' && s[10] != 't') || !DigitsAt(s, 11, 2) ||
      s[13] != ':' || !DigitsAt(s, 14, 2) || s[16] != ':' || !DigitsAt(s, 17, 2)) {
    return false;
  }
  size_t i = 19;
  if (s[i] == '.') {
    size_t f = 0;
    ++i;
    while (i < s.size() && Digit(s[i]) && f < 9) ++i, ++f;
    if (f == 0) return false;
  }
  sv zone = s.substr(i);
  if (zone == "Z" || zone == "z") {
    *offset_s = 0;
    return true;
  }
  if (zone.size() != 5 && zone.size() != 6) return false;
  if (zone[0] != '+' && zone[0] != '-') return false;
  if (!DigitsAt(zone, 1, 2)) return false;
  size_t m = 3;
  if (zone.size() == 6) {
    if (zone[3] != ':') return false;
    m = 4;
  }
  if (!DigitsAt(zone, m, 2)) return false;
  const int hh = Two(zone, 1), mm = Two(zone, m);
  if (hh > 23 || mm > 59) return false;
  *offset_s = (zone[0] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
  return true;
}

// Length of a fraction of a second ".f{1,9}" at the start of s, or 0.
size_t FractionLength(sv s) {
  if (s.size() < 2 || s[0] != '.') return 0;
  size_t i = 1;
  while (i < s.size() && i <= 9 && Digit(s[i])) ++i;
  return i > 1 ? i : 0;
}

// Length of the timestamp that starts the line (without the space after
// it), or 0.
size_t TimestampLength(sv line) {
  if (line.size() > 15 && (line[15] == ' ' || line[15] == '.') &&
      Rfc3164Shape(line.substr(0, 15))) {
    if (line[15] == ' ') return 15;
    // journalctl -o short-precise: "Nov 25 18:27:32.123456".
    const size_t f = FractionLength(line.substr(15));
    return f != 0 && 15 + f < line.size() && line[15 + f] == ' ' ? 15 + f : 0;
  }
  if (line.size() > 20 && Digit(line[0])) {
    // ISO timestamps are at most 19 + 10 (fraction) + 6 (zone) bytes.
    const size_t sp = line.substr(0, 36).find(' ');
    int offset = 0;
    if (sp != sv::npos && IsoShape(line.substr(0, sp), &offset)) return sp;
  }
  return 0;
}

bool ValidCivil(int64_t y, int mo, int d, int h, int mi, int s) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  const int days = kDays[mo - 1] + (mo == 2 && leap ? 1 : 0);
  return d <= days;
}

int64_t ToUnix(cctz::time_point<cctz::seconds> tp) {
  return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
}

// ------------------------------------------------------------ bodies

// An address inside "<...>", starting just after the "<": ends at the first
// ">" outside a quoted string. Postfix 3.5 and later log addresses in
// external form (info_log_address_format = external, quote_822_local.c): a
// local part with specials is quoted, with '"' and '\\' escaped inside. So a
// ">" or ", relay=" that a client put in the local part is inside quotes and
// cannot end the address early. (With the non-default "internal" form the
// log is ambiguous, and no parser can tell such an address from the fields
// after it.)
bool ConsumeAddress(sv* s, sv* addr) {
  const size_t gt = s->find('>');
  if (gt == sv::npos) return false;
  size_t end = gt;
  if (s->substr(0, gt).find('"') != sv::npos) {
    bool quoted = false;
    end = sv::npos;
    for (size_t i = 0; i < s->size(); ++i) {
      const char c = (*s)[i];
      if (quoted && c == '\\') {
        ++i;  // the escaped byte
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == '>' && !quoted) {
        end = i;
        break;
      }
    }
    if (end == sv::npos) return false;
  }
  *addr = s->substr(0, end);
  s->remove_prefix(end + 1);
  return true;
}

bool ConsumeQueueId(sv* s, sv* id) {
  uint8_t classes;
  size_t last_z;
  const size_t n = ScanId(*s, &classes, &last_z);
  if (!QueueIdRules(n, classes, last_z)) return false;
  *id = s->substr(0, n);
  s->remove_prefix(n);
  return true;
}

DeliveryStatus StatusFromWord(sv w) {
  if (w == "sent") return DeliveryStatus::kSent;
  if (w == "deferred") return DeliveryStatus::kDeferred;
  if (w == "bounced") return DeliveryStatus::kBounced;
  if (w == "SOFTBOUNCE") return DeliveryStatus::kSoftBounce;
  if (w == "expired") return DeliveryStatus::kExpired;
  if (w == "deliverable") return DeliveryStatus::kDeliverable;
  if (w == "undeliverable") return DeliveryStatus::kUndeliverable;
  return DeliveryStatus::kOther;
}

// The bytes at the end of `s` that begin a UTF-8 sequence but stop before
// its end (0 to 3): what a cut at a byte count leaves of a character.
size_t IncompleteUtf8Tail(sv s) {
  for (size_t k = 1; k <= 3 && k <= s.size(); ++k) {
    const unsigned char c = static_cast<unsigned char>(s[s.size() - k]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 1;
    // Only a valid lead byte is dropped; anything else is left for the
    // byte check to refuse.
    return c <= 0xF4 && need > k ? k : 0;
  }
  return 0;
}

// "X.Y.Z": RFC 3463 §2, class 2, 4 or 5, subject and detail 1 to 3 digits.
bool ConsumeDsn(sv* s, sv* dsn) {
  sv t = *s;
  uint64_t v;
  if (t.empty() || (t[0] != '2' && t[0] != '4' && t[0] != '5')) return false;
  t.remove_prefix(1);
  if (!Consume(&t, ".") || !ConsumeNumber(&t, 3, &v) || !Consume(&t, ".") ||
      !ConsumeNumber(&t, 3, &v)) {
    return false;
  }
  *dsn = s->substr(0, s->size() - t.size());
  *s = t;
  return true;
}

// After "QUEUEID: to=<". log_adhoc.c writes, in this order:
//   to=<RCPT>[, orig_to=<ORIG>], relay=R[, conn_use=N], delay=D,
//   delays=a/b/c/d[, tls=...], dsn=X.Y.Z, status=WORD (REPLY)
// Only the addresses and REPLY carry text from outside; the fields between
// them are Postfix's and hold no ", ". Reading left to right with the
// address quoting above, a "status=" in REPLY or an address never moves a
// field. Fields between relay and dsn that this build does not know (3.10's
// "tls=") are skipped.
// `message_size` is the length of the message the line holds (from the
// queue id on), for the cut rule.
bool ParseDelivery(sv s, size_t message_size, PostfixLine* out) {
  if (!ConsumeAddress(&s, &out->recipient)) return false;
  if (Consume(&s, ", orig_to=<")) {
    if (!ConsumeAddress(&s, &out->orig_to)) return false;
  }
  if (!Consume(&s, ", relay=")) return false;
  size_t comma = s.find(", ");
  if (comma == sv::npos || comma == 0) return false;
  out->relay = s.substr(0, comma);
  s.remove_prefix(comma);
  for (;;) {
    if (Consume(&s, ", dsn=")) break;
    if (!Consume(&s, ", ")) return false;
    const size_t eq = s.find('=');
    if (eq == sv::npos || eq == 0 || eq > 32) return false;
    const sv key = s.substr(0, eq);
    for (char c : key) {
      if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
    }
    s.remove_prefix(eq + 1);
    comma = s.find(", ");
    if (comma == sv::npos) return false;
    if (key == "delay") out->delay = s.substr(0, comma);
    if (key == "delays") out->delays = s.substr(0, comma);
    s.remove_prefix(comma);
  }
  if (!ConsumeDsn(&s, &out->dsn) || !Consume(&s, ", status=")) return false;
  size_t w = 0;
  while (w < s.size() && w < 32 &&
         ((s[w] >= 'a' && s[w] <= 'z') || (s[w] >= 'A' && s[w] <= 'Z') || s[w] == '-')) {
    ++w;
  }
  if (w == 0) return false;
  out->status = s.substr(0, w);
  s.remove_prefix(w);
  // REPLY: from this "(" to the ")" that ends the line; or, in a long
  // message cut inside the reply, to the end of what is left.
  if (!Consume(&s, " (")) return false;
  if (!s.empty() && s.back() == ')') {
    out->reply = s.substr(0, s.size() - 1);
  } else if (message_size >= kMinCutMessage) {
    out->reply = s.substr(0, s.size() - IncompleteUtf8Tail(s));
    out->cut = true;
  } else {
    return false;
  }
  out->delivery = StatusFromWord(out->status);
  return true;
}

// After "QUEUEID: from=<".
//   opened.c:       from=<S>, size=N, nrcpt=N (queue active)
//   qmgr_active.c:  from=<S>, status=expired, returned to sender
//                   from=<S>, status=force-expired, returned to sender
bool ParseFrom(sv s, PostfixLine* out) {
  if (!ConsumeAddress(&s, &out->sender)) return false;
  if (Consume(&s, ", size=")) {
    uint64_t size, nrcpt;
    // 20 digits could overflow; 19 cover any size Postfix can log.
    if (!ConsumeNumber(&s, 19, &size) || !Consume(&s, ", nrcpt=") ||
        !ConsumeNumber(&s, 9, &nrcpt) || s != " (queue active)") {
      return false;
    }
    out->size = size;
    out->nrcpt = static_cast<uint32_t>(nrcpt);
    out->kind = PostfixEvent::kQueueActive;
    return true;
  }
  if (s == ", status=expired, returned to sender") {
    out->kind = PostfixEvent::kExpired;
    return true;
  }
  if (s == ", status=force-expired, returned to sender") {
    out->kind = PostfixEvent::kExpired;
    out->forced = true;
    return true;
  }
  return false;
}

// After "QUEUEID: sender " or "QUEUEID: postmaster " (bounce_*_service.c).
bool ParseNotification(sv s, PostfixLine* out) {
  if (Consume(&s, "non-delivery notification: ")) {
    out->notification = NotificationKind::kNonDelivery;
  } else if (Consume(&s, "delay notification: ")) {
    out->notification = NotificationKind::kDelay;
  } else if (Consume(&s, "delivery status notification: ")) {
    out->notification = NotificationKind::kSuccess;
  } else {
    return false;
  }
  if (!ConsumeQueueId(&s, &out->new_queue_id) || !s.empty()) return false;
  out->kind = PostfixEvent::kNotification;
  return true;
}

// Fills out from "QUEUEID: ..." once the program is known. Sets kind, or
// skip to kIgnored / kMalformed.
void ParseBody(sv body, sv whole, PostfixLine* out) {
  out->kind = PostfixEvent::kNone;
  out->skip = PostfixSkip::kIgnored;
  sv s = body;
  if (!ConsumeQueueId(&s, &out->queue_id) || !Consume(&s, ": ")) return;

  bool ok = false;
  if (Consume(&s, "to=<")) {
    ok = ParseDelivery(s, body.size(), out);
    if (ok) out->kind = PostfixEvent::kDelivery;
  } else if (Consume(&s, "from=<")) {
    // pickup's "uid=0 from=<root>" starts with "uid=", smtpd's with
    // "client=": only qmgr's two shapes start with "from=<".
    ok = ParseFrom(s, out);
  } else if (s == "removed") {
    out->kind = PostfixEvent::kRemoved;
    ok = true;
  } else if (Consume(&s, "message-id=")) {
    out->message_id = s;
    out->kind = PostfixEvent::kMessageId;
    ok = true;
  } else if (Consume(&s, "sender ")) {
    ok = ParseNotification(s, out);
  } else if (Consume(&s, "postmaster ")) {
    out->to_postmaster = true;
    ok = ParseNotification(s, out);
  } else {
    return;  // "client=...", "uid=0 from=<...>", "reject: ...", ...
  }
  if (!ok) {
    // Keep the prefix fields (for a caller's log line), drop the rest.
    const PostfixLine keep = *out;
    *out = PostfixLine{};
    out->timestamp = keep.timestamp;
    out->host = keep.host;
    out->pid = keep.pid;
    out->program = keep.program;
    out->instance = keep.instance;
    out->agent = keep.agent;
    out->queue_id = keep.queue_id;
    out->skip = PostfixSkip::kMalformed;
    return;
  }
  // Postfix writes only printable text (msg_output.c), so a NUL, a control
  // byte or a broken UTF-8 sequence means the line is damaged or forged.
  // Checked last, and only on lines we use, to keep the common path short.
  // (A cut line is checked up to the end of its reply: the bytes of a
  // character the cut split are not part of it.)
  if (out->cut) {
    const char* end = out->reply.data() + out->reply.size();
    whole = whole.substr(0, static_cast<size_t>(end - whole.data()));
  }
  if (!PrintableUtf8(whole)) {
    *out = PostfixLine{};
    out->skip = PostfixSkip::kBadBytes;
    return;
  }
  out->skip = PostfixSkip::kNone;
}

// "postfix/smtp": Postfix's syslog tag is syslog_name "/" program name.
bool SplitProgram(sv program, PostfixLine* out) {
  if (program.empty() || program.size() > 128) return false;
  const size_t slash = program.rfind('/');
  if (slash == sv::npos || slash == 0 || slash + 1 == program.size()) return false;
  out->program = program;
  out->instance = program.substr(0, slash);
  out->agent = program.substr(slash + 1);
  return true;
}

// Solaris and illumos syslogd write "[ID 197553 mail.info] " between the
// tag and the message: the message's id (a hash of its format) and its
// facility.level. Removes it from the start of *s if it is there.
void SkipSolarisId(sv* s) {
  sv t = *s;
  uint64_t id;
  if (!Consume(&t, "[ID ") || !ConsumeNumber(&t, 10, &id) || !Consume(&t, " ")) return;
  size_t i = 0;
  bool dot = false;
  while (i < t.size() && i < 32 && t[i] != ']') {
    const char c = t[i];
    if (c == '.') {
      if (dot || i == 0) return;
      dot = true;
    } else if (!((c >= 'a' && c <= 'z') || Digit(c))) {
      return;
    }
    ++i;
  }
  if (!dot || i == 0 || t[i - 1] == '.') return;
  t.remove_prefix(i);
  if (!Consume(&t, "] ")) return;
  *s = t;
}

// The next field of an RFC 5424 header: up to the next space (removed), of
// 1 to `max` bytes.
bool ConsumeField(sv* s, size_t max, sv* field) {
  const size_t sp = s->substr(0, max + 1).find(' ');
  if (sp == 0 || sp == sv::npos) return false;
  *field = s->substr(0, sp);
  s->remove_prefix(sp + 1);
  return true;
}

// RFC 5424 §6: "<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID
// SP MSGID SP STRUCTURED-DATA [SP MSG]", the line starting at its "<".
void ParseRfc5424(sv line, PostfixLine* out) {
  sv s = line.substr(1);
  uint64_t pri, version;
  // PRI is at most 191 (facility 23 * 8 + severity 7); VERSION is "1" today.
  if (!ConsumeNumber(&s, 3, &pri) || pri > 191 || !Consume(&s, ">") ||
      !ConsumeNumber(&s, 2, &version) || version == 0 || !Consume(&s, " ")) {
    return;
  }
  sv ts, host, app, procid, msgid;
  int offset = 0;
  if (!ConsumeField(&s, 40, &ts) || (ts != "-" && !IsoShape(ts, &offset))) return;
  if (ts == "-") ts = {};
  // HOSTNAME 255, APP-NAME 48, PROCID 128, MSGID 32 (RFC 5424 §6).
  if (!ConsumeField(&s, 255, &host) || !ConsumeField(&s, 48, &app) ||
      !ConsumeField(&s, 128, &procid) || !ConsumeField(&s, 32, &msgid)) {
    return;
  }
  // STRUCTURED-DATA: "-", or SD-ELEMENTs "[SD-ID *(SP NAME="VALUE")]" with
  // '"', '\\' and ']' escaped by a backslash inside a VALUE (§6.3.3).
  if (!Consume(&s, "-")) {
    if (s.empty() || s[0] != '[') return;
    while (!s.empty() && s[0] == '[') {
      size_t i = 1;
      bool quoted = false;
      for (; i < s.size(); ++i) {
        const char c = s[i];
        if (quoted) {
          if (c == '\\') {
            ++i;
          } else if (c == '"') {
            quoted = false;
          }
        } else if (c == '"') {
          quoted = true;
        } else if (c == ']') {
          break;
        }
      }
      if (i >= s.size()) return;  // not closed
      s.remove_prefix(i + 1);
    }
  }
  if (!Consume(&s, " ")) return;  // no MSG (or junk after the structured data)
  Consume(&s, "\xEF\xBB\xBF");  // the BOM of a UTF-8 MSG (§6.4)
  // rsyslog's %msg% keeps the space that followed the tag.
  while (!s.empty() && s[0] == ' ') s.remove_prefix(1);
  if (!SplitProgram(app, out)) {
    // rsyslog's APP-NAME is the tag up to its first "/" (its "programname",
    // unless parser.permitSlashInProgramName): "postfix", "postfix-out".
    if (app.substr(0, 7) != "postfix" || app.find('/') != sv::npos) return;
    out->program = app;
    out->instance = app;
    out->agent = {};
  }
  uint64_t pid = 0;
  if (procid != "-") {
    sv p = procid;
    if (!ConsumeNumber(&p, 10, &pid) || !p.empty() || pid > UINT32_MAX) pid = 0;
  }
  out->timestamp = ts;
  out->host = host;
  out->pid = static_cast<uint32_t>(pid);
  ParseBody(s, line, out);
}

sv StripNewline(sv line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

bool IsPostfixQueueId(std::string_view id) {
  uint8_t classes;
  size_t last_z;
  return ScanId(id, &classes, &last_z) == id.size() && QueueIdRules(id.size(), classes, last_z);
}

PostfixLine ParsePostfixLine(std::string_view line) {
  PostfixLine out;
  ParsePostfixLine(line, &out);
  return out;
}

void ParsePostfixLine(std::string_view raw, PostfixLine* out_ptr) {
  PostfixLine& out = *out_ptr;
  // A crash of the log writer leaves a run of NUL bytes where its last
  // block was, glued to the start of the next line it writes after the
  // reboot: that line is whole behind them.
  if (!raw.empty() && raw[0] == '\0') {
    const size_t text = raw.find_first_not_of('\0');
    raw.remove_prefix(text == std::string_view::npos ? raw.size() : text);
  }
  if (raw.size() > kMaxPostfixLine + 2) {
    out.skip = PostfixSkip::kTooLong;
    return;
  }
  const sv line = StripNewline(raw);
  if (line.size() > kMaxPostfixLine) {
    out.skip = PostfixSkip::kTooLong;
    return;
  }
  if (!line.empty() && line[0] == '<') {
    ParseRfc5424(line, &out);
    return;
  }
  // TIMESTAMP " " HOST " " PROGRAM "[" PID "]: " BODY
  const size_t ts = TimestampLength(line);
  if (ts == 0) return;
  sv s = line.substr(ts + 1);
  const size_t host_end = s.find(' ');
  if (host_end == 0 || host_end == sv::npos) return;
  const sv host = s.substr(0, host_end);
  s.remove_prefix(host_end + 1);
  size_t p = 0;
  while (p < s.size() && p <= 128 && s[p] != '[' && s[p] != ' ' && s[p] != ':') ++p;
  if (p >= s.size() || s[p] != '[') return;
  if (!SplitProgram(s.substr(0, p), &out)) return;
  s.remove_prefix(p + 1);
  uint64_t pid;
  if (!ConsumeNumber(&s, 10, &pid) || pid > UINT32_MAX || !Consume(&s, "]: ")) {
    out = PostfixLine{};
    return;
  }
  out.timestamp = line.substr(0, ts);
  out.host = host;
  out.pid = static_cast<uint32_t>(pid);
  if (!s.empty() && s[0] == '[') SkipSolarisId(&s);
  ParseBody(s, line, &out);
}

PostfixLine ParsePostfixMessage(std::string_view program, std::string_view message) {
  PostfixLine out;
  ParsePostfixMessage(program, message, &out);
  return out;
}

void ParsePostfixMessage(std::string_view program, std::string_view message, PostfixLine* out) {
  if (program.size() + message.size() > kMaxPostfixLine) {
    out->skip = PostfixSkip::kTooLong;
    return;
  }
  const sv body = StripNewline(message);
  if (!SplitProgram(program, out)) return;
  ParseBody(body, body, out);
  // ParseBody checked the message's bytes; the tag needs the same check.
  if (out->kind != PostfixEvent::kNone && !PrintableUtf8(program)) {
    *out = PostfixLine{};
    out->skip = PostfixSkip::kBadBytes;
  }
}

std::optional<int64_t> ParseSyslogTime(std::string_view ts, int64_t now,
                                       const cctz::time_zone& tz) {
  // "Nov 25 18:27:32.123456" (journalctl -o short-precise): the fraction goes.
  if (ts.size() > 15 && ts[15] == '.' && FractionLength(ts.substr(15)) == ts.size() - 15) {
    ts = ts.substr(0, 15);
  }
  if (Rfc3164Shape(ts)) {
    const int mo = MonthIndex(ts);
    const int d = (ts[4] == ' ' ? 0 : ts[4] - '0') * 10 + (ts[5] - '0');
    const int h = Two(ts, 7), mi = Two(ts, 10), se = Two(ts, 13);
    // A `now` beyond +-34,000 years is nobody's clock; refusing it keeps
    // the year arithmetic below far from int64 limits.
    constexpr int64_t kNowLimit = int64_t{1} << 40;
    if (now < -kNowLimit || now > kNowLimit) return std::nullopt;
    const cctz::civil_second now_local =
        cctz::convert(cctz::time_point<cctz::seconds>(cctz::seconds(now)), tz);
    // RFC 3164 §4.1.2 has no year. The latest of next year, this year and
    // last year that is not more than a day ahead of now: a December line
    // read in January is last year's, and a "Jan  1 00:00:05" line read at
    // 23:59:59 on Dec 31 (the writer's clock a little ahead) is next year's.
    for (int64_t y = now_local.year() + 1; y >= now_local.year() - 1; --y) {
      if (!ValidCivil(y, mo, d, h, mi, se)) continue;
      const cctz::time_zone::civil_lookup cl =
          tz.lookup(cctz::civil_second(y, mo, d, h, mi, se));
      const int64_t t = ToUnix(cl.pre);
      if (t <= now + 86400) return t;
    }
    return std::nullopt;
  }
  int offset = 0;
  if (IsoShape(ts, &offset)) {
    const int64_t y = (ts[0] - '0') * 1000 + (ts[1] - '0') * 100 + Two(ts, 2);
    const int mo = Two(ts, 5), d = Two(ts, 8), h = Two(ts, 11), mi = Two(ts, 14),
              se = Two(ts, 17);
    if (!ValidCivil(y, mo, d, h, mi, se)) return std::nullopt;
    const auto utc = cctz::convert(cctz::civil_second(y, mo, d, h, mi, se),
                                   cctz::utc_time_zone());
    return ToUnix(utc) - offset;
  }
  return std::nullopt;
}

std::string_view PostfixEventName(PostfixEvent e) {
  switch (e) {
    case PostfixEvent::kNone: return "none";
    case PostfixEvent::kDelivery: return "delivery";
    case PostfixEvent::kQueueActive: return "queue-active";
    case PostfixEvent::kExpired: return "expired";
    case PostfixEvent::kRemoved: return "removed";
    case PostfixEvent::kMessageId: return "message-id";
    case PostfixEvent::kNotification: return "notification";
  }
  return "unknown";
}

std::string_view PostfixSkipName(PostfixSkip s) {
  switch (s) {
    case PostfixSkip::kNone: return "none";
    case PostfixSkip::kTooLong: return "too-long";
    case PostfixSkip::kIgnored: return "ignored";
    case PostfixSkip::kMalformed: return "malformed";
    case PostfixSkip::kBadBytes: return "bad-bytes";
  }
  return "unknown";
}

std::string_view DeliveryStatusName(DeliveryStatus s) {
  switch (s) {
    case DeliveryStatus::kOther: return "other";
    case DeliveryStatus::kSent: return "sent";
    case DeliveryStatus::kDeferred: return "deferred";
    case DeliveryStatus::kBounced: return "bounced";
    case DeliveryStatus::kSoftBounce: return "softbounce";
    case DeliveryStatus::kExpired: return "expired";
    case DeliveryStatus::kDeliverable: return "deliverable";
    case DeliveryStatus::kUndeliverable: return "undeliverable";
  }
  return "unknown";
}

}  // namespace senderguard
