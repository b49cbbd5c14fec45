// DMARC (RFC 9989, which replaced RFC 7489 in May 2026) as pure functions:
// record selection and parsing, policy discovery by the DNS Tree Walk, the
// Organizational Domain (tree walk or public suffix list), identifier
// alignment and the verdict for one message.
//
// Nothing here touches the network, a clock or a log. DNS comes in through
// two callbacks the caller supplies (TxtLookup for "_dmarc.<name>" TXT
// queries, ExistenceLookup for "does the Author Domain exist"); the callbacks
// are called on the calling thread, synchronously, and never stored. Every
// function is reentrant and safe to call from any number of threads at once
// (libpsl's context and libopendmarc's one-time initialization are set up
// behind std::call_once; the libopendmarc parse uses a context per call).
//
// Section numbers are those of draft-ietf-dmarc-dmarcbis-41, the text that
// became RFC 9989.
//
// Use, at end of message, once the Author Domain is known (from_header.h):
//   Discovery d = Discover(author.domain, txt_lookup, exists_lookup);
//   Verdict v = Evaluate(d, {spf_pass, spf_domain, dkim_domains},
//                        config_org_domain_method, txt_lookup);
//   then act on v.disposition and log v's fields as one key=value line.
//
// Untrusted input: TXT strings (whoever runs a domain's DNS writes them) and
// domain names (from the message). Records longer than kMaxRecordBytes are
// not parsed; at most kMaxWalkQueries TXT queries are made per tree walk, at
// most kMaxIdentifierDomains DKIM domains are evaluated per message. Reason
// and note strings are printable ASCII with bytes from the input written as
// \xNN, each cut to a few hundred bytes, so they can go into a log line as is
// (KvLine still quotes them).
//
// libopendmarc 1.4.2 is used as the record parser where it is right and safe:
// see ParseRecord. Its own policy lookup, organizational-domain code and
// alignment are not used: as reproduced on Debian 12, it reports strict
// alignment as a pass through the organizational domain, takes the first of
// several DMARC records (or a record not starting with v=DMARC1), fails its
// organizational-domain lookup on upper case and unknown TLDs, ignores pct=
// and turns a DNS temporary failure into an organizational-domain fallback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace senderguard::dmarc {

// Longest DMARC record parsed, in bytes (after the resolver joined the
// character-strings of the TXT RR). A longer one is kTooLong: no DMARC
// processing, as for a record with an invalid "p".
inline constexpr size_t kMaxRecordBytes = 4096;
// RFC 9989 §4.10: a tree walk makes at most eight queries.
inline constexpr size_t kMaxWalkQueries = 8;
// Distinct DKIM-authenticated domains evaluated for one message; more are
// ignored (and the verdict says so). Bounds the tree walks a message can cost.
inline constexpr size_t kMaxIdentifierDomains = 16;

// ---------------------------------------------------------------------------
// DNS facts, supplied by the caller.

enum class TxtStatus : uint8_t {
  kRecords,   // NOERROR with TXT records (in TxtAnswer::txt)
  kNoData,    // NOERROR, no TXT record at the name
  kNxDomain,  // NXDOMAIN
  kTempFail,  // SERVFAIL, timeout, no answer: the question may be asked again
};

struct TxtAnswer {
  TxtStatus status = TxtStatus::kNoData;
  // One entry per TXT RR of the RRset, its character-strings already joined
  // in order (RFC 9989 §4.5). May hold any bytes. kRecords with no entry is
  // read as kNoData.
  std::vector<std::string> txt;
};

// Answers a TXT query for `qname` ("_dmarc.example.com": lower case, no final
// dot). Should be backed by a cache: one message can ask for the same name
// several times across walks, though each Discover/Evaluate call asks each
// name at most once.
using TxtLookup = std::function<TxtAnswer(std::string_view qname)>;

