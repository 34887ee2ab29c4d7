// trm eval --checkpoint FILE --data DIR
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "trm/train/checkpoint.h"
#include "trm/data/dataset.h"
#include "trm/eval/evaluate.h"

namespace trm::cli {

void add_eval_command(CLI::App& app, Action& action) {
  static std::string ckpt, data_dir, split = "test", halting = "reference";
  static EvalOptions o;
  static bool raw = false;
  static std::string backend = "cpu", precision = "fp32";
  auto* cmd = app.add_subcommand("eval", "Evaluate a checkpoint: exact and per-cell accuracy; ends with one JSON line");
  cmd->add_option("--checkpoint", ckpt, "Checkpoint (.safetensors) written by trm train")->required();
  cmd->add_option("--data", data_dir, "Dataset directory")->required();
  cmd->add_option("--split", split, "Split to evaluate")->capture_default_str();
  cmd->add_option("--examples", o.max_examples, "Only the first N examples (0 = all)")->capture_default_str();
  cmd->add_option("--batch", o.batch, "Batch size")->capture_default_str();
  cmd->add_option("--halting", halting, "reference (always halt_max_steps steps) or adaptive (stop when q_halt > 0; HRM: q_halt > q_continue)")->capture_default_str();
  add_backend_option(cmd, backend);
  add_precision_option(cmd, precision);
  cmd->add_flag("--raw-weights", raw, "Use the raw weights instead of the EMA weights");
  cmd->callback([&action] {
    action = [] {
      o.halting = halting_from_string(halting);
      if (o.batch < 1) throw Error("--batch must be >= 1 (got " + std::to_string(o.batch) + ")");
      if (o.max_examples < 0) throw Error("--examples must be >= 0 (got " + std::to_string(o.max_examples) + ")");
      precision_from_string(precision);  // a bad name fails before any file is read
      auto be = make_backend(backend);
      apply_precision(*be, precision);
      auto model = load_model_from_checkpoint(ckpt, *be, !raw);
      const data::Dataset ds = data::read_split(data_dir, split);
      const bool tty = isatty(2);
      const EvalResult r = evaluate(*model, ds, o, [tty](std::int64_t done, std::int64_t total) {
        if (tty) std::fprintf(stderr, "\r  %lld/%lld", static_cast<long long>(done), static_cast<long long>(total));
      });
      if (tty) std::fprintf(stderr, "\n");
      std::fprintf(stderr, "exact accuracy by step:");
      for (double v : r.exact_by_step) std::fprintf(stderr, " %.3f", v);
      std::fprintf(stderr, "\n");
      const nlohmann::json j = {{"n", r.n}, {"exact_accuracy", r.exact_accuracy}, {"cell_accuracy", r.cell_accuracy},
                                {"avg_steps", r.avg_steps}, {"halting", to_string(r.halting)}, {"seconds", r.seconds},
                                {"q_halt_accuracy", r.q_halt_accuracy}, {"exact_by_step", r.exact_by_step},
                                {"nonfinite", r.nonfinite}};
      std::printf("%s\n", j.dump().c_str());
      if (r.nonfinite > 0) {
        // The numbers above count those examples as wrong, but a model that computes NaN or Inf
        // is broken, not merely inaccurate: say so, and exit with the numerical-fault status.
        std::fprintf(stderr, "trm: error: %s: the model's outputs were non-finite (NaN/Inf) on %lld of %lld examples\n",
                     ckpt.c_str(), static_cast<long long>(r.nonfinite), static_cast<long long>(r.n));
        return 3;
      }
      return 0;
    };
  });
}

}  // namespace trm::cli
