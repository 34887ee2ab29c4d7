// The dataset tests' shared helpers: files in and out, the real CSVs or generated stand-ins, and
// checks of puzzle validity written here, independent of the library's solvers (a bug there must
// not hide itself).
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "trm/data.h"

namespace trm::test_util {

// Where the released CSVs are: $TRM_DATA_DIR, default /work/shared/data.
inline std::string data_dir() {
  const char* env = std::getenv("TRM_DATA_DIR");
  return env != nullptr && *env != '\0' ? env : "/work/shared/data";
}

// A generated 4x4 Sudoku dataset (200 train, 50 test puzzles) shared by the tests of one process:
// the training and run tests' small, fast data.
inline const std::string& small_sudoku_dir() {
  static TempDir dir("trm_small_sudoku");
  static const bool built = [] {
    data::SudokuGenerateOptions g;
    g.puzzle.n = 4;
    g.num_train = 200;
    g.num_test = 50;
    g.seed = 11;
    data::generate_sudoku_dataset(dir.str(), g);
    return true;
  }();
  static const std::string path = built ? dir.str() : "";
  return path;
}

// A whole file as bytes ("" when it cannot be opened).
inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Writes bytes as the whole file, replacing it.
inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

// A 9x9 puzzle and its solution in the CSVs' text form ('.' = blank).
inline constexpr const char* kQ1 = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79";
inline constexpr const char* kA1 = "534678912672195348198342567859761423426853791713924856961537284287419635345286179";

// --- an independent Sudoku checker and solution counter (plain loops, no bitmasks) ---

struct Geometry {
  int n, br, bc;
};

inline Geometry geometry(int n) { return n == 4 ? Geometry{4, 2, 2} : n == 6 ? Geometry{6, 2, 3} : Geometry{9, 3, 3}; }

inline bool can_place(const Geometry& g, const std::vector<int>& grid, int cell, int d) {
  const int r = cell / g.n, c = cell % g.n;
  for (int k = 0; k < g.n; ++k)
    if (grid[static_cast<std::size_t>(r * g.n + k)] == d || grid[static_cast<std::size_t>(k * g.n + c)] == d) return false;
  const int r0 = r / g.br * g.br, c0 = c / g.bc * g.bc;
  for (int i = 0; i < g.br; ++i)
    for (int j = 0; j < g.bc; ++j)
      if (grid[static_cast<std::size_t>((r0 + i) * g.n + c0 + j)] == d) return false;
  return true;
}

inline bool valid_solution(const Geometry& g, const std::vector<int>& grid) {
  for (int cell = 0; cell < g.n * g.n; ++cell) {
    const int d = grid[static_cast<std::size_t>(cell)];
    if (d < 1 || d > g.n) return false;
    std::vector<int> rest = grid;
    rest[static_cast<std::size_t>(cell)] = 0;
    if (!can_place(g, rest, cell, d)) return false;
  }
  return true;
}

inline int count_solutions(const Geometry& g, std::vector<int>& grid, int limit, std::vector<int>* first) {
  int best = -1, best_count = g.n + 1;
  for (int cell = 0; cell < g.n * g.n; ++cell) {
    if (grid[static_cast<std::size_t>(cell)] != 0) continue;
    int k = 0;
    for (int d = 1; d <= g.n; ++d) k += can_place(g, grid, cell, d);
    if (k < best_count) {
      best = cell;
      best_count = k;
    }
  }
  if (best < 0) {
    if (first && first->empty()) *first = grid;
    return 1;
  }
  int found = 0;
  for (int d = 1; d <= g.n && found < limit; ++d) {
    if (!can_place(g, grid, best, d)) continue;
    grid[static_cast<std::size_t>(best)] = d;
    found += count_solutions(g, grid, limit - found, first);
    grid[static_cast<std::size_t>(best)] = 0;
  }
  return found;
}

// Checks a tokenized Sudoku row pair: tokens map back (1 = blank, d + 1 = digit), the label is a
// valid solution and keeps the givens.
inline void expect_valid_sudoku_row(int n, const std::uint8_t* input, const std::uint8_t* label, const std::string& what) {
  const Geometry g = geometry(n);
  std::vector<int> sol(static_cast<std::size_t>(n * n));
  for (int c = 0; c < n * n; ++c) {
    ASSERT_GE(input[c], 1) << what;
    ASSERT_LE(input[c], n + 1) << what;
    ASSERT_GE(label[c], 2) << what;
    ASSERT_LE(label[c], n + 1) << what;
    sol[static_cast<std::size_t>(c)] = label[c] - 1;
    if (input[c] != 1) {
      ASSERT_EQ(input[c], label[c]) << what << ": given changed at cell " << c;
    }
  }
  ASSERT_TRUE(valid_solution(g, sol)) << what << ": label is not a valid solution";
}

// --- an independent maze BFS ---

inline std::vector<int> bfs_dist(const std::uint8_t* grid, int side, int from, const std::function<bool(int)>& ok,
                          std::vector<int>* parent = nullptr) {
  std::vector<int> dist(static_cast<std::size_t>(side * side), -1);
  if (parent) parent->assign(dist.size(), -1);
  std::vector<int> q{from};
  dist[static_cast<std::size_t>(from)] = 0;
  for (std::size_t h = 0; h < q.size(); ++h) {
    const int u = q[h], r = u / side, c = u % side;
    const int cand[4][2] = {{r + 1, c}, {r, c - 1}, {r, c + 1}, {r - 1, c}};  // down, left, right, up
    for (const auto& rc : cand) {
      if (rc[0] < 0 || rc[0] >= side || rc[1] < 0 || rc[1] >= side) continue;
      const int v = rc[0] * side + rc[1];
      if (dist[static_cast<std::size_t>(v)] >= 0 || !ok(v)) continue;
      dist[static_cast<std::size_t>(v)] = dist[static_cast<std::size_t>(u)] + 1;
      if (parent) (*parent)[static_cast<std::size_t>(v)] = u;
      q.push_back(v);
    }
  }
  (void)grid;
  return dist;
}

// Returns the shortest S-G distance (steps) and checks the answer marks exactly one shortest path.
inline int expect_shortest_path_answer(const std::uint8_t* q, const std::uint8_t* a, int side, const std::string& what) {
  const int cells = side * side;
  int s = -1, g = -1, marked = 0;
  for (int i = 0; i < cells; ++i) {
    EXPECT_TRUE(q[i] >= 1 && q[i] <= 4) << what;
    EXPECT_TRUE(a[i] == q[i] || (q[i] == 2 && a[i] == 5)) << what << " cell " << i;
    if (q[i] == 3) s = i;
    if (q[i] == 4) g = i;
    marked += a[i] == 3 || a[i] == 4 || a[i] == 5;
  }
  EXPECT_GE(s, 0) << what;
  EXPECT_GE(g, 0) << what;
  if (s < 0 || g < 0) return -1;
  const int d = bfs_dist(q, side, s, [&](int v) { return q[v] != 1; })[static_cast<std::size_t>(g)];
  const int along = bfs_dist(a, side, s, [&](int v) { return a[v] >= 3; })[static_cast<std::size_t>(g)];
  EXPECT_GT(d, 0) << what;
  EXPECT_EQ(along, d) << what << ": marked cells do not hold a shortest path";
  EXPECT_EQ(marked, d + 1) << what << ": extra marked cells";
  return d;
}

// The canonical answer computed here: BFS down, left, right, up; first parent wins.
inline std::vector<std::uint8_t> canonical_answer(const std::uint8_t* q, int side) {
  int s = -1, g = -1;
  for (int i = 0; i < side * side; ++i) {
    if (q[i] == 3) s = i;
    if (q[i] == 4) g = i;
  }
  std::vector<int> parent;
  bfs_dist(q, side, s, [&](int v) { return q[v] != 1; }, &parent);
  std::vector<std::uint8_t> a(q, q + side * side);
  for (int v = parent[static_cast<std::size_t>(g)]; v != s && v >= 0; v = parent[static_cast<std::size_t>(v)])
    a[static_cast<std::size_t>(v)] = 5;
  return a;
}

// The real maze CSV of `split` when present, otherwise a generated stand-in with the same format
// (never skipped).
inline std::string maze_csv(const TempDir& tmp, const std::string& split) {
  const std::string real = data_dir() + "/maze-30x30-hard-1k/" + split + ".csv";
  if (std::filesystem::exists(real)) return real;
  data::Rng rng(split == "train" ? 21 : 22);
  data::MazeGenOptions g;
  const std::string path = tmp / ("generated_maze_" + split + ".csv");
  data::write_maze_csv(path, data::generate_mazes(100, g, rng));
  return path;
}

// A small dataset shaped like ARC: several puzzles per group, several examples per puzzle.
inline data::Dataset arc_like(int groups, int seq_len = 6) {
  data::SplitBuilder b(seq_len);
  std::int32_t id = 1;
  data::Rng rng(5);
  for (int g = 0; g < groups; ++g) {
    const int puzzles = 1 + g % 3;
    for (int p = 0; p < puzzles; ++p) {
      const int examples = 1 + (g + p) % 4;
      for (int e = 0; e < examples; ++e) {
        std::vector<std::uint8_t> in(static_cast<std::size_t>(seq_len)), lab(in.size());
        for (int i = 0; i < seq_len; ++i) {
          in[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(rng.below(12));
          lab[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(rng.below(12));
        }
        b.add_example(in, lab);
      }
      b.end_puzzle(id++);
    }
    b.end_group();
  }
  data::Metadata m;
  m.vocab_size = 12;
  m.num_puzzle_identifiers = id;
  return std::move(b).finish(m);
}

}  // namespace trm::test_util