// Whether a domain exists in the DNS, for "np" (RFC 9989 §3.2.13 takes
// RFC 8020's meaning: a name is non-existent when a query for it returns
// NXDOMAIN; NOERROR with no data means it exists). An A (or any) query for
// the name answers it.
enum class Existence : uint8_t { kExists, kNonExistent, kTempFail };
using ExistenceLookup = std::function<Existence(std::string_view domain)>;

// ---------------------------------------------------------------------------
// Domain names.

// `name` in the form every function here compares: ASCII lower case, one
// final dot removed, A-labels (a non-ASCII name is converted with libidn2,
// UTS #46 non-transitional). nullopt when it is not a host name: empty, over
// 253 bytes, an empty label or one over 63 bytes, or a byte other than
// letters, digits, "-" and "_" ("_" because DKIM "d=" and SPF domains are not
// always host names).
std::optional<std::string> NormalizeDomain(std::string_view name);

// ---------------------------------------------------------------------------
// Records.

enum class Policy : uint8_t { kNone, kQuarantine, kReject };
enum class AlignMode : uint8_t { kRelaxed, kStrict };
// "psd" (RFC 9989 §4.7): u is the default.
enum class Psd : uint8_t { kUnspecified, kYes, kNo };

// True when `txt` starts with the version tag RFC 9989 §4.8 requires:
// "v" *WSP "=" *WSP "DMARC1" followed by the end or *WSP ";". The "v" is
// case-insensitive, "DMARC1" case-sensitive (the ABNF's %s"DMARC1"); nothing
// may precede it.
bool IsDmarcRecord(std::string_view txt);

// The record of one RRset (RFC 9989 §4.10 steps 2 and 6).
enum class SelectOutcome : uint8_t {
  kOne,       // exactly one TXT string is a DMARC record
  kNone,      // none is (other TXT strings are discarded)
  kMultiple,  // two or more are: all are discarded, as if there were none
};
struct Selection {
  SelectOutcome outcome = SelectOutcome::kNone;
  std::string record;        // the record when kOne
  size_t dmarc_records = 0;  // TXT strings that are DMARC records
  size_t other_records = 0;  // TXT strings that are not
};
Selection SelectRecord(const std::vector<std::string>& txt);

// A parsed record, as RFC 9989 reads it. Defaults are the RFC's.
struct Record {
  Policy p = Policy::kNone;
  bool p_present = false;          // false: no "p" tag, read as p=none (§4.7)
  std::optional<Policy> sp;        // absent: p applies to subdomains
  std::optional<Policy> np;        // absent: sp, else p, applies
  AlignMode adkim = AlignMode::kRelaxed;
  AlignMode aspf = AlignMode::kRelaxed;
  bool testing = false;            // t=y, or pct=0 in a record without "t"
  bool testing_from_pct = false;   // testing came from a leftover pct=0
  Psd psd = Psd::kUnspecified;
  // An invalid p, sp or np in a record with a valid rua URI: read as if the
  // record said p=none (RFC 9989 §4.10.1); sp and np are then absent.
  bool forced_none = false;
  // Syntactically valid rua/ruf URIs, in order, the obsolete "!size" suffix
  // removed. Invalid ones are left out (and noted).
  std::vector<std::string> rua;
  std::vector<std::string> ruf;
  // For the log: tags ignored, values refused, and where libopendmarc reads
  // the record differently. At most a dozen, printable ASCII.
  std::vector<std::string> notes;
};

enum class RecordError : uint8_t {
  kNone,
  kNotDmarc,       // does not start with v=DMARC1 (IsDmarcRecord is false)
  kTooLong,        // over kMaxRecordBytes
  kInvalidPolicy,  // invalid p, sp or np and no valid rua: RFC 9989 §4.10.1
                   // says the receiver "applies no DMARC processing"
};

struct ParsedRecord {
  RecordError error = RecordError::kNone;
  // Filled for kNone and, as far as the tags go, for kInvalidPolicy.
  Record record;
  // Why, when error != kNone.
  std::string reason;
};

