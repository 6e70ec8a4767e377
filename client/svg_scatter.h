// A scatter plot written as SVG text by the CLI itself, with log or linear
// axes, one colour per series and hollow markers for the points a series
// marks as open. `ladder backtest --plot` needs no external program (`ladder
// plot`'s curves with bands are drawn by gnuplot).
#pragma once

#include <string>
#include <vector>

namespace ladder::cli {

// The CLI's plot palette: one colour per family, in this order (shared with
// `ladder plot`).
extern const char* const kPlotColors[6];

struct ScatterPoint {
  double x = 0;
  double y = 0;
  bool hollow = false;  // drawn as an open marker
};

struct ScatterSeries {
  std::string name;
  std::string color;
  std::vector<ScatterPoint> points;
};

struct ScatterPlot {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = true;
  bool log_y = true;
  // A y below this is drawn at it on a log axis (a zero error has no log).
  double y_floor = 1e-3;
  std::string note;  // one line under the legend, e.g. what hollow means
  std::vector<ScatterSeries> series;
};

// The whole SVG document. Points that are not finite are left out.
std::string ScatterSvg(const ScatterPlot& plot);

}  // namespace ladder::cli
