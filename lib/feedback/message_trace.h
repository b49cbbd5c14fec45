// `senderguardctl explain QUEUE_ID`: the log lines about one queued message,
// read back as what happened to it: the milter's decisions (its key=value
// lines naming the queue id) and Postfix's lines (queued, each recipient's
// delivery with the class the tailer counts it as, expiry, the bounce notice,
// removal). Pure: the caller reads the log and passes each line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "senderguard/feedback/bounce.h"

namespace senderguard {

struct TraceEvent {
  std::string timestamp;  // as logged ("Dec  7 04:00:01", "2026-12-07T04:00:01+00:00"); "" when none
  std::string program;    // "senderguard-milter", "postfix/smtp", ...
  // "decision" (the milter), "alert" (a quota alert), "queued", "delivery",
  // "expired", "removed", "message-id", "notification", "postfix" (another
  // Postfix line about the message, shown as logged), "senderguard" (another
  // senderguard line naming queue_id=ID, as logged)
  std::string kind;
  std::string recipient;  // delivery; a decision at RCPT TO
  std::string text;       // one line: what happened, escaped (Printable)
  // delivery: how the tailer counts it ("delivered", "deferred", "hard",
  // "soft", "technical"), its category and the rule's line ("" / 0 else)
  std::string outcome;
  std::string category;
  int rule_line = 0;
  std::string related_queue_id;  // notification: the notice's own queue id
};

// Reads a key=value text as KvLine writes it: bare values end at a space,
// quoted ones at the closing quote (\" and \\ unescaped, other escapes kept).
std::vector<std::pair<std::string, std::string>> ParseKvText(std::string_view text);

// The event `line` (one log line, without or with its line end) records for
// `queue_id`, or nullopt when it is not about that message. Deliveries are
// classified by `rules` (null: not classified, outcome left empty).
std::optional<TraceEvent> TraceLine(std::string_view line, std::string_view queue_id, const BounceRules* rules);

}  // namespace senderguard
