// trm plot: metrics.jsonl of one or more runs into four panels of training curves.
#include "trm/viz/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "io/text_file.h"
#include "trm/error.h"

namespace trm::viz {

namespace fs = std::filesystem;

namespace {

// A run of 10^6 logged lines is a few hundred MB; anything larger is not a metrics log.
constexpr std::size_t kMaxMetricsBytes = std::size_t{1} << 30;

// Step -> value, so a step logged twice (a resumed run) keeps its last value.
using Series = std::map<std::int64_t, double>;

std::vector<SeriesPoint> to_points(const Series& s) {
  std::vector<SeriesPoint> out;
  out.reserve(s.size());
  for (const auto& [step, v] : s) out.push_back({step, v});
  return out;
}

}  // namespace

RunCurves read_run_curves(const std::string& path) {
  RunCurves run;
  run.file = fs::is_directory(path) ? (fs::path(path) / "metrics.jsonl").string() : path;
  if (!fs::exists(path))
    throw Error(path + ": no such run directory or file (trm plot reads the metrics.jsonl a training run writes into its --out directory)");
  if (!fs::exists(run.file)) throw Error(run.file + ": no such file (is " + path + " a trm train --out directory?)");
  const std::string text = io::read_text_file(run.file, kMaxMetricsBytes);
  Series tl, ta, te, ts, ea, ee, es;
  std::size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    const std::string where = run.file + ":" + std::to_string(line_no);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(where + ": not a JSON line (" + e.what() + ")");
    }
    if (!j.is_object()) throw Error(where + ": not a JSON object");
    const auto type_it = j.find("type");
    if (type_it == j.end() || !type_it->is_string()) throw Error(where + ": no \"type\" string");
    const std::string type = type_it->get<std::string>();
    if (type != "train" && type != "eval") continue;
    const auto step_it = j.find("step");
    if (step_it == j.end() || !step_it->is_number_integer() || step_it->get<std::int64_t>() < 0)
      throw Error(where + ": a \"" + type + "\" line without a non-negative integer \"step\"");
    const std::int64_t step = step_it->get<std::int64_t>();
    auto take = [&](const char* key, Series& into) {
      const auto it = j.find(key);
      if (it == j.end()) throw Error(where + ": a \"" + type + "\" line without \"" + key + "\"");
      if (it->is_null()) return;  // NaN is written as null: a gap in the curve
      if (!it->is_number()) throw Error(where + ": \"" + key + "\" is not a number");
      const double v = it->get<double>();
      if (std::isfinite(v)) into[step] = v;
    };
    if (type == "train") {
      take("lm_loss", tl);
      take("accuracy", ta);
      take("exact_accuracy", te);
      take("steps", ts);
    } else {
      take("cell_accuracy", ea);
      take("exact_accuracy", ee);
      take("avg_steps", es);
    }
  }
  if (tl.empty() && ta.empty() && ea.empty() && ee.empty())
    throw Error(run.file + ": no \"train\" or \"eval\" lines to plot" + (text.empty() ? " (the file is empty)" : ""));
  run.train_loss = to_points(tl);
  run.train_accuracy = to_points(ta);
  run.train_exact = to_points(te);
  run.train_steps = to_points(ts);
  run.eval_accuracy = to_points(ea);
  run.eval_exact = to_points(ee);
  run.eval_steps = to_points(es);
  return run;
}

void name_runs(std::vector<RunCurves>& runs, const std::vector<std::string>& paths) {
  std::map<std::string, int> seen;
  std::vector<std::string> names;
  for (const std::string& p : paths) {
    fs::path path = fs::path(p).lexically_normal();
    if (!path.has_filename()) path = path.parent_path();  // "runs/a/" -> "runs/a"
    if (path.filename() == "metrics.jsonl") path = path.parent_path();
    std::string n = path.filename().string();
    if (n.empty() || n == ".") n = fs::absolute(path).lexically_normal().filename().string();
    names.push_back(n);
    ++seen[n];
  }
  for (std::size_t i = 0; i < runs.size() && i < names.size(); ++i)
    runs[i].name = seen[names[i]] > 1 ? paths[i] : names[i];
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  // k * step from integer k, rounded to the step's precision: 3 * 0.2 is 0.6, not 0.6000000000000001.
  const double quantum = mag / 1000;
  for (auto k = static_cast<long long>(std::ceil(lo / step - 1e-9)); k * step <= hi + step * 1e-9; ++k)
    ticks.push_back(std::round(static_cast<double>(k) * step / quantum) * quantum);
  return ticks;
}

