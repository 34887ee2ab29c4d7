// ARC: task reading, the dataset builder (docs/REFERENCE.md §6.4), the evaluator's crop/de-augmentation/voting/pass@k
// (§7.2), and test-time training of new puzzle rows with a frozen network.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "expect_error.h"
#include "model_util.h"
#include "temp_dir.h"
#include "trm/arc/eval.h"
#include "trm/arc/solve.h"
#include "trm/model/config.h"
#include "trm/data/arc.h"
#include "trm/data/dihedral.h"
#include "trm/data/rng.h"

using namespace trm;
using namespace trm::data;
using nlohmann::json;
using trm::test_util::TempDir;

namespace {

void write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

ArcGrid grid(std::vector<std::vector<int>> rows) {
  ArcGrid g;
  g.rows = static_cast<int>(rows.size());
  g.cols = static_cast<int>(rows[0].size());
  for (auto& r : rows)
    for (int v : r) g.cells.push_back(static_cast<std::uint8_t>(v));
  return g;
}

using test_util::expect_error;

// Two training tasks and two evaluation tasks in the combined layout. Each uses several colours so
// that augmentations are plentiful; the evaluation solutions are unique grids (colour 7 columns)
// so a test can look for them in the train split.
void write_combined(const std::string& dir) {
  const json training = {
      {"tr_a", {{"train", {{{"input", {{1, 2}, {0, 3}}}, {"output", {{3, 0}, {2, 1}}}},
                           {{"input", {{4, 4, 1}}}, {"output", {{1, 4, 4}}}}}},
                {"test", {{{"input", {{5, 6}}}}}}}},
      {"tr_b", {{"train", {{{"input", {{1, 0, 0}, {0, 2, 0}}}, {"output", {{2}}}}}},
                {"test", {{{"input", {{3, 3}, {0, 4}}}}}}}}};
  const json training_sol = {{"tr_a", {{{6, 5}}}}, {"tr_b", {{{4}}}}};
  const json evaluation = {
      {"ev_a", {{"train", {{{"input", {{1, 2, 3}}}, {"output", {{3, 2, 1}}}}, {{"input", {{4, 5}}}, {"output", {{5, 4}}}}}},
                {"test", {{{"input", {{6, 8, 9}}}}}}}},
      {"ev_b", {{"train", {{{"input", {{2, 0}, {0, 1}}}, {"output", {{1, 0}, {0, 2}}}}}},
                {"test", {{{"input", {{3, 0}}}}, {{"input", {{0, 4}}}}}}}}};
  const json evaluation_sol = {{"ev_a", {{{7, 7, 7}, {9, 8, 6}}}}, {"ev_b", {{{7}, {3}}, {{7}, {4}}}}};
  write(dir + "/arc-agi_training_challenges.json", training.dump());
  write(dir + "/arc-agi_training_solutions.json", training_sol.dump());
  write(dir + "/arc-agi_evaluation_challenges.json", evaluation.dump());
  write(dir + "/arc-agi_evaluation_solutions.json", evaluation_sol.dump());
}

ArcBuildOptions small_opts(int aug = 3, std::uint64_t seed = 7) {
  ArcBuildOptions o;
  o.subsets = {"training", "evaluation"};
  o.test_set = "evaluation";
  o.num_aug = aug;
  o.seed = seed;
  return o;
}

// The grid a row's label encodes, in the original frame of its puzzle version.
ArcGrid label_grid(const Dataset& ds, std::int64_t row, const std::string& name) {
  const std::uint8_t* l = ds.label_row(row);
  // Translated rows: shift the grid's top-left corner to the origin before cropping.
  int r0 = kArcMaxSide, c0 = kArcMaxSide;
  for (int i = 0; i < kArcSeqLen; ++i)
    if (l[i] >= 2) {
      r0 = std::min(r0, i / kArcMaxSide);
      c0 = std::min(c0, i % kArcMaxSide);
    }
  std::vector<std::int32_t> shifted(kArcSeqLen, 0);
  for (int r = r0; r < kArcMaxSide; ++r)
    for (int c = c0; c < kArcMaxSide; ++c) shifted[static_cast<std::size_t>((r - r0) * kArcMaxSide + c - c0)] = l[r * kArcMaxSide + c];
  return invert_arc_aug(arc_crop(shifted), parse_arc_version_name(name).second);
}

// The combined tasks (write_combined) built under d with small_opts(aug), read back: the tests
// of what the builder wrote start from this.
struct BuiltArc {
  Dataset train, test;
  std::vector<std::string> names;  // by puzzle identifier
};

BuiltArc build_combined(const TempDir& d, int aug) {
  write_combined(d / "src");
  build_arc_dataset(d / "src", d / "out", small_opts(aug));
  return {read_split(d / "out", "train"), read_split(d / "out", "test"), read_identifiers(d / "out")};
}

// fn(row, name of the row's puzzle version) for every row of ds, puzzle by puzzle.
template <class F>
void for_each_row(const Dataset& ds, const std::vector<std::string>& names, F&& fn) {
  for (std::int64_t p = 0; p < ds.num_puzzles(); ++p) {
    const auto& name = names[static_cast<std::size_t>(ds.puzzle_identifiers[static_cast<std::size_t>(p)])];
    for (auto r = ds.puzzle_indices[static_cast<std::size_t>(p)]; r < ds.puzzle_indices[static_cast<std::size_t>(p + 1)]; ++r)
      fn(r, name);
  }
}

}  // namespace

