#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/json_file.h"
#include "trm/error.h"
#include "trm/data/dataset.h"
#include "trm/io/npy.h"

namespace trm::data {
namespace {

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

std::vector<std::int32_t> read_index_array(const std::string& path) {
  const auto a = NpyArray::read(path);
  if (a.shape().size() != 1) throw Error(path + ": expected a 1-D array, got shape " + shape_str(a.shape()));
  return a.to_int32();
}

NpyArray read_token_array(const std::string& path, int seq_len) {
  auto a = NpyArray::read(path);
  if (a.dtype() != NpyDtype::kU8) throw Error(path + ": dtype is " + npy_descr(a.dtype()) + ", expected |u1 (uint8 tokens)");
  if (a.shape().size() != 2 || a.shape()[1] != seq_len)
    throw Error(path + ": shape is " + shape_str(a.shape()) + ", expected (N, " + std::to_string(seq_len) +
                ") with seq_len from dataset.json");
  return a;
}

struct KeepBoth {
  std::shared_ptr<const void> a, b;
};

}  // namespace

Dataset read_split(const std::string& root, const std::string& split, const std::string& set) {
  const std::string dir = root + "/" + split;
  const auto src = DatasetSources::in_files(dir, set);
  Dataset ds;
  ds.meta = metadata_from_json(
      read_json_file(src.metadata, "is " + root + " a dataset directory with a " + split + " split?"), src.metadata);
  if (std::find(ds.meta.sets.begin(), ds.meta.sets.end(), set) == ds.meta.sets.end())
    throw Error(src.metadata + ": set \"" + set + "\" is not listed in \"sets\"");
  if (split != "train") {
    const std::string train_meta = root + "/train/dataset.json";
    if (std::filesystem::exists(train_meta))
      check_metadata_agree(metadata_from_json(read_json_file(train_meta), train_meta), train_meta, ds.meta, src.metadata);
  }
  const auto inputs = read_token_array(src.inputs, ds.meta.seq_len);
  const auto labels = read_token_array(src.labels, ds.meta.seq_len);
  if (labels.shape() != inputs.shape())
    throw Error(src.labels + ": shape " + shape_str(labels.shape()) + " differs from " + src.inputs + "'s " +
                shape_str(inputs.shape()));
  ds.num_examples = inputs.shape()[0];
  ds.inputs = inputs.u8();
  ds.labels = labels.u8();
  ds.storage = std::make_shared<KeepBoth>(KeepBoth{inputs.keepalive(), labels.keepalive()});
  ds.puzzle_identifiers = read_index_array(src.puzzle_identifiers);
  ds.puzzle_indices = read_index_array(src.puzzle_indices);
  ds.group_indices = read_index_array(src.group_indices);
  validate_dataset(ds, src);
  if (ds.meta.total_puzzles < 0) ds.meta.total_puzzles = ds.num_puzzles();
  return ds;
}

void write_split(const Dataset& ds, const std::string& root, const std::string& split) {
  validate_dataset(ds, DatasetSources::in_memory(split + " split"));
  const std::string dir = root + "/" + split;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create directory (" + ec.message() + ")");
  const std::string set = ds.meta.sets.size() == 1 ? ds.meta.sets[0] : "all";
  const auto src = DatasetSources::in_files(dir, set);
  const std::vector<std::int64_t> shape{ds.num_examples, ds.meta.seq_len};
  write_npy(src.inputs, NpyDtype::kU8, shape, ds.inputs.data());
  write_npy(src.labels, NpyDtype::kU8, shape, ds.labels.data());
  write_npy(src.puzzle_identifiers, NpyDtype::kI32, {ds.num_puzzles()}, ds.puzzle_identifiers.data());
  write_npy(src.puzzle_indices, NpyDtype::kI32, {ds.num_puzzles() + 1}, ds.puzzle_indices.data());
  write_npy(src.group_indices, NpyDtype::kI32, {ds.num_groups() + 1}, ds.group_indices.data());
  Metadata m = ds.meta;
  if (m.total_puzzles < 0) m.total_puzzles = ds.num_puzzles();
  write_text_file(src.metadata, metadata_to_json(m).dump() + "\n");
}

std::vector<std::string> read_identifiers(const std::string& root) {
  const std::string path = root + "/identifiers.json";
  const auto j = read_json_file(path);
  if (!j.is_array() || j.empty()) throw Error(path + ": expected a non-empty JSON list of names");
  if (static_cast<std::int64_t>(j.size()) > kMaxPuzzleIdentifiers)
    throw Error(path + ": holds " + std::to_string(j.size()) + " names, more than the " +
                std::to_string(kMaxPuzzleIdentifiers) + " puzzle identifiers a dataset may have");
  std::vector<std::string> names;
  names.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string())
      throw Error(path + ": entry " + std::to_string(i) + " is " + json_excerpt(j[i]) + ", not a string");
    names.push_back(j[i].get<std::string>());
  }
  if (names[0] != "<blank>") throw Error(path + ": entry 0 is \"" + names[0] + "\", expected \"<blank>\"");
  return names;
}

void write_identifiers(const std::string& root, const std::vector<std::string>& names) {
  const std::string path = root + "/identifiers.json";
  if (names.empty() || names[0] != "<blank>") throw Error(path + ": identifier 0 must be \"<blank>\"");
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) throw Error(root + ": cannot create directory (" + ec.message() + ")");
  write_text_file(path, nlohmann::json(names).dump() + "\n");
}

}  // namespace trm::data
