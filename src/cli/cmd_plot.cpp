// trm plot RUN_DIR [RUN_DIR...] --out curves.svg|png: training curves from metrics.jsonl.
#include <cstdio>

#include "cli/commands.h"
#include "io/atomic_file.h"
#include "io/output_path.h"
#include "trm/viz/plot.h"

namespace trm::cli {

void add_plot_command(CLI::App& app, Action& action) {
  static std::vector<std::string> runs;
  static std::string out, title;
  auto* cmd = app.add_subcommand(
      "plot", "Plot loss, accuracy, exact accuracy and halting steps against the training step from runs' metrics.jsonl");
  cmd->add_option("runs", runs, "Run directories (trm train --out), or metrics.jsonl files; several share one plot")
      ->required();
  cmd->add_option("--out", out, "Output image: .svg or .png")->required();
  cmd->add_option("--title", title, "Title above the panels (default: \"training curves\")");
  cmd->callback([&action] {
    action = [] {
      // Everything that can be wrong is found before anything is written.
      const viz::ImageFormat fmt = viz::image_format_for(out, {viz::ImageFormat::kSvg, viz::ImageFormat::kPng});
      std::vector<viz::RunCurves> curves;
      for (const std::string& r : runs) curves.push_back(viz::read_run_curves(r));
      viz::name_runs(curves, runs);
      data::check_output_file(out);
      const std::string t = title.empty() ? "training curves" : title;
      const viz::Drawing draw = [&](viz::Canvas& c) { viz::draw_curves(c, curves, t); };
      const std::string bytes = fmt == viz::ImageFormat::kSvg ? viz::render_svg(viz::kPlotWidth, viz::kPlotHeight, draw)
                                                              : viz::render_png(viz::kPlotWidth, viz::kPlotHeight, draw, 1.5);
      data::write_text_file(out, bytes);
      std::size_t points = 0;
      for (const auto& c : curves) points += c.train_loss.size() + c.eval_exact.size();
      std::fprintf(stderr, "plot: %zu run%s (%zu train/eval points) -> %s\n", curves.size(), curves.size() == 1 ? "" : "s",
                   points, out.c_str());
      return 0;
    };
  });
}

}  // namespace trm::cli
