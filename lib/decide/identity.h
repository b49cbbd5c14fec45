// Who is sending: account names, recipient addresses, and the identity order.
//
// Pure functions over strings from the SMTP session (untrusted: SASL login,
// envelope sender, client address). Nothing here does I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace senderguard {

// Longest account name accepted, in bytes (LMDB keys are at most 511 bytes
// and carry a suffix).
inline constexpr size_t kMaxAccountName = 255;
// Longest address accepted (RFC 5321 §4.5.3.1.3: a path is at most 256
// octets with its angle brackets). Keeps account+address keys under LMDB's 511.
inline constexpr size_t kMaxAddress = 254;

// Returns the canonical form of an account name, or nullopt when it is empty
// (or blank). Surrounding blanks are trimmed and ASCII is lower-cased; every
// byte outside [a-z0-9._@+:-] is written as "=XX" (hex), so any SASL login
// ("Jürgen", "DOMAIN\\user", "alice smith") maps to one stable, printable
// name and never falls through to an identity the client chooses. An "=XX"
// already in the input is kept, so a canonical name maps to itself. A name
// longer than kMaxAccountName keeps its first ~200 bytes, "+" and a 64-bit hash.
std::optional<std::string> NormalizeAccount(std::string_view raw);

// Returns the canonical form of a mail address for suppression lookups:
// angle brackets and surrounding space removed, ASCII lower case, exactly one
// '@' with a non-empty local part and domain, no controls or spaces, at most
// kMaxAddress bytes. The domain is a host name (labels of letters, digits,
// '-' and '_', none starting or ending with '-'); one written in Unicode
// (SMTPUTF8) becomes its A-labels ("xn--..."), as domains are everywhere
// else. The local part is kept as it is (8-bit included).
std::optional<std::string> NormalizeAddress(std::string_view raw);
// The same, and when it refuses `raw`, *why (unless null) says what is wrong,
// for a message: "empty", "no '@' (expected local@domain)", "contains a
// space or a control character", "the domain is not a host name (...)"...
std::optional<std::string> NormalizeAddress(std::string_view raw, std::string* why);

// Whether `d` is a host name as NormalizeAddress's domain must be: lower-case
// labels of 1 to 63 letters, digits, '-' and '_', at most 253 bytes, none
// starting or ending with '-' (RFC 952, RFC 1123 2.1, RFC 5890 2.3.1: no
// registry gives out "-bad-.example").
bool ValidHostName(std::string_view d);

// The domain of an envelope address ("<a@B.example>" -> "b.example"), or
// nullopt for the null sender, a missing '@', or an invalid domain.
std::optional<std::string> AddressDomain(std::string_view raw);

enum class IdentitySource { kSasl, kSenderDomain, kClientAddress };

// "sasl", "sender-domain", "client-address".
std::string_view IdentitySourceName(IdentitySource s);
std::optional<IdentitySource> ParseIdentitySource(std::string_view name);

struct IdentityFacts {
  std::string_view sasl_login;     // {auth_authen}, empty when not authenticated
  std::string_view envelope_from;  // MAIL FROM argument as given
  std::string_view client_address; // connecting client's IP, empty if unknown
};

struct Identity {
  std::string account;
  IdentitySource source;
};

// The first source in `order` that yields a valid account name; nullopt when
// none does (for example the null sender from an unknown client).
std::optional<Identity> ResolveIdentity(const IdentityFacts& facts,
                                        const std::vector<IdentitySource>& order);

}  // namespace senderguard
