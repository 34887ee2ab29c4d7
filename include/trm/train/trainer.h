// The training loop of the reference (docs/REFERENCE.md §3, §5.5): one optimizer step per supervision step of
// the whole global batch, the ACT carry persisting across steps, halted slots refilled from the
// sampler, gradients accumulated over micro-batches, periodic evaluation of the EMA weights, and
// atomic checkpoints that resume bit-exactly.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "trm/train/act.h"
#include "trm/backend/backend.h"
#include "trm/model/config.h"
#include "trm/data/dataset.h"
#include "trm/data/rng.h"
#include "trm/data/sampler.h"
#include "trm/eval/evaluate.h"
#include "trm/model/model.h"
#include "trm/train/device_collectives.h"
#include "trm/train/optim.h"

namespace trm {

namespace data {
class RunLock;
}
namespace dist {
class Communicator;
}

// What the progress callback of a run sees (TrainOptions::on_progress): the "train" metrics line.
struct TrainProgress {
  std::int64_t step = 0, total_steps = 0;
  double lm_loss = 0, accuracy = 0, exact_accuracy = 0, steps_per_second = 0, eta_seconds = 0;
};

struct TrainOptions {
  std::string data_dir;  // a dataset in the reference layout (train/ and test/)
  std::string out_dir;   // config.json, metrics.jsonl, checkpoint.safetensors, final.safetensors
  ModelConfig model;     // vocab_size, seq_len, num_puzzle_identifiers are taken from the data
  OptimConfig optim;     // total_steps is derived unless max_steps is set; loss_divisor = global_batch
  int global_batch = 768;
  int micro_batch = 0;         // 0 = the global batch in one piece
  double epochs = 50000;       // as the reference: total_steps = int(epochs * groups * mean_examples / batch)
  double eval_interval = 5000; // epochs between evaluations (and checkpoints)
  std::int64_t max_steps = 0;  // > 0 overrides the epoch-derived step count
  std::int64_t checkpoint_every = 0;  // extra checkpoints every N steps (0 = only at evaluations)
  std::uint64_t seed = 0;
  EvalOptions eval;            // evaluation on the test split (eval.max_examples = a subset)
  bool resume = true;          // continue from out_dir/checkpoint.safetensors when present
  std::int64_t stop_after = 0; // stop (with a checkpoint) after this many steps of this process; 0 = run to the end
  double time_budget_s = 0;    // > 0: after this many seconds, evaluate, checkpoint and stop (resumable)
  int log_every = 10;
  bool progress = true;        // a progress line on stderr (and the startup banner)
  // GEMM arithmetic (docs/PRECISION.md): fp32, or bf16 (bf16 GEMM inputs in forward and backward;
  // fp32 master weights, AdamATan2 and EMA). int8 is refused (inference only). Saved as
  // "precision" in the run config; a resume must use the checkpoint's.
  Precision precision = Precision::fp32;
  // Steps whose loss or gradients are not finite that the run may skip (no update: weights,
  // optimizer moments, optimizer step count and EMA untouched; the batch is consumed and every
  // ACT slot restarts) before it stops with NumericalFault. Counted over the whole run, resumes
  // included. 0: the first such step stops the run.
  std::int64_t skip_nonfinite = 0;
  // Test seam: called once per step after the gradients of the global batch are summed and
  // before the numerical check and the optimizer update (arguments: the model, the step about to
  // complete, counted from 1). Not saved anywhere.
  std::function<void(TrmModel&, std::int64_t)> before_update;
  // Called after every "train" metrics line (every log_every steps and at the last step) with its
  // numbers; returning false stops the run as SIGINT does (checkpoint written, resumable;
  // TrainSummary::cancelled). The C API's and the Python module's progress callbacks. Not saved.
  std::function<bool(const TrainProgress&)> on_progress;
  // Data-parallel training (docs/DISTRIBUTED.md): the process group this Trainer is one rank of,
  // or null for a single process. Each rank computes a disjoint shard of every global batch
  // (global_batch / size rows; micro_batch applies to the shard); gradients are summed across
  // the ranks before the identical optimizer step on each. Rank 0 alone writes out_dir. Not
  // saved: a run resumes with any number of ranks.
  dist::Communicator* comm = nullptr;

