#include "senderguard/decide/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace senderguard {

std::string FeedbackToken(std::string_view secret, std::string_view account) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(account.data()), account.size(), mac, &len);
  static constexpr char kB64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  // 16 bytes -> 22 base64url characters (the last one carries 2 bits).
  std::string out = "v1.";
  uint32_t acc = 0;
  int bits = 0;
  for (int i = 0; i < 16; ++i) {
    acc = (acc << 8) | mac[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kB64[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::optional<std::string> AccountForToken(std::string_view secret, std::string_view token,
                                           const std::vector<std::string>& accounts) {
  if (secret.empty() || token.size() != 25) return std::nullopt;
  for (const auto& a : accounts) {
    const std::string t = FeedbackToken(secret, a);
    if (CRYPTO_memcmp(t.data(), token.data(), t.size()) == 0) return a;
  }
  return std::nullopt;
}

}  // namespace senderguard
