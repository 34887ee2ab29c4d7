// The Sudoku-Extreme / Maze-Hard CSV readers (src/io/csv.cpp, sudoku_csv.cpp, maze_csv.cpp) and,
// for what they accept, the in-memory builders that turn puzzles into a validated split.
#include "fuzz_util.h"
#include "trm/data/maze.h"
#include "trm/data/rng.h"
#include "trm/data/sudoku.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace trm;
  const std::string& path = fuzz::input_file(".csv", data, size);
  fuzz::refuse_ok([&] {
    const data::SudokuSet s = data::read_sudoku_csv(path);
    fuzz::require(s.size() >= 1, "a Sudoku CSV that reads has puzzles");
    data::Rng rng(0);
    const data::Dataset d = data::build_sudoku_split(s, 1, rng);
    fuzz::require(d.num_examples == 2 * s.size(), "one augmentation per puzzle plus the original");
  });
  fuzz::refuse_ok([&] { data::read_sudoku_csv(path, 3); });
  fuzz::refuse_ok([&] {
    const data::MazeSet m = data::read_maze_csv(path);
    fuzz::require(m.side >= 2 && m.side <= data::kMazeMaxSide, "maze side bounded");
    const data::Dataset d = data::build_maze_split(m, true);
    fuzz::require(d.num_examples == 8 * m.size(), "8 dihedral versions per maze");
  });
  return 0;
}
