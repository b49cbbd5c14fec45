// Bounce classification: what one Postfix delivery outcome means for the
// sender's reputation and for the recipient's address.
//
// Input: the status word, the enhanced status code (RFC 3463) and the reply
// text of a delivery line, as postfix_log.h reads them. The reply text is
// written largely by the remote server, so it is untrusted: it is matched
// with RE2 (linear time in the text, whatever the text), and only the first
// kMaxClassifiedReply bytes of the server's words (ServerText) are read, a
// multi-line reply with its line prefixes taken out (UnfoldReply).
//
// The meaning comes from a rules file (TOML; the shipped one is
// conf/bounce-rules.conf, which documents the format and the classes):
//   1. text rules, in order, first match wins (case-insensitive regular
//      expressions over the reply text, each optionally restricted to
//      enhanced codes with a given prefix). The text comes first because
//      large receivers send misleading codes: a "550 5.1.1" whose text says
//      the mailbox is full, a "5.7.1 user unknown";
//   2. the enhanced status code table, longest entry first ("5.1.1" before
//      "5.1." before "5.");
//   3. the basic reply code at the start of the remote server's text
//      ("host mx[192.0.2.1] said: 552 ..." gives "552");
//   4. a default: a bounce is technical/other, anything else other.
// A hard verdict of a text rule under an enhanced code of subject 6 (X.6.x,
// the message's content or media: RFC 3463 §3.8) gives way to the code
// tables: words about an unknown user there quote the message. Then three
// guards. A hard verdict on the server's answer to the greeting,
// HELO/EHLO, STARTTLS, AUTH or MAIL FROM becomes technical/policy: those
// commands name no recipient, so the refusal is about the sender (a
// smarthost's "550 5.2.1 Account disabled" is our account) and must not
// suppress anyone; technical/authentication when the answer is to MAIL FROM
// and the words say an address or domain is unknown (then it is our sender
// address). A hard verdict on a 4yz reply becomes soft (same category): RFC
// 5321 §4.2.1 makes it temporary. And a 5xx answer to the greeting or HELO/EHLO that only
// the reply code table or the default classified ("550 Rejected") becomes
// technical/policy: the server knew only the connecting client.
//
// What the status word decides regardless of the rules:
//   "sent"                    delivered, category none; the rules are not read
//   "deferred", "SOFTBOUNCE"  deferred (a deferral is never a bounce); the
//                             category comes from the rules, for reports
//   "expired"                 expired (the tailer counts it as soft, never
//                             hard); category from the rules
//   "bounced"                 class and category from the rules
//   any other word            deferred, category from the rules. Address
//                             verification probes ("deliverable",
//                             "undeliverable") are not deliveries: callers
//                             should skip them rather than classify them.
//
// Thread safety: a BounceRules is immutable once built; Classify is const and
// may run on any number of threads at once. It keeps no state between calls
// and allocates only a few small buffers per call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/feedback/postfix_log.h"
#include "senderguard/base/status.h"

