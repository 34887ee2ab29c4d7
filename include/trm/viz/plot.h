// Training curves from runs' metrics.jsonl (`trm plot`, docs/VISUALS.md): loss, accuracy, exact
// accuracy and average halting steps against the training step, several runs on one figure.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "trm/viz/canvas.h"

namespace trm::viz {

struct SeriesPoint {
  std::int64_t step = 0;
  double value = 0;
};

// One run's curves, each sorted by step (a resumed run appends to metrics.jsonl and may log a
// step again: the later line wins). Train lines are means over a logging window (the trainer's
// log_train); eval lines are whole-split evaluations.
struct RunCurves {
  std::string name;  // the legend label
  std::string file;  // the metrics.jsonl read
  std::vector<SeriesPoint> train_loss;      // "lm_loss"
  std::vector<SeriesPoint> train_accuracy;  // "accuracy" (cells)
  std::vector<SeriesPoint> train_exact;     // "exact_accuracy"
  std::vector<SeriesPoint> train_steps;     // "steps" (mean supervision steps at halting)
  std::vector<SeriesPoint> eval_accuracy;   // "cell_accuracy"
  std::vector<SeriesPoint> eval_exact;      // "exact_accuracy"
  std::vector<SeriesPoint> eval_steps;      // "avg_steps"
};

// Reads RUN_DIR/metrics.jsonl (or the file itself, when `path` names a file). Lines of other
// types ("nonfinite") are skipped, and a null value (JSON's NaN) leaves a gap. Throws trm::Error
// naming the file (and "file:line") for a missing or unreadable file, a line that is not a JSON
// object, a train/eval line without a numeric "step" or one of the keys above, and a file with
// no train or eval line at all.
RunCurves read_run_curves(const std::string& path);

// Legend labels: each run's directory name, or the whole path where two runs share a name.
void name_runs(std::vector<RunCurves>& runs, const std::vector<std::string>& paths);

inline constexpr int kPlotWidth = 1000;
inline constexpr int kPlotHeight = 760;
// The four panels (2x2) with a legend, on a kPlotWidth x kPlotHeight canvas.
void draw_curves(Canvas& canvas, const std::vector<RunCurves>& runs, const std::string& title);

// "Nice" axis ticks (1, 2, 5 x 10^k steps) covering [lo, hi], about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target);

}  // namespace trm::viz
