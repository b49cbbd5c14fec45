#include "senderguard/decide/delivery_chart.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <vector>

#include "senderguard/base/text.h"

namespace senderguard {

namespace {

// Width estimates for layout: the generic sans-serif is DejaVu Sans on Debian
// and Arial or Helvetica elsewhere; 0.62 em per character is at least as wide
// as any of them for digits, '-' and lower case, so text placed with it does
// not overlap.
constexpr double kEm = 0.62;
double TextWidth(std::string_view s, double font_size) {
  return static_cast<double>(s.size()) * font_size * kEm;
}

// A coordinate: at most one decimal, no trailing ".0", locale-independent.
std::string Num(double v) {
  if (!std::isfinite(v)) v = 0;
  const double r = std::round(v * 10.0) / 10.0;
  char buf[40];
  auto res = std::to_chars(buf, buf + sizeof buf, r, std::chars_format::fixed, 1);
  std::string s(buf, res.ptr);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

// A rate as a percentage with at most 4 significant digits: "0.1%", "10%".
std::string Pct(double rate) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.4g%%", rate * 100.0);
  return buf;
}

// A tick label of a percent axis: as many decimals as the step needs.
std::string PctTick(double rate, double step) {
  int decimals = 0;
  const double pct_step = step * 100.0;
  while (decimals < 6 && std::fabs(std::round(pct_step * std::pow(10.0, decimals)) -
                                   pct_step * std::pow(10.0, decimals)) > 1e-6) {
    ++decimals;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f%%", decimals, rate * 100.0);
  return buf;
}

// A tick label of the count axis: 900, 2500, 12k, 1.5M, 2G.
std::string CountTick(double v) {
  char buf[48];
  if (v >= 1e9) {
    std::snprintf(buf, sizeof buf, "%gG", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%gM", v / 1e6);
  } else if (v >= 1e4) {
    std::snprintf(buf, sizeof buf, "%gk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  return buf;
}

// The smallest of 1, 2, 2.5, 5 times a power of ten that is >= x (x > 0);
// `integer`: never below 1, and 2.5 only from 25 on.
double NiceStep(double x, bool integer) {
  if (!(x > 0) || !std::isfinite(x)) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(x)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (integer && m == 2.5 && p < 10) continue;
    if (m * p >= x * (1 - 1e-9)) return integer ? std::max(1.0, m * p) : m * p;
  }
  return 10 * p;
}

constexpr int kTicks = 4;  // intervals on each y axis

class Svg {
 public:
  void Raw(std::string_view s) { out_ += s; }
  // <text> with already escaped content.
  void Text(double x, double y, double size, std::string_view anchor, std::string_view fill,
            std::string_view escaped, std::string_view extra = "") {
    out_ += "<text x=\"" + Num(x) + "\" y=\"" + Num(y) + "\" font-size=\"" + Num(size) + "\"";
    if (anchor != "start") out_ += " text-anchor=\"" + std::string(anchor) + "\"";
    out_ += " fill=\"" + std::string(fill) + "\"";
    if (!extra.empty()) out_ += " " + std::string(extra);
    out_ += ">" + std::string(escaped) + "</text>\n";
  }
  void Line(double x1, double y1, double x2, double y2, std::string_view stroke, double width,
            std::string_view extra = "") {
    out_ += "<line x1=\"" + Num(x1) + "\" y1=\"" + Num(y1) + "\" x2=\"" + Num(x2) + "\" y2=\"" +
            Num(y2) + "\" stroke=\"" + std::string(stroke) + "\" stroke-width=\"" + Num(width) +
            "\"";
    if (!extra.empty()) out_ += " " + std::string(extra);
    out_ += "/>\n";
  }
  void Rect(double x, double y, double w, double h, std::string_view fill,
            std::string_view extra = "") {
    out_ += "<rect x=\"" + Num(x) + "\" y=\"" + Num(y) + "\" width=\"" + Num(w) + "\" height=\"" +
            Num(h) + "\" fill=\"" + std::string(fill) + "\"";
    if (!extra.empty()) out_ += " " + std::string(extra);
    out_ += "/>\n";
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

struct Panel {
  double top = 0, bottom = 0;  // the plot area's y range
};

struct XAxis {
  double x0 = 0, x1 = 0;  // the plot area's x range
  size_t n = 0;           // days
  double slot() const { return n == 0 ? 0 : (x1 - x0) / static_cast<double>(n); }
  double Centre(size_t i) const { return x0 + slot() * (static_cast<double>(i) + 0.5); }
};

// The frame of a panel: its name above, the grid, the y axis and its labels.
void DrawAxes(Svg& svg, const XAxis& xa, const Panel& p, std::string_view name,
              const std::vector<std::string>& tick_labels) {
  svg.Text(xa.x0, p.top - 5, 11, "start", "#222222", name, "font-weight=\"bold\"");
  for (int t = 0; t <= kTicks; ++t) {
    const double y = std::round(p.bottom - (p.bottom - p.top) * t / kTicks);
    if (t > 0) svg.Line(xa.x0, y, xa.x1, y, "#e6e6e6", 1, "shape-rendering=\"crispEdges\"");
    svg.Text(xa.x0 - 6, y + 3.5, 10, "end", "#444444", tick_labels[static_cast<size_t>(t)]);
  }
  svg.Line(xa.x0, p.top, xa.x0, p.bottom, "#888888", 1, "shape-rendering=\"crispEdges\"");
  svg.Line(xa.x0, p.bottom, xa.x1, p.bottom, "#888888", 1, "shape-rendering=\"crispEdges\"");
}

void DrawVolume(Svg& svg, const XAxis& xa, const Panel& p, const Report& r) {
  double max_attempted = 0;
  for (const ReportDay& d : r.days) {
    max_attempted = std::max(max_attempted, static_cast<double>(d.counts.attempted()));
  }
  const double step = NiceStep(max_attempted / kTicks, true);
  const double top = step * kTicks;
  std::vector<std::string> labels;
  for (int t = 0; t <= kTicks; ++t) labels.push_back(CountTick(step * t));
  DrawAxes(svg, xa, p, "Messages per day", labels);
  const double h = p.bottom - p.top;
  const double bw = std::min(xa.slot() * 0.8, 48.0);
  auto bar = [&](size_t i, double v, std::string_view colour, std::string_view cls) {
    if (v <= 0) return;
    const double bh = std::max(1.0, h * std::min(v, top) / top);  // a day with mail shows
    svg.Rect(xa.Centre(i) - bw / 2, p.bottom - bh, bw, bh, colour,
             "class=\"" + std::string(cls) + "\"");
  };
  for (size_t i = 0; i < r.days.size(); ++i) {
    bar(i, static_cast<double>(r.days[i].counts.attempted()), kChartAttemptedColour, "attempted");
  }
  for (size_t i = 0; i < r.days.size(); ++i) {
    bar(i, static_cast<double>(r.days[i].counts.delivered), kChartDeliveredColour, "delivered");
  }
  if (max_attempted == 0) {
    svg.Text((xa.x0 + xa.x1) / 2, (p.top + p.bottom) / 2, 12, "middle", "#666666",
             r.days.empty() ? "no days in this report" : "no mail in these days");
  }
}

// One rate per day: nullopt for a gap (nothing to divide by), +inf for an
// infinite rate (complaints with nothing delivered).
using Series = std::vector<std::optional<double>>;

void DrawRate(Svg& svg, const XAxis& xa, const Panel& p, std::string_view name, const Series& s,
              double threshold, std::string_view line_colour, std::string_view threshold_colour,
              std::string_view id) {
  const bool has_threshold = threshold > 0 && std::isfinite(threshold);
  // The axis: up to the highest finite rate, but at most 10 times the
  // threshold (above: the off-scale mark) and at least 1.25 times it (the
  // line below the top, with room for its label).
  double max_rate = 0;
  for (const auto& v : s) {
    if (v && std::isfinite(*v)) max_rate = std::max(max_rate, *v);
  }
  double limit =
      has_threshold ? std::max(threshold * 1.25, std::min(max_rate, threshold * 10)) : max_rate;
  if (!(limit > 0)) limit = 0.01;
  const double step = NiceStep(limit / kTicks, false);
  const double top = step * kTicks;
  std::vector<std::string> labels;
  for (int t = 0; t <= kTicks; ++t) labels.push_back(PctTick(step * t, step));
  DrawAxes(svg, xa, p, name, labels);
  const double h = p.bottom - p.top;
  auto y_of = [&](double v) { return p.bottom - h * std::min(v, top) / top; };

  // The series: one polyline per run of days with a rate; points marked
  // when the days are few or the point stands alone.
  const std::string cls = "class=\"rate-" + std::string(id) + "\"";
  const bool mark_all = s.size() <= 45;
  for (size_t i = 0; i < s.size();) {
    if (!s[i]) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && s[j]) ++j;
    if (j - i >= 2) {
      std::string pts;
      for (size_t k = i; k < j; ++k) {
        if (!pts.empty()) pts += ' ';
        pts += Num(xa.Centre(k)) + "," + Num(y_of(*s[k]));
      }
      svg.Raw("<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" +
              std::string(line_colour) + "\" stroke-width=\"2\" stroke-linejoin=\"round\" " + cls +
              "/>\n");
    }
    for (size_t k = i; k < j; ++k) {
      const double x = xa.Centre(k);
      if (*s[k] > top) {
        // Off scale: a triangle pointing up at the top of the axis.
        svg.Raw("<polygon points=\"" + Num(x) + "," + Num(p.top) + " " + Num(x - 4) + "," +
                Num(p.top + 7) + " " + Num(x + 4) + "," + Num(p.top + 7) + "\" fill=\"" +
                std::string(line_colour) + "\" class=\"off-scale\"/>\n");
      } else if (mark_all || j - i == 1) {
        svg.Raw("<circle cx=\"" + Num(x) + "\" cy=\"" + Num(y_of(*s[k])) + "\" r=\"2.5\" fill=\"" +
                std::string(line_colour) + "\" " + cls + "/>\n");
      }
    }
    i = j;
  }

  if (has_threshold) {
    // Whole pixels, crisp edges: two rows of exactly this colour.
    const double y = std::round(y_of(threshold));
    svg.Line(xa.x0, y, xa.x1, y, threshold_colour, 2,
             "shape-rendering=\"crispEdges\" id=\"threshold-" + std::string(id) + "\"");
    // The label on a white ground over the series (drawn before it), so a
    // rate line or point passing under it does not blur it.
    const std::string label = "suspension above " + Pct(threshold);
    constexpr double kSize = 10.5;
    const double lw = TextWidth(label, kSize);
    svg.Rect(xa.x1 - 4 - lw - 3, y - 5 - kSize * 0.8 - 1, lw + 6, kSize * 1.05 + 2, "#ffffff",
             "fill-opacity=\"0.85\" class=\"label-ground\"");
    svg.Text(xa.x1 - 4, y - 5, kSize, "end", threshold_colour, label, "font-weight=\"bold\"");
  }
}

// "MM-DD" of a day (the last five characters of DayString, whatever the year).
std::string MonthDay(int64_t day) {
  const std::string s = DayString(day);
  return s.size() >= 5 ? s.substr(s.size() - 5) : s;
}

void LegendEntry(Svg& svg, double x, double y, bool bar, std::string_view colour,
                 std::string_view text) {
  if (bar) {
    svg.Rect(x, y - 9, 14, 10, colour);
  } else {
    svg.Line(x, y - 4, x + 18, y - 4, colour, 3);
  }
  svg.Text(x + 24, y, 11, "start", "#222222", text);
}

}  // namespace

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string RenderReportSvg(const Report& report, const ChartOptions& options) {
  const int w = std::clamp(options.width, kChartMinWidth, kChartMaxWidth);
  const int h = std::clamp(options.height, kChartMinHeight, kChartMaxHeight);
  const ReputationConfig& rc = options.reputation;
  const size_t n = report.days.size();

  // The title: the subject, escaped and cut to the width.
  constexpr double kTitleSize = 16;
  const std::string prefix = "Delivery report: ";
  const double room = w - 32 - TextWidth(prefix, kTitleSize);
  const size_t max_name = static_cast<size_t>(std::max(8.0, room / (kTitleSize * kEm)));
  const std::string subject = XmlEscape(Printable(options.subject, max_name));
  const std::string range = n == 0 ? std::string("no days")
                                   : DayString(report.days.front().day) + " to " +
                                         DayString(report.days.back().day) + " (" +
                                         std::to_string(n) + (n == 1 ? " UTC day)" : " UTC days)");

  Svg svg;
  const std::string ws = std::to_string(w), hs = std::to_string(h);
  svg.Raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  svg.Raw("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + ws +
          "\" height=\"" + hs + "\" viewBox=\"0 0 " + ws + " " + hs +
          "\" font-family=\"sans-serif\">\n");
  svg.Raw("<title>" + prefix + subject + ", " + range + "</title>\n");
  svg.Raw(
      "<desc>Messages, complaint rate and hard-bounce rate per UTC day, with the suspension "
      "thresholds; written by senderguardctl report --svg.</desc>\n");
  // White ground and a light grey frame: the chart's edges are visible on
  // any background, and they show where the browser drew it.
  svg.Rect(0.5, 0.5, w - 1, h - 1, "#ffffff", "stroke=\"#cccccc\" stroke-width=\"1\"");
  svg.Text(16, 26, kTitleSize, "start", "#111111", XmlEscape(prefix) + subject,
           "font-weight=\"bold\"");
  svg.Text(16, 45, 12, "start", "#333333", range);

  XAxis xa;
  xa.x0 = 64;
  xa.x1 = w - 20;
  xa.n = n;

  // The legend: two columns, one row per panel.
  const double col2 = xa.x0 + (xa.x1 - xa.x0) / 2;
  LegendEntry(svg, xa.x0, 66, true, kChartAttemptedColour, "attempted (final outcomes)");
  LegendEntry(svg, col2, 66, true, kChartDeliveredColour, "delivered");
  LegendEntry(svg, xa.x0, 82, false, kChartComplaintRateColour, "complaint rate (of delivered)");
  LegendEntry(svg, col2, 82, false, kChartComplaintThresholdColour,
              "complaint suspension threshold " + Pct(rc.suspend_complaint_rate));
  LegendEntry(svg, xa.x0, 98, false, kChartHardRateColour, "hard-bounce rate (of attempted)");
  LegendEntry(svg, col2, 98, false, kChartHardThresholdColour,
              "hard-bounce suspension threshold " + Pct(rc.suspend_hard_rate));

  // The panels: 40% volume, 30% each rate, an 18-pixel name above each.
  constexpr double kName = 18, kGap = 6;
  const double first = 106, last = h - 58.0;
  const double plots = last - first - 3 * kName - 2 * kGap;
  Panel vol, cmp, hrd;
  vol.top = first + kName;
  vol.bottom = std::round(vol.top + plots * 0.4);
  cmp.top = vol.bottom + kGap + kName;
  cmp.bottom = std::round(cmp.top + plots * 0.3);
  hrd.top = cmp.bottom + kGap + kName;
  hrd.bottom = last;

  // The days labelled: every step-th counting back from the last, so no two
  // labels overlap (8 pixels apart at least).
  constexpr double kLabelSize = 10.5;
  const double label_w = TextWidth("12-31", kLabelSize);
  size_t step = 1;
  if (n > 0) step = static_cast<size_t>(std::max(1.0, std::ceil((label_w + 8) / xa.slot())));
  auto labelled = [&](size_t i) { return (n - 1 - i) % step == 0; };
  for (size_t i = 0; i < n; ++i) {
    if (!labelled(i)) continue;
    const double x = std::round(xa.Centre(i)) + 0.5;
    for (const Panel* p : {&vol, &cmp, &hrd}) {
      svg.Line(x, p->top, x, p->bottom, "#f0f0f0", 1, "shape-rendering=\"crispEdges\"");
    }
  }

  DrawVolume(svg, xa, vol, report);
  Series complaints, hard;
  for (const ReportDay& d : report.days) {
    const DayCounts& c = d.counts;
    if (c.delivered > 0 && std::isfinite(d.complaint_rate)) {
      complaints.emplace_back(d.complaint_rate);
    } else if (c.delivered == 0 && c.complaints > 0) {
      complaints.emplace_back(std::numeric_limits<double>::infinity());
    } else {
      complaints.emplace_back(std::nullopt);
    }
    if (c.attempted() > 0 && std::isfinite(d.hard_rate)) {
      hard.emplace_back(d.hard_rate);
    } else {
      hard.emplace_back(std::nullopt);
    }
  }
  DrawRate(svg, xa, cmp, "Complaint rate per day", complaints, rc.suspend_complaint_rate,
           kChartComplaintRateColour, kChartComplaintThresholdColour, "complaint");
  DrawRate(svg, xa, hrd, "Hard-bounce rate per day", hard, rc.suspend_hard_rate,
           kChartHardRateColour, kChartHardThresholdColour, "hard");

  for (size_t i = 0; i < n; ++i) {
    if (!labelled(i)) continue;
    const double x = xa.Centre(i);
    svg.Line(std::round(x) + 0.5, hrd.bottom, std::round(x) + 0.5, hrd.bottom + 4, "#888888", 1);
    svg.Text(x, hrd.bottom + 16, kLabelSize, "middle", "#333333", MonthDay(report.days[i].day),
             "class=\"day-label\"");
  }

  const std::string window = std::to_string(rc.window_days);
  svg.Text(16, h - 24, 10, "start", "#444444",
           "Gaps: no mail that day. &#9650;: above the axis (complaints on a day with nothing "
           "delivered too).");
  svg.Text(16, h - 10, 10, "start", "#444444",
           "Suspension: the rate over the " + window + " days ending a day above its line, with at least " +
               std::to_string(rc.min_volume) + " messages.");
  svg.Raw("</svg>\n");
  return svg.Take();
}

}  // namespace senderguard
