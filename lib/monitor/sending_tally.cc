#include "senderguard/monitor/sending_tally.h"

namespace senderguard::monitor {

namespace {

uint64_t AddSaturating(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace

SendingTally::Figures* SendingTally::Find(std::string_view account, int64_t day) {
  // A lookup first: the common case is a key already there, and a full
  // tally must not grow.
  auto it = figures_.find(std::make_pair(std::string(account), day));
  if (it != figures_.end()) return &it->second;
  if (figures_.size() >= max_keys_) {
    ++dropped_;
    return nullptr;
  }
  return &figures_[{std::string(account), day}];
}

void SendingTally::AddAccepted(std::string_view account, int64_t day, uint64_t units, uint8_t tier) {
  std::lock_guard<std::mutex> lk(mu_);
  Figures* f = Find(account, day);
  if (f == nullptr) return;
  f->quota_used = AddSaturating(f->quota_used, units);
  if (tier != 0) f->tier = tier;
}

void SendingTally::AddRefused(std::string_view account, int64_t day, uint8_t tier) {
  std::lock_guard<std::mutex> lk(mu_);
  Figures* f = Find(account, day);
  if (f == nullptr) return;
  f->refused = AddSaturating(f->refused, 1);
  if (tier != 0) f->tier = tier;
}

std::vector<SendingDay> SendingTally::Take() {
  std::map<std::pair<std::string, int64_t>, Figures> taken;
  {
    std::lock_guard<std::mutex> lk(mu_);
    taken.swap(figures_);
  }
  std::vector<SendingDay> out;
  out.reserve(taken.size());
  for (auto& [key, f] : taken) {
    SendingDay d;
    d.account = key.first;
    d.day = key.second;
    d.quota_used = f.quota_used;
    d.refused = f.refused;
    d.tier = f.tier;
    out.push_back(std::move(d));
  }
  return out;
}

void SendingTally::MergeBack(std::vector<SendingDay> batch) {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& d : batch) {
    Figures* f = Find(d.account, d.day);
    if (f == nullptr) continue;
    f->quota_used = AddSaturating(f->quota_used, d.quota_used);
    f->refused = AddSaturating(f->refused, d.refused);
    if (f->tier == 0) f->tier = d.tier;  // one counted since is newer
  }
}

uint64_t SendingTally::TakeDropped() {
  std::lock_guard<std::mutex> lk(mu_);
  const uint64_t n = dropped_;
  dropped_ = 0;
  return n;
}

size_t SendingTally::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return figures_.size();
}

}  // namespace senderguard::monitor
