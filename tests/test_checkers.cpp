// The domain checkers of trm/infer/check.h: valid and invalid Sudoku and maze answers (the classic
// mistakes: a broken row, a changed given, a path through a wall, a path that does not reach G),
// puzzles that cannot be solved at all, the dataset family detection, and the `trm --help` example.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/help_example.h"
#include "data_util.h"
#include "expect_error.h"
#include "trm/data/maze.h"
#include "trm/data/sudoku.h"
#include "trm/infer/check.h"

namespace trm::infer {
namespace {

// Sudoku text ('.' blank, digits) to model tokens (blank 1, digit d -> d + 1).
std::vector<std::int32_t> sudoku(const std::string& s) {
  std::vector<std::int32_t> t;
  for (char ch : s) t.push_back(ch == '.' ? 1 : ch - '0' + 1);
  return t;
}
// Maze rows of "# SGo" to tokens.
std::vector<std::int32_t> maze(const std::vector<std::string>& rows) {
  std::vector<std::int32_t> t;
  for (const auto& r : rows)
    for (char ch : r) t.push_back(static_cast<std::int32_t>(std::string(data::kMazeCharset).find(ch)) + 1);
  return t;
}

const std::string kQ4 = "...14.3.3.......";  // the help example; its unique solution below
const std::string kA4 = "2341413232141423";

TEST(SudokuChecker, AcceptsTheSolutionAndNamesEachClassicMistake) {
  const Checker c(PuzzleFamily::kSudoku, 4);
  const auto q = sudoku(kQ4), a = sudoku(kA4);
  EXPECT_TRUE(c.ok(q.data(), a.data()));
  EXPECT_EQ(c.problem(q.data(), a.data()), "");
  // Two cells of row 4 swapped: every row is still a permutation, but columns 1 and 2 break.
  auto row = a;
  std::swap(row[12], row[13]);
  EXPECT_FALSE(c.ok(q.data(), row.data()));
  EXPECT_EQ(c.problem(q.data(), row.data()), "column 1 has two 4s");
  auto dup = a;
  dup[1] = dup[0];  // row 1 = 2 2 4 1
  EXPECT_EQ(c.problem(q.data(), dup.data()), "row 1 has two 2s");
  // A changed given: the answer is a valid grid, but not this puzzle's.
  const auto other = sudoku("1234341221434321");
  ASSERT_TRUE(Checker(PuzzleFamily::kSudoku, 4).ok(sudoku("................").data(), other.data()));
  EXPECT_FALSE(c.ok(q.data(), other.data()));
  EXPECT_NE(c.problem(q.data(), other.data()).find("changes the given"), std::string::npos);
  // A blank or padding token left in the answer.
  auto blank = a;
  blank[5] = 1;
  EXPECT_EQ(c.problem(q.data(), blank.data()), "row 2, column 2 is not a digit");
}

TEST(SudokuChecker, ChecksGeneratedSixAndNineGridsWithTheirBoxes) {
  for (int n : {6, 9}) {
    data::Rng rng(3);
    data::SudokuGenOptions g;
    g.n = n;
    g.target_clues = n == 9 ? 30 : 14;
    std::vector<std::uint8_t> qd(static_cast<std::size_t>(n * n)), ad(qd.size());
    data::generate_sudoku(g, rng, qd.data(), ad.data());
    std::vector<std::int32_t> q(qd.size()), a(ad.size());
    for (std::size_t i = 0; i < qd.size(); ++i) {
      q[i] = qd[i] ? qd[i] + 1 : 1;
      a[i] = ad[i] + 1;
    }
    const Checker c(PuzzleFamily::kSudoku, n);
    EXPECT_TRUE(c.ok(q.data(), a.data())) << n;
    EXPECT_EQ(c.puzzle_problem(q.data()), "") << n;
    // Swapping two columns of different stacks keeps rows and columns valid but breaks boxes.
    auto b = a;
    const int cols_per_box = 3;  // 9x9 boxes are 3x3, 6x6 boxes 2 rows x 3 columns
    for (int r = 0; r < n; ++r) std::swap(b[static_cast<std::size_t>(r * n)], b[static_cast<std::size_t>(r * n + cols_per_box)]);
    EXPECT_FALSE(c.ok(sudoku(std::string(static_cast<std::size_t>(n * n), '.')).data(), b.data())) << n;
  }
  test_util::expect_error([] { Checker(PuzzleFamily::kSudoku, 5); }, {"5"});
  test_util::expect_error([] { Checker(PuzzleFamily::kMaze, 300); }, {"300"});
}

TEST(SudokuChecker, ReportsPuzzlesThatCannotBeSolved) {
  const Checker c(PuzzleFamily::kSudoku, 4);
  EXPECT_EQ(c.puzzle_problem(sudoku(kQ4).data()), "");
  EXPECT_EQ(c.puzzle_problem(sudoku("11..............").data()), "the givens conflict: row 1 has two 1s");
  EXPECT_EQ(c.puzzle_problem(sudoku("2...2...........").data()), "the givens conflict: column 1 has two 2s");
  EXPECT_NE(c.puzzle_problem(sudoku("3....3..........").data()).find("the box at row 1, column 1 has two 3s"), std::string::npos);
  // No two givens conflict, yet no grid completes them: the example trm --help used to show.
  EXPECT_EQ(c.puzzle_problem(sudoku("1..4.3....2.4..1").data()), "the givens admit no solution");
}

TEST(HelpExample, HasExactlyOneSolution) {
  const auto shape = data::SudokuShape::for_size(4);
  std::vector<std::uint8_t> q, first(16);
  for (const char* p = cli::kHelpPuzzle; *p; ++p) q.push_back(static_cast<std::uint8_t>(*p == '.' ? 0 : *p - '0'));
  ASSERT_EQ(q.size(), 16u);
  EXPECT_EQ(data::sudoku_count_solutions(shape, q.data(), 2, first.data()), 1);
  EXPECT_EQ(std::string(cli::kHelpPuzzle), kQ4);
  std::string a;
  for (auto d : first) a += static_cast<char>('0' + d);
  EXPECT_EQ(a, kA4);
}

TEST(MazeChecker, AcceptsAnySimplePathFromStartToGoal) {
  const Checker c(PuzzleFamily::kMaze, 4);
  const auto q = maze({"S  G", "  # ", "    ", "#   "});
  EXPECT_EQ(c.puzzle_problem(q.data()), "");
  EXPECT_TRUE(c.ok(q.data(), maze({"SooG", "  # ", "    ", "#   "}).data()));  // the shortest path
  // A longer detour is still a valid path (the checker verifies, the label decides exactness).
  EXPECT_TRUE(c.ok(q.data(), maze({"S  G", "o #o", "oooo", "#   "}).data()));
}

TEST(MazeChecker, RejectsTheClassicMistakes) {
  const Checker c(PuzzleFamily::kMaze, 4);
  const auto q = maze({"S  G", "  # ", "    ", "#   "});
  const auto wall = maze({"S  G", "oooo", "    ", "#   "});  // (2,3) is a wall in the question
  EXPECT_FALSE(c.ok(q.data(), wall.data()));
  EXPECT_EQ(c.problem(q.data(), wall.data()), "the path goes through the wall at row 2, column 3");
  const auto short_of_goal = maze({"So G", "  # ", "    ", "#   "});  // stops one cell before G
  EXPECT_FALSE(c.ok(q.data(), short_of_goal.data()));
  EXPECT_NE(c.problem(q.data(), short_of_goal.data()).find("does not connect S to G"), std::string::npos);
  EXPECT_FALSE(c.ok(q.data(), maze({"SooG", "o # ", "    ", "#   "}).data()));  // a branch
  EXPECT_FALSE(c.ok(q.data(), maze({"SooG", "  # ", " oo ", "#oo "}).data()));  // a detached loop
  EXPECT_FALSE(c.ok(q.data(), maze({"S  G", "  # ", "    ", "#   "}).data()));  // no path at all
  const auto moved = maze({"SooG", "  #S", "    ", "#   "});  // the maze itself changed
  EXPECT_NE(c.problem(q.data(), moved.data()).find("changes row 2, column 4"), std::string::npos);
}

TEST(MazeChecker, ReportsMazesWithoutAWayThrough) {
  const Checker c(PuzzleFamily::kMaze, 4);
  EXPECT_EQ(c.puzzle_problem(maze({"S #G", "  # ", "  # ", "  # "}).data()), "no open path joins S to G");
  EXPECT_NE(c.puzzle_problem(maze({"S   ", "    ", "    ", "    "}).data()).find("exactly one S and one G"), std::string::npos);
}

TEST(MazeChecker, AcceptsTheGeneratorsAnswers) {
  data::Rng rng(5);
  data::MazeGenOptions g;
  g.side = 12;
  g.min_path_cells = 12;
  const data::MazeSet set = data::generate_mazes(5, g, rng);
  const Checker c(PuzzleFamily::kMaze, 12);
  for (std::int64_t i = 0; i < set.size(); ++i) {
    std::vector<std::int32_t> q(set.question(i), set.question(i) + 144), a(set.answer(i), set.answer(i) + 144);
    EXPECT_TRUE(c.ok(q.data(), a.data())) << i;
    EXPECT_FALSE(c.ok(q.data(), q.data())) << i;  // the unsolved maze is not an answer
  }
}

TEST(CheckerForDataset, IsDecidedByTheData) {
  const data::Dataset test = data::read_split(test_util::small_sudoku_dir(), "test");
  const Checker c = checker_for_dataset(test);
  EXPECT_EQ(c.family(), PuzzleFamily::kSudoku);
  EXPECT_EQ(c.side(), 4);
  // The same shapes with labels that are not solutions: no checker.
  data::Dataset broken = test;
  std::vector<std::uint8_t> labels(broken.labels.begin(), broken.labels.end());
  labels[0] = labels[1];
  broken.labels = labels;
  EXPECT_FALSE(checker_for_dataset(broken).active());
}

}  // namespace
}  // namespace trm::infer
