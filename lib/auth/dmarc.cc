// DMARC (RFC 9989): see dmarc.h. Section numbers are those of
// draft-ietf-dmarc-dmarcbis-41, the text that became RFC 9989. Over 600
// lines by design: one RFC's record parser, tree walk and verdict, which
// share its definitions and read best together.
#include "senderguard/auth/dmarc.h"

#include <idn2.h>
#include <libpsl.h>
#include <opendmarc/dmarc.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "senderguard/base/text.h"

namespace senderguard::dmarc {
namespace {

using sv = std::string_view;

constexpr size_t kMaxNotes = 12;
constexpr size_t kMaxQuoted = 80;  // bytes of escaped input in a note or reason, "..." included
constexpr size_t kMaxDomainInput = 1024;

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

void AddNote(Record* r, std::string note) {
  if (r->notes.size() < kMaxNotes) {
    r->notes.push_back(std::move(note));
  } else if (r->notes.size() == kMaxNotes) {
    r->notes.emplace_back("further notes left out");
  }
}

std::vector<sv> SplitLabels(sv domain) {
  std::vector<sv> labels;
  size_t start = 0;
  while (true) {
    const size_t dot = domain.find('.', start);
    if (dot == sv::npos) {
      labels.push_back(domain.substr(start));
      break;
    }
    labels.push_back(domain.substr(start, dot - start));
    start = dot + 1;
  }
  return labels;
}

size_t LabelCount(sv domain) { return static_cast<size_t>(std::count(domain.begin(), domain.end(), '.')) + 1; }

// The last `n` labels of `domain`. REQUIRES: 1 <= n <= LabelCount(domain).
std::string LastLabels(sv domain, size_t n) {
  size_t pos = domain.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t dot = pos == 0 ? sv::npos : domain.rfind('.', pos - 1);
    if (dot == sv::npos) return std::string(domain);
    if (i + 1 == n) return std::string(domain.substr(dot + 1));
    pos = dot;
  }
  return std::string(domain);
}

// `sub` equals `parent` or lies under it (both normalized).
bool UnderOrEqual(sv sub, sv parent) {
  if (sub == parent) return true;
  return sub.size() > parent.size() && sub.ends_with(parent) &&
         sub[sub.size() - parent.size() - 1] == '.';
}

std::optional<Policy> ParsePolicyValue(sv v) {
  if (EqualsIgnoreCase(v, "none")) return Policy::kNone;
  if (EqualsIgnoreCase(v, "quarantine")) return Policy::kQuarantine;
  if (EqualsIgnoreCase(v, "reject")) return Policy::kReject;
  return std::nullopt;
}

// dmarc-value = %x20-3A / %x3C-7E (';' cannot occur: it split the tags).
bool ValidValueBytes(sv v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return false;
  }
  return true;
}

bool IsUriChar(char c) {
  // RFC 3986: unreserved / reserved / "%" (checked apart). "," and "!" must
  // be percent-encoded in a DMARC URI (RFC 9989 §4.8).
  if (IsAlpha(c) || IsDigit(c)) return true;
  switch (c) {
    case '-': case '.': case '_': case '~':                       // unreserved
    case ':': case '/': case '?': case '#': case '[': case ']': case '@':  // gen-delims
    case '$': case '&': case '\'': case '(': case ')': case '*': case '+':
    case ';': case '=':                                           // sub-delims
      return true;
    default:
      return false;
  }
}

bool IsHex(char c) { return IsDigit(c) || (AsciiLower(c) >= 'a' && AsciiLower(c) <= 'f'); }

// dmarc-uri (RFC 3986 URI): scheme ":" then URI characters and %XX escapes.
bool ValidUri(sv u) {
  const size_t colon = u.find(':');
  if (colon == sv::npos || colon == 0 || !IsAlpha(u[0])) return false;
  for (size_t i = 1; i < colon; ++i) {
    const char c = u[i];
    if (!IsAlpha(c) && !IsDigit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  for (size_t i = colon + 1; i < u.size(); ++i) {
    if (u[i] == '%') {
      if (i + 2 >= u.size() || !IsHex(u[i + 1]) || !IsHex(u[i + 2])) return false;
      i += 2;
      continue;
    }
    if (!IsUriChar(u[i])) return false;
  }
  return true;
}

// obs-dmarc-report-size = "!" 1*DIGIT [ "k" / "m" / "g" / "t" ]: removed
// ("reporters should ignore" it, §4.8).
sv StripObsSize(sv u) {
  const size_t bang = u.rfind('!');
  if (bang == sv::npos) return u;
  sv size = u.substr(bang + 1);
  if (!size.empty()) {
    const char last = AsciiLower(size.back());
    if (last == 'k' || last == 'm' || last == 'g' || last == 't') size.remove_suffix(1);
  }
  if (size.empty() || !std::all_of(size.begin(), size.end(), IsDigit)) return u;
  return u.substr(0, bang);
}

// dmarc-urilist: URIs separated by *WSP "," *WSP. Valid ones go to `out`.
void ParseUriList(sv tag, sv value, std::vector<std::string>* out, Record* r) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == sv::npos) comma = value.size();
    const sv item = TrimWsp(value.substr(start, comma - start));
    const sv uri = StripObsSize(item);
    if (ValidUri(uri)) {
      out->emplace_back(uri);
    } else {
      AddNote(r, std::string(tag) + ": invalid URI \"" + Printable(item, kMaxQuoted) + "\" ignored");
    }
    start = comma + 1;
  }
}

