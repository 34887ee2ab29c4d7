#include "trm/error.h"
#include "trm/data/dihedral.h"
#include "trm/data/maze.h"

namespace trm::data {

Dataset build_maze_split(const MazeSet& mazes, bool aug) {
  const int cells = mazes.cells();
  if (cells == 0) throw Error("maze set has no grid size (no mazes were read)");
  SplitBuilder b(cells);
  const int versions = aug ? kNumDihedral : 1;
  b.reserve(mazes.size() * versions);
  std::vector<std::uint8_t> q(static_cast<std::size_t>(cells)), a(q.size());
  for (std::int64_t i = 0; i < mazes.size(); ++i) {
    for (int t = 0; t < versions; ++t) {
      dihedral_transform(mazes.question(i), mazes.side, mazes.side, t, q.data());
      dihedral_transform(mazes.answer(i), mazes.side, mazes.side, t, a.data());
      b.add_example(q, a);
      b.end_puzzle(0);
    }
    b.end_group();
  }
  Metadata m;
  m.vocab_size = kMazeVocabSize;
  m.num_puzzle_identifiers = 1;
  return std::move(b).finish(m);
}

BuiltDataset build_maze_dataset(const std::string& train_csv, const std::string& test_csv,
                                const std::string& out_dir, const MazeBuildOptions& opt) {
  MazeSet train = read_maze_csv(train_csv);
  const MazeSet test = read_maze_csv(test_csv);
  if (train.side != test.side)
    throw Error(test_csv + ": holds " + std::to_string(test.side) + "x" + std::to_string(test.side) + " mazes, but " +
                train_csv + " holds " + std::to_string(train.side) + "x" + std::to_string(train.side));
  if (opt.subsample_size) {
    if (*opt.subsample_size <= 0)
      throw Error("subsample size must be positive, got " + std::to_string(*opt.subsample_size));
    Rng rng(opt.seed);
    if (*opt.subsample_size < train.size()) train = train.select(rng.choose(train.size(), *opt.subsample_size));
  }
  BuiltDataset out{build_maze_split(train, opt.aug), build_maze_split(test, false)};
  write_split(out.train, out_dir, "train");
  write_split(out.test, out_dir, "test");
  write_identifiers(out_dir, {"<blank>"});
  return out;
}

}  // namespace trm::data
