#include "senderguard/feedback/bounce.h"

#include "senderguard/base/toml_check.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include <re2/re2.h>
#include <re2/set.h>
#include <toml.hpp>

namespace senderguard {
namespace {

// The class a rule gives a bounce. Deferrals, expiries and deliveries are
// decided by the status word, not by rules.
enum class RuleClass : uint8_t { kHard, kSoft, kTechnical };

struct Verdict {
  RuleClass cls = RuleClass::kTechnical;
  BounceCategory category = BounceCategory::kOther;
};

// Indexed by BounceCategory.
constexpr std::string_view kCategoryNames[] = {
    "none",         "recipient-unknown", "domain-unknown",   "mailbox-disabled",
    "mailbox-full", "rate-limited",      "inactive-account", "policy",
    "authentication", "network",         "too-large",        "spam",
    "expired",        "other",
};
static_assert(std::size(kCategoryNames) == static_cast<size_t>(BounceCategory::kOther) + 1);

// A dsn pattern: a whole code ("5.1.1") or a prefix ending in a dot ("5.",
// "5.1."). Whole components only: "5.1.1" does not match "5.1.10".
bool DsnMatches(std::string_view pattern, std::string_view dsn) {
  if (pattern.empty()) return true;
  if (pattern.back() == '.') return dsn.substr(0, pattern.size()) == pattern;
  return dsn == pattern;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// class "." [subject "." [detail]], class 4 or 5, subject and detail 1 to 3
// digits (RFC 3463 §2).
bool ValidDsnPattern(std::string_view p) {
  if (p.size() < 2 || (p[0] != '4' && p[0] != '5') || p[1] != '.') return false;
  size_t i = 2;
  auto digits = [&] {
    const size_t start = i;
    while (i < p.size() && IsDigit(p[i])) ++i;
    return i > start && i - start <= 3;
  };
  if (i == p.size()) return true;                       // "5."
  if (!digits() || i == p.size() || p[i] != '.') return false;  // "5.1" is neither
  if (++i == p.size()) return true;                     // "5.1."
  return digits() && i == p.size();                     // "5.1.1"
}

}  // namespace

struct BounceRules::Impl {
  struct TextRule {
    std::string dsn;  // restriction; empty: any
    Verdict verdict;
    int line = 0;
    std::string pattern;
    std::string comment;
  };
  struct CodeEntry {
    std::string key;  // a dsn pattern, or a three-digit reply code
    Verdict verdict;
    int line = 0;
    std::string comment;
  };
  // What decided, for Explain.
  struct Decision {
    Classification c;
    RuleClass rule_class = RuleClass::kTechnical;
    const CodeEntry* code = nullptr;
    bool guard = false;         // the sender guard (see Decide)
    bool client_guard = false;  // the client guard (see Decide)
    bool temporary_guard = false;  // the temporary-reply guard (see Decide)
    bool content_guard = false;    // the content-code guard (see Decide)
    std::string_view text;      // what the rules read: into the reply or the buffer
  };
  // A decision of the rules or the code tables, every guard off.
  static Decision Decided(RuleClass cls, BounceCategory category, int rule, ClassifiedBy by,
                          const CodeEntry* code);

  std::vector<TextRule> rules;
  std::unique_ptr<RE2::Set> set;  // null when there are no rules
  // The rules one by one, for when the set's DFA gives up: compiled at the
  // first such text, not at load (which they would make ~25% slower). RE2's
  // set DFA resets its cache rather than fail; no test text was found that
  // makes it give up, even with a few KiB of max_mem.
  mutable std::once_flag fallback_once;
  mutable std::vector<std::unique_ptr<RE2>> fallback;
  std::vector<CodeEntry> dsn_codes;
  std::vector<CodeEntry> reply_codes;

