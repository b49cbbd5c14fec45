// PLACEHOLDER (branch pg only): replaced by the feedback's implementation.
#include "senderguard/store/postgresql/pg_feedback.h"

namespace senderguard {
namespace {
Status Todo() { return Status::Unavailable("postgresql: feedback not implemented yet"); }
}  // namespace
Result<FeedbackResult> PgFeedback::ApplyFeedback(const FeedbackBatch&, const AccountReview&) {
  return Todo();
}
Result<std::optional<std::string>> PgFeedback::GetPosition(std::string_view) { return Todo(); }
Result<StoredDays> PgFeedback::GetDays(std::string_view, int64_t, int64_t) { return Todo(); }
Result<std::optional<BounceRecord>> PgFeedback::GetBounces(std::string_view) { return Todo(); }
}  // namespace senderguard
