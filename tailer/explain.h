// ExplainReply: senderguard-tail --explain-reply "TEXT" [--dsn X.Y.Z]. Says
// how the bounce rules classify one reply as Postfix would log it in a
// status=bounced line: which text rule or [[code]] entry matched, its line
// in the rules file, its pattern and source comment, the class and category,
// what that class counts toward, and the fallback taken when nothing
// matched. Pure reporting: reads no log and no store.
//
// The reply and dsn come from the command line (a user's paste of a log
// line's text): printed through the escaping policy of text.h.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "senderguard/feedback/bounce.h"

namespace senderguard::tail {

// Whether `dsn` is an enhanced status code as Postfix logs it: class 2, 4
// or 5, then subject and detail of 1 to 3 digits (RFC 3463 section 2).
bool ValidLoggedDsn(std::string_view dsn);

// Writes the explanation to `out`. `dsn` empty: taken from the reply the
// way Postfix takes it (the enhanced code after the reply code, else X.0.0
// from the reply code; none for a text without a reply code). `rules_path`
// is only printed. Returns the exit code: 0, or 64 (EX_USAGE) for a `dsn`
// that is not an enhanced status code.
int ExplainReply(const BounceRules& rules, const std::string& rules_path, std::string_view reply,
                 std::string_view dsn, std::FILE* out);

}  // namespace senderguard::tail
