// PrintFile: senderguard-tail --once --print FILE. Reads FILE to its end,
// classifies and attributes each delivery outcome (through the queue map of
// `store`, when there is one) and prints it on stdout as one JSON object per
// line, fields in a fixed order; then one line of totals on stderr. Writes
// nothing to the store, and does not follow the file.
//
// Every delivery line of the file is printed, in order, and qmgr's expiry
// lines: also those that count for no account (Postfix's own notices,
// address verification probes, unknown status words), with "account": null
// and "origin" saying why; a repeated deferral of a recipient is printed
// each time. "time" is ISO 8601 in UTC ("2026-11-25T18:27:32Z").
//
// Text from the log (recipient, reply...) is printed JSON-escaped; bytes
// that are not UTF-8 become U+FFFD.
//
// Runs on the calling thread only. *store (may be null: nothing is
// attributed) and *logger must outlive the call.
#pragma once

#include <string>

#include "senderguard/base/kvlog.h"
#include "senderguard/config/config.h"
#include "senderguard/feedback/feedback.h"
#include "senderguard/store/store.h"

namespace senderguard::tail {

// Returns the exit code: 0; 66 when FILE cannot be opened or read; 74 on a
// read error or when the store cannot be read.
int PrintFile(const std::string& file, const Config& cfg, const BounceRules& rules, Store* store,
              Logger* logger);

}  // namespace senderguard::tail
