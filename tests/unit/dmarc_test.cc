// Tests for senderguard/dmarc.h: record selection and parsing, the RFC 9989
// DNS Tree Walk, Organizational Domains (tree walk and PSL), alignment and
// the verdict. DNS is a table (FakeDns); every case lists the queries it
// expects, in order, so the walk's shape is tested as well as its answer.
// Section numbers are those of draft-ietf-dmarc-dmarcbis-41 (RFC 9989).
#include "senderguard/auth/dmarc.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace senderguard::dmarc {
namespace {

using sv = std::string_view;

// One name of the fake DNS: TXT strings at "_dmarc.<domain>", or a status.
struct Zone {
  std::string domain;
  std::vector<std::string> txt;
  TxtStatus status = TxtStatus::kRecords;
};

Zone Txt(std::string d, std::vector<std::string> txt) { return Zone{std::move(d), std::move(txt)}; }
Zone Status(std::string d, TxtStatus s) { return Zone{std::move(d), {}, s}; }

// Unknown names answer NXDOMAIN.
class FakeDns {
 public:
  explicit FakeDns(const std::vector<Zone>& zones = {}) {
    for (const Zone& z : zones) answers_["_dmarc." + z.domain] = TxtAnswer{z.status, z.txt};
  }
  TxtLookup Lookup() {
    return [this](sv qname) {
      asked.emplace_back(qname);
      auto it = answers_.find(std::string(qname));
      if (it == answers_.end()) return TxtAnswer{TxtStatus::kNxDomain, {}};
      return it->second;
    };
  }
  std::vector<std::string> asked;

