// Tests for delivery_chart.h: the SVG parsed back by a strict little XML
// reader (balanced tags, quoted attributes, only the five entities and
// character references, one root), for 0, 1, 30, 90 and more days; a
// self-contained document (no script, style, link or image; ASCII; explicit
// size; generic font); the account's name escaped (markup, quotes, control
// and 8-bit bytes) and cut; both suspension thresholds drawn in their
// colours inside their panels, at their configured rates; a day without mail
// a gap, never 0%; infinite and too-high rates at the top, marked; date
// labels that never overlap, the last day always labelled.
#include "senderguard/decide/delivery_chart.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace senderguard {
namespace {

constexpr int64_t kToday = 20794;  // 2026-12-07

// ---- a strict XML reader, enough for the chart (no DTD, no CDATA)
struct Element {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::string text;  // the character data directly inside, decoded
  std::vector<std::unique_ptr<Element>> children;
};

class XmlReader {
 public:
  explicit XmlReader(const std::string& s) : s_(s) {}

  // The root element, or nullptr with error() saying why.
  std::unique_ptr<Element> Parse() {
    if (s_.compare(0, 5, "<?xml") == 0) {
      const size_t e = s_.find("?>");
      if (e == std::string::npos) return Fail("unterminated XML declaration");
      i_ = e + 2;
    }
    SkipSpace();
    auto root = ParseElement();
    if (!root) return nullptr;
    SkipSpace();
    if (i_ != s_.size()) return Fail("content after the root element");
    return root;
  }
  const std::string& error() const { return error_; }

 private:
  std::unique_ptr<Element> Fail(const std::string& why) {
    if (error_.empty()) error_ = why + " at byte " + std::to_string(i_);
    return nullptr;
  }
  void SkipSpace() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  std::string Name() {
    const size_t b = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' ||
                              s_[i_] == '_' || s_[i_] == ':')) {
      ++i_;
    }
    return s_.substr(b, i_ - b);
  }
  // Decodes character data up to `stop`; false on a raw '<' or a bad '&'.
  bool Chars(char stop, std::string* out) {
    while (i_ < s_.size() && s_[i_] != stop) {
      const char c = s_[i_];
      if (c == '<' && stop != '<') return false;
      if (c == '&') {
        const size_t e = s_.find(';', i_);
        if (e == std::string::npos || e - i_ > 10) return false;
        const std::string ent = s_.substr(i_ + 1, e - i_ - 1);
        static const std::map<std::string, std::string> kNamed = {
            {"lt", "<"}, {"gt", ">"}, {"amp", "&"}, {"quot", "\""}, {"apos", "'"}};
        if (auto it = kNamed.find(ent); it != kNamed.end()) {
          *out += it->second;
        } else if (ent.size() > 1 && ent[0] == '#' &&
                   ent.find_first_not_of("0123456789", 1) == std::string::npos) {
          *out += "&#" + ent.substr(1) + ";";  // kept as written: tests compare it
        } else {
          return false;
        }
        i_ = e + 1;
        continue;
      }
      out->push_back(c);
      ++i_;
    }
    return true;
  }
  std::unique_ptr<Element> ParseElement() {
    if (i_ >= s_.size() || s_[i_] != '<') return Fail("expected '<'");
    ++i_;
    auto el = std::make_unique<Element>();
    el->name = Name();
    if (el->name.empty()) return Fail("an element without a name");
    for (;;) {
      SkipSpace();
      if (i_ >= s_.size()) return Fail("unterminated start tag");
      if (s_.compare(i_, 2, "/>") == 0) {
        i_ += 2;
        return el;
      }
      if (s_[i_] == '>') {
        ++i_;
        break;
      }
      const std::string attr = Name();
      if (attr.empty()) return Fail("a bad attribute name");
      if (el->attrs.count(attr)) return Fail("a repeated attribute " + attr);
      if (i_ + 1 >= s_.size() || s_[i_] != '=' || s_[i_ + 1] != '"')
        return Fail("an unquoted attribute");
      i_ += 2;
      std::string v;
      if (!Chars('"', &v) || i_ >= s_.size()) return Fail("a bad attribute value");
      ++i_;
      el->attrs[attr] = v;
    }
    for (;;) {
      if (!Chars('<', &el->text)) return Fail("bad character data");
      if (i_ >= s_.size()) return Fail("unclosed <" + el->name + ">");
      if (s_.compare(i_, 2, "</") == 0) {
        i_ += 2;
        if (Name() != el->name) return Fail("mismatched end tag of <" + el->name + ">");
        if (i_ >= s_.size() || s_[i_] != '>') return Fail("bad end tag");
        ++i_;
        return el;
      }
      auto child = ParseElement();
      if (!child) return nullptr;
      el->children.push_back(std::move(child));
    }
  }

  const std::string& s_;
  size_t i_ = 0;
  std::string error_;
};

