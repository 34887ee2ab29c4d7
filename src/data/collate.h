// The one path from dataset rows to a batch (internal): the train sampler, the test batches,
// evaluation, ARC voting and ARC test-time training all fill their batches through collate_row,
// so the collation rule lives in one place: tokens cast to int32, labels equal to the split's
// metadata ignore_label_id become kIgnoreLabel, each row's puzzle identifier is its puzzle's
// (the last puzzle p with puzzle_indices[p] <= row), padding slots get pad_id / kIgnoreLabel /
// blank_identifier_id.
#pragma once
#include <cstdint>
#include <span>

#include "trm/data/sampler.h"

namespace trm::data {

// Sizes `b` for batch_size slots of seq_len tokens (no reallocation once it has held as many)
// with no real rows yet.
void prepare_batch(Batch& b, int batch_size, int seq_len);
// Slot `slot` takes dataset row `row` of puzzle `puzzle` (a caller that walks puzzles knows it).
void collate_row(const Dataset& ds, Batch& b, int slot, std::int64_t row, std::int64_t puzzle);
void pad_row(const Dataset& ds, Batch& b, int slot);

// The puzzle holding `row`: the last p with puzzle_indices[p] <= row, which skips empty puzzles.
std::int64_t puzzle_of_row(const Dataset& ds, std::int64_t row);

// A batch of exactly rows.size() slots holding those rows, in that order.
void collate_rows(const Dataset& ds, std::span<const std::int64_t> rows, Batch& out);
// A batch of max(count, padded_size) slots: rows [begin, begin + count), then padding.
void collate_range(const Dataset& ds, std::int64_t begin, int count, Batch& out, int padded_size = 0);

}  // namespace trm::data
