// Filling Batch slots from dataset rows (internal; shared by the train and test samplers).
#pragma once
#include "trm/data/sampler.h"

namespace trm::data {

void prepare_batch(Batch& b, int batch_size, int seq_len);
void collate_row(const Dataset& ds, Batch& b, int slot, std::int64_t row, std::int64_t puzzle);
void pad_row(const Dataset& ds, Batch& b, int slot);

}  // namespace trm::data
