// trm bench train|infer PRESET [key=value ...] --batch B: one JSON line of throughput figures.
#include <iostream>

#include "cli/commands.h"
#include "trm/bench/bench.h"

namespace trm::cli {

void add_bench_command(CLI::App& app, Action& action) {
  static std::vector<std::string> args;
  static std::string mode;
  static BenchOptions o;
  static bool no_sgemm = false;
  static std::string backend = "cpu", precision = "auto";
  auto* cmd = app.add_subcommand(
      "bench", "Time training steps or inference on synthetic data of a preset's shape; prints one JSON line "
               "(bench/compare.sh runs it beside the PyTorch reference)");
  cmd->add_option("mode", mode, "train (one optimizer step per iteration) or infer (halt_max_steps steps, no gradients)")
      ->required()
      ->check(CLI::IsMember({"train", "infer"}));
  cmd->add_option("preset_and_overrides", args, "PRESET [key=value ...], e.g. sudoku-mlp or maze-att")->required();
  cmd->add_option("--batch", o.batch, "Batch size")->capture_default_str();
  cmd->add_option("--iterations", o.iterations, "Timed iterations (the median is reported)")->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "Untimed iterations first")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed for the weights and the synthetic batch")->capture_default_str();
  add_backend_option(cmd, backend);
  add_precision_option(cmd, precision);
  cmd->add_flag("--no-sgemm", no_sgemm, "Skip the SGEMM reference measurement");
  cmd->callback([&action] {
    action = [] {
      parse_model_args(args, o.model, o.optim);
      if (!args.empty() && args[0].find('=') == std::string::npos) o.preset = args[0];
      o.training = mode == "train";
      o.measure_sgemm = !no_sgemm;
      const auto be = make_backend(backend);
      apply_precision(*be, precision);
      std::cout << run_bench(o, *be).dump() << std::endl;
      return 0;
    };
  });
}

}  // namespace trm::cli
