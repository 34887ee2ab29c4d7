// The C++ side of the library interfaces (the C API in capi.cpp and the Python module in
// python/): solving token arrays with a loaded model, and a training run from a JSON object.
// Kept apart from both so that they give the same answers for the same checkpoint and puzzles.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "trm/eval/evaluate.h"
#include "trm/model/model.h"
#include "trm/train/trainer.h"

namespace trm::capi {

struct SolveRequest {
  const std::int32_t* inputs = nullptr;      // [n, seq_len] token ids
  const std::int32_t* puzzle_ids = nullptr;  // [n] or null (identifier 0)
  std::int64_t n = 0;
  int batch = 256;
  Halting halting = Halting::kAdaptive;
};

// Caller-owned outputs; all but answers may be null.
struct SolveResult {
  std::int32_t* answers = nullptr;   // [n, seq_len]
  std::int32_t* steps = nullptr;     // [n]
  float* confidence = nullptr;       // [n, halt_max_steps]: the halting probability after each step; 0 after the stop
  std::uint8_t* nonfinite = nullptr; // [n]
  std::int64_t nonfinite_count = 0;  // set by solve()
};

// Buffers reused across calls on one model (grown, never shrunk).
struct SolveScratch {
  std::vector<std::int32_t> ids, tokens;
  std::vector<float> logits, q;
  std::vector<int> stop;
};

// The probability that a step's answer is final, from its q logits [2]: sigmoid(q_halt) for TRM
// (it halts when q_halt > 0), sigmoid(q_halt - q_continue) for HRM (it halts when q_halt > q_continue).
double halt_probability(const ModelConfig& c, const float* q);

// Solves req.n puzzles in batches of req.batch: each from a fresh carry, for halt_max_steps
// supervision steps (reference) or until its halting signal (adaptive), the answer being the argmax
// of the step it stopped at. Tokens outside [0, vocab) and puzzle ids outside
// [0, num_puzzle_identifiers) are a trm::Error naming the puzzle.
void solve(TrmModel& model, const SolveRequest& req, SolveResult& out, SolveScratch& scratch);

// TrainOptions from the JSON object the C API documents (include/trm/trm.h, trm_train); `source`
// names it in errors. Unknown keys and values of the wrong type are trm::Error.
TrainOptions train_options_from_json(const std::string& json_text, const std::string& source);
// Its "backend" key ("cpu" when absent).
std::string backend_of_train_json(const std::string& json_text);

}  // namespace trm::capi
