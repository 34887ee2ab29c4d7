#include "trm/data/sudoku.h"

namespace trm::data {
namespace {

// Blocks of `block` lines shuffled as units, then the lines inside each block, drawn in the order
// the reference draws them (block order first, then one inner permutation per placed block).
std::vector<int> line_permutation(int n, int block, Rng& rng) {
  std::vector<int> perm;
  perm.reserve(static_cast<std::size_t>(n));
  for (int b : rng.permutation(n / block))
    for (int r : rng.permutation(block)) perm.push_back(b * block + r);
  return perm;
}

}  // namespace

SudokuTransform SudokuTransform::identity(const SudokuShape& s) {
  SudokuTransform t;
  for (int i = 0; i < s.n; ++i) {
    t.row_perm.push_back(i);
    t.col_perm.push_back(i);
  }
  for (int d = 0; d <= s.n; ++d) t.digit_map.push_back(static_cast<std::uint8_t>(d));
  return t;
}

SudokuTransform SudokuTransform::random(const SudokuShape& s, Rng& rng) {
  SudokuTransform t;
  t.digit_map.push_back(0);
  for (int d : rng.permutation(s.n)) t.digit_map.push_back(static_cast<std::uint8_t>(d + 1));
  // Transposing a board with 2x3 boxes would give 3x2 boxes: no longer the same puzzle family.
  t.transpose = s.square_boxes() && rng.uniform() < 0.5;
  t.row_perm = line_permutation(s.n, s.box_rows, rng);
  t.col_perm = line_permutation(s.n, s.box_cols, rng);
  return t;
}

void SudokuTransform::apply(const SudokuShape& s, const std::uint8_t* in, std::uint8_t* out) const {
  const int n = s.n;
  for (int i = 0; i < n * n; ++i) {
    const int r = row_perm[static_cast<std::size_t>(i / n)];
    const int c = col_perm[static_cast<std::size_t>(i % n)];
    out[i] = digit_map[in[transpose ? c * n + r : r * n + c]];
  }
}

}  // namespace trm::data