  // Throws trm::Error naming the option when a count or interval is out of range (log_every < 1,
  // a negative max_steps / checkpoint_every / stop_after / time budget / skip_nonfinite, ...).
  void validate() const;
};

// A numerical fault stopped training: a loss, gradient or weight that is NaN or infinite, with no
// skips left. The message names the step, the values and the last good checkpoint, which is left
// as it was (no checkpoint with non-finite values is ever written). `trm train` exits with status
// 3 for it (docs/RELIABILITY.md).
struct NumericalFault : Error {
  using Error::Error;
};

nlohmann::json to_json(const TrainOptions& o);

struct TrainSummary {
  std::int64_t steps = 0;
  double seconds = 0;
  EvalResult last_eval;
  bool evaluated = false;
  bool stopped_by_time = false;  // the time budget ended the run before total_steps (resumable)
  bool stopped_by_signal = false;  // SIGINT/SIGTERM ended it (checkpoint written; `trm train` exits 130)
  std::int64_t skipped_steps = 0;  // non-finite steps skipped over the run (resumes included)
  bool cancelled = false;          // TrainOptions::on_progress asked to stop (resumable)
};

// Sums of the reference's train metrics (docs/REFERENCE.md §4) over one step or a log window:
// count/accuracy/exact/q_halt_acc/steps over the slots that halted at a step and have
// supervised tokens; the losses are per example (summed over the batch, divided by it).
struct StepMetrics {
  double count = 0, accuracy = 0, exact = 0, q_halt_acc = 0, steps = 0, lm_loss = 0, q_halt_loss = 0,
         q_continue_loss = 0;
  StepMetrics& operator+=(const StepMetrics& o);
};

// One training run, in the pieces the loop is made of. The constructor checks the options, reads
// the splits, derives the model/optimizer configs and step counts, builds the model, optimizer,
// ACT carry and sampler, resumes from out_dir/checkpoint.safetensors when asked, and writes
// config.json. run() then loops step() -> log_train() -> evaluate() -> checkpoint() until the
// last step, the time budget, stop_after or a SIGINT/SIGTERM, and writes final.safetensors when
// the run is complete (or out of time). Not copyable: the sampler points into the train split.
class Trainer {
 public:
  Trainer(const TrainOptions& options, Backend& backend);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  TrainSummary run();

  std::int64_t step_count() const { return step_; }
  std::int64_t total_steps() const { return oc_.total_steps; }

  // One optimizer step of the global batch: refill halted slots from the sampler, forward /
  // loss / backward every micro-batch (gradients summed), the optimizer step, then halting.
  // Returns the step's metrics.
  StepMetrics step();
  // The EMA weights on the test split, logged as an "eval" line.
  EvalResult evaluate();
  // The exact training state (model, optimizer, carry, sampler, exploration RNG) to
  // out_dir/checkpoint.safetensors, atomically.
  void checkpoint();

 private:
  void resume();
  // The "train" metrics line of the window that ends at this step, and the progress line.
  // Returns false when TrainOptions::on_progress asked to stop.
  bool log_train();
  void load_ema_weights();
  void save_final();
  // "" when the step's losses, parameter gradients and puzzle-row gradients are all finite, else
  // what is not (for the messages).
  std::string nonfinite_in_step(const StepMetrics& m);
  // The step's fault: skipped (within opt_.skip_nonfinite) or NumericalFault.
  void handle_nonfinite_step(const std::string& what);
  // Throws NumericalFault instead of writing a file that would hold non-finite values.
  // `carry`: the carry the file will hold (null: none).
  void check_finite_before_save(const std::string& file, bool ema_model, ActCarry* carry);
  std::string last_good_checkpoint() const;
  void print_banner();
  // Data parallelism: rank 0 writes every file and line; the others skip them.
  bool root() const;
  void log_write(const nlohmann::json& j);
  // Whether `local` holds on any rank (every rank gets the same answer; decisions that end or
  // change the loop must agree, or the ranks would wait on each other forever).
  bool any_rank(bool local);
  // The ACT carry of the whole global batch, rows in rank order (checkpoints hold it whole, so a
  // run resumes with any number of ranks). Only with more than one rank.
  std::unique_ptr<ActCarry> gathered_carry();
  // Sums the step's losses across the ranks (before the numerical check), and the counts.
  void reduce_metrics(double* v, int n);