  // The verdict and what gave it, for any status but "sent".
  std::optional<std::pair<Verdict, int>> MatchText(std::string_view dsn,
                                                   std::string_view text) const;
  // `buffer` holds the text read when it is not a view of `reply` (a
  // multi-line reply, unfolded); Decision::text points into one of the two.
  Decision Decide(std::string_view dsn, std::string_view reply, std::string* buffer) const;
  Decision DecideText(std::string_view dsn, std::string_view server,
                      std::string_view text) const;
  // The code tables alone (steps 2 to 4 of the header), without the text rules.
  Decision DecideCodes(std::string_view dsn, std::string_view server) const;
};

namespace {

// The set's DFA holds every rule at once: give it room.
constexpr int64_t kSetMaxMem = int64_t{64} << 20;

RE2::Options PatternOptions() {
  RE2::Options o;
  o.set_case_sensitive(false);
  o.set_log_errors(false);  // errors are reported with the file line instead
  o.set_never_capture(true);
  return o;
}

[[noreturn]] void Fail(const std::string& file, const toml::value& v, std::string_view key,
                       std::string_view what) {
  TomlFail(file, v, key, what);
}

std::string TypeName(const toml::value& v) { return TomlTypeName(v); }

std::string GetString(const std::string& file, const toml::value& v, std::string_view key,
                      size_t max) {
  return TomlGetString(file, v, key, max);
}

RuleClass GetClass(const std::string& file, const toml::value& v, std::string_view key) {
  std::string s = GetString(file, v, key, 16);
  if (s == "hard") return RuleClass::kHard;
  if (s == "soft") return RuleClass::kSoft;
  if (s == "technical") return RuleClass::kTechnical;
  Fail(file, v, key, "expected \"hard\", \"soft\" or \"technical\", got \"" + s + "\"");
}

BounceCategory GetCategory(const std::string& file, const toml::value& v, std::string_view key) {
  std::string s = GetString(file, v, key, 32);
  auto c = ParseBounceCategory(s);
  if (!c || *c == BounceCategory::kNone) {
    std::string all;
    for (size_t i = 1; i < std::size(kCategoryNames); ++i) {
      all += (i > 1 ? ", " : "") + std::string(kCategoryNames[i]);
    }
    Fail(file, v, key, "unknown category \"" + s + "\" (" + all + ")");
  }
  return *c;
}

std::string GetDsn(const std::string& file, const toml::value& v, std::string_view key) {
  std::string s = GetString(file, v, key, 16);
  if (!ValidDsnPattern(s))
    Fail(file, v, key,
         "expected an enhanced status code (\"5.1.1\") or a prefix ending in a dot (\"5.\", "
         "\"5.1.\"), got \"" +
             s + "\"");
  return s;
}

const toml::value* Find(const toml::value& table, const char* key) {
  const auto& t = table.as_table();
  auto it = t.find(key);
  return it == t.end() ? nullptr : &it->second;
}

const toml::value& Require(const std::string& file, const toml::value& table,
                           const std::string& prefix, const char* key) {
  const toml::value* v = Find(table, key);
  if (v == nullptr) Fail(file, table, prefix, std::string("missing key \"") + key + "\"");
  return *v;
}

void CheckKeys(const std::string& file, const toml::value& table, const std::string& prefix,
               std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : table.as_table()) {
    bool known = false;
    for (auto a : allowed) known = known || k == a;
    if (!known) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      Fail(file, v, prefix + "." + k, "unknown key (" + list + ")");
    }
  }
}

const toml::array& RequireTables(const std::string& file, const toml::value& v,
                                 const std::string& key) {
  if (!v.is_array()) Fail(file, v, key, "expected an array of tables ([[" + key + "]])");
  for (const auto& e : v.as_array()) {
    if (!e.is_table()) Fail(file, e, key, "expected a table, got " + TypeName(e));
  }
  return v.as_array();
}

void ParseTextRules(const std::string& file, const toml::value& v, BounceRules::Impl& impl) {
  const auto& arr = RequireTables(file, v, "rule");
  if (arr.size() > kMaxBounceTextRules)
    Fail(file, v, "rule", "more than " + std::to_string(kMaxBounceTextRules) + " rules");
  const RE2::Options options = PatternOptions();
  std::vector<std::pair<std::string, const toml::value*>> patterns;
  for (size_t i = 0; i < arr.size(); ++i) {
    const toml::value& t = arr[i];
    const std::string prefix = "rule[" + std::to_string(i) + "]";
    CheckKeys(file, t, prefix, {"match", "class", "category", "dsn", "comment"});
    BounceRules::Impl::TextRule r;
    const toml::value& m = Require(file, t, prefix, "match");
    const std::string key = prefix + ".match";
    std::string pattern = GetString(file, m, key, kMaxBouncePattern);
    if (pattern.empty()) Fail(file, m, key, "must not be empty");
    r.pattern = pattern;
    r.line = static_cast<int>(m.location().line());
    r.verdict.cls = GetClass(file, Require(file, t, prefix, "class"), prefix + ".class");
    r.verdict.category =
        GetCategory(file, Require(file, t, prefix, "category"), prefix + ".category");
    if (const toml::value* d = Find(t, "dsn")) r.dsn = GetDsn(file, *d, prefix + ".dsn");
    if (const toml::value* c = Find(t, "comment"))
      r.comment = GetString(file, *c, prefix + ".comment", 4000);
    impl.rules.push_back(std::move(r));
    patterns.emplace_back(std::move(pattern), &m);
  }
  if (impl.rules.empty()) return;
  RE2::Options set_options = options;
  // The set's DFA holds every rule at once: give it room. When it still runs
  // out (a hostile text can make it build many states), Classify falls back
  // to the rules one by one.
  set_options.set_max_mem(kSetMaxMem);
  impl.set = std::make_unique<RE2::Set>(set_options, RE2::UNANCHORED);
  for (size_t i = 0; i < patterns.size(); ++i) {
    std::string error;
    if (impl.set->Add(patterns[i].first, &error) != static_cast<int>(i))
      Fail(file, *patterns[i].second, "rule[" + std::to_string(i) + "].match",
           "bad regex: " + error);
  }
  if (!impl.set->Compile()) Fail(file, v, "rule", "the rules are too large to compile together");
  // A pattern that matches the empty string matches every text: a typo such
  // as a trailing "|" would classify everything.
  std::vector<int> empty;
  if (impl.set->Match("", &empty)) {
    const int first = *std::min_element(empty.begin(), empty.end());
    Fail(file, *patterns[static_cast<size_t>(first)].second,
         "rule[" + std::to_string(first) + "].match", "matches the empty string");
  }
}

void ParseCodes(const std::string& file, const toml::value& v, BounceRules::Impl& impl) {
  const auto& arr = RequireTables(file, v, "code");
  if (arr.size() > kMaxBounceCodeEntries)
    Fail(file, v, "code", "more than " + std::to_string(kMaxBounceCodeEntries) + " entries");
  for (size_t i = 0; i < arr.size(); ++i) {
    const toml::value& t = arr[i];
    const std::string prefix = "code[" + std::to_string(i) + "]";
    CheckKeys(file, t, prefix, {"dsn", "reply", "class", "category", "comment"});
    const toml::value* d = Find(t, "dsn");
    const toml::value* r = Find(t, "reply");
    if ((d == nullptr) == (r == nullptr))
      Fail(file, t, prefix, "needs exactly one of \"dsn\" (\"5.1.1\", \"5.1.\") or \"reply\" (\"550\")");
    BounceRules::Impl::CodeEntry e;
    std::vector<BounceRules::Impl::CodeEntry>* into = &impl.dsn_codes;
    if (d != nullptr) {
      e.key = GetDsn(file, *d, prefix + ".dsn");
    } else {
      e.key = GetString(file, *r, prefix + ".reply", 8);
      if (e.key.size() != 3 || (e.key[0] != '4' && e.key[0] != '5') || !IsDigit(e.key[1]) ||
          !IsDigit(e.key[2]))
        Fail(file, *r, prefix + ".reply", "expected a 4xx or 5xx reply code such as \"550\"");
      into = &impl.reply_codes;
    }
    for (const auto& have : *into) {
      if (have.key == e.key)
        Fail(file, d != nullptr ? *d : *r, prefix, "\"" + e.key + "\" listed twice");
    }
    e.verdict.cls = GetClass(file, Require(file, t, prefix, "class"), prefix + ".class");
    e.verdict.category =
        GetCategory(file, Require(file, t, prefix, "category"), prefix + ".category");
    if (const toml::value* c = Find(t, "comment"))
      e.comment = GetString(file, *c, prefix + ".comment", 4000);
    e.line = static_cast<int>((d != nullptr ? *d : *r).location().line());
    into->push_back(std::move(e));
  }
}

OutcomeClass FromRule(RuleClass c) {
  switch (c) {
    case RuleClass::kHard: return OutcomeClass::kHard;
    case RuleClass::kSoft: return OutcomeClass::kSoft;
    case RuleClass::kTechnical: break;
  }
  return OutcomeClass::kTechnical;
}

}  // namespace