// ---------------------------------------------------------------- reading

TEST(ArcRead, CombinedFilesMergeSolutionsAndSortById) {
  TempDir d("arc");
  write_combined(d.str());
  const auto tasks = load_arc_subset(d.str(), "evaluation");
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].id, "ev_a");
  ASSERT_TRUE(tasks[0].test[0].output.has_value());
  EXPECT_EQ(*tasks[0].test[0].output, grid({{7, 7, 7}, {9, 8, 6}}));
  EXPECT_EQ(tasks[1].test.size(), 2u);
}

TEST(ArcRead, RawTaskDirectoryUsesFileStemsRecursively) {
  TempDir d("arc");
  const std::string task = R"({"train":[{"input":[[1]],"output":[[2]]}],"test":[{"input":[[3]],"output":[[4]]}]})";
  write(d / "raw/sub1/b_task.json", task);
  write(d / "raw/a_task.json", task);
  const auto tasks = load_arc_subset(d.str(), "raw");
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].id, "a_task");
  EXPECT_EQ(tasks[1].id, "b_task");
  EXPECT_EQ(*tasks[1].test[0].output, grid({{4}}));
}

TEST(ArcRead, MalformedInputsNameTheFileAndTheProblem) {
  TempDir d("arc");
  auto one = [&](const std::string& name, const std::string& text) {
    const std::string p = d / ("bad/" + name + ".json");
    write(p, text);
    return p;
  };
  const auto p1 = one("notjson", "{\"train\": [");
  expect_error([&] { read_arc_task_file(p1); }, {p1, "invalid JSON"});
  const auto p2 = one("colour", R"({"train":[{"input":[[1,10]],"output":[[1]]}],"test":[{"input":[[1]]}]})");
  expect_error([&] { read_arc_task_file(p2); }, {p2, "colour 10", "0..9"});
  const auto p3 = one("ragged", R"({"train":[{"input":[[1,2],[3]],"output":[[1]]}],"test":[{"input":[[1]]}]})");
  expect_error([&] { read_arc_task_file(p3); }, {p3, "rectangular"});
  json big = json::array();
  for (int r = 0; r < 31; ++r) big.push_back(std::vector<int>(3, 1));
  const auto p4 = one("big", json{{"train", {{{"input", big}, {"output", {{1}}}}}}, {"test", {{{"input", {{1}}}}}}}.dump());
  expect_error([&] { read_arc_task_file(p4); }, {p4, "31 rows"});
  const auto p5 = one("notrain", R"({"test":[{"input":[[1]]}]})");
  expect_error([&] { read_arc_task_file(p5); }, {p5, "\"train\""});
  const auto p6 = one("noout", R"({"train":[{"input":[[1]]}],"test":[{"input":[[1]]}]})");
  expect_error([&] { read_arc_task_file(p6); }, {p6, "missing \"output\""});
  const auto p7 = one("float", R"({"train":[{"input":[[1.5]],"output":[[1]]}],"test":[{"input":[[1]]}]})");
  expect_error([&] { read_arc_task_file(p7); }, {p7, "colour 1.5"});
  // Solutions that do not match the challenges.
  write_combined(d / "comb");
  write(d / "comb/arc-agi_training_solutions.json", R"({"tr_a": [[[1]], [[2]]], "tr_b": [[[1]]]})");
  expect_error([&] { load_arc_subset(d / "comb", "training"); }, {"arc-agi_training_solutions.json", "tr_a", "1 grids"});
  expect_error([&] { load_arc_subset(d.str(), "nosuch"); }, {"nosuch"});
}

