// senderguardctl report (ACCOUNT | --all) [--days N] [--json | --csv | --svg FILE] [--wide]:
// an account's delivery outcomes day by day, from the day counts the tailer
// and the ARF ingester store (UTC days, the store's buckets): attempted,
// delivered, hard, soft, technical, deferred, expired, complaints, the day's
// complaint and hard-bounce rates, the reputation score at the day's end and
// the day's verdict (what the tier steps on); and from the milter's figures
// (Store::AddSendingDays): the units committed against the quota, the SMTP
// refusals and the tier in force that day. --all sums every account and the
// outcomes attributed to none: the platform's totals (no tier).
//
// The numbers are BuildReport's (decide/delivery_report.h); this file reads
// the store and formats. Human output fits 80 columns (counts written short,
// 12k, 1.2M, rounded down; --wide writes them whole); JSON and CSV give whole
// numbers and rates as fractions. --svg writes the chart
// (decide/delivery_chart.h) to FILE through a temporary file beside it,
// renamed over it once whole, so a failure leaves no half file ("-": stdout),
// and names the file written on stdout.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>

#include "cli.h"
#include "senderguard/policy/account_import.h"
#include "senderguard/decide/account_state.h"
#include "senderguard/decide/delivery_chart.h"
#include "senderguard/decide/delivery_report.h"
#include "senderguard/feedback/feedback.h"

