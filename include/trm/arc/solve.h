// Solving a new ARC task with a trained model by test-time training of puzzle embeddings only.
//
// A trained TRM only works with the embedding row of a puzzle version it was trained on (a blank
// or random id gives 0%, docs/REFERENCE.md §11.6). A new task therefore gets fresh rows: one per augmented
// version of the task. They are trained on the task's demonstration pairs with the sparse SignSGD
// of docs/REFERENCE.md §5.2 while the network stays frozen, then the test inputs of every version vote
// through the ARC evaluator.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trm/arc/eval.h"
#include "trm/data/arc.h"
#include "trm/model/model.h"

namespace trm {

enum class ArcRowInit { kMean, kZeros };
ArcRowInit arc_row_init_from_string(const std::string& s);  // "mean" | "zeros"; throws trm::Error

struct ArcSolveOptions {
  int steps = 200;            // SignSGD updates of the new rows
  int aug = 100;              // augmented versions besides the original
  int batch = 32;             // demonstration examples per update
  double lr = 1e-2;           // ARC's puzzle_emb_lr (constant: no warmup for so few steps)
  double weight_decay = 0.1;  // ARC's puzzle_emb_weight_decay
  std::uint64_t seed = 0;
  // kMean: every new row starts at the mean of the checkpoint's trained rows (what the reference's
  // load_checkpoint does when the table's size changes); kZeros: as the reference initialises a
  // fresh table, which is also the blank id's row.
  ArcRowInit init = ArcRowInit::kMean;
  // Called after every update ("tune", update, steps, its loss) and every voting batch ("vote",
  // rows done, rows, 0); may be empty.
  std::function<void(const char* phase, int done, int total, double loss)> progress;
};

struct ArcSolveResult {
  std::vector<std::string> names;  // identifiers of the tuned model (0 = <blank>, then the versions)
  std::int64_t train_examples = 0;
  std::vector<double> losses;      // lm loss per update (sum over the batch of per-example means)
  ArcScore score;                  // submission; pass@k when the task's test outputs are known
  std::vector<std::vector<ArcCandidate>> ranked;  // per test input, best first
  double seconds = 0;
};

// `base` is left untouched. The tuned model (base network + the new rows) is handed back through
// `tuned` when it is not null.
ArcSolveResult arc_solve(TrmModel& base, const data::ArcTask& task, const ArcSolveOptions& opt,
                         std::unique_ptr<TrmModel>* tuned = nullptr);

}  // namespace trm