// The same classes of bad input as the other readers: depth, repeated keys, absurd sizes, wrong
// types at every level.
TEST(ArcRead, DeepDuplicatedHugeAndMistypedTasksAreRefused) {
  TempDir d("arc");
  auto one = [&](const std::string& name, const std::string& text) {
    const std::string p = d / ("bad/" + name + ".json");
    write(p, text);
    return p;
  };
  const auto deep = one("deep", "{\"train\":" + std::string(100000, '[') + std::string(100000, ']') + "}");
  expect_error([&] { read_arc_task_file(deep); }, {deep, "nested deeper than 64 levels"});
  const auto dup = one("dup", R"({"train":[{"input":[[1]],"output":[[2]]}],"test":[{"input":[[1]]}],"train":[]})");
  expect_error([&] { read_arc_task_file(dup); }, {dup, "\"train\" appears twice"});
  // 100k one-cell pairs: a 2 MB file that would become 100k x 1000 versions x 900 tokens.
  json pairs = json::array();
  for (int i = 0; i < 1001; ++i) pairs.push_back({{"input", {{1}}}, {"output", {{1}}}});
  const auto many = one("many", json{{"train", pairs}, {"test", {{{"input", {{1}}}}}}}.dump());
  expect_error([&] { read_arc_task_file(many); }, {many, "1001 pairs", "more than 1000"});
  const auto wide = one("wide", R"({"train":[{"input":[[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]],"output":[[1]]}],"test":[{"input":[[1]]}]})");
  expect_error([&] { read_arc_task_file(wide); }, {wide, "31 columns"});
  const auto types = std::vector<std::pair<std::string, std::string>>{
      {"[]", "must be an object"},
      {R"({"train":{},"test":[]})", "must be a list of pairs"},
      {R"({"train":[[1]],"test":[]})", "must be an object with an \"input\" grid"},
      {R"({"train":[{"input":"x","output":[[1]]}],"test":[{"input":[[1]]}]})", "non-empty list of rows"},
      {R"({"train":[{"input":[1],"output":[[1]]}],"test":[{"input":[[1]]}]})", "non-empty list of colours"},
      {R"({"train":[{"input":[[]],"output":[[1]]}],"test":[{"input":[[1]]}]})", "non-empty list of colours"},
      {R"({"train":[{"input":[[-1]],"output":[[1]]}],"test":[{"input":[[1]]}]})", "colour -1"},
      {R"({"train":[{"input":[[18446744073709551615]],"output":[[1]]}],"test":[{"input":[[1]]}]})", "colour 18446744073709551615"},
      {R"({"train":[{"input":[["1"]],"output":[[1]]}],"test":[{"input":[[1]]}]})", "colour \"1\""},
      {R"({"train":[{"input":[[null]],"output":[[1]]}],"test":[{"input":[[1]]}]})", "colour null"},
      {R"({"train":[{"input":[[1]],"output":[[1]]}],"test":[]})", "no \"test\" inputs"},
  };
  int i = 0;
  for (const auto& [text, needle] : types) {
    const auto p = one("type" + std::to_string(i++), text);
    expect_error([&] { read_arc_task_file(p); }, {p, needle});
  }
  // A huge value is quoted in the error, but cut short.
  const auto long_colour = one("long", R"({"train":[{"input":[[")" + std::string(100000, 'x') + R"("]],"output":[[1]]}],"test":[{"input":[[1]]}]})");
  try {
    read_arc_task_file(long_colour);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 500u);
  }
  // Combined files: the task map and the solution lists are checked the same way.
  write(d / "c/arc-agi_x_challenges.json", "[1]");
  expect_error([&] { load_arc_subset(d / "c", "x"); }, {"arc-agi_x_challenges.json", "must be an object"});
  write(d / "c/arc-agi_x_challenges.json", R"({"t":{"train":[{"input":[[1]],"output":[[2]]}],"test":[{"input":[[1]]}]}})");
  write(d / "c/arc-agi_x_solutions.json", R"({"t":[[[1]]],"t":[[[2]]]})");
  expect_error([&] { load_arc_subset(d / "c", "x"); }, {"arc-agi_x_solutions.json", "appears twice"});
  write(d / "c/arc-agi_x_solutions.json", R"({"t":[[[10]]]})");
  expect_error([&] { load_arc_subset(d / "c", "x"); }, {"arc-agi_x_solutions.json", "colour 10"});
}

// ---------------------------------------------------------------- augmentation

TEST(ArcAugment, InverseUndoesEveryDihedralWithAColourPermutation) {
  const ArcGrid g = grid({{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 0, 1}});
  Rng rng(3);
  for (int t = 0; t < kNumDihedral; ++t) {
    ArcAug a = random_arc_aug(rng);
    a.transform = t;
    ASSERT_EQ(a.colours[0], 0) << "colour 0 must stay fixed";
    const ArcGrid fwd = apply_arc_aug(g, a);
    EXPECT_EQ(fwd.rows, dihedral_swaps_axes(t) ? 4 : 3);
    EXPECT_EQ(invert_arc_aug(fwd, a), g) << "t=" << t;
    if (t != 0) {
      EXPECT_NE(fwd.cells, g.cells);
    }
    // The name carries the augmentation exactly.
    const auto [id, parsed] = parse_arc_version_name(arc_version_name("abc", a));
    EXPECT_EQ(id, "abc");
    EXPECT_EQ(parsed.transform, a.transform);
    EXPECT_EQ(parsed.colours, a.colours);
  }
  // Colours are mapped before the transform (the reference's order): rot90 CCW of [[1, 2]] is [[2], [1]].
  ArcAug a;
  a.transform = 1;
  a.colours[1] = 5;
  EXPECT_EQ(apply_arc_aug(grid({{1, 2}}), a), grid({{2}, {5}}));
  EXPECT_EQ(arc_version_name("x", ArcAug{}), "x");
  expect_error([] { parse_arc_version_name("x|||t9|||0123456789"); }, {"x|||t9"});
  expect_error([] { parse_arc_version_name("x|||t1|||1023456789"); }, {"permutation"});
}

TEST(ArcAugment, VersionsAreDistinctAndCappedByTheDistinctCount) {
  // A 1x1 task in colour 1: dihedral transforms do nothing, so only the 9 colour choices differ.
  ArcTask t{"one", {{grid({{1}}), grid({{1}})}}, {{grid({{1}}), grid({{1}})}}};
  Rng rng(1);
  const auto v = arc_task_versions(t, 50, rng);
  EXPECT_EQ(v.size(), 9u);
  EXPECT_TRUE(v[0].identity());
  std::set<int> colours;
  for (const auto& a : v) colours.insert(a.colours[1]);
  EXPECT_EQ(colours.size(), 9u);
  // Black only: nothing to permute, nothing to rotate.
  ArcTask black{"black", {{grid({{0}}), grid({{0}})}}, {{grid({{0}}), std::nullopt}}};
  EXPECT_EQ(arc_task_versions(black, 10, rng).size(), 1u);
  // A rich task reaches the requested count.
  ArcTask rich{"rich", {{grid({{1, 2, 3}, {4, 5, 6}}), grid({{7, 8}})}}, {{grid({{9, 1}}), std::nullopt}}};
  EXPECT_EQ(arc_task_versions(rich, 20, rng).size(), 21u);
}

