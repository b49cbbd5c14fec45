// The feedback token: an opaque value the milter adds to every message it
// accepts (header [feedback] header, "X-Senderguard-ID" by default) so that a
// complaint (an ARF report quoting the message) names the account that sent
// it. The token is "v1." and the first 128 bits of HMAC-SHA256(secret,
// account), base64url: it does not show the account's name to recipients,
// and without the secret nobody can make the token of another account, so a
// forged report cannot blame one. The ingester finds the account by
// computing the token of each account it knows.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace senderguard {

// REQUIRES: !secret.empty().
std::string FeedbackToken(std::string_view secret, std::string_view account);

// The account among `accounts` whose token is `token` (compared in constant
// time per account), or nullopt.
std::optional<std::string> AccountForToken(std::string_view secret, std::string_view token,
                                           const std::vector<std::string>& accounts);

}  // namespace senderguard