namespace senderguard::cli {

namespace {

constexpr const char* kFields[] = {"attempted", "delivered", "hard",       "soft",
                                   "technical", "deferred",  "expired",    "complaints"};

std::array<uint64_t, 8> Values(const DayCounts& c) {
  return {c.attempted(), c.delivered, c.hard, c.soft, c.technical, c.deferred, c.expired, c.complaints};
}

std::string_view VerdictText(DayVerdict v) {
  // "-": too little mail that day to judge it.
  return v == DayVerdict::kUnjudged ? "-" : DayVerdictName(v);
}

// A rate with nothing to divide by (no mail delivered, none attempted) is
// not 0%: null in JSON (RateJson), empty in CSV, "-" in the table.
std::string RateCsv(double rate, uint64_t whole) {
  if (whole == 0) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", rate);
  return buf;
}

nlohmann::json CountsJson(const DayCounts& c, double complaint_rate, double hard_rate) {
  nlohmann::json j;
  const auto v = Values(c);
  for (size_t i = 0; i < v.size(); ++i) j[kFields[i]] = v[i];
  j["complaint_rate"] = RateJson(complaint_rate, c.delivered);
  j["hard_bounce_rate"] = RateJson(hard_rate, c.attempted());
  return j;
}

// The buckets of one account from `first` to `last`: the delivery counts
// into *counts, the milter's figures into *sending (its tier only
// `with_tier`: a platform's days have none). Returns how many were stored.
size_t ReadBuckets(Store& store, const std::string& account, int64_t first, int64_t last,
                   bool with_tier, DayBuckets* counts, SendingBuckets* sending) {
  const StoredDays days = Take(store.GetDays(account, first, last));
  for (const auto& [day, d] : days) {
    counts->emplace_back(day, ToDayCounts(d));
    sending->emplace_back(day, SendingFigures{d.quota_used, d.refused, with_tier ? d.tier : 0});
  }
  return days.size();
}

// The tier as the table shows it: "-" when the milter saw no mail that day.
std::string TierText(int tier) { return tier == 0 ? "-" : std::to_string(tier); }

nlohmann::json TierJson(int tier) { return tier == 0 ? nlohmann::json(nullptr) : nlohmann::json(tier); }

// A rate in percent within 4 columns, the "%" in the header: "0.12",
// "12.3", "100", ">999" (a complaint rate can exceed 100%: complaints
// arrive for mail delivered on earlier days).
std::string RateCell(double rate) {
  const double pct = rate * 100.0;
  char buf[32];
  if (pct < 9.995) {
    std::snprintf(buf, sizeof buf, "%.2f", pct);
  } else if (pct < 99.95) {
    std::snprintf(buf, sizeof buf, "%.1f", pct);
  } else if (pct < 999.5) {
    std::snprintf(buf, sizeof buf, "%.0f", pct);
  } else {
    return ">999";
  }
  return buf;
}

void PrintCsv(const Report& r, const std::string& account) {
  std::printf("account,day");
  for (const char* f : kFields) std::printf(",%s", f);
  // The milter's figures last: the columns before keep their places.
  std::printf(",complaint_rate,hard_bounce_rate,score,verdict,quota_used,refused,tier\n");
  // The account first, so that reports joined stay apart (empty for --all),
  // as exports write it: quoted when it must be, and safe from a spreadsheet
  // that would read "=..." as a formula (policy/account_import.h CsvField).
  const std::string name = CsvField(account);
  for (const ReportDay& d : r.days) {
    std::printf("%s,%s", name.c_str(), DayString(d.day).c_str());
    for (uint64_t v : Values(d.counts)) std::printf(",%llu", static_cast<unsigned long long>(v));
    std::printf(",%s,%s,%d,%s,%llu,%llu,%s\n", RateCsv(d.complaint_rate, d.counts.delivered).c_str(),
                RateCsv(d.hard_rate, d.counts.attempted()).c_str(), d.score,
                std::string(DayVerdictName(d.verdict)).c_str(),
                static_cast<unsigned long long>(d.sending.quota_used),
                static_cast<unsigned long long>(d.sending.refused),
                d.sending.tier == 0 ? "" : std::to_string(d.sending.tier).c_str());
  }
}

void PrintTable(const Report& r, const std::string& title, int window_days, bool wide) {
  struct Row {
    std::string day, v[10], crate, hrate, score, tier, verdict;
  };
  std::vector<Row> rows;
  auto add = [&](std::string day, const DayCounts& c, uint64_t used, uint64_t refused, double cr,
                 double hr, std::string score, std::string tier, std::string verdict) {
    Row row;
    row.day = std::move(day);
    const auto v = Values(c);
    for (size_t i = 0; i < v.size(); ++i) row.v[i] = Count(v[i], wide);
    row.v[8] = Count(used, wide);
    row.v[9] = Count(refused, wide);
    row.crate = c.delivered == 0 ? "-" : RateCell(cr);
    row.hrate = c.attempted() == 0 ? "-" : RateCell(hr);
    row.score = std::move(score);
    row.tier = std::move(tier);
    row.verdict = std::move(verdict);
    rows.push_back(std::move(row));
  };
  for (const ReportDay& d : r.days) {
    // MM-DD: the title has the years.
    add(DayString(d.day).substr(5), d.counts, d.sending.quota_used, d.sending.refused,
        d.complaint_rate, d.hard_rate, std::to_string(d.score), TierText(d.sending.tier),
        std::string(VerdictText(d.verdict)));
  }
  add("total", r.totals, r.quota_used, r.refused, r.complaint_rate, r.hard_rate, "", "", "");
  // 5 + 12 x 5 + 4 + 2 + 8 columns: 79.
  size_t w = 4;
  if (wide) {
    for (const Row& row : rows) {
      for (const auto& v : row.v) w = std::max(w, v.size());
    }
  }
  const int cw = static_cast<int>(w);
  std::printf("%s\n", title.c_str());
  std::printf("%-5s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %4s %4s %3s %1s %s\n", "DAY", cw, "ATT", cw,
              "DLVD", cw, "HARD", cw, "SOFT", cw, "TECH", cw, "DEFR", cw, "EXPD", cw, "CMPL", cw, "USED",
              cw, "RFSD", "CMP%", "HRD%", "SCR", "T", "VERDICT");
  for (const Row& row : rows) {
    std::printf("%-5s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %4s %4s %3s %1s %s\n", row.day.c_str(), cw,
                row.v[0].c_str(), cw, row.v[1].c_str(), cw, row.v[2].c_str(), cw, row.v[3].c_str(), cw,
                row.v[4].c_str(), cw, row.v[5].c_str(), cw, row.v[6].c_str(), cw, row.v[7].c_str(), cw,
                row.v[8].c_str(), cw, row.v[9].c_str(), row.crate.c_str(), row.hrate.c_str(),
                row.score.c_str(), row.tier.c_str(), row.verdict.c_str());
  }
  std::printf("UTC days. ATT attempted (final outcomes), DLVD delivered, TECH technical,\n"
              "DEFR deferred (not final), EXPD expired, CMPL complaints; from the milter: USED\n"
              "units counted against the quota, RFSD refusals it replied, T the tier in force\n"
              "(- no mail seen). CMP%% complaints of delivered, HRD%% hard of attempted, in\n"
              "percent (- nothing to divide by). SCR: the reputation score over the %d days\n"
              "ending that day. VERDICT: the day judged clean or bad (the tier steps on it),\n"
              "- too little mail to judge.\n%s",
              window_days, wide ? "" : "Counts: k/M/G = 10^3/6/9, rounded down.\n");
}

// Writes `text` to `path` whole or not at all: to a new temporary file in
// the same directory (mkstemp: never one that exists), synced, given the
// mode a new file gets (0666 less the umask), then renamed over `path`. Any
// failure removes the temporary file and throws Failure{kExitIoError} naming
// `path` and why. "-" writes to standard output.
void WriteWhole(const std::string& path, const std::string& text) {
  if (path == "-") {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
        std::fflush(stdout) != 0) {
      throw Failure{kExitIoError, "report: cannot write the SVG to standard output: " +
                                      std::string(std::strerror(errno))};
    }
    return;
  }
  auto fail = [&path](int err) {
    return Failure{kExitIoError, "report: cannot write " + path + ": " + std::strerror(err)};
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw fail(EISDIR);
  std::string tmp = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw fail(errno);
  auto abandon = [&](int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(err);
  };
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, 0666 & ~mask) != 0) throw abandon(errno);
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw abandon(n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) throw abandon(errno);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw fail(err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw fail(err);
  }
}

}  // namespace

void AddReportCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand("report", "An account's delivery outcomes day by day (or --all)");
  cmd->footer(
      "Examples:\n  senderguardctl report alice --days 7\n"
      "  senderguardctl report --all --days 90 --svg platform-90-days.svg");
  static std::string account, svg;
  static bool all = false, csv = false, wide = false;
  static int days = 30;
  auto* acc = cmd->add_option("ACCOUNT", account, "account name");
  cmd->add_flag("--all", all, "every account summed, and outcomes of no account: the platform")
      ->excludes(acc);
  cmd->add_option("--days", days, "days ending today, 1 to 90 (default 30)")
      ->check(CLI::Range(1, kMaxReportDays));
  auto* json = cmd->add_flag("--json", env.json, "one JSON document");
  auto* csv_flag =
      cmd->add_flag("--csv", csv, "CSV: a header, then one line per day")->excludes(json);
  auto* svg_opt = cmd->add_option("--svg", svg, "a chart of the days (SVG) to FILE, - for stdout")
                      ->type_name("FILE")
                      ->excludes(json)
                      ->excludes(csv_flag);
  cmd->add_flag("--wide", wide, "whole counts (wider than 80 columns)");
  cmd->callback([&env, svg_opt] {
    if (!all && account.empty()) throw Failure{kExitUsage, "report: name an ACCOUNT, or give --all"};
    const bool chart = svg_opt->count() > 0;
    if (chart && svg.empty()) {
      throw Failure{kExitUsage, "report: --svg needs a FILE (or - for standard output)"};
    }
    Store& store = env.existing_store();
    const Config& cfg = env.config();
    const ReputationConfig& rc = cfg.reputation;
    const int64_t now = env.Now();
    const int64_t today = DayNumber(now);
    // The scores of the first days need the days before them.
    const int64_t from = today - days + 1 - rc.window_days + 1;
    nlohmann::json j;
    DayBuckets buckets;
    SendingBuckets sending;
    int64_t since_day = INT64_MIN;
    std::string title, note;
    if (all) {
      const auto accounts = Take(store.ListAccounts());
      for (const auto& a : accounts) ReadBuckets(store, a.name, from, today, false, &buckets, &sending);
      ReadBuckets(store, "", from, today, false, &buckets, &sending);  // of no account
      j["account"] = nullptr;
      j["accounts"] = accounts.size();
      title = "all " + std::to_string(accounts.size()) + " account(s) and mail of no account";
    } else {
      const std::string name = env.Account(account);
      auto rec = Take(store.GetAccount(name));
      const size_t stored = ReadBuckets(store, name, from, today, true, &buckets, &sending);
      // An account the milter only refused has days but no record (a
      // record is made by its first accepted message or the tailer's
      // review): the configured defaults apply to it.
      if (!rec && stored == 0) throw Failure{kExitNotFound, "no such account: " + name};
      if (!rec) {
        rec.emplace();
        rec->name = name;
      }
      if (rec->rates_since > 0) since_day = DayNumber(rec->rates_since) + 1;
      const std::string state(AccountStatusName(EffectiveAt(*rec, now).status));
      j["account"] = name;
      j["state"] = state;
      j["tier"] = rec->tier;
      title = Cell(name, 30, wide) + ": " + state + ", tier " + std::to_string(rec->tier);
      if (since_day != INT64_MIN) {
        // As `show` says it: the rates count again from the day after a reinstatement.
        j["rates_restart"] = DayString(since_day);
        if (since_day > today - days - rc.window_days)
          note = "\nrates restart " + DayString(since_day) + ", after a reinstatement";
      } else {
        j["rates_restart"] = nullptr;
      }
    }
    const Report r = BuildReport(buckets, today, days, since_day, rc, sending);
    if (chart) {
      ChartOptions opt;
      opt.subject = all ? "all accounts" : env.Account(account);
      opt.reputation = rc;
      WriteWhole(svg, RenderReportSvg(r, opt));
      if (svg != "-") {
        std::printf("wrote %s (%dx%d, %zu day%s)\n", Printable(svg).c_str(), opt.width, opt.height,
                    r.days.size(), r.days.size() == 1 ? "" : "s");
      }
      return;
    }
    if (csv) {
      PrintCsv(r, all ? std::string() : env.Account(account));
      return;
    }
    if (!env.json) {
      PrintTable(r, title + "; " + DayString(r.first_day) + " to " + DayString(r.last_day) + note,
                 rc.window_days, wide);
      return;
    }
    j["from"] = DayString(r.first_day);
    j["to"] = DayString(r.last_day);
    j["reputation_window_days"] = rc.window_days;
    nlohmann::json arr = nlohmann::json::array();
    for (const ReportDay& d : r.days) {
      nlohmann::json day = CountsJson(d.counts, d.complaint_rate, d.hard_rate);
      day["day"] = DayString(d.day);
      day["score"] = d.score;
      day["verdict"] = std::string(DayVerdictName(d.verdict));
      day["quota_used"] = d.sending.quota_used;
      day["refused"] = d.sending.refused;
      day["tier"] = TierJson(d.sending.tier);
      arr.push_back(std::move(day));
    }
    j["days"] = std::move(arr);
    j["totals"] = CountsJson(r.totals, r.complaint_rate, r.hard_rate);
    j["totals"]["quota_used"] = r.quota_used;
    j["totals"]["refused"] = r.refused;
    PrintJson(j);
  });
}

}  // namespace senderguard::cli