// ---------------------------------------------------------------- encoding and crop

TEST(ArcEncode, EosBelowAndRightButNotTheCorner) {
  const ArcGrid in = grid({{1, 2, 3}, {4, 5, 6}});
  const ArcGrid out = grid({{9}});
  std::vector<std::uint8_t> ti(kArcSeqLen), to(kArcSeqLen);
  arc_encode_pair(in, out, 1, 2, ti.data(), to.data());
  auto at = [&](int r, int c) { return ti[static_cast<std::size_t>(r * kArcMaxSide + c)]; };
  EXPECT_EQ(at(1, 2), 3);  // colour 1 + 2
  EXPECT_EQ(at(2, 4), 8);  // colour 6 + 2
  for (int c = 2; c < 5; ++c) EXPECT_EQ(at(3, c), kArcEos) << c;  // row below the grid
  for (int r = 1; r < 3; ++r) EXPECT_EQ(at(r, 5), kArcEos) << r;  // column right of it
  EXPECT_EQ(at(3, 5), kArcPad);                                   // the corner is not set
  int eos = 0, colour = 0;
  for (auto v : ti) {
    eos += v == kArcEos;
    colour += v >= 2;
  }
  EXPECT_EQ(eos, 5);
  EXPECT_EQ(colour, 6);
  EXPECT_EQ(to[static_cast<std::size_t>(1 * kArcMaxSide + 2)], 11);
  // A 30x30 grid has no room for markers.
  ArcGrid full;
  full.rows = full.cols = 30;
  full.cells.assign(900, 3);
  arc_encode_pair(full, full, 0, 0, ti.data(), to.data());
  for (auto v : ti) ASSERT_EQ(v, 5);
  expect_error([&] { arc_encode_pair(in, out, 29, 0, ti.data(), to.data()); }, {"does not fit"});
}

TEST(ArcCrop, LargestTopLeftRectangleWithAShrinkingColumnCount) {
  std::vector<std::int32_t> t(kArcSeqLen, 0);
  auto set = [&](int r, int c, int v) { t[static_cast<std::size_t>(r * kArcMaxSide + c)] = v; };
  // Row 0: 5 colours then EOS; row 1: 3 colours then PAD; row 2: EOS at column 0.
  for (int c = 0; c < 5; ++c) set(0, c, 2 + c);
  set(0, 5, 1);
  for (int c = 0; c < 3; ++c) set(1, c, 9);
  set(2, 0, 1);
  // r=1 gives 1x5 (area 5), r=2 gives 2x3 (area 6), r=3 gives 3x0: the 2x3 rectangle wins.
  const ArcGrid g = arc_crop(std::span<const std::int32_t>(t));
  EXPECT_EQ(g, grid({{0, 1, 2}, {7, 7, 7}}));
  // The column count never grows again: a wide row 3 does not matter once row 2 cut it to 0.
  for (int c = 0; c < 10; ++c) set(3, c, 2);
  EXPECT_EQ(arc_crop(std::span<const std::int32_t>(t)).rows, 2);
  // Token 12+ (outside the colours) also ends a row.
  std::vector<std::int32_t> u(kArcSeqLen, 2);
  u[3] = 12;
  EXPECT_EQ(arc_crop(std::span<const std::int32_t>(u)).cols, 3);
  // A correctly encoded grid crops back to itself.
  const ArcGrid in = grid({{1, 2, 3}, {4, 5, 6}});
  std::vector<std::uint8_t> ti(kArcSeqLen), to(kArcSeqLen);
  arc_encode_pair(in, in, 0, 0, ti.data(), to.data());
  EXPECT_EQ(arc_crop(std::span<const std::uint8_t>(ti)), in);
  EXPECT_EQ(arc_crop(std::span<const std::int32_t>(std::vector<std::int32_t>(kArcSeqLen, 0))).rows, 0);
}

// ---------------------------------------------------------------- builder

TEST(ArcBuild, CountsSplitsIdentifiersAndTestPuzzles) {
  TempDir d("arc");
  write_combined(d / "src");
  const ArcBuildStats s = build_arc_dataset(d / "src", d / "out", small_opts(3));
  EXPECT_EQ(s.tasks, 4);
  EXPECT_EQ(s.test_tasks, 2);
  // Every task here has plenty of distinct versions: 4 each.
  EXPECT_EQ(s.puzzle_identifiers, 1 + 4 * 4);
  EXPECT_EQ(s.train_puzzles, 16);
  // Train: training tasks bring train + test pairs (3 and 2), evaluation tasks only their demos (2 and 1).
  EXPECT_EQ(s.train_examples, 4 * (3 + 2 + 2 + 1));
  EXPECT_EQ(s.test_puzzles, 8);
  EXPECT_EQ(s.test_examples, 4 * (1 + 2));

  const Dataset train = read_split(d / "out", "train"), test = read_split(d / "out", "test");
  EXPECT_EQ(train.num_examples, s.train_examples);
  EXPECT_EQ(train.num_groups(), 4);
  EXPECT_EQ(test.num_groups(), 2);
  EXPECT_EQ(train.meta.vocab_size, 12);
  EXPECT_EQ(train.meta.seq_len, 900);
  EXPECT_EQ(train.meta.num_puzzle_identifiers, 17);
  EXPECT_EQ(test.meta.num_puzzle_identifiers, 17);
  const auto names = read_identifiers(d / "out");
  ASSERT_EQ(names.size(), 17u);
  EXPECT_EQ(names[0], "<blank>");
  // Test puzzles reuse the ids their versions have in train, and belong to the evaluation tasks.
  std::set<std::int32_t> train_ids(train.puzzle_identifiers.begin(), train.puzzle_identifiers.end());
  for (auto id : test.puzzle_identifiers) {
    EXPECT_TRUE(train_ids.count(id));
    EXPECT_EQ(parse_arc_version_name(names[static_cast<std::size_t>(id)]).first.substr(0, 3), "ev_");
  }
  const auto tp = read_arc_test_puzzles(d / "out/test_puzzles.json");
  ASSERT_EQ(tp.size(), 2u);
  EXPECT_EQ(tp[0].id, "ev_a");
  EXPECT_EQ(*tp[1].test[1].output, grid({{7}, {4}}));
  const json info = json::parse(read_bytes(d / "out/arc_build.json"));
  EXPECT_EQ(info["puzzle_identifiers"], 17);
  // The count-only mode agrees and writes nothing.
  ArcBuildOptions co = small_opts(3);
  co.write = false;
  const ArcBuildStats c = build_arc_dataset(d / "src", d / "none", co);
  EXPECT_EQ(c.train_examples, s.train_examples);
  EXPECT_EQ(c.puzzle_identifiers, s.puzzle_identifiers);
  EXPECT_FALSE(std::filesystem::exists(d / "none"));
}

