// The milter's decisions, as pure functions of the configuration, the
// account's stored record, the time and what the store answered. The milter
// fetches the facts, calls these, then acts and logs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "senderguard/base/text.h"  // MilterReplyText, for a Decision's reply text
#include "senderguard/config/config.h"
#include "senderguard/auth/dmarc.h"
#include "senderguard/auth/from_header.h"
#include "senderguard/model/records.h"

namespace senderguard {

// An SMTP reply: code, RFC 3463 enhanced status code and text.
struct Reply {
  int code = 250;
  std::string enhanced = "2.0.0";
  std::string text;
};

enum class Verdict { kContinue, kReject, kTempfail };

struct Decision {
  Verdict verdict = Verdict::kContinue;
  // For the log: "accept", "reject", "tempfail", "would-reject", "would-tempfail".
  std::string action = "accept";
  std::string reason;  // "suspended", "suppressed", "quota", ...
  Reply reply;
  // Extra key=value fields for the decision's log line.
  std::vector<std::pair<std::string, std::string>> fields;
};

// The account's limit per window: its own override, else the configured default.
std::array<uint64_t, kWindowCount> EffectiveLimits(const Config& cfg, const AccountRecord* rec);

// Dry run applies when the configuration or the account says so.
bool IsDryRun(const Config& cfg, const AccountRecord* rec);

// MAIL FROM: refuse a suspended account (550 5.7.1).
Decision DecideMail(const Config& cfg, std::string_view account, const AccountRecord* rec,
                    int64_t now);

// RCPT TO of a suppressed address (550 5.7.1 naming the reason).
Decision DecideSuppressed(const Config& cfg, std::string_view account, const AccountRecord* rec,
                          std::string_view recipient, const SuppressionRecord& entry);

// RCPT TO that would exceed `charge`'s window: 452 4.7.1, or 550 5.7.1 when the
// window is configured to reject. `outcome` is what the store answered.
Decision DecideQuota(const Config& cfg, std::string_view account, const AccountRecord* rec,
                     const QuotaCharge& charge, const ReserveOutcome& outcome);

// ---- DMARC (end of message; [dmarc] in the configuration)

// Whether the account's mail is checked at all: [dmarc] mode is not off and
// the account is not in exempt_accounts.
bool DmarcApplies(const Config& cfg, std::string_view account);

// A message without exactly one author domain (no From:, several, no domain,
// several domains, unreadable): 550 5.7.1, RFC 9989 / RFC 7489 §6.6.1.
// REQUIRES: author.error != AuthorError::kNone.
Decision DecideAuthor(const Config& cfg, std::string_view account, const AccountRecord* rec,
                      const Author& author);

// Whether `domain` (normalized) is one of the account's verified domains or a
// subdomain of one.
bool DomainVerified(const AccountRecord* rec, std::string_view domain);

// An account limited to its verified domains (domains_only) sending from
// another: 550 5.7.1. Continue otherwise.
Decision DecideVerifiedDomain(const Config& cfg, std::string_view account,
                              const AccountRecord* rec, std::string_view domain);

// The DMARC verdict: reject → 550 5.7.1; quarantine → 550 5.7.1 unless
// on_quarantine = "accept"; a DNS temporary failure → 451 4.7.0 unless
// on_temperror = "accept"; a policy in testing mode (t=y, or pct=0 in a
// record written for RFC 7489) is never enforced; otherwise continue.
Decision DecideDmarc(const Config& cfg, std::string_view account, const AccountRecord* rec,
                     const dmarc::Verdict& v);

// What to answer when a decision could not be made (configured on_error).
Decision DecideError(const Config& cfg, std::string_view what);

}  // namespace senderguard
