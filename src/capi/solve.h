// The C++ side of the library interfaces (the C API in capi.cpp and the Python module in
// python/): solving token arrays with a loaded model, and a training run from a JSON object.
// Kept apart from both so that they give the same answers for the same checkpoint and puzzles.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "trm/eval/evaluate.h"
#include "trm/infer/solver.h"
#include "trm/model/model.h"
#include "trm/train/trainer.h"

namespace trm::capi {

struct SolveRequest {
  const std::int32_t* inputs = nullptr;      // [n, seq_len] token ids
  const std::int32_t* puzzle_ids = nullptr;  // [n] or null (identifier 0)
  std::int64_t n = 0;
  int batch = 256;
  Halting halting = Halting::kAdaptive;
  int samples = 1;                  // test-time sampling (docs/INFERENCE.md): K trajectories per puzzle
  float noise = 0.0f;
  std::uint64_t seed = 0;
  infer::Select select = infer::Select::kConfidence;
  infer::Checker checker;           // inactive: answers unchecked
};

// Caller-owned outputs; all but answers may be null.
struct SolveResult {
  std::int32_t* answers = nullptr;   // [n, seq_len]
  std::int32_t* steps = nullptr;     // [n]
  float* confidence = nullptr;       // [n, halt_max_steps]: the halting probability after each step; 0 after the stop
  std::uint8_t* nonfinite = nullptr; // [n]
  std::uint8_t* check = nullptr;     // [n]: 0 unchecked, 1 verified, 2 failed the checker (unverified)
  std::int64_t nonfinite_count = 0;  // set by solve()
};

// Answers reused across calls on one model.
struct SolveScratch {
  std::vector<infer::Answer> answers;
};

// Solves req.n puzzles through the inference engine (include/trm/infer/solver.h): per-sample
// halting, the checker, sampling. Tokens outside [0, vocab) and puzzle ids outside
// [0, num_puzzle_identifiers) are a trm::Error naming the puzzle.
void solve(TrmModel& model, const SolveRequest& req, SolveResult& out, SolveScratch& scratch);

// TrainOptions from the JSON object the C API documents (include/trm/trm.h, trm_train); `source`
// names it in errors. Unknown keys and values of the wrong type are trm::Error.
TrainOptions train_options_from_json(const std::string& json_text, const std::string& source);
// Its "backend" key ("cpu" when absent).
std::string backend_of_train_json(const std::string& json_text);

}  // namespace trm::capi