TEST(ArcBuild, EvaluationTestOutputsAreHeldOutOfTrain) {
  TempDir d("arc");
  const BuiltArc b = build_combined(d, 3);
  const std::vector<ArcGrid> held{grid({{7, 7, 7}, {9, 8, 6}}), grid({{7}, {3}}), grid({{7}, {4}})};
  const std::vector<ArcGrid> demo_out{grid({{3, 2, 1}}), grid({{5, 4}}), grid({{1, 0}, {0, 2}})};
  int demo_hits = 0;
  for_each_row(b.train, b.names, [&](std::int64_t r, const std::string& name) {
    const ArcGrid g = label_grid(b.train, r, name);
    for (const auto& h : held) EXPECT_NE(g, h) << "held-out output in train row " << r;
    for (const auto& o : demo_out) demo_hits += g == o;
  });
  EXPECT_EQ(demo_hits, 4 * 3);  // every version of every evaluation demonstration is in train
  // ...and the test split's labels are exactly those held-out outputs.
  int test_hits = 0;
  for_each_row(b.test, b.names, [&](std::int64_t r, const std::string& name) {
    for (const auto& h : held) test_hits += label_grid(b.test, r, name) == h;
  });
  EXPECT_EQ(test_hits, b.test.num_examples);
}

TEST(ArcBuild, TranslationOnlyOnTrainAndNeverOnOneExamplePerVersion) {
  TempDir d("arc");
  const BuiltArc b = build_combined(d, 5);
  const Dataset &train = b.train, &test = b.test;
  // Untranslated = the grid starts at the top-left cell.
  for (std::int64_t r = 0; r < test.num_examples; ++r) EXPECT_GE(test.input_row(r)[0], 2) << "test row " << r;
  std::int64_t translated = 0;
  for (std::int64_t p = 0; p < train.num_puzzles(); ++p) {
    int at_origin = 0;
    const auto b = train.puzzle_indices[static_cast<std::size_t>(p)], e = train.puzzle_indices[static_cast<std::size_t>(p + 1)];
    for (auto r = b; r < e; ++r) {
      const bool origin = train.input_row(r)[0] >= 2;
      at_origin += origin;
      translated += !origin;
      // Input and label are shifted by the same offset: both start on the same cell.
      int first_in = -1, first_out = -1;
      for (int i = 0; i < kArcSeqLen && (first_in < 0 || first_out < 0); ++i) {
        if (first_in < 0 && train.input_row(r)[i] >= 2) first_in = i;
        if (first_out < 0 && train.label_row(r)[i] >= 2) first_out = i;
      }
      EXPECT_EQ(first_in, first_out);
    }
    EXPECT_GE(at_origin, 1) << "puzzle " << p << " has no untranslated example";
  }
  // All but one example per version are translated; with these small grids a drawn offset of
  // (0, 0) is rare (about 1 in 700), so nearly all of them leave the origin.
  EXPECT_GE(translated, train.num_examples - train.num_puzzles() - 2);
  EXPECT_GT(translated, 0);
}

TEST(ArcBuild, SeededAndDeterministic) {
  TempDir d("arc");
  write_combined(d / "src");
  build_arc_dataset(d / "src", d / "a", small_opts(4, 11));
  build_arc_dataset(d / "src", d / "b", small_opts(4, 11));
  build_arc_dataset(d / "src", d / "c", small_opts(4, 12));
  for (const char* f : {"train/all__inputs.npy", "train/all__labels.npy", "test/all__inputs.npy", "identifiers.json",
                        "train/all__puzzle_identifiers.npy"})
    EXPECT_EQ(read_bytes(d / "a/" + std::string(f)), read_bytes(d / "b/" + std::string(f))) << f;
  EXPECT_NE(read_bytes(d / "a/train/all__inputs.npy"), read_bytes(d / "c/train/all__inputs.npy"));
  EXPECT_NE(read_bytes(d / "a/identifiers.json"), read_bytes(d / "c/identifiers.json"));
}

TEST(ArcBuild, BadOptionsAreErrors) {
  TempDir d("arc");
  write_combined(d / "src");
  ArcBuildOptions o = small_opts();
  o.test_set = "nosuch";
  expect_error([&] { build_arc_dataset(d / "src", d / "out", o); }, {"nosuch", "not one of the subsets"});
}

