#include "senderguard/monitor/prom_read.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace senderguard::monitor {
namespace {

bool NameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
bool NameChar(char c) { return NameStart(c) || (c >= '0' && c <= '9'); }

// A label name for a message: at most 40 bytes of it.
std::string Shown(std::string_view key) {
  return key.size() <= 40 ? std::string(key) : std::string(key.substr(0, 40)) + "...";
}

// A float as Go's ParseFloat reads the format's values: decimal, exponent,
// +Inf, -Inf, NaN.
bool ParseValue(std::string_view s, double* out) {
  if (s == "+Inf" || s == "Inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "-Inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '.')) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// One sample line (not a comment, not blank); "" or what is wrong.
std::string ParseLine(std::string_view line, PromSample* out) {
  size_t i = 0;
  if (!NameStart(line[0])) return "a metric name must start with a letter, '_' or ':'";
  while (i < line.size() && NameChar(line[i])) ++i;
  out->name.assign(line.substr(0, i));
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      if (out->labels.size() == kMaxPromLabels) return "more than 32 labels";
      const size_t start = i;
      if (i >= line.size() || !NameStart(line[i]) || line[i] == ':') return "bad label name";
      while (i < line.size() && NameChar(line[i]) && line[i] != ':') ++i;
      std::string key(line.substr(start, i - start));
      if (i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') return "expected =\" after label " + Shown(key);
      i += 2;
      std::string value;
      bool closed = false;
      while (i < line.size()) {
        const char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c != '\\') {
          value.push_back(c);
          continue;
        }
        if (i >= line.size()) break;
        const char e = line[i++];
        if (e == '\\') value.push_back('\\');
        else if (e == '"') value.push_back('"');
        else if (e == 'n') value.push_back('\n');
        else return "bad escape \\" + std::string(1, e) + " in label " + Shown(key);
      }
      if (!closed) return "unterminated value of label " + Shown(key);
      out->labels.emplace_back(std::move(key), std::move(value));
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      return "expected , or } after label " + Shown(out->labels.back().first);
    }
  }
  if (i >= line.size() || (line[i] != ' ' && line[i] != '\t')) return "expected a space and a value after the name";
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  size_t end = i;
  while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
  if (!ParseValue(line.substr(i, end - i), &out->value)) {
    return "bad value \"" + std::string(line.substr(i, std::min<size_t>(end - i, 40))) + "\"";
  }
  // An optional timestamp (milliseconds), then nothing.
  while (end < line.size() && (line[end] == ' ' || line[end] == '\t')) ++end;
  if (end < line.size()) {
    std::string_view ts = line.substr(end);
    while (!ts.empty() && (ts.back() == ' ' || ts.back() == '\t')) ts.remove_suffix(1);
    int64_t ms = 0;
    if (!ts.empty() && ts[0] == '-') ts.remove_prefix(1);
    const auto r = std::from_chars(ts.data(), ts.data() + ts.size(), ms);
    if (ts.empty() || r.ec != std::errc() || r.ptr != ts.data() + ts.size()) return "bad timestamp";
  }
  return "";
}

// A counter's value as a count: a whole number from 0 below 2^64.
Status Count(const PromSample& s, uint64_t* out) {
  if (!(s.value >= 0 && s.value < 18446744073709551616.0) || std::floor(s.value) != s.value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", s.value);
    return Status::Invalid(s.name + ": bad count " + buf);
  }
  *out = static_cast<uint64_t>(s.value);
  return Status::Ok();
}

// The version of `program`'s build_info sample, or an error when the file
// has none (it is not that program's file).
Result<std::string> Version(const std::vector<PromSample>& samples, std::string_view program) {
  for (const PromSample& s : samples) {
    if (s.name == "senderguard_build_info" && s.Label("program") == program) return std::string(s.Label("version"));
  }
  return Status::Invalid("not " + std::string(program) + "'s file (no senderguard_build_info{program=\"" +
                         std::string(program) + "\"})");
}

}  // namespace

std::string_view PromSample::Label(std::string_view key) const {
  for (const auto& [k, v] : labels)
    if (k == key) return v;
  return {};
}

Result<std::vector<PromSample>> ParsePrometheusText(std::string_view text) {
  if (text.size() > kMaxPromTextBytes) return Status::Invalid("larger than 4 MiB");
  std::vector<PromSample> out;
  size_t number = 0;
  while (!text.empty()) {
    ++number;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    if (out.size() == kMaxPromSamples) return Status::Invalid("more than 100000 samples");
    PromSample s;
    const std::string why = ParseLine(line, &s);
    if (!why.empty()) return Status::Invalid("line " + std::to_string(number) + ": " + why);
    out.push_back(std::move(s));
  }
  return out;
}

Result<MilterFile> ReadMilterPrometheus(std::string_view text) {
  auto samples = ParsePrometheusText(text);
  if (!samples.ok()) return samples.status();
  auto version = Version(*samples, "senderguard-milter");
  if (!version.ok()) return version.status();
  MilterFile f;
  f.version = *version;
  for (const PromSample& s : *samples) {
    uint64_t n = 0;
    if (s.name == "senderguard_milter_decisions_total") {
      if (Status st = Count(s, &n); !st.ok()) return st;
      const size_t stage = static_cast<size_t>(ParseStage(s.Label("stage")));
      const size_t action = static_cast<size_t>(ParseAction(s.Label("action")));
      const size_t reason = static_cast<size_t>(ParseReason(s.Label("reason")));
      f.totals.decisions[stage][action][reason] += n;
    } else if (s.name == "senderguard_milter_dmarc_results_total") {
      if (Status st = Count(s, &n); !st.ok()) return st;
      f.totals.dmarc[static_cast<size_t>(ParseDmarcResult(s.Label("result")))] += n;
    } else if (s.name == "senderguard_milter_store_errors_total") {
      if (Status st = Count(s, &n); !st.ok()) return st;
      f.totals.store_errors += n;
    }
  }
  return f;
}

Result<TailFile> ReadTailPrometheus(std::string_view text) {
  auto samples = ParsePrometheusText(text);
  if (!samples.ok()) return samples.status();
  auto version = Version(*samples, "senderguard-tail");
  if (!version.ok()) return version.status();
  TailFile f;
  f.version = *version;
  for (const PromSample& s : *samples) {
    uint64_t n = 0;
    if (s.name == "senderguard_tail_lag_seconds") {
      if (!std::isfinite(s.value) || s.value < -9e15 || s.value > 9e15) {
        return Status::Invalid("senderguard_tail_lag_seconds: bad value");
      }
      f.totals.lag_s = static_cast<int64_t>(s.value);
      continue;
    }
    uint64_t* into = nullptr;
    if (s.name == "senderguard_tail_lines_total") into = &f.totals.lines;
    else if (s.name == "senderguard_tail_unattributed_total") into = &f.totals.unattributed;
    else if (s.name == "senderguard_tail_malformed_total") into = &f.totals.malformed;
    else if (s.name == "senderguard_tail_outcomes_total") {
      for (size_t c = 0; c < kOutcomeClassCount; ++c)
        if (OutcomeClassName(static_cast<OutcomeClass>(c)) == s.Label("class")) into = &f.totals.outcomes[c];
    }
    if (into == nullptr) continue;  // a series this version does not know
    if (Status st = Count(s, &n); !st.ok()) return st;
    *into += n;
  }
  return f;
}

}  // namespace senderguard::monitor
