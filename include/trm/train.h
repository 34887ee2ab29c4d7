// The training loop of the reference (docs/REFERENCE.md §3, §5.5): one optimizer step per supervision step of
// the whole global batch, the ACT carry persisting across steps, halted slots refilled from the
// sampler, gradients accumulated over micro-batches, periodic evaluation of the EMA weights, and
// atomic checkpoints that resume bit-exactly.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "trm/backend.h"
#include "trm/config.h"
#include "trm/eval.h"

namespace trm {

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
  bool progress = true;        // a progress line on stderr
};

nlohmann::json to_json(const TrainOptions& o);

struct TrainSummary {
  std::int64_t steps = 0;
  double seconds = 0;
  EvalResult last_eval;
  bool evaluated = false;
  bool stopped_by_time = false;  // the time budget ended the run before total_steps (resumable)
};

// Runs (or resumes) the training the options describe, computing on `backend`.
TrainSummary train(const TrainOptions& options, Backend& backend);

}  // namespace trm