Policy Downgrade(Policy p) {
  switch (p) {
    case Policy::kReject: return Policy::kQuarantine;
    case Policy::kQuarantine: return Policy::kNone;
    case Policy::kNone: return Policy::kNone;
  }
  return Policy::kNone;
}

// ---------------------------------------------------------------------------
// libopendmarc cross-check.

void InitLibopendmarcOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Not thread-safe, hence once per process. No TLD file: its
    // organizational-domain code is not used.
    static OPENDMARC_LIB_T lib{};
    lib.tld_type = OPENDMARC_TLD_TYPE_NONE;
    lib.tld_source_file[0] = '\0';
    lib.nscount = 0;
    (void)opendmarc_policy_library_init(&lib);
  });
}

// libopendmarc 1.4.2's parser copies each tag name and value into 512-byte
// buffers, rua/ruf/fo elements into 256-byte ones and rf elements into 32
// bytes, through opendmarc_util_cleanup, which accepts a string exactly as long
// as the buffer and then leaves it unterminated (an overread). Records with
// a ';'-separated part that long, or a NUL byte, are not handed to it.
bool SafeForLibopendmarc(sv text) {
  if (text.find('\0') != sv::npos || text.size() >= 4096) return false;
  size_t start = 0;
  while (start <= text.size()) {
    size_t semi = text.find(';', start);
    if (semi == sv::npos) semi = text.size();
    const sv part = text.substr(start, semi - start);
    if (part.size() >= 255) return false;
    // Its tag name, as libopendmarc sees it: everything before "=", with all
    // ASCII white space removed.
    const size_t eq = part.find('=');
    std::string name;
    for (char c : part.substr(0, eq == sv::npos ? part.size() : eq)) {
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') name.push_back(AsciiLower(c));
    }
    if (name == "rf" && part.size() >= 31) return false;
    start = semi + 1;
  }
  return true;
}

std::string_view LibPolicyName(int p) {
  switch (p) {
    case DMARC_RECORD_P_NONE: return "none";
    case DMARC_RECORD_P_QUARANTINE: return "quarantine";
    case DMARC_RECORD_P_REJECT: return "reject";
    default: return "absent";
  }
}

int LibPolicyOf(Policy p) {
  switch (p) {
    case Policy::kNone: return DMARC_RECORD_P_NONE;
    case Policy::kQuarantine: return DMARC_RECORD_P_QUARANTINE;
    case Policy::kReject: return DMARC_RECORD_P_REJECT;
  }
  return DMARC_RECORD_P_UNSPECIFIED;
}

int LibAlignOf(AlignMode m) { return m == AlignMode::kStrict ? DMARC_RECORD_A_STRICT : DMARC_RECORD_A_RELAXED; }

// Hands `text` to libopendmarc and notes every tag both read differently.
// Our reading (RFC 9989) is kept: `out` is only annotated.
void CrossCheck(sv text, bool pct_zero, ParsedRecord* out) {
  Record* r = &out->record;
  if (!SafeForLibopendmarc(text)) {
    AddNote(r, "libopendmarc not consulted: a tag longer than its buffers");
    return;
  }
  InitLibopendmarcOnce();
  static char kAnyIp[] = "0.0.0.0";
  static char kDomain[] = "dmarc.invalid";
  DMARC_POLICY_T* ctx = opendmarc_policy_connect_init(reinterpret_cast<u_char*>(kAnyIp), 0);
  if (ctx == nullptr) return;
  std::string copy(text);
  const OPENDMARC_STATUS_T st = opendmarc_policy_store_dmarc(
      ctx, reinterpret_cast<u_char*>(copy.data()), reinterpret_cast<u_char*>(kDomain), nullptr);
  const bool we_read = out->error == RecordError::kNone;
  if (st != DMARC_PARSE_OKAY) {
    if (we_read) {
      AddNote(r, std::string("libopendmarc refuses the record (") +
                     opendmarc_policy_status_to_str(st) + "); RFC 9989 reading used");
    }
  } else if (!we_read) {
    AddNote(r, "libopendmarc accepts the record RFC 9989 refuses");
  } else {
    int p = 0, sp = 0, adkim = 0, aspf = 0, pct = 0;
    (void)opendmarc_policy_fetch_p(ctx, &p);
    (void)opendmarc_policy_fetch_sp(ctx, &sp);
    (void)opendmarc_policy_fetch_adkim(ctx, &adkim);
    (void)opendmarc_policy_fetch_aspf(ctx, &aspf);
    (void)opendmarc_policy_fetch_pct(ctx, &pct);
    const int our_p = LibPolicyOf(r->p);
    const int our_sp = r->sp ? LibPolicyOf(*r->sp) : DMARC_RECORD_P_UNSPECIFIED;
    if (!r->forced_none && p != our_p) {
      AddNote(r, std::string("libopendmarc reads p as ") + std::string(LibPolicyName(p)) +
                     ", RFC 9989 as " + std::string(PolicyName(r->p)));
    }
    if (!r->forced_none && sp != our_sp) {
      AddNote(r, std::string("libopendmarc reads sp as ") + std::string(LibPolicyName(sp)) +
                     ", RFC 9989 as " + (r->sp ? std::string(PolicyName(*r->sp)) : "absent"));
    }
    if (adkim != LibAlignOf(r->adkim)) {
      AddNote(r, std::string("libopendmarc reads adkim differently; RFC 9989: ") +
                     std::string(AlignModeName(r->adkim)));
    }
    if (aspf != LibAlignOf(r->aspf)) {
      AddNote(r, std::string("libopendmarc reads aspf differently; RFC 9989: ") +
                     std::string(AlignModeName(r->aspf)));
    }
    if ((pct == 0) != pct_zero) {
      AddNote(r, "libopendmarc reads pct as " + std::to_string(pct) + ", RFC 9989 ignores that value");
    }
  }
  (void)opendmarc_policy_connect_shutdown(ctx);
}