// ---------------------------------------------------------------- voting and pass@k

TEST(ArcVote, MajorityFirstThenMeanConfidenceBreaksTies) {
  const ArcGrid in = grid({{1, 2}});
  const ArcGrid x = grid({{3}}), y = grid({{4}}), z = grid({{5}});
  ArcVoter v;
  // x and y have two votes each; y's mean q (0.85) beats x's (0.25). z has one very confident vote.
  v.add("t", in, x, 0.2);
  v.add("t", in, y, 0.9);
  v.add("t", in, x, 0.3);
  v.add("t", in, y, 0.8);
  v.add("t", in, z, 0.99);
  auto r = v.ranked("t", in);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].grid, y);
  EXPECT_EQ(r[0].count, 2);
  EXPECT_NEAR(r[0].mean_q, 0.85, 1e-12);
  EXPECT_EQ(r[1].grid, x);
  EXPECT_EQ(r[2].grid, z);
  ArcTask t{"t", {}, {{in, x}}};
  ArcScore s = score_arc(v, {t});
  EXPECT_EQ(s.pass_at_k[0], 0.0);  // pass@1: y is first
  EXPECT_EQ(s.pass_at_k[1], 1.0);  // pass@2: x is second
  EXPECT_EQ(s.submission["t"][0]["attempt_1"], json({{4}}));
  EXPECT_EQ(s.submission["t"][0]["attempt_2"], json({{3}}));
  // One more vote for x makes it the majority whatever the confidence.
  v.add("t", in, x, 0.0);
  r = v.ranked("t", in);
  EXPECT_EQ(r[0].grid, x);
  EXPECT_EQ(score_arc(v, {t}).pass_at_k[0], 1.0);
}

TEST(ArcVote, EmptyOrMalformedPredictionsAreDroppedFromVoting) {
  const ArcGrid in = grid({{1, 2}});
  const ArcGrid x = grid({{3}});
  ArcVoter v;
  // Five empty crops outvote one real grid unless they are dropped.
  for (int i = 0; i < 5; ++i) v.add("t", in, ArcGrid{}, 0.9);
  v.add("t", in, ArcGrid{2, 2, {1}}, 0.9);  // cells do not fill rows x cols
  v.add("t", in, x, 0.1);
  EXPECT_EQ(v.num_dropped(), 6);
  EXPECT_EQ(v.num_votes(), 1);
  const auto r = v.ranked("t", in);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].grid, x);
  ArcTask t{"t", {}, {{in, x}}};
  const ArcScore s = score_arc(v, {t});
  EXPECT_EQ(s.submission["t"][0]["attempt_1"], json({{3}}));
  EXPECT_NE(s.submission.dump().find("[[3]]"), std::string::npos);
  EXPECT_EQ(s.submission.dump().find("[]"), std::string::npos) << s.submission.dump();
  // Only empty predictions: no candidate, and the submission holds the 1x1 placeholder, never [].
  ArcVoter only_empty;
  only_empty.add("t", in, ArcGrid{}, 0.9);
  const ArcScore e = score_arc(only_empty, {t});
  EXPECT_EQ(e.inputs_without_prediction, 1);
  EXPECT_EQ(e.submission.dump().find("[]"), std::string::npos) << e.submission.dump();
  v.clear();
  EXPECT_EQ(v.num_dropped(), 0);
}

TEST(ArcEval, ExamplesSelectWholeTasks) {
  TempDir d("arc");
  const BuiltArc b = build_combined(d, 2);
  const Dataset& test = b.test;
  ASSERT_GE(test.num_groups(), 2);
  // The rows of the first task (group 0).
  const std::int64_t first_task_rows =
      test.puzzle_indices[static_cast<std::size_t>(test.group_indices[1])];
  EXPECT_EQ(arc_whole_task_rows(test, 1), first_task_rows);
  EXPECT_EQ(arc_whole_task_rows(test, first_task_rows), first_task_rows);
  EXPECT_GT(arc_whole_task_rows(test, first_task_rows + 1), first_task_rows);
  EXPECT_EQ(arc_whole_task_rows(test, 0), test.num_examples);
  EXPECT_EQ(arc_whole_task_rows(test, test.num_examples + 5), test.num_examples);
  EXPECT_EQ(arc_tasks_in_rows(test, b.names, first_task_rows).size(), 1u);
  EXPECT_EQ(arc_tasks_in_rows(test, b.names, test.num_examples).size(), 2u);
}

TEST(ArcVote, AugmentedVersionsAreDeAugmentedBeforeVoting) {
  const ArcGrid in = grid({{1, 2, 0}, {3, 0, 0}});
  const ArcGrid truth = grid({{2, 1}});
  ArcVoter v;
  Rng rng(5);
  // Eight versions, each seeing (and predicting) the task in its own frame.
  for (int t = 0; t < kNumDihedral; ++t) {
    ArcAug a = random_arc_aug(rng);
    a.transform = t;
    std::vector<std::uint8_t> ti(kArcSeqLen), to(kArcSeqLen);
    arc_encode_pair(apply_arc_aug(in, a), apply_arc_aug(truth, a), 0, 0, ti.data(), to.data());
    const std::vector<std::int32_t> pred(to.begin(), to.end());
    v.add_tokens(arc_version_name("task", a), ti, pred, 0.5);
  }
  const auto r = v.ranked("task", in);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].count, 8);
  EXPECT_EQ(r[0].grid, truth);
}

