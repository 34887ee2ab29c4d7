#include <algorithm>
#include <cmath>

#include "io/checked_size.h"
#include "trm/error.h"
#include "trm/data/dataset.h"

namespace trm::data {
namespace {

void check_tokens(std::span<const std::uint8_t> t, int vocab, int seq_len, const std::string& src) {
  // A plain max reduction vectorizes; the location is searched for only when something is wrong.
  std::uint8_t mx = 0;
  for (std::uint8_t v : t) mx = std::max(mx, v);
  if (mx < vocab) return;
  const auto it = std::find_if(t.begin(), t.end(), [&](std::uint8_t v) { return v >= vocab; });
  const auto pos = static_cast<std::int64_t>(it - t.begin());
  throw Error(src + ": row " + std::to_string(pos / seq_len) + ", position " + std::to_string(pos % seq_len) +
              " holds token " + std::to_string(*it) + ", but vocab_size is " + std::to_string(vocab));
}

void check_index_array(const std::vector<std::int32_t>& idx, std::int64_t entries, std::int64_t last, bool strict,
                       const std::string& what, const std::string& src) {
  if (static_cast<std::int64_t>(idx.size()) != entries + 1)
    throw Error(src + ": has " + std::to_string(idx.size()) + " entries, expected " + std::to_string(entries + 1) +
                " (" + what + " + 1)");
  if (idx[0] != 0) throw Error(src + ": first entry is " + std::to_string(idx[0]) + ", expected 0");
  for (std::size_t i = 1; i < idx.size(); ++i) {
    if (idx[i] < idx[i - 1] || (strict && idx[i] == idx[i - 1]))
      throw Error(src + ": entry " + std::to_string(i) + " (" + std::to_string(idx[i]) + ") is not " +
                  (strict ? "greater than" : "at least") + " entry " + std::to_string(i - 1) + " (" +
                  std::to_string(idx[i - 1]) + "); indices must be " + (strict ? "strictly increasing" : "non-decreasing"));
  }
  if (idx.back() != last)
    throw Error(src + ": last entry is " + std::to_string(idx.back()) + ", expected " + std::to_string(last));
}

}  // namespace

DatasetSources DatasetSources::in_files(const std::string& split_dir, const std::string& set) {
  const std::string p = split_dir + "/" + set + "__";
  return {split_dir + "/dataset.json", p + "inputs.npy", p + "labels.npy", p + "puzzle_identifiers.npy",
          p + "puzzle_indices.npy", p + "group_indices.npy"};
}

DatasetSources DatasetSources::in_memory(const std::string& what) {
  return {what + " metadata", what + " inputs", what + " labels", what + " puzzle_identifiers",
          what + " puzzle_indices", what + " group_indices"};
}

void validate_dataset(const Dataset& ds, const DatasetSources& src) {
  const Metadata& m = ds.meta;
  if (m.seq_len <= 0 || m.seq_len > kMaxSeqLen)
    throw Error(src.metadata + ": seq_len " + std::to_string(m.seq_len) + " is outside [1, " + std::to_string(kMaxSeqLen) + "]");
  if (m.vocab_size < 1 || m.vocab_size > 256) throw Error(src.metadata + ": vocab_size must be in [1, 256] for uint8 tokens");
  if (m.num_puzzle_identifiers < 1 || m.num_puzzle_identifiers > kMaxPuzzleIdentifiers)
    throw Error(src.metadata + ": num_puzzle_identifiers " + std::to_string(m.num_puzzle_identifiers) + " is outside [1, " +
                std::to_string(kMaxPuzzleIdentifiers) + "]");
  if (m.pad_id < 0 || m.pad_id >= m.vocab_size)
    throw Error(src.metadata + ": pad_id " + std::to_string(m.pad_id) + " is outside [0, vocab_size)");
  if (m.ignore_label_id && (*m.ignore_label_id < 0 || *m.ignore_label_id >= m.vocab_size))
    throw Error(src.metadata + ": ignore_label_id " + std::to_string(*m.ignore_label_id) + " is outside [0, vocab_size)");
  if (m.blank_identifier_id < 0 || m.blank_identifier_id >= m.num_puzzle_identifiers)
    throw Error(src.metadata + ": blank_identifier_id " + std::to_string(m.blank_identifier_id) +
                " is outside [0, num_puzzle_identifiers)");
  if (m.sets.empty()) throw Error(src.metadata + ": \"sets\" is empty");
  for (std::size_t i = 0; i < m.sets.size(); ++i)
    for (std::size_t k = 0; k < i; ++k)
      if (m.sets[i] == m.sets[k]) throw Error(src.metadata + ": \"sets\" lists \"" + m.sets[i] + "\" twice");
  const std::int64_t n = ds.num_examples;
  if (n < 0) throw Error(src.inputs + ": negative example count");
  const auto cells = static_cast<std::size_t>(io::checked_mul(n, m.seq_len, src.inputs, "token count"));
  if (ds.inputs.size() != cells)
    throw Error(src.inputs + ": holds " + std::to_string(ds.inputs.size()) + " tokens, expected " + std::to_string(n) +
                " x seq_len " + std::to_string(m.seq_len));
  if (ds.labels.size() != cells)
    throw Error(src.labels + ": holds " + std::to_string(ds.labels.size()) + " tokens, expected " + std::to_string(n) +
                " x seq_len " + std::to_string(m.seq_len) + " (the shape of the inputs)");
  const std::int64_t p = ds.num_puzzles();
  check_index_array(ds.puzzle_indices, p, n, false, "puzzles", src.puzzle_indices);
  if (ds.group_indices.empty()) throw Error(src.group_indices + ": is empty, expected at least the entry 0");
  // Strict for groups: the sampler draws a puzzle from every group, so none may be empty.
  check_index_array(ds.group_indices, ds.num_groups(), p, true, "groups", src.group_indices);
  for (std::size_t i = 0; i < ds.puzzle_identifiers.size(); ++i) {
    const auto id = ds.puzzle_identifiers[i];
    if (id < 0 || id >= m.num_puzzle_identifiers)
      throw Error(src.puzzle_identifiers + ": entry " + std::to_string(i) + " is " + std::to_string(id) +
                  ", outside [0, num_puzzle_identifiers = " + std::to_string(m.num_puzzle_identifiers) + ")");
  }
  check_tokens(ds.inputs, m.vocab_size, m.seq_len, src.inputs);
  check_tokens(ds.labels, m.vocab_size, m.seq_len, src.labels);
  // With several sets the totals in dataset.json add up over all of them: each set's own count is
  // at most the total.
  if (m.sets.size() > 1) {
    if (m.total_groups < ds.num_groups())
      throw Error(src.metadata + ": total_groups is " + std::to_string(m.total_groups) + ", but " + src.group_indices +
                  " alone describes " + std::to_string(ds.num_groups()) + " groups");
    if (m.total_puzzles >= 0 && m.total_puzzles < p)
      throw Error(src.metadata + ": total_puzzles is " + std::to_string(m.total_puzzles) + ", but " +
                  src.puzzle_identifiers + " alone holds " + std::to_string(p) + " puzzles");
  } else {
    if (m.total_groups != ds.num_groups())
      throw Error(src.metadata + ": total_groups is " + std::to_string(m.total_groups) + ", but " + src.group_indices +
                  " describes " + std::to_string(ds.num_groups()) + " groups");
    if (m.total_puzzles >= 0 && m.total_puzzles != p)
      throw Error(src.metadata + ": total_puzzles is " + std::to_string(m.total_puzzles) + ", but " +
                  src.puzzle_identifiers + " holds " + std::to_string(p) + " puzzles");
    if (p > 0) {
      const double mean = static_cast<double>(n) / static_cast<double>(p);
      if (std::abs(m.mean_puzzle_examples - mean) > 1e-6 * std::max(1.0, mean))
        throw Error(src.metadata + ": mean_puzzle_examples is " + std::to_string(m.mean_puzzle_examples) +
                    ", but the arrays hold " + std::to_string(n) + " examples in " + std::to_string(p) +
                    " puzzles (mean " + std::to_string(mean) + ")");
    }
  }
}

}  // namespace trm::data
