// The learning tests' shared harness: generated 4x4 Sudoku, one training run through the real
// trainer, timed. Each test chooses its model, recipe and thresholds.
#pragma once
#include <chrono>
#include <cstdint>

#include "backend_util.h"
#include "temp_dir.h"
#include "trm/data/sudoku.h"
#include "trm/train/trainer.h"

namespace trm::test_util {

// Sanitizer and Debug builds run a short version of a learning test, without its accuracy check.
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
inline constexpr bool kOptimizedBuild = false;
#else
inline constexpr bool kOptimizedBuild = true;
#endif

struct LearningRun {
  TrainSummary summary;
  double seconds = 0;
  std::int64_t num_test = 0;
};

// Generates 4x4 puzzles with `clues` givens (0 = minimal) into tmp/data (seed 1), then trains
// `o` on them into tmp/run, evaluating on every held-out puzzle at the end.
inline LearningRun learn_generated_4x4_sudoku(const TempDir& tmp, int clues, int num_train, int num_test,
                                              TrainOptions o) {
  data::SudokuGenerateOptions g;
  g.puzzle.n = 4;
  g.puzzle.target_clues = clues;
  g.num_train = num_train;
  g.num_test = num_test;
  g.seed = 1;
  data::generate_sudoku_dataset(tmp / "data", g);
  o.data_dir = tmp / "data";
  o.out_dir = tmp / "run";
  o.eval.max_examples = num_test;
  o.progress = false;
  const auto t0 = std::chrono::steady_clock::now();
  LearningRun r;
  r.summary = train(o, test_backend());
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.num_test = num_test;
  return r;
}

}  // namespace trm::test_util