TEST(ArcVote, PassAtKIsAveragedPerPuzzleThenOverPuzzles) {
  const ArcGrid i1 = grid({{1}}), i2 = grid({{2}}), i3 = grid({{3}}), i4 = grid({{4}});
  const ArcGrid good = grid({{9}}), bad = grid({{8}});
  ArcVoter v;
  v.add("p", i1, good, 0.5);  // p: test input 1 right, input 2 wrong -> 0.5
  v.add("p", i2, bad, 0.5);
  v.add("q", i3, good, 0.5);  // q: its only input right -> 1
  ArcTask p{"p", {}, {{i1, good}, {i2, good}}}, q{"q", {}, {{i3, good}}}, r{"r", {}, {{i4, good}}};
  ArcScore s = score_arc(v, {p, q});
  EXPECT_DOUBLE_EQ(s.pass_at_k[0], 0.75);  // (0.5 + 1) / 2, not 2/3 pooled over inputs
  // r has no prediction at all: it scores 0 and gets a placeholder entry.
  s = score_arc(v, {p, q, r});
  EXPECT_DOUBLE_EQ(s.pass_at_k[0], 0.5);
  EXPECT_EQ(s.inputs_without_prediction, 1);
  EXPECT_EQ(s.submission["r"][0]["attempt_1"], json({{0}}));
  // A single candidate is repeated for the second attempt; one entry per test input.
  ASSERT_EQ(s.submission["p"].size(), 2u);
  EXPECT_EQ(s.submission["p"][0]["attempt_2"], json({{9}}));
  EXPECT_EQ(s.ks, kArcPassKs);
}

TEST(ArcVote, PoolingAccumulatesUntilCleared) {
  const ArcGrid in = grid({{1}}), a = grid({{2}});
  ArcVoter v;
  v.add("t", in, a, 0.5);
  v.add("t", in, a, 0.5);  // e.g. the same version under a second checkpoint
  EXPECT_EQ(v.ranked("t", in)[0].count, 2);
  v.clear();
  EXPECT_TRUE(v.ranked("t", in).empty());
  EXPECT_EQ(v.num_votes(), 0);
}

TEST(ArcVote, OraclePredictionsOfABuiltDatasetScorePerfectly) {
  // Feeding each test row's own label as the prediction exercises the whole chain: encoding,
  // version names, crop, de-augmentation and hashing against test_puzzles.json.
  TempDir d("arc");
  const BuiltArc b = build_combined(d, 6);
  const Dataset& test = b.test;
  ArcVoter v;
  for_each_row(test, b.names, [&](std::int64_t r, const std::string& name) {
    const std::vector<std::int32_t> label(test.label_row(r), test.label_row(r) + kArcSeqLen);
    v.add_tokens(name, std::span<const std::uint8_t>(test.input_row(r), kArcSeqLen), label, 0.5);
  });
  const auto tasks = read_arc_test_puzzles(d / "out/test_puzzles.json");
  const ArcScore s = score_arc(v, tasks);
  EXPECT_EQ(s.pass_at_k[0], 1.0);
  EXPECT_EQ(v.ranked("ev_b", tasks[1].test[1].input).at(0).count, 7);  // all 7 versions agree
  EXPECT_EQ(s.submission["ev_a"][0]["attempt_1"], json({{7, 7, 7}, {9, 8, 6}}));
}

// ---------------------------------------------------------------- model-level: eval and TTT

namespace {

ModelConfig tiny_arc_model(int ids) {
  ModelConfig c = test_util::tiny_model_config(kArcVocabSize, kArcSeqLen, /*hidden_size=*/32, /*num_heads=*/2,
                                               /*puzzle_emb_len=*/2);
  c.num_puzzle_identifiers = ids;
  c.expansion = 2;
  c.halt_max_steps = 2;
  return c;
}

using test_util::to_host;

}  // namespace

TEST(ArcEval, CollectVotesOverABuiltTestSplit) {
  TempDir d("arc");
  const BuiltArc b = build_combined(d, 2);
  const Dataset& test = b.test;
  const auto& names = b.names;
  auto be = make_cpu_backend();
  TrmModel m(tiny_arc_model(test.meta.num_puzzle_identifiers), *be);
  m.init(1);
  ArcVoter v;
  arc_collect_votes(m, test, names, v, ArcEvalOptions{4, 0});
  EXPECT_EQ(v.num_votes() + v.num_dropped(), test.num_examples);  // empty crops are dropped, not voted
  const ArcScore s = score_arc(v, read_arc_test_puzzles(d / "out/test_puzzles.json"));
  EXPECT_EQ(s.puzzles, 2);
  EXPECT_EQ(s.scored_puzzles, 2);
  EXPECT_EQ(s.test_inputs, 3);
  EXPECT_EQ(s.inputs_without_prediction, 0);  // every test input was matched through de-augmentation
  EXPECT_EQ(s.submission["ev_b"].size(), 2u);
  // A model whose table is too small for the dataset is refused.
  TrmModel small(tiny_arc_model(3), *be);
  expect_error([&] { arc_collect_votes(small, test, names, v, {}); }, {"puzzle identifiers"});
}