// ---------------------------------------------------------------------------
// The walk.

ParsedRecord Parse(sv text, bool cross_check);

struct CachedStep {
  WalkStep step;
  std::string record;  // the selected record, when step.selection == kOne
};

// Each "_dmarc.<domain>" is asked at most once per cache.
class StepCache {
 public:
  explicit StepCache(const TxtLookup& lookup) : lookup_(lookup) {}

  void Seed(const WalkStep& s) { m_.emplace(s.domain, CachedStep{s, std::string()}); }

  const CachedStep& Get(const std::string& domain) {
    auto it = m_.find(domain);
    if (it != m_.end()) return it->second;
    CachedStep c;
    c.step.domain = domain;
    TxtAnswer a;
    if (lookup_) {
      a = lookup_("_dmarc." + domain);
    } else {
      a.status = TxtStatus::kTempFail;
    }
    ++queries_;
    c.step.dns = a.status;
    if (a.status == TxtStatus::kRecords && a.txt.empty()) c.step.dns = TxtStatus::kNoData;
    if (c.step.dns == TxtStatus::kRecords) {
      Selection s = SelectRecord(a.txt);
      c.step.selection = s.outcome;
      if (s.outcome == SelectOutcome::kOne) {
        c.record = std::move(s.record);
        // Only psd matters to the walk.
        c.step.psd = Parse(c.record, /*cross_check=*/false).record.psd;
      }
    }
    return m_.emplace(domain, std::move(c)).first->second;
  }

  size_t queries() const { return queries_; }

 private:
  const TxtLookup& lookup_;
  std::map<std::string, CachedStep> m_;
  size_t queries_ = 0;
};

struct WalkResult {
  std::vector<WalkStep> steps;
  std::vector<size_t> found;  // indexes of steps with exactly one record
  bool temperror = false;
  std::string org;            // empty when temperror
};

// RFC 9989 §4.10.2's selection, from the longest name to the shortest. The
// walk stops at the first psd=n or psd=y record, so only the last record
// found can carry either.
std::string SelectOrg(sv start, const WalkResult& w) {
  if (w.found.empty()) return std::string(start);  // "the initial target domain"
  const WalkStep& last = w.steps[w.found.back()];
  if (last.psd == Psd::kNo) return last.domain;
  if (last.psd == Psd::kYes && last.domain != start) {
    return LastLabels(start, LabelCount(last.domain) + 1);
  }
  return last.domain;  // the fewest labels
}

// REQUIRES: `start` normalized.
WalkResult Walk(const std::string& start, StepCache& cache) {
  WalkResult w;
  for (const std::string& target : TreeWalkTargets(start)) {
    const CachedStep& c = cache.Get(target);
    w.steps.push_back(c.step);
    if (c.step.dns == TxtStatus::kTempFail) {
      w.temperror = true;
      return w;
    }
    if (c.step.selection == SelectOutcome::kOne) {
      w.found.push_back(w.steps.size() - 1);
      if (c.step.psd != Psd::kUnspecified) break;  // §4.10 steps 2 and 6
    }
  }
  w.org = SelectOrg(start, w);
  return w;
}

std::string MultipleNote(const std::vector<WalkStep>& steps) {
  std::string out;
  for (const WalkStep& s : steps) {
    if (s.selection == SelectOutcome::kMultiple) {
      out += (out.empty() ? "" : ", ") + std::string("several DMARC records at _dmarc.") + s.domain +
             " discarded";
    }
  }
  return out;
}

const char* SourceWord(PolicySource s) {
  switch (s) {
    case PolicySource::kAuthorDomain: return "author domain";
    case PolicySource::kOrganizationalDomain: return "organizational domain";
    case PolicySource::kPublicSuffixDomain: return "public suffix domain";
    case PolicySource::kNone: return "none";
  }
  return "none";
}

// Alignment of the message under one way of finding Organizational Domains.
struct MethodOutcome {
  Alignment spf = Alignment::kNotAligned;
  Alignment dkim = Alignment::kNotAligned;
  std::string dkim_domain;
  Alignment message = Alignment::kNotAligned;
};

