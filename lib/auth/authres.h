// Authentication-Results (RFC 8601): the header field the milter adds with
// the SPF, DKIM and DMARC results it evaluated, and the test for an existing
// one that claims our authserv-id (which the milter removes: a message must
// not arrive carrying results it forged under our name, RFC 8601 §5).
//
// Pure functions; thread-safe; no allocation beyond the returned strings.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace senderguard::authres {

// One resinfo: "method=result (comment) ptype.property=value ...".
struct ResInfo {
  std::string method;   // "spf", "dkim", "dmarc" (RFC 8601 §2.7)
  std::string result;   // "pass", "fail", "none", "temperror", ...
  std::string reason;   // optional; written as reason="..."
  std::string comment;  // optional; written as (...)
  // ("smtp.mailfrom", "example.com"), ("header.d", "example.com"), ...
  std::vector<std::pair<std::string, std::string>> properties;
};

// The header field's value (without "Authentication-Results:"), folded with
// "\n\t" between resinfos so no line grows past ~78 bytes in the usual case:
//   "mx.example.net;\n\tspf=pass smtp.mailfrom=example.com;\n\tdmarc=pass header.from=example.com"
// No resinfo: "mx.example.net; none" (RFC 8601 §2.2). Values that are not an
// RFC 2045 token (a domain, an address) are quoted; control bytes and
// non-ASCII in comments, reasons and values are replaced by '?', and each
// free text is cut to 200 bytes.
std::string Build(std::string_view authserv_id, const std::vector<ResInfo>& results);

// Whether an Authentication-Results value (as libmilter gives it: folded,
// maybe with a leading space and comments) names `authserv_id` as its
// authserv-id (compared case-insensitively, RFC 8601 §2.5). A value that
// cannot be read is not ours.
bool ClaimsAuthservId(std::string_view value, std::string_view authserv_id);

}  // namespace senderguard::authres