TEST(ArcSolve, TrainsOnlyTheNewPuzzleRowsAndPredicts) {
  auto be = make_cpu_backend();
  TrmModel base(tiny_arc_model(4), *be);
  base.init(2);
  // Give the trained rows distinct values so the mean initialisation is not trivially zero.
  std::vector<float> table(static_cast<std::size_t>(base.puzzle_table_size()));
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = 0.01f * static_cast<float>(i % 17) - 0.05f;
  be->from_host(table.data(), base.puzzle_table(), base.puzzle_table_size());
  const auto params0 = to_host(*be, base.params(), base.flat_size());
  const auto table0 = to_host(*be, base.puzzle_table(), base.puzzle_table_size());

  // "Recolour 1 -> 2".
  ArcTask task{"recolour",
               {{grid({{1, 0}, {0, 1}}), grid({{2, 0}, {0, 2}})}, {grid({{1, 1, 0}}), grid({{2, 2, 0}})}},
               {{grid({{0, 1}, {1, 1}}), grid({{0, 2}, {2, 2}})}}};
  ArcSolveOptions o;
  o.steps = 4;
  o.aug = 2;
  o.batch = 6;  // every example each update, so every version's row gets a gradient
  o.seed = 3;
  std::unique_ptr<TrmModel> tuned;
  const ArcSolveResult r = arc_solve(base, task, o, &tuned);

  ASSERT_EQ(r.names.size(), 4u);  // blank + original + 2 augmentations
  EXPECT_EQ(r.names[1], "recolour");
  EXPECT_EQ(r.train_examples, 3 * 2);
  ASSERT_EQ(r.losses.size(), 4u);
  for (double l : r.losses) EXPECT_TRUE(std::isfinite(l));
  // The network (base and tuned copy) is bit-identical; the base table is untouched.
  const auto params_after = to_host(*be, base.params(), base.flat_size());
  const auto tuned_params = to_host(*be, tuned->params(), tuned->flat_size());
  EXPECT_EQ(0, std::memcmp(params0.data(), params_after.data(), params0.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(params0.data(), tuned_params.data(), params0.size() * sizeof(float)));
  EXPECT_EQ(to_host(*be, base.puzzle_table(), base.puzzle_table_size()), table0);
  // Every new row moved away from its initial value (the mean of the base's rows 1..3).
  const int nd = tuned->config().puzzle_emb_ndim;
  std::vector<float> mean(static_cast<std::size_t>(nd), 0.0f);
  for (int k = 0; k < nd; ++k) {
    double s = 0;
    for (int row = 1; row < 4; ++row) s += table0[static_cast<std::size_t>(row * nd + k)];
    mean[static_cast<std::size_t>(k)] = static_cast<float>(s / 3);
  }
  const auto tuned_table = to_host(*be, tuned->puzzle_table(), tuned->puzzle_table_size());
  for (int row = 1; row < 4; ++row) {
    float diff = 0;
    for (int k = 0; k < nd; ++k) diff = std::max(diff, std::fabs(tuned_table[static_cast<std::size_t>(row * nd + k)] - mean[static_cast<std::size_t>(k)]));
    EXPECT_GT(diff, 5e-3f) << "row " << row << " did not move";
  }
  for (int k = 0; k < nd; ++k) EXPECT_EQ(tuned_table[static_cast<std::size_t>(k)], 0.0f) << "blank row changed";
  // Predictions: one submission entry for the single test input, and votes from all 3 versions.
  ASSERT_EQ(r.score.submission["recolour"].size(), 1u);
  ASSERT_EQ(r.ranked.size(), 1u);
  int votes = 0;
  for (const auto& c : r.ranked[0]) votes += c.count;
  EXPECT_EQ(votes, 3);
  EXPECT_EQ(r.score.scored_puzzles, 1);
}

TEST(ArcSolve, TuningTheRowsAloneLowersTheDemonstrationLoss) {
  // With the whole (fixed) demonstration set in every batch, the loss of the first supervision step
  // of a batch is comparable across updates; SignSGD on the rows alone must bring it down.
  auto be = make_cpu_backend();
  TrmModel base(tiny_arc_model(2), *be);
  base.init(4);
  ArcTask task{"recolour",
               {{grid({{1, 0}, {0, 1}}), grid({{2, 0}, {0, 2}})}, {grid({{1, 1, 0}}), grid({{2, 2, 0}})}},
               {{grid({{0, 1}, {1, 1}}), std::nullopt}}};
  ArcSolveOptions o;
  o.steps = 20;
  o.aug = 1;
  o.batch = 4;  // = all 2 x 2 demonstration examples
  o.lr = 0.05;
  o.init = ArcRowInit::kZeros;
  const ArcSolveResult r = arc_solve(base, task, o);
  ASSERT_EQ(r.losses.size(), 20u);
  // Measured: 9.58 -> 8.56 (-11%); a row update that did not follow the gradient would not fall.
  EXPECT_LT(r.losses[18], 0.95 * r.losses[0]) << r.losses[0] << " -> " << r.losses[18];
  EXPECT_EQ(r.score.scored_puzzles, 0);  // no test output given: nothing to score, still a submission
  EXPECT_EQ(r.score.submission["recolour"].size(), 1u);
}

TEST(ArcSolve, RejectsANonArcModel) {
  auto be = make_cpu_backend();
  ModelConfig c = tiny_arc_model(2);
  c.seq_len = 81;
  TrmModel m(c, *be);
  ArcTask task{"t", {{grid({{1}}), grid({{2}})}}, {{grid({{1}}), std::nullopt}}};
  expect_error([&] { arc_solve(m, task, {}); }, {"not an ARC model"});
}
