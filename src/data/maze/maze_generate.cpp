#include <algorithm>

#include "data/generate.h"
#include "trm/error.h"
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
  if (side < 2 || side > kMazeMaxSide)
    throw Error("maze side must be in [2, " + std::to_string(kMazeMaxSide) + "], got " + std::to_string(side));
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
  add_distinct(set, count, static_cast<std::size_t>(opt.side * opt.side), "mazes",
               [&](std::uint8_t* q, std::uint8_t* a) { generate_maze(opt, rng, q, a); });
  return set;
}

BuiltDataset generate_maze_dataset(const std::string& out_dir, const MazeGenerateOptions& opt) {
  if (opt.num_train < 0 || opt.num_test < 0) throw Error("maze counts must be >= 0");
  Rng rng(opt.seed);
  const MazeSet all = generate_mazes(opt.num_train + opt.num_test, opt.maze, rng);
  return write_generated_dataset(out_dir, all, opt.num_train, [&](const MazeSet& rows, bool train) {
    return build_maze_split(rows, train && opt.aug);
  });
}

}  // namespace trm::data
