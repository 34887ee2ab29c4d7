// Small model configs and host copies for the tests that build a real TrmModel, so that each
// test states only the sizes it cares about.
#pragma once
#include <cstdint>
#include <vector>

#include "trm/backend/backend.h"
#include "trm/model/config.h"
#include "trm/model/presets.h"

namespace trm::test_util {

// A model small enough to build and step in milliseconds: the given task and width sizes, the
// puzzle embedding as wide as the hidden state, and the shallowest recursion (one H cycle of one
// L cycle through one layer). Everything else keeps ModelConfig's defaults; callers override
// what their test is about.
inline ModelConfig tiny_model_config(int vocab_size, int seq_len, int hidden_size, int num_heads,
                                     int puzzle_emb_len) {
  ModelConfig c;
  c.vocab_size = vocab_size;
  c.seq_len = seq_len;
  c.hidden_size = hidden_size;
  c.num_heads = num_heads;
  c.puzzle_emb_ndim = hidden_size;
  c.puzzle_emb_len = puzzle_emb_len;
  c.H_cycles = 1;
  c.L_cycles = 1;
  c.L_layers = 1;
  return c;
}

// The tiny-sudoku-mlp preset sized for 4x4 Sudoku (16 cells; tokens pad, blank, digits 1..4).
inline ModelConfig tiny_sudoku_mlp_4x4() {
  ModelConfig c = find_preset("tiny-sudoku-mlp").model;
  c.seq_len = 16;
  c.vocab_size = 6;
  return c;
}

// n floats of backend memory at p, copied to the host.
inline std::vector<float> to_host(Backend& be, const float* p, std::int64_t n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  be.to_host(p, v.data(), n);
  return v;
}

}  // namespace trm::test_util
