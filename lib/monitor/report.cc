#include "senderguard/monitor/report.h"

#include <array>
#include <utility>

#include "senderguard/base/kvlog.h"

namespace senderguard::monitor {
namespace {

// The summary's refusal reasons: each always shown (0 or not).
constexpr std::array<Reason, 7> kRejectReasons = {
    Reason::kSuspended, Reason::kSuppressed, Reason::kQuota, Reason::kDmarc,
    Reason::kDmarcAuthor, Reason::kDmarcUnverifiedDomain, Reason::kError};
constexpr std::array<Reason, 3> kTempfailReasons = {Reason::kQuota, Reason::kDmarcTemperror,
                                                    Reason::kError};
// The stages whose latency is recorded (milter/monitor.h).
constexpr std::array<Stage, 3> kTimedStages = {Stage::kMail, Stage::kRcpt, Stage::kEom};
// The Prometheus histogram's bounds, in microseconds: each is one of
// metrics.h's latency bounds, so its bucket sums them exactly.
constexpr std::array<uint64_t, 18> kPromBoundsUs = {
    25,     50,     100,     250,     500,     1000,      2500,      5000,      10000,
    25000,  50000,  100000,  250000,  500000,  1000000,   2500000,   5000000,   10000000};

// Keys hold no '-': "dmarc-unverified-domain" -> "dmarc_unverified_domain".
std::string KeyPart(std::string_view name) {
  std::string s(name);
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
}

// A label value in the text format: '\', '"' and newline escaped.
std::string LabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

class PromWriter {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    s_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    s_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }
  // name{labels} value; labels already rendered ("" for none).
  void Sample(std::string_view name, std::string_view labels, std::string_view value) {
    s_.append(name);
    if (!labels.empty()) s_.append("{").append(labels).append("}");
    s_.append(" ").append(value).append("\n");
  }
  void Sample(std::string_view name, std::string_view labels, uint64_t value) {
    Sample(name, labels, std::to_string(value));
  }
  std::string Take() { return std::move(s_); }

 private:
  std::string s_;
};

std::string Label(std::string_view key, std::string_view value) {
  return std::string(key) + "=\"" + LabelValue(value) + "\"";
}

void BuildInfo(PromWriter& w, std::string_view program, std::string_view version) {
  w.Family("senderguard_build_info", "gauge", "The senderguard program running and its version (always 1).");
  w.Sample("senderguard_build_info", Label("program", program) + "," + Label("version", version), 1);
}

}  // namespace

std::string Seconds(uint64_t us) {
  std::string s = std::to_string(us / 1000000);
  uint64_t frac = us % 1000000;
  if (frac == 0) return s;
  std::string f = std::to_string(frac);
  f.insert(0, 6 - f.size(), '0');
  while (f.back() == '0') f.pop_back();
  return s + "." + f;
}

Percentiles LatencyPercentiles(const LatencyBuckets& buckets, uint64_t max_us) {
  Percentiles p;
  p.max_us = max_us;
  uint64_t n = 0;
  for (uint64_t c : buckets) n += c;
  if (n == 0) return p;
  auto at = [&](uint64_t num, uint64_t den) {
    // The rank-th smallest latency (1-based), rank = ceil(n * num / den).
    const uint64_t rank = (n * num + den - 1) / den;
    uint64_t seen = 0;
    for (size_t i = 0; i < kLatencyBucketCount; ++i) {
      seen += buckets[i];
      if (seen >= rank) {
        const uint64_t bound = LatencyBucketBound(i);
        return max_us > 0 && bound > max_us ? max_us : bound;
      }
    }
    return max_us;
  };
  p.p50_us = at(50, 100);
  p.p99_us = at(99, 100);
  return p;
}

std::string MilterSummaryLine(const MilterSnapshot& d, int64_t interval_s) {
  KvLine line;
  line.Add("action", "summary").Add("interval_s", interval_s);
  line.Add("accepted", d.Decisions(Stage::kEom, Action::kAccept));
  line.Add("rejected", d.Decisions(Action::kReject));
  line.Add("tempfailed", d.Decisions(Action::kTempfail));
  line.Add("would_reject", d.Decisions(Action::kWouldReject));
  line.Add("would_tempfail", d.Decisions(Action::kWouldTempfail));
  auto by_reason = [&](std::string_view prefix, Action a, const auto& reasons) {
    uint64_t shown = 0;
    for (Reason r : reasons) {
      const uint64_t n = d.Decisions(a, r);
      shown += n;
      line.Add(std::string(prefix) + KeyPart(ReasonName(r)), n);
    }
    if (const uint64_t rest = d.Decisions(a) - shown; rest > 0) line.Add(std::string(prefix) + "other", rest);
  };
  by_reason("rejected_", Action::kReject, kRejectReasons);
  by_reason("tempfailed_", Action::kTempfail, kTempfailReasons);
  for (size_t i = 0; i + 1 < kDmarcResultCount; ++i)
    line.Add("dmarc_" + std::string(DmarcResultName(static_cast<DmarcResult>(i))), d.dmarc[i]);
  line.Add("store_errors", d.store_errors);
  uint64_t decisions = 0;
  for (size_t a = 0; a < kActionCount; ++a) decisions += d.Decisions(static_cast<Action>(a));
  line.Add("decisions", decisions);
  LatencyBuckets all{};
  for (Stage s : kTimedStages)
    for (size_t b = 0; b < kLatencyBucketCount; ++b) all[b] += d.latency[static_cast<size_t>(s)][b];
  const Percentiles p = LatencyPercentiles(all, d.interval_max_us);
  line.Add("latency_p50_us", p.p50_us).Add("latency_p99_us", p.p99_us).Add("latency_max_us", p.max_us);
  return line.str();
}

