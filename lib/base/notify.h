// Runs the configured notify command for an event, without a shell: argv as
// configured, the facts in SG_* environment variables. Does not wait for it
// (a detached thread reaps it). Failures are logged, never raised.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "senderguard/base/kvlog.h"

namespace senderguard {

void SpawnNotify(const std::vector<std::string>& argv,
                 const std::vector<std::pair<std::string, std::string>>& env, Logger* logger);

}  // namespace senderguard
