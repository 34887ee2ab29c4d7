// The Maze dataset builder (docs/REFERENCE.md §6.3) on the real CSVs or generated stand-ins, and the
// 8 grid symmetries its augmentation uses (against NumPy's rot90/flip). Shortest paths are
// checked with data_util.h's own BFS.
#include <gtest/gtest.h>

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

TEST(Dihedral, MatchesNumpyAndInverts) {
  const std::uint8_t in[6] = {1, 2, 3, 4, 5, 6};  // [[1,2,3],[4,5,6]]
  const std::vector<std::vector<std::uint8_t>> want = {
      {1, 2, 3, 4, 5, 6},  // identity
      {3, 6, 2, 5, 1, 4},  // np.rot90
      {6, 5, 4, 3, 2, 1},  // rot180
      {4, 1, 5, 2, 6, 3},  // rot270
      {3, 2, 1, 6, 5, 4},  // fliplr
      {4, 5, 6, 1, 2, 3},  // flipud
      {1, 4, 2, 5, 3, 6},  // transpose
      {6, 3, 5, 2, 4, 1},  // fliplr(rot90)
  };
  for (int t = 0; t < 8; ++t) {
    std::vector<std::uint8_t> out(6);
    dihedral_transform(in, 2, 3, t, out.data());
    EXPECT_EQ(out, want[static_cast<std::size_t>(t)]) << "t = " << t;
  }
  Rng rng(3);
  std::vector<std::uint8_t> g(35), once(35), back(35);
  for (auto& v : g) v = static_cast<std::uint8_t>(rng.below(256));
  for (int t = 0; t < 8; ++t) {
    dihedral_transform(g.data(), 5, 7, t, once.data());
    const int r = dihedral_swaps_axes(t) ? 7 : 5, c = dihedral_swaps_axes(t) ? 5 : 7;
    dihedral_transform(once.data(), r, c, kDihedralInverse[static_cast<std::size_t>(t)], back.data());
    EXPECT_EQ(back, g) << "t = " << t;
  }
  expect_error([&] { dihedral_transform(g.data(), 5, 7, 8, once.data()); }, {"8"});
}

TEST(Maze, BuilderWithAugmentationKeepsShortestPaths) {
  TempDir tmp;
  const std::string train = maze_csv(tmp, "train"), test = maze_csv(tmp, "test");
  MazeBuildOptions opt;
  opt.aug = true;
  const BuiltDataset built = build_maze_dataset(train, test, tmp / "maze", opt);
  const Dataset tr = read_split(tmp / "maze", "train");
  const Dataset te = read_split(tmp / "maze", "test");
  const MazeSet mazes = read_maze_csv(train);
  const std::int64_t m = mazes.size();
  EXPECT_EQ(mazes.side, 30);
  EXPECT_EQ(tr.meta.vocab_size, 6);
  EXPECT_EQ(tr.meta.seq_len, 900);
  EXPECT_EQ(tr.num_examples, 8 * m);
  EXPECT_EQ(tr.num_groups(), m);
  EXPECT_EQ(tr.num_puzzles(), 8 * m);
  EXPECT_EQ(te.num_examples, read_maze_csv(test).size());
  EXPECT_EQ(te.num_groups(), te.num_examples);
  for (std::int64_t g = 0; g <= m; ++g) EXPECT_EQ(tr.group_indices[static_cast<std::size_t>(g)], 8 * g);

  // Token map against the raw CSV text of the first row (fields are not trimmed).
  std::ifstream f(train);
  std::string line;
  std::getline(f, line);
  std::getline(f, line);
  const std::string q = line.substr(line.find(',') + 1, 900);
  ASSERT_EQ(q.size(), 900u);
  for (int i = 0; i < 900; ++i)
    EXPECT_EQ(tr.input_row(0)[i], std::string("# SGo").find(q[static_cast<std::size_t>(i)]) + 1);

  std::vector<std::uint8_t> back(900);
  for (std::int64_t g = 0; g < m; ++g) {
    const int d0 = expect_shortest_path_answer(tr.input_row(8 * g), tr.label_row(8 * g), 30, "maze " + std::to_string(g));
    for (int t = 0; t < 8; ++t) {
      const std::int64_t r = 8 * g + t;
      const int d = expect_shortest_path_answer(tr.input_row(r), tr.label_row(r), 30,
                                                "maze " + std::to_string(g) + " t" + std::to_string(t));
      EXPECT_EQ(d, d0);
      dihedral_transform(tr.input_row(r), 30, 30, kDihedralInverse[static_cast<std::size_t>(t)], back.data());
      EXPECT_TRUE(std::equal(back.begin(), back.end(), tr.input_row(8 * g)));
      dihedral_transform(tr.label_row(r), 30, 30, kDihedralInverse[static_cast<std::size_t>(t)], back.data());
      EXPECT_TRUE(std::equal(back.begin(), back.end(), tr.label_row(8 * g)));
    }
    if (testing::Test::HasFailure()) return;
  }
  // The released answers are the canonical BFS path (down, left, right, up; first parent wins).
  for (std::int64_t g = 0; g < m; ++g) {
    ASSERT_EQ(canonical_answer(mazes.question(g), 30), std::vector<std::uint8_t>(mazes.answer(g), mazes.answer(g) + 900));
    maze_solve(mazes.question(g), 30, back.data());
    ASSERT_TRUE(std::equal(back.begin(), back.end(), mazes.answer(g))) << g;
    ASSERT_EQ(maze_answer_problem(mazes.question(g), mazes.answer(g), 30), "");
  }

  MazeBuildOptions sub;
  sub.subsample_size = 10;
  sub.seed = 8;
  build_maze_dataset(train, test, tmp / "s1", sub);
  build_maze_dataset(train, test, tmp / "s2", sub);
  EXPECT_EQ(read_split(tmp / "s1", "train").num_examples, 10);
  EXPECT_EQ(read_file(tmp / "s1/train/all__inputs.npy"), read_file(tmp / "s2/train/all__inputs.npy"));
  (void)built;
}

TEST(Maze, BadCsvRowsNameFileAndLine) {
  TempDir tmp;
  const std::string header = "source,question,answer,rating\n";
  auto check = [&](const std::string& name, const std::string& q, const std::string& a, const std::string& needle) {
    const std::string p = tmp / name;
    write_file(p, header + "," + q + "," + a + ",3\n");
    expect_error([&] { read_maze_csv(p); }, {p + ":2:", needle});
  };
  check("ok_then_bad.csv", "S  G", "S  X", "'X' at position 3");
  check("square.csv", "S G", "S G", "square");
  check("twoS.csv", "SS G", "SS G", "exactly one 'S'");
  check("wall.csv", "S#G ", "SoG ", "position 1");
  check("len.csv", "S  G", "S  G ", "characters");
  // Larger than any maze trm generates (side * side would also overflow int past 46340).
  std::string huge(256 * 256, ' ');
  huge[0] = 'S';
  huge[1] = 'G';
  check("huge.csv", huge, huge, "256x256 maze, larger than 255x255");
  const std::string p = tmp / "ok.csv";
  write_file(p, header + ", S G, SoG,3\r\n");  // leading spaces and CRLF
  const MazeSet s = read_maze_csv(p);
  EXPECT_EQ(s.side, 2);
  EXPECT_EQ(maze_to_string(s.question(0), 4), " S G");
  EXPECT_EQ(maze_to_string(s.answer(0), 4), " SoG");
}

}  // namespace
}  // namespace trm::data
