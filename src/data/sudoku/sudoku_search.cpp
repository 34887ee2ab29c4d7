#include "data/sudoku/sudoku_search.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace trm::data {

SudokuSearch::SudokuSearch(const SudokuShape& s)
    : s_(s), cells_(s.cells()), full_(static_cast<std::uint16_t>((1u << (s.n + 1)) - 2)) {
  for (int c = 0; c < cells_; ++c) {
    row_[c] = static_cast<std::uint8_t>(c / s.n);
    col_[c] = static_cast<std::uint8_t>(c % s.n);
    box_[c] = static_cast<std::uint8_t>(s.box_of(c));
  }
}

void SudokuSearch::place(int c, int d) {
  const auto bit = static_cast<std::uint16_t>(1u << d);
  grid_[c] = static_cast<std::uint8_t>(d);
  rows_[row_[c]] |= bit;
  cols_[col_[c]] |= bit;
  boxes_[box_[c]] |= bit;
}

void SudokuSearch::unplace(int c, int d) {
  const auto bit = static_cast<std::uint16_t>(~(1u << d));
  grid_[c] = 0;
  rows_[row_[c]] &= bit;
  cols_[col_[c]] &= bit;
  boxes_[box_[c]] &= bit;
}

bool SudokuSearch::load(const std::uint8_t* grid) {
  std::memset(rows_, 0, sizeof rows_);
  std::memset(cols_, 0, sizeof cols_);
  std::memset(boxes_, 0, sizeof boxes_);
  num_empty_ = 0;
  for (int c = 0; c < cells_; ++c) {
    allowed_[c] = full_;
    const int d = grid[c];
    grid_[c] = 0;
    if (d == 0) {
      empty_[num_empty_++] = static_cast<std::uint8_t>(c);
      continue;
    }
    if (d > s_.n) return false;
    const auto bit = static_cast<std::uint16_t>(1u << d);
    if ((rows_[row_[c]] | cols_[col_[c]] | boxes_[box_[c]]) & bit) return false;
    place(c, d);
  }
  return true;
}

int SudokuSearch::count(int limit, std::uint8_t* first, Rng* rng) {
  limit_ = limit;
  found_ = 0;
  first_ = first;
  rng_ = rng;
  if (limit > 0) dfs();
  return found_;
}

// Returns true once the limit is reached, which unwinds the whole search.
bool SudokuSearch::dfs() {
  if (num_empty_ == 0) {
    if (found_ == 0 && first_ != nullptr) std::memcpy(first_, grid_, static_cast<std::size_t>(cells_));
    return ++found_ >= limit_;
  }
  int best = 0, best_count = 99;
  std::uint16_t best_mask = 0;
  for (int i = 0; i < num_empty_; ++i) {
    const int c = empty_[i];
    const auto m = static_cast<std::uint16_t>(full_ & allowed_[c] & ~(rows_[row_[c]] | cols_[col_[c]] | boxes_[box_[c]]));
    const int k = std::popcount(m);
    if (k < best_count) {
      best = i;
      best_count = k;
      best_mask = m;
      if (k <= 1) break;
    }
  }
  if (best_count == 0) return false;
  // Moving the chosen cell past the end keeps it out of reach of deeper levels, whose own swaps
  // only reorder the cells before it; the set of blanks is therefore intact when we return.
  const int c = empty_[best];
  std::swap(empty_[best], empty_[num_empty_ - 1]);
  --num_empty_;
  int digits[16];
  int nd = 0;
  for (std::uint16_t m = best_mask; m; m &= static_cast<std::uint16_t>(m - 1)) digits[nd++] = std::countr_zero(m);
  if (rng_ != nullptr && nd > 1) rng_->shuffle(std::span<int>(digits, static_cast<std::size_t>(nd)));
  bool stop = false;
  for (int k = 0; k < nd && !stop; ++k) {
    place(c, digits[k]);
    stop = dfs();
    unplace(c, digits[k]);
  }
  ++num_empty_;
  return stop;
}

int sudoku_count_solutions(const SudokuShape& s, const std::uint8_t* question, int limit, std::uint8_t* first) {
  SudokuSearch search(s);
  if (!search.load(question)) return 0;
  return search.count(limit, first);
}

}  // namespace trm::data