Alignment AnyOf(Alignment a, Alignment b) {
  if (a == Alignment::kAligned || b == Alignment::kAligned) return Alignment::kAligned;
  if (a == Alignment::kTempError || b == Alignment::kTempError) return Alignment::kTempError;
  return Alignment::kNotAligned;
}

Alignment AllOf(Alignment a, Alignment b) {
  if (a == Alignment::kNotAligned || b == Alignment::kNotAligned) return Alignment::kNotAligned;
  if (a == Alignment::kTempError || b == Alignment::kTempError) return Alignment::kTempError;
  return Alignment::kAligned;
}

const psl_ctx_t* Psl() {
  static const psl_ctx_t* ctx = [] {
    // The newest of the built-in list and Debian's publicsuffix files.
    const psl_ctx_t* c = psl_latest(nullptr);
    return c != nullptr ? c : psl_builtin();
  }();
  return ctx;
}

}  // namespace

// ---------------------------------------------------------------------------

std::optional<std::string> NormalizeDomain(sv name) {
  if (name.empty() || name.size() > kMaxDomainInput || name.find('\0') != sv::npos) return std::nullopt;
  if (name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return std::nullopt;
  std::string out;
  bool first = true;
  for (sv label : SplitLabels(name)) {
    if (!first) out.push_back('.');
    first = false;
    const bool ascii = std::all_of(label.begin(), label.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) {
      out += AsciiLower(label);
      continue;
    }
    const std::string in(label);
    char* res = nullptr;
    const int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(in.c_str()),
                                  reinterpret_cast<uint8_t**>(&res),
                                  IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK || res == nullptr) {
      idn2_free(res);
      return std::nullopt;
    }
    out += AsciiLower(res);
    idn2_free(res);
  }
  if (out.empty() || out.size() > 253) return std::nullopt;
  for (sv label : SplitLabels(out)) {
    if (label.empty() || label.size() > 63) return std::nullopt;
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || IsDigit(c) || c == '-' || c == '_')) return std::nullopt;
    }
  }
  return out;
}

bool IsDmarcRecord(sv txt) {
  size_t i = 0;
  if (txt.empty() || AsciiLower(txt[0]) != 'v') return false;
  i = 1;
  while (i < txt.size() && IsWsp(txt[i])) ++i;
  if (i >= txt.size() || txt[i] != '=') return false;
  ++i;
  while (i < txt.size() && IsWsp(txt[i])) ++i;
  if (txt.substr(i, 6) != "DMARC1") return false;
  i += 6;
  while (i < txt.size() && IsWsp(txt[i])) ++i;
  return i == txt.size() || txt[i] == ';';
}

Selection SelectRecord(const std::vector<std::string>& txt) {
  Selection s;
  for (const std::string& t : txt) {
    if (IsDmarcRecord(t)) {
      if (++s.dmarc_records == 1) s.record = t;
    } else {
      ++s.other_records;
    }
  }
  if (s.dmarc_records == 1) {
    s.outcome = SelectOutcome::kOne;
  } else {
    s.outcome = s.dmarc_records == 0 ? SelectOutcome::kNone : SelectOutcome::kMultiple;
    s.record.clear();
  }
  return s;
}

namespace {

ParsedRecord Parse(sv text, bool cross_check) {
  ParsedRecord out;
  Record& r = out.record;
  if (text.size() > kMaxRecordBytes) {
    out.error = RecordError::kTooLong;
    out.reason = "record longer than " + std::to_string(kMaxRecordBytes) + " bytes";
    return out;
  }
  if (!IsDmarcRecord(text)) {
    out.error = RecordError::kNotDmarc;
    out.reason = "does not start with v=DMARC1: \"" + Printable(text.substr(0, 24), kMaxQuoted) + "\"";
    return out;
  }

  std::set<std::string> seen{"v"};
  std::vector<std::string> invalid_policy;  // "p=bogus", ...
  bool t_present = false;
  bool t_value = false;
  bool pct_zero = false;

  size_t start = text.find(';');  // the version tag is everything before it
  while (start != sv::npos && start < text.size()) {
    size_t semi = text.find(';', start + 1);
    const sv part = TrimWsp(text.substr(start + 1, (semi == sv::npos ? text.size() : semi) - start - 1));
    start = semi;
    if (part.empty()) continue;  // ";;" or a final ";"
    const size_t eq = part.find('=');
    if (eq == sv::npos) {
      AddNote(&r, "\"" + Printable(part, kMaxQuoted) + "\" ignored: no \"=\"");
      continue;
    }
    const sv name = TrimWsp(part.substr(0, eq));
    const sv value = TrimWsp(part.substr(eq + 1));
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsAlpha)) {
      AddNote(&r, "\"" + Printable(part, kMaxQuoted) + "\" ignored: not a tag");
      continue;
    }
    const std::string tag = AsciiLower(name);
    if (!seen.insert(tag).second) {
      AddNote(&r, "repeated " + Printable(tag, kMaxQuoted) + "= ignored");
      continue;
    }
    const bool value_ok = !value.empty() && ValidValueBytes(value);
    const std::string shown = Printable(tag, kMaxQuoted) + "=" + Printable(value, kMaxQuoted);