 private:
  std::map<std::string, TxtAnswer> answers_;
};

std::vector<std::string> Dmarc(std::vector<std::string> domains) {
  for (std::string& d : domains) d = "_dmarc." + d;
  return domains;
}

bool HasNote(const Record& r, sv needle) {
  for (const std::string& n : r.notes) {
    if (n.find(needle) != std::string::npos) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Record selection.

TEST(IsDmarcRecord, Table) {
  struct Case {
    std::string txt;
    bool want;
  };
  const Case cases[] = {
      {"v=DMARC1", true},
      {"v=DMARC1;", true},
      {"v=DMARC1; p=reject", true},
      {"v=DMARC1;p=reject", true},
      {"V=DMARC1; p=none", true},  // "v" is an ABNF literal: case-insensitive
      {"v = DMARC1 ; p=none", true},
      {"v=\tDMARC1\t;p=none", true},
      {"v=DMARC1 ", true},
      {"v=dmarc1; p=reject", false},  // %s"DMARC1": case-sensitive (§4.8)
      {"v=Dmarc1; p=reject", false},
      {"v=DMARC1x; p=reject", false},
      {"v=DMARC10", false},
      {"v=DMARC", false},
      {"v=DMARC2; p=reject", false},
      {"v=DMARC1 p=reject", false},  // no ";" after the version
      {" v=DMARC1; p=reject", false},  // nothing may precede v
      {"p=reject; v=DMARC1", false},  // libopendmarc: v=DMARC anywhere
      {"xv=DMARC1", false},
      {"v=spf1 include:v=DMARC1 -all", false},
      {"v=", false},
      {"v", false},
      {"", false},
      {std::string("v=DMARC1\0; p=reject", 18), false},
      {"v=DMARC1\r\n", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsDmarcRecord(c.txt), c.want) << c.txt;
  }
}

TEST(SelectRecord, Table) {
  struct Case {
    const char* name;
    std::vector<std::string> txt;
    SelectOutcome want;
    std::string record;
  };
  const Case cases[] = {
      {"empty RRset", {}, SelectOutcome::kNone, ""},
      {"only SPF", {"v=spf1 -all"}, SelectOutcome::kNone, ""},
      // libopendmarc regression: a non-DMARC TXT listed first hid the record.
      {"non-DMARC TXT first", {"v=spf1 -all", "v=DMARC1; p=reject"}, SelectOutcome::kOne,
       "v=DMARC1; p=reject"},
      {"non-DMARC TXT around", {"google-site-verification=x", "v=DMARC1; p=none", "x"},
       SelectOutcome::kOne, "v=DMARC1; p=none"},
      // libopendmarc regression: it took the first of two.
      {"two records", {"v=DMARC1; p=none", "v=DMARC1; p=reject"}, SelectOutcome::kMultiple, ""},
      {"two identical records", {"v=DMARC1; p=reject", "v=DMARC1; p=reject"},
       SelectOutcome::kMultiple, ""},
      // libopendmarc regression: v=DMARC matched anywhere.
      {"version not first", {"p=reject; v=DMARC1"}, SelectOutcome::kNone, ""},
      {"lower-case version", {"v=dmarc1; p=reject"}, SelectOutcome::kNone, ""},
      {"one valid, one lower-case", {"v=dmarc1; p=none", "v=DMARC1; p=reject"}, SelectOutcome::kOne,
       "v=DMARC1; p=reject"},
      {"empty string", {""}, SelectOutcome::kNone, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Selection s = SelectRecord(c.txt);
    EXPECT_EQ(s.outcome, c.want);
    EXPECT_EQ(s.record, c.record);
  }
  const Selection s = SelectRecord({"a", "v=DMARC1", "b", "v=DMARC1; p=none"});
  EXPECT_EQ(s.dmarc_records, 2u);
  EXPECT_EQ(s.other_records, 2u);
}

// ---------------------------------------------------------------------------
// Record parsing.

struct ParseCase {
  const char* name;
  std::string text;
  RecordError error = RecordError::kNone;
  Policy p = Policy::kNone;
  std::optional<Policy> sp = std::nullopt;
  std::optional<Policy> np = std::nullopt;
  AlignMode adkim = AlignMode::kRelaxed;
  AlignMode aspf = AlignMode::kRelaxed;
  bool testing = false;
  Psd psd = Psd::kUnspecified;
  bool forced_none = false;
  size_t rua = 0;
  const char* note = nullptr;  // a note that must be there
};

TEST(ParseRecord, Table) {
  using P = Policy;
  using A = AlignMode;
  std::vector<ParseCase> cases = {
      {.name = "minimal", .text = "v=DMARC1; p=reject", .p = P::kReject},
      {.name = "every tag",
       .text = "v=DMARC1;p=quarantine;sp=none;np=reject;adkim=s;aspf=s;t=y;psd=n;"
               "rua=mailto:a@example.com;ruf=mailto:f@example.com;fo=1",
       .p = P::kQuarantine, .sp = P::kNone, .np = P::kReject, .adkim = A::kStrict,
       .aspf = A::kStrict, .testing = true, .psd = Psd::kNo, .rua = 1},
      {.name = "upper-case value", .text = "v=DMARC1; p=REJECT", .p = P::kReject},
      {.name = "upper-case tag", .text = "v=DMARC1; P=Reject; SP=None", .p = P::kReject, .sp = P::kNone},
      {.name = "white space around = and ;", .text = "v = DMARC1 ;\tp = reject ; sp =none ;",
       .p = P::kReject, .sp = P::kNone},
      {.name = "trailing ;", .text = "v=DMARC1; p=reject;", .p = P::kReject},
      {.name = "empty tags", .text = "v=DMARC1;; ;p=reject;;", .p = P::kReject},
      // §4.7 p: "If this tag is not present in an otherwise syntactically
      // valid DMARC Policy Record, then the record is treated as if it
      // included p=none". libopendmarc refuses the record.
      {.name = "no p", .text = "v=DMARC1", .note = "libopendmarc refuses"},
      {.name = "no p, rua", .text = "v=DMARC1; rua=mailto:d@example.com", .rua = 1},
      // §4.10.1: invalid p and no valid rua: no DMARC processing.
      {.name = "invalid p", .text = "v=DMARC1; p=bogus", .error = RecordError::kInvalidPolicy},
      {.name = "empty p", .text = "v=DMARC1; p=", .error = RecordError::kInvalidPolicy},
      {.name = "invalid p, invalid rua", .text = "v=DMARC1; p=bogus; rua=not a uri",
       .error = RecordError::kInvalidPolicy},
      // §4.10.1: with a valid rua, "act as if a record containing p=none
      // was retrieved".
      {.name = "invalid p, valid rua", .text = "v=DMARC1; p=bogus; rua=mailto:d@example.com",
       .forced_none = true, .rua = 1},
      {.name = "invalid sp", .text = "v=DMARC1; p=reject; sp=bogus", .error = RecordError::kInvalidPolicy},
      {.name = "invalid np, valid rua",
       .text = "v=DMARC1; p=reject; sp=reject; np=never; rua=mailto:d@example.com", .forced_none = true,
       .rua = 1},
      // libopendmarc reads any prefix of a policy word, and removes white
      // space inside values: RFC 9989 knows three exact words.
      {.name = "p=rej", .text = "v=DMARC1; p=rej", .error = RecordError::kInvalidPolicy,
       .note = "libopendmarc accepts"},
      {.name = "p=r", .text = "v=DMARC1; p=r", .error = RecordError::kInvalidPolicy},
      {.name = "p=re ject", .text = "v=DMARC1; p=re ject", .error = RecordError::kInvalidPolicy},
      {.name = "p=rejectx", .text = "v=DMARC1; p=rejectx", .error = RecordError::kInvalidPolicy},
      {.name = "CR LF in value", .text = "v=DMARC1; p=reject\r\n", .error = RecordError::kInvalidPolicy},
      {.name = "8-bit in p", .text = "v=DMARC1; p=r\xc3\xa9ject", .error = RecordError::kInvalidPolicy},
      // A repeated tag keeps its first value (§4.8 syntax errors ignored).
      {.name = "repeated p", .text = "v=DMARC1; p=none; p=reject", .note = "repeated p="},
      {.name = "repeated v", .text = "v=DMARC1; v=DMARC2; p=reject", .p = P::kReject},
      // Other bad values fall back to the default (§4.8); libopendmarc
      // refuses the whole record, or reads "strict".
      {.name = "adkim=strict", .text = "v=DMARC1; p=reject; adkim=strict", .p = P::kReject,
       .note = "libopendmarc reads adkim differently"},
      {.name = "adkim=x", .text = "v=DMARC1; p=reject; adkim=x; aspf=S", .p = P::kReject,
       .aspf = A::kStrict, .note = "libopendmarc refuses"},
      {.name = "t=x", .text = "v=DMARC1; p=reject; t=x", .p = P::kReject, .note = "t=x invalid"},
      {.name = "t=Y", .text = "v=DMARC1; p=reject; t=Y", .p = P::kReject, .testing = true},
      {.name = "t=n", .text = "v=DMARC1; p=reject; t=n", .p = P::kReject},
      {.name = "psd=y", .text = "v=DMARC1; p=reject; psd=y", .p = P::kReject, .psd = Psd::kYes},
      {.name = "psd=U", .text = "v=DMARC1; p=reject; psd=U", .p = P::kReject},
      {.name = "psd=x", .text = "v=DMARC1; p=reject; psd=x", .p = P::kReject, .note = "psd=x invalid"},
      // pct is historic; pct=0 still means t=y (Appendix A.6).
      {.name = "pct=0", .text = "v=DMARC1; p=reject; pct=0", .p = P::kReject, .testing = true,
       .note = "pct=0 read as t=y"},
      {.name = "pct=00", .text = "v=DMARC1; p=reject; pct=00", .p = P::kReject, .testing = true},
      {.name = "pct=0 with t=n", .text = "v=DMARC1; p=reject; pct=0; t=n", .p = P::kReject},
      {.name = "t=y with pct=100", .text = "v=DMARC1; p=reject; pct=100; t=y", .p = P::kReject,
       .testing = true},
      {.name = "pct=50", .text = "v=DMARC1; p=reject; pct=50", .p = P::kReject, .note = "historic"},
      {.name = "pct=abc", .text = "v=DMARC1; p=reject; pct=abc", .p = P::kReject,
       .note = "libopendmarc reads pct as 0"},
      {.name = "pct=-1", .text = "v=DMARC1; p=reject; pct=-1", .p = P::kReject},
      {.name = "rf and ri", .text = "v=DMARC1; p=reject; rf=xyz; ri=soon", .p = P::kReject,
       .note = "libopendmarc refuses"},
      {.name = "unknown tags", .text = "v=DMARC1; p=reject; foo=bar; x-y=1; garbage", .p = P::kReject,
       .note = "unknown tag foo"},
      {.name = "rua list with size", .text = "v=DMARC1; p=none; rua=mailto:a@example.com!10m , mailto:b@example.net",
       .rua = 2},
      {.name = "rua with one bad URI", .text = "v=DMARC1; p=none; rua=mailto:a@example.com, b@example.net",
       .rua = 1, .note = "invalid URI"},
      {.name = "rua percent escapes", .text = "v=DMARC1; p=none; rua=mailto:a%2Cb@example.com", .rua = 1},
      {.name = "rua bad escape", .text = "v=DMARC1; p=none; rua=mailto:a%2@example.com"},
      {.name = "B.2.5 example",
       .text = "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,"
               "mailto:tld-test@thirdparty.example.net; t=y",
       .p = P::kQuarantine, .testing = true, .rua = 2},
      {.name = "not DMARC", .text = "v=spf1 -all", .error = RecordError::kNotDmarc},
      {.name = "lower-case version", .text = "v=dmarc1; p=reject", .error = RecordError::kNotDmarc},
      {.name = "too long", .text = "v=DMARC1; p=reject; x=" + std::string(5000, 'a'),
       .error = RecordError::kTooLong},
  };
  for (const ParseCase& c : cases) {
    SCOPED_TRACE(c.name);
    const ParsedRecord pr = ParseRecord(c.text);
    EXPECT_EQ(pr.error, c.error) << pr.reason;
    EXPECT_EQ(pr.reason.empty(), c.error == RecordError::kNone);
    if (c.error != RecordError::kNone && c.error != RecordError::kInvalidPolicy) continue;
    const Record& r = pr.record;
    if (c.error == RecordError::kNone) {
      EXPECT_EQ(r.p, c.p);
      EXPECT_EQ(r.sp, c.sp);
      EXPECT_EQ(r.np, c.np);
      EXPECT_EQ(r.forced_none, c.forced_none);
    }
    EXPECT_EQ(r.adkim, c.adkim);
    EXPECT_EQ(r.aspf, c.aspf);
    EXPECT_EQ(r.testing, c.testing);
    EXPECT_EQ(r.psd, c.psd);
    EXPECT_EQ(r.rua.size(), c.rua);
    if (c.note != nullptr) {
      EXPECT_TRUE(HasNote(r, c.note)) << "missing note: " << c.note;
    }
    for (const std::string& n : r.notes) {
      for (char ch : n) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << n;
    }
  }
}

TEST(ParseRecord, RuaUrisAreKeptWithoutSizeSuffix) {
  const ParsedRecord pr = ParseRecord("v=DMARC1; p=none; rua=mailto:a@example.com!10m,mailto:b@example.net!5");
  ASSERT_EQ(pr.record.rua.size(), 2u);
  EXPECT_EQ(pr.record.rua[0], "mailto:a@example.com");
  EXPECT_EQ(pr.record.rua[1], "mailto:b@example.net");
}

// libopendmarc 1.4.2 copies tokens into fixed buffers through
// opendmarc_util_cleanup, which accepts a token as long as the buffer and
// leaves it unterminated. Tags around those lengths must parse here (and,
// under ASan, must not reach it).
TEST(ParseRecord, LongTagsStayAwayFromLibopendmarcBuffers) {
  for (size_t n : {30u, 31u, 32u, 33u, 250u, 254u, 255u, 256u, 257u, 510u, 511u, 512u, 513u, 1000u}) {
    SCOPED_TRACE(n);
    const std::string rua = "v=DMARC1; p=reject; rua=mailto:" + std::string(n, 'a') + "@example.com";
    ParsedRecord pr = ParseRecord(rua);
    EXPECT_EQ(pr.error, RecordError::kNone);
    EXPECT_EQ(pr.record.p, Policy::kReject);
    const std::string rf = "v=DMARC1; p=reject; rf=" + std::string(n, 'a');
    pr = ParseRecord(rf);
    EXPECT_EQ(pr.error, RecordError::kNone);
    const std::string name = "v=DMARC1; p=reject; " + std::string(n, 'x') + "=1";
    pr = ParseRecord(name);
    EXPECT_EQ(pr.error, RecordError::kNone);
    const std::string fo = "v=DMARC1; p=reject; ruf=mailto:f@example.com; fo=" + std::string(n, '1');
    pr = ParseRecord(fo);
    EXPECT_EQ(pr.error, RecordError::kNone);
  }
  EXPECT_TRUE(HasNote(ParseRecord("v=DMARC1; p=reject; rua=mailto:" + std::string(300, 'a') + "@x.example")
                          .record,
                      "libopendmarc not consulted"));
}

// ---------------------------------------------------------------------------
// The walk's targets (§4.10 steps 3, 4, 7).

TEST(TreeWalkTargets, Table) {
  struct Case {
    std::string domain;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"com", {"com"}},
      {"example.com", {"example.com", "com"}},
      {"a.mail.example.com", {"a.mail.example.com", "mail.example.com", "example.com", "com"}},
      // §4.10: the RFC's own list for this Author Domain.
      {"a.b.c.d.e.f.g.h.i.j.mail.example.com",
       {"a.b.c.d.e.f.g.h.i.j.mail.example.com", "g.h.i.j.mail.example.com", "h.i.j.mail.example.com",
        "i.j.mail.example.com", "j.mail.example.com", "mail.example.com", "example.com", "com"}},
      // §5.1.8: the RFC's list; b.c.d.e.f.g.example.com is never queried.
      {"mail.a.b.c.d.e.f.g.example.com",
       {"mail.a.b.c.d.e.f.g.example.com", "c.d.e.f.g.example.com", "d.e.f.g.example.com",
        "e.f.g.example.com", "f.g.example.com", "g.example.com", "example.com", "com"}},
      // Exactly 8 labels: the parent has 7, as "remove until 7 remain".
      {"a.b.c.d.e.f.example.com",
       {"a.b.c.d.e.f.example.com", "b.c.d.e.f.example.com", "c.d.e.f.example.com", "d.e.f.example.com",
        "e.f.example.com", "f.example.com", "example.com", "com"}},
      // 7 labels: 7 queries.
      {"b.c.d.e.f.example.com",
       {"b.c.d.e.f.example.com", "c.d.e.f.example.com", "d.e.f.example.com", "e.f.example.com",
        "f.example.com", "example.com", "com"}},
      {"", {}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(TreeWalkTargets(c.domain), c.want) << c.domain;
    EXPECT_LE(TreeWalkTargets(c.domain).size(), kMaxWalkQueries);
  }
  // 127 labels (253 bytes): still 8 queries.
  std::string deep = "a";
  for (int i = 0; i < 126; ++i) deep += ".a";
  EXPECT_EQ(TreeWalkTargets(deep).size(), 8u);
}

// ---------------------------------------------------------------------------
// Policy discovery (§4.10.1) and the tree walk's Organizational Domain
// (§4.10.2).

struct DiscoverCase {
  const char* name;
  std::vector<Zone> zones;
  std::string author;
  DiscoveryStatus status;
  PolicySource source = PolicySource::kNone;
  PolicyTag tag = PolicyTag::kNone;
  Policy policy = Policy::kNone;
  std::string policy_domain;
  std::string org_domain;
  std::vector<std::string> queries;  // names asked, without "_dmarc."
  std::optional<Existence> exists = std::nullopt;  // the ExistenceLookup's answer (nullopt: must not be asked)
  bool org_temperror = false;
};

TEST(Discover, Table) {
  using S = DiscoveryStatus;
  using Src = PolicySource;
  using T = PolicyTag;
  using P = Policy;
  const std::string rej = "v=DMARC1; p=reject";
  const std::vector<DiscoverCase> cases = {
      // --- RFC 9989 §4.10.2's examples ---
      {"4.10.2 first example: records at mail.example.com and example.com",
       {Txt("mail.example.com", {"v=DMARC1; p=none"}), Txt("example.com", {"v=DMARC1; p=reject; sp=quarantine"})},
       "a.mail.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kSp, P::kQuarantine,
       "example.com", "example.com",
       {"a.mail.example.com", "mail.example.com", "example.com", "com"}},
      {"4.10.2 second example: psd=n at mail.example.com",
       {Txt("mail.example.com", {"v=DMARC1; p=reject; psd=n"}), Txt("example.com", {"v=DMARC1; p=none"})},
       "a.mail.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kP, P::kReject,
       "mail.example.com", "mail.example.com", {"a.mail.example.com", "mail.example.com"}},
      {"4.10.2 last example: only _dmarc.com, psd=y",
       {Txt("com", {"v=DMARC1; p=reject; psd=y"})},
       "a.mail.example.com", S::kPolicy, Src::kPublicSuffixDomain, T::kP, P::kReject, "com",
       "example.com", {"a.mail.example.com", "mail.example.com", "example.com", "com"}},
      {"4.10.2 note: the common domain publishes a record",
       {Txt("mail.example.com", {rej})},
       "mail.example.com", S::kPolicy, Src::kAuthorDomain, T::kP, P::kReject, "mail.example.com",
       "mail.example.com", {"mail.example.com", "example.com", "com"}},
      {"4.10 walk of 13 labels: eight queries, no record",
       {},
       "a.b.c.d.e.f.g.h.i.j.mail.example.com", S::kNoPolicy, Src::kNone, T::kNone, P::kNone, "",
       "a.b.c.d.e.f.g.h.i.j.mail.example.com",
       {"a.b.c.d.e.f.g.h.i.j.mail.example.com", "g.h.i.j.mail.example.com", "h.i.j.mail.example.com",
        "i.j.mail.example.com", "j.mail.example.com", "mail.example.com", "example.com", "com"}},
      {"5.1.8: the zone cut's psd=n record is never discovered",
       {Txt("b.c.d.e.f.g.example.com", {"v=DMARC1; p=none; psd=n"}), Txt("example.com", {rej})},
       "mail.a.b.c.d.e.f.g.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kP, P::kReject,
       "example.com", "example.com",
       {"mail.a.b.c.d.e.f.g.example.com", "c.d.e.f.g.example.com", "d.e.f.g.example.com",
        "e.f.g.example.com", "f.g.example.com", "g.example.com", "example.com", "com"}},
      {"5.1.8: a record at the long Author Domain itself is always found",
       {Txt("mail.a.b.c.d.e.f.g.example.com", {"v=DMARC1; p=quarantine"}), Txt("example.com", {rej})},
       "mail.a.b.c.d.e.f.g.example.com", S::kPolicy, Src::kAuthorDomain, T::kP, P::kQuarantine,
       "mail.a.b.c.d.e.f.g.example.com", "example.com",
       {"mail.a.b.c.d.e.f.g.example.com", "c.d.e.f.g.example.com", "d.e.f.g.example.com",
        "e.f.g.example.com", "f.g.example.com", "g.example.com", "example.com", "com"}},
      // --- the everyday cases ---
      {"record at the Author Domain",
       {Txt("example.com", {"v=DMARC1; p=reject; sp=none"})},
       "example.com", S::kPolicy, Src::kAuthorDomain, T::kP, P::kReject, "example.com", "example.com",
       {"example.com", "com"}},
      {"subdomain: sp applies",
       {Txt("example.com", {"v=DMARC1; p=none; sp=reject"})},
       "news.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kSp, P::kReject, "example.com",
       "example.com", {"news.example.com", "example.com", "com"}},
      {"subdomain without sp: p applies",
       {Txt("example.com", {rej})},
       "news.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kP, P::kReject, "example.com",
       "example.com", {"news.example.com", "example.com", "com"}},
      {"no record anywhere",
       {Txt("example.com", {"v=spf1 -all"})},
       "example.com", S::kNoPolicy, Src::kNone, T::kNone, P::kNone, "", "example.com",
       {"example.com", "com"}},
      {"single-label Author Domain without record",
       {}, "localhost", S::kNoPolicy, Src::kNone, T::kNone, P::kNone, "", "localhost", {"localhost"}},
      {"upper case and final dot",
       {Txt("example.com", {rej})},
       "News.EXAMPLE.com.", S::kPolicy, Src::kOrganizationalDomain, T::kP, P::kReject, "example.com",
       "example.com", {"news.example.com", "example.com", "com"}},
      // A record on an intermediate subdomain is neither the Author Domain's
      // nor the Organizational Domain's: it does not apply (§4.7 sp: "sp
      // will be ignored for DMARC Policy Records published on subdomains").
      {"intermediate record does not apply",
       {Txt("mail.example.com", {rej}), Txt("example.com", {"v=DMARC1; p=none"})},
       "a.mail.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kP, P::kNone, "example.com",
       "example.com", {"a.mail.example.com", "mail.example.com", "example.com", "com"}},
      // "PSD policy is not used for Organizational Domains that have
      // published a DMARC Policy Record" (§4.10.1).
      {"psd=y above an Organizational Domain with a record",
       {Txt("example.com", {"v=DMARC1; p=none"}), Txt("com", {"v=DMARC1; p=reject; psd=y"})},
       "a.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kP, P::kNone, "example.com",
       "example.com", {"a.example.com", "example.com", "com"}},
      {"psd=y: the Author Domain is the Organizational Domain, PSD record applies",
       {Txt("com", {"v=DMARC1; p=reject; sp=quarantine; psd=y"})},
       "example.com", S::kPolicy, Src::kPublicSuffixDomain, T::kSp, P::kQuarantine, "com",
       "example.com", {"example.com", "com"}},
      {"psd=y at a two-label suffix",
       {Txt("gov.uk", {"v=DMARC1; p=reject; psd=y"}), Txt("uk", {"v=DMARC1; p=none; psd=y"})},
       "x.agency.gov.uk", S::kPolicy, Src::kPublicSuffixDomain, T::kP, P::kReject, "gov.uk",
       "agency.gov.uk", {"x.agency.gov.uk", "agency.gov.uk", "gov.uk"}},
      {"psd=y at the Author Domain: it is its own Organizational Domain",
       {Txt("gov", {"v=DMARC1; p=reject; psd=y"})},
       "gov", S::kPolicy, Src::kAuthorDomain, T::kP, P::kReject, "gov", "gov", {"gov"}},
      {"psd=n at the Author Domain stops the walk",
       {Txt("mail.example.com", {"v=DMARC1; p=reject; psd=n"})},
       "mail.example.com", S::kPolicy, Src::kAuthorDomain, T::kP, P::kReject, "mail.example.com",
       "mail.example.com", {"mail.example.com"}},
      {"9 labels, psd=y at the 7-label name: org has 8 labels",
       {Txt("d.e.f.g.h.example.com", {"v=DMARC1; p=quarantine; psd=y"})},
       "a.b.c.d.e.f.g.h.example.com", S::kPolicy, Src::kPublicSuffixDomain, T::kP, P::kQuarantine,
       "d.e.f.g.h.example.com", "c.d.e.f.g.h.example.com",
       {"a.b.c.d.e.f.g.h.example.com", "d.e.f.g.h.example.com"}},
      // --- record selection inside the walk ---
      // §4.10 step 2: "If multiple DMARC Policy Records are returned for a
      // single target, they are all discarded" and the walk goes on.
      {"two records at the Author Domain: discarded, walk on",
       {Txt("news.example.com", {"v=DMARC1; p=none", "v=DMARC1; p=none"}),
        Txt("example.com", {"v=DMARC1; p=quarantine"})},
       "news.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kP, P::kQuarantine,
       "example.com", "example.com", {"news.example.com", "example.com", "com"}},
      {"two records at the only name: no policy",
       {Txt("example.com", {"v=DMARC1; p=reject", "v=DMARC1; p=reject"})},
       "example.com", S::kNoPolicy, Src::kNone, T::kNone, P::kNone, "", "example.com",
       {"example.com", "com"}},
      {"SPF record before the DMARC record",
       {Txt("example.com", {"v=spf1 -all", rej})},
       "example.com", S::kPolicy, Src::kAuthorDomain, T::kP, P::kReject, "example.com", "example.com",
       {"example.com", "com"}},
      {"NODATA and NXDOMAIN are both no record",
       {Status("a.example.com", TxtStatus::kNoData), Txt("example.com", {rej})},
       "b.a.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kP, P::kReject, "example.com",
       "example.com", {"b.a.example.com", "a.example.com", "example.com", "com"}},
      {"empty TXT answer is NODATA",
       {Status("example.com", TxtStatus::kRecords)},
       "example.com", S::kNoPolicy, Src::kNone, T::kNone, P::kNone, "", "example.com",
       {"example.com", "com"}},
      // --- malformed records (§4.10.1) ---
      {"invalid p, no rua, at the Author Domain: no DMARC processing",
       {Txt("example.com", {"v=DMARC1; p=bogus"})},
       "example.com", S::kInvalidRecord, Src::kAuthorDomain, T::kNone, P::kNone, "example.com",
       "example.com", {"example.com", "com"}},
      {"invalid p, no rua, at the Organizational Domain",
       {Txt("example.com", {"v=DMARC1; p=bogus"})},
       "news.example.com", S::kInvalidRecord, Src::kOrganizationalDomain, T::kNone, P::kNone,
       "example.com", "example.com", {"news.example.com", "example.com", "com"}},
      {"invalid sp with rua: p=none",
       {Txt("example.com", {"v=DMARC1; p=reject; sp=nope; rua=mailto:d@example.com"})},
       "news.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kP, P::kNone, "example.com",
       "example.com", {"news.example.com", "example.com", "com"}},
      {"no p tag: p=none",
       {Txt("example.com", {"v=DMARC1; sp=reject"})},
       "example.com", S::kPolicy, Src::kAuthorDomain, T::kP, P::kNone, "example.com", "example.com",
       {"example.com", "com"}},
      // --- np (§4.7, §4.10.1, §3.2.13) ---
      {"np: the Author Domain does not exist",
       {Txt("example.com", {"v=DMARC1; p=none; sp=quarantine; np=reject"})},
       "nx.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kNp, P::kReject, "example.com",
       "example.com", {"nx.example.com", "example.com", "com"}, Existence::kNonExistent},
      {"np: the Author Domain exists",
       {Txt("example.com", {"v=DMARC1; p=none; sp=quarantine; np=reject"})},
       "www.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kSp, P::kQuarantine,
       "example.com", "example.com", {"www.example.com", "example.com", "com"}, Existence::kExists},
      {"np: existence known from the walk (NODATA at _dmarc.<author>), not asked",
       {Status("www.example.com", TxtStatus::kNoData),
        Txt("example.com", {"v=DMARC1; p=none; np=reject"})},
       "www.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kP, P::kNone, "example.com",
       "example.com", {"www.example.com", "example.com", "com"}},
      {"np absent: non-existent subdomain gets sp, existence not asked",
       {Txt("example.com", {"v=DMARC1; p=none; sp=reject"})},
       "nx.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kSp, P::kReject, "example.com",
       "example.com", {"nx.example.com", "example.com", "com"}},
      {"np absent, sp absent: non-existent subdomain gets p",
       {Txt("example.com", {"v=DMARC1; p=quarantine"})},
       "nx.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kP, P::kQuarantine, "example.com",
       "example.com", {"nx.example.com", "example.com", "com"}},
      {"np: existence check fails temporarily, np differs",
       {Txt("example.com", {"v=DMARC1; p=none; np=reject"})},
       "nx.example.com", S::kTempError, Src::kOrganizationalDomain, T::kNone, P::kNone,
       "example.com", "example.com", {"nx.example.com", "example.com", "com"}, Existence::kTempFail},
      {"np: existence check fails temporarily, np same as sp",
       {Txt("example.com", {"v=DMARC1; p=none; sp=reject; np=reject"})},
       "nx.example.com", S::kPolicy, Src::kOrganizationalDomain, T::kSp, P::kReject, "example.com",
       "example.com", {"nx.example.com", "example.com", "com"}, Existence::kTempFail},
      {"np does not apply to the Author Domain's own record",
       {Txt("example.com", {"v=DMARC1; p=quarantine; np=reject"})},
       "example.com", S::kPolicy, Src::kAuthorDomain, T::kP, P::kQuarantine, "example.com",
       "example.com", {"example.com", "com"}},
      {"np from a PSD record for a non-existent name",
       {Txt("com", {"v=DMARC1; p=none; np=reject; psd=y"})},
       "nx-brand.com", S::kPolicy, Src::kPublicSuffixDomain, T::kNp, P::kReject, "com",
       "nx-brand.com", {"nx-brand.com", "com"}, Existence::kNonExistent},
      // --- temporary failures at each step ---
      // libopendmarc regression: a TRY_AGAIN fell through to the
      // Organizational Domain instead of a temporary error.
      {"temp failure at the Author Domain",
       {Status("news.example.com", TxtStatus::kTempFail), Txt("example.com", {rej})},
       "news.example.com", S::kTempError, Src::kNone, T::kNone, P::kNone, "", "",
       {"news.example.com"}},
      {"temp failure at the parent, no record at the Author Domain",
       {Status("example.com", TxtStatus::kTempFail)},
       "news.example.com", S::kTempError, Src::kNone, T::kNone, P::kNone, "", "",
       {"news.example.com", "example.com"}},
      {"temp failure at the TLD, no record below",
       {Status("com", TxtStatus::kTempFail)},
       "a.news.example.com", S::kTempError, Src::kNone, T::kNone, P::kNone, "", "",
       {"a.news.example.com", "news.example.com", "example.com", "com"}},
      {"temp failure at the TLD after the Organizational Domain's record",
       {Txt("example.com", {rej}), Status("com", TxtStatus::kTempFail)},
       "news.example.com", S::kTempError, Src::kNone, T::kNone, P::kNone, "", "",
       {"news.example.com", "example.com", "com"}},
      {"temp failure after the Author Domain's record: policy known, org unknown",
       {Txt("news.example.com", {rej}), Status("example.com", TxtStatus::kTempFail)},
       "news.example.com", S::kPolicy, Src::kAuthorDomain, T::kP, P::kReject, "news.example.com", "",
       {"news.example.com", "example.com"}, std::nullopt, true},
      // --- not a domain name ---
      {"empty Author Domain", {}, "", S::kInvalidDomain, Src::kNone, T::kNone, P::kNone, "", "", {}},
      {"empty label", {}, "a..example.com", S::kInvalidDomain, Src::kNone, T::kNone, P::kNone, "", "", {}},
      {"space", {}, "exa mple.com", S::kInvalidDomain, Src::kNone, T::kNone, P::kNone, "", "", {}},
      {"only a dot", {}, ".", S::kInvalidDomain, Src::kNone, T::kNone, P::kNone, "", "", {}},
      {"label of 64", {}, std::string(64, 'a') + ".com", S::kInvalidDomain, Src::kNone, T::kNone,
       P::kNone, "", "", {}},
  };
  for (const DiscoverCase& c : cases) {
    SCOPED_TRACE(c.name);
    FakeDns dns(c.zones);
    int asked = 0;
    const ExistenceLookup exists = [&](sv d) {
      ++asked;
      EXPECT_EQ(d, NormalizeDomain(c.author).value_or(""));
      return c.exists.value_or(Existence::kExists);
    };
    const Discovery d = Discover(c.author, dns.Lookup(), exists);
    EXPECT_EQ(d.status, c.status) << d.reason;
    EXPECT_EQ(d.source, c.source);
    EXPECT_EQ(d.tag, c.tag);
    EXPECT_EQ(d.policy, c.policy);
    EXPECT_EQ(d.policy_domain, c.policy_domain);
    EXPECT_EQ(d.org_domain, c.org_domain);
    EXPECT_EQ(d.org_temperror, c.org_temperror);
    EXPECT_EQ(dns.asked, Dmarc(c.queries));
    EXPECT_EQ(d.walk.size(), c.queries.size());
    EXPECT_EQ(asked, c.exists ? 1 : 0);
    EXPECT_FALSE(d.reason.empty());
  }
}

TEST(Discover, InvalidPolicyWithRuaIsPolicyNone) {
  FakeDns dns({Txt("example.com", {"v=DMARC1; p=bogus; rua=mailto:d@example.com"})});
  const Discovery d = Discover("example.com", dns.Lookup(), nullptr);
  ASSERT_EQ(d.status, DiscoveryStatus::kPolicy);
  EXPECT_EQ(d.policy, Policy::kNone);
  EXPECT_TRUE(d.record.forced_none);
}

TEST(Discover, ReasonNamesDiscardedRecords) {
  FakeDns dns({Txt("example.com", {"v=DMARC1; p=reject", "v=DMARC1; p=none"})});
  const Discovery d = Discover("example.com", dns.Lookup(), nullptr);
  EXPECT_EQ(d.status, DiscoveryStatus::kNoPolicy);
  EXPECT_NE(d.reason.find("several DMARC records at _dmarc.example.com"), std::string::npos) << d.reason;
}

TEST(Discover, HostileRecordReasonIsPrintable) {
  FakeDns dns({Txt("example.com", {std::string("v=DMARC1; p=\x01\xff\n bad\0x", 21)})});
  const Discovery d = Discover("example.com", dns.Lookup(), nullptr);
  EXPECT_EQ(d.status, DiscoveryStatus::kInvalidRecord);
  for (char ch : d.reason) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << d.reason;
}

TEST(Discover, NoLookupIsTempError) {
  const Discovery d = Discover("example.com", TxtLookup(), nullptr);
  EXPECT_EQ(d.status, DiscoveryStatus::kTempError);
}

// ---------------------------------------------------------------------------
// Organizational Domains.

TEST(OrgDomainByTreeWalk, RfcExamples) {
  struct Case {
    const char* name;
    std::vector<Zone> zones;
    std::string domain;
    std::string want;
    size_t queries;
  };
  const Case cases[] = {
      {"records at mail.example.com and example.com",
       {Txt("mail.example.com", {"v=DMARC1; p=none"}), Txt("example.com", {"v=DMARC1; p=none"})},
       "a.mail.example.com", "example.com", 4},
      {"psd=n at mail.example.com",
       {Txt("mail.example.com", {"v=DMARC1; p=none; psd=n"}), Txt("example.com", {"v=DMARC1; p=none"})},
       "a.mail.example.com", "mail.example.com", 2},
      {"psd=y at com", {Txt("com", {"v=DMARC1; p=none; psd=y"})}, "a.mail.example.com", "example.com", 4},
      {"psd=y at example.com (rule 2's own example)",
       {Txt("example.com", {"v=DMARC1; p=none; psd=y"})}, "mail.example.com", "mail.example.com", 2},
      {"no record: the domain itself", {}, "a.mail.example.com", "a.mail.example.com", 4},
      {"record only at the start, psd=u", {Txt("x.example.com", {"v=DMARC1; p=none"})}, "x.example.com",
       "x.example.com", 3},
      {"psd=y at the start", {Txt("example.com", {"v=DMARC1; p=none; psd=y"})}, "example.com",
       "example.com", 1},
      {"unknown TLD, no records", {}, "a.b.unknowntld", "a.b.unknowntld", 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakeDns dns(c.zones);
    const OrgDomain o = OrgDomainByTreeWalk(c.domain, dns.Lookup());
    EXPECT_FALSE(o.temperror);
    EXPECT_EQ(o.domain, c.want);
    EXPECT_EQ(dns.asked.size(), c.queries);
    EXPECT_EQ(o.walk.size(), c.queries);
  }
  FakeDns dns({Status("example.com", TxtStatus::kTempFail)});
  const OrgDomain o = OrgDomainByTreeWalk("a.example.com", dns.Lookup());
  EXPECT_TRUE(o.temperror);
  EXPECT_EQ(o.domain, "");
  EXPECT_EQ(OrgDomainByTreeWalk("a..b", dns.Lookup()).domain, "");
}

TEST(OrgDomainByPsl, Table) {
  struct Case {
    std::string domain;
    std::string want;
  };
  const Case cases[] = {
      {"example.com", "example.com"},
      {"a.b.example.com", "example.com"},
      {"a.b.example.co.uk", "example.co.uk"},
      // libopendmarc regressions: upper case, unknown TLDs, wildcard rules.
      {"MAIL.Example.COM", "example.com"},
      {"example.com.", "example.com"},
      {"foo.unknowntld", "foo.unknowntld"},
      {"a.b.foo.unknowntld", "foo.unknowntld"},
      {"a.b.bar.ck", "b.bar.ck"},      // *.ck
      {"www.ck", "www.ck"},            // !www.ck
      {"a.www.ck", "www.ck"},
      {"a.b.city.kawasaki.jp", "city.kawasaki.jp"},  // *.kawasaki.jp, !city.kawasaki.jp
      {"x.blogspot.com", "x.blogspot.com"},          // private section
      {"a.x.blogspot.com", "x.blogspot.com"},
      // A public suffix is its own Organizational Domain.
      {"com", "com"},
      {"co.uk", "co.uk"},
      {"blogspot.com", "blogspot.com"},
      {"unknowntld", "unknowntld"},
      // U-labels are compared in A-label form.
      {"mail.b\xc3\xbc" "cher.de", "xn--bcher-kva.de"},
      {"", ""},
      {"a..com", ""},
  };
  for (const Case& c : cases) {
    const OrgDomain o = OrgDomainByPsl(c.domain);
    EXPECT_EQ(o.domain, c.want) << c.domain;
    EXPECT_FALSE(o.temperror);
    EXPECT_TRUE(o.walk.empty());
  }
}

TEST(NormalizeDomain, Table) {
  EXPECT_EQ(NormalizeDomain("Example.COM."), "example.com");
  EXPECT_EQ(NormalizeDomain("_spf.example.com"), "_spf.example.com");
  EXPECT_EQ(NormalizeDomain("r3---sn-x.example"), "r3---sn-x.example");
  EXPECT_EQ(NormalizeDomain("b\xc3\xbc" "cher.de"), "xn--bcher-kva.de");
  EXPECT_EQ(NormalizeDomain(""), std::nullopt);
  EXPECT_EQ(NormalizeDomain("."), std::nullopt);
  EXPECT_EQ(NormalizeDomain("example.com.."), std::nullopt);
  EXPECT_EQ(NormalizeDomain(".example.com"), std::nullopt);
  EXPECT_EQ(NormalizeDomain("ex ample.com"), std::nullopt);
  EXPECT_EQ(NormalizeDomain(std::string("ex\0ample.com", 12)), std::nullopt);
  EXPECT_EQ(NormalizeDomain("\xff.com"), std::nullopt);
  EXPECT_EQ(NormalizeDomain(std::string(63, 'a') + ".com"), std::string(63, 'a') + ".com");
  EXPECT_EQ(NormalizeDomain(std::string(64, 'a') + ".com"), std::nullopt);
  std::string long_name;
  while (long_name.size() < 250) long_name += "abcdefghi.";
  EXPECT_EQ(NormalizeDomain(long_name + "com"), long_name + "com");  // 253 bytes
  EXPECT_EQ(NormalizeDomain(long_name + "com."), long_name + "com");
  EXPECT_EQ(NormalizeDomain(long_name + "comx"), std::nullopt);     // 254
}

// ---------------------------------------------------------------------------
// Alignment.

// An Organizational Domain function from a table; counts its calls.
struct TableOrg {
  std::map<std::string, std::string> org;  // "!" means temperror
  int calls = 0;
  OrgDomainFn Fn() {
    return [this](sv d) {
      ++calls;
      OrgDomain o;
      auto it = org.find(std::string(d));
      const std::string v = it == org.end() ? std::string(d) : it->second;
      if (v == "!") {
        o.temperror = true;
      } else {
        o.domain = v;
      }
      return o;
    };
  }
};

TEST(Aligned, Table) {
  using A = Alignment;
  const std::map<std::string, std::string> orgs = {
      {"foo.example.com", "example.com"}, {"news.example.com", "example.com"},
      {"child.example.com", "example.com"}, {"example.com", "example.com"},
      {"foo.example.net", "example.net"},  {"sub.example.com", "example.com"},
      {"a.b.example.com", "b.example.com"}, {"b.example.com", "b.example.com"},
      {"c.example.com", "example.com"},    {"tmp.example.org", "!"},
      {"example.org", "!"},                {"x.example.org", "example.org"},
  };
  struct Case {
    const char* name;
    std::string author, identifier;
    AlignMode mode;
    Alignment want;
  };
  const Case cases[] = {
      // §4.4 Table 1.
      {"table 1: relaxed", "news.example.com", "foo.example.com", AlignMode::kRelaxed, A::kAligned},
      {"table 1: strict", "news.example.com", "news.example.com", AlignMode::kStrict, A::kAligned},
      {"table 1: none", "news.example.com", "foo.example.net", AlignMode::kRelaxed, A::kNotAligned},
      // Appendix B.1.1 (SPF) and B.1.2 (DKIM).
      {"B.1 example 1: strict", "example.com", "example.com", AlignMode::kStrict, A::kAligned},
      {"B.1.1 example 2: MAIL FROM child, relaxed", "example.com", "child.example.com",
       AlignMode::kRelaxed, A::kAligned},
      {"B.1.1 example 2 under strict", "example.com", "child.example.com", AlignMode::kStrict,
       A::kNotAligned},
      {"B.1.2 example 2: From child, d= parent", "child.example.com", "example.com",
       AlignMode::kRelaxed, A::kAligned},
      {"B.1 example 3", "child.example.com", "example.net", AlignMode::kRelaxed, A::kNotAligned},
      // libopendmarc regression: strict fell back to the org domain.
      {"strict: parent d= for subdomain From is not aligned", "sub.example.com", "example.com",
       AlignMode::kStrict, A::kNotAligned},
      {"strict: subdomain d= for parent From is not aligned", "example.com", "sub.example.com",
       AlignMode::kStrict, A::kNotAligned},
      {"strict is case-insensitive, final dot ignored", "Example.COM.", "example.com",
       AlignMode::kStrict, A::kAligned},
      {"different Organizational Domains under one name", "a.b.example.com", "c.example.com",
       AlignMode::kRelaxed, A::kNotAligned},
      {"empty identifier", "example.com", "", AlignMode::kRelaxed, A::kNotAligned},
      {"garbage identifier", "example.com", "exa mple.com", AlignMode::kRelaxed, A::kNotAligned},
      {"temp failure for the identifier", "x.example.org", "tmp.example.org", AlignMode::kRelaxed,
       A::kTempError},
      {"temp failure for the author", "example.org", "x.example.org", AlignMode::kRelaxed,
       A::kTempError},
      {"identical names need no Organizational Domain", "example.org", "example.org",
       AlignMode::kRelaxed, A::kAligned},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TableOrg t{orgs};
    EXPECT_EQ(Aligned(c.author, c.identifier, c.mode, t.Fn()), c.want);
    if (c.mode == AlignMode::kStrict) {
      EXPECT_EQ(t.calls, 0);
    }
  }
}

TEST(Aligned, UnrelatedNamesCostNoLookup) {
  TableOrg t;
  EXPECT_EQ(Aligned("example.com", "example.net", AlignMode::kRelaxed, t.Fn()), Alignment::kNotAligned);
  EXPECT_EQ(t.calls, 0);
  // The identifier is outside the author's Organizational Domain: one call.
  TableOrg u{{{"a.example.com", "a.example.com"}}};
  EXPECT_EQ(Aligned("a.example.com", "b.example.com", AlignMode::kRelaxed, u.Fn()), Alignment::kNotAligned);
  EXPECT_EQ(u.calls, 1);
}

TEST(Aligned, WithPsl) {
  const OrgDomainFn psl = [](sv d) { return OrgDomainByPsl(d); };
  EXPECT_EQ(Aligned("news.example.com", "foo.example.com", AlignMode::kRelaxed, psl), Alignment::kAligned);
  EXPECT_EQ(Aligned("a.example.co.uk", "b.example.co.uk", AlignMode::kRelaxed, psl), Alignment::kAligned);
  EXPECT_EQ(Aligned("example.co.uk", "other.co.uk", AlignMode::kRelaxed, psl), Alignment::kNotAligned);
  EXPECT_EQ(Aligned("alice.blogspot.com", "bob.blogspot.com", AlignMode::kRelaxed, psl),
            Alignment::kNotAligned);
  EXPECT_EQ(Aligned("A.Foo.UnknownTld", "b.foo.unknowntld", AlignMode::kRelaxed, psl), Alignment::kAligned);
}

// ---------------------------------------------------------------------------
// The verdict.

struct VerdictCase {
  const char* name;
  std::vector<Zone> zones;
  std::string author;
  Identifiers ids;
  OrgDomainMethod method = OrgDomainMethod::kBoth;
  Result result;
  Disposition disposition;
  bool spf_aligned = false;
  bool dkim_aligned = false;
  bool methods_disagree = false;
  Policy effective = Policy::kNone;
  Existence exists = Existence::kExists;
};

Identifiers Spf(std::string d) { return Identifiers{true, std::move(d), {}}; }
Identifiers Dkim(std::vector<std::string> d) { return Identifiers{false, "", std::move(d)}; }

TEST(Evaluate, Table) {
  using R = Result;
  using D = Disposition;
  using M = OrgDomainMethod;
  using P = Policy;
  const Zone reject = Txt("example.com", {"v=DMARC1; p=reject"});
  const std::vector<VerdictCase> cases = {
      {"p=reject, nothing aligns", {reject}, "example.com", Dkim({"example.net"}), M::kBoth, R::kFail,
       D::kReject, false, false, false, P::kReject},
      {"p=reject, no identifier at all", {reject}, "example.com", Identifiers{}, M::kBoth, R::kFail,
       D::kReject, false, false, false, P::kReject},
      {"p=reject, DKIM aligned", {reject}, "example.com", Dkim({"example.net", "example.com"}), M::kBoth,
       R::kPass, D::kAccept, false, true, false, P::kReject},
      {"p=reject, SPF aligned relaxed", {reject}, "example.com", Spf("bounce.example.com"), M::kBoth,
       R::kPass, D::kAccept, true, false, false, P::kReject},
      {"SPF did not pass: its domain does not count", {reject}, "example.com",
       Identifiers{false, "example.com", {}}, M::kBoth, R::kFail, D::kReject, false, false, false,
       P::kReject},
      {"B.3.1 example: both identifiers align",
       {Txt("example.com", {"v=DMARC1; p=reject; aspf=r; rua=mailto:dmarc-feedback@example.com"})},
       "example.com", Identifiers{true, "mail.example.com", {"example.com"}}, M::kBoth, R::kPass,
       D::kAccept, true, true, false, P::kReject},
      {"aspf=s: subdomain MAIL FROM does not align",
       {Txt("example.com", {"v=DMARC1; p=reject; aspf=s"})}, "example.com", Spf("bounce.example.com"),
       M::kBoth, R::kFail, D::kReject, false, false, false, P::kReject},
      // libopendmarc regression, end to end.
      {"adkim=s: d=sub.example.com for From example.com fails",
       {Txt("example.com", {"v=DMARC1; p=reject; adkim=s"})}, "example.com", Dkim({"sub.example.com"}),
       M::kBoth, R::kFail, D::kReject, false, false, false, P::kReject},
      {"p=quarantine fails", {Txt("example.com", {"v=DMARC1; p=quarantine"})}, "example.com",
       Dkim({"example.net"}), M::kBoth, R::kFail, D::kQuarantine, false, false, false, P::kQuarantine},
      {"p=none fails: accept", {Txt("example.com", {"v=DMARC1; p=none"})}, "example.com",
       Dkim({"example.net"}), M::kBoth, R::kFail, D::kAccept},
      // §4.7 t=y: "if the policy is reject and the value of the t tag is
      // y, a policy of quarantine will be applied to failing messages".
      {"t=y with p=reject: quarantine", {Txt("example.com", {"v=DMARC1; p=reject; t=y"})}, "example.com",
       Dkim({"example.net"}), M::kBoth, R::kFail, D::kQuarantine, false, false, false, P::kQuarantine},
      {"t=y with p=quarantine: accept", {Txt("example.com", {"v=DMARC1; p=quarantine; t=y"})},
       "example.com", Dkim({"example.net"}), M::kBoth, R::kFail, D::kAccept},
      {"pct=0 with p=reject: as t=y", {Txt("example.com", {"v=DMARC1; p=reject; pct=0"})}, "example.com",
       Dkim({"example.net"}), M::kBoth, R::kFail, D::kQuarantine, false, false, false, P::kQuarantine},
      {"pct=50 ignored: p=reject", {Txt("example.com", {"v=DMARC1; p=reject; pct=50"})}, "example.com",
       Dkim({"example.net"}), M::kBoth, R::kFail, D::kReject, false, false, false, P::kReject},
      {"sp=reject for a subdomain", {Txt("example.com", {"v=DMARC1; p=none; sp=reject"})},
       "news.example.com", Dkim({"example.net"}), M::kBoth, R::kFail, D::kReject, false, false, false,
       P::kReject},
      {"sp=reject, subdomain aligned relaxed by parent d=",
       {Txt("example.com", {"v=DMARC1; p=none; sp=reject"})}, "news.example.com", Dkim({"example.com"}),
       M::kBoth, R::kPass, D::kAccept, false, true, false, P::kReject},
      {"np=reject for a non-existent subdomain",
       {Txt("example.com", {"v=DMARC1; p=none; sp=none; np=reject"})}, "nx.example.com",
       Dkim({"example.net"}), M::kBoth, R::kFail, D::kReject, false, false, false, P::kReject,
       Existence::kNonExistent},
      {"no record: accept, result none", {}, "example.com", Dkim({"example.net"}), M::kBoth, R::kNone,
       D::kAccept},
      {"invalid record: accept, permerror", {Txt("example.com", {"v=DMARC1; p=bogus"})}, "example.com",
       Dkim({"example.net"}), M::kBoth, R::kPermError, D::kAccept},
      {"temp failure in discovery", {Status("example.com", TxtStatus::kTempFail)}, "example.com",
       Dkim({"example.com"}), M::kBoth, R::kTempError, D::kTempFail},
      {"temp failure in an identifier's walk could have passed it",
       {reject, Status("mail.example.com", TxtStatus::kTempFail)}, "example.com",
       Dkim({"mail.example.com"}), M::kTreeWalk, R::kTempError, D::kTempFail, false, false, false,
       P::kReject},
      {"... but another identifier aligns",
       {reject, Status("mail.example.com", TxtStatus::kTempFail)}, "example.com",
       Identifiers{true, "example.com", {"mail.example.com"}}, M::kTreeWalk, R::kPass, D::kAccept, true,
       false, false, P::kReject},
      {"... and under p=none it does not matter",
       {Txt("example.com", {"v=DMARC1; p=none"}), Status("mail.example.com", TxtStatus::kTempFail)},
       "example.com", Dkim({"mail.example.com"}), M::kTreeWalk, R::kTempError, D::kAccept},
      {"... and psl alone needs no DNS",
       {reject, Status("mail.example.com", TxtStatus::kTempFail)}, "example.com",
       Dkim({"mail.example.com"}), M::kPsl, R::kPass, D::kAccept, false, true, false, P::kReject},
      {"... with both, psl's pass does not settle it",
       {reject, Status("mail.example.com", TxtStatus::kTempFail)}, "example.com",
       Dkim({"mail.example.com"}), M::kBoth, R::kTempError, D::kTempFail, false, false, false,
       P::kReject},
      {"org temp failure, identical identifier still aligns",
       {Txt("news.example.com", {"v=DMARC1; p=reject"}), Status("example.com", TxtStatus::kTempFail)},
       "news.example.com", Dkim({"news.example.com"}), M::kBoth, R::kPass, D::kAccept, false, true,
       false, P::kReject},
      // tree-walk vs psl: psd=n makes a.example.com its own Organizational
      // Domain; the PSL says example.com.
      {"psd=n subdomain, tree-walk: not aligned",
       {Txt("a.example.com", {"v=DMARC1; p=reject; psd=n"})}, "a.example.com", Dkim({"b.example.com"}),
       M::kTreeWalk, R::kFail, D::kReject, false, false, false, P::kReject},
      {"psd=n subdomain, psl: aligned",
       {Txt("a.example.com", {"v=DMARC1; p=reject; psd=n"})}, "a.example.com", Dkim({"b.example.com"}),
       M::kPsl, R::kPass, D::kAccept, false, true, false, P::kReject},
      {"psd=n subdomain, both: not aligned, disagreement",
       {Txt("a.example.com", {"v=DMARC1; p=reject; psd=n"})}, "a.example.com", Dkim({"b.example.com"}),
       M::kBoth, R::kFail, D::kReject, false, false, true, P::kReject},
      // The PSL lists blogspot.com; the tree walk finds its record.
      {"blogspot.com, tree-walk: aligned", {Txt("blogspot.com", {"v=DMARC1; p=reject"})},
       "alice.blogspot.com", Dkim({"bob.blogspot.com"}), M::kTreeWalk, R::kPass, D::kAccept, false, true,
       false, P::kReject},
      {"blogspot.com, both: not aligned, disagreement", {Txt("blogspot.com", {"v=DMARC1; p=reject"})},
       "alice.blogspot.com", Dkim({"bob.blogspot.com"}), M::kBoth, R::kFail, D::kReject, false, false,
       true, P::kReject},
      {"both agree: no disagreement", {reject}, "news.example.com", Dkim({"mail.example.com"}), M::kBoth,
       R::kPass, D::kAccept, false, true, false, P::kReject},
      {"invalid DKIM domains are skipped", {reject}, "example.com", Dkim({"", "a..b", "EXAMPLE.com."}),
       M::kBoth, R::kPass, D::kAccept, false, true, false, P::kReject},
  };
  for (const VerdictCase& c : cases) {
    SCOPED_TRACE(c.name);
    FakeDns dns(c.zones);
    const Discovery d = Discover(c.author, dns.Lookup(), [&](sv) { return c.exists; });
    const size_t discovery_queries = dns.asked.size();
    const Verdict v = Evaluate(d, c.ids, c.method, dns.Lookup());
    EXPECT_EQ(v.result, c.result) << v.reason;
    EXPECT_EQ(v.disposition, c.disposition) << v.reason;
    EXPECT_EQ(v.spf_aligned, c.spf_aligned);
    EXPECT_EQ(v.dkim_aligned, c.dkim_aligned);
    EXPECT_EQ(v.methods_disagree, c.methods_disagree) << v.reason;
    if (v.result == R::kPass || v.result == R::kFail) {
      EXPECT_EQ(v.effective_policy, c.effective);
    }
    EXPECT_EQ(v.dns_queries, dns.asked.size());
    // Evaluate never asks again what Discover asked.
    for (size_t i = discovery_queries; i < dns.asked.size(); ++i) {
      for (size_t j = 0; j < discovery_queries; ++j) EXPECT_NE(dns.asked[i], dns.asked[j]);
    }
    EXPECT_FALSE(v.reason.empty());
  }
}

TEST(Evaluate, LogFields) {
  FakeDns dns({Txt("example.com", {"v=DMARC1; p=none; sp=reject; t=y"})});
  const Discovery d = Discover("news.example.com", dns.Lookup(), nullptr);
  const Verdict v = Evaluate(d, Dkim({"example.net"}), OrgDomainMethod::kBoth, dns.Lookup());
  EXPECT_EQ(v.author_domain, "news.example.com");
  EXPECT_EQ(v.policy_domain, "example.com");
  EXPECT_EQ(v.source, PolicySource::kOrganizationalDomain);
  EXPECT_EQ(v.tag, PolicyTag::kSp);
  EXPECT_EQ(v.policy, Policy::kReject);
  EXPECT_EQ(v.effective_policy, Policy::kQuarantine);
  EXPECT_TRUE(v.testing);
  EXPECT_EQ(v.org_domain_tree_walk, "example.com");
  EXPECT_EQ(v.org_domain_psl, "example.com");
  EXPECT_EQ(v.disposition, Disposition::kQuarantine);
  EXPECT_EQ(v.dns_queries, 3u);
  EXPECT_NE(v.reason.find("sp=reject at _dmarc.example.com"), std::string::npos) << v.reason;
}

TEST(Evaluate, DkimDomainsAreCapped) {
  FakeDns dns({Txt("example.com", {"v=DMARC1; p=reject"})});
  const Discovery d = Discover("example.com", dns.Lookup(), nullptr);
  std::vector<std::string> many;
  for (size_t i = 0; i < kMaxIdentifierDomains + 4; ++i) many.push_back("d" + std::to_string(i) + ".example.net");
  many.push_back("example.com");
  const Verdict v = Evaluate(d, Dkim(many), OrgDomainMethod::kBoth, dns.Lookup());
  EXPECT_EQ(v.result, Result::kFail);
  EXPECT_NE(v.reason.find("dkim domains not evaluated"), std::string::npos) << v.reason;
  // Duplicates do not count against the cap.
  std::vector<std::string> dup(40, "example.net");
  dup.push_back("example.com");
  EXPECT_EQ(Evaluate(d, Dkim(dup), OrgDomainMethod::kBoth, dns.Lookup()).result, Result::kPass);
}

TEST(Names, RoundTrip) {
  for (OrgDomainMethod m : {OrgDomainMethod::kTreeWalk, OrgDomainMethod::kPsl, OrgDomainMethod::kBoth}) {
    EXPECT_EQ(ParseOrgDomainMethod(OrgDomainMethodName(m)), m);
  }
  EXPECT_EQ(ParseOrgDomainMethod("PSL"), std::nullopt);
  EXPECT_EQ(ParseOrgDomainMethod(""), std::nullopt);
  EXPECT_EQ(ResultName(Result::kTempError), "temperror");
  EXPECT_EQ(DispositionName(Disposition::kTempFail), "tempfail");
  EXPECT_EQ(PolicyTagName(PolicyTag::kNp), "np");
  EXPECT_EQ(PolicySourceName(PolicySource::kPublicSuffixDomain), "psd");
  EXPECT_EQ(DiscoveryStatusName(DiscoveryStatus::kInvalidRecord), "invalid-record");
  EXPECT_EQ(TxtStatusName(TxtStatus::kNxDomain), "nxdomain");
}

}  // namespace
}  // namespace senderguard::dmarc
