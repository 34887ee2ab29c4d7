#include <algorithm>

#include "trm/data/maze.h"

namespace trm::data {
namespace {

// Neighbours in the order the released answers' BFS used: down, left, right, up.
template <class F>
void for_each_neighbour(int cell, int side, F&& f) {
  const int r = cell / side, c = cell % side;
  if (r + 1 < side) f(cell + side);
  if (c > 0) f(cell - 1);
  if (c + 1 < side) f(cell + 1);
  if (r > 0) f(cell - side);
}

// BFS over cells where passable(cell); parents[] optional.
template <class P>
std::vector<int> bfs(int side, int from, P&& passable, std::vector<int>* parents) {
  const int cells = side * side;
  std::vector<int> dist(static_cast<std::size_t>(cells), -1);
  if (parents) parents->assign(static_cast<std::size_t>(cells), -1);
  std::vector<int> queue;
  queue.reserve(static_cast<std::size_t>(cells));
  dist[static_cast<std::size_t>(from)] = 0;
  queue.push_back(from);
  for (std::size_t head = 0; head < queue.size(); ++head) {
    const int u = queue[head];
    for_each_neighbour(u, side, [&](int v) {
      if (dist[static_cast<std::size_t>(v)] >= 0 || !passable(v)) return;
      dist[static_cast<std::size_t>(v)] = dist[static_cast<std::size_t>(u)] + 1;
      if (parents) (*parents)[static_cast<std::size_t>(v)] = u;
      queue.push_back(v);
    });
  }
  return dist;
}

int find_single(const std::uint8_t* grid, int cells, std::uint8_t token) {
  int at = -1;
  for (int i = 0; i < cells; ++i) {
    if (grid[i] != token) continue;
    if (at >= 0) return -2;
    at = i;
  }
  return at;
}

}  // namespace

void MazeSet::add(const std::uint8_t* question, const std::uint8_t* answer) {
  questions.insert(questions.end(), question, question + cells());
  answers.insert(answers.end(), answer, answer + cells());
}

MazeSet MazeSet::select(const std::vector<std::int64_t>& rows) const {
  MazeSet out;
  out.side = side;
  for (auto r : rows) out.add(question(r), answer(r));
  return out;
}

std::string maze_to_string(const std::uint8_t* tokens, int cells) {
  std::string s(static_cast<std::size_t>(cells), '?');
  for (int i = 0; i < cells; ++i)
    if (tokens[i] >= 1 && tokens[i] <= 5) s[static_cast<std::size_t>(i)] = kMazeCharset[tokens[i] - 1];
  return s;
}

std::vector<int> maze_distances(const std::uint8_t* grid, int side, int from) {
  return bfs(side, from, [&](int v) { return grid[v] != kMazeWall; }, nullptr);
}

std::vector<int> maze_canonical_path(const std::uint8_t* grid, int side) {
  const int cells = side * side;
  const int s = find_single(grid, cells, kMazeStart);
  const int g = find_single(grid, cells, kMazeGoal);
  if (s < 0 || g < 0) return {};
  std::vector<int> parent;
  const auto dist = bfs(side, s, [&](int v) { return grid[v] != kMazeWall; }, &parent);
  if (dist[static_cast<std::size_t>(g)] < 0) return {};
  std::vector<int> path;
  for (int v = g; v != -1; v = parent[static_cast<std::size_t>(v)]) path.push_back(v);
  std::reverse(path.begin(), path.end());
  return path;
}

bool maze_solve(const std::uint8_t* question, int side, std::uint8_t* answer) {
  const int cells = side * side;
  std::copy(question, question + cells, answer);
  const auto path = maze_canonical_path(question, side);
  if (path.empty()) return false;
  for (std::size_t i = 1; i + 1 < path.size(); ++i) answer[path[i]] = kMazePath;
  return true;
}

std::string maze_answer_problem(const std::uint8_t* question, const std::uint8_t* answer, int side) {
  const int cells = side * side;
  for (int i = 0; i < cells; ++i) {
    if (answer[i] == question[i]) continue;
    if (question[i] == kMazeOpen && answer[i] == kMazePath) continue;
    // Row and column, 1-based as a reader counts them in the drawn maze (not a flat cell index).
    std::string where = "row ";
    where.append(std::to_string(i / side + 1)).append(", column ").append(std::to_string(i % side + 1));
    return where + " changes from '" + maze_to_string(question + i, 1) + "' to '" + maze_to_string(answer + i, 1) + "'";
  }
  const int s = find_single(question, cells, kMazeStart);
  const int g = find_single(question, cells, kMazeGoal);
  if (s < 0 || g < 0) return "the question needs exactly one S and one G";
  const int shortest = maze_distances(question, side, s)[static_cast<std::size_t>(g)];
  if (shortest < 0) return "G is unreachable from S";
  auto on_path = [&](int v) { return answer[v] == kMazePath || answer[v] == kMazeStart || answer[v] == kMazeGoal; };
  const int marked = static_cast<int>(std::count_if(answer, answer + cells, [](std::uint8_t t) {
    return t == kMazePath || t == kMazeStart || t == kMazeGoal;
  }));
  // The marked cells hold an S-G walk of `shortest` steps using shortest + 1 distinct cells; if
  // that is all of them, they are exactly one shortest path.
  const int along = bfs(side, s, on_path, nullptr)[static_cast<std::size_t>(g)];
  if (along != shortest)
    return "the marked cells do not connect S to G in " + std::to_string(shortest) + " steps (" +
           (along < 0 ? std::string("not connected") : std::to_string(along) + " steps") + ")";
  if (marked != shortest + 1)
    return std::to_string(marked) + " cells are marked, a shortest path has " + std::to_string(shortest + 1);
  return "";
}

}  // namespace trm::data