    if (tag == "p" || tag == "sp" || tag == "np") {
      const std::optional<Policy> pol = value_ok ? ParsePolicyValue(value) : std::nullopt;
      if (!pol) {
        invalid_policy.push_back(shown);
      } else if (tag == "p") {
        r.p = *pol;
        r.p_present = true;
      } else if (tag == "sp") {
        r.sp = *pol;
      } else {
        r.np = *pol;
      }
    } else if (tag == "adkim" || tag == "aspf") {
      AlignMode* m = tag == "adkim" ? &r.adkim : &r.aspf;
      if (value_ok && EqualsIgnoreCase(value, "s")) {
        *m = AlignMode::kStrict;
      } else if (value_ok && EqualsIgnoreCase(value, "r")) {
        *m = AlignMode::kRelaxed;
      } else {
        AddNote(&r, shown + " invalid: r used");
      }
    } else if (tag == "t") {
      if (value_ok && (EqualsIgnoreCase(value, "y") || EqualsIgnoreCase(value, "n"))) {
        t_present = true;
        t_value = EqualsIgnoreCase(value, "y");
      } else {
        AddNote(&r, shown + " invalid: n used");
      }
    } else if (tag == "psd") {
      if (value_ok && EqualsIgnoreCase(value, "y")) {
        r.psd = Psd::kYes;
      } else if (value_ok && EqualsIgnoreCase(value, "n")) {
        r.psd = Psd::kNo;
      } else if (value_ok && EqualsIgnoreCase(value, "u")) {
        r.psd = Psd::kUnspecified;
      } else {
        AddNote(&r, shown + " invalid: u used");
      }
    } else if (tag == "rua" || tag == "ruf") {
      if (value_ok) {
        ParseUriList(tag, value, tag == "rua" ? &r.rua : &r.ruf, &r);
      } else {
        AddNote(&r, shown + " invalid: ignored");
      }
    } else if (tag == "pct") {
      // Historic (RFC 9989 §9.3). Only pct=0 still means something: t=y
      // (Appendix A.6).
      if (value_ok && std::all_of(value.begin(), value.end(), IsDigit) &&
          std::all_of(value.begin(), value.end(), [](char c) { return c == '0'; })) {
        pct_zero = true;
      } else {
        AddNote(&r, shown + " ignored (historic)");
      }
    } else if (tag == "rf" || tag == "ri") {
      AddNote(&r, tag + "= ignored (historic)");
    } else if (tag == "fo") {
      // Failure-report options: senderguard sends no failure reports.
    } else {
      AddNote(&r, "unknown tag " + Printable(tag, kMaxQuoted) + "= ignored");
    }
  }

  if (t_present) {
    r.testing = t_value;
  } else if (pct_zero) {
    r.testing = true;
    r.testing_from_pct = true;
    AddNote(&r, "pct=0 read as t=y");
  }
  if (!r.p_present && invalid_policy.empty()) AddNote(&r, "no p tag: p=none");

  if (!invalid_policy.empty()) {
    std::string which;
    for (const std::string& s : invalid_policy) which += (which.empty() ? "" : ", ") + s;
    if (!r.rua.empty()) {
      // RFC 9989 §4.10.1: act as if the record said p=none.
      r.forced_none = true;
      r.p = Policy::kNone;
      r.sp.reset();
      r.np.reset();
      AddNote(&r, "invalid " + which + " with a valid rua: read as p=none");
    } else {
      out.error = RecordError::kInvalidPolicy;
      out.reason = "invalid " + which + " and no valid rua";
    }
  }
  if (cross_check) CrossCheck(text, pct_zero, &out);
  return out;
}

}  // namespace

ParsedRecord ParseRecord(sv text) { return Parse(text, /*cross_check=*/true); }

std::vector<std::string> TreeWalkTargets(sv domain) {
  std::vector<std::string> out;
  if (domain.empty()) return out;
  out.emplace_back(domain);
  const size_t x = LabelCount(domain);
  if (x <= 1) return out;
  // §4.10 step 4: "If x < 8, remove the left-most (highest-numbered) label
  // from the subject domain. If x >= 8, remove the left-most labels from the
  // subject domain until 7 labels remain." Then one label at a time (step 7).
  const size_t next = x >= 8 ? 7 : x - 1;
  for (size_t n = next; n >= 1; --n) out.push_back(LastLabels(domain, n));
  return out;
}

OrgDomain OrgDomainByTreeWalk(sv domain, const TxtLookup& lookup) {
  OrgDomain out;
  const std::optional<std::string> d = NormalizeDomain(domain);
  if (!d) return out;
  StepCache cache(lookup);
  WalkResult w = Walk(*d, cache);
  out.walk = std::move(w.steps);
  out.temperror = w.temperror;
  out.domain = std::move(w.org);
  return out;
}

OrgDomain OrgDomainByPsl(sv domain) {
  OrgDomain out;
  const std::optional<std::string> d = NormalizeDomain(domain);
  if (!d) return out;
  const psl_ctx_t* psl = Psl();
  if (psl == nullptr) {
    out.temperror = true;
    return out;
  }
  const char* reg = psl_registrable_domain(psl, d->c_str());
  // NULL: the name is a public suffix itself (or libpsl refused it): its own
  // Organizational Domain.
  out.domain = reg != nullptr ? std::string(reg) : *d;
  return out;
}