std::string_view OutcomeClassName(OutcomeClass c) {
  switch (c) {
    case OutcomeClass::kDelivered: return "delivered";
    case OutcomeClass::kDeferred: return "deferred";
    case OutcomeClass::kHard: return "hard";
    case OutcomeClass::kSoft: return "soft";
    case OutcomeClass::kTechnical: return "technical";
    case OutcomeClass::kExpired: return "expired";
  }
  return "unknown";
}

std::string_view BounceCategoryName(BounceCategory c) {
  const auto i = static_cast<size_t>(c);
  return i < std::size(kCategoryNames) ? kCategoryNames[i] : "unknown";
}

std::string_view ClassifiedByName(ClassifiedBy b) {
  switch (b) {
    case ClassifiedBy::kStatus: return "status";
    case ClassifiedBy::kTextRule: return "text";
    case ClassifiedBy::kEnhancedCode: return "dsn";
    case ClassifiedBy::kReplyCode: return "reply";
    case ClassifiedBy::kDefault: return "default";
  }
  return "unknown";
}

std::optional<BounceCategory> ParseBounceCategory(std::string_view name) {
  for (size_t i = 0; i < std::size(kCategoryNames); ++i) {
    if (kCategoryNames[i] == name) return static_cast<BounceCategory>(i);
  }
  return std::nullopt;
}