// Parses one DMARC record (RFC 9989 §4.7, §4.8). Tag names and values are
// case-insensitive except "DMARC1"; white space around "=" and ";" is
// allowed; unknown tags are ignored; a tag whose value breaks its syntax is
// ignored in favour of the default (§4.8 "Syntax errors in the remainder of
// the record MUST be discarded in favor of default values (if any) or
// ignored outright"), except p, sp and np, which follow §4.10.1 (kInvalidPolicy
// or forced_none). A repeated tag keeps its first value. pct, rf and ri are
// historic (§9.3, Appendix C.5.2) and ignored, except that pct=0 in a record
// without "t" is read as t=y (Appendix A.6: t=y/n are "analogous" to pct
// 0/100).
//
// The record is also handed to libopendmarc (opendmarc_policy_store_dmarc and
// the fetch accessors for p, sp, adkim, aspf, pct) when it is short enough to
// be safe there (its token buffers have an off-by-one at 512 and 256 bytes);
// where libopendmarc reads one of those tags differently, the RFC reading
// wins and a note says so (it accepts "p=rej", "adkim=strict", white space
// inside values, refuses whole records for a missing "p", a bad "adkim",
// "rf" or "ri", reads "pct=abc" as 0).
ParsedRecord ParseRecord(std::string_view text);

// ---------------------------------------------------------------------------
// The DNS Tree Walk (RFC 9989 §4.10).

// One query of a walk: "_dmarc." + domain.
struct WalkStep {
  std::string domain;
  TxtStatus dns = TxtStatus::kNoData;
  SelectOutcome selection = SelectOutcome::kNone;  // kNone unless kRecords
  Psd psd = Psd::kUnspecified;                     // of the record when kOne
};

// The names a walk starting at `domain` (normalized) queries, in order, when
// nothing stops it: the domain itself; then, when it has more than 8 labels,
// its last 7 labels, else its parent; then each parent down to the last
// label (§4.10 steps 3, 4, 7). At most kMaxWalkQueries names.
std::vector<std::string> TreeWalkTargets(std::string_view domain);

struct OrgDomain {
  // The Organizational Domain, normalized; empty when temperror or when the
  // input is not a domain name.
  std::string domain;
  // A query the answer needed failed temporarily.
  bool temperror = false;
  // The queries made (tree walk only), in order.
  std::vector<WalkStep> walk;
};

// The Organizational Domain of `domain` by the tree walk (RFC 9989 §4.10.2):
// walk from `domain`, stopping at the first record with psd=n or psd=y; of
// the names with exactly one DMARC record, from the longest: a psd=n record's
// name; else a psd=y record's name (unless it is `domain` itself) plus the
// next label of `domain`; else the name with the fewest labels; no record at
// all: `domain` itself. Stops at the first temporary failure (temperror).
OrgDomain OrgDomainByTreeWalk(std::string_view domain, const TxtLookup& lookup);

// The Organizational Domain of `domain` by the public suffix list (RFC 7489
// §3.2; libpsl with Debian's publicsuffix data, ICANN and private sections):
// the registrable domain; a name that is itself a public suffix ("com",
// "co.uk", "blogspot.com") is its own Organizational Domain. Unknown TLDs
// follow the list's implicit "*" rule. temperror is set only when no list
// could be loaded at all.
OrgDomain OrgDomainByPsl(std::string_view domain);

// ---------------------------------------------------------------------------
// Policy discovery (RFC 9989 §4.10.1).

enum class DiscoveryStatus : uint8_t {
  kPolicy,         // a record applies: see source, tag, policy, record
  kNoPolicy,       // no DMARC record: DMARC does not apply to the message
  kInvalidRecord,  // the record that applies has an invalid p/sp/np and no
                   // valid rua (or is too long): "no DMARC processing"
  kTempError,      // a query needed for the answer failed temporarily
  kInvalidDomain,  // the Author Domain is not a domain name (NormalizeDomain)
};

