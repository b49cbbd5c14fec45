#include "senderguard/store/store.h"

#include <unordered_set>

#include "senderguard/base/text.h"

namespace senderguard {

Status CheckDistinct(const std::vector<std::string>& names) {
  std::unordered_set<std::string_view> seen;
  seen.reserve(names.size());
  for (const auto& n : names) {
    if (!seen.insert(n).second) return Status::Invalid("account " + Printable(n, 300) + " is named twice");
  }
  return Status::Ok();
}

}  // namespace senderguard
