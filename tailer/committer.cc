#include "committer.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "senderguard/base/clock.h"

namespace senderguard::tail {

Committer::Committer(Store* store, Logger* logger, ReputationConfig rep,
                     const std::atomic<bool>& stop, monitor::TailMetrics* metrics)
    : store_(store), logger_(logger), rep_(std::move(rep)), stop_(stop), metrics_(metrics) {}

Committer::~Committer() { (void)Wait(); }

bool Committer::Submit(FeedbackBatch batch) {
  if (!Wait()) return false;
  inflight_ = std::thread([this, b = std::move(batch)]() mutable { ok_ = Run(b); });
  return true;
}

bool Committer::Wait() {
  if (inflight_.joinable()) inflight_.join();
  return ok_;
}

bool Committer::Run(const FeedbackBatch& batch) {
  const int64_t now = batch.now;
  const std::string actor = batch.actor;
  const ReputationConfig& rep = rep_;
  auto review = [&rep, now, &actor](AccountRecord* a, const StoredDays& days,
                                    uint64_t complaints, ReviewOutcome* out) {
    ReviewAccount(rep, now, actor, a, days, complaints, out);
  };
  // On failure retry the same batch: the stored position does not move
  // until it lands, so nothing is lost or repeated.
  for (int attempt = 0;; ++attempt) {
    auto res = store_->ApplyFeedback(batch, review);
    if (metrics_ != nullptr && (res.ok() || attempt == 0)) metrics_->CommitFailing(res.ok() ? 0 : UnixNow());
    if (res.ok()) {
      for (const auto& s : res.value().suppressed) {
        logger_->Log(Logger::Level::kInfo,
                     KvLine()
                         .Add("action", "suppress")
                         .Add("account", s.account.empty() ? "*" : s.account)
                         .Add("recipient", s.address)
                         .Add("reason", s.reason)
                         .str());
      }
      for (const auto& a : res.value().alerts) logger_->Log(Logger::Level::kWarning, a);
      return true;
    }
    logger_->Log(Logger::Level::kError,
                 KvLine().Add("action", "commit-error").Add("error", res.status().message()).str());
    if (stop_) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5000, 100 << std::min(attempt, 6))));
  }
}

}  // namespace senderguard::tail
