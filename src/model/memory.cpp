// Memory estimates (include/trm/model/memory.h). The model's own parts come from the same
// functions that size its allocations (TrmModel::construction_floats / reserve_floats), so they
// are exact; tests/test_memory.cpp compares them with what the CPU backend hands out.
#include "trm/model/memory.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "trm/model/model.h"

namespace trm {

namespace {

constexpr std::int64_t kFloat = sizeof(float);

// The ACT carry: z_H and z_L, each [batch, L, D] (src/train/act.cpp).
std::int64_t carry_bytes(const ModelConfig& cfg, int batch) {
  return 2 * kFloat * batch * static_cast<std::int64_t>(cfg.total_len()) * cfg.hidden_size;
}

std::int64_t table_bytes(const ModelConfig& cfg) {
  return kFloat * cfg.num_puzzle_identifiers * static_cast<std::int64_t>(cfg.puzzle_emb_ndim);
}

}  // namespace

std::string format_gib(std::int64_t bytes) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

std::string MemoryEstimate::describe() const {
  const double g = 1024.0 * 1024.0 * 1024.0;
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s (weights %.2f, puzzle table %.2f, activations %.2f, optimizer %.2f)",
                format_gib(total()).c_str(), static_cast<double>(weights) / g, static_cast<double>(puzzle_table) / g,
                static_cast<double>(activations) / g, static_cast<double>(optimizer) / g);
  return buf;
}

MemoryEstimate estimate_inference_memory(const ModelConfig& cfg, Backend& be, int batch) {
  TrmModel::check_batch(cfg, batch);
  MemoryEstimate m;
  m.puzzle_table = table_bytes(cfg);
  m.weights = kFloat * TrmModel::construction_floats(cfg, false) - m.puzzle_table;
  m.activations = kFloat * TrmModel::reserve_floats(cfg, be, batch, false) + carry_bytes(cfg, batch);
  return m;
}

MemoryEstimate estimate_training_memory(const ModelConfig& cfg, Backend& be, int global_batch, int micro_batch,
                                        int eval_batch) {
  for (int b : {global_batch, micro_batch, eval_batch}) TrmModel::check_batch(cfg, b);
  MemoryEstimate m;
  m.puzzle_table = table_bytes(cfg);
  // The training model and the EMA evaluation model (which shares the table).
  m.weights = kFloat * (TrmModel::construction_floats(cfg, false) + TrmModel::construction_floats(cfg, true)) -
              m.puzzle_table;
  m.activations = kFloat * TrmModel::reserve_floats(cfg, be, micro_batch, true) + carry_bytes(cfg, global_batch) +
                  kFloat * TrmModel::reserve_floats(cfg, be, eval_batch, false) + carry_bytes(cfg, eval_batch) +
                  kFloat * std::max<std::int64_t>(1, static_cast<std::int64_t>(global_batch) * cfg.puzzle_emb_ndim);
  // AdamATan2's m and v and the EMA span flat_size(): the table up to its last tensor's end.
  const auto table = make_param_table(cfg);
  m.optimizer = 3 * kFloat * (table.back().offset + table.back().numel);
  return m;
}

std::int64_t memory_available(Backend& be) {
  if (const char* env = std::getenv("TRM_MEMORY_LIMIT"); env && *env) {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    double scale = 1;
    switch (std::toupper(static_cast<unsigned char>(*end))) {
      case 'K': scale = 1024.0; ++end; break;
      case 'M': scale = 1024.0 * 1024; ++end; break;
      case 'G': scale = 1024.0 * 1024 * 1024; ++end; break;
      case 'T': scale = 1024.0 * 1024 * 1024 * 1024; ++end; break;
      default: break;
    }
    if (*end == 'i' || *end == 'I') ++end;
    if (*end == 'b' || *end == 'B') ++end;
    if (end == env || *end != '\0' || !(v >= 0) || v * scale > 9.0e18)
      throw Error(std::string("TRM_MEMORY_LIMIT=\"") + env + "\": expected a number of bytes, optionally with K, M, G or T");
    return static_cast<std::int64_t>(v * scale);
  }
  return be.memory_available();
}

void require_memory(Backend& be, std::int64_t bytes, const std::string& what) {
  const std::int64_t avail = memory_available(be);
  if (bytes > avail)
    throw OutOfMemory(what + " needs " + format_gib(bytes) + " of memory, " + format_gib(avail) + " available on " +
                be.name() + "; use a smaller batch or model");
}

}  // namespace trm
