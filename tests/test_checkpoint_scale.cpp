// ARC-scale puzzle tables (≈876k x 512 floats = 1.8 GB) must save and load without an extra
// in-memory copy: the checkpoint writes the table from the model's memory and reads it straight
// back into the model. Checked with the process's peak RSS on a 256 MB table.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>

#include "model_util.h"
#include "temp_dir.h"
#include "trm/train/checkpoint.h"

namespace trm {
namespace {

long peak_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

TEST(CheckpointScale, BigPuzzleTableIsNotCopiedInMemory) {
  ModelConfig c = test_util::tiny_sudoku_mlp_4x4();
  c.puzzle_emb_ndim = 512;
  c.puzzle_emb_len = 8;
  c.num_puzzle_identifiers = 131072;  // 131072 x 512 floats = 256 MiB
  const std::int64_t table_kib = c.num_puzzle_identifiers * c.puzzle_emb_ndim * 4 / 1024;
  auto be = make_cpu_backend();
  TrmModel a(c, *be), b(c, *be);  // both tables allocated and zeroed (touched) up front
  a.init(3);
  float* t = a.puzzle_table();
  for (std::int64_t i = 0; i < a.puzzle_table_size(); ++i) t[i] = static_cast<float>(i % 9973) * 0.25f;
  test_util::TempDir dir;
  const std::string path = dir / "big.safetensors";
  CheckpointContents contents;
  contents.config = {{"model", c}};

  const long before = peak_rss_kib();
  ASSERT_GT(before, table_kib);
  save_checkpoint(path, a, nullptr, nullptr, contents);
  const Checkpoint ck = Checkpoint::read(path);
  ck.load_model(b, false);
  const long grew = peak_rss_kib() - before;
  EXPECT_LT(grew, table_kib / 4) << "peak RSS grew by " << grew << " KiB while saving and loading a " << table_kib
                                 << " KiB table: it was copied";
  EXPECT_EQ(std::memcmp(a.puzzle_table(), b.puzzle_table(), static_cast<std::size_t>(a.puzzle_table_size()) * 4), 0);
  EXPECT_EQ(std::memcmp(a.params(), b.params(), static_cast<std::size_t>(a.flat_size()) * 4), 0);
}

// The trainer's EMA evaluation model reads the training model's table: one table, not two.
TEST(CheckpointScale, EvaluationModelSharesThePuzzleTable) {
  ModelConfig c = test_util::tiny_sudoku_mlp_4x4();
  c.num_puzzle_identifiers = 1000;
  auto be = make_cpu_backend();
  TrmModel owner(c, *be);
  owner.init(1);
  TrmModel shared(c, *be, &owner);
  EXPECT_TRUE(shared.shares_puzzle_table());
  EXPECT_FALSE(owner.shares_puzzle_table());
  EXPECT_EQ(shared.puzzle_table(), owner.puzzle_table());
  EXPECT_EQ(shared.puzzle_table_size(), owner.puzzle_table_size());
  owner.puzzle_table()[5] = 0.75f;  // e.g. a SignSGD update of the training model
  EXPECT_EQ(shared.puzzle_table()[5], 0.75f);
  ModelConfig other = c;
  other.num_puzzle_identifiers = 999;
  EXPECT_THROW(TrmModel(other, *be, &owner), Error);
}

}  // namespace
}  // namespace trm
