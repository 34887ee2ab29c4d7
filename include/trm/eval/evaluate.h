// Evaluation on a dataset split (docs/REFERENCE.md §7.1): every example starts from a fresh carry and runs up
// to halt_max_steps supervision steps.
//   halting "reference": always all steps; the prediction is the last step's (as the reference).
//   halting "adaptive":  an example stops at the first step whose q logits give the model's own
//                        halt signal (halt_signal() in trm/train/act.h: TRM q_halt > 0, HRM q_halt >
//                        q_continue), or at the last step; its prediction is that step's. Runs on
//                        the inference engine (trm/infer/solver.h): a stopped example leaves the
//                        batch and the next one takes its row (per-sample halting).
//   EvalOptions::whole_batch: the older adaptive loop, kept to measure against, where a batch
//                        ends early only once all its examples have stopped.
// With samples > 1 or check, both halting modes run on the engine (test-time sampling, checker-
// gated halting).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "trm/infer/solver.h"
#include "trm/train/act.h"
#include "trm/data/sampler.h"
#include "trm/model/model.h"

namespace trm {

namespace dist {
class Communicator;
}

enum class Halting { kReference, kAdaptive };
Halting halting_from_string(const std::string& s);  // "reference" | "adaptive"; throws trm::Error
std::string to_string(Halting h);

struct EvalOptions {
  int batch = 256;
  std::int64_t max_examples = 0;  // 0 = the whole split; else its first N rows
  Halting halting = Halting::kReference;
  bool whole_batch = false;  // adaptive on the older whole-batch loop (for comparison)
  // Test-time sampling and checking (trm/infer/solver.h); the checker is the one the split's data
  // fits (infer::checker_for_dataset). With check, an answer the checker rejects does not halt
  // early under adaptive halting.
  int samples = 1;
  float noise = 0.0f;
  infer::Select select = infer::Select::kConfidence;
  std::uint64_t seed = 0;
  bool check = false;
  // Data parallelism (docs/DISTRIBUTED.md): with a group of several ranks, each rank evaluates a
  // contiguous shard of the examples and the sums are added across the ranks, so every rank
  // returns the single-process result. Test-time sampling (samples > 1) draws its noise per
  // position in the run, so it is not sharded: every rank evaluates every example. Null: one
  // process.
  dist::Communicator* comm = nullptr;
};

struct EvalResult {
  std::int64_t n = 0;
  double exact_accuracy = 0;   // fraction of examples with every supervised token right
  double cell_accuracy = 0;    // fraction of supervised tokens right
  double avg_steps = 0;        // supervision steps used per example
  double q_halt_accuracy = 0;  // (q_halt >= 0) == exactly right, at the step used
  // Examples whose outputs (logits or q logits) were NaN or infinite at the step their answer was
  // taken from. They count as wrong in every accuracy above, q_halt_accuracy included (a NaN
  // q_halt would otherwise "predict" wrong answers correctly); trm eval exits with status 3.
  std::int64_t nonfinite = 0;
  std::vector<double> exact_by_step;  // exact accuracy if every example stopped after step k+1
  Halting halting = Halting::kReference;
  double seconds = 0;
  // Checker verdicts of the answers (0 when there is no checker or check was off).
  std::int64_t verified = 0;
  std::string checker = "none";  // the puzzle family checked
  std::int64_t row_steps = 0;     // batch rows summed over forwards: the compute spent
};

// Progress callback: (examples done, examples total).
using EvalProgress = std::function<void(std::int64_t, std::int64_t)>;

EvalResult evaluate(TrmModel& model, const data::Dataset& split, const EvalOptions& opt,
                    const EvalProgress& progress = {});

// The batches of an evaluation, shared by evaluate() and the ARC evaluator: the first
// max_examples rows of a split (0 = all), in file order, in batches of `batch` rows (but no more
// than the rows, and at least 1), each collated through the one row->batch path (data/collate.h)
// with a fresh carry. Reserves the model for inference batches of that size; keeps pointers to
// both arguments.
class EvalBatches {
 public:
  EvalBatches(TrmModel& model, const data::Dataset& split, std::int64_t max_examples, int batch);
  // Only rows [first, end) of those (a rank's shard); end <= the rows covered.
  EvalBatches(TrmModel& model, const data::Dataset& split, int batch, std::int64_t first, std::int64_t end);

  std::int64_t total() const { return total_; }  // rows covered (the end of the range)
  int max_batch() const { return max_batch_; }
  // Moves to the next batch: its rows collated, the carry reset for them; false after the last.
  bool next();
  std::int64_t begin() const { return begin_; }  // first row of the current batch
  int size() const { return size_; }
  const Batch& batch() const { return batch_; }  // tokens, labels (ignore label -100), puzzle ids
  InferenceCarry& carry() { return carry_; }

 private:
  const data::Dataset& split_;
  std::int64_t total_;
  int max_batch_;
  InferenceCarry carry_;
  data::Batch rows_;
  std::int64_t begin_ = 0;
  int size_ = 0;
  Batch batch_;
};

// Argmax tokens [B, S] of the model's current logits.
void predictions(TrmModel& model, int batch, std::vector<std::int32_t>& out);

}  // namespace trm
