// The Sudoku dataset builder (docs/REFERENCE.md §6.2), on the real CSV in $TRM_DATA_DIR (default
// /work/shared/data) or a generated stand-in when it is absent: CSV parsing, the augmentation
// formula, subsampling and seeding, and small boards. Validity is checked with data_util.h's own
// solver, independent of the library's.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include "data_util.h"
#include "expect_error.h"
#include "temp_dir.h"
#include "trm/data.h"

namespace trm::data {
namespace {

namespace fs = std::filesystem;

// data_util.h's helpers, TempDir and expect_error.
using namespace test_util;

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

// The CSV reader bounds a line (a file without line breaks is not read whole into memory), refuses
// a directory, and reads a last line that has no line break.
TEST(Sudoku, CsvLinesAreBoundedAndDirectoriesRefused) {
  TempDir tmp;
  const std::string header = "source,question,answer,rating\n";
  const std::string long_line = tmp / "long.csv";
  write_file(long_line, header + std::string(kMaxCsvLineBytes + 1, 'x'));
  expect_error([&] { read_sudoku_csv(long_line); }, {long_line + ":2:", "line longer than 1048576 bytes"});
  write_file(long_line, std::string(3 * kMaxCsvLineBytes, ','));  // the header line itself
  expect_error([&] { read_sudoku_csv(long_line); }, {long_line + ":1:", "line longer"});
  expect_error([&] { read_sudoku_csv(tmp.str()); }, {tmp.str(), "is a directory"});
  expect_error([&] { read_sudoku_csv(tmp / "missing.csv"); }, {tmp / "missing.csv", "cannot open"});
  const std::string last = tmp / "last.csv";
  write_file(last, header + std::string(",") + kQ1 + "," + kA1 + ",1\n," + kQ1 + "," + kA1 + ",1");
  EXPECT_EQ(read_sudoku_csv(last).size(), 2);
  // A row just under the bound is read (and refused for its content, not its length).
  write_file(last, header + "," + std::string(kMaxCsvLineBytes - 10, '1') + ",1,1\n");
  expect_error([&] { read_sudoku_csv(last); }, {last + ":2:", "16, 36 or 81"});
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

}  // namespace
}  // namespace trm::data
