#include "senderguard/policy/account_import.h"

#include <cctz/time_zone.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "senderguard/base/text.h"
#include "senderguard/decide/account_state.h"
#include "senderguard/decide/identity.h"
#include "senderguard/decide/quota.h"

namespace senderguard {
namespace {

constexpr size_t kColumns = 11;
constexpr uint64_t kMaxLimit = 1000000000000ULL;  // as `quota set` takes
constexpr size_t kMaxReason = 1000;
constexpr size_t kMaxDomains = 1000;
constexpr int64_t kMaxReinstatement = 3660LL * 86400;  // as ParseDuration: ten years

// Splits one CSV line into fields (RFC 4180: a field in double quotes may
// hold commas and "" for a quote). False with *why when a quote is not closed
// or is followed by something other than a comma.
bool SplitCsv(std::string_view line, std::vector<std::string>* out, std::string* why) {
  out->clear();
  size_t i = 0;
  while (true) {
    std::string field;
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (true) {
        if (i >= line.size()) {
          *why = "a quoted field is not closed";
          return false;
        }
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field.push_back(line[i++]);
      }
      if (i < line.size() && line[i] != ',') {
        *why = "text after a quoted field";
        return false;
      }
    } else {
      const size_t comma = line.find(',', i);
      const size_t end = comma == std::string_view::npos ? line.size() : comma;
      field.assign(line.substr(i, end - i));
      if (field.find('"') != std::string::npos) {
        *why = "a quote inside an unquoted field";
        return false;
      }
      i = end;
    }
    out->push_back(std::string(FromSpreadsheetSafe(field)));
    if (i >= line.size()) return true;
    ++i;  // the comma
  }
}

std::optional<uint64_t> ParseLimitField(const std::string& v) {
  if (v.empty() || v == "default") return kInheritLimit;
  if (v == "unlimited") return kUnlimited;
  if (v.size() > 13 || v.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const uint64_t n = std::stoull(v);
  if (n > kMaxLimit) return std::nullopt;
  return n;
}

std::optional<bool> ParseYesNo(const std::string& v) {
  if (v.empty() || v == "no") return false;
  if (v == "yes") return true;
  return std::nullopt;
}

std::optional<int64_t> ParseUtcTime(const std::string& v) {
  cctz::time_point<cctz::seconds> tp;
  if (v.size() != 20 || !cctz::parse("%Y-%m-%dT%H:%M:%SZ", v, cctz::utc_time_zone(), &tp)) return std::nullopt;
  return tp.time_since_epoch().count();
}

std::string LimitField(uint64_t limit) {
  if (limit == kInheritLimit) return "";
  if (limit == kUnlimited) return "unlimited";
  return std::to_string(limit);
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The next line of *text without its line end (LF or CR LF); counts it.
std::string_view NextLine(std::string_view* text, size_t* line_no) {
  const size_t nl = text->find('\n');
  std::string_view line = text->substr(0, nl);
  *text = nl == std::string_view::npos ? std::string_view() : text->substr(nl + 1);
  ++*line_no;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// A CSV record that starts with `line`: a quoted field may hold line breaks
// (export writes a reason that has one so): while the quotes are open, the
// record goes on over the next lines, joined into *joined.
std::string_view WholeRecord(std::string_view line, std::string_view* text, size_t* line_no, std::string* joined) {
  if (std::count(line.begin(), line.end(), '"') % 2 == 0) return line;
  joined->assign(line);
  while (std::count(joined->begin(), joined->end(), '"') % 2 == 1 && !text->empty()) {
    joined->append("\n").append(NextLine(text, line_no));
  }
  return *joined;
}

constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

std::string SpreadsheetSafe(std::string_view field) {
  // OWASP's "CSV injection": these start a formula (TAB and CR too, in
  // some spreadsheets); ' itself, so that taking one off gives it back.
  if (!field.empty() && std::string_view("=+-@\t\r'").find(field.front()) != std::string_view::npos) {
    return "'" + std::string(field);
  }
  return std::string(field);
}

std::string_view FromSpreadsheetSafe(std::string_view field) {
  if (!field.empty() && field.front() == '\'') field.remove_prefix(1);
  return field;
}

std::string CsvField(std::string_view raw) {
  const std::string text = SpreadsheetSafe(raw);
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

AccountCsv ParseAccountCsv(std::string_view text, int64_t now, const DomainCheck& domain) {
  AccountCsv out;
  auto error = [&](size_t line, const std::string& what) {
    ++out.error_count;
    if (out.errors.size() < kMaxImportErrors) out.errors.push_back("line " + std::to_string(line) + ": " + what);
  };
  std::map<std::string, size_t> seen;  // account -> line
  // A spreadsheet's "CSV UTF-8" starts with a byte order mark.
  if (text.substr(0, 3) == kBom) text.remove_prefix(3);
  size_t line_no = 0;
  bool header = false;
  std::vector<std::string> f;
  std::string joined;
  while (!text.empty()) {
    std::string_view line = NextLine(&text, &line_no);
    if (line.empty() || line.front() == '#') continue;
    const size_t first_line = line_no;
    line = WholeRecord(line, &text, &line_no, &joined);
    if (!header) {
      if (line != kAccountCsvHeader) {
        error(line_no, "the first line must be the header \"" + std::string(kAccountCsvHeader) + "\"");
        ++out.bad_lines;
        return out;
      }
      header = true;
      continue;
    }
    std::string why;
    if (!SplitCsv(line, &f, &why)) {
      error(first_line, why);
      ++out.bad_lines;
      continue;
    }
    if (f.size() != kColumns) {
      error(first_line, std::to_string(f.size()) + " fields; the header has " + std::to_string(kColumns));
      ++out.bad_lines;
      continue;
    }
    AccountSettings s;
    s.line = first_line;
    bool ok = true;
    auto bad = [&](const std::string& what) {
      error(first_line, what);
      if (ok) ++out.bad_lines;
      ok = false;
    };
    const std::optional<std::string> name = NormalizeAccount(f[0]);
    if (!name) {
      bad("account: not an account name: \"" + Printable(f[0], 60) + "\"");
    } else {
      s.account = *name;
      if (auto [it, fresh] = seen.emplace(*name, line_no); !fresh) {
        bad("account " + Printable(*name, 60) + " is already on line " + std::to_string(it->second));
      }
    }
    for (Window w : kAllWindows) {
      const std::string& v = f[1 + Index(w)];
      const auto limit = ParseLimitField(v);
      if (!limit) {
        bad(std::string(WindowName(w)) + ": \"" + Printable(v, 30) +
            "\": a number from 0 to 1000000000000, \"unlimited\", or empty for the default");
      } else {
        s.limits[Index(w)] = *limit;
      }
    }
    const std::string& state = f[5];
    if (state == "active" || state.empty()) {
      s.state = AccountStatus::kActive;
    } else if (state == "suspended") {
      s.state = AccountStatus::kSuspended;
    } else if (state == "reinstated") {
      s.state = AccountStatus::kReinstated;
    } else {
      bad("state: \"" + Printable(state, 30) + "\": active, suspended or reinstated");
    }
    s.reason = f[6];
    if (s.state == AccountStatus::kActive && !s.reason.empty()) {
      bad("reason: given for an active account (a reason is why it is suspended)");
    } else if (s.state != AccountStatus::kActive && (s.reason.empty() || s.reason.size() > kMaxReason)) {
      bad("reason: a suspended or reinstated account needs one, 1 to 1000 bytes");
    }
    if (s.state == AccountStatus::kReinstated || (s.state == AccountStatus::kSuspended && !f[7].empty())) {
      // Reinstated: when it is suspended again; suspended: when a timed
      // suspension ends (empty: until reinstated).
      const auto until = ParseUtcTime(f[7]);
      if (!until) {
        bad("until: \"" + Printable(f[7], 30) + "\": when the reinstatement or suspension ends, as 2026-12-08T00:00:00Z");
      } else if (*until <= now) {
        bad("until: " + f[7] + " has passed (give state " +
            (s.state == AccountStatus::kReinstated ? "suspended" : "active") + ")");
      } else if (*until - now > kMaxReinstatement) {
        bad("until: " + f[7] + " is more than ten years away (as --for allows at most)");
      } else {
        s.until = *until;
      }
    } else if (!f[7].empty()) {
      bad("until: only for a reinstated or suspended account");
    }
    const auto dry = ParseYesNo(f[8]), only = ParseYesNo(f[9]);
    if (!dry) bad("dry_run: \"" + Printable(f[8], 30) + "\": yes or no");
    if (!only) bad("domains_only: \"" + Printable(f[9], 30) + "\": yes or no");
    s.dry_run = dry.value_or(false);
    s.domains_only = only.value_or(false);
    std::string_view rest = f[10];
    while (!rest.empty()) {
      const size_t sp = rest.find(' ');
      const std::string_view word = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
      if (word.empty()) continue;
      std::string dwhy;
      const auto d = domain(word, &dwhy);
      if (!d) {
        bad("domains: " + dwhy);
      } else if (std::find(s.domains.begin(), s.domains.end(), *d) == s.domains.end()) {
        s.domains.push_back(*d);
      }
    }
    if (s.domains.size() > kMaxDomains) bad("domains: more than 1000");
    if (s.domains_only && s.domains.empty()) bad("domains_only: yes with no domain would refuse all its mail");
    if (ok) out.rows.push_back(std::move(s));
  }
  if (!header && out.error_count == 0) {
    error(line_no == 0 ? 1 : line_no, "no header line: the file is empty");
    ++out.bad_lines;
  }
  return out;
}

std::string AccountCsvLine(const AccountRecord& rec, int64_t now) {
  const EffectiveState st = EffectiveAt(rec, now);
  std::string line = CsvField(rec.name);
  for (Window w : kAllWindows) line += "," + LimitField(rec.limits[Index(w)]);
  line += "," + std::string(AccountStatusName(st.status));
  line += "," + (st.status == AccountStatus::kActive ? std::string() : CsvField(rec.status_reason));
  const bool timed = st.status == AccountStatus::kSuspended && rec.suspended_until > 0;
  line += "," + (st.status == AccountStatus::kReinstated ? FormatUtc(rec.reinstated_until)
                 : timed                                 ? FormatUtc(rec.suspended_until)
                                                         : std::string());
  line += std::string(",") + (rec.dry_run ? "yes" : "no");
  line += std::string(",") + (rec.domains_only ? "yes" : "no");
  std::string domains;
  for (const auto& d : rec.domains) domains += (domains.empty() ? "" : " ") + d;
  line += "," + CsvField(domains);
  return line;
}

std::string ApplySettings(const AccountSettings& s, AccountRecord* rec, std::string_view actor, int64_t now) {
  std::string changed;
  auto note = [&](const std::string& what) { changed += (changed.empty() ? "" : " ") + what; };
  for (Window w : kAllWindows) {
    const size_t i = Index(w);
    if (rec->limits[i] == s.limits[i]) continue;
    rec->limits[i] = s.limits[i];
    note(std::string(WindowName(w)) + "=" + (s.limits[i] == kInheritLimit ? "default" : LimitField(s.limits[i])));
  }
  const EffectiveState st = EffectiveAt(*rec, now);
  switch (s.state) {
    case AccountStatus::kActive:
      if (st.status != AccountStatus::kActive) {  // a timed suspension that ended is active
        (void)Reinstate(rec, actor, now, std::nullopt);
        rec->rates_since = now;  // as `reinstate` does: the days before do not count again
        note("state=active");
      }
      break;
    case AccountStatus::kSuspended:
      // Suspended already, for the same reason and until the same time: a
      // timed reinstatement that ended reads as suspended for good (as
      // export wrote it), and stays as it is.
      if (st.status != AccountStatus::kSuspended || rec->status_reason != s.reason ||
          (rec->status == AccountStatus::kSuspended ? rec->suspended_until != s.until : s.until != 0)) {
        if (s.until > 0) {
          (void)SuspendFor(rec, s.reason, actor, now, s.until - now);
          note("state=suspended until=" + FormatUtc(s.until));
        } else {
          Suspend(rec, s.reason, actor, now);
          note("state=suspended");
        }
      }
      break;
    case AccountStatus::kReinstated:
      if (rec->status != AccountStatus::kReinstated || rec->reinstated_until != s.until ||
          rec->status_reason != s.reason) {
        Suspend(rec, s.reason, actor, now);
        (void)Reinstate(rec, actor, now, s.until - now);
        rec->rates_since = now;
        note("state=reinstated until=" + FormatUtc(s.until));
      }
      break;
  }
  if (rec->dry_run != s.dry_run) {
    rec->dry_run = s.dry_run;
    note(std::string("dry_run=") + (s.dry_run ? "yes" : "no"));
  }
  if (rec->domains_only != s.domains_only) {
    rec->domains_only = s.domains_only;
    note(std::string("domains_only=") + (s.domains_only ? "yes" : "no"));
  }
  if (Sorted(rec->domains) != Sorted(s.domains)) {
    rec->domains = s.domains;
    note("domains=" + std::to_string(s.domains.size()));
  }
  return changed;
}

SuppressionList ParseSuppressionList(std::string_view text, int64_t now) {
  SuppressionList out;
  auto error = [&](size_t line, std::string what) {
    if (++out.error_count <= kMaxImportErrors) out.errors.emplace_back(line, std::move(what));
  };
  if (text.substr(0, 3) == kBom) text.remove_prefix(3);
  size_t line_no = 0;
  bool first = true, csv = false;
  std::vector<std::string> f;
  std::string joined;
  while (!text.empty()) {
    std::string_view line = NextLine(&text, &line_no);
    if (line.empty() || line.front() == '#') continue;
    if (first) {
      first = false;
      csv = line == kSuppressionCsvHeader;
      if (csv) continue;
    }
    const size_t first_line = line_no;
    SuppressionLine s;
    s.line = first_line;
    std::string raw;
    if (csv) {
      line = WholeRecord(line, &text, &line_no, &joined);
      std::string why;
      if (!SplitCsv(line, &f, &why)) {
        error(first_line, why);
        continue;
      }
      if (f.size() != 4) {
        error(first_line, std::to_string(f.size()) + " fields; the header has 4 (" +
                              std::string(kSuppressionCsvHeader) + ")");
        continue;
      }
      raw = f[0];
      s.reason = f[1];
      if (!f[2].empty()) {
        s.added = ParseUtcTime(f[2]);
        if (!s.added) {
          error(first_line, "added: \"" + Printable(f[2], 30) + "\": when it was added, as 2026-12-08T00:00:00Z");
          continue;
        }
        if (*s.added > now) {
          error(first_line, "added: " + f[2] + " is in the future");
          continue;
        }
      }
      s.by = f[3];
      if (s.by.size() > 255) {
        error(first_line, "by: longer than 255 bytes");
        continue;
      }
    } else {
      // The older form: ADDRESS[,REASON], the reason the rest of the line.
      const size_t comma = line.find(',');
      raw = FromSpreadsheetSafe(line.substr(0, comma));
      if (comma != std::string_view::npos) s.reason = FromSpreadsheetSafe(line.substr(comma + 1));
    }
    std::string why;
    const std::optional<std::string> address = NormalizeAddress(raw, &why);
    if (!address) {
      error(first_line, "invalid address \"" + raw.substr(0, 60) + (raw.size() > 60 ? "...\"" : "\"") + ": " + why);
      continue;
    }
    if (s.reason.size() > kMaxReason) {
      error(first_line, "reason longer than 1000 bytes");
      continue;
    }
    s.address = *address;
    out.rows.push_back(std::move(s));
  }
  return out;
}

std::string SuppressionCsvLine(const SuppressionRecord& rec) {
  return CsvField(rec.address) + "," + CsvField(rec.reason) + "," + FormatUtc(rec.since) + "," + CsvField(rec.actor);
}

}  // namespace senderguard