Discovery Discover(sv author_domain, const TxtLookup& lookup, const ExistenceLookup& exists) {
  Discovery d;
  const std::optional<std::string> author = NormalizeDomain(author_domain);
  if (!author) {
    d.status = DiscoveryStatus::kInvalidDomain;
    d.reason = "author domain is not a domain name: \"" + Printable(author_domain, kMaxQuoted) + "\"";
    return d;
  }
  d.author_domain = *author;
  StepCache cache(lookup);
  WalkResult w = Walk(*author, cache);
  d.walk = w.steps;
  const WalkStep& first = w.steps.front();
  if (first.dns == TxtStatus::kRecords || first.dns == TxtStatus::kNoData) {
    // _dmarc.<author> exists, so <author> does (RFC 8020).
    d.author_existence = Existence::kExists;
  }
  if (first.dns == TxtStatus::kTempFail) {
    d.status = DiscoveryStatus::kTempError;
    d.reason = "DNS temporary failure at _dmarc." + *author;
    return d;
  }

  std::string applied;  // the name whose record applies
  if (first.selection == SelectOutcome::kOne) {
    applied = *author;
    d.source = PolicySource::kAuthorDomain;
    // The policy is known; the walk went on for the Organizational Domain.
    if (w.temperror) {
      d.org_temperror = true;
    } else {
      d.org_domain = w.org;
    }
  } else {
    if (w.temperror) {
      d.status = DiscoveryStatus::kTempError;
      d.reason = "DNS temporary failure at _dmarc." + w.steps.back().domain;
      return d;
    }
    d.org_domain = w.org;
    if (w.found.empty()) {
      d.status = DiscoveryStatus::kNoPolicy;
      const std::string multiple = MultipleNote(w.steps);
      d.reason = "no DMARC record (" + std::to_string(w.steps.size()) + " queries" +
                 (multiple.empty() ? "" : "; " + multiple) + ")";
      return d;
    }
    const bool org_has_record =
        std::any_of(w.found.begin(), w.found.end(), [&](size_t i) { return w.steps[i].domain == w.org; });
    if (org_has_record) {
      applied = w.org;
      d.source = PolicySource::kOrganizationalDomain;
    } else {
      // The Organizational Domain is one label below a psd=y record and has
      // no record of its own: the PSD's record applies.
      applied = w.steps[w.found.back()].domain;
      d.source = PolicySource::kPublicSuffixDomain;
    }
  }
  d.policy_domain = applied;
  ParsedRecord pr = ParseRecord(cache.Get(applied).record);
  d.record = std::move(pr.record);
  if (pr.error != RecordError::kNone) {
    d.status = DiscoveryStatus::kInvalidRecord;
    d.reason = "record at _dmarc." + applied + ": " + pr.reason + ": no DMARC processing";
    return d;
  }

  const Record& r = d.record;
  if (d.source == PolicySource::kAuthorDomain) {
    d.tag = PolicyTag::kP;
    d.policy = r.p;
  } else {
    // §4.10.1: from an ancestor, "sp" if the Author Domain exists, "np" if
    // it does not; without them, "p".
    const PolicyTag fallback_tag = r.sp ? PolicyTag::kSp : PolicyTag::kP;
    const Policy fallback = r.sp ? *r.sp : r.p;
    d.tag = fallback_tag;
    d.policy = fallback;
    if (r.np) {
      if (!d.author_existence) d.author_existence = exists ? exists(*author) : Existence::kExists;
      if (*d.author_existence == Existence::kNonExistent) {
        d.tag = PolicyTag::kNp;
        d.policy = *r.np;
      } else if (*d.author_existence == Existence::kTempFail && *r.np != fallback) {
        d.status = DiscoveryStatus::kTempError;
        d.tag = PolicyTag::kNone;
        d.reason = "record at _dmarc." + applied + " has np=" + std::string(PolicyName(*r.np)) +
                   " but whether " + *author + " exists is unknown (DNS temporary failure)";
        return d;
      }
    }
  }
  d.status = DiscoveryStatus::kPolicy;
  d.reason = std::string(PolicyTagName(d.tag)) + "=" + std::string(PolicyName(d.policy)) +
             " at _dmarc." + applied + " (" + SourceWord(d.source) + ")";
  if (r.testing) d.reason += r.testing_from_pct ? ", testing (pct=0)" : ", testing (t=y)";
  if (r.forced_none) d.reason += ", invalid policy tag read as p=none";
  const std::string multiple = MultipleNote(w.steps);
  if (!multiple.empty()) d.reason += "; " + multiple;
  return d;
}

