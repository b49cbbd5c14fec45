// One ARF complaint (arf.h's ArfReport) turned into what the store counts:
// which account it blames, and the FeedbackBatch that counts it once.
//
// Attribution, strongest first:
//   - the feedback token the milter added to the message (decide/token.h):
//     an HMAC with a secret only the milter and senderguard-arf know, so a
//     forged report cannot blame an account it never received mail from;
//   - else the original's Message-ID, through the store's queue map: the
//     newest entry recorded with it that names an account. A Message-ID can
//     be guessed, so this is weaker, and the caller logs by=message-id;
//   - else nobody: the complaint is counted under "" (unattributed).
//
// Everything here but AttributeComplaint is a pure function of its
// arguments (no clock, no store, no logging) and safe from any thread.
// AttributeComplaint is the edge: it reads the facts from a Store, as
// little as the decision needs, and never writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/base/status.h"
#include "senderguard/decide/reputation.h"
#include "senderguard/feedback/arf.h"
#include "senderguard/model/records.h"
#include "senderguard/store/store.h"

namespace senderguard {

// True for the feedback types that complain about the sender ("abuse",
// "fraud", RFC 5965 §7.3). "not-spam", "virus", "auth-failure", "other" and
// unknown types are not counted.
bool IsComplaint(const ArfReport& report);

// How a complaint was attributed, as the log's by= field says it.
enum class AttributedBy { kNone, kToken, kMessageId };
std::string_view AttributedByName(AttributedBy by);  // "none", "token", "message-id"

struct Attribution {
  std::string account;  // "" exactly when by == kNone
  AttributedBy by = AttributedBy::kNone;
};

// The account among `accounts` whose feedback token is report.token, or
// nullopt: also when the report has no token or `secret` is empty (tokens
// are then not checked: without the secret nobody can make one).
std::optional<std::string> AccountByToken(const ArfReport& report, std::string_view secret,
                                          const std::vector<std::string>& accounts);

// The account of the newest entry in `entries` (the queue-map entries
// recorded with the report's Message-ID, oldest first, as
// Store::FindByMessageId and GetQueueEntries give them) that names one;
// nullopt when none does. Missing entries (nullopt: expired between the two
// reads) and entries without an account (the tailer's stubs) are skipped.
std::optional<std::string> AccountByMessageId(
    const std::vector<std::optional<QueueEntry>>& entries);

// Whom the complaint blames: by token, else by Message-ID, reading from
// `store` only what that needs (the account names only when the report has
// a token and `secret` is set; the queue map only when the token did not
// attribute it and the report has a Message-ID). Errors: the store's, as it
// returned them (the caller should retry later: nothing was written).
[[nodiscard]] Result<Attribution> AttributeComplaint(const ArfReport& report,
                                                     std::string_view secret, Store& store);

// The complainer: the first Original-Rcpt-To that normalizes as an address
// (decide/identity.h), "" when none does (redacted or absent).
std::string Complainer(const ArfReport& report);

// The name of one complaint, for counting it once (FeedbackBatch::once_key):
// the same report delivered again yields the same name, another
// recipient's, account's or message's a different one. By the original's
// Message-ID (RFC 5965 §2 (d)) when it has one; else by Arrival-Date and
// Source-IP (§3.2), which are only good together with the complainer (one
// bulk send reaches a provider from one IP within the same second many
// times over). "" when the report identifies nothing: counted every time, as
// one complaint cannot be told from another. Each field is length-prefixed,
// so no choice of bytes in one (untrusted, any byte but LF) can forge
// another's; the store keeps only a digest, so the length does not matter.
std::string ComplaintKey(const ArfReport& report, std::string_view account,
                         std::string_view complainer);

// Who audit entries and suppressions say acted on a complaint.
inline constexpr std::string_view kComplaintActor = "senderguard-arf";

// The batch that counts one complaint at `now` (Unix s), attributed as
// `attribution` says, for Store::ApplyFeedback with ComplaintReview:
// exactly one complaint whatever the report's Incidents field says (reports
// are not authenticated, and anyone who received the account's mail holds
// its token, so a forged "Incidents: 1000" must not suspend an account on
// its own); the complainer suppressed for the account (only when there is
// one); the once_key of ComplaintKey; `review_days` of counts reviewed.
FeedbackBatch ComplaintBatch(const ArfReport& report, const Attribution& attribution,
                             std::string_view complainer, int review_days, int64_t now);

// The account review for a complaint's batch: the rate rules of `rep` at
// `now` (feedback.h's ReviewAccount), acting as kComplaintActor. Pure; the
// returned function holds copies of its arguments.
AccountReview ComplaintReview(const ReputationConfig& rep, int64_t now);

}  // namespace senderguard
