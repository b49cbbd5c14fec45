// SendingTally: what the milter did with each account's mail per UTC day
// (units committed against the quota, refusals, the tier in force), counted
// in memory on its hot path and written to the store once per [monitoring]
// interval (Store::AddSendingDays), never per message. Pure data structure:
// no clock, no store; the caller passes the day and does the writing.
//
// Up to one interval of these figures is lost when the process is killed
// (what a clean stop has is written by the last report); quota enforcement
// does not depend on them (the store's window counts are written at each
// commit).
//
// Thread safety: every method may be called from any thread at once (one
// mutex, held for a map update).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "senderguard/model/records.h"

namespace senderguard::monitor {

class SendingTally {
 public:
  // The most (account, day) keys held: beyond, a new key is dropped and
  // counted (TakeDropped). 100,000 keys of 255-byte names are about 40 MB.
  static constexpr size_t kDefaultMaxKeys = 100000;
  explicit SendingTally(size_t max_keys = kDefaultMaxKeys) : max_keys_(max_keys) {}

  // A message accepted and committed: `units` as the quota counts them.
  // `tier` (0: unknown) becomes the key's tier.
  void AddAccepted(std::string_view account, int64_t day, uint64_t units, uint8_t tier);
  // One SMTP refusal (reject or tempfail) replied to the account's mail.
  void AddRefused(std::string_view account, int64_t day, uint8_t tier);

  // Everything counted since the last Take, in (account, day) order; the
  // tally is then empty.
  std::vector<SendingDay> Take();
  // Puts back a batch Take gave that could not be written, under what was
  // counted since (its counts added; a tier counted since wins, being newer).
  // Keys beyond the bound are dropped and counted (TakeDropped).
  void MergeBack(std::vector<SendingDay> batch);
  // How many keys were dropped since the last call (to log once).
  uint64_t TakeDropped();
  size_t size() const;

 private:
  struct Figures {
    uint64_t quota_used = 0, refused = 0;
    uint8_t tier = 0;
  };
  // The key's figures, or null when it is new and the tally is full
  // (counted as dropped). REQUIRES: mu_ held.
  Figures* Find(std::string_view account, int64_t day);

  const size_t max_keys_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int64_t>, Figures> figures_;
  uint64_t dropped_ = 0;
};

}  // namespace senderguard::monitor
