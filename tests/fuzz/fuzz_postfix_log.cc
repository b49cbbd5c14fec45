// Fuzz target: ParsePostfixLine, ParsePostfixMessage and ParseSyslogTime on
// arbitrary bytes, and a round trip through the format Postfix writes.
//
// 1. Any input: no crash, no read outside the input (ASan), every returned
//    view lies inside the input, kind and skip agree, a used line is clean
//    text with a valid queue id, and a delivery line ends in its reply's ")"
//    (or, cut, is long and its reply runs to its end). Every syslog shape
//    the parser reads (RFC 3164, ISO, RFC 5424, Solaris) is in the corpus.
// 2. Round trip: a delivery line built the way log_adhoc.c and
//    quote_822_local.c build it, from a fuzzed recipient, orig_to and reply
//    (any printable text, parentheses, "status=", quotes and all), parses
//    back to exactly those fields. This is the promise that a client's
//    address or a server's reply cannot move a field.
#include <fuzzer/FuzzedDataProvider.h>

#include <cctz/time_zone.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "senderguard/feedback/postfix_log.h"

namespace {

using senderguard::PostfixEvent;
using senderguard::PostfixLine;
using senderguard::PostfixSkip;

void Check(bool ok, const char* what, std::string_view detail) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_postfix_log: invariant broken: %s [%.*s]\n", what,
               static_cast<int>(detail.size() > 2000 ? 2000 : detail.size()), detail.data());
  std::abort();
}

void CheckInside(std::string_view v, std::string_view in, const char* what) {
  if (v.empty()) return;
  Check(v.data() >= in.data() && v.data() + v.size() <= in.data() + in.size(), what, v);
}

bool SameLine(const PostfixLine& a, const PostfixLine& b) {
  return a.kind == b.kind && a.skip == b.skip && a.timestamp == b.timestamp &&
         a.host == b.host && a.pid == b.pid && a.program == b.program &&
         a.queue_id == b.queue_id && a.recipient == b.recipient && a.orig_to == b.orig_to &&
         a.relay == b.relay && a.dsn == b.dsn && a.status == b.status && a.reply == b.reply &&
         a.sender == b.sender && a.size == b.size && a.nrcpt == b.nrcpt &&
         a.message_id == b.message_id && a.new_queue_id == b.new_queue_id;
}

void CheckParsed(const PostfixLine& p, std::string_view in, std::string_view body) {
  for (std::string_view v :
       {p.timestamp, p.host, p.program, p.instance, p.agent, p.queue_id, p.recipient,
        p.orig_to, p.relay, p.delay, p.delays, p.dsn, p.status, p.reply, p.sender,
        p.message_id, p.new_queue_id}) {
    CheckInside(v, in, "view outside the input");
  }
  Check((p.kind == PostfixEvent::kNone) == (p.skip != PostfixSkip::kNone), "kind/skip", in);
  if (p.kind == PostfixEvent::kNone) return;
  Check(senderguard::IsPostfixQueueId(p.queue_id), "queue id", p.queue_id);
  Check(p.agent.find('/') == std::string_view::npos, "agent", p.agent);
  // An empty agent only from an RFC 5424 APP-NAME without "/" (rsyslog's
  // "postfix"): then program and instance are that name.
  Check(!p.agent.empty() || (!in.empty() && in[0] == '<' && p.program == p.instance &&
                             p.program.substr(0, 7) == "postfix"),
        "empty agent", in);
  // Used lines hold no NUL or control byte (the trailing newline is not
  // part of the line).
  for (char c : body) {
    const unsigned char u = static_cast<unsigned char>(c);
    Check(u >= 0x20 && u != 0x7f, "control byte in a used line", body);
  }
  if (p.kind == PostfixEvent::kDelivery) {
    Check(p.dsn.size() >= 5 && (p.dsn[0] == '2' || p.dsn[0] == '4' || p.dsn[0] == '5'), "dsn",
          p.dsn);
    if (p.cut) {
      // Cut inside the reply: a long line, the reply running to its end but
      // for the first bytes of a character the cut split.
      Check(body.size() >= senderguard::kMinCutMessage, "short cut line", body);
      const std::string_view rest(p.reply.data() + p.reply.size(),
                                  static_cast<size_t>(body.data() + body.size() -
                                                      (p.reply.data() + p.reply.size())));
      Check(rest.size() <= 3, "cut reply runs to the end", body);
      for (char c : rest) {
        Check(static_cast<unsigned char>(c) >= 0x80, "cut drops only a split character", body);
      }
    } else {
      Check(!body.empty() && body.back() == ')', "delivery ends in ')'", body);
      Check(p.reply.data() + p.reply.size() == body.data() + body.size() - 1,
            "reply runs to the final ')'", body);
    }
    Check(!p.status.empty(), "status word", body);
  } else {
    Check(!p.cut, "cut set on a line that is not a delivery", in);
  }
  if (p.kind == PostfixEvent::kNotification) {
    Check(senderguard::IsPostfixQueueId(p.new_queue_id), "new queue id", p.new_queue_id);
  }
}

// quote_822_local.c: a local part that is not a dot-string is written as a
// quoted string with '"' and '\\' escaped.
std::string Quote822Local(const std::string& local) {
  bool dot_string = !local.empty() && local.front() != '.' && local.back() != '.' &&
                    local.find("..") == std::string::npos;
  for (char c : local) {
    if (std::string_view(" ()<>@,;:\\\"[]").find(c) != std::string_view::npos) {
      dot_string = false;
    }
  }
  if (dot_string) return local;
  std::string q = "\"";
  for (char c : local) {
    if (c == '"' || c == '\\') q.push_back('\\');
    q.push_back(c);
  }
  return q + "\"";
}

