// senderguardctl stats [--json]: the platform at a glance. From the store:
// accounts by state (and in dry run), suppressed addresses (the global list,
// the accounts' own lists), and today's and the last 30 days' delivery
// outcomes summed over every account and the mail of none (the day counts
// `report --all` reads, summed by BuildReport), with both rates. From the
// daemons, when [monitoring] textfile is set: the milter's decisions by
// action and reason and the tailer's outcomes by class and lag, read back
// from the Prometheus text files they rewrite each interval (totals since
// each started; monitor/prom_read.h), with each file's age. Without that
// setting there is nothing exact to read, and stats says so rather than
// guessing from syslog.
//
// Read-only: the store must exist (existing_store); the files are only read.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "cli.h"
#include "senderguard/decide/account_state.h"
#include "senderguard/decide/delivery_report.h"
#include "senderguard/feedback/feedback.h"
#include "senderguard/monitor/prom_read.h"

namespace senderguard::cli {
namespace {

constexpr int kStatsDays = 30;
constexpr const char* kNoTextfile = "not available ([monitoring] textfile is not set)";

struct Outcome {
  const char* name;
  uint64_t DayCounts::*field;  // nullptr: attempted()
};
constexpr Outcome kOutcomes[] = {{"attempted", nullptr},
                                 {"delivered", &DayCounts::delivered},
                                 {"deferred", &DayCounts::deferred},
                                 {"hard", &DayCounts::hard},
                                 {"soft", &DayCounts::soft},
                                 {"technical", &DayCounts::technical},
                                 {"expired", &DayCounts::expired},
                                 {"complaints", &DayCounts::complaints}};

uint64_t Value(const DayCounts& c, const Outcome& o) { return o.field == nullptr ? c.attempted() : c.*o.field; }

nlohmann::json CountsJson(const DayCounts& c, double complaint_rate, double hard_rate) {
  nlohmann::json j;
  for (const Outcome& o : kOutcomes) j[o.name] = Value(c, o);
  j["complaint_rate"] = RateJson(complaint_rate, c.delivered);
  j["hard_bounce_rate"] = RateJson(hard_rate, c.attempted());
  return j;
}

std::string RateText(double rate, uint64_t whole) { return whole == 0 ? "-" : Percent(rate); }

// One daemon's file: read, or why not.
struct DaemonFile {
  std::string program, path;
  std::string error;  // empty: read
  int64_t mtime = 0;
  std::string version;
  monitor::MilterSnapshot milter;
  monitor::TailSnapshot tail;
};

DaemonFile ReadDaemonFile(const Config& cfg, const std::string& program) {
  DaemonFile f;
  f.program = program;
  f.path = MonitoringTextfile(cfg, program);
  struct stat st {};
  if (::stat(f.path.c_str(), &st) != 0) {
    f.error = errno == ENOENT ? "no file yet (is the daemon running here, with this setting?)"
                              : "cannot read it: " + std::string(std::strerror(errno));
    return f;
  }
  if (!S_ISREG(st.st_mode)) {
    f.error = "not a regular file";
    return f;
  }
  f.mtime = st.st_mtime;
  std::ifstream in(f.path, std::ios::binary);
  std::string text;
  if (in) {
    text.resize(monitor::kMaxPromTextBytes + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
  }
  if (!in && !in.eof()) {
    f.error = "cannot read it: " + std::string(std::strerror(errno));
    return f;
  }
  if (program == "senderguard-milter") {
    auto r = monitor::ReadMilterPrometheus(text);
    if (!r.ok()) f.error = "not readable: " + r.status().message();
    else f.version = r->version, f.milter = r->totals;
  } else {
    auto r = monitor::ReadTailPrometheus(text);
    if (!r.ok()) f.error = "not readable: " + r.status().message();
    else f.version = r->version, f.tail = r->totals;
  }
  return f;
}

// Decisions summed over stages: (action, reason, count) of those counted.
struct DecisionCount {
  std::string action, reason;
  uint64_t count;
};
std::vector<DecisionCount> Decisions(const monitor::MilterSnapshot& m) {
  std::vector<DecisionCount> out;
  for (size_t a = 0; a < monitor::kActionCount; ++a)
    for (size_t r = 0; r < monitor::kReasonCount; ++r) {
      const uint64_t n = m.Decisions(static_cast<monitor::Action>(a), static_cast<monitor::Reason>(r));
      if (n > 0) {
        out.push_back({std::string(monitor::ActionName(static_cast<monitor::Action>(a))),
                       std::string(monitor::ReasonName(static_cast<monitor::Reason>(r))), n});
      }
    }
  return out;
}

nlohmann::json DaemonJson(const DaemonFile& f, int64_t now) {
  nlohmann::json j;
  j["file"] = f.path;
  if (!f.error.empty()) {
    j["error"] = f.error;
    return j;
  }
  j["written"] = FormatUtc(f.mtime);
  j["age_s"] = now - f.mtime;
  j["version"] = f.version;
  if (f.program == "senderguard-milter") {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& d : Decisions(f.milter)) {
      arr.push_back({{"action", d.action}, {"reason", d.reason}, {"count", d.count}});
    }
    j["decisions"] = std::move(arr);
    j["accepted"] = f.milter.Decisions(monitor::Stage::kEom, monitor::Action::kAccept);
    nlohmann::json dmarc;
    for (size_t i = 0; i < monitor::kDmarcResultCount; ++i) {
      dmarc[std::string(monitor::DmarcResultName(static_cast<monitor::DmarcResult>(i)))] = f.milter.dmarc[i];
    }
    j["dmarc"] = std::move(dmarc);
    j["store_errors"] = f.milter.store_errors;
  } else {
    j["lines"] = f.tail.lines;
    nlohmann::json outcomes;
    for (size_t c = 0; c < monitor::kOutcomeClassCount; ++c) {
      outcomes[std::string(monitor::OutcomeClassName(static_cast<monitor::OutcomeClass>(c)))] = f.tail.outcomes[c];
    }
    j["outcomes"] = std::move(outcomes);
    j["unattributed"] = f.tail.unattributed;
    j["malformed"] = f.tail.malformed;
    j["lag_s"] = f.tail.lag_s;
  }
  return j;
}

std::string Age(int64_t s) {
  if (s < 0) return "in the future";
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 7200) return std::to_string(s / 60) + " min ago";
  if (s < 172800) return std::to_string(s / 3600) + " h ago";
  return std::to_string(s / 86400) + " days ago";
}

std::string N(uint64_t n) { return std::to_string(n); }

void PrintDaemon(Env& env, const DaemonFile& f, int64_t now) {
  std::printf("%s: %s\n", f.program.c_str(), Cell(f.path, kColumns - f.program.size() - 2, false).c_str());
  if (!f.error.empty()) {
    std::printf("  %s\n", Cell(f.error, kColumns - 2, false).c_str());
    return;
  }
  std::printf("  written %s (%s), version %s\n", env.HumanTime(f.mtime).c_str(), Age(now - f.mtime).c_str(),
              Cell(f.version, 20, false).c_str());
  // Rows of 80 columns: 2 + 16 + 1 + 40 + 1 + 20.
  auto row = [](const std::string& a, const std::string& b, const std::string& n) {
    std::printf("  %-16s %-40s %20s\n", a.c_str(), b.c_str(), n.c_str());
  };
  if (f.program == "senderguard-milter") {
    const auto& m = f.milter;
    row("ACTION", "REASON", "DECISIONS");
    for (const auto& d : Decisions(m)) row(d.action, d.reason, N(d.count));
    row("DMARC", "RESULT", "MESSAGES");
    for (size_t i = 0; i + 1 < monitor::kDmarcResultCount; ++i) {
      row("", std::string(monitor::DmarcResultName(static_cast<monitor::DmarcResult>(i))), N(m.dmarc[i]));
    }
    row("store errors", "", N(m.store_errors));
  } else {
    const auto& t = f.tail;
    row("lines read", "", N(t.lines));
    row("OUTCOMES", "CLASS", "COUNT");
    for (size_t c = 0; c < monitor::kOutcomeClassCount; ++c) {
      row("", std::string(monitor::OutcomeClassName(static_cast<monitor::OutcomeClass>(c))), N(t.outcomes[c]));
    }
    row("unattributed", "(no account found)", N(t.unattributed));
    row("malformed", "(lines not parsed)", N(t.malformed));
    row("lag", "(seconds behind the log)", std::to_string(t.lag_s));
  }
}

}  // namespace

void AddStatsCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand(
      "stats", "Totals and rates: accounts, suppressions, outcomes, the daemons' counters");
  cmd->footer("Example:\n  senderguardctl stats --json | jq .outcomes.last_30_days");
  cmd->add_flag("--json", env.json, "one JSON document");
  cmd->callback([&env] {
    Store& store = env.existing_store();
    const Config& cfg = env.config();
    const int64_t now = env.Now();
    const int64_t today = DayNumber(now);

    const auto accounts = Take(store.ListAccounts());
    uint64_t by_state[3] = {0, 0, 0}, dry_run = 0, account_suppressions = 0;
    DayBuckets buckets;
    auto add_days = [&](const std::string& name) {
      for (const auto& [day, counts] : Take(store.GetDays(name, today - kStatsDays + 1, today))) {
        buckets.emplace_back(day, ToDayCounts(counts));
      }
    };
    for (const auto& a : accounts) {
      ++by_state[static_cast<size_t>(EffectiveAt(a, now).status)];
      if (a.dry_run) ++dry_run;
      account_suppressions += Take(store.CountSuppressions(a.name));
      add_days(a.name);
    }
    add_days("");  // outcomes of no account, as report --all counts them
    const uint64_t global_suppressions = Take(store.CountSuppressions(""));
    const Report r = BuildReport(buckets, today, kStatsDays, INT64_MIN, cfg.reputation);
    const ReportDay& day = r.days.back();

    std::vector<DaemonFile> daemons;
    if (!cfg.monitoring_textfile.empty()) {
      for (const char* p : {"senderguard-milter", "senderguard-tail"}) daemons.push_back(ReadDaemonFile(cfg, p));
    }

    if (env.json) {
      nlohmann::json j;
      j["time"] = FormatUtc(now);
      j["accounts"] = {{"total", accounts.size()},
                       {"active", by_state[static_cast<size_t>(AccountStatus::kActive)]},
                       {"suspended", by_state[static_cast<size_t>(AccountStatus::kSuspended)]},
                       {"reinstated", by_state[static_cast<size_t>(AccountStatus::kReinstated)]},
                       {"dry_run", dry_run}};
      j["suppressions"] = {{"global", global_suppressions}, {"accounts", account_suppressions}};
      nlohmann::json t = CountsJson(day.counts, day.complaint_rate, day.hard_rate);
      t["day"] = DayString(day.day);
      nlohmann::json last = CountsJson(r.totals, r.complaint_rate, r.hard_rate);
      last["from"] = DayString(r.first_day);
      last["to"] = DayString(r.last_day);
      j["outcomes"] = {{"today", std::move(t)}, {"last_30_days", std::move(last)}};
      if (daemons.empty()) {
        j["daemons"] = nullptr;
        j["daemons_note"] = kNoTextfile;
      } else {
        nlohmann::json d;
        for (const auto& f : daemons) d[f.program] = DaemonJson(f, now);
        j["daemons"] = std::move(d);
      }
      PrintJson(j);
      return;
    }

    std::printf("senderguard at %s\n", env.HumanTime(now).c_str());
    std::printf("accounts: %zu (%s active, %s suspended, %s reinstated; %s in dry run)\n", accounts.size(),
                N(by_state[0]).c_str(), N(by_state[1]).c_str(), N(by_state[2]).c_str(), N(dry_run).c_str());
    std::printf("suppressed addresses: %s in the global list, %s in accounts' own lists\n",
                N(global_suppressions).c_str(), N(account_suppressions).c_str());
    std::printf("outcomes of all accounts    %20s %20s\n", "TODAY", "LAST 30 DAYS");
    std::printf("  (UTC days)                %20s %20s\n", DayString(day.day).c_str(),
                (DayString(r.first_day).substr(5) + ".." + DayString(r.last_day).substr(5)).c_str());
    for (const Outcome& o : kOutcomes) {
      std::printf("  %-25s %20s %20s\n", o.name, N(Value(day.counts, o)).c_str(), N(Value(r.totals, o)).c_str());
    }
    std::printf("  %-25s %20s %20s\n", "complaint rate", RateText(day.complaint_rate, day.counts.delivered).c_str(),
                RateText(r.complaint_rate, r.totals.delivered).c_str());
    std::printf("  %-25s %20s %20s\n", "hard-bounce rate", RateText(day.hard_rate, day.counts.attempted()).c_str(),
                RateText(r.hard_rate, r.totals.attempted()).c_str());
    if (daemons.empty()) {
      std::printf("daemon counters: %s\n", kNoTextfile);
      return;
    }
    for (const auto& f : daemons) PrintDaemon(env, f, now);
    std::printf("The daemons' counters are totals since each started.\n");
  });
}

}  // namespace senderguard::cli
