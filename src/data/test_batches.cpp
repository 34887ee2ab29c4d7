#include "data/collate.h"
#include "trm/error.h"
#include "trm/data/sampler.h"

namespace trm::data {

TestBatches::TestBatches(const Dataset& ds, int batch_size) : ds_(&ds), batch_size_(batch_size) {
  if (batch_size < 1) throw Error("test batch size must be >= 1, got " + std::to_string(batch_size));
}

std::int64_t TestBatches::num_batches() const { return (ds_->num_examples + batch_size_ - 1) / batch_size_; }

bool TestBatches::next(Batch& out) {
  const Dataset& ds = *ds_;
  if (row_ >= ds.num_examples) return false;
  prepare_batch(out, batch_size_, ds.meta.seq_len);
  for (int slot = 0; slot < batch_size_; ++slot) {
    if (row_ >= ds.num_examples) {
      pad_row(ds, out, slot);
      continue;
    }
    // Rows are visited in order, so the owning puzzle only moves forward (past empty puzzles too).
    while (ds.puzzle_indices[static_cast<std::size_t>(puzzle_) + 1] <= row_) ++puzzle_;
    collate_row(ds, out, slot, row_, puzzle_);
    ++row_;
  }
  return true;
}

}  // namespace trm::data
