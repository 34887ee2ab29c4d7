// The inference engine: every "answer a puzzle" path (trm solve, trm eval --halting adaptive,
// trm predict, and later the HTTP server and the C API) runs its puzzles through Solver.
//
// A Solver owns a pool of `batch` rows. Each row is one trajectory (a puzzle, or one of its K
// samples) with its own carry (z_H, z_L) row. Every supervision step runs the model on the rows
// in use; then each row's answer (argmax of the logits) and halting confidence are read, rows
// that halt hand in their answer, and
//   - per-sample halting: halted rows leave the batch; the rows still running are compacted to
//     the front (their carry rows, tokens and puzzle ids moved down), so the next step runs a
//     smaller batch instead of recomputing finished examples;
//   - continuous batching: freed rows are refilled with the next puzzles of the stream (a fresh
//     carry, H_init / L_init), so the batch stays full while puzzles remain.
// Rows are independent in the model (attention and the MLP-mixer mix within a row only), so where
// a puzzle sits and who its neighbours are does not change its answer: test_infer checks that the
// answers and steps equal the whole-batch evaluation's.
//
// Halting (docs/INFERENCE.md):
//   kReference: every trajectory runs max_steps steps (the reference's evaluation).
//   kAdaptive:  a trajectory halts at the first step whose q logits give the model's halt signal
//               (trm/train/act.h halt_signal), or at max_steps. With an active checker, an answer
//               that fails it does not halt on the signal: it keeps refining up to max_steps.
// Confidence is a probability: TRM sigmoid(q_halt); HRM sigmoid(q_halt - q_continue), the
// probability the Q-head's two logits give "halt" over "continue" (it halts when that is > 0.5).
//
// Test-time sampling: samples = K runs K trajectories of each puzzle as K rows of the same batch.
// Trajectory 0 is the plain (noise-free) one; trajectories 1..K-1 add N(0, noise^2) to every
// element of z_H and z_L before every supervision step, drawn from a generator seeded with
// (seed, puzzle index, trajectory), so results do not depend on batch size or arrival order. The
// puzzle's answer is chosen by `select`:
//   kConfidence: the trajectory whose final answer has the highest confidence;
//   kFirstHalt:  the first trajectory to halt (ties: higher confidence, then lower index); the
//                puzzle's other trajectories stop there;
//   kChecker:    the first trajectory whose halted answer the checker verifies (its siblings stop
//                there); if none verifies, as kConfidence. Needs an active checker.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "trm/backend/backend.h"
#include "trm/data/rng.h"
#include "trm/infer/check.h"
#include "trm/model/model.h"

