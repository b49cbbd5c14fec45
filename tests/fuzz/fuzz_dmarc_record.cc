// Fuzz target: DMARC record selection and parsing, and the tree walk over a
// fake DNS built from the input.
//
// The whole input is parsed as one record. It is also split at "\n": the
// first line is an Author Domain, the other lines are the TXT strings of an
// RRset. The fake DNS answers "_dmarc.<name>" by the label count L of <name>:
// the last input byte, two bits per L, picks records / NODATA / NXDOMAIN /
// temporary failure; records are line L (and line L+1 when the byte's top bit
// is set) of the TXT lines, so walks meet zero, one and several DMARC records.
// Checked for every input:
// 1. No crash, no read outside the input (ASan; libopendmarc is linked in
//    and gets the records it is safe for), deterministic.
// 2. ParseRecord: the error is kTooLong / kNotDmarc exactly as the length and
//    IsDmarcRecord say; reason set exactly on error; reasons and notes are
//    printable ASCII and bounded; forced_none means p=none, no sp/np, a rua;
//    kInvalidPolicy means no rua.
// 3. SelectRecord: kOne exactly when one line is a DMARC record, and that one.
// 4. Discover: at most kMaxWalkQueries queries, each "_dmarc." + a suffix of
//    the Author Domain, shorter each time, none twice; the walk it reports is
//    what was asked; the policy domain and Organizational Domain are suffixes
//    of the Author Domain; kTempError only after a temporary failure.
// 5. Evaluate: the Author Domain as SPF domain passes any policy; an
//    unrelated domain fails it, with the disposition of the effective policy.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "senderguard/auth/dmarc.h"

namespace {

using namespace senderguard::dmarc;  // NOLINT: a fuzz target

void Check(bool ok, const char* what, std::string_view detail) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_dmarc_record: invariant broken: %s [%.*s]\n", what,
               static_cast<int>(detail.size() > 2000 ? 2000 : detail.size()), detail.data());
  std::abort();
}

void CheckPrintable(std::string_view s, size_t max, const char* what) {
  Check(s.size() <= max, what, s);
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    Check(u >= 0x20 && u < 0x7f, what, s);
  }
}

bool Suffix(std::string_view sub, std::string_view parent) {
  if (sub == parent) return true;
  return sub.size() > parent.size() && sub.ends_with(parent) && sub[sub.size() - parent.size() - 1] == '.';
}

size_t Labels(std::string_view d) {
  size_t n = 1;
  for (char c : d) n += c == '.';
  return n;
}

void CheckParse(std::string_view text) {
  const ParsedRecord pr = ParseRecord(text);
  if (text.size() > kMaxRecordBytes) {
    Check(pr.error == RecordError::kTooLong, "too long", text);
  } else {
    Check((pr.error == RecordError::kNotDmarc) == !IsDmarcRecord(text), "not dmarc iff", text);
  }
  Check(pr.reason.empty() == (pr.error == RecordError::kNone), "reason iff error", pr.reason);
  CheckPrintable(pr.reason, 600, "reason");
  const Record& r = pr.record;
  Check(r.notes.size() <= 13, "note count", text);
  for (const std::string& n : r.notes) CheckPrintable(n, 600, "note");
  if (r.forced_none) {
    Check(r.p == Policy::kNone && !r.sp && !r.np && !r.rua.empty(), "forced none", text);
  }
  if (pr.error == RecordError::kInvalidPolicy) Check(r.rua.empty(), "invalid policy with rua", text);
  if (r.testing_from_pct) Check(r.testing, "pct testing", text);
  const ParsedRecord again = ParseRecord(text);
  Check(again.error == pr.error && again.reason == pr.reason && again.record.notes == r.notes &&
            again.record.p == r.p && again.record.psd == r.psd,
        "deterministic parse", text);
}

struct FakeDns {
  uint8_t script = 0;
  std::vector<std::string> lines;
  std::vector<std::string> asked;
  bool tempfailed = false;

  TxtAnswer Answer(std::string_view qname) {
    asked.emplace_back(qname);
    const size_t l = Labels(qname) - 1;  // without "_dmarc"
    const int kind = (script >> (2 * (l % 4))) & 3;
    TxtAnswer a;
    switch (kind) {
      case 0:
        a.status = TxtStatus::kRecords;
        if (!lines.empty()) {
          a.txt.push_back(lines[l % lines.size()]);
          if (script & 0x80) a.txt.push_back(lines[(l + 1) % lines.size()]);
        }
        break;
      case 1: a.status = TxtStatus::kNoData; break;
      case 2: a.status = TxtStatus::kNxDomain; break;
      default:
        a.status = TxtStatus::kTempFail;
        tempfailed = true;
        break;
    }
    return a;
  }
};

Disposition DispositionOf(Policy p) {
  switch (p) {
    case Policy::kReject: return Disposition::kReject;
    case Policy::kQuarantine: return Disposition::kQuarantine;
    case Policy::kNone: return Disposition::kAccept;
  }
  return Disposition::kAccept;
}

