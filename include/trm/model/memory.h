// What a configuration needs in memory, computed before anything is allocated, so that a config
// too large for the machine is refused with "needs X GiB, Y GiB available" instead of ending in
// std::bad_alloc (or the kernel's OOM killer) half-way through (docs/RELIABILITY.md).
#pragma once
#include <cstdint>
#include <string>

#include "trm/backend/backend.h"
#include "trm/model/config.h"

namespace trm {

// Bytes, by what they hold.
struct MemoryEstimate {
  std::int64_t weights = 0;       // parameters and their gradients (+ initial states, RoPE tables)
  std::int64_t puzzle_table = 0;  // the puzzle-embedding table
  std::int64_t activations = 0;   // reserve(): activation slots, workspace, heads, the ACT carry
  std::int64_t optimizer = 0;     // AdamATan2 moments and the EMA shadow
  std::int64_t total() const { return weights + puzzle_table + activations + optimizer; }
  // "1.23 GiB (weights 0.10, puzzle table 0.90, activations 0.20, optimizer 0.03)"
  std::string describe() const;
};

// A model with its carry running inference on batches of `batch`.
MemoryEstimate estimate_inference_memory(const ModelConfig& cfg, Backend& be, int batch);

// The trainer: the training model (micro-batch activations, carry of the global batch), its
// optimizer, the EMA evaluation model (sharing the puzzle table) at eval_batch, and the gathered
// puzzle-row gradients.
MemoryEstimate estimate_training_memory(const ModelConfig& cfg, Backend& be, int global_batch, int micro_batch,
                                        int eval_batch);

// Bytes the backend can still hand out: Backend::memory_available(), or the environment variable
// TRM_MEMORY_LIMIT (bytes, or with a K/M/G/T suffix) when set, to run as if on a smaller machine.
std::int64_t memory_available(Backend& be);

// Throws trm::Error "WHAT needs X GiB of memory, Y GiB available" when bytes exceed
// memory_available(be).
void require_memory(Backend& be, std::int64_t bytes, const std::string& what);

std::string format_gib(std::int64_t bytes);  // "1.23 GiB"

}  // namespace trm
