// Dataset layer: npy files, the docs/REFERENCE.md §6.1 layout, the Sudoku and Maze builders (on the real CSVs in
// $TRM_DATA_DIR, default /work/shared/data, or on generated stand-ins when those are absent),
// the generators, the samplers (including exact resume), SHA-256 and the download helper.
// Checks of puzzle validity use solvers written here, independent of the library's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "expect_error.h"
#include "temp_dir.h"
#include "trm/config.h"
#include "trm/data.h"

namespace trm::data {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Helpers

using TempDir = trm::test_util::TempDir;

std::string data_dir() {
  const char* env = std::getenv("TRM_DATA_DIR");
  return env != nullptr && *env != '\0' ? env : "/work/shared/data";
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

using test_util::expect_error;

std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  std::string h = dict;
  const std::size_t fixed = major == 1 ? 10 : 12;
  while ((fixed + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t b = 0; b < (major == 1 ? 2u : 4u); ++b) out += static_cast<char>((h.size() >> (8 * b)) & 0xFF);
  return out + h + data;
}

// --- an independent Sudoku checker and solution counter (plain loops, no bitmasks) ---

struct Geometry {
  int n, br, bc;
};

Geometry geometry(int n) { return n == 4 ? Geometry{4, 2, 2} : n == 6 ? Geometry{6, 2, 3} : Geometry{9, 3, 3}; }

bool can_place(const Geometry& g, const std::vector<int>& grid, int cell, int d) {
  const int r = cell / g.n, c = cell % g.n;
  for (int k = 0; k < g.n; ++k)
    if (grid[static_cast<std::size_t>(r * g.n + k)] == d || grid[static_cast<std::size_t>(k * g.n + c)] == d) return false;
  const int r0 = r / g.br * g.br, c0 = c / g.bc * g.bc;
  for (int i = 0; i < g.br; ++i)
    for (int j = 0; j < g.bc; ++j)
      if (grid[static_cast<std::size_t>((r0 + i) * g.n + c0 + j)] == d) return false;
  return true;
}

bool valid_solution(const Geometry& g, const std::vector<int>& grid) {
  for (int cell = 0; cell < g.n * g.n; ++cell) {
    const int d = grid[static_cast<std::size_t>(cell)];
    if (d < 1 || d > g.n) return false;
    std::vector<int> rest = grid;
    rest[static_cast<std::size_t>(cell)] = 0;
    if (!can_place(g, rest, cell, d)) return false;
  }
  return true;
}

int count_solutions(const Geometry& g, std::vector<int>& grid, int limit, std::vector<int>* first) {
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
void expect_valid_sudoku_row(int n, const std::uint8_t* input, const std::uint8_t* label, const std::string& what) {
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

std::vector<int> bfs_dist(const std::uint8_t* grid, int side, int from, const std::function<bool(int)>& ok,
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
int expect_shortest_path_answer(const std::uint8_t* q, const std::uint8_t* a, int side, const std::string& what) {
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
std::vector<std::uint8_t> canonical_answer(const std::uint8_t* q, int side) {
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

// Real CSVs when present, otherwise generated stand-ins with the same format (never skipped).
std::string sudoku_train_csv(const TempDir& tmp) {
  const std::string real = data_dir() + "/sudoku-extreme-1k/train.csv";
  if (fs::exists(real)) return real;
  Rng rng(11);
  SudokuGenOptions g;
  g.target_clues = 28;
  const std::string path = tmp / "generated_sudoku_train.csv";
  write_sudoku_csv(path, generate_sudokus(1000, g, rng), "generated");
  return path;
}

std::string maze_csv(const TempDir& tmp, const std::string& split) {
  const std::string real = data_dir() + "/maze-30x30-hard-1k/" + split + ".csv";
  if (fs::exists(real)) return real;
  Rng rng(split == "train" ? 21 : 22);
  MazeGenOptions g;
  const std::string path = tmp / ("generated_maze_" + split + ".csv");
  write_maze_csv(path, generate_mazes(100, g, rng));
  return path;
}

// A small dataset shaped like ARC: several puzzles per group, several examples per puzzle.
Dataset arc_like(int groups, int seq_len = 6) {
  SplitBuilder b(seq_len);
  std::int32_t id = 1;
  Rng rng(5);
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
  Metadata m;
  m.vocab_size = 12;
  m.num_puzzle_identifiers = id;
  return std::move(b).finish(m);
}

// Sudoku-like: `groups` groups of `per_group` puzzles with one example each; row r holds r % 7.
Dataset one_example_puzzles(int groups, int per_group, int seq_len = 4) {
  SplitBuilder b(seq_len);
  int row = 0;
  for (int g = 0; g < groups; ++g) {
    for (int p = 0; p < per_group; ++p, ++row) {
      std::vector<std::uint8_t> in(static_cast<std::size_t>(seq_len), static_cast<std::uint8_t>(row % 7 + 1));
      std::vector<std::uint8_t> lab(static_cast<std::size_t>(seq_len), static_cast<std::uint8_t>(row % 7));
      b.add_example(in, lab);
      b.end_puzzle(0);
    }
    b.end_group();
  }
  Metadata m;
  m.vocab_size = 8;
  return std::move(b).finish(m);
}

std::int64_t group_of_puzzle(const Dataset& ds, std::int64_t p) {
  return std::upper_bound(ds.group_indices.begin(), ds.group_indices.end(), p) - ds.group_indices.begin() - 1;
}

// ---------------------------------------------------------------------------------------------
// npy

TEST(Npy, RoundTripAllDtypes) {
  TempDir tmp;
  const std::vector<std::uint8_t> u8{0, 1, 2, 250, 7, 9};
  const std::vector<std::int32_t> i32{-5, 0, 7, 2147483647, -2147483647 - 1};
  const std::vector<std::int64_t> i64{1, -2, 3, 4};
  const std::vector<float> f32{0.5f, -1.25f, 3e10f};
  write_npy(tmp / "u8.npy", NpyDtype::kU8, {2, 3}, u8.data());
  write_npy(tmp / "i32.npy", NpyDtype::kI32, {5}, i32.data());
  write_npy(tmp / "i64.npy", NpyDtype::kI64, {2, 2}, i64.data());
  write_npy(tmp / "f32.npy", NpyDtype::kF32, {3}, f32.data());
  write_npy(tmp / "empty.npy", NpyDtype::kU8, {0, 81}, nullptr);

  const auto a = NpyArray::read(tmp / "u8.npy");
  EXPECT_EQ(a.dtype(), NpyDtype::kU8);
  EXPECT_EQ(a.shape(), (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(std::vector<std::uint8_t>(a.u8().begin(), a.u8().end()), u8);
  EXPECT_EQ(NpyArray::read(tmp / "i32.npy").to_int32(), i32);
  const auto b = NpyArray::read(tmp / "i64.npy");
  EXPECT_EQ(b.shape(), (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(b.to_int32(), (std::vector<std::int32_t>{1, -2, 3, 4}));
  EXPECT_EQ(NpyArray::read(tmp / "f32.npy").to_float32(), f32);
  const auto e = NpyArray::read(tmp / "empty.npy");
  EXPECT_EQ(e.shape(), (std::vector<std::int64_t>{0, 81}));
  EXPECT_EQ(e.numel(), 0);
  EXPECT_FALSE(fs::exists(tmp / "u8.npy.tmp"));

  // Byte-identical to numpy's np.save for this array: version 1.0, 64-byte aligned preamble.
  const std::string bytes = read_file(tmp / "u8.npy");
  const std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }";
  ASSERT_EQ(bytes.size(), 128u + 6u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8), 118);
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes[127], '\n');
  // 1-D shapes carry the tuple comma, as Python writes them.
  EXPECT_NE(read_file(tmp / "i32.npy").find("'shape': (5,)"), std::string::npos);
}

TEST(Npy, ReadsOtherWritersHeaders) {
  TempDir tmp;
  // Version 2.0, keys in another order, Python 2 long suffixes, no trailing comma.
  std::string data(16, '\0');
  data[0] = 7;
  data[8] = static_cast<char>(0xFF);
  for (int i = 9; i < 16; ++i) data[static_cast<std::size_t>(i)] = static_cast<char>(0xFF);  // -1 as int64
  write_file(tmp / "v2.npy", npy_bytes("{'shape': (2L,), 'fortran_order': False, 'descr': '<i8'}", data, 2));
  const auto a = NpyArray::read(tmp / "v2.npy");
  EXPECT_EQ(a.to_int32(), (std::vector<std::int32_t>{7, -1}));
  // A 1-D array is the same in either order, so fortran_order True is harmless there.
  write_file(tmp / "f1.npy", npy_bytes("{'descr': '|u1', 'fortran_order': True, 'shape': (3,), }", "abc"));
  EXPECT_EQ(NpyArray::read(tmp / "f1.npy").numel(), 3);
}

TEST(Npy, MalformedFilesNameTheFile) {
  TempDir tmp;
  const auto check = [&](const std::string& name, const std::string& bytes, const std::string& needle) {
    const std::string p = tmp / name;
    write_file(p, bytes);
    expect_error([&] { NpyArray::read(p); }, {p, needle});
  };
  check("magic.npy", "NOTNUMPY-------------", "bad magic");
  check("short.npy", "\x93NU", "bad magic");
  std::string trunc = npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", "ab");
  check("trunc.npy", trunc.substr(0, 40), "truncated");
  check("dtype.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')),
        "unsupported dtype '<f8'");
  check("fortran.npy", npy_bytes("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2), }", "abcd"),
        "fortran_order");
  check("bigend.npy", npy_bytes("{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }", "abcd"), "big-endian");
  check("size_small.npy", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", "abcd"),
        "does not match shape (3,)");
  check("size_large.npy", npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", "ab"),
        "does not match shape (1,)");
  check("nokey.npy", npy_bytes("{'descr': '|u1', 'shape': (1,), }", "a"), "missing key 'fortran_order'");
  check("garbage.npy", npy_bytes("{'descr': '|u1', 'fortran_order': Maybe, 'shape': (1,), }", "a"),
        "malformed .npy header");
  check("version.npy", std::string("\x93NUMPY\x09\x00\x10\x00", 10) + std::string(16, ' '), "version 9");
  expect_error([&] { NpyArray::read(tmp / "missing.npy"); }, {tmp / "missing.npy", "cannot open"});

  // Wrong dtype for the use: int32 data asked for as uint8 tokens, and an int64 out of int32 range.
  const std::int32_t ints[2] = {1, 2};
  write_npy(tmp / "ints.npy", NpyDtype::kI32, {2}, ints);
  expect_error([&] { NpyArray::read(tmp / "ints.npy").u8(); }, {tmp / "ints.npy", "expected |u1"});
  const std::int64_t big[1] = {std::int64_t{1} << 40};
  write_npy(tmp / "big.npy", NpyDtype::kI64, {1}, big);
  expect_error([&] { NpyArray::read(tmp / "big.npy").to_int32(); }, {tmp / "big.npy", "does not fit in int32"});
}

// ---------------------------------------------------------------------------------------------
// Layout

TEST(Layout, RoundTripAndIdentifiers) {
  TempDir tmp;
  const Dataset ds = arc_like(7);
  EXPECT_EQ(ds.meta.total_groups, 7);
  EXPECT_EQ(ds.meta.total_puzzles, ds.num_puzzles());
  EXPECT_DOUBLE_EQ(ds.meta.mean_puzzle_examples, static_cast<double>(ds.num_examples) / ds.num_puzzles());
  write_split(ds, tmp.str(), "train");
  std::vector<std::string> names{"<blank>"};
  for (int i = 1; i < ds.meta.num_puzzle_identifiers; ++i) names.push_back(std::to_string(i) + "p");
  write_identifiers(tmp.str(), names);

  const Dataset back = read_split(tmp.str(), "train");
  EXPECT_EQ(back.num_examples, ds.num_examples);
  EXPECT_TRUE(std::equal(back.inputs.begin(), back.inputs.end(), ds.inputs.begin(), ds.inputs.end()));
  EXPECT_TRUE(std::equal(back.labels.begin(), back.labels.end(), ds.labels.begin(), ds.labels.end()));
  EXPECT_EQ(back.puzzle_identifiers, ds.puzzle_identifiers);
  EXPECT_EQ(back.puzzle_indices, ds.puzzle_indices);
  EXPECT_EQ(back.group_indices, ds.group_indices);
  EXPECT_EQ(metadata_to_json(back.meta), metadata_to_json(ds.meta));
  EXPECT_EQ(read_identifiers(tmp.str()), names);

  // The arrays have the reference's dtypes and shapes.
  const std::string dir = tmp / "train";
  EXPECT_EQ(NpyArray::read(dir + "/all__inputs.npy").dtype(), NpyDtype::kU8);
  EXPECT_EQ(NpyArray::read(dir + "/all__labels.npy").shape(), (std::vector<std::int64_t>{ds.num_examples, 6}));
  EXPECT_EQ(NpyArray::read(dir + "/all__puzzle_identifiers.npy").dtype(), NpyDtype::kI32);
  EXPECT_EQ(NpyArray::read(dir + "/all__puzzle_indices.npy").shape(), (std::vector<std::int64_t>{ds.num_puzzles() + 1}));
  EXPECT_EQ(NpyArray::read(dir + "/all__group_indices.npy").shape(), (std::vector<std::int64_t>{8}));
  const auto j = nlohmann::json::parse(read_file(dir + "/dataset.json"));
  std::set<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  EXPECT_EQ(keys, (std::set<std::string>{"pad_id", "ignore_label_id", "blank_identifier_id", "vocab_size", "seq_len",
                                         "num_puzzle_identifiers", "total_groups", "mean_puzzle_examples",
                                         "total_puzzles", "sets"}));
  EXPECT_EQ(j["sets"], nlohmann::json::array({"all"}));

  // HRM's builders do not write total_puzzles; such files still read.
  auto hrm = j;
  hrm.erase("total_puzzles");
  write_file(dir + "/dataset.json", hrm.dump());
  EXPECT_EQ(read_split(tmp.str(), "train").meta.total_puzzles, ds.num_puzzles());
}

TEST(Layout, CorruptedFilesAreReportedByName) {
  TempDir tmp;
  const Dataset ds = arc_like(5);
  const std::string root = tmp.str(), dir = tmp / "train";
  const std::string meta_path = dir + "/dataset.json";
  auto reset = [&] { write_split(ds, root, "train"); };
  auto read = [&] { read_split(root, "train"); };
  reset();
  const auto good = nlohmann::json::parse(read_file(meta_path));

  expect_error([&] { read_split(root, "test"); }, {root + "/test/dataset.json", "cannot open"});
  write_file(meta_path, "{\"pad_id\": 0,");
  expect_error(read, {meta_path, "invalid JSON"});
  auto edit = [&](const std::function<void(nlohmann::json&)>& f) {
    auto j = good;
    f(j);
    write_file(meta_path, j.dump());
  };
  edit([](auto& j) { j.erase("seq_len"); });
  expect_error(read, {meta_path, "missing field \"seq_len\""});
  edit([](auto& j) { j["vocab_size"] = "12"; });
  expect_error(read, {meta_path, "vocab_size", "integer"});
  edit([](auto& j) { j["total_groups"] = 4; });
  expect_error(read, {meta_path, "total_groups is 4"});
  edit([](auto& j) { j["mean_puzzle_examples"] = 1.0; });
  expect_error(read, {meta_path, "mean_puzzle_examples"});
  edit([](auto& j) { j["sets"] = {"other"}; });
  expect_error(read, {meta_path, "set \"all\" is not listed"});
  edit([](auto& j) { j["seq_len"] = 7; });
  expect_error(read, {dir + "/all__inputs.npy", "expected (N, 7)"});
  edit([](auto& j) { j["vocab_size"] = 5; });
  expect_error(read, {dir + "/all__inputs.npy", "vocab_size is 5"});
  edit([](auto& j) { j["num_puzzle_identifiers"] = 3; });
  expect_error(read, {dir + "/all__puzzle_identifiers.npy", "outside [0, num_puzzle_identifiers = 3)"});
  reset();

  auto rewrite_ints = [&](const std::string& name, std::vector<std::int32_t> v) {
    write_npy(dir + "/" + name, NpyDtype::kI32, {static_cast<std::int64_t>(v.size())}, v.data());
  };
  auto pi = ds.puzzle_indices;
  std::swap(pi[2], pi[3]);
  rewrite_ints("all__puzzle_indices.npy", pi);
  expect_error(read, {dir + "/all__puzzle_indices.npy", "non-decreasing"});
  pi = ds.puzzle_indices;
  pi.back() += 1;
  rewrite_ints("all__puzzle_indices.npy", pi);
  expect_error(read, {dir + "/all__puzzle_indices.npy", "last entry"});
  pi.pop_back();
  rewrite_ints("all__puzzle_indices.npy", pi);
  expect_error(read, {dir + "/all__puzzle_indices.npy", "entries, expected"});
  reset();
  auto gi = ds.group_indices;
  gi.insert(gi.begin() + 2, gi[1]);  // an empty group
  rewrite_ints("all__group_indices.npy", gi);
  expect_error(read, {dir + "/all__group_indices.npy", "strictly increasing"});
  gi = ds.group_indices;
  gi[0] = 1;
  rewrite_ints("all__group_indices.npy", gi);
  expect_error(read, {dir + "/all__group_indices.npy", "first entry"});
  reset();
  std::vector<std::uint8_t> wide(static_cast<std::size_t>(ds.num_examples) * 5, 1);
  write_npy(dir + "/all__labels.npy", NpyDtype::kU8, {ds.num_examples, 5}, wide.data());
  expect_error(read, {dir + "/all__labels.npy", "shape"});
  std::vector<std::int32_t> as_int(ds.inputs.begin(), ds.inputs.end());
  write_npy(dir + "/all__inputs.npy", NpyDtype::kI32, {ds.num_examples, 6}, as_int.data());
  expect_error(read, {dir + "/all__inputs.npy", "expected |u1"});
  reset();
  std::vector<std::uint8_t> bad(ds.labels.begin(), ds.labels.end());
  bad[13] = 200;
  write_npy(dir + "/all__labels.npy", NpyDtype::kU8, {ds.num_examples, 6}, bad.data());
  expect_error(read, {dir + "/all__labels.npy", "row 2, position 1 holds token 200"});
  fs::remove(dir + "/all__group_indices.npy");
  expect_error(read, {dir + "/all__group_indices.npy", "cannot open"});

  write_file(tmp / "identifiers.json", "[\"x\"]");
  expect_error([&] { read_identifiers(root); }, {tmp / "identifiers.json", "<blank>"});
}

// ---------------------------------------------------------------------------------------------
// Sudoku

const char* kQ1 = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79";
const char* kA1 = "534678912672195348198342567859761423426853791713924856961537284287419635345286179";

std::string tiny_sudoku_csv(const TempDir& tmp) {
  // CRLF like the released file, '0' as an alternative blank in one row.
  std::string q2 = kQ1;
  std::replace(q2.begin(), q2.begin() + 40, '.', '0');
  const std::string text = std::string("source,question,answer,rating\r\n") + "a," + kQ1 + "," + kA1 + ",3\r\n" +
                           "b," + q2 + "," + kA1 + ",0\r\n" + "c," + std::string(kA1).substr(0, 80) + ".," + kA1 +
                           ",12\r\n";
  const std::string path = tmp / "tiny.csv";
  write_file(path, text);
  return path;
}

TEST(Sudoku, BuilderOnSmallCsv) {
  TempDir tmp;
  const std::string csv = tiny_sudoku_csv(tmp);
  const SudokuSet set = read_sudoku_csv(csv);
  ASSERT_EQ(set.size(), 3);
  EXPECT_EQ(set.shape.n, 9);
  EXPECT_EQ(set.question(0)[0], 5);
  EXPECT_EQ(set.question(0)[2], 0);
  EXPECT_EQ(std::vector<std::uint8_t>(set.question(0), set.question(0) + 81),
            std::vector<std::uint8_t>(set.question(1), set.question(1) + 81));
  EXPECT_EQ(read_sudoku_csv(csv, 3).size(), 2);  // min_difficulty keeps ratings >= 3

  SudokuBuildOptions opt;
  opt.num_aug = 5;
  opt.seed = 3;
  build_sudoku_dataset(csv, csv, tmp / "out", opt);
  const Dataset tr = read_split(tmp / "out", "train");
  const Dataset te = read_split(tmp / "out", "test");
  EXPECT_EQ(read_identifiers(tmp / "out"), std::vector<std::string>{"<blank>"});
  EXPECT_EQ(tr.meta.vocab_size, 11);
  EXPECT_EQ(tr.meta.seq_len, 81);
  EXPECT_EQ(tr.meta.num_puzzle_identifiers, 1);
  EXPECT_EQ(tr.num_examples, 18);
  EXPECT_EQ(tr.group_indices, (std::vector<std::int32_t>{0, 6, 12, 18}));
  std::vector<std::int32_t> every(19);
  for (int i = 0; i <= 18; ++i) every[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(tr.puzzle_indices, every);
  EXPECT_EQ(tr.puzzle_identifiers, std::vector<std::int32_t>(18, 0));
  EXPECT_EQ(te.num_examples, 3);  // no augmentation in test
  EXPECT_EQ(te.group_indices, (std::vector<std::int32_t>{0, 1, 2, 3}));
  // Token map on the unaugmented row: blank 1, digit d -> d + 1.
  for (int c = 0; c < 81; ++c) {
    EXPECT_EQ(tr.input_row(0)[c], kQ1[c] == '.' ? 1 : kQ1[c] - '0' + 1);
    EXPECT_EQ(tr.label_row(0)[c], kA1[c] - '0' + 1);
  }
  for (std::int64_t r = 0; r < tr.num_examples; ++r)
    expect_valid_sudoku_row(9, tr.input_row(r), tr.label_row(r), "row " + std::to_string(r));
  // Augmentations keep the number of givens and are not the original.
  for (int r = 1; r < 6; ++r) {
    EXPECT_EQ(std::count(tr.input_row(r), tr.input_row(r) + 81, 1), std::count(tr.input_row(0), tr.input_row(0) + 81, 1));
    EXPECT_FALSE(std::equal(tr.input_row(r), tr.input_row(r) + 81, tr.input_row(0)));
  }
}

TEST(Sudoku, TransformFollowsTheSpecFormula) {
  const SudokuShape s = SudokuShape::for_size(9);
  std::vector<std::uint8_t> in(81);
  for (int i = 0; i < 81; ++i) in[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i % 10);
  SudokuTransform t;
  t.transpose = true;
  t.row_perm = {5, 3, 4, 8, 6, 7, 1, 2, 0};
  t.col_perm = {2, 1, 0, 6, 7, 8, 4, 3, 5};
  t.digit_map = {0, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  std::vector<std::uint8_t> out(81);
  t.apply(s, in.data(), out.data());
  for (int i = 0; i < 81; ++i) {
    // transpose first, then new[i] = old'[row_perm[i/9]*9 + col_perm[i%9]], then the digit map
    const int r = t.row_perm[static_cast<std::size_t>(i / 9)], c = t.col_perm[static_cast<std::size_t>(i % 9)];
    EXPECT_EQ(out[static_cast<std::size_t>(i)], t.digit_map[in[static_cast<std::size_t>(c * 9 + r)]]);
  }
  // Random transforms: digit 0 stays blank, bands are permuted as blocks, 6x6 never transposes.
  Rng rng(1);
  int transposed = 0;
  for (int k = 0; k < 400; ++k) {
    const auto r = SudokuTransform::random(s, rng);
    EXPECT_EQ(r.digit_map[0], 0);
    for (int i = 0; i < 9; ++i) EXPECT_EQ(r.row_perm[static_cast<std::size_t>(i)] / 3, r.row_perm[static_cast<std::size_t>(i / 3 * 3)] / 3);
    transposed += r.transpose;
    EXPECT_FALSE(SudokuTransform::random(SudokuShape::for_size(6), rng).transpose);
  }
  EXPECT_GT(transposed, 150);
  EXPECT_LT(transposed, 250);
}

TEST(Sudoku, BadCsvRowsNameFileAndLine) {
  TempDir tmp;
  const std::string header = "source,question,answer,rating\n";
  auto check = [&](const std::string& name, const std::string& body, const std::vector<std::string>& needles) {
    const std::string p = tmp / name;
    write_file(p, body);
    auto n = needles;
    n.push_back(p);
    expect_error([&] { read_sudoku_csv(p); }, n);
  };
  const std::string good = std::string(",") + kQ1 + "," + kA1 + ",1\n";
  check("len.csv", header + good + ",123," + kA1 + ",1\n", {":3:", "characters"});
  check("size.csv", header + ",1234567,1234567,1\n", {":2:", "16, 36 or 81"});
  std::string q = kQ1;
  q[3] = 'x';
  check("char.csv", header + "," + q + "," + kA1 + ",1\n", {":2:", "'x' at position 3"});
  std::string a = kA1;
  std::swap(a[0], a[1]);
  check("rule.csv", header + "," + std::string(81, '.') + "," + a + ",1\n", {":2:", "constraint"});
  std::string a2 = kA1;  // a valid grid that contradicts the first given: relabel digits 5 <-> 3
  for (auto& ch : a2) ch = ch == '5' ? '3' : ch == '3' ? '5' : ch;
  check("given.csv", header + "," + kQ1 + "," + a2 + ",1\n", {":2:", "changes a given"});
  check("header.csv", "question,answer\n" + good, {":1:", "header"});
  check("fields.csv", header + ",a,b\n", {":2:", "3 fields, expected 4"});
  check("empty.csv", header, {"no puzzles"});
  const std::string p = tmp / "rating.csv";
  write_file(p, header + std::string(",") + kQ1 + "," + kA1 + ",\n");
  expect_error([&] { read_sudoku_csv(p, 5); }, {p + ":2:", "rating"});
}

TEST(Sudoku, RealTrainSetAugmentsValidly) {
  TempDir tmp;
  const std::string csv = sudoku_train_csv(tmp);
  const SudokuSet all = read_sudoku_csv(csv);
  ASSERT_EQ(all.size(), 1000);
  Rng rng(9);
  const Dataset ds = build_sudoku_split(all, 2, rng);
  ASSERT_EQ(ds.num_examples, 3000);
  EXPECT_EQ(ds.num_groups(), 1000);
  EXPECT_EQ(ds.meta.vocab_size, 11);
  for (std::int64_t r = 0; r < ds.num_examples; ++r) {
    expect_valid_sudoku_row(9, ds.input_row(r), ds.label_row(r), csv + " row " + std::to_string(r));
    if (testing::Test::HasFatalFailure()) return;
  }
  // Row 3g is the g-th CSV puzzle unchanged.
  for (std::int64_t g = 0; g < 1000; g += 97)
    for (int c = 0; c < 81; ++c) ASSERT_EQ(ds.input_row(3 * g)[c], all.question(g)[c] + 1);
}

TEST(Sudoku, SubsampleIsSeededAndThousandAugmentationsFormGroups) {
  TempDir tmp;
  const std::string csv = sudoku_train_csv(tmp);
  auto build = [&](std::uint64_t seed, const std::string& out) {
    SudokuBuildOptions opt;
    opt.subsample_size = 50;
    opt.num_aug = 2;
    opt.seed = seed;
    return build_sudoku_dataset(csv, csv, tmp / out, opt);
  };
  const auto a = build(4, "a"), b = build(4, "b"), c = build(5, "c");
  EXPECT_EQ(a.train.num_examples, 150);
  EXPECT_EQ(a.test.num_examples, 1000);  // the subsample applies to train only
  EXPECT_EQ(read_file(tmp / "a/train/all__inputs.npy"), read_file(tmp / "b/train/all__inputs.npy"));
  EXPECT_EQ(read_file(tmp / "a/train/all__labels.npy"), read_file(tmp / "b/train/all__labels.npy"));
  EXPECT_NE(read_file(tmp / "a/train/all__inputs.npy"), read_file(tmp / "c/train/all__inputs.npy"));

  const SudokuSet ten = read_sudoku_csv(csv).select({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  Rng rng(2);
  const Dataset ds = build_sudoku_split(ten, 1000, rng);
  ASSERT_EQ(ds.num_groups(), 10);
  ASSERT_EQ(ds.num_puzzles(), 10 * 1001);
  for (int g = 0; g <= 10; ++g) EXPECT_EQ(ds.group_indices[static_cast<std::size_t>(g)], 1001 * g);
  for (std::int64_t r = 0; r < ds.num_examples; ++r) {
    expect_valid_sudoku_row(9, ds.input_row(r), ds.label_row(r), "aug row " + std::to_string(r));
    if (testing::Test::HasFatalFailure()) return;
  }
  std::set<std::string> distinct;
  for (std::int64_t r = 0; r < 1001; ++r) distinct.emplace(ds.input_row(r), ds.input_row(r) + 81);
  EXPECT_GT(distinct.size(), 995u);
}

TEST(Sudoku, SmallBoardsShareTheCodePath) {
  for (int n : {4, 6}) {
    Rng rng(static_cast<std::uint64_t>(n));
    SudokuGenOptions g;
    g.n = n;
    const SudokuSet set = generate_sudokus(20, g, rng);
    const Dataset ds = build_sudoku_split(set, 30, rng);
    EXPECT_EQ(ds.meta.vocab_size, n + 2);
    EXPECT_EQ(ds.meta.seq_len, n * n);
    EXPECT_EQ(ds.num_examples, 20 * 31);
    for (std::int64_t r = 0; r < ds.num_examples; ++r) {
      expect_valid_sudoku_row(n, ds.input_row(r), ds.label_row(r), std::to_string(n) + "x" + std::to_string(n));
      if (testing::Test::HasFatalFailure()) return;
    }
    TempDir tmp;
    write_sudoku_csv(tmp / "s.csv", set);
    const SudokuSet back = read_sudoku_csv(tmp / "s.csv");
    EXPECT_EQ(back.shape.n, n);
    EXPECT_EQ(back.questions, set.questions);
    EXPECT_EQ(back.answers, set.answers);
  }
  expect_error([] { SudokuShape::for_size(5); }, {"5x5"});
}

// ---------------------------------------------------------------------------------------------
// Maze

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
  const std::string p = tmp / "ok.csv";
  write_file(p, header + ", S G, SoG,3\r\n");  // leading spaces and CRLF
  const MazeSet s = read_maze_csv(p);
  EXPECT_EQ(s.side, 2);
  EXPECT_EQ(maze_to_string(s.question(0), 4), " S G");
  EXPECT_EQ(maze_to_string(s.answer(0), 4), " SoG");
}

// ---------------------------------------------------------------------------------------------
// Generators

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

// ---------------------------------------------------------------------------------------------
// Sampler

TEST(Sampler, EpochVisitsEveryGroupOnceAndDropsTheLastBatch) {
  const Dataset ds = one_example_puzzles(105, 3);
  TrainSamplerOptions opt;
  opt.batch_size = 10;
  opt.seed = 7;
  TrainSampler sampler(ds, opt);
  Batch b;
  std::map<std::int64_t, int> visits;
  int batches = 0;
  while (sampler.next(b)) {
    ++batches;
    ASSERT_EQ(b.size, 10);
    ASSERT_EQ(b.real, 10);
    ASSERT_EQ(b.inputs.size(), 40u);
    ASSERT_EQ(b.labels.size(), 40u);
    ASSERT_EQ(b.puzzle_identifiers.size(), 10u);
    for (int s = 0; s < 10; ++s) {
      const std::int64_t row = b.rows[static_cast<std::size_t>(s)];
      ++visits[group_of_puzzle(ds, b.puzzles[static_cast<std::size_t>(s)])];
      EXPECT_EQ(ds.puzzle_indices[static_cast<std::size_t>(b.puzzles[static_cast<std::size_t>(s)])], row);
      for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(b.inputs[static_cast<std::size_t>(s * 4 + i)], row % 7 + 1);
        EXPECT_EQ(b.labels[static_cast<std::size_t>(s * 4 + i)], row % 7 == 0 ? kIgnoreLabel : row % 7);
      }
    }
  }
  EXPECT_EQ(batches, 10);  // 105 groups: 10 full batches, the last 5 dropped
  EXPECT_EQ(visits.size(), 100u);
  for (const auto& [g, n] : visits) EXPECT_EQ(n, 1) << "group " << g;
  EXPECT_EQ(sampler.pass(), 1);
  EXPECT_TRUE(sampler.next(b));  // the next call starts pass 2
  EXPECT_EQ(sampler.pass(), 1);

  // Several epochs per pass: one drop at the end of the pass, each group 3 times.
  opt.epochs_per_pass = 3;
  TrainSampler multi(ds, opt);
  std::map<std::int64_t, int> per_group;
  batches = 0;
  while (multi.next(b)) {
    ++batches;
    for (auto p : b.puzzles) ++per_group[group_of_puzzle(ds, p)];
  }
  EXPECT_EQ(batches, 31);  // floor(3 * 105 / 10)
  for (const auto& [g, n] : per_group) EXPECT_LE(n, 3);

  // Puzzles are drawn at random within a group; labels map only when ignore_label_id is set.
  Dataset no_ignore = ds;
  no_ignore.meta.ignore_label_id.reset();
  TrainSampler raw(no_ignore, {10, 7, 1});
  ASSERT_TRUE(raw.next(b));
  EXPECT_EQ(std::count(b.labels.begin(), b.labels.end(), kIgnoreLabel), 0);
  std::set<std::int64_t> offsets;
  TrainSampler many(ds, {10, 1, 50});
  while (many.next(b))
    for (auto p : b.puzzles) offsets.insert(p - ds.group_indices[static_cast<std::size_t>(group_of_puzzle(ds, p))]);
  EXPECT_EQ(offsets, (std::set<std::int64_t>{0, 1, 2}));
}

TEST(Sampler, MultiExamplePuzzlesFillBatchesWithoutReplacement) {
  const Dataset ds = arc_like(40);
  TrainSampler s(ds, {16, 3, 2});
  Batch b;
  int batches = 0;
  while (s.next(b)) {
    ++batches;
    std::set<std::int64_t> rows(b.rows.begin(), b.rows.end());
    EXPECT_EQ(rows.size(), 16u);  // no example twice
    for (int slot = 0; slot < 16; ++slot) {
      const auto p = b.puzzles[static_cast<std::size_t>(slot)];
      const auto row = b.rows[static_cast<std::size_t>(slot)];
      EXPECT_GE(row, ds.puzzle_indices[static_cast<std::size_t>(p)]);
      EXPECT_LT(row, ds.puzzle_indices[static_cast<std::size_t>(p) + 1]);
      EXPECT_EQ(b.puzzle_identifiers[static_cast<std::size_t>(slot)], ds.puzzle_identifiers[static_cast<std::size_t>(p)]);
    }
  }
  EXPECT_GT(batches, 3);
  expect_error([&] { TrainSampler(ds, {100000, 0, 1}); }, {"fewer than one batch"});
}

TEST(Sampler, TestBatchesPadTheLastChunk) {
  SplitBuilder builder(3);
  const std::uint8_t row[3] = {4, 5, 6}, lab[3] = {0, 2, 3};
  const int sizes[] = {4, 0, 9, 12};  // puzzle 1 is empty: its id must never appear
  for (int p = 0; p < 4; ++p) {
    for (int e = 0; e < sizes[p]; ++e) builder.add_example(row, lab);
    builder.end_puzzle(p + 1);
  }
  builder.end_group();
  Metadata m;
  m.vocab_size = 7;
  m.num_puzzle_identifiers = 5;
  const Dataset ds = std::move(builder).finish(m);
  TestBatches tb(ds, 10);
  EXPECT_EQ(tb.num_batches(), 3);
  Batch b;
  std::vector<int> reals;
  std::vector<std::int32_t> ids;
  while (tb.next(b)) {
    reals.push_back(b.real);
    for (int s = 0; s < b.size; ++s) {
      const auto id = b.puzzle_identifiers[static_cast<std::size_t>(s)];
      if (s < b.real) {
        ids.push_back(id);
        EXPECT_EQ(b.inputs[static_cast<std::size_t>(s * 3)], 4);
        EXPECT_EQ(b.labels[static_cast<std::size_t>(s * 3)], kIgnoreLabel);
        EXPECT_EQ(b.labels[static_cast<std::size_t>(s * 3 + 1)], 2);
      } else {
        EXPECT_EQ(id, 0);
        EXPECT_EQ(b.rows[static_cast<std::size_t>(s)], -1);
        for (int i = 0; i < 3; ++i) {
          EXPECT_EQ(b.inputs[static_cast<std::size_t>(s * 3 + i)], 0);
          EXPECT_EQ(b.labels[static_cast<std::size_t>(s * 3 + i)], kIgnoreLabel);
        }
      }
    }
  }
  EXPECT_EQ(reals, (std::vector<int>{10, 10, 5}));
  std::vector<std::int32_t> want;
  for (int p = 0; p < 4; ++p) want.insert(want.end(), static_cast<std::size_t>(sizes[p]), p + 1);
  EXPECT_EQ(ids, want);
  tb.reset();
  EXPECT_TRUE(tb.next(b));
  EXPECT_EQ(b.rows[0], 0);
}

TEST(Sampler, ResumesExactly) {
  const Dataset ds = arc_like(30);
  const TrainSamplerOptions opt{8, 12345, 2};
  auto same = [](const Batch& a, const Batch& b) {
    return a.inputs == b.inputs && a.labels == b.labels && a.puzzle_identifiers == b.puzzle_identifiers && a.rows == b.rows;
  };
  // Reference run: 3 passes without interruption.
  std::vector<Batch> ref;
  std::vector<std::size_t> pass_ends;
  {
    TrainSampler s(ds, opt);
    Batch b;
    for (int pass = 0; pass < 3; ++pass) {
      while (s.next(b)) ref.push_back(b);
      pass_ends.push_back(ref.size());
    }
  }
  ASSERT_GT(pass_ends[0], 5u);
  // Interrupt after k batches (mid-pass, and exactly at a pass end), resume in a fresh sampler.
  for (std::size_t k : {std::size_t{0}, std::size_t{3}, pass_ends[0], pass_ends[0] + 1, pass_ends[1] - 1}) {
    TrainSampler first(ds, opt);
    Batch b;
    std::size_t produced = 0, at = 0;
    while (produced < k) {
      if (first.next(b)) {
        ASSERT_TRUE(same(b, ref[at++]));
        ++produced;
      }
    }
    const std::string saved = first.state().dump();
    TrainSampler resumed(ds, opt);
    resumed.restore(nlohmann::json::parse(saved));
    while (at < ref.size()) {
      if (resumed.next(b)) {
        ASSERT_TRUE(same(b, ref[at])) << "k = " << k << ", batch " << at;
        ++at;
      }
      if (resumed.pass() >= 3) break;
    }
    EXPECT_EQ(at, ref.size()) << "k = " << k;
  }
  // States from other settings or other data are refused.
  TrainSampler s(ds, opt);
  const auto st = s.state();
  TrainSampler other_batch(ds, {16, 12345, 2});
  expect_error([&] { other_batch.restore(st); }, {"batch_size"});
  const Dataset smaller = arc_like(29);
  TrainSampler other_data(smaller, opt);
  expect_error([&] { other_data.restore(st); }, {"num_groups"});
  TrainSampler other_seed(ds, {8, 1, 2});
  expect_error([&] { other_seed.restore(st); }, {"seed"});
  auto broken = st;
  broken.erase("position");
  expect_error([&] { s.restore(broken); }, {"malformed"});
  broken = st;
  broken["in_pass"] = true;
  broken["rng"] = {"0000000000000000", "0000000000000000", "0000000000000000", "0000000000000000"};
  expect_error([&] { s.restore(broken); }, {"all zero"});
  expect_error([&] { s.restore(nlohmann::json::array()); }, {"not a training sampler state"});
}

// ---------------------------------------------------------------------------------------------
// SHA-256 and download

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  EXPECT_EQ(sha256_hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  Sha256 h;  // odd-sized pieces agree with one call
  for (std::size_t i = 0; i < million.size();) {
    const std::size_t n = std::min<std::size_t>(1 + i % 131, million.size() - i);
    h.update(million.data() + i, n);
    i += n;
  }
  EXPECT_EQ(h.finish_hex(), sha256_hex(million));

  const std::string maze = data_dir() + "/maze-30x30-hard-1k/train.csv";
  if (fs::exists(maze)) {
    EXPECT_EQ(sha256_file_hex(maze), "25f9e39b5aee16967da41ba63b2d1d75cf608c2360d8a1419d827f9859dbafa0");
  } else {
    TempDir tmp;
    const std::string gen = maze_csv(tmp, "train");
    EXPECT_EQ(sha256_file_hex(gen), sha256_hex(read_file(gen)));
  }
  expect_error([] { sha256_file_hex("/nonexistent/file.csv"); }, {"/nonexistent/file.csv"});
}

TEST(Download, FailuresAreClearAndVerifiedFilesLand) {
  TempDir tmp;
  // Nothing listens on port 1: curl fails at once (connection refused is not retried).
  const std::string url = "http://127.0.0.1:1/datasets/sapientinc/x/resolve/main/train.csv";
  expect_error([&] { download_file(url, tmp / "train.csv"); }, {url, "--data"});
  EXPECT_FALSE(fs::exists(tmp / "train.csv"));
  EXPECT_FALSE(fs::exists(tmp / "train.csv.part"));
  expect_error([] { remote_dataset_files("imagenet"); }, {"imagenet", "maze-30x30-hard-1k"});
  EXPECT_EQ(remote_file_url("https://huggingface.co", "maze-30x30-hard-1k", "test.csv"),
            "https://huggingface.co/datasets/sapientinc/maze-30x30-hard-1k/resolve/main/test.csv");

  // A file:// mirror stands in for the network: hashes are checked before the rename.
  const std::string mirror = tmp / "mirror";
  const std::string repo = mirror + "/datasets/sapientinc/sudoku-extreme-1k/resolve/main";
  fs::create_directories(repo);
  write_file(repo + "/train.csv", std::string("source,question,answer,rating\n,") + kQ1 + "," + kA1 + ",1\n");
  fs::copy_file(repo + "/train.csv", repo + "/test_hard.csv");
  const auto paths = download_dataset(tmp / "dl", "sudoku-extreme-1k", "file://" + mirror);
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(read_sudoku_csv(paths[0]).size(), 1);
  const std::string good_sha = sha256_file_hex(repo + "/train.csv");
  download_file("file://" + repo + "/train.csv", tmp / "ok.csv", good_sha);
  EXPECT_EQ(read_file(tmp / "ok.csv"), read_file(repo + "/train.csv"));
  expect_error([&] { download_file("file://" + repo + "/train.csv", tmp / "bad.csv", std::string(64, '0')); },
               {"sha256", good_sha});
  EXPECT_FALSE(fs::exists(tmp / "bad.csv"));
  EXPECT_FALSE(fs::exists(tmp / "bad.csv.part"));

  const std::string real = data_dir() + "/maze-30x30-hard-1k";
  if (fs::exists(real + "/train.csv") && fs::exists(real + "/test.csv")) {
    const std::string mrepo = mirror + "/datasets/sapientinc/maze-30x30-hard-1k/resolve/main";
    fs::create_directories(mrepo);
    fs::copy_file(real + "/train.csv", mrepo + "/train.csv");
    fs::copy_file(real + "/test.csv", mrepo + "/test.csv");
    EXPECT_EQ(download_dataset(tmp / "dl", "maze-30x30-hard-1k", "file://" + mirror).size(), 2u);
    // A corrupted mirror copy is refused, and the good file already in place is kept.
    write_file(mrepo + "/test.csv", "corrupted");
    fs::remove(tmp / "dl/maze-30x30-hard-1k/train.csv");
    write_file(mrepo + "/train.csv", "corrupted");
    expect_error([&] { download_dataset(tmp / "dl", "maze-30x30-hard-1k", "file://" + mirror); },
                 {"25f9e39b5aee16967da41ba63b2d1d75cf608c2360d8a1419d827f9859dbafa0"});
    EXPECT_TRUE(fs::exists(tmp / "dl/maze-30x30-hard-1k/test.csv"));
  }
}

TEST(Rng, StateRoundTripAndUniformity) {
  Rng a(42, 3);
  for (int i = 0; i < 10; ++i) a.next();
  Rng b;
  b.set_state(a.state(), "test");
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.next(), b.next());
  EXPECT_FALSE(Rng(1, 0) == Rng(1, 1));
  EXPECT_FALSE(Rng(1, 0) == Rng(2, 0));
  int counts[6] = {};
  for (int i = 0; i < 60000; ++i) ++counts[a.below(6)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
  const auto pick = a.choose(100, 30);
  EXPECT_EQ(std::set<std::int64_t>(pick.begin(), pick.end()).size(), 30u);
  expect_error([&] { b.set_state(nlohmann::json::array({"zz"}), "ctx"); }, {"ctx"});
}

}  // namespace
}  // namespace trm::data
