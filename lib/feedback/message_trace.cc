#include "senderguard/feedback/message_trace.h"

#include "senderguard/base/text.h"
#include "senderguard/feedback/postfix_log.h"

namespace senderguard {
namespace {

constexpr size_t kMaxShownText = 600;

// Whether `line` holds `token` followed by a space, the end, or a line end.
size_t FindToken(std::string_view line, std::string_view token) {
  size_t at = 0;
  while ((at = line.find(token, at)) != std::string_view::npos) {
    const size_t end = at + token.size();
    const bool starts = at == 0 || line[at - 1] == ' ';
    const bool ends = end == line.size() || line[end] == ' ' || line[end] == '\r' || line[end] == '\n';
    if (starts && ends) return at;
    at = end;
  }
  return std::string_view::npos;
}

std::string Get(const std::vector<std::pair<std::string, std::string>>& kv, std::string_view key) {
  for (const auto& [k, v] : kv)
    if (k == key) return v;
  return {};
}

// A milter line: "queue_id=ID account=A source=S stage=rcpt action=reject reason=... reply=...".
TraceEvent MilterEvent(std::string_view kvtext) {
  const auto kv = ParseKvText(kvtext);
  TraceEvent e;
  const std::string action = Get(kv, "action");
  if (Get(kv, "stage").empty() && action != "quota-alert") {
    // Another senderguard line naming the message (the tailer's): as logged.
    e.kind = "senderguard";
    e.text = std::string(kvtext);
    return e;
  }
  if (action == "quota-alert") {
    e.kind = "alert";
    e.text = "quota alert: " + Get(kv, "window") + " window at " + Get(kv, "pct") + "% (" + Get(kv, "used") + " of " +
             Get(kv, "limit") + "), resets " + Get(kv, "resets");
    return e;
  }
  e.kind = "decision";
  e.recipient = Get(kv, "rcpt");
  std::string text = Get(kv, "stage") + ": " + action;
  if (const std::string reason = Get(kv, "reason"); !reason.empty()) text += " (" + reason + ")";
  text += " account " + Get(kv, "account");
  if (!e.recipient.empty()) text += " rcpt " + e.recipient;
  if (const std::string n = Get(kv, "rcpts"); !n.empty()) text += ", " + n + " recipient(s)";
  if (const std::string d = Get(kv, "dmarc"); !d.empty()) text += ", dmarc=" + d;
  if (const std::string reply = Get(kv, "reply"); !reply.empty()) text += ": " + reply;
  e.text = text;
  return e;
}

// The syslog prefix of a line that is not Postfix's (ParsePostfixLine keeps
// none for those): "Dec  7 04:25:43 HOST PROGRAM[PID]: " or
// "2026-12-07T04:25:43+00:00 HOST PROGRAM[PID]: "; a daemon's stderr
// ("PROGRAM[LEVEL]: ") has no time. Best effort: empty when not found.
void SyslogPrefix(std::string_view line, std::string* timestamp, std::string* program) {
  const size_t colon = line.find(": ");
  if (colon == std::string_view::npos) return;
  std::string_view head = line.substr(0, colon);
  const size_t last_space = head.rfind(' ');
  std::string_view prog = last_space == std::string_view::npos ? head : head.substr(last_space + 1);
  if (const size_t bracket = prog.find('['); bracket != std::string_view::npos) prog = prog.substr(0, bracket);
  *program = std::string(prog);
  if (last_space == std::string_view::npos) return;
  head = head.substr(0, last_space);  // the time and the host
  const size_t host = head.rfind(' ');
  if (host != std::string_view::npos) *timestamp = std::string(head.substr(0, host));
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ParseKvText(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    const size_t eq = text.find('=', i);
    const size_t sp = text.find(' ', i);
    if (eq == std::string_view::npos || (sp != std::string_view::npos && sp < eq)) {
      if (sp == std::string_view::npos) break;  // a last word without '=': not a field
      i = sp + 1;
      continue;
    }
    std::string key(text.substr(i, eq - i));
    std::string value;
    i = eq + 1;
    if (i < text.size() && text[i] == '"') {
      ++i;
      while (i < text.size() && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == '"' || text[i + 1] == '\\')) ++i;
        value.push_back(text[i++]);
      }
      ++i;  // the closing quote
    } else {
      size_t end = text.find(' ', i);
      if (end == std::string_view::npos) end = text.size();
      value.assign(text.substr(i, end - i));
      i = end;
    }
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

std::optional<TraceEvent> TraceLine(std::string_view line, std::string_view queue_id, const BounceRules* rules) {
  if (queue_id.empty() || line.find(queue_id) == std::string_view::npos) return std::nullopt;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  const PostfixLine p = ParsePostfixLine(line);
  TraceEvent e;
  e.timestamp = std::string(p.timestamp);
  e.program = std::string(p.program);

  // The milter's own lines: key=value, the queue id as queue_id=ID.
  const size_t kv = FindToken(line, "queue_id=" + std::string(queue_id));
  if (kv != std::string_view::npos) {
    TraceEvent m = MilterEvent(line.substr(kv));
    SyslogPrefix(line.substr(0, kv), &m.timestamp, &m.program);
    if (m.program.empty()) m.program = m.kind == "senderguard" ? "senderguard" : "senderguard-milter";
    m.text = Printable(m.text, kMaxShownText);
    m.recipient = Printable(m.recipient, 300);
    return m;
  }
  if (p.queue_id != queue_id) return std::nullopt;
  switch (p.kind) {
    case PostfixEvent::kDelivery: {
      e.kind = "delivery";
      e.recipient = Printable(p.recipient, 300);
      if (rules != nullptr) {
        const BounceRules::Explanation x = rules->Explain(p.status, p.dsn, p.reply);
        const Classification& c = x.result;
        e.outcome = std::string(OutcomeClassName(c.cls));
        if (c.category != BounceCategory::kNone) e.category = std::string(BounceCategoryName(c.category));
        e.rule_line = x.line;
      }
      e.text = Printable(std::string(p.status) + (p.dsn.empty() ? "" : " " + std::string(p.dsn)) + " via " +
                             std::string(p.relay) + ": " + std::string(p.reply),
                         kMaxShownText);
      break;
    }
    case PostfixEvent::kQueueActive:
      e.kind = "queued";
      e.text = Printable("from <" + std::string(p.sender) + ">, " + std::to_string(p.nrcpt) + " recipient(s), " +
                             std::to_string(p.size) + " bytes",
                         kMaxShownText);
      break;
    case PostfixEvent::kExpired:
      e.kind = "expired";
      e.text = p.forced ? "expired by postsuper -e: returned to sender" : "expired: returned to sender";
      break;
    case PostfixEvent::kRemoved:
      e.kind = "removed";
      e.text = "removed from the queue";
      break;
    case PostfixEvent::kMessageId:
      e.kind = "message-id";
      e.text = Printable("message-id=" + std::string(p.message_id), kMaxShownText);
      break;
    case PostfixEvent::kNotification:
      e.kind = "notification";
      e.related_queue_id = std::string(p.new_queue_id);
      e.text = std::string(p.notification == NotificationKind::kNonDelivery ? "non-delivery"
                           : p.notification == NotificationKind::kDelay     ? "delay"
                                                                            : "delivery status") +
               " notification to the " + (p.to_postmaster ? "postmaster" : "sender") + " queued as " +
               Printable(p.new_queue_id, 100);
      break;
    case PostfixEvent::kNone: {
      // Another Postfix line about the message (smtpd's client=, cleanup's
      // milter-reject, pickup...): shown as logged, after "ID: ".
      if (p.program.empty()) return std::nullopt;
      e.kind = "postfix";
      const size_t at = line.find(std::string(queue_id) + ": ");
      e.text = Printable(at == std::string_view::npos ? line : line.substr(at + queue_id.size() + 2), kMaxShownText);
      break;
    }
  }
  return e;
}

}  // namespace senderguard
