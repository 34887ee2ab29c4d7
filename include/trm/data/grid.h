// A generic grid task built from the user's own examples (docs/DATA.md "Your own puzzle type"):
// each example is an input and an output sequence of equal length over any alphabet of symbols,
// optionally a 2-D grid of a given width. `trm data build grid` turns a CSV or JSONL file of them
// into the reference layout (dataset.json + *.npy), with the alphabet and width recorded under the
// key "grid" of dataset.json so a trained model can parse and print its puzzles without the data.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "trm/data/dataset.h"

namespace trm::data {

// One example as read: its symbols, and "<file>:<line>" for errors.
struct GridExample {
  std::vector<std::string> input, output;
  std::string where;
};

// Reads a CSV (header with `input` and `output` columns, optional `width`) or JSONL file (one
// object per line: "input" and "output" as strings, one symbol per character, or arrays of
// symbols as strings or integers; optional "width"). JSONL is chosen by a .jsonl/.ndjson/.json
// extension, else CSV. `width` gets the rows' width (0 when none is given; rows that disagree are
// an error). Throws trm::Error "<file>:<line>: ..." for malformed lines, an input/output length
// mismatch, rows of different lengths, and an empty file.
std::vector<GridExample> read_grid_examples(const std::string& path, int& width);

// What a grid task's tokens mean: token 0 is padding, token i + 1 is alphabet[i].
struct GridFormat {
  std::vector<std::string> alphabet;  // sorted; each a non-empty symbol without whitespace
  int width = 0;                      // 0: a 1-D sequence
  int seq_len = 0;
  std::string augmentation = "none";  // none | dihedral | permutation | dihedral+permutation
  int num_aug = 0;
  bool single_char() const;            // every symbol is one character: text is written without spaces
  nlohmann::json to_json() const;
  // `context` names the source in errors (a dataset.json or a checkpoint).
  static GridFormat from_json(const nlohmann::json& j, const std::string& context);
};

struct GridBuildOptions {
  std::string augmentation = "none";  // as GridFormat::augmentation
  int num_aug = 0;                    // augmented versions per training example (with an augmentation)
  int width = 0;                      // 0: from the files (or none)
  std::uint64_t seed = 0;
};

// Builds both splits into out_dir (identifiers.json, train/, test/); the test split is never
// augmented. Throws trm::Error naming the file and line of a test symbol the training file never
// uses, a length that differs between the files, or an augmentation the shape does not allow
// (dihedral needs a square grid: width * width == length).
BuiltDataset build_grid_dataset(const std::string& train_file, const std::string& test_file, const std::string& out_dir,
                                const GridBuildOptions& opt);

// The "grid" entry of <root>/train/dataset.json, if the dataset is a grid task.
std::optional<GridFormat> read_grid_format(const std::string& root);

}  // namespace trm::data