void Collect(const Element& e, const std::string& name, std::vector<const Element*>* out) {
  if (name.empty() || e.name == name) out->push_back(&e);
  for (const auto& c : e.children) Collect(*c, name, out);
}

struct Doc {
  std::string svg;
  std::unique_ptr<Element> root;
  std::vector<const Element*> All(const std::string& name = "") const {
    std::vector<const Element*> v;
    Collect(*root, name, &v);
    return v;
  }
  std::vector<const Element*> WithAttr(const std::string& name, const std::string& attr,
                                       const std::string& value) const {
    std::vector<const Element*> v;
    for (const Element* e : All(name)) {
      auto it = e->attrs.find(attr);
      if (it != e->attrs.end() && it->second == value) v.push_back(e);
    }
    return v;
  }
  const Element* ById(const std::string& id) const {
    auto v = WithAttr("", "id", id);
    return v.size() == 1 ? v[0] : nullptr;
  }
  std::vector<std::string> Texts() const {
    std::vector<std::string> t;
    for (const Element* e : All("text")) t.push_back(e->text);
    return t;
  }
  bool HasText(const std::string& needle) const {
    for (const auto& t : Texts()) {
      if (t.find(needle) != std::string::npos) return true;
    }
    return false;
  }
};

double Attr(const Element* e, const std::string& a) { return std::stod(e->attrs.at(a)); }

Doc Render(const Report& r, ChartOptions opt = {}) {
  if (opt.subject.empty()) opt.subject = "alice";
  Doc d;
  d.svg = RenderReportSvg(r, opt);
  XmlReader reader(d.svg);
  d.root = reader.Parse();
  EXPECT_TRUE(d.root) << reader.error();
  return d;
}

DayCounts Counts(uint64_t delivered, uint64_t hard, uint64_t complaints) {
  DayCounts c;
  c.delivered = delivered;
  c.hard = hard;
  c.complaints = complaints;
  return c;
}

// A report of `days` days built by hand (also beyond BuildReport's 90), every
// day with mail unless in `empty`.
Report Days(size_t days, const std::vector<size_t>& empty = {}) {
  Report r;
  r.last_day = kToday;
  r.first_day = kToday - static_cast<int64_t>(days) + 1;
  for (size_t i = 0; i < days; ++i) {
    ReportDay d;
    d.day = r.first_day + static_cast<int64_t>(i);
    if (std::find(empty.begin(), empty.end(), i) == empty.end()) {
      d.counts = Counts(100 + i, i % 7, i % 3 == 0 ? 1 : 0);
      d.complaint_rate =
          static_cast<double>(d.counts.complaints) / static_cast<double>(d.counts.delivered);
      d.hard_rate = static_cast<double>(d.counts.hard) / static_cast<double>(d.counts.attempted());
    }
    r.days.push_back(d);
  }
  return r;
}

