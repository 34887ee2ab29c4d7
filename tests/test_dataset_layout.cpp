// The on-disk dataset layout (docs/REFERENCE.md §6.1): a split and its identifiers written and read
// back, and corrupted or inconsistent files reported by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
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

// dataset.json is untrusted: every size is range-checked before anything is sized from it, a set
// cannot be listed twice, and a test split must encode things as the train split does.
TEST(Layout, DatasetJsonSizesAndSetsAreBounded) {
  TempDir tmp;
  const Dataset ds = arc_like(5);
  const std::string root = tmp.str(), dir = tmp / "train";
  const std::string meta_path = dir + "/dataset.json";
  write_split(ds, root, "train");
  const auto good = nlohmann::json::parse(read_file(meta_path));
  auto read = [&] { read_split(root, "train"); };
  auto edit = [&](const std::function<void(nlohmann::json&)>& f) {
    auto j = good;
    f(j);
    write_file(meta_path, j.dump());
  };
  // ~2e9 puzzle identifiers used to be accepted (and a puzzle table of that many rows allocated).
  edit([](auto& j) { j["num_puzzle_identifiers"] = 2000000000; });
  expect_error(read, {meta_path, "num_puzzle_identifiers", "2000000000", "outside [1, 67108864]"});
  edit([](auto& j) { j["seq_len"] = 2000000000; });
  expect_error(read, {meta_path, "seq_len", "outside [1, 1048576]"});
  edit([](auto& j) { j["total_groups"] = 5000000000LL; });
  expect_error(read, {meta_path, "total_groups"});
  edit([](auto& j) { j["total_puzzles"] = 18446744073709551615ULL; });
  expect_error(read, {meta_path, "total_puzzles", "18446744073709551615"});
  edit([](auto& j) { j["seq_len"] = 6.5; });
  expect_error(read, {meta_path, "seq_len", "must be an integer"});
  // A key given twice: nlohmann would keep the last silently.
  std::string twice = good.dump();
  twice.insert(twice.find("\"mean_puzzle_examples\":"), "\"mean_puzzle_examples\":1.5,");
  write_file(meta_path, twice);
  expect_error(read, {meta_path, "\"mean_puzzle_examples\" appears twice"});
  // JSON text cannot hold an infinity (1e999 is a parse error), but a value built in memory can.
  auto inf = good;
  inf["mean_puzzle_examples"] = std::numeric_limits<double>::infinity();
  expect_error([&] { metadata_from_json(inf, "ctx"); }, {"ctx", "mean_puzzle_examples", "finite"});
  // A duplicated set skipped the totals check (it applies only to one set).
  edit([](auto& j) { j["sets"] = {"all", "all"}; });
  expect_error(read, {meta_path, "\"all\" twice"});
  edit([](auto& j) { j["sets"] = {"all", ".."}; });
  expect_error(read, {meta_path, "not a set name"});
  // With several sets, one set's count may not exceed the total.
  edit([](auto& j) {
    j["sets"] = {"all", "other"};
    j["total_groups"] = 2;
  });
  expect_error(read, {meta_path, "total_groups is 2", "alone describes 5 groups"});
  edit([](auto& j) { j["sets"] = {"all", "other"}; });
  EXPECT_NO_THROW(read());
  // JSON nested 100k deep (a 200 KB file) overflowed the stack when printed.
  write_file(meta_path, std::string(100000, '[') + std::string(100000, ']'));
  expect_error(read, {meta_path, "nested deeper than 64 levels"});
  write_file(tmp / "identifiers.json", std::string(100000, '[') + std::string(100000, ']'));
  expect_error([&] { read_identifiers(root); }, {tmp / "identifiers.json", "nested deeper"});
  // A directory where the file should be.
  fs::remove(meta_path);
  fs::create_directory(meta_path);
  expect_error(read, {meta_path, "is a directory"});
}

TEST(Layout, TestSplitMustAgreeWithTrain) {
  TempDir tmp;
  const Dataset ds = arc_like(5);
  const std::string root = tmp.str();
  write_split(ds, root, "train");
  write_split(ds, root, "test");
  EXPECT_NO_THROW(read_split(root, "test"));
  const std::string train_meta = tmp / "train/dataset.json", test_meta = tmp / "test/dataset.json";
  const auto good = nlohmann::json::parse(read_file(test_meta));
  auto edit = [&](const std::function<void(nlohmann::json&)>& f) {
    auto j = good;
    f(j);
    write_file(test_meta, j.dump());
  };
  // Each of these passes the test split's own checks but encodes differently from train.
  edit([](auto& j) { j["ignore_label_id"] = nullptr; });
  expect_error([&] { read_split(root, "test"); }, {test_meta, train_meta, "ignore_label_id", "null"});
  edit([&](auto& j) { j["ignore_label_id"] = good["ignore_label_id"].is_null() ? 1 : 1 - good["ignore_label_id"].get<int>(); });
  expect_error([&] { read_split(root, "test"); }, {test_meta, train_meta, "ignore_label_id"});
  edit([](auto& j) { j["pad_id"] = 1; });
  expect_error([&] { read_split(root, "test"); }, {test_meta, train_meta, "pad_id"});
  edit([&](auto& j) { j["vocab_size"] = good["vocab_size"].get<int>() + 1; });
  expect_error([&] { read_split(root, "test"); }, {test_meta, train_meta, "vocab_size"});
  edit([&](auto& j) { j["num_puzzle_identifiers"] = good["num_puzzle_identifiers"].get<int>() + 1; });
  expect_error([&] { read_split(root, "test"); }, {test_meta, train_meta, "num_puzzle_identifiers"});
  edit([&](auto& j) { j["blank_identifier_id"] = 1; });
  expect_error([&] { read_split(root, "test"); }, {test_meta, train_meta, "blank_identifier_id"});
  // The train split itself is read without looking at the test split.
  EXPECT_NO_THROW(read_split(root, "train"));
}

}  // namespace
}  // namespace trm::data