Alignment Aligned(sv author, sv identifier, AlignMode mode, const OrgDomainFn& org) {
  const std::optional<std::string> a = NormalizeDomain(author);
  const std::optional<std::string> i = NormalizeDomain(identifier);
  if (!a || !i) return Alignment::kNotAligned;
  if (*a == *i) return Alignment::kAligned;
  if (mode == AlignMode::kStrict) return Alignment::kNotAligned;
  // Organizational Domains are ancestors (or the names themselves): names
  // with different last labels cannot share one.
  if (LastLabels(*a, 1) != LastLabels(*i, 1)) return Alignment::kNotAligned;
  if (!org) return Alignment::kNotAligned;
  const OrgDomain oa = org(*a);
  if (oa.temperror) return Alignment::kTempError;
  if (oa.domain.empty() || !UnderOrEqual(*i, oa.domain)) return Alignment::kNotAligned;
  const OrgDomain oi = org(*i);
  if (oi.temperror) return Alignment::kTempError;
  return oi.domain == oa.domain ? Alignment::kAligned : Alignment::kNotAligned;
}

Verdict Evaluate(const Discovery& discovery, const Identifiers& ids, OrgDomainMethod method,
                 const TxtLookup& lookup) {
  Verdict v;
  v.author_domain = discovery.author_domain;
  v.policy_domain = discovery.policy_domain;
  v.source = discovery.source;
  v.dns_queries = discovery.walk.size();
  switch (discovery.status) {
    case DiscoveryStatus::kInvalidDomain:
    case DiscoveryStatus::kNoPolicy:
      v.result = Result::kNone;
      v.disposition = Disposition::kAccept;
      v.reason = discovery.reason;
      v.org_domain_tree_walk = discovery.org_domain;
      return v;
    case DiscoveryStatus::kInvalidRecord:
      v.result = Result::kPermError;
      v.disposition = Disposition::kAccept;
      v.reason = discovery.reason;
      return v;
    case DiscoveryStatus::kTempError:
      v.result = Result::kTempError;
      v.disposition = Disposition::kTempFail;
      v.reason = discovery.reason;
      return v;
    case DiscoveryStatus::kPolicy:
      break;
  }
  const Record& r = discovery.record;
  v.tag = discovery.tag;
  v.policy = discovery.policy;
  v.testing = r.testing;
  v.testing_from_pct = r.testing_from_pct;
  // §4.7 "t": with t=y "the policy applied to any failing messages will be
  // one level below the specified policy".
  v.effective_policy = r.testing ? Downgrade(discovery.policy) : discovery.policy;
  v.adkim = r.adkim;
  v.aspf = r.aspf;
  const std::string& author = discovery.author_domain;

  StepCache cache(lookup);
  for (const WalkStep& s : discovery.walk) cache.Seed(s);
  const OrgDomainFn tree_walk = [&](sv dom) -> OrgDomain {
    if (dom == author) {
      OrgDomain o;
      o.domain = discovery.org_domain;
      o.temperror = discovery.org_temperror;
      return o;
    }
    OrgDomain o;
    WalkResult w = Walk(std::string(dom), cache);
    o.temperror = w.temperror;
    o.domain = std::move(w.org);
    return o;
  };
  const OrgDomainFn psl = [](sv dom) { return OrgDomainByPsl(dom); };

  // Distinct DKIM domains, at most kMaxIdentifierDomains.
  std::vector<std::string> dkim;
  size_t dkim_dropped = 0;
  for (const std::string& raw : ids.dkim_pass_domains) {
    const std::optional<std::string> n = NormalizeDomain(raw);
    if (!n || std::find(dkim.begin(), dkim.end(), *n) != dkim.end()) continue;
    if (dkim.size() == kMaxIdentifierDomains) {
      ++dkim_dropped;
      continue;
    }
    dkim.push_back(*n);
  }

  const auto run = [&](const OrgDomainFn& org) {
    MethodOutcome m;
    if (ids.spf_pass) m.spf = Aligned(author, ids.spf_domain, r.aspf, org);
    for (const std::string& d : dkim) {
      const Alignment a = Aligned(author, d, r.adkim, org);
      if (a == Alignment::kAligned) {
        m.dkim = a;
        m.dkim_domain = d;
        break;
      }
      if (a == Alignment::kTempError) m.dkim = a;
    }
    m.message = AnyOf(m.spf, m.dkim);
    return m;
  };

  Alignment message = Alignment::kNotAligned;
  if (method == OrgDomainMethod::kTreeWalk) {
    const MethodOutcome m = run(tree_walk);
    message = m.message;
    v.spf_aligned = m.spf == Alignment::kAligned;
    v.dkim_aligned = m.dkim == Alignment::kAligned;
    v.dkim_aligned_domain = m.dkim_domain;
    v.org_domain_tree_walk = discovery.org_domain;
  } else if (method == OrgDomainMethod::kPsl) {
    const MethodOutcome m = run(psl);
    message = m.message;
    v.spf_aligned = m.spf == Alignment::kAligned;
    v.dkim_aligned = m.dkim == Alignment::kAligned;
    v.dkim_aligned_domain = m.dkim_domain;
    v.org_domain_psl = OrgDomainByPsl(author).domain;
  } else {
    const MethodOutcome t = run(tree_walk);
    const MethodOutcome p = run(psl);
    message = AllOf(t.message, p.message);
    v.spf_aligned = t.spf == Alignment::kAligned && p.spf == Alignment::kAligned;
    v.dkim_aligned = t.dkim == Alignment::kAligned && p.dkim == Alignment::kAligned;
    if (v.dkim_aligned) v.dkim_aligned_domain = t.dkim_domain;
    v.org_domain_tree_walk = discovery.org_domain;
    v.org_domain_psl = OrgDomainByPsl(author).domain;
    // Only answers both methods reached count: a temporary failure is no
    // disagreement.
    const bool both_decided = t.message != Alignment::kTempError && p.message != Alignment::kTempError;
    v.methods_disagree = (both_decided && t.message != p.message) ||
                         (!discovery.org_temperror && v.org_domain_tree_walk != v.org_domain_psl);
  }
  v.dns_queries += cache.queries();
  v.alignment_temperror = message == Alignment::kTempError;

  std::string why = discovery.reason;
  if (message == Alignment::kAligned) {
    v.result = Result::kPass;
    v.disposition = Disposition::kAccept;
    why += v.spf_aligned ? "; spf aligned" : "";
    why += v.dkim_aligned ? "; dkim aligned (" + v.dkim_aligned_domain + ")" : "";
    if (!v.spf_aligned && !v.dkim_aligned) why += "; aligned under each method by different identifiers";
  } else if (message == Alignment::kTempError) {
    v.result = Result::kTempError;
    v.disposition =
        v.effective_policy == Policy::kNone ? Disposition::kAccept : Disposition::kTempFail;
    why += "; alignment undecided: DNS temporary failure";
  } else {
    v.result = Result::kFail;
    switch (v.effective_policy) {
      case Policy::kReject: v.disposition = Disposition::kReject; break;
      case Policy::kQuarantine: v.disposition = Disposition::kQuarantine; break;
      case Policy::kNone: v.disposition = Disposition::kAccept; break;
    }
    why += "; no aligned identifier";
    if (v.effective_policy != v.policy) {
      why += ": " + std::string(PolicyName(v.effective_policy)) + " applied (testing)";
    }
  }
  if (v.methods_disagree) why += "; tree-walk and psl disagree";
  if (dkim_dropped > 0) why += "; " + std::to_string(dkim_dropped) + " dkim domains not evaluated";
  v.reason = std::move(why);
  return v;
}

