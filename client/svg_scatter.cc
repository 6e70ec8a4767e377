#include "client/svg_scatter.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace ladder::cli {

const char* const kPlotColors[6] = {"#1f77b4", "#d62728", "#2ca02c",
                                    "#9467bd", "#ff7f0e", "#8c564b"};

namespace {

constexpr double kWidth = 900, kHeight = 560;
constexpr double kLeft = 80, kRight = 230, kTop = 50, kBottom = 60;

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Num(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

// One axis: the data range mapped onto [from, to] pixels, with its ticks.
struct Axis {
  bool log = true;
  double lo = 0, hi = 1;  // in data units (log10 of them on a log axis)
  double from = 0, to = 1;

  double Pixel(double v) const {
    const double t = log ? std::log10(v) : v;
    return from + (t - lo) / (hi - lo) * (to - from);
  }
  // Tick values (data units) and their labels.
  std::vector<std::pair<double, std::string>> Ticks() const {
    std::vector<std::pair<double, std::string>> out;
    if (log) {
      for (int e = static_cast<int>(std::ceil(lo)); e <= static_cast<int>(std::floor(hi)); ++e)
        out.push_back({std::pow(10.0, e), Num(std::pow(10.0, e))});
    } else {
      for (int i = 0; i <= 5; ++i) {
        const double v = lo + (hi - lo) * i / 5;
        out.push_back({v, Num(std::round(v * 1e4) / 1e4)});
      }
    }
    return out;
  }
};

// The range of `values` (finite; positive on a log axis), decades on a log axis.
Axis MakeAxis(std::vector<double> values, bool log, double from, double to) {
  Axis a;
  a.log = log;
  a.from = from;
  a.to = to;
  if (values.empty()) values = {1, 10};
  const auto [mn, mx] = std::minmax_element(values.begin(), values.end());
  if (log) {
    a.lo = std::floor(std::log10(*mn));
    a.hi = std::ceil(std::log10(*mx));
    if (a.hi <= a.lo) a.hi = a.lo + 1;
  } else {
    const double pad = (*mx - *mn) * 0.05 + (*mx == *mn ? 1 : 0);
    a.lo = *mn - pad;
    a.hi = *mx + pad;
  }
  return a;
}

void DrawAxes(const ScatterPlot& plot, const Axis& x, const Axis& y, std::ostream& svg) {
  const double x0 = kLeft, x1 = kWidth - kRight, y0 = kHeight - kBottom, y1 = kTop;
  svg << "<rect x='" << x0 << "' y='" << y1 << "' width='" << x1 - x0 << "' height='" << y0 - y1
      << "' fill='none' stroke='#444'/>\n";
  for (const auto& [v, label] : x.Ticks()) {
    const double px = x.Pixel(v);
    svg << "<line x1='" << px << "' y1='" << y1 << "' x2='" << px << "' y2='" << y0
        << "' stroke='#ddd'/>\n<text x='" << px << "' y='" << y0 + 18 << "' text-anchor='middle'>"
        << Escape(label) << "</text>\n";
  }
  for (const auto& [v, label] : y.Ticks()) {
    const double py = y.Pixel(v);
    svg << "<line x1='" << x0 << "' y1='" << py << "' x2='" << x1 << "' y2='" << py
        << "' stroke='#ddd'/>\n<text x='" << x0 - 6 << "' y='" << py + 4 << "' text-anchor='end'>"
        << Escape(label) << "</text>\n";
  }
  svg << "<text x='" << (x0 + x1) / 2 << "' y='" << kHeight - 15 << "' text-anchor='middle'>"
      << Escape(plot.x_label) << "</text>\n";
  svg << "<text transform='translate(20," << (y0 + y1) / 2 << ") rotate(-90)' text-anchor='middle'>"
      << Escape(plot.y_label) << "</text>\n";
  svg << "<text x='" << kWidth / 2 << "' y='28' text-anchor='middle' font-size='16'>"
      << Escape(plot.title) << "</text>\n";
}

void DrawLegend(const ScatterPlot& plot, std::ostream& svg) {
  double ly = kTop + 10;
  const double lx = kWidth - kRight + 20;
  for (const auto& s : plot.series) {
    svg << "<circle cx='" << lx << "' cy='" << ly << "' r='5' fill='" << s.color << "'/>\n"
        << "<text x='" << lx + 12 << "' y='" << ly + 4 << "'>" << Escape(s.name) << "</text>\n";
    ly += 20;
  }
  if (!plot.note.empty()) {
    svg << "<circle cx='" << lx << "' cy='" << ly << "' r='5' fill='white' stroke='#444'/>\n"
        << "<text x='" << lx + 12 << "' y='" << ly + 4 << "'>" << Escape(plot.note) << "</text>\n";
  }
}

}  // namespace

std::string ScatterSvg(const ScatterPlot& plot) {
  auto usable = [&](const ScatterPoint& p) {
    return std::isfinite(p.x) && std::isfinite(p.y) && (!plot.log_x || p.x > 0);
  };
  auto y_of = [&](const ScatterPoint& p) { return plot.log_y ? std::max(p.y, plot.y_floor) : p.y; };
  std::vector<double> xs, ys;
  for (const auto& s : plot.series) {
    for (const auto& p : s.points) {
      if (!usable(p)) continue;
      xs.push_back(p.x);
      ys.push_back(y_of(p));
    }
  }
  const Axis x = MakeAxis(xs, plot.log_x, kLeft, kWidth - kRight);
  const Axis y = MakeAxis(ys, plot.log_y, kHeight - kBottom, kTop);

  std::ostringstream svg;
  svg << "<?xml version='1.0' encoding='UTF-8'?>\n<svg xmlns='http://www.w3.org/2000/svg' width='"
      << kWidth << "' height='" << kHeight << "' viewBox='0 0 " << kWidth << " " << kHeight
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' "
         "fill='white'/>\n";
  DrawAxes(plot, x, y, svg);
  for (const auto& s : plot.series) {
    for (const auto& p : s.points) {
      if (!usable(p)) continue;
      svg << "<circle cx='" << x.Pixel(p.x) << "' cy='" << y.Pixel(y_of(p)) << "' r='4.5' "
          << (p.hollow ? "fill='white' stroke='" + s.color + "' stroke-width='1.5'"
                       : "fill='" + s.color + "'")
          << "/>\n";
    }
  }
  DrawLegend(plot, svg);
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace ladder::cli