std::string MilterPrometheus(const MilterSnapshot& t, std::string_view version) {
  PromWriter w;
  BuildInfo(w, "senderguard-milter", version);

  constexpr std::string_view kDecisions = "senderguard_milter_decisions_total";
  w.Family(kDecisions, "counter",
           "Decisions the milter logged (one per decision line), by stage, action and reason.");
  for (size_t s = 0; s < kStageCount; ++s)
    for (size_t a = 0; a < kActionCount; ++a)
      for (size_t r = 0; r < kReasonCount; ++r) {
        const uint64_t n = t.decisions[s][a][r];
        if (n == 0) continue;
        w.Sample(kDecisions,
                 Label("stage", StageName(static_cast<Stage>(s))) + "," +
                     Label("action", ActionName(static_cast<Action>(a))) + "," +
                     Label("reason", ReasonName(static_cast<Reason>(r))),
                 n);
      }

  constexpr std::string_view kDmarc = "senderguard_milter_dmarc_results_total";
  w.Family(kDmarc, "counter", "Messages the milter evaluated for DMARC, by result (RFC 9989).");
  for (size_t i = 0; i < kDmarcResultCount; ++i) {
    if (i + 1 == kDmarcResultCount && t.dmarc[i] == 0) continue;  // "other": only when seen
    w.Sample(kDmarc, Label("result", DmarcResultName(static_cast<DmarcResult>(i))), t.dmarc[i]);
  }

  constexpr std::string_view kStoreErrors = "senderguard_milter_store_errors_total";
  w.Family(kStoreErrors, "counter", "Store operations that failed (the on_error policy answered).");
  w.Sample(kStoreErrors, "", t.store_errors);

  constexpr std::string_view kDuration = "senderguard_milter_decision_duration_seconds";
  w.Family(kDuration, "histogram", "Time the milter took to answer a step (MAIL FROM, RCPT TO, end of message).");
  for (size_t s = 0; s < kStageCount; ++s) {
    const Stage stage = static_cast<Stage>(s);
    uint64_t count = 0;
    for (uint64_t c : t.latency[s]) count += c;
    const bool timed = stage == Stage::kMail || stage == Stage::kRcpt || stage == Stage::kEom;
    if (!timed && count == 0) continue;
    const std::string sl = Label("stage", StageName(stage));
    uint64_t cumulative = 0;
    size_t b = 0;
    for (uint64_t bound : kPromBoundsUs) {
      for (; b < kLatencyBucketCount && LatencyBucketBound(b) <= bound; ++b) cumulative += t.latency[s][b];
      w.Sample(std::string(kDuration) + "_bucket", sl + "," + Label("le", Seconds(bound)), cumulative);
    }
    w.Sample(std::string(kDuration) + "_bucket", sl + ",le=\"+Inf\"", count);
    w.Sample(std::string(kDuration) + "_sum", sl, Seconds(t.latency_sum_us[s]));
    w.Sample(std::string(kDuration) + "_count", sl, count);
  }
  return w.Take();
}

std::string TailSummaryLine(const TailSnapshot& d, std::string_view source, int64_t interval_s) {
  KvLine line;
  line.Add("action", "summary").Add("interval_s", interval_s).Add("source", source);
  line.Add("lines", d.lines);
  for (size_t i = 0; i < kOutcomeClassCount; ++i)
    line.Add(OutcomeClassName(static_cast<OutcomeClass>(i)), d.outcomes[i]);
  line.Add("unattributed", d.unattributed).Add("malformed", d.malformed).Add("lag_s", d.lag_s);
  return line.str();
}

std::string TailPrometheus(const TailSnapshot& t, std::string_view version) {
  PromWriter w;
  BuildInfo(w, "senderguard-tail", version);
  w.Family("senderguard_tail_lines_total", "counter", "Log lines the tailer read.");
  w.Sample("senderguard_tail_lines_total", "", t.lines);
  constexpr std::string_view kOutcomes = "senderguard_tail_outcomes_total";
  w.Family(kOutcomes, "counter",
           "Delivery outcomes the tailer counted, by class (a deferral each time it is logged).");
  for (size_t i = 0; i < kOutcomeClassCount; ++i)
    w.Sample(kOutcomes, Label("class", OutcomeClassName(static_cast<OutcomeClass>(i))), t.outcomes[i]);
  w.Family("senderguard_tail_unattributed_total", "counter",
           "Final delivery outcomes no account was found for.");
  w.Sample("senderguard_tail_unattributed_total", "", t.unattributed);
  w.Family("senderguard_tail_malformed_total", "counter", "Postfix log lines that could not be parsed.");
  w.Sample("senderguard_tail_malformed_total", "", t.malformed);
  w.Family("senderguard_tail_lag_seconds", "gauge",
           "How far behind the log the tailer is: 0 when its last read reached the end of the "
           "source, else seconds since the newest line it attributed.");
  w.Sample("senderguard_tail_lag_seconds", "", std::to_string(t.lag_s));
  return w.Take();
}

// The one place the version comes from (lib/CMakeLists.txt sets SG_VERSION
// from project(VERSION)).
std::string_view BuildVersion() { return SG_VERSION; }

}  // namespace senderguard::monitor
