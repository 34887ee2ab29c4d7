// Backtracking Sudoku search over candidate bitmasks with the most-constrained-cell heuristic
// (internal to src/data). Shared by the solution counter and the generator, whose speed it sets.
#pragma once
#include <cstdint>

#include "trm/data/rng.h"
#include "trm/data/sudoku.h"

namespace trm::data {

class SudokuSearch {
 public:
  explicit SudokuSearch(const SudokuShape& s);

  // Loads a grid of digits (0 = blank). Returns false when two givens clash. Clears restrictions.
  bool load(const std::uint8_t* grid);
  // Forbids `digit` at the blank `cell` for the following searches (until the next load).
  void forbid(int cell, int digit) { allowed_[cell] &= static_cast<std::uint16_t>(~(1u << digit)); }

  // Counts solutions up to `limit`, copying the first to `first` when non-null. With an rng the
  // candidate digits are tried in random order, which makes search from an empty grid a sampler
  // of random solution grids.
  int count(int limit, std::uint8_t* first = nullptr, Rng* rng = nullptr);

 private:
  bool dfs();
  void place(int c, int d);
  void unplace(int c, int d);

  SudokuShape s_;
  int cells_;
  std::uint16_t full_;
  std::uint8_t row_[81], col_[81], box_[81];
  std::uint8_t grid_[81];
  std::uint16_t rows_[9], cols_[9], boxes_[9], allowed_[81];
  std::uint8_t empty_[81];
  int num_empty_ = 0;
  int limit_ = 0, found_ = 0;
  std::uint8_t* first_ = nullptr;
  Rng* rng_ = nullptr;
};

}  // namespace trm::data
