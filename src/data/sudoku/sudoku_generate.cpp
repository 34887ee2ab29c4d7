#include <cstring>

#include "data/generate.h"
#include "data/sudoku/sudoku_search.h"
#include "trm/error.h"
#include "trm/data/sudoku.h"

namespace trm::data {

void generate_sudoku(const SudokuGenOptions& opt, Rng& rng, std::uint8_t* question, std::uint8_t* answer) {
  const SudokuShape s = SudokuShape::for_size(opt.n);
  const int cells = s.cells();
  if (opt.target_clues < 0 || opt.target_clues > cells)
    throw Error("target_clues must be in [0, " + std::to_string(cells) + "] for " + std::to_string(s.n) + "x" +
                std::to_string(s.n) + " Sudoku, got " + std::to_string(opt.target_clues));
  SudokuSearch search(s);
  std::uint8_t grid[81];
  int fewest = cells + 1;
  for (int attempt = 0; attempt < std::max(1, opt.max_grids); ++attempt) {
    std::memset(grid, 0, sizeof grid);
    search.load(grid);
    search.count(1, answer, &rng);  // a uniformly shuffled search yields a random full grid
    std::memcpy(grid, answer, static_cast<std::size_t>(cells));
    int clues = cells;
    // Removing a clue keeps the solution unique exactly when no solution has another digit
    // there, which one restricted search answers faster than counting to two.
    for (int c : rng.permutation(cells)) {
      if (clues <= opt.target_clues) break;
      const int d = grid[c];
      grid[c] = 0;
      search.load(grid);
      search.forbid(c, d);
      if (search.count(1) > 0)
        grid[c] = static_cast<std::uint8_t>(d);
      else
        --clues;
    }
    if (clues <= opt.target_clues || opt.target_clues == 0) {
      std::memcpy(question, grid, static_cast<std::size_t>(cells));
      return;
    }
    fewest = std::min(fewest, clues);
  }
  throw Error("could not reach " + std::to_string(opt.target_clues) + " clues for " + std::to_string(s.n) + "x" +
              std::to_string(s.n) + " Sudoku in " + std::to_string(opt.max_grids) + " grids (fewest: " +
              std::to_string(fewest) + "); ask for more clues");
}

SudokuSet generate_sudokus(std::int64_t count, const SudokuGenOptions& opt, Rng& rng) {
  SudokuSet set;
  set.shape = SudokuShape::for_size(opt.n);
  const std::string what = std::to_string(opt.n) + "x" + std::to_string(opt.n) + " puzzles with " +
                           std::to_string(opt.target_clues) + " target clues";
  add_distinct(set, count, static_cast<std::size_t>(set.shape.cells()), what,
               [&](std::uint8_t* q, std::uint8_t* a) { generate_sudoku(opt, rng, q, a); });
  return set;
}

BuiltDataset generate_sudoku_dataset(const std::string& out_dir, const SudokuGenerateOptions& opt) {
  if (opt.num_train < 0 || opt.num_test < 0) throw Error("puzzle counts must be >= 0");
  Rng rng(opt.seed);
  const SudokuSet all = generate_sudokus(opt.num_train + opt.num_test, opt.puzzle, rng);
  return write_generated_dataset(out_dir, all, opt.num_train, [&](const SudokuSet& rows, bool train) {
    return build_sudoku_split(rows, train ? opt.num_aug : 0, rng);
  });
}

}  // namespace trm::data