std::string_view PolicyName(Policy p) {
  switch (p) {
    case Policy::kNone: return "none";
    case Policy::kQuarantine: return "quarantine";
    case Policy::kReject: return "reject";
  }
  return "none";
}

std::string_view AlignModeName(AlignMode m) { return m == AlignMode::kStrict ? "s" : "r"; }

std::string_view ResultName(Result r) {
  switch (r) {
    case Result::kPass: return "pass";
    case Result::kFail: return "fail";
    case Result::kNone: return "none";
    case Result::kTempError: return "temperror";
    case Result::kPermError: return "permerror";
  }
  return "none";
}

std::string_view DispositionName(Disposition d) {
  switch (d) {
    case Disposition::kAccept: return "accept";
    case Disposition::kQuarantine: return "quarantine";
    case Disposition::kReject: return "reject";
    case Disposition::kTempFail: return "tempfail";
  }
  return "accept";
}

std::string_view PolicySourceName(PolicySource s) {
  switch (s) {
    case PolicySource::kNone: return "none";
    case PolicySource::kAuthorDomain: return "author";
    case PolicySource::kOrganizationalDomain: return "organizational";
    case PolicySource::kPublicSuffixDomain: return "psd";
  }
  return "none";
}

std::string_view PolicyTagName(PolicyTag t) {
  switch (t) {
    case PolicyTag::kNone: return "none";
    case PolicyTag::kP: return "p";
    case PolicyTag::kSp: return "sp";
    case PolicyTag::kNp: return "np";
  }
  return "none";
}

std::string_view OrgDomainMethodName(OrgDomainMethod m) {
  switch (m) {
    case OrgDomainMethod::kTreeWalk: return "tree-walk";
    case OrgDomainMethod::kPsl: return "psl";
    case OrgDomainMethod::kBoth: return "both";
  }
  return "both";
}

std::string_view DiscoveryStatusName(DiscoveryStatus s) {
  switch (s) {
    case DiscoveryStatus::kPolicy: return "policy";
    case DiscoveryStatus::kNoPolicy: return "no-policy";
    case DiscoveryStatus::kInvalidRecord: return "invalid-record";
    case DiscoveryStatus::kTempError: return "temperror";
    case DiscoveryStatus::kInvalidDomain: return "invalid-domain";
  }
  return "no-policy";
}

std::string_view TxtStatusName(TxtStatus s) {
  switch (s) {
    case TxtStatus::kRecords: return "records";
    case TxtStatus::kNoData: return "nodata";
    case TxtStatus::kNxDomain: return "nxdomain";
    case TxtStatus::kTempFail: return "tempfail";
  }
  return "nodata";
}

std::optional<OrgDomainMethod> ParseOrgDomainMethod(sv s) {
  if (s == "tree-walk") return OrgDomainMethod::kTreeWalk;
  if (s == "psl") return OrgDomainMethod::kPsl;
  if (s == "both") return OrgDomainMethod::kBoth;
  return std::nullopt;
}

}  // namespace senderguard::dmarc