bool SuppressesRecipient(BounceCategory c) {
  return c == BounceCategory::kRecipientUnknown || c == BounceCategory::kDomainUnknown ||
         c == BounceCategory::kMailboxDisabled;
}

std::string_view ServerText(std::string_view reply) {
  // Postfix's smtp and lmtp clients (smtp_proto.c, smtp_connect.c): "host
  // NAME[ADDR] said: TEXT (in reply to CMD command)" and "host NAME[ADDR]
  // refused to talk to me: TEXT". NAME[ADDR] holds no space, so the remote
  // text cannot move these words; it can end in "(in reply to" look-alikes,
  // so only the last one is taken, and only when it ends the text.
  std::string_view rest = reply;
  if (rest.substr(0, 5) != "host ") return reply;
  rest.remove_prefix(5);
  auto sp = rest.find(' ');
  if (sp == std::string_view::npos) return reply;
  rest.remove_prefix(sp + 1);
  if (rest.substr(0, 6) == "said: ") {
    rest.remove_prefix(6);
  } else if (rest.substr(0, 23) == "refused to talk to me: ") {
    rest.remove_prefix(23);
  } else {
    return reply;
  }
  constexpr std::string_view kInReplyTo = " (in reply to ";
  constexpr std::string_view kCommand = " command)";
  if (rest.size() >= kCommand.size() && rest.substr(rest.size() - kCommand.size()) == kCommand) {
    auto at = rest.rfind(kInReplyTo);
    if (at != std::string_view::npos) rest = rest.substr(0, at);
  }
  return rest;
}