namespace senderguard {

// Hard limits of the rules file and of classification.
inline constexpr size_t kMaxBounceRulesBytes = 256 << 10;  // the shipped file is ~98 KiB
inline constexpr size_t kMaxBounceTextRules = 1000;
inline constexpr size_t kMaxBounceCodeEntries = 1000;
inline constexpr size_t kMaxBouncePattern = 1000;  // bytes of one `match`
inline constexpr size_t kMaxClassifiedReply = 4096;  // bytes of reply text read

// What an outcome counts as.
enum class OutcomeClass : uint8_t {
  kDelivered = 0,  // status "sent"
  kDeferred,       // still queued; never a bounce, whatever the text says
  kHard,           // the recipient cannot receive: counts against the sender,
                   // and toward suppressing the recipient when
                   // SuppressesRecipient(category)
  kSoft,           // bounced for a reason that may pass (mailbox full,
                   // throttling): reported, never counted
  kTechnical,      // the receiver refused for policy, authentication, network or
                   // size: not the recipient's fault, reported but not a hard bounce
  kExpired,        // the message stayed queued too long (status "expired");
                   // counted as soft, never hard
};

// Why, as far as the rules can tell.
enum class BounceCategory : uint8_t {
  kNone = 0,          // delivered
  kRecipientUnknown,  // no such mailbox (5.1.1)
  kDomainUnknown,     // no such domain, no MX, null MX (RFC 7505)
  kMailboxDisabled,   // the mailbox exists but is closed or suspended (5.2.1)
  kMailboxFull,       // over quota (5.2.2)
  kRateLimited,       // the receiver throttles the sender, greylisting
  kInactiveAccount,   // dormant account (Gmail "is inactive"): its owner can revive it
  kPolicy,            // who is sending: the IP's reputation, blocklists, reverse DNS
                      // (PTR), HELO, relaying refused, the receiver's local rules
  kAuthentication,    // SPF, DKIM, DMARC, the sender's own address
  kNetwork,           // connection, DNS lookup, TLS, timeouts, mail loops
  kTooLarge,          // the message exceeds a size limit
  kSpam,              // what is sent: the content judged spam, a virus or phishing
  kExpired,           // a receiver or relay gave up after its own retries ("4.4.7
                      // Message expired", "retry timeout exceeded"), and qmgr's expiry
  kOther,             // none of the above, or not recognized
  // New values go before kOther: the names, not the numbers, are stored
  // (BounceRecord::last_category), so appending keeps old data readable.
};

// What decided a Classification.
enum class ClassifiedBy : uint8_t {
  kStatus = 0,    // the status word alone ("sent")
  kTextRule,      // a text rule; Classification::rule is its index
  kEnhancedCode,  // the enhanced status code table
  kReplyCode,     // the basic reply code table
  kDefault,       // nothing matched
};

std::string_view OutcomeClassName(OutcomeClass c);      // "delivered", "deferred", "hard", ...
std::string_view BounceCategoryName(BounceCategory c);  // "none", "recipient-unknown", ...
std::string_view ClassifiedByName(ClassifiedBy b);      // "status", "text", "dsn", "reply", "default"
// The inverse of BounceCategoryName; nullopt for an unknown name.
std::optional<BounceCategory> ParseBounceCategory(std::string_view name);

// True for the categories whose hard bounces count toward suppressing the
// recipient: recipient-unknown, domain-unknown, mailbox-disabled. Not
// inactive-account: its owner can sign in again.
bool SuppressesRecipient(BounceCategory c);

// The remote server's own words in a reply text as Postfix logs it: TEXT
// from "host NAME[ADDR] said: TEXT (in reply to CMD command)" or "host
// NAME[ADDR] refused to talk to me: TEXT". Any other text (Postfix's own:
// "connect to ...: Connection refused", local delivery's "unknown user") is
// returned whole. Text rules match this, so the receiver's host name and the
// SMTP command cannot match a rule. Returns a view into `reply`.
std::string_view ServerText(std::string_view reply);

// The basic reply code ("550") ServerText(reply) starts with; empty when
// there is none (Postfix's own texts, local delivery). A view into `reply`.
std::string_view BasicReplyCode(std::string_view reply);

// A multi-line reply as Postfix logs it, made readable as one text. Postfix's
// smtp client keeps each line's prefix and joins the lines with a space:
//   550-5.1.1 The email account that you tried to reach does not exist. Please
//   try 550-5.1.1 double-checking ... 550 5.1.1  https://...
// so a sentence broken over two lines has a prefix between its words. When
// `server` (a ServerText) starts with a continuation line ("550-"), writes
// to *out the same text without the prefixes of the later lines (the reply
// code followed by '-', and the last line's "550 "; with them the first
// line's enhanced code when they repeat it) and returns true; the first
// line's prefix stays, so BasicReplyCode reads the same code. Returns false
// for a one-line reply or any other text (*out is then unspecified). Pure;
// linear in the text.
bool UnfoldReply(std::string_view server, std::string* out);

struct Classification {
  OutcomeClass cls = OutcomeClass::kDeferred;
  BounceCategory category = BounceCategory::kOther;
  int rule = -1;  // index of the text rule that matched; -1 for anything else
  ClassifiedBy by = ClassifiedBy::kDefault;
};

// A parsed rules file. Movable, not copyable; a moved-from or
// default-constructed BounceRules has no rules (codes and text fall to the
// default).
class BounceRules {
 public:
  BounceRules();
  ~BounceRules();
  BounceRules(BounceRules&&) noexcept;
  BounceRules& operator=(BounceRules&&) noexcept;
  BounceRules(const BounceRules&) = delete;
  BounceRules& operator=(const BounceRules&) = delete;