TEST(DeliveryChartTest, AWellFormedSelfContainedDocumentForZeroOneThirtyAndNinetyDays) {
  for (size_t n : {0, 1, 30, 90}) {
    SCOPED_TRACE(n);
    const Doc d = Render(Days(n));
    ASSERT_TRUE(d.root);
    EXPECT_EQ(d.svg.compare(0, 38, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), 0);
    EXPECT_EQ(d.root->name, "svg");
    EXPECT_EQ(d.root->attrs.at("xmlns"), "http://www.w3.org/2000/svg");
    EXPECT_EQ(d.root->attrs.at("version"), "1.1");
    EXPECT_EQ(d.root->attrs.at("width"), "800");
    EXPECT_EQ(d.root->attrs.at("height"), "600");
    EXPECT_EQ(d.root->attrs.at("viewBox"), "0 0 800 600");
    EXPECT_EQ(d.root->attrs.at("font-family"), "sans-serif");
    EXPECT_EQ(d.All("title").size(), 1u);
    for (const char* banned : {"script", "style", "image", "foreignObject", "a", "use", "font"}) {
      EXPECT_TRUE(d.All(banned).empty()) << banned;
    }
    for (const char* banned : {"href", "url(", "@import", "http://", "https://", "data:"}) {
      const std::string rest = d.svg.substr(d.svg.find('>', d.svg.find("<svg")));
      EXPECT_EQ(rest.find(banned), std::string::npos) << banned;
    }
    for (unsigned char c : d.svg) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << int(c);
    EXPECT_EQ(d.svg.back(), '\n');
    // Everything inside the canvas.
    for (const Element* e : d.All()) {
      for (const char* a : {"x", "x1", "x2", "cx"}) {
        if (e->attrs.count(a)) {
          EXPECT_GE(Attr(e, a), 0);
          EXPECT_LE(Attr(e, a), 800);
        }
      }
      for (const char* a : {"y", "y1", "y2", "cy"}) {
        if (e->attrs.count(a)) {
          EXPECT_GE(Attr(e, a), 0);
          EXPECT_LE(Attr(e, a), 600);
        }
      }
    }
    EXPECT_EQ(d.WithAttr("text", "class", "day-label").empty(), n == 0);
  }
  EXPECT_TRUE(Render(Days(0)).HasText("no days in this report"));
  EXPECT_TRUE(Render(Days(3, {0, 1, 2})).HasText("no mail in these days"));
}

TEST(DeliveryChartTest, TheTitleNamesTheSubjectAndTheRange) {
  const Doc d = Render(Days(30));
  EXPECT_EQ(d.All("title")[0]->text,
            "Delivery report: alice, 2026-11-08 to 2026-12-07 (30 UTC days)");
  EXPECT_TRUE(d.HasText("Delivery report: alice"));
  EXPECT_TRUE(d.HasText("2026-11-08 to 2026-12-07 (30 UTC days)"));
  ChartOptions all;
  all.subject = "all accounts";
  EXPECT_TRUE(Render(Days(1), all).HasText("Delivery report: all accounts"));
  EXPECT_TRUE(Render(Days(1), all).HasText("2026-12-07 to 2026-12-07 (1 UTC day)"));
}

TEST(DeliveryChartTest, TheNameIsEscapedAndCut) {
  struct Case {
    std::string name, shown;
  };
  const Case cases[] = {
      {"a<b&c\"d'e>", "a<b&c\"d'e>"},  // markup: entities, read back whole
      {"</text><script>x</script>", "</text><script>x</script>"},
      {"x\ny\r\x1b[31m", "x\\x0ay\\x0d\\x1b[31m"},       // controls: Printable
      {"b\xc3\xbc\x63her\xff", "b\\xc3\\xbccher\\xff"},  // 8-bit, valid or not: ASCII escapes
      {"&amp;", "&amp;"},                                // an entity in the name stays text
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ChartOptions opt;
    opt.subject = c.name;
    const Doc d = Render(Days(2), opt);
    ASSERT_TRUE(d.root);
    EXPECT_TRUE(d.All("script").empty());
    EXPECT_TRUE(d.HasText("Delivery report: " + c.shown)) << d.svg.substr(0, 600);
  }
  ChartOptions longer;
  longer.subject = std::string(5000, 'n');
  const Doc d = Render(Days(2), longer);
  for (const std::string& t : d.Texts()) {
    if (t.rfind("Delivery report: ", 0) == 0) {
      EXPECT_LT(t.size() * 16 * 0.62, 800 - 16) << t;  // within the width at the title's size
      EXPECT_EQ(t.substr(t.size() - 3), "...");
    }
  }
}

