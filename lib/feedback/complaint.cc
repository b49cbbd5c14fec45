#include "senderguard/feedback/complaint.h"

#include <utility>

#include "senderguard/decide/identity.h"
#include "senderguard/decide/token.h"
#include "senderguard/feedback/feedback.h"

namespace senderguard {

bool IsComplaint(const ArfReport& report) {
  return report.feedback_type == "abuse" || report.feedback_type == "fraud";
}

std::string_view AttributedByName(AttributedBy by) {
  switch (by) {
    case AttributedBy::kToken:
      return "token";
    case AttributedBy::kMessageId:
      return "message-id";
    case AttributedBy::kNone:
      break;
  }
  return "none";
}

std::optional<std::string> AccountByToken(const ArfReport& report, std::string_view secret,
                                          const std::vector<std::string>& accounts) {
  if (report.token.empty() || secret.empty()) return std::nullopt;
  return AccountForToken(secret, report.token, accounts);
}

std::optional<std::string> AccountByMessageId(
    const std::vector<std::optional<QueueEntry>>& entries) {
  for (size_t i = entries.size(); i-- > 0;) {  // newest first
    const auto& e = entries[i];
    if (e && !e->account.empty()) return e->account;
  }
  return std::nullopt;
}

Result<Attribution> AttributeComplaint(const ArfReport& report, std::string_view secret,
                                       Store& store) {
  Attribution a;
  if (!report.token.empty() && !secret.empty()) {
    auto accounts = store.ListAccounts();
    if (!accounts.ok()) return accounts.status();
    std::vector<std::string> names;
    names.reserve(accounts.value().size());
    for (const auto& rec : accounts.value()) names.push_back(rec.name);
    if (auto name = AccountByToken(report, secret, names)) {
      a.account = std::move(*name);
      a.by = AttributedBy::kToken;
      return a;
    }
  }
  if (!report.message_id.empty()) {
    auto ids = store.FindByMessageId(report.message_id);
    if (!ids.ok()) return ids.status();
    auto entries = store.GetQueueEntries(ids.value());
    if (!entries.ok()) return entries.status();
    if (auto name = AccountByMessageId(entries.value())) {
      a.account = std::move(*name);
      a.by = AttributedBy::kMessageId;
    }
  }
  return a;
}

std::string Complainer(const ArfReport& report) {
  for (const auto& rcpt : report.original_rcpt_to) {
    if (auto a = NormalizeAddress(rcpt)) return *a;
  }
  return std::string();
}

std::string ComplaintKey(const ArfReport& report, std::string_view account,
                         std::string_view complainer) {
  std::string key;
  auto field = [&key](std::string_view v) {
    key += std::to_string(v.size());
    key += ':';
    key.append(v);
  };
  if (!report.message_id.empty()) {
    key = "arf1 message-id ";
    field(account);
    field(report.message_id);
  } else if (!report.arrival_date.empty() && !complainer.empty()) {
    key = "arf1 arrival ";
    field(account);
    field(report.arrival_date);
    field(report.source_ip);
  } else {
    return key;
  }
  field(complainer);
  field(report.feedback_type);
  return key;
}

FeedbackBatch ComplaintBatch(const ArfReport& report, const Attribution& attribution,
                             std::string_view complainer, int review_days, int64_t now) {
  FeedbackBatch batch;
  batch.now = now;
  batch.actor = std::string(kComplaintActor);
  batch.review_days = review_days;
  FeedbackEvent e;
  e.account = attribution.account;
  e.time = now;
  e.delta.complaints = 1;
  // Unattributed, nobody to suppress the address for ("" is the global
  // list): LmdbStore skips a complainer without an account too, but a
  // report nobody authenticated must not silence a recipient for everyone
  // whatever the store does.
  e.complainer = attribution.account.empty() ? std::string() : std::string(complainer);
  batch.events.push_back(std::move(e));
  batch.once_key = ComplaintKey(report, attribution.account, complainer);
  return batch;
}

AccountReview ComplaintReview(const ReputationConfig& rep, int64_t now) {
  return [rep, now](AccountRecord* a, const StoredDays& days, uint64_t complaints,
                    ReviewOutcome* out) {
    ReviewAccount(rep, now, std::string(kComplaintActor), a, days, complaints, out);
  };
}

}  // namespace senderguard