  // Parses rules text; `name` is the file name used in messages. Errors
  // (Status::Invalid) are "name:line: key: what is wrong", for instance
  // "bounce-rules.conf:42: rule[7].match: bad regex: missing ): (a". The
  // text is trusted configuration, but is still held to
  // kMaxBounceRulesBytes, 8 KiB lines and shallow nesting.
  static Result<BounceRules> Parse(std::string_view text, std::string_view name);

  // Reads and parses a file. An unreadable file is "path:0: cannot open: why".
  static Result<BounceRules> Load(const std::string& path);

  // Classifies one delivery outcome. `status` is the word Postfix logged
  // ("sent", "deferred", "bounced", "expired", "SOFTBOUNCE"); `dsn` the
  // enhanced code ("5.1.1", may be empty); `reply` the text Postfix logged in
  // parentheses after the status. Never fails.
  Classification Classify(std::string_view status, std::string_view dsn,
                          std::string_view reply) const;
  // The same, with the status word already read by ParsePostfixLine.
  Classification Classify(DeliveryStatus status, std::string_view dsn,
                          std::string_view reply) const;

  // What decided one classification and why, for `senderguard-tail
  // --explain-reply`. Views point into this BounceRules (pattern, comment,
  // key), which must outlive the Explanation.
  struct Explanation {
    Classification result;     // exactly what Classify returns
    std::string server_text;   // the text the rules read: ServerText, cut to
                               // kMaxClassifiedReply, unfolded (UnfoldReply)
    // The verdict the rule or entry gave, before the status word and the
    // guard: "hard", "soft" or "technical" (empty for status "sent").
    std::string_view rule_class;
    int line = 0;                  // line of the rule or [[code]] entry; 0 if none
    std::string_view pattern;      // text rule: its `match`
    std::string_view dsn_restriction;  // text rule: its `dsn`, if any
    std::string_view code_key;     // [[code]] entry: its `dsn` or `reply`
    std::string_view comment;      // the rule's or entry's comment
    bool sender_guard = false;     // a hard verdict on an answer to a command
                                   // naming no recipient became technical/policy
                                   // (technical/authentication: an address or
                                   // domain unknown, in answer to MAIL FROM)
    bool temporary_guard = false;  // a hard verdict on a 4yz reply became soft
    bool content_guard = false;    // a text rule said hard under an X.6.x code
                                   // (the message's content): the codes decided
    // Text rules whose words are found in the text but whose `dsn` does not
    // admit this reply's code, before the one that decided (all of them
    // when no text rule decided): what a missing or different code cost.
    // Indexes, in file order.
    std::vector<int> dsn_excluded;
    bool client_guard = false;     // a 5xx answer to the greeting or HELO/EHLO
                                   // that only its reply code (or nothing)
                                   // classified became technical/policy
  };
  // Classifies like Classify and says why. Never fails; pure.
  Explanation Explain(std::string_view status, std::string_view dsn,
                      std::string_view reply) const;

  size_t size() const;        // text rules
  size_t code_count() const;  // [[code]] entries
  // The line of text rule `index` in the file (for log lines and `explain`);
  // 0 when there is no such rule.
  int RuleLine(int index) const;
  // Text rule `index`'s `dsn` restriction ("" for none or no such rule).
  std::string_view RuleDsn(int index) const;

  struct Impl;  // opaque: defined in bounce.cc

 private:
  std::unique_ptr<const Impl> impl_;
};

}  // namespace senderguard