namespace {

// Tableau 10: distinguishable, and readable on white.
const Rgb kRunColors[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                          {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
const Rgb kInk{33, 33, 33}, kGrid{226, 226, 226}, kAxis{120, 120, 120}, kMuted{100, 100, 100};

std::string tick_label(double v) {
  char buf[32];
  if (v != 0 && (std::abs(v) >= 1e5 || std::abs(v) < 1e-3)) std::snprintf(buf, sizeof buf, "%.0e", v);
  else if (std::abs(v) >= 1000) std::snprintf(buf, sizeof buf, "%.0fk", v / 1000);  // steps: 2000 -> 2k
  else std::snprintf(buf, sizeof buf, "%g", v);
  std::string s = buf;
  if (std::abs(v) >= 1000 && std::abs(v) < 1e5 && std::fmod(v, 1000) != 0) {
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1000);
    s = buf;
  }
  return s;
}

struct Panel {
  const char* title;
  std::vector<SeriesPoint> RunCurves::*train;
  std::vector<SeriesPoint> RunCurves::*eval;  // nullptr: none
  bool unit_range;                            // accuracies: [0, 1]
};

void draw_panel(Canvas& cv, const std::vector<RunCurves>& runs, const Panel& p, double x0, double y0, double w, double h) {
  cv.begin_group("panel");
  const double left = x0 + 58, right = x0 + w - 14, top = y0 + 28, bottom = y0 + h - 40;
  cv.text({x0 + w / 2, y0 + 16}, p.title, {14, kInk, Align::kCenter, true});
  // Ranges over every run's points.
  std::int64_t smin = INT64_MAX, smax = INT64_MIN;
  double vmin = INFINITY, vmax = -INFINITY;
  for (const RunCurves& r : runs)
    for (const auto* s : {&(r.*p.train), p.eval ? &(r.*p.eval) : nullptr}) {
      if (!s) continue;
      for (const SeriesPoint& pt : *s) {
        smin = std::min(smin, pt.step);
        smax = std::max(smax, pt.step);
        vmin = std::min(vmin, pt.value);
        vmax = std::max(vmax, pt.value);
      }
    }
  if (smin > smax) {
    cv.rect_outline(left, top, right - left, bottom - top, kAxis, 1);
    cv.text({(left + right) / 2, (top + bottom) / 2}, "no data", {12, kMuted, Align::kCenter});
    cv.end_group();
    return;
  }
  double lo = 0, hi = 1;
  if (!p.unit_range) {
    lo = std::min(0.0, vmin);
    hi = vmax > lo ? vmax * 1.05 : lo + 1;
  }
  const double xlo = 0, xhi = smax > 0 ? static_cast<double>(smax) : 1.0;
  const std::vector<double> xt = nice_ticks(xlo, xhi, 6), yt = nice_ticks(lo, hi, 5);
  hi = std::max(hi, yt.back());
  const double xmax = std::max(xhi, xt.back());
  auto X = [&](double s) { return left + (s - xlo) / (xmax - xlo) * (right - left); };
  auto Y = [&](double v) { return bottom - (v - lo) / (hi - lo) * (bottom - top); };
  for (double t : yt) {
    cv.line({left, Y(t)}, {right, Y(t)}, kGrid, 1);
    cv.text({left - 6, Y(t) + 4}, tick_label(t), {11, kMuted, Align::kRight});
  }
  for (double t : xt) {
    cv.line({X(t), top}, {X(t), bottom}, kGrid, 1);
    cv.text({X(t), bottom + 15}, tick_label(t), {11, kMuted, Align::kCenter});
  }
  cv.rect_outline(left, top, right - left, bottom - top, kAxis, 1);
  cv.text({(left + right) / 2, bottom + 32}, "training step", {11, kMuted, Align::kCenter});
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const Rgb c = kRunColors[i % std::size(kRunColors)];
    cv.begin_group("series train");
    std::vector<Point> pts;
    for (const SeriesPoint& pt : runs[i].*p.train) pts.push_back({X(static_cast<double>(pt.step)), Y(pt.value)});
    if (pts.size() == 1) cv.circle(pts[0], 2.5, c);
    cv.polyline(pts, c, 1.8);
    cv.end_group();
    if (p.eval) {
      cv.begin_group("series eval");
      pts.clear();
      for (const SeriesPoint& pt : runs[i].*p.eval) pts.push_back({X(static_cast<double>(pt.step)), Y(pt.value)});
      cv.polyline(pts, c, 1.5, true);
      for (const Point& q : pts) cv.circle(q, 3.5, c);
      cv.end_group();
    }
  }
  cv.end_group();
}

}  // namespace

void draw_curves(Canvas& cv, const std::vector<RunCurves>& runs, const std::string& title) {
  const double W = kPlotWidth, H = kPlotHeight;
  cv.text({W / 2, 26}, title, {17, kInk, Align::kCenter, true});
  // Legend: one entry per run, then what the line styles mean; wraps onto a second row.
  cv.begin_group("legend");
  double x = 20, y = 52;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const double wtext = approx_text_width(runs[i].name, 12);
    if (x + 30 + wtext > W - 20 && x > 20) {
      x = 20;
      y += 18;
    }
    const Rgb c = kRunColors[i % std::size(kRunColors)];
    cv.line({x, y - 4}, {x + 22, y - 4}, c, 3);
    cv.text({x + 28, y}, runs[i].name, {12, kInk});
    x += 28 + wtext + 22;
  }
  y += 18;
  cv.line({20, y - 4}, {42, y - 4}, kMuted, 1.8);
  cv.text({48, y}, "train (mean over each logging window)", {11, kMuted});
  cv.line({300, y - 4}, {322, y - 4}, kMuted, 1.5, true);
  cv.circle({311, y - 4}, 3.5, kMuted);
  cv.text({330, y}, "eval (the test split, at each eval)", {11, kMuted});
  cv.end_group();
  const Panel panels[4] = {
      {"loss (lm_loss, train)", &RunCurves::train_loss, nullptr, false},
      {"cell accuracy", &RunCurves::train_accuracy, &RunCurves::eval_accuracy, true},
      {"exact accuracy (whole puzzle right)", &RunCurves::train_exact, &RunCurves::eval_exact, true},
      {"supervision steps at halting (mean)", &RunCurves::train_steps, &RunCurves::eval_steps, false},
  };
  const double top = y + 14, pw = (W - 20) / 2, ph = (H - top - 6) / 2;
  for (int i = 0; i < 4; ++i) draw_panel(cv, runs, panels[i], 10 + (i % 2) * pw, top + (i / 2) * ph, pw, ph);
}

}  // namespace trm::viz
