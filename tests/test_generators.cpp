// The Sudoku and maze generators: unique solutions and the clue knob, long canonical paths, and
// generated datasets in the builders' layout. Checked with data_util.h's own solver and BFS.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "data_util.h"
#include "expect_error.h"
#include "temp_dir.h"
#include "trm/data.h"

namespace trm::data {
namespace {

// data_util.h's helpers, TempDir and expect_error.
using namespace test_util;

TEST(Generator, SudokuPuzzlesHaveOneSolutionAndFollowTheKnob) {
  struct Case {
    int n, target, count;
  };
  for (const Case& k : {Case{4, 0, 40}, Case{4, 7, 40}, Case{6, 0, 40}, Case{6, 16, 40}, Case{9, 30, 40}, Case{9, 0, 8}}) {
    Rng rng(static_cast<std::uint64_t>(k.n * 100 + k.target));
    SudokuGenOptions g;
    g.n = k.n;
    g.target_clues = k.target;
    const SudokuSet set = generate_sudokus(k.count, g, rng);
    const Geometry geo = geometry(k.n);
    std::set<std::string> distinct;
    for (std::int64_t i = 0; i < set.size(); ++i) {
      std::vector<int> grid(set.question(i), set.question(i) + k.n * k.n);
      distinct.emplace(set.question(i), set.question(i) + k.n * k.n);
      const int clues = static_cast<int>(std::count_if(grid.begin(), grid.end(), [](int v) { return v != 0; }));
      std::vector<int> sol;
      ASSERT_EQ(count_solutions(geo, grid, 2, &sol), 1) << k.n << "x" << k.n << " puzzle " << i;
      ASSERT_EQ(sol, std::vector<int>(set.answer(i), set.answer(i) + k.n * k.n));
      if (k.target > 0) {
        EXPECT_EQ(clues, k.target);
      } else {  // minimal: every clue is needed
        for (int c = 0; c < k.n * k.n; ++c) {
          if (grid[static_cast<std::size_t>(c)] == 0) continue;
          const int keep = grid[static_cast<std::size_t>(c)];
          grid[static_cast<std::size_t>(c)] = 0;
          EXPECT_EQ(count_solutions(geo, grid, 2, nullptr), 2) << "clue " << c << " is redundant";
          grid[static_cast<std::size_t>(c)] = keep;
        }
      }
      EXPECT_EQ(sudoku_count_solutions(set.shape, set.question(i)), 1);
    }
    EXPECT_EQ(distinct.size(), static_cast<std::size_t>(k.count));
  }
  Rng rng(1);
  SudokuGenOptions impossible;
  impossible.target_clues = 16;  // no 9x9 puzzle with 16 clues has a unique solution
  impossible.max_grids = 2;
  expect_error([&] { generate_sudokus(1, impossible, rng); }, {"16 clues", "9x9"});
}

TEST(Generator, MazesHaveLongCanonicalPaths) {
  struct Case {
    int side, min_cells, count;
  };
  for (const Case& k : {Case{9, 20, 30}, Case{15, 40, 30}, Case{30, 110, 10}}) {
    Rng rng(static_cast<std::uint64_t>(k.side));
    MazeGenOptions g;
    g.side = k.side;
    g.min_path_cells = k.min_cells;
    const MazeSet set = generate_mazes(k.count, g, rng);
    ASSERT_EQ(set.size(), k.count);
    for (std::int64_t i = 0; i < set.size(); ++i) {
      const auto* q = set.question(i);
      EXPECT_EQ(std::count(q, q + set.cells(), kMazeStart), 1);
      EXPECT_EQ(std::count(q, q + set.cells(), kMazeGoal), 1);
      const int steps = expect_shortest_path_answer(q, set.answer(i), k.side, "generated maze");
      EXPECT_GE(steps + 1, k.min_cells);
      EXPECT_EQ(canonical_answer(q, k.side), std::vector<std::uint8_t>(set.answer(i), set.answer(i) + set.cells()));
    }
  }
  Rng rng(2);
  MazeGenOptions impossible;
  impossible.side = 9;
  impossible.min_path_cells = 81;
  impossible.max_attempts = 20;
  std::vector<std::uint8_t> q(81), a(81);
  expect_error([&] { generate_maze(impossible, rng, q.data(), a.data()); }, {"9x9", "81 cells"});
}

TEST(Generator, DatasetsUseTheBuildersLayout) {
  TempDir tmp;
  SudokuGenerateOptions so;
  so.puzzle.n = 6;
  so.num_train = 30;
  so.num_test = 10;
  so.num_aug = 3;
  so.seed = 4;
  generate_sudoku_dataset(tmp / "sudoku", so);
  const Dataset s = read_split(tmp / "sudoku", "train");
  EXPECT_EQ(s.num_examples, 120);
  EXPECT_EQ(s.meta.vocab_size, 8);
  EXPECT_EQ(read_split(tmp / "sudoku", "test").num_examples, 10);
  EXPECT_EQ(read_identifiers(tmp / "sudoku"), std::vector<std::string>{"<blank>"});
  // Train and test puzzles differ.
  std::set<std::string> train_q;
  for (std::int64_t r = 0; r < s.num_examples; r += 4) train_q.emplace(s.input_row(r), s.input_row(r) + 36);
  const Dataset st = read_split(tmp / "sudoku", "test");
  for (std::int64_t r = 0; r < st.num_examples; ++r) EXPECT_FALSE(train_q.count(std::string(st.input_row(r), st.input_row(r) + 36)));

  MazeGenerateOptions mo;
  mo.maze.side = 11;
  mo.maze.min_path_cells = 25;
  mo.num_train = 12;
  mo.num_test = 5;
  mo.aug = true;
  generate_maze_dataset(tmp / "maze", mo);
  const Dataset m = read_split(tmp / "maze", "train");
  EXPECT_EQ(m.num_examples, 96);
  EXPECT_EQ(m.meta.seq_len, 121);
  EXPECT_EQ(read_split(tmp / "maze", "test").num_examples, 5);
}

}  // namespace
}  // namespace trm::data
