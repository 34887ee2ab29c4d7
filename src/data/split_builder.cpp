#include <limits>
#include <stdexcept>

#include "trm/error.h"
#include "trm/data/dataset.h"

namespace trm::data {
namespace {

struct OwnedTokens {
  std::vector<std::uint8_t> inputs, labels;
};

}  // namespace

SplitBuilder::SplitBuilder(int seq_len) : seq_len_(seq_len) {
  if (seq_len <= 0) throw std::logic_error("SplitBuilder: seq_len must be positive");
}

void SplitBuilder::reserve(std::int64_t examples) {
  inputs_.reserve(static_cast<std::size_t>(examples * seq_len_));
  labels_.reserve(static_cast<std::size_t>(examples * seq_len_));
}

void SplitBuilder::add_example(std::span<const std::uint8_t> input, std::span<const std::uint8_t> label) {
  // Builders control these sizes, so a mismatch is a bug rather than bad input.
  if (static_cast<int>(input.size()) != seq_len_ || static_cast<int>(label.size()) != seq_len_)
    throw std::logic_error("SplitBuilder::add_example: row length differs from seq_len");
  inputs_.insert(inputs_.end(), input.begin(), input.end());
  labels_.insert(labels_.end(), label.begin(), label.end());
}

void SplitBuilder::end_puzzle(std::int32_t identifier) {
  if (num_examples() > std::numeric_limits<std::int32_t>::max())
    throw Error("dataset too large: " + std::to_string(num_examples()) +
                " examples exceed the int32 indices of the on-disk format");
  puzzle_indices_.push_back(static_cast<std::int32_t>(num_examples()));
  puzzle_identifiers_.push_back(identifier);
}

void SplitBuilder::end_group() {
  if (static_cast<std::int32_t>(puzzle_identifiers_.size()) == group_indices_.back())
    throw std::logic_error("SplitBuilder::end_group: group has no puzzle");
  group_indices_.push_back(static_cast<std::int32_t>(puzzle_identifiers_.size()));
}

Dataset SplitBuilder::finish(Metadata meta) && {
  if (puzzle_indices_.back() != num_examples())
    throw std::logic_error("SplitBuilder::finish: examples added after the last end_puzzle");
  if (group_indices_.back() != static_cast<std::int32_t>(puzzle_identifiers_.size()))
    throw std::logic_error("SplitBuilder::finish: puzzles ended after the last end_group");
  Dataset ds;
  ds.num_examples = num_examples();
  meta.seq_len = seq_len_;
  meta.total_groups = static_cast<std::int64_t>(group_indices_.size()) - 1;
  meta.total_puzzles = static_cast<std::int64_t>(puzzle_identifiers_.size());
  meta.mean_puzzle_examples =
      meta.total_puzzles > 0 ? static_cast<double>(ds.num_examples) / static_cast<double>(meta.total_puzzles) : 0.0;
  ds.meta = std::move(meta);
  auto owned = std::make_shared<OwnedTokens>(OwnedTokens{std::move(inputs_), std::move(labels_)});
  ds.inputs = owned->inputs;
  ds.labels = owned->labels;
  ds.storage = owned;
  ds.puzzle_identifiers = std::move(puzzle_identifiers_);
  ds.puzzle_indices = std::move(puzzle_indices_);
  ds.group_indices = std::move(group_indices_);
  validate_dataset(ds, DatasetSources::in_memory("built split"));
  return ds;
}

}  // namespace trm::data
