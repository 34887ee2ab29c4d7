#include <limits>

#include "trm/error.h"
#include "trm/data/sudoku.h"

namespace trm::data {
namespace {

Metadata sudoku_metadata(const SudokuShape& s) {
  Metadata m;
  m.vocab_size = sudoku_vocab_size(s);
  m.num_puzzle_identifiers = 1;
  return m;
}

}  // namespace

Dataset build_sudoku_split(const SudokuSet& puzzles, int num_aug, Rng& rng) {
  if (num_aug < 0 || num_aug > kMaxNumAug)
    throw Error("num_aug must be in [0, " + std::to_string(kMaxNumAug) + "], got " + std::to_string(num_aug));
  const SudokuShape& s = puzzles.shape;
  // The split's token arrays are indexed with 32-bit row * seq_len products downstream (npy
  // shapes, the sampler), and must fit in memory: refuse before building, with the size.
  const std::int64_t rows = puzzles.size() * (1 + static_cast<std::int64_t>(num_aug));
  if (rows * s.cells() > std::numeric_limits<std::int32_t>::max())
    throw Error("num_aug " + std::to_string(num_aug) + " on " + std::to_string(puzzles.size()) + " puzzles makes " +
                std::to_string(rows) + " examples (" + std::to_string(rows * s.cells() * 2 / (1 << 20)) +
                " MiB of tokens), above the 2^31-1 tokens a split may hold; use fewer augmentations");
  const auto cells = static_cast<std::size_t>(s.cells());
  SplitBuilder b(s.cells());
  b.reserve(rows);
  std::vector<std::uint8_t> q(cells), a(cells);
  const SudokuTransform id = SudokuTransform::identity(s);
  for (std::int64_t i = 0; i < puzzles.size(); ++i) {
    for (int k = 0; k <= num_aug; ++k) {
      const SudokuTransform t = k == 0 ? id : SudokuTransform::random(s, rng);
      t.apply(s, puzzles.question(i), q.data());
      t.apply(s, puzzles.answer(i), a.data());
      for (std::size_t c = 0; c < cells; ++c) {
        q[c] = sudoku_token(q[c]);
        a[c] = sudoku_token(a[c]);
      }
      b.add_example(q, a);
      b.end_puzzle(0);
    }
    b.end_group();
  }
  return std::move(b).finish(sudoku_metadata(s));
}

BuiltDataset build_sudoku_dataset(const std::string& train_csv, const std::string& test_csv,
                                  const std::string& out_dir, const SudokuBuildOptions& opt) {
  Rng rng(opt.seed);
  SudokuSet train = read_sudoku_csv(train_csv, opt.min_difficulty);
  const SudokuSet test = read_sudoku_csv(test_csv, opt.min_difficulty);
  if (!(train.shape == test.shape))
    throw Error(test_csv + ": holds " + std::to_string(test.shape.n) + "x" + std::to_string(test.shape.n) +
                " puzzles, but " + train_csv + " holds " + std::to_string(train.shape.n) + "x" +
                std::to_string(train.shape.n));
  if (opt.subsample_size) {
    if (*opt.subsample_size <= 0)
      throw Error("subsample size must be positive, got " + std::to_string(*opt.subsample_size));
    if (*opt.subsample_size < train.size()) train = train.select(rng.choose(train.size(), *opt.subsample_size));
  }
  BuiltDataset out{build_sudoku_split(train, opt.num_aug, rng), build_sudoku_split(test, 0, rng)};
  write_split(out.train, out_dir, "train");
  write_split(out.test, out_dir, "test");
  write_identifiers(out_dir, {"<blank>"});
  return out;
}

}  // namespace trm::data