namespace {

// Which command Postfix logged `reply` as the server's answer to.
enum class Answered : uint8_t {
  kNotQuoted,      // a text Postfix wrote itself: no command
  kClient,         // the greeting ("refused to talk to me") or HELO/EHLO: only
                   // the connecting client is known to the server
  kMailFrom,       // MAIL FROM: the reverse-path, our sender address (RFC 5321 §3.3)
  kSender,         // STARTTLS, AUTH, XCLIENT, XFORWARD: no recipient yet
  kRecipientOrData,  // RCPT TO, DATA, end of DATA, or a command not listed
};

// Whether `dsn` is an enhanced code of subject 6, "Message Content or Media
// Status" (RFC 3463 §3.8): "5.6.0", "4.6.1"...
bool ContentCode(std::string_view dsn) {
  return dsn.size() >= 5 && (dsn[0] == '4' || dsn[0] == '5') && dsn[1] == '.' && dsn[2] == '6' &&
         dsn[3] == '.';
}

// `server` is ServerText(reply), which the caller has already.
Answered AnsweredCommand(std::string_view reply, std::string_view server) {
  const auto offset = static_cast<size_t>(server.data() - reply.data());
  if (offset == 0) return Answered::kNotQuoted;
  if (reply.substr(0, offset).find(" refused to talk to me: ") != std::string_view::npos)
    return Answered::kClient;
  const std::string_view after = reply.substr(offset + server.size());
  for (std::string_view cmd : {" (in reply to HELO command)", " (in reply to EHLO command)"}) {
    if (after == cmd) return Answered::kClient;
  }
  if (after == " (in reply to MAIL FROM command)") return Answered::kMailFrom;
  for (std::string_view cmd : {" (in reply to STARTTLS command)", " (in reply to AUTH command)",
                               " (in reply to XCLIENT command)",
                               " (in reply to XFORWARD command)"}) {
    if (after == cmd) return Answered::kSender;
  }
  return Answered::kRecipientOrData;
}

// Whether Postfix logged a reply as the server's answer to a command that
// names no recipient: the greeting, HELO/EHLO, STARTTLS, AUTH, MAIL FROM.
// RCPT TO, DATA and end of DATA can concern the recipient; a text Postfix
// wrote itself names no command.
bool BeforeRecipient(Answered a) {
  return a == Answered::kClient || a == Answered::kMailFrom || a == Answered::kSender;
}

// Length of an enhanced status code (RFC 3463 §2: class "." subject "."
// detail, 1 to 3 digits each) at the start of `s` whose class is `cls`; 0
// when there is none.
size_t EnhancedCodeAt(std::string_view s, char cls) {
  if (s.size() < 5 || s[0] != cls || s[1] != '.') return 0;
  size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    const size_t start = i;
    while (i < s.size() && IsDigit(s[i]) && i - start < 4) ++i;
    if (i == start || i - start > 3) return 0;
    if (part == 0) {
      if (i >= s.size() || s[i] != '.') return 0;
      ++i;
    }
  }
  return i;
}

}  // namespace

bool UnfoldReply(std::string_view server, std::string* out) {
  // Postfix's smtp client keeps every line of a multi-line reply with its
  // prefix and joins the lines with a space (smtp_chat.c collects them,
  // smtp_proto.c translit()s "\n" to " "): "550-5.1.1 The email account ...
  // Please try 550-5.1.1 double-checking ... 550 5.1.1  https://...". RFC 5321
  // §4.2.1: every line but the last is "CODE-text", the last "CODE text".
  const size_t n = server.size();
  if (n < 5 || !IsDigit(server[0]) || !IsDigit(server[1]) || !IsDigit(server[2]) ||
      server[3] != '-')
    return false;
  const char c0 = server[0], c1 = server[1], c2 = server[2];
  // The first line's enhanced code, if any: the later lines' is removed only
  // when it is the same, so that a different one stays readable.
  std::string_view enhanced;
  if (const size_t e = EnhancedCodeAt(server.substr(4), c0);
      e > 0 && n > 4 + e && server[4 + e] == ' ')
    enhanced = server.substr(4, e);
  // One pass over the places where the code's first digit follows a space.
  // A continuation line's prefix ("550-") always goes; a last line's ("550 "
  // or "550" at the end) only when it is the first one after the last
  // continuation line: kept in *out until the end, then erased. "550 "
  // before a later "550-" is text.
  out->clear();
  out->reserve(n);
  bool unfolded = false;
  size_t copied = 0;
  size_t last_line = std::string::npos;  // where in *out, and how long
  size_t last_line_size = 0;
  for (size_t k = server.find(c0, 5); k != std::string_view::npos; k = server.find(c0, k)) {
    const char sep = k + 3 < n ? server[k + 3] : '\0';
    if (server[k - 1] != ' ' || k + 3 > n || server[k + 1] != c1 || server[k + 2] != c2 ||
        (sep != '-' && sep != ' ' && sep != '\0') ||
        (sep != '-' && last_line != std::string::npos)) {
      ++k;
      continue;
    }
    size_t skip = sep == '\0' ? n : k + 4;
    if (!enhanced.empty() && server.compare(skip, enhanced.size(), enhanced) == 0 &&
        (skip + enhanced.size() == n || server[skip + enhanced.size()] == ' '))
      skip = std::min(n, skip + enhanced.size() + 1);
    out->append(server.data() + copied, k - copied);
    if (sep == '-') {
      unfolded = true;
      last_line = std::string::npos;  // a "550 " kept so far was text
    } else {
      last_line = out->size();
      last_line_size = skip - k;
      out->append(server.data() + k, skip - k);
    }
    copied = skip;
    k = skip;
  }
  out->append(server.data() + copied, n - copied);
  if (last_line != std::string::npos) {
    out->erase(last_line, last_line_size);
    unfolded = true;
  }
  return unfolded;
}

