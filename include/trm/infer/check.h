// Domain checkers for answers (the seed's "self-evaluation"): whether a model's answer is a valid
// solution of its question, decided from the rules of the puzzle alone, without the label.
//   Sudoku (n x n, n = 4, 6, 9; boxes 2x2, 2x3, 3x3 as the builders, include/trm/data/sudoku.h):
//     every cell a digit, every given kept, every row, column and box holding 1..n once.
//   Maze (tokens of include/trm/data/maze.h): the answer is the question with some open cells
//     turned into path cells, and those cells form one simple path from S to G (S and G each touch
//     exactly one cell of the path-or-endpoint set, every path cell exactly two, and walking from S
//     reaches G through all of them). A valid path need not be the shortest one the dataset labels.
// Tokens are model tokens (int32, row-major, seq_len = side * side). ok() allocates nothing, so an
// inference loop can call it every step.
#pragma once
#include <cstdint>
#include <string>

namespace trm::data {
struct Dataset;
}

namespace trm::infer {

enum class PuzzleFamily { kNone, kSudoku, kMaze };
std::string to_string(PuzzleFamily f);  // "none" | "sudoku" | "maze"

class Checker {
 public:
  Checker() = default;  // checks nothing (family kNone)
  // Throws trm::Error for a side the family does not have (Sudoku: 4, 6, 9; maze: 2..255).
  Checker(PuzzleFamily family, int side);

  PuzzleFamily family() const { return family_; }
  int side() const { return side_; }
  bool active() const { return family_ != PuzzleFamily::kNone; }
  int cells() const { return side_ * side_; }

  // True when `answer` validly solves `question` (both `cells()` tokens). Always false when not
  // active (there is nothing to verify against).
  bool ok(const std::int32_t* question, const std::int32_t* answer) const;
  // "" when ok(), else what is wrong, in row/column terms (rows and columns counted from 1).
  std::string problem(const std::int32_t* question, const std::int32_t* answer) const;
  // "" when the question itself can be solved, else why not: Sudoku givens that conflict, or
  // givens that admit no solution (the generator's exact solver, data::sudoku_count_solutions);
  // a maze without exactly one S and one G, or where no open path joins them. A puzzle reported
  // here is not the model's fault.
  std::string puzzle_problem(const std::int32_t* question) const;

 private:
  PuzzleFamily family_ = PuzzleFamily::kNone;
  int side_ = 0, box_rows_ = 0, box_cols_ = 0;
};

// The checker that fits a dataset split, decided from its data: a vocabulary and sequence length
// that Sudoku or maze builders write (docs/REFERENCE.md §6.2-6.3) AND labels of its first rows (up
// to 16) that the checker accepts as solutions of their inputs. Anything else (ARC, a generic grid
// task, a split without labels) gets the inactive checker: answers are "unchecked".
Checker checker_for_dataset(const data::Dataset& split);

}  // namespace trm::infer