// Where the record that applies was published.
enum class PolicySource : uint8_t {
  kNone,
  kAuthorDomain,          // _dmarc.<author domain>: "p" applies
  kOrganizationalDomain,  // an ancestor that is the Organizational Domain
  kPublicSuffixDomain,    // a psd=y ancestor, the Organizational Domain
                          // having no record of its own
};

// The tag whose policy applies.
enum class PolicyTag : uint8_t { kNone, kP, kSp, kNp };

struct Discovery {
  DiscoveryStatus status = DiscoveryStatus::kNoPolicy;
  std::string author_domain;     // normalized (empty for kInvalidDomain)
  // kPolicy and kInvalidRecord: where the record was found.
  std::string policy_domain;
  PolicySource source = PolicySource::kNone;
  PolicyTag tag = PolicyTag::kNone;     // kPolicy only
  Policy policy = Policy::kNone;        // the policy of `tag`, before t=y
  Record record;                        // kPolicy (and kInvalidRecord, partly)
  // The Author Domain's Organizational Domain by the tree walk (the Author
  // Domain itself when the walk found no record); empty for kTempError,
  // kInvalidDomain, and when org_temperror (a query after the Author
  // Domain's own failed: its record applies, the Organizational Domain is
  // unknown).
  std::string org_domain;
  bool org_temperror = false;
  // Whether the Author Domain exists, when it was needed or could be told
  // from the walk (a _dmarc.<author> answer other than NXDOMAIN means it does).
  std::optional<Existence> author_existence;
  // Every query made, in order (at most kMaxWalkQueries).
  std::vector<WalkStep> walk;
  // One line for the log; also set for kPolicy ("p=reject at example.com, sp").
  std::string reason;
};

// Finds the DMARC record that applies to mail from `author_domain`
// (RFC 9989 §4.10.1, the walk of §4.10): the record at the Author Domain;
// else the walk's Organizational Domain's record; else, when the
// Organizational Domain came from a psd=y record, that record. From an
// ancestor, "np" applies when the Author Domain does not exist, else "sp",
// else "p". `exists` is asked at most once, only when the record that applies
// is an ancestor's with an "np" tag and the walk did not already show that the
// Author Domain exists; when it fails temporarily and np differs from what
// would apply otherwise, the result is kTempError. An empty `exists` is read
// as kExists.
Discovery Discover(std::string_view author_domain, const TxtLookup& lookup,
                   const ExistenceLookup& exists);

// ---------------------------------------------------------------------------
// Alignment (RFC 9989 §3.2.10, §4.4).

enum class Alignment : uint8_t { kAligned, kNotAligned, kTempError };

// Organizational Domain of a (normalized) domain; OrgDomainByPsl fits, and a
// lambda around OrgDomainByTreeWalk.
using OrgDomainFn = std::function<OrgDomain(std::string_view domain)>;

// Whether `identifier` (an SPF or DKIM domain) aligns with `author`:
// strict: the same name (case-insensitive, final dot ignored); relaxed: the
// same name, or the same Organizational Domain by `org`. Names that are not
// domain names never align. `org` is not called for strict mode, for equal
// names, or for names with no label in common at the end; it is called for
// `author` first and for `identifier` only when it lies under the author's
// Organizational Domain. kTempError when an Organizational Domain needed is
// temperror.
Alignment Aligned(std::string_view author, std::string_view identifier, AlignMode mode,
                  const OrgDomainFn& org);

// ---------------------------------------------------------------------------
// The verdict for one message.

// [dmarc] org_domain: how relaxed alignment finds Organizational Domains.
// kBoth: aligned only when aligned under both (a receiver using either must
// pass the message). Policy discovery is always the RFC 9989 tree walk.
enum class OrgDomainMethod : uint8_t { kTreeWalk, kPsl, kBoth };

