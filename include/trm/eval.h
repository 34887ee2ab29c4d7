// Evaluation on a dataset split (docs/REFERENCE.md §7.1): every example starts from a fresh carry and runs up
// to halt_max_steps supervision steps.
//   halting "reference": always all steps; the prediction is the last step's (as the reference).
//   halting "adaptive":  an example stops at the first step whose q logits give the model's own
//                        halt signal (halt_signal() in trm/act.h: TRM q_halt > 0, HRM q_halt >
//                        q_continue), or at the last step; its prediction is that step's. Batches
//                        whose examples have all stopped end early.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "trm/model.h"

namespace trm {

namespace data {
struct Dataset;
}

enum class Halting { kReference, kAdaptive };
Halting halting_from_string(const std::string& s);  // "reference" | "adaptive"; throws trm::Error
std::string to_string(Halting h);

struct EvalOptions {
  int batch = 256;
  std::int64_t max_examples = 0;  // 0 = the whole split; else its first N rows
  Halting halting = Halting::kReference;
};

struct EvalResult {
  std::int64_t n = 0;
  double exact_accuracy = 0;   // fraction of examples with every supervised token right
  double cell_accuracy = 0;    // fraction of supervised tokens right
  double avg_steps = 0;        // supervision steps used per example
  double q_halt_accuracy = 0;  // (q_halt >= 0) == exactly right, at the step used
  std::vector<double> exact_by_step;  // exact accuracy if every example stopped after step k+1
  Halting halting = Halting::kReference;
  double seconds = 0;
};

// Progress callback: (examples done, examples total).
using EvalProgress = std::function<void(std::int64_t, std::int64_t)>;

EvalResult evaluate(TrmModel& model, const data::Dataset& split, const EvalOptions& opt,
                    const EvalProgress& progress = {});

// The rows an evaluation covers (the first max_examples of num_examples; 0 = all) and its batch
// size: `batch`, but no more than the rows and at least 1. Shared by evaluate() and the ARC
// evaluator so both size their buffers alike.
struct EvalExtent {
  std::int64_t total = 0;
  int batch = 1;
};
EvalExtent eval_extent(std::int64_t num_examples, std::int64_t max_examples, int batch);

// Argmax tokens [B, S] of the model's current logits.
void predictions(TrmModel& model, int batch, std::vector<std::int32_t>& out);

}  // namespace trm
