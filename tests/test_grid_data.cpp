// trm data build grid: a user's own task from CSV or JSONL (include/trm/data/grid.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "expect_error.h"
#include "temp_dir.h"
#include "trm/data/dataset.h"
#include "trm/data/grid.h"

namespace trm {
namespace {

using test_util::TempDir;

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// The message of the trm::Error f throws (a test failure when it throws none).
template <class F>
std::string error_of_call(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no trm::Error thrown";
  return "";
}

TEST(GridData, BuildsFromJsonlWithAlphabetAndWidth) {
  TempDir t;
  write(t / "train.jsonl",
        "{\"input\": \"ab..\", \"output\": \"ba..\", \"width\": 2}\n"
        "\n"
        "{\"input\": [\"a\", \"a\", \".\", \"b\"], \"output\": \"bb.a\"}\n");
  write(t / "test.jsonl", "{\"input\": \"b.a.\", \"output\": \"a.b.\"}\n");
  const data::BuiltDataset d = data::build_grid_dataset(t / "train.jsonl", t / "test.jsonl", t / "out", {});
  EXPECT_EQ(d.train.num_examples, 2);
  EXPECT_EQ(d.test.num_examples, 1);
  EXPECT_EQ(d.train.meta.seq_len, 4);
  EXPECT_EQ(d.train.meta.vocab_size, 4);  // pad + '.', 'a', 'b'
  // Tokens: '.' = 1, 'a' = 2, 'b' = 3 (sorted), 0 = padding.
  EXPECT_EQ(std::vector<int>(d.train.input_row(0), d.train.input_row(0) + 4), (std::vector<int>{2, 3, 1, 1}));
  EXPECT_EQ(std::vector<int>(d.train.label_row(1), d.train.label_row(1) + 4), (std::vector<int>{3, 3, 1, 2}));
  // What the readers see: the reference layout, plus the "grid" key.
  const data::Dataset back = data::read_split(t / "out", "test");
  EXPECT_EQ(back.num_examples, 1);
  const auto g = data::read_grid_format(t / "out");
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->alphabet, (std::vector<std::string>{".", "a", "b"}));
  EXPECT_EQ(g->width, 2);
  EXPECT_EQ(g->seq_len, 4);
  EXPECT_TRUE(g->single_char());
  // A Sudoku dataset has no grid entry.
  EXPECT_FALSE(data::read_grid_format(t / "nowhere").has_value());
}

TEST(GridData, BuildsFromCsvWithIntegerAlphabetSortedNumerically) {
  TempDir t;
  write(t / "train.csv", "input,output\n10 2 3,2 3 10\n3 3 2,2 3 3\n");
  write(t / "test.csv", "input,output\n2 10 3,2 3 10\n");
  const data::BuiltDataset d = data::build_grid_dataset(t / "train.csv", t / "test.csv", t / "out", {});
  const auto g = data::read_grid_format(t / "out");
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->alphabet, (std::vector<std::string>{"2", "3", "10"}));
  EXPECT_FALSE(g->single_char());
  EXPECT_EQ(g->width, 0);
  EXPECT_EQ(std::vector<int>(d.test.input_row(0), d.test.input_row(0) + 3), (std::vector<int>{1, 3, 2}));
}

TEST(GridData, AugmentationsMakeGroupsOfVersions) {
  TempDir t;
  write(t / "train.jsonl", "{\"input\": \"abcd\", \"output\": \"dcba\"}\n{\"input\": \"aabb\", \"output\": \"bbaa\"}\n");
  write(t / "test.jsonl", "{\"input\": \"abba\", \"output\": \"abba\"}\n");
  data::GridBuildOptions o;
  o.augmentation = "dihedral+permutation";
  o.num_aug = 3;
  o.width = 2;
  const data::BuiltDataset d = data::build_grid_dataset(t / "train.jsonl", t / "test.jsonl", t / "out", o);
  EXPECT_EQ(d.train.num_examples, 8);  // 2 originals x (1 + 3)
  EXPECT_EQ(d.train.num_groups(), 2);
  EXPECT_EQ(d.test.num_examples, 1);   // the test split is never augmented
  const auto g = data::read_grid_format(t / "out");
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->augmentation, "dihedral+permutation");
  EXPECT_EQ(g->num_aug, 3);
  // Every version keeps the multiset of symbols' structure: input and output are relabelled alike.
  for (std::int64_t i = 0; i < d.train.num_examples; ++i) {
    std::vector<int> in(d.train.input_row(i), d.train.input_row(i) + 4);
    for (int v : in) EXPECT_TRUE(v >= 1 && v <= 4);
  }
  // Dihedral needs a square grid.
  o.width = 4;
  EXPECT_NE(error_of_call([&] { data::build_grid_dataset(t / "train.jsonl", t / "test.jsonl", t / "o2", o); })
                .find("square grids"),
            std::string::npos);
  o.augmentation = "rotate";
  EXPECT_NE(error_of_call([&] { data::build_grid_dataset(t / "train.jsonl", t / "test.jsonl", t / "o3", o); }).find("--aug"),
            std::string::npos);
}

