#include <algorithm>

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
  const int n = static_cast<int>(std::min<std::int64_t>(batch_size_, ds.num_examples - row_));
  collate_range(ds, row_, n, out, batch_size_);  // the last chunk is padded to the batch size
  row_ += n;
  return true;
}

}  // namespace trm::data
