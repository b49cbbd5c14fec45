#include "explain.h"

#include <string>

#include "senderguard/base/exit_codes.h"
#include "senderguard/base/text.h"

namespace senderguard::tail {
namespace {

// The reply comes from the user's command line (a paste of log text):
// escaped. The rules' own words (pattern, comment, keys) are trusted
// configuration, checked by the parser (no control characters): printed as
// written in the file, so that they can be searched for there.
// Long enough for the longest reply the rules read (kMaxClassifiedReply).
constexpr size_t kShown = kMaxClassifiedReply + 16;

bool Digits(std::string_view s, size_t* i) {
  const size_t start = *i;
  while (*i < s.size() && s[*i] >= '0' && s[*i] <= '9') ++*i;
  return *i > start && *i - start <= 3;
}

// The enhanced code Postfix's smtp client logs for `server` (the remote
// server's words): the one after the reply code, else the reply code's
// class with .0.0; empty for a text Postfix wrote itself.
std::string DsnAsPostfixLogsIt(std::string_view server) {
  const std::string_view code = BasicReplyCode(server);
  if (code.empty()) return {};
  std::string_view rest = server.substr(3);
  if (!rest.empty()) rest.remove_prefix(1);  // ' ' or '-'
  size_t end = rest.find_first_of(" \t");
  const std::string_view word = rest.substr(0, end);
  if (ValidLoggedDsn(word) && word[0] == code[0]) return std::string(word);
  return std::string(1, code[0]) + ".0.0";
}

// What a class counts toward (README "Reputation, suspension, suppression").
std::string Meaning(const Classification& c) {
  switch (c.cls) {
    case OutcomeClass::kHard:
      return SuppressesRecipient(c.category)
                 ? "hard: counts against the sender's reputation (hard-bounce rate) and toward "
                   "suppressing the recipient ([tail] suppress_after_hard_bounces, 3 by "
                   "default)"
                 : "hard: counts against the sender's reputation (hard-bounce rate); does not "
                   "suppress the recipient by itself";
    case OutcomeClass::kSoft:
      return "soft: reported, never counted against the sender or the recipient";
    case OutcomeClass::kTechnical:
      return "technical: the receiver refused for the sender's or the message's sake; reported "
             "(senderguardctl show), not a hard bounce, suppresses no one";
    case OutcomeClass::kExpired:
      return "expired: counted as soft, never hard";
    case OutcomeClass::kDeferred:
      return "deferred: still queued, never a bounce";
    case OutcomeClass::kDelivered:
      return "delivered";
  }
  return "unknown";
}

}  // namespace

bool ValidLoggedDsn(std::string_view dsn) {
  if (dsn.size() < 5 || (dsn[0] != '2' && dsn[0] != '4' && dsn[0] != '5') || dsn[1] != '.')
    return false;
  size_t i = 2;
  if (!Digits(dsn, &i) || i >= dsn.size() || dsn[i] != '.') return false;
  ++i;
  return Digits(dsn, &i) && i == dsn.size();
}

int ExplainReply(const BounceRules& rules, const std::string& rules_path, std::string_view reply,
                 std::string_view dsn, std::FILE* out) {
  if (!dsn.empty() && !ValidLoggedDsn(dsn)) {
    std::fprintf(stderr,
                 "senderguard-tail: --dsn %s: expected an enhanced status code such as 5.1.1\n",
                 Printable(dsn, 40).c_str());
    return kExitUsageError;
  }
  // A reply pasted as the server sent it, one line per line: Postfix logs
  // a multi-line reply with its lines joined by a space (smtp_chat.c), and
  // that is the text the rules read in the log.
  std::string joined;
  const bool multiline = reply.find_first_of("\r\n") != std::string_view::npos;
  if (multiline) {
    for (size_t i = 0; i < reply.size(); ++i) {
      if (reply[i] == '\r' && i + 1 < reply.size() && reply[i + 1] == '\n') continue;
      joined.push_back(reply[i] == '\n' || reply[i] == '\r' ? ' ' : reply[i]);
    }
    while (!joined.empty() && joined.back() == ' ') joined.pop_back();
    reply = joined;
  }
  std::string logged_dsn(dsn);
  const char* dsn_from = "--dsn";
  if (logged_dsn.empty()) {
    logged_dsn = DsnAsPostfixLogsIt(ServerText(reply));
    dsn_from = logged_dsn.empty() ? "none: a text Postfix wrote itself"
                                  : "taken from the reply, as Postfix logs it";
  }
  const BounceRules::Explanation e = rules.Explain("bounced", logged_dsn, reply);
  const std::string file = Printable(rules_path, 512);
  std::fprintf(out, "reply:    %s\n", Printable(reply, kShown).c_str());
  if (multiline)
    std::fprintf(out, "joined:   its lines joined with a space, as Postfix logs a multi-line reply\n");
  if (e.server_text.size() != reply.size())
    std::fprintf(out, "read:     %s  (the server's words: the rules never see the host name or "
                      "the command)\n",
                 Printable(e.server_text, kShown).c_str());
  std::fprintf(out, "dsn:      %s (%s)\n", logged_dsn.empty() ? "-" : logged_dsn.c_str(),
               dsn_from);
  std::fprintf(out, "rules:    %s (%zu text rules, %zu code entries)\n", file.c_str(),
               rules.size(), rules.code_count());
  switch (e.result.by) {
    case ClassifiedBy::kTextRule:
      std::fprintf(out, "matched:  rule[%d] at %s:%d (the first text rule, in file order, whose "
                        "match is found in the text)\n",
                   e.result.rule, file.c_str(), e.line);
      std::fprintf(out, "          match = '%s'\n", std::string(e.pattern).c_str());
      if (!e.dsn_restriction.empty())
        std::fprintf(out, "          dsn = \"%s\" (the rule applies only to that code)\n",
                     std::string(e.dsn_restriction).c_str());
      break;
    case ClassifiedBy::kEnhancedCode:
      std::fprintf(out, "matched:  %s; [[code]] dsn = \"%s\" at %s:%d (the longest "
                        "entry matching the enhanced code)\n",
                   e.content_guard ? "a text rule's hard verdict set aside (guard below)"
                                   : "no text rule",
                   std::string(e.code_key).c_str(), file.c_str(), e.line);
      break;
    case ClassifiedBy::kReplyCode:
      std::fprintf(out, "matched:  no text rule and no [[code]] dsn entry; [[code]] reply = "
                        "\"%s\" at %s:%d (the basic reply code)\n",
                   std::string(e.code_key).c_str(), file.c_str(), e.line);
      break;
    case ClassifiedBy::kDefault:
      std::fprintf(out, "matched:  nothing: no text rule, no [[code]] dsn entry%s; fallback: a "
                        "bounce nothing recognizes is technical/other\n",
                   BasicReplyCode(reply).empty() ? " and no reply code in the text"
                                                 : " and no [[code]] reply entry");
      break;
    case ClassifiedBy::kStatus:
      break;
  }
  if (!e.comment.empty())
    std::fprintf(out, "source:   %s\n", std::string(e.comment).c_str());
  for (int h : e.dsn_excluded) {
    std::fprintf(out,
                 "passed:   rule[%d] at %s:%d finds its words in the text, but applies only under "
                 "dsn \"%s\", and this reply's is %s%s\n",
                 h, file.c_str(), rules.RuleLine(h), std::string(rules.RuleDsn(h)).c_str(),
                 logged_dsn.empty() ? "none" : ("\"" + logged_dsn + "\"").c_str(),
                 dsn.empty() ? " (give the logged code with --dsn)" : "");
  }
  if (e.sender_guard)
    std::fprintf(out, "guard:    the rule said hard, but the reply answers a command that names "
                      "no recipient (greeting, HELO/EHLO, STARTTLS, AUTH, MAIL FROM): the refusal "
                      "is about the sender, so %s, and no one is suppressed\n",
                 e.result.category == BounceCategory::kAuthentication
                     ? "technical/authentication (an address or domain unknown in answer to MAIL "
                       "FROM: our sender address)"
                     : "technical/policy");
  if (e.content_guard)
    std::fprintf(out, "guard:    a text rule said hard, but the enhanced code is X.6 (the "
                      "message's content, RFC 3463 3.8): words about a user quote the message, so "
                      "the code tables decided\n");
  if (e.temporary_guard)
    std::fprintf(out, "guard:    the rule said hard, but the reply code is 4xx, temporary (RFC 5321 "
                      "4.2.1): soft, and no one is suppressed\n");
  if (e.client_guard)
    std::fprintf(out,
                 "guard:    a permanent refusal of the greeting or HELO/EHLO that no text rule and "
                 "no enhanced code explains: the server knew only the connecting client (its IP, "
                 "reverse DNS, HELO name), so technical/policy\n");
  std::fprintf(out, "verdict:  %s/%s\n", std::string(OutcomeClassName(e.result.cls)).c_str(),
               std::string(BounceCategoryName(e.result.category)).c_str());
  std::fprintf(out, "meaning:  %s\n", Meaning(e.result).c_str());
  return kExitOk;
}

}  // namespace senderguard::tail