// The y ranges of the panels' plots (volume, complaints, hard bounces), from
// their y axes.
std::vector<std::pair<double, double>> Panels(const Doc& d) {
  std::vector<std::pair<double, double>> p;
  for (const Element* e : d.WithAttr("line", "stroke", "#888888")) {
    if (e->attrs.at("x1") == "64" && e->attrs.at("x2") == "64")
      p.emplace_back(Attr(e, "y1"), Attr(e, "y2"));
  }
  EXPECT_EQ(p.size(), 3u);
  return p;
}

// The panel whose plot spans `y`, or -1.
int PanelOf(const Doc& d, double y) {
  const auto p = Panels(d);
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i].first < y && y < p[i].second) return static_cast<int>(i);
  }
  return -1;
}

TEST(DeliveryChartTest, BothSuspensionThresholdsAreDrawnInTheirColoursInTheirPanels) {
  ReputationConfig rc;
  rc.suspend_complaint_rate = 0.002;
  rc.suspend_hard_rate = 0.05;
  for (size_t n : {0, 1, 90}) {
    SCOPED_TRACE(n);
    ChartOptions opt;
    opt.reputation = rc;
    const Doc d = Render(Days(n), opt);
    const Element* c = d.ById("threshold-complaint");
    const Element* h = d.ById("threshold-hard");
    ASSERT_TRUE(c && h);
    EXPECT_EQ(c->attrs.at("stroke"), kChartComplaintThresholdColour);
    EXPECT_EQ(h->attrs.at("stroke"), kChartHardThresholdColour);
    for (const Element* t : {c, h}) {
      EXPECT_EQ(t->attrs.at("y1"), t->attrs.at("y2"));  // horizontal
      EXPECT_EQ(Attr(t, "x1"), 64);                     // across the plot
      EXPECT_EQ(Attr(t, "x2"), 780);
      EXPECT_EQ(Attr(t, "stroke-width"), 2);
      EXPECT_EQ(Attr(t, "y1"), std::round(Attr(t, "y1")));  // whole pixels: exact colour
    }
    EXPECT_EQ(PanelOf(d, Attr(c, "y1")), 1);
    EXPECT_EQ(PanelOf(d, Attr(h, "y1")), 2);
    EXPECT_TRUE(d.HasText("complaint suspension threshold 0.2%"));
    EXPECT_TRUE(d.HasText("hard-bounce suspension threshold 5%"));
    // Labelled on the line in its colour.
    const auto cl = d.WithAttr("text", "fill", std::string(kChartComplaintThresholdColour));
    const auto hl = d.WithAttr("text", "fill", std::string(kChartHardThresholdColour));
    ASSERT_EQ(cl.size(), 1u);
    ASSERT_EQ(hl.size(), 1u);
    EXPECT_EQ(cl[0]->text, "suspension above 0.2%");
    EXPECT_EQ(hl[0]->text, "suspension above 5%");
    // The colours are the thresholds' only: their line, label and legend swatch.
    for (std::string_view colour : {kChartComplaintThresholdColour, kChartHardThresholdColour}) {
      size_t count = 0;
      for (size_t p = d.svg.find(colour); p != std::string::npos; p = d.svg.find(colour, p + 1))
        ++count;
      EXPECT_EQ(count, 3u) << colour;
    }
  }
  // The defaults: 0.1% and 10%.
  const Doc d = Render(Days(5));
  EXPECT_TRUE(d.HasText("complaint suspension threshold 0.1%"));
  EXPECT_TRUE(d.HasText("hard-bounce suspension threshold 10%"));
  EXPECT_TRUE(d.HasText("over the 30 days ending a day"));
  EXPECT_TRUE(d.HasText("at least 1000 messages"));
}

