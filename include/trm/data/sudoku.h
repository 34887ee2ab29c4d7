// n x n Sudoku (n = 4, 6, 9 with boxes 2x2, 2x3, 3x3): CSV reading, the reference's
// augmentation and dataset builder (docs/REFERENCE.md §6.2), a solution counter, and a generator of puzzles
// with a unique solution.
//
// Deviation from the reference: its builder draws the subsample and the augmentations from
// numpy's unseeded global RNG, so every build differs. Ours draws them from trm::data::Rng
// seeded with SudokuBuildOptions::seed, so a build is reproducible (but not numpy-identical).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trm/data/dataset.h"
#include "trm/data/rng.h"

namespace trm::data {

struct SudokuShape {
  int n = 9;
  int box_rows = 3;  // rows per box (= rows per band)
  int box_cols = 3;  // columns per box (= columns per stack)

  static SudokuShape for_size(int n);  // throws trm::Error unless n is 4, 6 or 9
  int cells() const { return n * n; }
  int box_of(int cell) const {
    return (cell / n) / box_rows * (n / box_cols) + (cell % n) / box_cols;
  }
  bool square_boxes() const { return box_rows == box_cols; }
  bool operator==(const SudokuShape&) const = default;
};

// Token map (docs/REFERENCE.md §6.2): PAD 0, blank 1, digit d -> d + 1; vocab n + 2, seq_len n * n.
inline std::uint8_t sudoku_token(std::uint8_t digit) { return static_cast<std::uint8_t>(digit + 1); }
inline int sudoku_vocab_size(const SudokuShape& s) { return s.n + 2; }

// Puzzles as digits per cell, row-major: 0 = blank in questions, 1..n everywhere else.
struct SudokuSet {
  SudokuShape shape;
  std::vector<std::uint8_t> questions;  // [size, n*n]
  std::vector<std::uint8_t> answers;    // [size, n*n]

  std::int64_t size() const { return static_cast<std::int64_t>(questions.size()) / shape.cells(); }
  const std::uint8_t* question(std::int64_t i) const { return questions.data() + i * shape.cells(); }
  const std::uint8_t* answer(std::int64_t i) const { return answers.data() + i * shape.cells(); }
  void add(const std::uint8_t* question, const std::uint8_t* answer);
  SudokuSet select(const std::vector<std::int64_t>& rows) const;
};

// Complete, and every row, column and box holds 1..n once.
bool sudoku_is_solution(const SudokuShape& s, const std::uint8_t* grid);
// Every given of the question is kept by the answer.
bool sudoku_agrees(const SudokuShape& s, const std::uint8_t* question, const std::uint8_t* answer);
// Solutions of `question`, counted up to `limit`; the first one found is copied to `first`.
int sudoku_count_solutions(const SudokuShape& s, const std::uint8_t* question, int limit = 2,
                           std::uint8_t* first = nullptr);

// Reads `source,question,answer,rating` (questions use '.' or '0' for blanks). Every row is
// checked: size n*n for n in {4, 6, 9} (the same n throughout), valid characters, and an answer
// that solves the grid and keeps the givens. With min_difficulty, rows whose integer rating is
// lower are dropped (as the reference's --min-difficulty). Errors name file and line.
SudokuSet read_sudoku_csv(const std::string& path, std::optional<int> min_difficulty = std::nullopt);
// Writes the same format ('.' for blanks; rating left empty).
void write_sudoku_csv(const std::string& path, const SudokuSet& set, const std::string& source = "");

// The reference's shuffle_sudoku, generalized to rectangular boxes: a digit permutation (blank
// fixed); a transpose with p = 0.5, only for square boxes (it would change a 2x3 box into 3x2);
// a permutation of bands and of rows inside each band, and the same for stacks and columns.
// new[i] = digit_map[old'[row_perm[i / n] * n + col_perm[i % n]]], old' = old transposed or not.
struct SudokuTransform {
  bool transpose = false;
  std::vector<int> row_perm, col_perm;
  std::vector<std::uint8_t> digit_map;  // [n + 1], digit_map[0] = 0

  static SudokuTransform identity(const SudokuShape& s);
  static SudokuTransform random(const SudokuShape& s, Rng& rng);
  void apply(const SudokuShape& s, const std::uint8_t* in, std::uint8_t* out) const;
};

// One group per puzzle: the original, then num_aug random transforms of it, each a puzzle of one
// example with identifier 0.
Dataset build_sudoku_split(const SudokuSet& puzzles, int num_aug, Rng& rng);

struct SudokuBuildOptions {
  std::optional<std::int64_t> subsample_size;  // train only; keeps K rows drawn without replacement
  std::optional<int> min_difficulty;           // both splits, as in the reference
  int num_aug = 0;                             // train only
  std::uint64_t seed = 0;
};

// Writes <out_dir>/{train,test}/ and <out_dir>/identifiers.json from the two CSV files.
BuiltDataset build_sudoku_dataset(const std::string& train_csv, const std::string& test_csv,
                                  const std::string& out_dir, const SudokuBuildOptions& opt);

struct SudokuGenOptions {
  int n = 9;
  // Givens to keep. Clues are removed in random order while the solution stays unique, until
  // this many remain; 0 keeps removing until no clue can go (a minimal puzzle, the hardest).
  int target_clues = 0;
  int max_grids = 100;  // fresh solution grids to try before declaring target_clues unreachable
};

// One puzzle with exactly one solution (written to question/answer, n*n digits each).
// Throws trm::Error when no grid in max_grids reaches target_clues.
void generate_sudoku(const SudokuGenOptions& opt, Rng& rng, std::uint8_t* question, std::uint8_t* answer);
// `count` pairwise distinct puzzles.
SudokuSet generate_sudokus(std::int64_t count, const SudokuGenOptions& opt, Rng& rng);

struct SudokuGenerateOptions : GeneratedSplits {
  SudokuGenOptions puzzle;
  int num_aug = 0;  // shuffled versions per training puzzle
};

// Generates distinct train and test puzzles and writes them through the same layout writer as
// build_sudoku_dataset.
BuiltDataset generate_sudoku_dataset(const std::string& out_dir, const SudokuGenerateOptions& opt);

}  // namespace trm::data