std::string_view BasicReplyCode(std::string_view reply) {
  std::string_view rest = ServerText(reply);
  if (rest.size() < 3 || (rest[0] != '4' && rest[0] != '5') || !IsDigit(rest[1]) ||
      !IsDigit(rest[2]))
    return {};
  if (rest.size() > 3 && rest[3] != ' ' && rest[3] != '-') return {};
  return rest.substr(0, 3);
}

std::optional<std::pair<Verdict, int>> BounceRules::Impl::MatchText(std::string_view dsn,
                                                                    std::string_view text) const {
  if (set == nullptr) return std::nullopt;
  // One per thread and kept: a vector per call was an allocation on every
  // classification (Match clears it; nothing read from it outlives this call).
  thread_local std::vector<int> hits;
  RE2::Set::ErrorInfo error{RE2::Set::kNoError};
  const bool any = set->Match(text, &hits, &error);
  if (!any && error.kind != RE2::Set::kNoError) {
    // The set's DFA gave up (out of memory on this text): try the rules one
    // by one, in order. Each RE2 falls back to its NFA by itself, still
    // linear in the text.
    std::call_once(fallback_once, [this] {
      // The set's memory for each rule alone: whatever compiled in the set
      // compiles alone. (One that did not would be skipped, not matched.)
      RE2::Options options = PatternOptions();
      options.set_max_mem(kSetMaxMem);
      for (const TextRule& r : rules) fallback.push_back(std::make_unique<RE2>(r.pattern, options));
    });
    for (size_t i = 0; i < rules.size(); ++i) {
      if (fallback[i]->ok() && DsnMatches(rules[i].dsn, dsn) &&
          RE2::PartialMatch(text, *fallback[i]))
        return std::make_pair(rules[i].verdict, static_cast<int>(i));
    }
    return std::nullopt;
  }
  int best = -1;
  for (int h : hits) {
    if (h < 0 || static_cast<size_t>(h) >= rules.size()) continue;
    if ((best < 0 || h < best) && DsnMatches(rules[h].dsn, dsn)) best = h;
  }
  if (best < 0) return std::nullopt;
  return std::make_pair(rules[best].verdict, best);
}

BounceRules::Impl::Decision BounceRules::Impl::Decide(std::string_view dsn, std::string_view reply,
                                                      std::string* buffer) const {
  const std::string_view server = ServerText(reply);
  std::string_view text = server.substr(0, kMaxClassifiedReply);
  if (UnfoldReply(text, buffer)) text = *buffer;
  const Answered answered = AnsweredCommand(reply, server);
  Decision d = DecideText(dsn, server, text);
  if (d.c.cls == OutcomeClass::kHard && d.c.by == ClassifiedBy::kTextRule && ContentCode(dsn)) {
    // An enhanced code of subject 6 says the message itself is the problem
    // (RFC 3463 §3.8, "Message Content or Media Status"), which no recipient
    // can be: words that a user is unknown then quote the message ("554
    // 5.6.0 header 'X-Failed-Recipients: user unknown' not allowed"), they
    // are not the receiver's verdict on the address. The codes decide.
    d = DecideCodes(dsn, server);
    d.content_guard = true;
  }
  d.text = text;
  // A hard verdict needs a recipient to blame: an answer to the greeting,
  // HELO or MAIL FROM refuses the sender ("550 Account disabled" from a
  // smarthost is about our account), so it counts as technical/policy. Words
  // that an address or a domain does not exist, in answer to MAIL FROM, say
  // it of the only address that command names, our sender address ("517
  // Domain does not exist: alice@example.com"): technical/authentication.
  if (d.c.cls == OutcomeClass::kHard && BeforeRecipient(answered)) {
    const bool address = d.c.category == BounceCategory::kRecipientUnknown ||
                         d.c.category == BounceCategory::kDomainUnknown;
    d.c.cls = OutcomeClass::kTechnical;
    d.c.category = address && answered == Answered::kMailFrom
                       ? BounceCategory::kAuthentication
                       : BounceCategory::kPolicy;
    d.guard = true;
  } else if (d.c.cls == OutcomeClass::kHard && BasicReplyCode(server).substr(0, 1) == "4") {
    // A hard verdict needs a permanent reply: a 4yz reply says the condition
    // is temporary (RFC 5321 §4.2.1, "Transient Negative Completion"), so the
    // words ("450 4.2.1 Mailbox disabled, not accepting messages", "450
    // 4.1.2 ... Domain not found") describe a state that may pass: soft, with
    // the rule's category, and no one is suppressed.
    d.c.cls = OutcomeClass::kSoft;
    d.temporary_guard = true;
  } else if ((d.c.by == ClassifiedBy::kReplyCode || d.c.by == ClassifiedBy::kDefault) &&
             BasicReplyCode(server).substr(0, 1) == "5" &&
             answered == Answered::kClient) {
    // A permanent refusal of the greeting or of HELO/EHLO that no rule and no
    // enhanced code explains ("550 Rejected" to EHLO): the server knows only
    // the connecting client then (its IP, its reverse DNS, its HELO name), so
    // the refusal is about who is sending (RFC 5321 §3.1: a server may refuse
    // a client at the greeting), not the message or a recipient.
    d.c.cls = OutcomeClass::kTechnical;
    d.c.category = BounceCategory::kPolicy;
    d.client_guard = true;
  }
  return d;
}

