// ARC-AGI tasks and the reference's ARC dataset builder (docs/REFERENCE.md §6.4, dataset/build_arc_dataset.py).
//
//   tasks      read from the combined challenge/solution files (arc-agi_<subset>_challenges.json
//              + _solutions.json) or from a directory tree of raw per-task <id>.json files
//   versions   one original puzzle plus up to N augmentations (dihedral transform x colour map with
//              colour 0 fixed), de-duplicated by puzzle hash; each version has its own embedding id
//   encoding   30x30 = 900 tokens: 0 PAD, 1 EOS, 2..11 colours 0..9; translation on the train
//              split only, for all but one example per version
//
// Version names carry their augmentation ("<id>|||t<t>|||<10-digit colour map>"), so identifiers.json
// is all the evaluator needs to undo it, exactly as in the reference.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "trm/data/dataset.h"
#include "trm/data/rng.h"

namespace trm::data {

inline constexpr int kArcMaxSide = 30;
inline constexpr int kArcSeqLen = kArcMaxSide * kArcMaxSide;
inline constexpr int kArcVocabSize = 12;  // PAD, EOS, colours 0..9
inline constexpr std::uint8_t kArcPad = 0, kArcEos = 1, kArcColourOffset = 2;
inline constexpr int kArcRetriesFactor = 5;  // the reference tries 5 * N augmentations for N versions
inline constexpr const char* kArcNameSeparator = "|||";
// The most pairs one task's "train" or "test" list may hold. Real tasks have at most about 10;
// every pair becomes a 900-token example in each of up to 1000 augmented versions, so a task file
// of 100k tiny pairs (1.5 MB) would ask for ~90 GB.
inline constexpr std::size_t kArcMaxPairs = 1000;

// Row-major grid of colours 0..9; 0x0 is a valid (empty) grid, e.g. a degenerate crop.
struct ArcGrid {
  int rows = 0, cols = 0;
  std::vector<std::uint8_t> cells;
  std::uint8_t at(int r, int c) const { return cells[static_cast<std::size_t>(r * cols + c)]; }
  bool operator==(const ArcGrid&) const = default;
};

struct ArcPair {
  ArcGrid input;
  std::optional<ArcGrid> output;  // absent for test inputs whose solution is unknown
};

struct ArcTask {
  std::string id;
  std::vector<ArcPair> train;  // demonstration pairs (always with outputs)
  std::vector<ArcPair> test;
};

// ---- reading (every error is a trm::Error naming the file and the problem) ----
// A grid: a non-empty list of equally long, non-empty rows of integers 0..9, at most 30x30.
ArcGrid arc_grid_from_json(const nlohmann::json& j, const std::string& context);
nlohmann::json arc_grid_to_json(const ArcGrid& g);
// One task {"train": [{input, output}], "test": [{input[, output]}]}.
ArcTask arc_task_from_json(const std::string& id, const nlohmann::json& j, const std::string& context);
nlohmann::json arc_task_to_json(const ArcTask& t);
ArcTask read_arc_task_file(const std::string& path);  // id = file stem
// arc-agi_<subset>_challenges.json with, when it exists, _solutions.json merged into the test outputs.
std::vector<ArcTask> read_arc_combined(const std::string& dir, const std::string& subset);
// Every *.json below dir (recursively), sorted by path.
std::vector<ArcTask> read_arc_task_dir(const std::string& dir);
// A subset of `source`: the combined files when <source>/arc-agi_<subset>_challenges.json exists,
// else the directory <source>/<subset> of raw task files. Tasks come sorted by id.
std::vector<ArcTask> load_arc_subset(const std::string& source, const std::string& subset);

// ---- augmentation ----
struct ArcAug {
  int transform = 0;                                     // dihedral id, see dihedral.h
  std::array<std::uint8_t, 10> colours{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};  // new colour of colour c
  bool identity() const;
};
// Draws one augmentation the way the reference does: t uniform in [0, 8), colours 1..9 permuted.
ArcAug random_arc_aug(Rng& rng);
// dihedral(colours[grid], t), the reference's order.
ArcGrid apply_arc_aug(const ArcGrid& g, const ArcAug& a);
// The inverse: inverse dihedral first, then the inverse colour map.
ArcGrid invert_arc_aug(const ArcGrid& g, const ArcAug& a);

// "<id>" for the identity, else "<id>|||t<t>|||<colour digits>".
std::string arc_version_name(const std::string& id, const ArcAug& a);
// Splits a version name into the original id and its augmentation (identity without "|||");
// throws trm::Error for a malformed suffix.
std::pair<std::string, ArcAug> parse_arc_version_name(const std::string& name);

// sha256 hex of the bytes [rows, cols] followed by the cells (the reference's grid hash).
std::string arc_grid_hash(const ArcGrid& g);
// sha256 hex of "|".join(sorted("<in hash>|<out hash>" over all pairs)); pairs without an output
// hash the input only against an empty grid.
std::string arc_puzzle_hash(const std::vector<const ArcPair*>& pairs);

// The original (first) and up to num_aug distinct augmentations of a task, trying at most
// kArcRetriesFactor * num_aug draws; all pairs of the task (train and test) enter the hash.
std::vector<ArcAug> arc_task_versions(const ArcTask& t, int num_aug, Rng& rng);

// ---- encoding ----
// Writes input and output as 900 tokens each at offset (pad_r, pad_c) with EOS markers below and
// right of the grid (not the corner). Both grids must fit at that offset.
void arc_encode_pair(const ArcGrid& in, const ArcGrid& out, int pad_r, int pad_c, std::uint8_t* in_tokens,
                     std::uint8_t* out_tokens);
// The reference's crop: the largest top-left rectangle of colour tokens (2..11), scanning rows
// with a column count that only shrinks; colours are the tokens minus 2.
ArcGrid arc_crop(std::span<const std::int32_t> tokens);
ArcGrid arc_crop(std::span<const std::uint8_t> tokens);

// Appends one version's examples to a split: translated (except one random example) when
// `translate`, else all at the top-left.
void add_arc_version(SplitBuilder& b, const std::vector<ArcPair>& pairs, const ArcAug& aug, bool translate,
                     Rng& rng);

// ---- the builder ----
struct ArcBuildOptions {
  std::vector<std::string> subsets;  // in order, e.g. {"training", "evaluation", "concept"}
  std::string test_set;              // the subset whose test pairs are held out, e.g. "evaluation"
  int num_aug = 1000;
  std::uint64_t seed = 42;
  bool write = true;                 // false: count only (nothing encoded or written)
};

struct ArcBuildStats {
  std::int64_t tasks = 0, test_tasks = 0;
  std::int64_t puzzle_identifiers = 0;  // including <blank>
  std::int64_t train_puzzles = 0, train_examples = 0, test_puzzles = 0, test_examples = 0;
  double seconds = 0;
};

// Builds <out>/{train,test}/, identifiers.json, test_puzzles.json and arc_build.json (options and
// counts). Deterministic for a given seed.
ArcBuildStats build_arc_dataset(const std::string& source, const std::string& out, const ArcBuildOptions& opt);

// test_puzzles.json as written by the builder: {id: task}; tasks sorted by id.
std::vector<ArcTask> read_arc_test_puzzles(const std::string& path);

}  // namespace trm::data