namespace trm::infer {

enum class HaltMode { kReference, kAdaptive };
enum class Select { kConfidence, kFirstHalt, kChecker };
enum class CheckStatus { kUnchecked, kVerified, kFailed };

Select select_from_string(const std::string& s);  // "confidence" | "first-halt" | "checker"; trm::Error else
std::string to_string(Select s);
std::string to_string(CheckStatus s);  // "unchecked" | "verified" | "unverified"

struct SolverOptions {
  HaltMode halting = HaltMode::kAdaptive;
  int max_steps = 0;   // 0 = the model's halt_max_steps
  int batch = 256;     // rows in flight (raised to `samples` when smaller)
  int samples = 1;     // K trajectories per puzzle
  float noise = 0.0f;  // sigma of the latent noise of trajectories 1..K-1
  Select select = Select::kConfidence;
  std::uint64_t seed = 0;
  Checker checker;     // inactive: answers are unchecked and halting is not gated
  bool gate_halting = true;  // with an active checker, a failing answer does not halt early
};
// Throws trm::Error for samples <= 0, a negative or non-finite noise, batch < 1, max_steps < 0,
// or select = kChecker without an active checker.
void validate(const SolverOptions& o);

struct Answer {
  std::vector<std::int32_t> tokens;  // [seq_len]
  int steps = 0;                     // supervision steps the chosen trajectory ran
  float q_halt = 0.0f;               // its halting logit at that step
  float confidence = 0.0f;           // its halting probability at that step
  std::vector<float> step_confidence;  // the chosen trajectory's confidence after each step
  CheckStatus check = CheckStatus::kUnchecked;
  int sample = 0;         // which trajectory was chosen
  bool finite = true;     // its logits and q were finite at that step (else the answer is meaningless)
  int total_steps = 0;    // steps run over all of the puzzle's trajectories (the cost)
};

// Called after every step for every row that ran it, before halting is decided: the puzzle
// (index into the solve() call), the trajectory, the step (1-based), the answer tokens [seq_len],
// the confidence and whether the checker accepts it (false when none). For `trm solve --steps` and
// for per-step metrics; the pointers are valid only during the call.
using StepObserver = std::function<void(std::int64_t puzzle, int sample, int step, const std::int32_t* tokens,
                                        float confidence, bool verified)>;
// Called when puzzles finish: (puzzles finished so far, total).
using SolveProgress = std::function<void(std::int64_t, std::int64_t)>;

// A stream of puzzles for Solver::solve_stream (the server's form of the engine): puzzles are taken
// from next() whenever rows are free, between supervision steps, so a puzzle that arrives while
// others are in flight joins the running batch at the next step; each answer is handed to done()
// the step its puzzle finishes, so its caller need not wait for the rest of the batch.
struct StreamPuzzle {
  const std::int32_t* input = nullptr;  // [seq_len] model tokens; must stay valid until done()
  std::int32_t puzzle_id = 0;
  std::uint64_t tag = 0;         // the caller's handle, given back to done() and step()
  std::uint64_t seed_index = 0;  // seeds its samples' noise (solve(): the puzzle's index)
  int samples = 0;               // K for this puzzle: 0 = options().samples, else 1..rows()
  bool reference = false;        // true: this puzzle runs every step (HaltMode::kReference)
};
enum class StreamPoll { kPuzzle, kNone, kEnd };
class PuzzleStream {
 public:
  virtual ~PuzzleStream() = default;
  // Fill `p` and return kPuzzle (its samples must fit in free_rows), kNone when no puzzle is ready
  // now, or kEnd when no more will come (solve_stream then finishes the rows in flight and
  // returns). `idle`: no rows are in flight, so the stream may block here until work arrives.
  virtual StreamPoll next(StreamPuzzle& p, int free_rows, bool idle) = 0;
  // The puzzle's answer (valid only during the call).
  virtual void done(std::uint64_t tag, const Answer& answer) = 0;
  // After every step for every row that ran it (as StepObserver), when observes_steps().
  virtual bool observes_steps() const { return false; }
  virtual void step(std::uint64_t /*tag*/, int /*sample*/, int /*step*/, const std::int32_t* /*tokens*/,
                    float /*confidence*/, bool /*verified*/) {}
  // After every model step: how many rows it ran (the batch size, for metrics).
  virtual void ran(int /*rows*/) {}
};

class Solver {
 public:
  // Validates the options, and reserves the model and every buffer for `batch` rows: the step loop
  // allocates nothing. Keeps a reference to the model.
  Solver(TrmModel& model, const SolverOptions& opt);

  const SolverOptions& options() const { return opt_; }
  int rows() const { return B_; }

  // Solves n puzzles: inputs [n, seq_len] model tokens, puzzle_ids [n] (null = all 0). out gets n
  // answers (its elements' storage is reused).
  void solve(const std::int32_t* inputs, const std::int32_t* puzzle_ids, std::int64_t n, std::vector<Answer>& out,
             const StepObserver& observer = {}, const SolveProgress& progress = {});

  // Puzzles from `stream` until it ends (see PuzzleStream). solve() runs on this. Throws trm::Error
  // for a puzzle whose samples are not in 1..rows(); allocates nothing per step.
  void solve_stream(PuzzleStream& stream);

  // Model forwards run and rows computed by the last solve() / solve_stream() (rows summed over steps).
  std::int64_t forwards() const { return forwards_; }
  std::int64_t row_steps() const { return row_steps_; }

 private:
  struct Row {  // one trajectory in a slot of the pool
    int puzzle = 0;  // its puzzle's slot in pending_
    int sample = 0;
    int steps = 0;
    data::Rng rng;
  };
  struct Pending {  // per puzzle in flight (at most rows() of them: each has a row)
    bool used = false;
    std::uint64_t tag = 0;
    int samples = 1;
    bool adaptive = true;
    int live = 0;       // its trajectories still running
    bool done = false;  // answer chosen; its remaining rows are dropped
    bool have = false;  // a candidate answer is held in answer
    bool held_verified = false;  // answer is a verified one
    int first_step = 0;
    Answer answer;
  };
  void add_noise(int rows);
  void take(Answer& a, int slot, int sample, int steps, float q, float conf, bool finite, CheckStatus st);

  TrmModel& model_;
  SolverOptions opt_;
  int B_, S_, T_, V_;
  std::int64_t per_row_;  // L * D floats of one carry row
  DeviceBuffer zH_, zL_, noise_dev_;
  std::vector<float> noise_host_, logits_, q_, hist_;
  std::vector<std::int32_t> tokens_, ids_, pred_;
  std::vector<std::uint8_t> finite_, halt_;
  std::vector<Row> rows_;
  std::vector<Pending> pending_;   // rows() slots
  std::vector<int> free_pending_;  // unused slots of pending_
  std::int64_t forwards_ = 0, row_steps_ = 0;
};

}  // namespace trm::infer