BounceRules::Impl::Decision BounceRules::Impl::Decided(RuleClass cls, BounceCategory category,
                                                       int rule, ClassifiedBy by,
                                                       const CodeEntry* code) {
  Decision d;
  d.c = {FromRule(cls), category, rule, by};
  d.rule_class = cls;
  d.code = code;
  return d;
}

BounceRules::Impl::Decision BounceRules::Impl::DecideText(std::string_view dsn,
                                                          std::string_view server,
                                                          std::string_view text) const {
  if (auto m = MatchText(dsn, text)) {
    return Decided(m->first.cls, m->first.category, m->second, ClassifiedBy::kTextRule, nullptr);
  }
  return DecideCodes(dsn, server);
}

BounceRules::Impl::Decision BounceRules::Impl::DecideCodes(std::string_view dsn,
                                                           std::string_view server) const {
  const CodeEntry* best = nullptr;
  for (const auto& e : dsn_codes) {
    if (DsnMatches(e.key, dsn) && (best == nullptr || e.key.size() > best->key.size())) best = &e;
  }
  if (best != nullptr) {
    return Decided(best->verdict.cls, best->verdict.category, -1, ClassifiedBy::kEnhancedCode,
                   best);
  }
  if (std::string_view code = BasicReplyCode(server); !code.empty()) {
    for (const auto& e : reply_codes) {
      if (e.key == code) {
        return Decided(e.verdict.cls, e.verdict.category, -1, ClassifiedBy::kReplyCode, &e);
      }
    }
  }
  return Decided(RuleClass::kTechnical, BounceCategory::kOther, -1, ClassifiedBy::kDefault,
                 nullptr);
}

BounceRules::BounceRules() = default;
BounceRules::~BounceRules() = default;
BounceRules::BounceRules(BounceRules&&) noexcept = default;
BounceRules& BounceRules::operator=(BounceRules&&) noexcept = default;

Result<BounceRules> BounceRules::Parse(std::string_view text, std::string_view name) {
  const std::string file(name);
  auto impl = std::make_unique<Impl>();
  auto read = [&](const toml::value& root) {
    if (const toml::value* r = Find(root, "rule")) ParseTextRules(file, *r, *impl);
    if (const toml::value* c = Find(root, "code")) ParseCodes(file, *c, *impl);
    for (const auto& [k, v] : root.as_table()) {
      if (k != "rule" && k != "code") Fail(file, v, k, "unknown key ([[rule]], [[code]])");
    }
  };
  Status st = ParseToml(text, file, kMaxBounceRulesBytes,
                        TomlLimits{.max_depth = 8, .reject_controls = true}, read);
  if (!st.ok()) return st;
  BounceRules rules;
  rules.impl_ = std::move(impl);
  return rules;
}

Result<BounceRules> BounceRules::Load(const std::string& path) {
  auto text = ReadTomlFile(path, kMaxBounceRulesBytes);
  if (!text.ok()) return text.status();
  return Parse(text.value(), path);
}