// The authenticated identifiers of the message.
struct Identifiers {
  bool spf_pass = false;
  std::string spf_domain;                   // the MAIL FROM (or HELO) domain SPF checked
  std::vector<std::string> dkim_pass_domains;  // "d=" of each signature that verified
};

enum class Result : uint8_t { kPass, kFail, kNone, kTempError, kPermError };
enum class Disposition : uint8_t {
  kAccept,
  kQuarantine,  // the milter refuses by default (configurable)
  kReject,
  kTempFail,    // a DNS temporary failure decided nothing
};

struct Verdict {
  Result result = Result::kNone;
  Disposition disposition = Disposition::kAccept;
  std::string author_domain;
  std::string policy_domain;
  PolicySource source = PolicySource::kNone;
  PolicyTag tag = PolicyTag::kNone;
  Policy policy = Policy::kNone;            // requested by the tag
  Policy effective_policy = Policy::kNone;  // after t=y: one level down (§4.7 "t")
  bool testing = false;
  bool testing_from_pct = false;
  AlignMode adkim = AlignMode::kRelaxed;
  AlignMode aspf = AlignMode::kRelaxed;
  // The Author Domain's Organizational Domain(s); empty when not computed or
  // unknown (DNS temporary failure).
  std::string org_domain_tree_walk;
  std::string org_domain_psl;
  // Aligned under the configured method (under both, for kBoth).
  bool spf_aligned = false;
  bool dkim_aligned = false;
  std::string dkim_aligned_domain;  // first DKIM domain that aligned
  // kBoth only: the two methods gave different results for the message, or
  // different Organizational Domains for the Author Domain.
  bool methods_disagree = false;
  bool alignment_temperror = false;  // some alignment could not be decided
  size_t dns_queries = 0;            // TXT queries made by Discover and Evaluate
  std::string reason;                // one line for the log
};

// Decides DMARC pass/fail and the disposition (RFC 9989 §5.3.4 to §5.3.6):
// pass when the SPF domain (if SPF passed) or any DKIM domain aligns with the
// Author Domain, per aspf/adkim; otherwise fail, and the disposition follows
// the effective policy (reject, quarantine, or accept for none). No record,
// an invalid record or an invalid Author Domain: accept (result none or
// permerror). A DNS temporary failure in discovery, or in an alignment that
// could have made the message pass, is kTempError / kTempFail, except that a
// failing message under an effective p=none is accepted anyway. `lookup`
// serves the tree walks of identifier domains (kTreeWalk, kBoth); names the
// discovery walk already asked are not asked again.
Verdict Evaluate(const Discovery& discovery, const Identifiers& ids, OrgDomainMethod method,
                 const TxtLookup& lookup);

// Names for logs and config: "none" "quarantine" "reject"; "r" "s";
// "pass" "fail" "none" "temperror" "permerror"; "accept" "quarantine" "reject"
// "tempfail"; "none" "author" "organizational" "psd"; "none" "p" "sp" "np";
// "tree-walk" "psl" "both"; "policy" "no-policy" "invalid-record" "temperror"
// "invalid-domain"; "records" "nodata" "nxdomain" "tempfail".
std::string_view PolicyName(Policy p);
std::string_view AlignModeName(AlignMode m);
std::string_view ResultName(Result r);
std::string_view DispositionName(Disposition d);
std::string_view PolicySourceName(PolicySource s);
std::string_view PolicyTagName(PolicyTag t);
std::string_view OrgDomainMethodName(OrgDomainMethod m);
std::string_view DiscoveryStatusName(DiscoveryStatus s);
std::string_view TxtStatusName(TxtStatus s);
// Reads a config value ("tree-walk", "psl", "both"); nullopt otherwise.
std::optional<OrgDomainMethod> ParseOrgDomainMethod(std::string_view s);

}  // namespace senderguard::dmarc