TEST(GridData, BadInputNamesFileAndLine) {
  TempDir t;
  write(t / "ok.jsonl", "{\"input\": \"ab\", \"output\": \"ba\"}\n");
  auto build = [&](const std::string& train, const std::string& test) {
    return error_of_call([&] { data::build_grid_dataset(train, test, t / "out", {}); });
  };
  write(t / "ragged.jsonl", "{\"input\": \"ab\", \"output\": \"ba\"}\n{\"input\": \"abc\", \"output\": \"cba\"}\n");
  EXPECT_NE(build(t / "ragged.jsonl", t / "ok.jsonl").find("ragged.jsonl:2: 3 symbols"), std::string::npos);
  write(t / "mismatch.jsonl", "{\"input\": \"ab\", \"output\": \"b\"}\n");
  EXPECT_NE(build(t / "mismatch.jsonl", t / "ok.jsonl").find("mismatch.jsonl:1: the input has 2 symbols but the output has 1"),
            std::string::npos);
  write(t / "unknown.jsonl", "{\"input\": \"az\", \"output\": \"ba\"}\n");
  EXPECT_NE(build(t / "ok.jsonl", t / "unknown.jsonl").find("unknown.jsonl:1: symbol \"z\" (position 2) never occurs in"),
            std::string::npos);
  write(t / "empty.jsonl", "");
  EXPECT_NE(build(t / "empty.jsonl", t / "ok.jsonl").find("empty.jsonl: holds no examples"), std::string::npos);
  write(t / "empty.csv", "");
  EXPECT_NE(build(t / "empty.csv", t / "ok.jsonl").find("empty.csv: empty file"), std::string::npos);
  write(t / "malformed.jsonl", "{\"input\": \"ab\", \"output\": \"ba\"}\n{\"input\": \"ab\", \n");
  EXPECT_NE(build(t / "malformed.jsonl", t / "ok.jsonl").find("malformed.jsonl:2: not a JSON object"), std::string::npos);
  write(t / "nokey.jsonl", "{\"input\": \"ab\"}\n");
  EXPECT_NE(build(t / "nokey.jsonl", t / "ok.jsonl").find("nokey.jsonl:1: missing \"output\""), std::string::npos);
  write(t / "badsym.jsonl", "{\"input\": [\"a\", 1.5], \"output\": \"ba\"}\n");
  EXPECT_NE(build(t / "badsym.jsonl", t / "ok.jsonl").find("badsym.jsonl:1: \"input\" element 1.5"), std::string::npos);
  write(t / "cols.csv", "input,output\nab,ba,extra\n");
  EXPECT_NE(build(t / "cols.csv", t / "ok.jsonl").find("cols.csv:2"), std::string::npos);
  write(t / "header.csv", "question,answer\nab,ba\n");
  EXPECT_NE(build(t / "header.csv", t / "ok.jsonl").find("header.csv:1: unknown column \"question\""), std::string::npos);
  write(t / "width.csv", "input,output,width\nabcd,dcba,2\nabcd,dcba,4\n");
  EXPECT_NE(build(t / "width.csv", t / "ok.jsonl").find("width.csv:3: width 4"), std::string::npos);
  write(t / "long.jsonl", "{\"input\": \"abc\", \"output\": \"cba\"}\n");
  EXPECT_NE(build(t / "ok.jsonl", t / "long.jsonl").find("long.jsonl:1: 3 symbols, but the training examples"), std::string::npos);
  EXPECT_NE(build(t / "missing.csv", t / "ok.jsonl").find("missing.csv: cannot open for reading"), std::string::npos);
  EXPECT_NE(build(t.str(), t / "ok.jsonl").find("is a directory"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(t / "out/train/dataset.json"));
}

TEST(GridData, FormatFromJsonRefusesInconsistentEntries) {
  const nlohmann::json ok = {{"alphabet", {"a", "b"}}, {"width", 2}, {"seq_len", 4}};
  EXPECT_EQ(data::GridFormat::from_json(ok, "x").seq_len, 4);
  nlohmann::json bad = ok;
  bad["width"] = 3;
  EXPECT_NE(error_of_call([&] { data::GridFormat::from_json(bad, "ck.safetensors"); }).find("ck.safetensors: \"grid\" entry is inconsistent"),
            std::string::npos);
  bad = ok;
  bad.erase("alphabet");
  EXPECT_NE(error_of_call([&] { data::GridFormat::from_json(bad, "ck"); }).find("malformed \"grid\" entry"), std::string::npos);
}

}  // namespace
}  // namespace trm