std::string Printable(FuzzedDataProvider& fdp, size_t max) {
  std::string s = fdp.ConsumeRandomLengthString(max);
  for (char& c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    c = static_cast<char>(0x20 + u % 0x5f);  // 0x20..0x7e
  }
  return s;
}

void RoundTrip(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const std::string rcpt = Quote822Local(Printable(fdp, 80)) + "@example.com";
  const bool with_orig = fdp.ConsumeBool();
  const std::string orig = with_orig ? Quote822Local(Printable(fdp, 80)) + "@example.net" : "";
  static const char* const kRelays[] = {"none", "local", "virtual",
                                        "mx.example.com[192.0.2.1]:25",
                                        "mx[2001:db8::1]:25", "h[private/dovecot-lmtp]"};
  const std::string relay = kRelays[fdp.ConsumeIntegralInRange<size_t>(0, 5)];
  static const char* const kWords[] = {"sent", "deferred", "bounced", "SOFTBOUNCE",
                                       "undeliverable", "deliverable"};
  const std::string word = kWords[fdp.ConsumeIntegralInRange<size_t>(0, 5)];
  const std::string dsn = std::to_string(fdp.PickValueInArray({2, 4, 5})) + "." +
                          std::to_string(fdp.ConsumeIntegralInRange(0, 999)) + "." +
                          std::to_string(fdp.ConsumeIntegralInRange(0, 999));
  const bool conn_use = fdp.ConsumeBool();
  const std::string reply = Printable(fdp, 300);

  std::string line = "Nov 25 18:27:32 mx1 postfix/smtp[123]: 3B7C8A720CC: to=<" + rcpt + ">";
  if (with_orig) line += ", orig_to=<" + orig + ">";
  line += ", relay=" + relay;
  if (conn_use) line += ", conn_use=2";
  line += ", delay=0.1, delays=0/0/0/0.1, dsn=" + dsn + ", status=" + word + " (" + reply + ")";

  const PostfixLine p = senderguard::ParsePostfixLine(line);
  Check(p.kind == PostfixEvent::kDelivery, "round trip: not a delivery", line);
  Check(p.recipient == rcpt, "round trip: recipient", line);
  Check(p.orig_to == orig, "round trip: orig_to", line);
  Check(p.relay == relay, "round trip: relay", line);
  Check(p.dsn == dsn, "round trip: dsn", line);
  Check(p.status == word, "round trip: status", line);
  Check(p.reply == reply, "round trip: reply", line);
  Check(p.delay == "0.1" && p.delays == "0/0/0/0.1", "round trip: delays", line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const cctz::time_zone berlin = [] {
    cctz::time_zone tz;
    cctz::load_time_zone("Europe/Berlin", &tz);  // falls back to UTC
    return tz;
  }();
  // The parser skips the NUL bytes a log writer's crash leaves before a
  // line: the line it reads starts after them.
  std::string_view in(reinterpret_cast<const char*>(data), size);
  in.remove_prefix(std::min(in.size(), in.find_first_not_of('\0')));

  std::string_view body = in;
  if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  if (!body.empty() && body.back() == '\r') body.remove_suffix(1);

  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const PostfixLine p = senderguard::ParsePostfixLine(raw);
  CheckParsed(p, in, body);
  Check(SameLine(p, senderguard::ParsePostfixLine(raw)), "not deterministic", in);
  Check(SameLine(p, senderguard::ParsePostfixLine(in)), "leading NULs change the line", in);
  if (body.size() > senderguard::kMaxPostfixLine) {
    Check(p.skip == PostfixSkip::kTooLong, "long line not refused", in.substr(0, 100));
  }
  if (!p.timestamp.empty()) {
    // It starts the line, or in RFC 5424 follows "<PRI>VERSION ".
    const size_t sp = in.find(' ');
    const bool after_pri =
        in[0] == '<' && sp != std::string_view::npos && p.timestamp.data() == in.data() + sp + 1;
    Check(p.timestamp.data() == in.data() || after_pri, "timestamp starts the line", in);
    for (int64_t now : {int64_t{0}, int64_t{1795632452}, int64_t{-86400 * 365}, INT64_MAX,
                        INT64_MIN, int64_t{1} << 40}) {
      (void)senderguard::ParseSyslogTime(p.timestamp, now, berlin);
      (void)senderguard::ParseSyslogTime(p.timestamp, now, cctz::utc_time_zone());
    }
  }
  (void)senderguard::ParseSyslogTime(in.substr(0, 40), 1795632452, berlin);

  // The journal entry point, with the input split at its first ':'.
  const size_t colon = in.find(':');
  if (colon != std::string_view::npos) {
    const std::string_view program = in.substr(0, colon);
    std::string_view message = in.substr(colon + 1);
    const PostfixLine j = senderguard::ParsePostfixMessage(program, message);
    if (!message.empty() && message.back() == '\n') message.remove_suffix(1);
    if (!message.empty() && message.back() == '\r') message.remove_suffix(1);
    CheckParsed(j, in, message);
    Check(j.timestamp.empty() && j.host.empty() && j.pid == 0, "journal prefix", in);
  }

  RoundTrip(data, size);
  return 0;
}
