// The training and test samplers (docs/REFERENCE.md §6.5): epochs over groups, multi-example
// puzzles, padded test batches, and exact resume from a saved state.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "data_util.h"
#include "expect_error.h"
#include "temp_dir.h"
#include "trm/data.h"

namespace trm::data {
namespace {

// data_util.h's helpers, TempDir and expect_error.
using namespace test_util;

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
  // Counters of another JSON type (a float beyond int64 would be an undefined conversion).
  for (const char* key : {"position", "pass", "batches_in_pass", "batch_size"}) {
    broken = st;
    broken[key] = 1e30;
    expect_error([&] { s.restore(broken); }, {"sampler state", key, "not an integer counter"});
    broken[key] = 18446744073709551615ULL;
    expect_error([&] { s.restore(broken); }, {"sampler state", key, "not an integer counter"});
  }
  broken = st;
  broken["seed"] = -1;
  expect_error([&] { s.restore(broken); }, {"seed"});
}

}  // namespace
}  // namespace trm::data
