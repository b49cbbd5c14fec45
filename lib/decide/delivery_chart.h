// The chart of a delivery report (delivery_report.h): `senderguardctl report
// --svg FILE`. Pure: a Report and the reputation settings in, one SVG 1.1
// document out; nothing here reads a clock, a file or the store.
//
// Made to be attached to an email and opened anywhere: the document is self-
// contained (no script, no style sheet, no external font, image or link),
// ASCII only (other characters as character references), with an explicit
// width, height and viewBox and the generic font family "sans-serif". Three
// panels share the x axis, one slot per UTC day:
//   - messages per day: attempted (final outcomes) as light bars, delivered
//     as dark bars over them;
//   - the complaint rate per day (complaints / delivered), a line on a
//     percent axis, with the suspension threshold
//     (ReputationConfig::suspend_complaint_rate) as a horizontal line;
//   - the hard-bounce rate per day (hard / attempted), likewise with
//     suspend_hard_rate.
// A day with nothing to divide by (nothing delivered and no complaint; nothing
// attempted) is a gap in its line, never 0%. Complaints on a day with nothing
// delivered are an infinite rate: drawn as the off-scale mark at the top, as
// is any rate above its axis (each rate axis goes at most to 10 times its
// threshold, so the threshold stays readable). Date labels ("MM-DD"; the
// title has the years) are spaced so they never overlap, the last day always
// labelled. Text from the store (the account's name) goes through Printable
// (text.h), cut to fit, then XML-escaped.
#pragma once

#include <string>
#include <string_view>

#include "senderguard/decide/delivery_report.h"
#include "senderguard/decide/reputation.h"

namespace senderguard {

// The colours, as documented in README and senderguardctl(8). The two
// threshold colours appear nowhere else in the chart than on their lines, the
// labels on them and their legend entries: the browser test finds them as
// pixels.
inline constexpr std::string_view kChartAttemptedColour = "#c6d3e3";      // light blue-grey bars
inline constexpr std::string_view kChartDeliveredColour = "#3b6ea5";      // blue bars
inline constexpr std::string_view kChartComplaintRateColour = "#e08a00";  // orange line
inline constexpr std::string_view kChartHardRateColour = "#1b9e77";       // teal line
inline constexpr std::string_view kChartComplaintThresholdColour = "#d62728";  // red line
inline constexpr std::string_view kChartHardThresholdColour = "#7b2cbf";       // purple line

// The chart's size in pixels (user units), clamped to these bounds.
inline constexpr int kChartMinWidth = 640, kChartMaxWidth = 4000;
inline constexpr int kChartMinHeight = 480, kChartMaxHeight = 3000;

struct ChartOptions {
  // What the report is of: an account's name (any bytes: escaped here), or
  // e.g. "all accounts".
  std::string subject;
  // The thresholds drawn (suspend_complaint_rate, suspend_hard_rate) and the
  // footnote's window_days and min_volume.
  ReputationConfig reputation;
  int width = 800;   // clamped to kChartMinWidth..kChartMaxWidth
  int height = 600;  // clamped to kChartMinHeight..kChartMaxHeight
};

// The SVG document of `report` (any number of days, 0 included: an empty
// chart that says so), ending with a newline. Never fails; thread-safe.
std::string RenderReportSvg(const Report& report, const ChartOptions& options);

// `s` for XML character data or an attribute value: '<', '>', '&', '"' and
// '\'' as entities, every other byte as it is. REQUIRES: `s` holds no
// control character and is valid UTF-8 (as Printable's output is).
std::string XmlEscape(std::string_view s);

}  // namespace senderguard
