// The reference's on-disk dataset layout (docs/REFERENCE.md §6.1) and its in-memory form.
//
//   <root>/identifiers.json                 list id -> name, "<blank>" at 0
//   <root>/<split>/dataset.json             Metadata
//   <root>/<split>/all__inputs.npy          uint8 [N, S]
//   <root>/<split>/all__labels.npy          uint8 [N, S]
//   <root>/<split>/all__puzzle_identifiers.npy  int32 [P]
//   <root>/<split>/all__puzzle_indices.npy  int32 [P+1]: examples of puzzle p are rows [pi[p], pi[p+1])
//   <root>/<split>/all__group_indices.npy   int32 [G+1]: puzzles of group g are [gi[g], gi[g+1])
//
// A group is one original puzzle with all its augmented versions; a puzzle is one version (its
// own embedding id in ARC, id 0 elsewhere); an example is one input/label row.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace trm::data {

// The most augmentations per puzzle a build accepts: the reference uses 1000 (Sudoku-Extreme 1k, ARC),
// and a bound keeps a typo such as 1e9 from running out of memory.
inline constexpr int kMaxNumAug = 100000;


inline constexpr std::int32_t kIgnoreLabel = -100;  // what label == ignore_label_id becomes at load time

struct Metadata {
  int pad_id = 0;
  std::optional<int> ignore_label_id = 0;  // null in JSON = no label is ignored
  int blank_identifier_id = 0;
  int vocab_size = 0;
  int seq_len = 0;
  int num_puzzle_identifiers = 1;
  std::int64_t total_groups = 0;
  double mean_puzzle_examples = 0;
  std::int64_t total_puzzles = 0;
  std::vector<std::string> sets{"all"};
};

// Bounds on the sizes dataset.json may declare, checked before anything is allocated from them:
//  - seq_len: the longest real sequences are ARC's 900 tokens and 255x255 mazes (65025, the
//    largest side `trm data generate maze` makes); 2^20 leaves room while a model over it would
//    not fit in memory anyway.
//  - num_puzzle_identifiers: the largest real dataset, ARC-1 with 1000 augmentations, has ~876k;
//    2^26 (67M) is 76x that, and its puzzle table at the paper's 512 floats per row would already
//    be 128 GiB, so a larger value can only be a damaged or hand-edited file (2e9 used to be
//    accepted and allocated).
inline constexpr std::int64_t kMaxSeqLen = std::int64_t{1} << 20;
inline constexpr std::int64_t kMaxPuzzleIdentifiers = std::int64_t{1} << 26;

// Ordered like the reference's files, so the two diff cleanly.
nlohmann::ordered_json metadata_to_json(const Metadata& m);
// `context` (usually the file path) prefixes every error. total_puzzles may be absent (HRM's
// builders do not write it); it is then -1 until the arrays are read.
Metadata metadata_from_json(const nlohmann::json& j, const std::string& context);
// Every field that says how tokens, labels and puzzle ids are encoded (vocab_size, seq_len, pad_id,
// ignore_label_id, blank_identifier_id, num_puzzle_identifiers) must be the same in the train split
// and any other split of one dataset; throws trm::Error naming both sources otherwise.
void check_metadata_agree(const Metadata& train, const std::string& train_src, const Metadata& other,
                          const std::string& other_src);

// One set of one split. inputs/labels are views (into a memory map or into memory a builder
// handed over); `storage` keeps that memory alive, so copies of a Dataset are cheap and safe.
struct Dataset {
  Metadata meta;
  std::int64_t num_examples = 0;             // N
  std::span<const std::uint8_t> inputs;      // row-major [N, meta.seq_len]
  std::span<const std::uint8_t> labels;      // row-major [N, meta.seq_len]
  std::vector<std::int32_t> puzzle_identifiers;  // [P]
  std::vector<std::int32_t> puzzle_indices;      // [P+1]
  std::vector<std::int32_t> group_indices;       // [G+1]
  std::shared_ptr<const void> storage;

  std::int64_t num_puzzles() const { return static_cast<std::int64_t>(puzzle_identifiers.size()); }
  std::int64_t num_groups() const { return static_cast<std::int64_t>(group_indices.size()) - 1; }
  const std::uint8_t* input_row(std::int64_t i) const { return inputs.data() + i * meta.seq_len; }
  const std::uint8_t* label_row(std::int64_t i) const { return labels.data() + i * meta.seq_len; }
};

// What every generator of a synthetic dataset is asked for besides its puzzle options: the sizes
// of the two splits and the seed of everything it draws.
struct GeneratedSplits {
  std::int64_t num_train = 1000;
  std::int64_t num_test = 1000;
  std::uint64_t seed = 0;
};

// What the builders and generators return after writing both splits.
struct BuiltDataset {
  Dataset train, test;
};

// Names used in validation errors: the file each array came from (or an in-memory description).
struct DatasetSources {
  std::string metadata, inputs, labels, puzzle_identifiers, puzzle_indices, group_indices;
  static DatasetSources in_files(const std::string& split_dir, const std::string& set);
  static DatasetSources in_memory(const std::string& what);
};

// Checks every invariant the sampler and the model rely on: shapes agree with each other and
// with the metadata, indices start at 0, are monotone (groups strictly: each has a puzzle) and
// end at the array sizes, token ids < vocab_size, puzzle ids < num_puzzle_identifiers, and the
// totals in the metadata match. Throws trm::Error naming the offending source.
void validate_dataset(const Dataset& ds, const DatasetSources& src);

// Reads and validates <root>/<split>/; `set` must be listed in dataset.json's `sets`. A split other
// than "train" is also checked against <root>/train/dataset.json when that exists
// (check_metadata_agree), so every reader of a test split (training, eval, report, ARC) refuses one
// that encodes labels differently from the data the model was trained on.
Dataset read_split(const std::string& root, const std::string& split, const std::string& set = "all");
// Writes <root>/<split>/ (created if needed): arrays first, dataset.json last, so an interrupted
// write leaves a split that read_split rejects instead of one that reads as complete.
void write_split(const Dataset& ds, const std::string& root, const std::string& split);

std::vector<std::string> read_identifiers(const std::string& root);
void write_identifiers(const std::string& root, const std::vector<std::string>& names);

// Accumulates a split in memory in the order the reference builders push it: examples into the
// open puzzle, puzzles into the open group.
class SplitBuilder {
 public:
  explicit SplitBuilder(int seq_len);

  void reserve(std::int64_t examples);
  // Both spans must hold seq_len tokens.
  void add_example(std::span<const std::uint8_t> input, std::span<const std::uint8_t> label);
  void end_puzzle(std::int32_t identifier);  // closes the puzzle of the examples added since the last one
  void end_group();                          // closes the group of the puzzles ended since the last one

  std::int64_t num_examples() const { return static_cast<std::int64_t>(inputs_.size()) / seq_len_; }

  // Hands the arrays over. `meta` supplies vocab_size, num_puzzle_identifiers and the ids; seq_len
  // and the totals are filled in here. The result is validated (an invalid token throws).
  Dataset finish(Metadata meta) &&;

 private:
  int seq_len_;
  std::vector<std::uint8_t> inputs_, labels_;
  std::vector<std::int32_t> puzzle_identifiers_, puzzle_indices_{0}, group_indices_{0};
};

}  // namespace trm::data
