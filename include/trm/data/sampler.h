// Batches from a Dataset the way the reference's loader makes them (docs/REFERENCE.md §6.5).
//
// Training: a pass covers `epochs_per_pass` epochs (the reference's epochs_per_iter, which it
// sets to eval_interval). The pass's group order is the concatenation of one random permutation
// of all groups per epoch. Walking that order, each group contributes one random puzzle, and of
// that puzzle min(size, batch - filled) examples chosen without replacement; the rest of the
// puzzle is dropped. A batch is emitted when full; the incomplete batch at the end of a pass is
// dropped. So a pass over Sudoku-1k with 5000 epochs gives floor(5000 * 1000 / 768) batches.
//
// Test: rows in file order in chunks of `batch`; the last chunk is padded.
//
// Collation (both): tokens cast to int32, labels equal to ignore_label_id become -100, padding
// rows get inputs pad_id, labels -100 and puzzle id blank_identifier_id.
//
// Deviation: the reference seeds a Philox generator with seed + pass and draws the examples of
// a puzzle from numpy's global RNG; we use one trm::data::Rng per pass (stream = pass index), so
// orders are reproducible but differ from the reference's.
#pragma once
#include <cstdint>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "trm/data/dataset.h"
#include "trm/data/rng.h"

namespace trm::data {

struct Batch {
  int size = 0;     // B (rows, padding included)
  int seq_len = 0;  // S
  int real = 0;     // rows that hold data; the rest is padding (test only)
  std::vector<std::int32_t> inputs;              // [B, S]
  std::vector<std::int32_t> labels;              // [B, S], -100 = ignored
  std::vector<std::int32_t> puzzle_identifiers;  // [B]
  std::vector<std::int64_t> rows;                // [B] dataset row of each slot, -1 for padding
  std::vector<std::int64_t> puzzles;             // [B] puzzle index of each slot, -1 for padding
};

struct TrainSamplerOptions {
  int batch_size = 768;
  std::uint64_t seed = 0;
  int epochs_per_pass = 1;
};

class TrainSampler {
 public:
  // Keeps a pointer to `ds`, which must outlive the sampler. Throws trm::Error when a pass
  // cannot fill a single batch (the loop would otherwise never produce anything).
  TrainSampler(const Dataset& ds, const TrainSamplerOptions& opt);

  // The next batch of the current pass; false at the end of the pass, after which the next call
  // starts the following pass.
  bool next(Batch& out);

  std::int64_t pass() const { return pass_; }                         // passes completed
  std::int64_t batches_in_pass() const { return batches_in_pass_; }  // of the current pass

  // Everything needed to continue exactly where this sampler is: pass, position in the pass's
  // group order, RNG state, plus the options and dataset sizes, which restore() checks.
  nlohmann::json state() const;
  // Throws trm::Error when the state is malformed or belongs to other options or another dataset.
  void restore(const nlohmann::json& state);

 private:
  void start_pass();

  const Dataset* ds_;
  TrainSamplerOptions opt_;
  std::int64_t pass_ = 0;
  bool in_pass_ = false;
  std::int64_t position_ = 0;  // next entry of order_
  std::int64_t batches_in_pass_ = 0;
  std::vector<std::int32_t> order_;
  Rng rng_;
  std::vector<std::int32_t> scratch_;
};

class TestBatches {
 public:
  TestBatches(const Dataset& ds, int batch_size);  // keeps a pointer to ds
  bool next(Batch& out);                           // false after the last (padded) chunk
  void reset() { row_ = 0; }
  std::int64_t num_batches() const;

 private:
  const Dataset* ds_;
  int batch_size_;
  std::int64_t row_ = 0;
};

}  // namespace trm::data