Classification BounceRules::Classify(std::string_view status, std::string_view dsn,
                                     std::string_view reply) const {
  DeliveryStatus s = DeliveryStatus::kOther;
  if (status == "sent") s = DeliveryStatus::kSent;
  else if (status == "bounced") s = DeliveryStatus::kBounced;
  else if (status == "expired") s = DeliveryStatus::kExpired;
  else if (status == "deferred") s = DeliveryStatus::kDeferred;
  else if (status == "SOFTBOUNCE") s = DeliveryStatus::kSoftBounce;
  return Classify(s, dsn, reply);
}

Classification BounceRules::Classify(DeliveryStatus status, std::string_view dsn,
                                     std::string_view reply) const {
  if (status == DeliveryStatus::kSent) {
    return {OutcomeClass::kDelivered, BounceCategory::kNone, -1, ClassifiedBy::kStatus};
  }
  static const Impl kEmpty;
  // Only a multi-line reply is copied into it; one per thread, so that the
  // tailer's hot path does not allocate for each (Classify stays reentrant:
  // nothing read from it outlives this call).
  thread_local std::string buffer;
  Classification c = (impl_ != nullptr ? *impl_ : kEmpty).Decide(dsn, reply, &buffer).c;
  switch (status) {
    case DeliveryStatus::kBounced:
      break;
    case DeliveryStatus::kExpired:
      c.cls = OutcomeClass::kExpired;
      break;
    default:  // deferred, SOFTBOUNCE, and words this build does not know
      c.cls = OutcomeClass::kDeferred;
      break;
  }
  return c;
}

namespace {

std::string_view RuleClassName(RuleClass c) {
  switch (c) {
    case RuleClass::kHard: return "hard";
    case RuleClass::kSoft: return "soft";
    case RuleClass::kTechnical: break;
  }
  return "technical";
}

}  // namespace

BounceRules::Explanation BounceRules::Explain(std::string_view status, std::string_view dsn,
                                              std::string_view reply) const {
  Explanation e;
  e.result = Classify(status, dsn, reply);
  if (e.result.by == ClassifiedBy::kStatus) return e;
  static const Impl kEmpty;
  const Impl& impl = impl_ != nullptr ? *impl_ : kEmpty;
  std::string buffer;
  const Impl::Decision d = impl.Decide(dsn, reply, &buffer);
  e.server_text = std::string(d.text);
  e.rule_class = RuleClassName(d.rule_class);
  e.sender_guard = d.guard;
  e.client_guard = d.client_guard;
  e.temporary_guard = d.temporary_guard;
  e.content_guard = d.content_guard;
  if (impl.set != nullptr && !d.text.empty()) {
    std::vector<int> hits;
    if (impl.set->Match(d.text, &hits)) {
      std::sort(hits.begin(), hits.end());
      for (int h : hits) {
        if (h < 0 || static_cast<size_t>(h) >= impl.rules.size()) continue;
        if (d.c.by == ClassifiedBy::kTextRule && h >= d.c.rule) break;
        if (!DsnMatches(impl.rules[static_cast<size_t>(h)].dsn, dsn)) e.dsn_excluded.push_back(h);
      }
    }
  }
  if (d.c.by == ClassifiedBy::kTextRule) {
    const Impl::TextRule& r = impl.rules[static_cast<size_t>(d.c.rule)];
    e.line = r.line;
    e.pattern = r.pattern;
    e.dsn_restriction = r.dsn;
    e.comment = r.comment;
  } else if (d.code != nullptr) {
    e.line = d.code->line;
    e.code_key = d.code->key;
    e.comment = d.code->comment;
  }
  return e;
}

std::string_view BounceRules::RuleDsn(int index) const {
  if (impl_ == nullptr || index < 0 || static_cast<size_t>(index) >= impl_->rules.size()) return {};
  return impl_->rules[static_cast<size_t>(index)].dsn;
}

size_t BounceRules::size() const { return impl_ != nullptr ? impl_->rules.size() : 0; }

size_t BounceRules::code_count() const {
  return impl_ != nullptr ? impl_->dsn_codes.size() + impl_->reply_codes.size() : 0;
}

int BounceRules::RuleLine(int index) const {
  if (impl_ == nullptr || index < 0 || static_cast<size_t>(index) >= impl_->rules.size()) return 0;
  return impl_->rules[static_cast<size_t>(index)].line;
}

}  // namespace senderguard
