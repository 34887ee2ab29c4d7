#include "trm/infer/check.h"

#include <algorithm>
#include <vector>

#include "trm/data/dataset.h"
#include "trm/data/maze.h"
#include "trm/data/sudoku.h"
#include "trm/error.h"

namespace trm::infer {

namespace {
std::string cell_name(int cell, int side) {
  return "row " + std::to_string(cell / side + 1) + ", column " + std::to_string(cell % side + 1);
}
// Maze neighbours of `cell` (down, left, right, up) into nb; returns how many.
int maze_neighbours(int cell, int side, int* nb) {
  const int r = cell / side, c = cell % side;
  int k = 0;
  if (r + 1 < side) nb[k++] = cell + side;
  if (c > 0) nb[k++] = cell - 1;
  if (c + 1 < side) nb[k++] = cell + 1;
  if (r > 0) nb[k++] = cell - side;
  return k;
}
bool on_route(std::int32_t t) { return t == data::kMazePath || t == data::kMazeStart || t == data::kMazeGoal; }
}  // namespace

std::string to_string(PuzzleFamily f) {
  switch (f) {
    case PuzzleFamily::kSudoku: return "sudoku";
    case PuzzleFamily::kMaze: return "maze";
    case PuzzleFamily::kNone: break;
  }
  return "none";
}

Checker::Checker(PuzzleFamily family, int side) : family_(family), side_(side) {
  if (family == PuzzleFamily::kSudoku) {
    const data::SudokuShape s = data::SudokuShape::for_size(side);  // throws for n not in {4, 6, 9}
    box_rows_ = s.box_rows;
    box_cols_ = s.box_cols;
  } else if (family == PuzzleFamily::kMaze) {
    if (side < 2 || side > data::kMazeMaxSide)
      throw Error("maze checker: side " + std::to_string(side) + " is outside 2.." + std::to_string(data::kMazeMaxSide));
  }
}

bool Checker::ok(const std::int32_t* q, const std::int32_t* a) const {
  const int n = side_, N = n * n;
  if (family_ == PuzzleFamily::kSudoku) {
    // Digit d is token d + 1; each row, column and box must see every digit once: one bit mask per
    // unit (n <= 9 fits in 16 bits).
    std::uint16_t row[9] = {}, col[9] = {}, box[9] = {};
    for (int i = 0; i < N; ++i) {
      const std::int32_t t = a[i];
      if (t < 2 || t > n + 1) return false;
      if (q[i] >= 2 && q[i] != t) return false;  // a given changed
      const int r = i / n, c = i % n, b = r / box_rows_ * (n / box_cols_) + c / box_cols_;
      const auto bit = static_cast<std::uint16_t>(1u << (t - 2));
      if ((row[r] | col[c] | box[b]) & bit) return false;
      row[r] |= bit;
      col[c] |= bit;
      box[b] |= bit;
    }
    return true;
  }
  if (family_ == PuzzleFamily::kMaze) {
    int start = -1, goal = -1, path_cells = 0;
    for (int i = 0; i < N; ++i) {
      const std::int32_t qt = q[i], at = a[i];
      if (at == data::kMazePath) {
        if (qt != data::kMazeOpen) return false;  // a path through a wall, S or G
        ++path_cells;
      } else if (at != qt) {
        return false;  // anything else must be kept as given
      }
      if (qt == data::kMazeStart) start = start < 0 ? i : -2;
      if (qt == data::kMazeGoal) goal = goal < 0 ? i : -2;
    }
    if (start < 0 || goal < 0) return false;
    // Every route cell's degree in the route: S and G 1, path cells 2. Then the walk from S, which
    // can neither branch nor revisit, must end at G having seen every path cell (no detached loop).
    int nb[4];
    for (int i = 0; i < N; ++i) {
      if (!on_route(a[i])) continue;
      int deg = 0;
      const int k = maze_neighbours(i, n, nb);
      for (int j = 0; j < k; ++j) deg += on_route(a[nb[j]]);
      if (deg != (a[i] == data::kMazePath ? 2 : 1)) return false;
    }
    int prev = -1, cur = start, seen = 0;
    while (cur != goal) {
      int next = -1;
      const int k = maze_neighbours(cur, n, nb);
      for (int j = 0; j < k; ++j)
        if (nb[j] != prev && on_route(a[nb[j]])) next = nb[j];
      if (next < 0 || next == start) return false;
      prev = cur;
      cur = next;
      if (cur != goal) ++seen;
    }
    return seen == path_cells;
  }
  return false;
}

std::string Checker::problem(const std::int32_t* q, const std::int32_t* a) const {
  if (ok(q, a)) return "";
  const int n = side_, N = n * n;
  if (family_ == PuzzleFamily::kSudoku) {
    for (int i = 0; i < N; ++i)
      if (a[i] < 2 || a[i] > n + 1) return cell_name(i, n) + " is not a digit";
    for (int i = 0; i < N; ++i)
      if (q[i] >= 2 && q[i] != a[i])
        return "changes the given " + std::to_string(q[i] - 1) + " at " + cell_name(i, n);
    for (int i = 0; i < N; ++i)
      for (int j = i + 1; j < N; ++j) {
        if (a[i] != a[j]) continue;
        const int ri = i / n, ci = i % n, rj = j / n, cj = j % n;
        const int bi = ri / box_rows_ * (n / box_cols_) + ci / box_cols_;
        const int bj = rj / box_rows_ * (n / box_cols_) + cj / box_cols_;
        const std::string d = std::to_string(a[i] - 1);
        if (ri == rj) return "row " + std::to_string(ri + 1) + " has two " + d + "s";
        if (ci == cj) return "column " + std::to_string(ci + 1) + " has two " + d + "s";
        if (bi == bj) return "the box at " + cell_name(i, n) + " has two " + d + "s";
      }
    return "breaks a row, column or box constraint";
  }
  if (family_ == PuzzleFamily::kMaze) {
    for (int i = 0; i < N; ++i) {
      if (a[i] == data::kMazePath && q[i] == data::kMazeWall) return "the path goes through the wall at " + cell_name(i, n);
      if (a[i] == data::kMazePath && q[i] != data::kMazeOpen) return "the path overwrites " + cell_name(i, n);
      if (a[i] != data::kMazePath && a[i] != q[i]) return "changes " + cell_name(i, n) + " of the maze";
    }
    return "the path does not connect S to G (a gap, a branch or a detached piece)";
  }
  return "no checker for this kind of puzzle";
}

std::string Checker::puzzle_problem(const std::int32_t* q) const {
  const int n = side_, N = n * n;
  if (family_ == PuzzleFamily::kSudoku) {
    const data::SudokuShape s = data::SudokuShape::for_size(n);
    std::vector<std::uint8_t> digits(static_cast<std::size_t>(N));
    for (int i = 0; i < N; ++i) digits[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(q[i] >= 2 ? q[i] - 1 : 0);
    for (int i = 0; i < N; ++i)
      for (int j = i + 1; j < N; ++j) {
        if (!digits[static_cast<std::size_t>(i)] || digits[static_cast<std::size_t>(i)] != digits[static_cast<std::size_t>(j)]) continue;
        const std::string d = std::to_string(digits[static_cast<std::size_t>(i)]);
        if (i / n == j / n) return "the givens conflict: row " + std::to_string(i / n + 1) + " has two " + d + "s";
        if (i % n == j % n) return "the givens conflict: column " + std::to_string(i % n + 1) + " has two " + d + "s";
        if (s.box_of(i) == s.box_of(j)) return "the givens conflict: the box at " + cell_name(i, n) + " has two " + d + "s";
      }
    if (data::sudoku_count_solutions(s, digits.data(), 1) == 0) return "the givens admit no solution";
    return "";
  }
  if (family_ == PuzzleFamily::kMaze) {
    int starts = 0, goals = 0;
    std::vector<std::uint8_t> grid(static_cast<std::size_t>(N));
    for (int i = 0; i < N; ++i) {
      starts += q[i] == data::kMazeStart;
      goals += q[i] == data::kMazeGoal;
      grid[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(q[i]);
    }
    if (starts != 1 || goals != 1)
      return "a maze needs exactly one S and one G (it has " + std::to_string(starts) + " and " + std::to_string(goals) + ")";
    if (data::maze_canonical_path(grid.data(), n).empty()) return "no open path joins S to G";
    return "";
  }
  return "";
}

Checker checker_for_dataset(const data::Dataset& split) {
  const int V = split.meta.vocab_size, S = split.meta.seq_len;
  int side = 0;
  while ((side + 1) * (side + 1) <= S) ++side;
  if (side * side != S) return {};
  std::vector<PuzzleFamily> candidates;
  if ((side == 4 || side == 6 || side == 9) && V == side + 2) candidates.push_back(PuzzleFamily::kSudoku);
  if (V == data::kMazeVocabSize && side >= 2) candidates.push_back(PuzzleFamily::kMaze);
  const std::int64_t rows = std::min<std::int64_t>(split.num_examples, 16);
  if (rows == 0 || split.labels.empty()) return {};
  std::vector<std::int32_t> q(static_cast<std::size_t>(S)), a(q.size());
  for (PuzzleFamily f : candidates) {
    const Checker c(f, side);
    bool all = true;
    for (std::int64_t r = 0; r < rows && all; ++r) {
      for (int i = 0; i < S; ++i) {
        q[static_cast<std::size_t>(i)] = split.inputs[static_cast<std::size_t>(r * S + i)];
        a[static_cast<std::size_t>(i)] = split.labels[static_cast<std::size_t>(r * S + i)];
      }
      all = c.ok(q.data(), a.data());
    }
    if (all) return c;
  }
  return {};
}

}  // namespace trm::infer
