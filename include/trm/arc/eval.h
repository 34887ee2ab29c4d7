// The ARC evaluator (docs/REFERENCE.md §7.2, evaluators/arc.py): every augmented version of every test input
// votes for a de-augmented output grid; candidates rank by vote count, then by mean halting
// confidence sigmoid(q_halt); pass@k is averaged over a puzzle's test inputs, then over puzzles.
//
// Pooling: an ArcVoter keeps its votes until clear(). Adding the votes of several checkpoints to one
// voter reproduces the reference's default "aggregated voting" (an ensemble over training time);
// trm arc eval clears between checkpoints unless --pool is given.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trm/data/arc.h"
#include "trm/model/model.h"

namespace trm {

namespace dist {
class Communicator;
}


inline const std::vector<int> kArcPassKs{1, 2, 5, 10, 100, 1000};
inline constexpr int kArcSubmissionK = 2;

struct ArcCandidate {
  std::string hash;  // arc_grid_hash of the de-augmented grid
  data::ArcGrid grid;
  int count = 0;
  double mean_q = 0;
};

class ArcVoter {
 public:
  // One prediction: the 900 input and predicted tokens of a row whose puzzle is `version_name`
  // (from identifiers.json), and q = sigmoid(q_halt logit). Both are cropped, then de-augmented.
  void add_tokens(const std::string& version_name, std::span<const std::uint8_t> input_tokens,
                  std::span<const std::int32_t> pred_tokens, double q);
  // The same with grids already cropped (still in the version's augmented frame). A prediction
  // that crops to an empty or malformed grid is dropped (counted in num_dropped()): an empty grid
  // is never an ARC answer, and must neither win a vote nor reach submission.json.
  void add(const std::string& version_name, const data::ArcGrid& input, const data::ArcGrid& pred, double q);
  std::int64_t num_dropped() const { return dropped_; }
  // Candidates for the test input `input` (original frame) of task `task_id`, best first:
  // count descending, then mean q descending, then first seen.
  std::vector<ArcCandidate> ranked(const std::string& task_id, const data::ArcGrid& input) const;
  std::int64_t num_votes() const { return votes_; }
  void clear();

 private:
  // task id -> input hash -> (pred hash, q) in arrival order.
  std::map<std::string, std::map<std::string, std::vector<std::pair<std::string, double>>>> preds_;
  std::map<std::string, data::ArcGrid> grids_;  // pred hash -> grid
  std::int64_t votes_ = 0;
  std::int64_t dropped_ = 0;
};

struct ArcScore {
  std::vector<int> ks;
  std::vector<double> pass_at_k;     // mean over the scored puzzles
  int puzzles = 0;                   // tasks given
  int scored_puzzles = 0;            // tasks whose test outputs are all known
  int test_inputs = 0;
  int inputs_without_prediction = 0; // score 0; their submission entry is [[0]] twice
  nlohmann::ordered_json submission; // {task id: [{"attempt_1": grid, "attempt_2": grid}, ...]}
  nlohmann::ordered_json to_json() const;  // everything but the submission
};

// Scores the voter's candidates against the tasks' test outputs and builds the submission (the
// top kArcSubmissionK grids per test input, the first repeated when there is only one).
ArcScore score_arc(const ArcVoter& voter, const std::vector<data::ArcTask>& tasks,
                   const std::vector<int>& ks = kArcPassKs);

// `--examples N` for ARC: N rounded up to the end of the task (group) its last row belongs to, so
// only whole tasks are evaluated; 0 or N beyond the split = the whole split.
std::int64_t arc_whole_task_rows(const data::Dataset& split, std::int64_t n);
// The task ids of the rows [0, rows) of the split (names = identifiers.json): the tasks an
// evaluation of those rows covers, which pass@k is then averaged over.
std::vector<std::string> arc_tasks_in_rows(const data::Dataset& split, const std::vector<std::string>& names,
                                           std::int64_t rows);

struct ArcEvalOptions {
  int batch = 64;
  std::int64_t max_examples = 0;  // 0 = the whole split
  // Data parallelism (docs/DISTRIBUTED.md): with several ranks, each computes its share of every
  // round of batches, and every rank's predictions are gathered and voted in row order, so each
  // rank's voter ends as one process's would. Null: one process.
  dist::Communicator* comm = nullptr;
};

// Runs the model over the split (halt_max_steps supervision steps from a fresh carry, no early
// halting, as the reference) and adds every row's vote; rows of puzzle id 0 are skipped.
// `names` is identifiers.json. Progress: (rows done, rows total).
void arc_collect_votes(TrmModel& model, const data::Dataset& split, const std::vector<std::string>& names,
                       ArcVoter& voter, const ArcEvalOptions& opt,
                       const std::function<void(std::int64_t, std::int64_t)>& progress = {});

}  // namespace trm
