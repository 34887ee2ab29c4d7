#include "data/collate.h"

#include <algorithm>

namespace trm::data {

void prepare_batch(Batch& b, int batch_size, int seq_len) {
  b.size = batch_size;
  b.seq_len = seq_len;
  b.real = 0;
  const auto cells = static_cast<std::size_t>(batch_size) * static_cast<std::size_t>(seq_len);
  b.inputs.resize(cells);
  b.labels.resize(cells);
  b.puzzle_identifiers.resize(static_cast<std::size_t>(batch_size));
  b.rows.resize(static_cast<std::size_t>(batch_size));
  b.puzzles.resize(static_cast<std::size_t>(batch_size));
}

void collate_row(const Dataset& ds, Batch& b, int slot, std::int64_t row, std::int64_t puzzle) {
  const int S = ds.meta.seq_len;
  const std::uint8_t* in = ds.input_row(row);
  const std::uint8_t* lab = ds.label_row(row);
  std::int32_t* x = b.inputs.data() + static_cast<std::size_t>(slot) * static_cast<std::size_t>(S);
  std::int32_t* y = b.labels.data() + static_cast<std::size_t>(slot) * static_cast<std::size_t>(S);
  // -1 never equals a uint8 label, so "no ignore label" needs no separate loop.
  const int ignore = ds.meta.ignore_label_id.value_or(-1);
  for (int i = 0; i < S; ++i) {
    x[i] = in[i];
    y[i] = lab[i] == ignore ? kIgnoreLabel : static_cast<std::int32_t>(lab[i]);
  }
  b.puzzle_identifiers[static_cast<std::size_t>(slot)] = ds.puzzle_identifiers[static_cast<std::size_t>(puzzle)];
  b.rows[static_cast<std::size_t>(slot)] = row;
  b.puzzles[static_cast<std::size_t>(slot)] = puzzle;
  ++b.real;
}

void pad_row(const Dataset& ds, Batch& b, int slot) {
  const auto S = static_cast<std::size_t>(ds.meta.seq_len);
  const auto at = static_cast<std::size_t>(slot) * S;
  std::fill_n(b.inputs.begin() + static_cast<std::ptrdiff_t>(at), S, ds.meta.pad_id);
  std::fill_n(b.labels.begin() + static_cast<std::ptrdiff_t>(at), S, kIgnoreLabel);
  b.puzzle_identifiers[static_cast<std::size_t>(slot)] = ds.meta.blank_identifier_id;
  b.rows[static_cast<std::size_t>(slot)] = -1;
  b.puzzles[static_cast<std::size_t>(slot)] = -1;
}

std::int64_t puzzle_of_row(const Dataset& ds, std::int64_t row) {
  // puzzle_indices is monotone (empty puzzles repeat an index), so the upper bound minus one is
  // the last puzzle starting at or before the row.
  const auto& pi = ds.puzzle_indices;
  const auto it = std::upper_bound(pi.begin(), pi.end(), static_cast<std::int32_t>(row));
  return std::max<std::int64_t>(0, (it - pi.begin()) - 1);
}

void collate_rows(const Dataset& ds, std::span<const std::int64_t> rows, Batch& out) {
  prepare_batch(out, static_cast<int>(rows.size()), ds.meta.seq_len);
  for (std::size_t slot = 0; slot < rows.size(); ++slot)
    collate_row(ds, out, static_cast<int>(slot), rows[slot], puzzle_of_row(ds, rows[slot]));
}

void collate_range(const Dataset& ds, std::int64_t begin, int count, Batch& out, int padded_size) {
  prepare_batch(out, std::max(count, padded_size), ds.meta.seq_len);
  if (count == 0) return;
  // Rows in order: look the first one's puzzle up, then only walk forward (past empty puzzles).
  std::int64_t puzzle = puzzle_of_row(ds, begin);
  for (int slot = 0; slot < count; ++slot) {
    const std::int64_t row = begin + slot;
    while (ds.puzzle_indices[static_cast<std::size_t>(puzzle) + 1] <= row) ++puzzle;
    collate_row(ds, out, slot, row, puzzle);
  }
  for (int slot = count; slot < out.size; ++slot) pad_row(ds, out, slot);
}

}  // namespace trm::data
