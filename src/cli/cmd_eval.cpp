// trm eval --checkpoint FILE --data DIR
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/progress_line.h"
#include "cli/sampling_option.h"
#include "trm/train/checkpoint.h"
#include "trm/data/dataset.h"
#include "trm/dist/communicator.h"
#include "trm/eval/evaluate.h"
#include "trm/infer/check.h"

namespace trm::cli {

void add_eval_command(CLI::App& app, Action& action) {
  static std::string ckpt, data_dir, split = "test", halting = "reference";
  static EvalOptions o;
  static bool raw = false, check = false;
  static SamplingArgs sampling;
  static std::string backend = "cpu", precision = "auto";
  auto* cmd = app.add_subcommand("eval", "Evaluate a checkpoint: exact and per-cell accuracy; ends with one JSON line");
  cmd->add_option("--checkpoint", ckpt, "Checkpoint (.safetensors) written by trm train")->required();
  cmd->add_option("--data", data_dir, "Dataset directory")->required();
  cmd->add_option("--split", split, "Split to evaluate")->capture_default_str();
  cmd->add_option("--examples", o.max_examples, "Only the first N examples (0 = all)")->capture_default_str();
  cmd->add_option("--batch", o.batch, "Batch size")->capture_default_str();
  cmd->add_option("--halting", halting, "reference (always halt_max_steps steps) or adaptive (stop when q_halt > 0; HRM: q_halt > q_continue)")->capture_default_str();
  cmd->add_flag("--whole-batch", o.whole_batch,
                "With --halting adaptive: the older loop that saves compute only once a whole batch has halted "
                "(to compare against the per-sample engine)");
  cmd->add_flag("--check", check,
                "Check answers with the puzzle's rules (Sudoku, maze); under adaptive halting an answer that fails "
                "does not halt early");
  add_sampling_options(cmd, sampling);
  add_backend_option(cmd, backend);
  add_precision_option(cmd, precision);
  cmd->add_flag("--raw-weights", raw, "Use the raw weights instead of the EMA weights");
  cmd->callback([&action] {
    action = [] {
      o.halting = halting_from_string(halting);
      if (o.batch < 1) throw Error("--batch must be >= 1 (got " + std::to_string(o.batch) + ")");
      if (o.max_examples < 0) throw Error("--examples must be >= 0 (got " + std::to_string(o.max_examples) + ")");
      check_precision_name(precision);  // a bad name fails before any file is read
      {
        // The sampling options are checked before anything is loaded; "auto" is resolved below,
        // once the data says whether it has a checker.
        infer::SolverOptions so;
        apply_sampling(sampling, false, so);
        o.samples = so.samples;
        o.noise = so.noise;
        o.seed = so.seed;
        o.select = so.select;
        o.check = check;
      }
      if (o.whole_batch && (o.halting != Halting::kAdaptive || o.samples != 1 || o.check))
        throw Error("--whole-batch is the older adaptive loop: it needs --halting adaptive and no --samples or --check");
      auto be = make_backend(backend);
      apply_precision(*be, precision);
      auto model = load_model_from_checkpoint(ckpt, *be, !raw);
      const data::Dataset ds = data::read_split(data_dir, split);
      // "auto": the checker rule where the data has a checker and there is something to select
      // or check (eval measures the model as the reference does, so one plain trajectory stays
      // unchecked unless --check asks); else confidence.
      if (sampling.select == "auto" && (o.samples > 1 || o.check) && infer::checker_for_dataset(ds).active())
        o.select = infer::Select::kChecker;
      // Under mpirun / srun the examples are sharded across the ranks (docs/DISTRIBUTED.md); rank 0
      // prints the result.
      dist::Communicator& comm = dist::world();
      o.comm = &comm;
      ProgressLine line("eval", comm.rank() == 0 && isatty(2));
      const EvalResult r = evaluate(*model, ds, o, [&line](std::int64_t done, std::int64_t total) { line(done, total); });
      if (comm.rank() != 0) return r.nonfinite > 0 ? 3 : 0;
      // One write for the whole line: stderr is unbuffered, and under mpirun the launcher forwards
      // each write as it comes, so a line written in pieces could have rank 0's JSON on stdout
      // land in the middle of it.
      std::string by_step = "exact accuracy by step:";
      for (double v : r.exact_by_step) {
        char b[16];
        std::snprintf(b, sizeof b, " %.3f", v);
        by_step += b;
      }
      std::fprintf(stderr, "%s\n", by_step.c_str());
      nlohmann::json j = {{"n", r.n}, {"exact_accuracy", r.exact_accuracy}, {"cell_accuracy", r.cell_accuracy},
                                {"avg_steps", r.avg_steps}, {"halting", to_string(r.halting)}, {"seconds", r.seconds},
                                {"q_halt_accuracy", r.q_halt_accuracy}, {"exact_by_step", r.exact_by_step},
                                {"nonfinite", r.nonfinite}, {"answers_per_second", r.seconds > 0 ? r.n / r.seconds : 0.0},
                                {"row_steps", r.row_steps}, {"samples", o.samples}};
      if (o.check || o.samples > 1) {
        j["checker"] = r.checker;
        j["verified"] = r.verified;
        j["select"] = infer::to_string(o.select);
        j["noise"] = o.noise;
      }
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
