#include <algorithm>
#include <unordered_set>

#include "trm/config.h"
#include "trm/data/maze.h"

namespace trm::data {
namespace {

// Uniform choice among the reachable cells farthest from `from`.
int farthest(const std::vector<int>& dist, Rng& rng) {
  const int best = *std::max_element(dist.begin(), dist.end());
  std::vector<int> far;
  for (std::size_t i = 0; i < dist.size(); ++i)
    if (dist[i] == best) far.push_back(static_cast<int>(i));
  return far[rng.below(far.size())];
}

}  // namespace

void generate_maze(const MazeGenOptions& opt, Rng& rng, std::uint8_t* question, std::uint8_t* answer) {
  const int side = opt.side, cells = side * side;
  if (side < 2 || side > 255) throw Error("maze side must be in [2, 255], got " + std::to_string(side));
  if (opt.min_path_cells < 2 || opt.min_path_cells > cells)
    throw Error("minimum path length must be in [2, " + std::to_string(cells) + "] cells for a " +
                std::to_string(side) + "x" + std::to_string(side) + " maze, got " + std::to_string(opt.min_path_cells));
  if (!(opt.wall_min >= 0 && opt.wall_min <= opt.wall_max && opt.wall_max < 1))
    throw Error("wall density range must satisfy 0 <= min <= max < 1");
  for (int attempt = 0; attempt < opt.max_attempts; ++attempt) {
    // Walls at an independent random density, as in the released mazes (no border, no corridors).
    const double density = opt.wall_min + (opt.wall_max - opt.wall_min) * rng.uniform();
    std::vector<int> open;
    for (int i = 0; i < cells; ++i) {
      const bool wall = rng.uniform() < density;
      question[i] = wall ? kMazeWall : kMazeOpen;
      if (!wall) open.push_back(i);
    }
    if (open.size() < 2) continue;
    // Two BFS sweeps find a near-diameter pair; the goal is then any cell far enough from the
    // start, so paths are not all of maximal length.
    const int probe = open[rng.below(open.size())];
    const int start = farthest(maze_distances(question, side, probe), rng);
    const auto dist = maze_distances(question, side, start);
    std::vector<int> goals;
    for (int i = 0; i < cells; ++i)
      if (dist[static_cast<std::size_t>(i)] + 1 >= opt.min_path_cells) goals.push_back(i);
    if (goals.empty()) continue;
    int s = start, g = goals[rng.below(goals.size())];
    if (rng.coin()) std::swap(s, g);  // the canonical path depends on direction; use both
    question[s] = kMazeStart;
    question[g] = kMazeGoal;
    maze_solve(question, side, answer);
    return;
  }
  throw Error("no " + std::to_string(side) + "x" + std::to_string(side) + " maze with a shortest path of at least " +
              std::to_string(opt.min_path_cells) + " cells in " + std::to_string(opt.max_attempts) +
              " random mazes; ask for a shorter minimum path");
}

MazeSet generate_mazes(std::int64_t count, const MazeGenOptions& opt, Rng& rng) {
  MazeSet set;
  set.side = opt.side;
  std::vector<std::uint8_t> q(static_cast<std::size_t>(opt.side * opt.side)), a(q.size());
  std::unordered_set<std::string> seen;
  const std::int64_t budget = 20 * count + 1000;
  for (std::int64_t tries = 0; set.size() < count; ++tries) {
    if (tries >= budget)
      throw Error("generated only " + std::to_string(set.size()) + " distinct mazes in " + std::to_string(budget) +
                  " tries; ask for fewer");
    generate_maze(opt, rng, q.data(), a.data());
    if (seen.insert(std::string(q.begin(), q.end())).second) set.add(q.data(), a.data());
  }
  return set;
}

BuiltDataset generate_maze_dataset(const std::string& out_dir, const MazeGenerateOptions& opt) {
  if (opt.num_train < 0 || opt.num_test < 0) throw Error("maze counts must be >= 0");
  Rng rng(opt.seed);
  const MazeSet all = generate_mazes(opt.num_train + opt.num_test, opt.maze, rng);
  std::vector<std::int64_t> train_rows, test_rows;
  for (std::int64_t i = 0; i < all.size(); ++i) (i < opt.num_train ? train_rows : test_rows).push_back(i);
  BuiltDataset out{build_maze_split(all.select(train_rows), opt.aug), build_maze_split(all.select(test_rows), false)};
  write_split(out.train, out_dir, "train");
  write_split(out.test, out_dir, "test");
  write_identifiers(out_dir, {"<blank>"});
  return out;
}

}  // namespace trm::data
