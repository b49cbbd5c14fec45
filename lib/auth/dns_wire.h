// DNS messages in wire format (RFC 1035 §3.1, §4), for libraries that read
// one: libopendkim's key parser takes the raw reply of a TXT query, which
// senderguard builds from the answer of its own resolver (dkim.cc).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace senderguard::dns {

inline constexpr int kRcodeNoError = 0;
inline constexpr int kRcodeNxDomain = 3;
inline constexpr int kClassIn = 1;

// Appends `name` in wire form, uncompressed ("a.b" -> 1 'a' 1 'b' 0; a
// trailing dot is ignored). False, appending nothing, when it cannot be
// written: an empty or over-long (> 63) label, or over 255 bytes in all.
bool EncodeName(std::string_view name, std::string* out);

// A reply as libopendkim's dkim_get_key_dns reads it: a header with
// `rcode`, one question (`qname`, or the root when it cannot be written:
// libopendkim only checks the question's type and class) TXT IN, and one
// TXT answer per entry of `rdata` (each already in TXT RDATA form: length-
// prefixed strings), each owned by the question name (a compression pointer
// to offset 12), TTL 0.
std::string BuildTxtReply(std::string_view qname, int rcode,
                          const std::vector<std::string_view>& rdata);

}  // namespace senderguard::dns