TEST(DeliveryChartTest, ThresholdHeightMatchesItsRate) {
  // Rates far below the thresholds: each axis goes to 1.25 times its
  // threshold, rounded up to a nice step; the line sits at rate/top.
  Report r = Days(3);
  for (auto& day : r.days) {
    day.counts = Counts(1000, 0, 0);
    day.complaint_rate = day.hard_rate = 0;
  }
  const Doc d = Render(r);
  for (const char* id : {"threshold-complaint", "threshold-hard"}) {
    SCOPED_TRACE(id);
    const Element* t = d.ById(id);
    ASSERT_TRUE(t);
    const int panel = PanelOf(d, Attr(t, "y1"));
    ASSERT_GE(panel, 1);
    const auto [top, bottom] = Panels(d)[static_cast<size_t>(panel)];
    // 0.1% on a 0.2% axis (steps of 0.05%), 10% on a 20% axis: halfway.
    EXPECT_NEAR(Attr(t, "y1"), (top + bottom) / 2, 1.0);
  }
  EXPECT_TRUE(d.HasText("0.20%"));
  EXPECT_TRUE(d.HasText("20%"));
}

std::vector<double> CentresOf(const Doc& d, const std::string& cls) {
  std::vector<double> x;
  for (const Element* e : d.WithAttr("circle", "class", cls)) x.push_back(Attr(e, "cx"));
  return x;
}

size_t PointsIn(const Element* polyline) {
  const std::string& p = polyline->attrs.at("points");
  return static_cast<size_t>(std::count(p.begin(), p.end(), ','));
}

TEST(DeliveryChartTest, ADayWithoutMailIsAGapNotZero) {
  // Days 0, 1, 3, 4 with mail; day 2 none: two runs of two, no point on day 2.
  const Doc d = Render(Days(5, {2}));
  for (const char* cls : {"rate-complaint", "rate-hard"}) {
    SCOPED_TRACE(cls);
    const auto lines = d.WithAttr("polyline", "class", cls);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(PointsIn(lines[0]), 2u);
    EXPECT_EQ(PointsIn(lines[1]), 2u);
    const auto cx = CentresOf(d, cls);
    EXPECT_EQ(cx.size(), 4u);
    const double slot = (780.0 - 64.0) / 5;
    for (double x : cx)
      EXPECT_GT(std::fabs(x - (64 + slot * 2.5)), 1) << "a point on the empty day";
  }
  EXPECT_EQ(d.WithAttr("rect", "class", "attempted").size(), 4u);
  EXPECT_EQ(d.WithAttr("rect", "class", "delivered").size(), 4u);
  // 90 days with one mail-less day in three: isolated days are dots, no
  // line crosses a gap.
  std::vector<size_t> empty;
  for (size_t i = 1; i < 90; i += 3) empty.push_back(i);
  const Doc e = Render(Days(90, empty));
  for (const Element* l : e.WithAttr("polyline", "class", "rate-hard")) EXPECT_LE(PointsIn(l), 2u);
  // Attempted but nothing delivered, no complaint: a hard rate, no complaint rate.
  Report r = Days(1);
  r.days[0].counts = Counts(0, 5, 0);
  r.days[0].complaint_rate = 0;
  r.days[0].hard_rate = 1;
  const Doc f = Render(r);
  EXPECT_TRUE(CentresOf(f, "rate-complaint").empty());
  EXPECT_EQ(CentresOf(f, "rate-hard").size(), 1u);
}

TEST(DeliveryChartTest, InfiniteAndTooHighRatesAreMarkedAtTheTop) {
  Report r = Days(3);
  r.days[0].counts = Counts(0, 0, 2);  // complaints, nothing delivered: infinite
  r.days[0].complaint_rate = 0;
  r.days[1].counts = Counts(100, 0, 50);  // 50%: far above 10 x 0.1%
  r.days[1].complaint_rate = 0.5;
  const Doc d = Render(r);
  EXPECT_EQ(d.WithAttr("polygon", "class", "off-scale").size(), 2u);
  EXPECT_TRUE(d.HasText("1.00%"));  // the axis stops at 10 times the threshold
  for (const std::string& t : d.Texts()) EXPECT_TRUE(t != "50%" && t != "50.00%") << t;
  const Doc ok = Render(Days(3));
  EXPECT_TRUE(ok.WithAttr("polygon", "class", "off-scale").empty());
}

