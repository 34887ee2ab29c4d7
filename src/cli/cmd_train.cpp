// trm train PRESET [key=value ...] --data DIR --out DIR
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "trm/dist/communicator.h"
#include "trm/train/trainer.h"

namespace trm::cli {

void add_train_command(CLI::App& app, Action& action) {
  static std::vector<std::string> args;
  static TrainOptions o;
  static std::string halting = "reference";
  static bool no_resume = false, quiet = false, dry_run = false, json_plan = false;
  static std::string backend = "cpu", precision = "auto";
  auto* cmd = app.add_subcommand("train", "Train a TRM on a dataset (reference layout), with periodic EMA evaluation and checkpoints");
  cmd->add_option("preset_and_overrides", args,
                  "PRESET (see trm presets: the paper's sudoku-mlp, maze-att, arc1-att, ... and CPU-sized tiny-sudoku-mlp, tiny-grid, "
                  "tiny-maze, cpu-sudoku, cpu-maze, cpu-arc) then model/optimizer key=value overrides, "
                  "e.g. hidden_size=128 L_cycles=4 lr=3e-4")
      ->required();
  cmd->add_option("--data", o.data_dir, "Dataset directory (train/ and test/ in the reference layout)")->required();
  cmd->add_option("--out", o.out_dir, "Run directory: config.json, metrics.jsonl, checkpoint.safetensors, final.safetensors")->required();
  cmd->add_option("--batch", o.global_batch, "Global batch size (the loss is divided by it)")->capture_default_str();
  cmd->add_option("--micro-batch", o.micro_batch, "Split each step into micro-batches of this size (gradients are summed); 0 = no split")->capture_default_str();
  cmd->add_option("--epochs", o.epochs, "Epochs; steps = int(epochs * groups * mean examples / batch) as the reference")->capture_default_str();
  cmd->add_option("--eval-interval", o.eval_interval, "Epochs between evaluations and checkpoints")->capture_default_str();
  cmd->add_option("--max-steps", o.max_steps, "Override the number of optimizer steps")->capture_default_str();
  cmd->add_option("--checkpoint-every", o.checkpoint_every, "Also checkpoint every N steps (0 = at evaluations only)")->capture_default_str();
  cmd->add_option("--eval-examples", o.eval.max_examples, "Evaluate on the first N test examples (0 = all)")->capture_default_str();
  cmd->add_option("--eval-batch", o.eval.batch, "Evaluation batch size")->capture_default_str();
  cmd->add_option("--eval-halting", halting, "reference (always 16 steps) or adaptive (stop when q_halt > 0; HRM: q_halt > q_continue)")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed for initialization, sampling and exploration")->capture_default_str();
  cmd->add_option("--stop-after", o.stop_after, "Stop after N steps of this invocation (with a checkpoint); rerun to resume")->capture_default_str();
  static double budget_min = 0;
  cmd->add_option("--time-budget", budget_min, "Minutes; then evaluate, checkpoint and stop (rerun to continue)")->capture_default_str();
  cmd->add_option("--log-every", o.log_every, "Steps between metrics lines (>= 1)")->capture_default_str();
  cmd->add_option("--skip-nonfinite", o.skip_nonfinite,
                  "Skip up to N steps whose loss or gradients are NaN/Inf (no update; weights, optimizer and EMA unchanged) "
                  "before stopping; 0 = stop at the first (exit status 3, the last good checkpoint kept)")
      ->capture_default_str();
  add_backend_option(cmd, backend);
  add_precision_option(cmd, precision);
  cmd->add_flag("--no-resume", no_resume, "Start over even if --out holds a checkpoint");
  cmd->add_flag("--quiet", quiet, "No banner and no progress line");
  cmd->add_flag("--dry-run", dry_run,
                "Print the run's size, FLOPs per step, estimated step time, memory and ETA, then exit (nothing is written)");
  cmd->add_flag("--json", json_plan, "With --dry-run: print the plan as one JSON object");
  cmd->callback([&action] {
    action = [] {
      parse_model_args(args, o.model, o.optim);
      o.eval.halting = halting_from_string(halting);
      o.resume = !no_resume;
      o.progress = !quiet;
      o.time_budget_s = budget_min * 60;
      const auto be = make_backend(backend);
      o.precision = resolve_precision(*be, precision);
      o.validate();  // int8 and other bad options are refused before the path banner below
      apply_precision(*be, precision);
      if (json_plan && !dry_run) throw Error("--json goes with --dry-run (a run's own output is already JSON)");
      if (dry_run) {
        const TrainPlan plan = plan_training(o, *be);
        if (json_plan)
          std::printf("%s\n", plan.to_json().dump().c_str());
        else
          std::printf("%s", plan.describe().c_str());
        return 0;
      }
      // Under mpirun / srun: data-parallel over the ranks (docs/DISTRIBUTED.md); rank 0 writes
      // the run directory and prints the summary.
      dist::Communicator& comm = dist::world();
      o.comm = &comm;
      if (comm.rank() != 0) o.progress = false;
      TrainSummary s;
      try {
        s = train(o, *be);
      } catch (const NumericalFault& e) {
        // Its own status, so that a script can tell a diverged run (retry with another lr) from
        // bad input (status 2); docs/RELIABILITY.md.
        std::fprintf(stderr, "trm: error: %s\n", e.what());
        return 3;
      }
      nlohmann::json j = {{"steps", s.steps}, {"seconds", s.seconds}, {"out", o.out_dir}, {"stopped_by_time", s.stopped_by_time}};
      if (s.skipped_steps > 0) j["skipped_nonfinite"] = s.skipped_steps;
      if (s.evaluated)
        j.update({{"exact_accuracy", s.last_eval.exact_accuracy}, {"cell_accuracy", s.last_eval.cell_accuracy},
                  {"eval_n", s.last_eval.n}});
      if (s.stopped_by_signal) j["interrupted"] = true;
      if (comm.size() > 1) j["ranks"] = comm.size();
      if (comm.rank() == 0) std::printf("%s\n", j.dump().c_str());
      // 128 + SIGINT, as a shell reports a process the signal ended: a script must not take an
      // interrupted run for a finished one.
      return s.stopped_by_signal ? 130 : 0;
    };
  });
}

}  // namespace trm::cli