void CheckWalk(const std::string& domain, const std::vector<std::string>& lines, uint8_t script) {
  FakeDns dns{script, lines, {}, false};
  const TxtLookup lookup = [&](std::string_view q) { return dns.Answer(q); };
  bool exists_temp = false;
  const ExistenceLookup exists = [&](std::string_view) {
    if (script & 0x40) {
      exists_temp = true;
      return Existence::kTempFail;
    }
    return (script & 0x20) ? Existence::kNonExistent : Existence::kExists;
  };
  const Discovery d = Discover(domain, lookup, exists);
  const std::optional<std::string> norm = NormalizeDomain(domain);
  Check((d.status == DiscoveryStatus::kInvalidDomain) == !norm, "invalid domain iff", domain);
  CheckPrintable(d.reason, 1200, "discovery reason");
  if (!norm) {
    Check(dns.asked.empty(), "queries for an invalid domain", domain);
    return;
  }
  Check(d.author_domain == *norm, "author normalized", domain);
  Check(dns.asked.size() <= kMaxWalkQueries, "too many queries", domain);
  Check(d.walk.size() == dns.asked.size(), "walk is what was asked", domain);
  std::set<std::string> seen;
  size_t prev = 1000;
  for (size_t i = 0; i < dns.asked.size(); ++i) {
    const std::string& q = dns.asked[i];
    Check(q.starts_with("_dmarc."), "qname prefix", q);
    const std::string name = q.substr(7);
    Check(Suffix(*norm, name), "qname is a suffix", q);
    Check(Labels(name) < prev, "qnames get shorter", q);
    prev = Labels(name);
    Check(seen.insert(q).second, "qname asked twice", q);
    Check(d.walk[i].domain == name, "walk domain", q);
  }
  if (!dns.asked.empty()) Check(dns.asked[0] == "_dmarc." + *norm, "first query", domain);
  if (d.status == DiscoveryStatus::kTempError) Check(dns.tempfailed || exists_temp, "temperror without cause", domain);
  if (!d.org_domain.empty()) Check(Suffix(*norm, d.org_domain), "org is a suffix", d.org_domain);
  if (d.status == DiscoveryStatus::kPolicy || d.status == DiscoveryStatus::kInvalidRecord) {
    Check(Suffix(*norm, d.policy_domain), "policy domain is a suffix", d.policy_domain);
    Check((d.source == PolicySource::kAuthorDomain) == (d.policy_domain == *norm), "author source", domain);
    bool found = false;
    for (const WalkStep& s : d.walk) found |= s.domain == d.policy_domain && s.selection == SelectOutcome::kOne;
    Check(found, "policy from a walked record", d.policy_domain);
  }
  if (d.status == DiscoveryStatus::kPolicy) {
    if (d.source == PolicySource::kAuthorDomain) Check(d.tag == PolicyTag::kP, "author record: p", domain);
    if (d.tag == PolicyTag::kNp) Check(d.record.np.has_value(), "np tag without np", domain);
    if (d.tag == PolicyTag::kSp) Check(d.record.sp.has_value(), "sp tag without sp", domain);
    Identifiers self{true, *norm, {}};
    const Verdict pass = Evaluate(d, self, OrgDomainMethod::kBoth, lookup);
    Check(pass.result == Result::kPass && pass.disposition == Disposition::kAccept, "self passes", domain);
    if (!Suffix(*norm, "zz--fuzz")) {
      Identifiers other{true, "unrelated.zz--fuzz", {"x.zz--fuzz"}};
      const Verdict fail = Evaluate(d, other, OrgDomainMethod::kBoth, lookup);
      Check(fail.result == Result::kFail, "unrelated fails", domain);
      Check(fail.disposition == DispositionOf(fail.effective_policy), "disposition", domain);
      CheckPrintable(fail.reason, 2000, "verdict reason");
    }
  }
  // Arbitrary identifiers: the lines as DKIM domains.
  Identifiers any{!lines.empty(), lines.empty() ? std::string() : lines[0], lines};
  const Verdict v = Evaluate(d, any, OrgDomainMethod::kBoth, lookup);
  CheckPrintable(v.reason, 4000, "verdict reason");
  const OrgDomain psl = OrgDomainByPsl(*norm);
  Check(Suffix(*norm, psl.domain), "psl org is a suffix", psl.domain);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  CheckParse(in);

  std::vector<std::string> lines;
  size_t start = 0;
  while (lines.size() < 64) {
    const size_t nl = in.find('\n', start);
    lines.emplace_back(in.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  const std::string domain = lines.front();
  std::vector<std::string> txt(lines.begin() + 1, lines.end());

  const Selection s = SelectRecord(txt);
  size_t dmarc = 0;
  std::string one;
  for (const std::string& t : txt) {
    if (IsDmarcRecord(t)) {
      ++dmarc;
      one = t;
    }
  }
  Check(s.dmarc_records == dmarc && s.other_records == txt.size() - dmarc, "selection counts", in);
  Check((s.outcome == SelectOutcome::kOne) == (dmarc == 1), "selection one", in);
  if (dmarc == 1) Check(s.record == one, "selected record", in);
  for (const std::string& t : txt) CheckParse(t);

  CheckWalk(domain, txt, size > 0 ? data[size - 1] : 0);
  return 0;
}