TEST(DeliveryChartTest, DateLabelsNeverOverlapAndTheLastDayIsLabelled) {
  for (size_t n = 1; n <= 120; ++n) {
    for (int width : {640, 800, 1600}) {
      SCOPED_TRACE(std::to_string(n) + " days, width " + std::to_string(width));
      ChartOptions opt;
      opt.width = width;
      const Doc d = Render(Days(n), opt);
      const auto labels = d.WithAttr("text", "class", "day-label");
      ASSERT_FALSE(labels.empty());
      EXPECT_EQ(labels.back()->text, "12-07");
      const double w = 5 * 10.5 * 0.62;
      for (size_t i = 1; i < labels.size(); ++i) {
        EXPECT_GE(Attr(labels[i], "x") - Attr(labels[i - 1], "x"), w + 8);
      }
      EXPECT_GE(Attr(labels.front(), "x") - w / 2, 0);
      EXPECT_LE(Attr(labels.back(), "x") + w / 2, width);
      if (n <= 10 && width >= 800) {
        EXPECT_EQ(labels.size(), n);  // few days: each labelled
      }
    }
  }
  const Doc d = Render(Days(90));
  EXPECT_GE(d.WithAttr("text", "class", "day-label").size(), 8u);  // still a readable axis
}

// The box a <text> takes, by the chart's own width estimate (0.62 em per
// character, at least as wide as the generic sans-serif's) and the font's
// ascent and descent (0.8 and 0.25 em); "&#9650;" is one character.
struct Box {
  double x0, y0, x1, y1;
  std::string text;
};
Box TextBox(const Element* e) {
  const double size = Attr(e, "font-size");
  size_t chars = 0;
  for (unsigned char c : e->text) chars += (c & 0xc0) != 0x80;  // UTF-8: count characters
  const double w = static_cast<double>(chars) * size * 0.62;
  const double x = Attr(e, "x"), y = Attr(e, "y");
  auto a = e->attrs.find("text-anchor");
  const std::string anchor = a == e->attrs.end() ? "start" : a->second;
  const double x0 = anchor == "end" ? x - w : anchor == "middle" ? x - w / 2 : x;
  return {x0, y - 0.8 * size, x0 + w, y + 0.25 * size, e->text};
}

// Every label of the chart (title, legend, panel names, axis ticks,
// threshold labels, dates, footnotes) stays inside the chart and clear of
// every other, for few and many days, the smallest and larger sizes, rates
// far above and below the thresholds and unusual thresholds.
TEST(DeliveryChartTest, NoTwoLabelsOverlapAndAllStayInside) {
  std::vector<std::pair<std::string, Report>> reports;
  for (size_t n : {0, 1, 2, 7, 30, 90}) reports.emplace_back(std::to_string(n) + " days", Days(n));
  Report high = Days(30);
  for (auto& d : high.days) {  // rates beyond the axes, big counts
    d.counts.delivered = 123456789;
    d.complaint_rate = 0.5;
    d.hard_rate = 0.9;
  }
  reports.emplace_back("high", high);
  std::vector<std::pair<double, double>> thresholds = {{0.001, 0.1}, {0.0016, 0.05},
                                                       {0.00012345, 0.5}, {0.02, 0.0123}};
  for (const auto& [what, report] : reports) {
    for (const auto& [complaint, hard] : thresholds) {
      for (const auto& [w, h] : std::vector<std::pair<int, int>>{{640, 480}, {800, 600}, {1600, 1200}}) {
        SCOPED_TRACE(what + ", thresholds " + std::to_string(complaint) + "/" + std::to_string(hard) +
                     ", " + std::to_string(w) + "x" + std::to_string(h));
        ChartOptions opt;
        opt.width = w;
        opt.height = h;
        opt.subject = std::string(300, 'W');  // cut to fit: the widest letter
        opt.reputation.suspend_complaint_rate = complaint;
        opt.reputation.suspend_hard_rate = hard;
        const Doc d = Render(report, opt);
        ASSERT_TRUE(d.root);
        std::vector<Box> boxes;
        for (const Element* e : d.All("text")) boxes.push_back(TextBox(e));
        for (size_t i = 0; i < boxes.size(); ++i) {
          const Box& a = boxes[i];
          EXPECT_TRUE(a.x0 >= 0 && a.y0 >= 0 && a.x1 <= w && a.y1 <= h)
              << "\"" << a.text << "\" outside the chart: " << a.x0 << "," << a.y0 << " " << a.x1
              << "," << a.y1;
          for (size_t j = i + 1; j < boxes.size(); ++j) {
            const Box& b = boxes[j];
            const bool apart = a.x1 <= b.x0 || b.x1 <= a.x0 || a.y1 <= b.y0 || b.y1 <= a.y0;
            EXPECT_TRUE(apart) << "\"" << a.text << "\" overlaps \"" << b.text << "\"";
          }
        }
      }
    }
  }
}