  TrainOptions opt_;
  Backend& be_;
  std::unique_ptr<dist::Communicator> own_comm_;  // the single-process group when opt_.comm is null
  dist::Communicator& comm_;
  int local_;  // rows of the global batch this rank computes (global_batch / ranks)
  int row0_;   // the first of them
  std::chrono::steady_clock::time_point t_start_;
  int micro_;  // micro-batch size: divides the global batch
  data::Dataset train_set_;
  bool has_test_;  // the data has a test split: evaluations happen
  data::Dataset test_set_;
  ModelConfig mc_;
  OptimConfig oc_;
  std::int64_t eval_every_;  // steps between evaluations
  std::string ckpt_path_;
  std::unique_ptr<data::RunLock> lock_;  // out_dir/.lock, held for the Trainer's lifetime
  nlohmann::json config_;  // config.json, and the "config" of every checkpoint
  TrmModel model_;
  TrmOptimizer optimizer_;
  ActCarry carry_;
  data::TrainSampler sampler_;
  data::Rng halt_rng_;  // exploration draws, independent of the sampler's stream
  std::int64_t step_ = 0;
  std::int64_t skipped_ = 0;           // non-finite steps skipped so far (saved in checkpoints)
  bool last_step_skipped_ = false;     // step() skipped its update: nothing to add to the window
  std::int64_t last_checkpoint_step_ = -1;  // of ckpt_path_, as written or resumed by this Trainer
  class JsonlLog;
  std::unique_ptr<JsonlLog> log_;  // opened once resuming has succeeded
  TrmModel eval_model_;            // the EMA weights, sharing model_'s puzzle table

  // Reused by every step, so the loop allocates nothing.
  data::Batch fresh_;
  std::vector<float> q_all_;
  std::vector<std::int32_t> correct_, valid_, seq_ok_;
  DeviceBuffer row_grads_;                 // this rank's rows [local, puzzle_emb_ndim]
  DeviceBuffer row_grads_all_;             // with more than one rank: every rank's, [global, ndim]
  std::vector<std::int32_t> ids_all_;      // their puzzle ids
  DeviceCollectives coll_{be_, comm_};     // the collectives over backend memory
  LossResult lr_;

  // The current log window, and what the rate and ETA are measured from.
  StepMetrics window_;
  std::int64_t window_steps_ = 0;
  double comm_seconds_ = 0;  // in the step's gradient collectives over the window (several ranks)
  std::int64_t first_step_ = 0;  // the step this process started at
  std::chrono::steady_clock::time_point t_loop_, t_window_;
};

// What a run will cost, known before its first step: the startup banner of `trm train` and all
// that `trm train --dry-run` prints. Nothing in it is written to disk.
struct TrainPlan {
  ModelConfig model;
  OptimConfig optim;
  std::int64_t params = 0;              // network parameters (without the puzzle table)
  std::int64_t puzzle_table_floats = 0; // puzzle-embedding table entries
  std::int64_t train_examples = 0, test_examples = 0;
  std::int64_t total_steps = 0;         // the whole run (epochs or --max-steps)
  std::int64_t start_step = 0;          // where this invocation starts (a resumed checkpoint)
  std::int64_t steps_this_run = 0;      // total - start, cut by --stop-after
  int global_batch = 0;
  double flops_per_step = 0;            // one optimizer step of the global batch (bench/flops.cpp)
  double gemm_gflops = 0;               // the backend's measured GEMM rate at the model's width
  double step_seconds = 0;              // estimated from the two above
  double run_seconds = 0;               // this invocation, as configured (the time budget cuts it)
  double full_run_seconds = 0;          // every remaining step of the run, ignoring the budget
  bool cut_by_time_budget = false;
  bool gpu_scale = false;               // the full run would take more than a day here
  std::int64_t memory_bytes = 0;
  std::string memory_text;              // MemoryEstimate::describe()
  std::int64_t memory_available = 0;    // memory_available(backend): the run is refused above it

  std::string describe() const;         // the banner, several lines
  nlohmann::json to_json() const;
};

// Assumed fraction of the measured GEMM rate a training step reaches (the rest is attention,
// norms, the loss and the optimizer); docs/RESULTS.md compares the estimate with measured steps.
inline constexpr double kStepGemmEfficiency = 0.5;

// The plan of the run `options` describe: reads the splits and a resumed checkpoint's step count,
// times a GEMM, and creates nothing (the run directory is not made).
TrainPlan plan_training(const TrainOptions& options, Backend& backend);

// Runs (or resumes) the training the options describe, computing on `backend`:
// Trainer(options, backend).run().
TrainSummary train(const TrainOptions& options, Backend& backend);

}  // namespace trm