// Each threshold's label sits on a white ground drawn over its panel's
// series, so a rate line passing under it does not blur it (seen in a
// rendering: the line crossed "suspension above 0.1%").
TEST(DeliveryChartTest, ThresholdLabelsSitOnAGroundOverTheSeries) {
  const Doc d = Render(Days(30));
  ASSERT_TRUE(d.root);
  EXPECT_EQ(d.WithAttr("rect", "class", "label-ground").size(), 2u);
  const size_t ground = d.svg.find("class=\"label-ground\"");
  const size_t series = d.svg.rfind("class=\"rate-complaint\"", d.svg.find("threshold-complaint"));
  ASSERT_NE(ground, std::string::npos);
  ASSERT_NE(series, std::string::npos);
  EXPECT_GT(ground, series) << "the ground is drawn after the complaint series";
  EXPECT_LT(ground, d.svg.find(">suspension above 0.1%<"));
}

TEST(DeliveryChartTest, TheSizeIsClamped) {
  ChartOptions small;
  small.width = 10;
  small.height = -5;
  const Doc d = Render(Days(3), small);
  EXPECT_EQ(d.root->attrs.at("width"), std::to_string(kChartMinWidth));
  EXPECT_EQ(d.root->attrs.at("height"), std::to_string(kChartMinHeight));
  ChartOptions big;
  big.width = 1 << 30;
  big.height = 1200;
  const Doc e = Render(Days(3), big);
  EXPECT_EQ(e.root->attrs.at("width"), std::to_string(kChartMaxWidth));
  EXPECT_EQ(e.root->attrs.at("viewBox"), "0 0 " + std::to_string(kChartMaxWidth) + " 1200");
}

TEST(DeliveryChartTest, VolumeBarsScaleToTheBusiestDay) {
  Report r = Days(2);
  r.days[0].counts = Counts(3000, 1000, 0);  // 4000 attempted: the axis's top
  r.days[1].counts = Counts(1, 0, 0);        // one message: still a visible bar
  const Doc d = Render(r);
  const auto att = d.WithAttr("rect", "class", "attempted");
  ASSERT_EQ(att.size(), 2u);
  EXPECT_TRUE(d.HasText("4000"));
  EXPECT_GE(Attr(att[1], "height"), 1);
  const auto [top, bottom] = Panels(d)[0];
  EXPECT_NEAR(Attr(att[0], "y"), top, 0.1);
  EXPECT_NEAR(Attr(att[0], "y") + Attr(att[0], "height"), bottom, 0.1);
  const auto dl = d.WithAttr("rect", "class", "delivered");
  ASSERT_EQ(dl.size(), 2u);
  EXPECT_NEAR(Attr(dl[0], "height") / Attr(att[0], "height"), 0.75, 0.01);
}

TEST(DeliveryChartTest, XmlEscapeEscapesTheFiveCharacters) {
  EXPECT_EQ(XmlEscape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
  EXPECT_EQ(XmlEscape(""), "");
  EXPECT_EQ(XmlEscape("plain 1-2"), "plain 1-2");
}

}  // namespace
}  // namespace senderguard
