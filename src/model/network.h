// The shared building blocks every recurrence is written with (docs/REFERENCE.md §2.4–2.5), and
// the activation memory they run in. Private to src/model/: TrmModel owns one Network and hands
// it to its Recurrence (src/model/recurrence.h), the way llama.cpp's per-architecture graph
// builders share one set of build_* helpers.
//
// A block is one transformer (or MLP-T) layer with its own weights: blocks [0, L_layers) are
// L_level.layers.*, then (HRM) [L_layers, L_layers + H_layers) are H_level.layers.*, the order of
// the parameter table (TrmModel::block_prefix). A Stack is a run of consecutive blocks applied to
// one injected input a + b (+ c): TRM's single network, HRM's L or H level.
#pragma once
#include <cstdint>
#include <vector>

#include "trm/backend/backend.h"
#include "trm/model/config.h"

namespace trm::detail {

// Pointers to one block's weights (or gradients: same layout, other base).
struct LayerWeights {
  float* qkv = nullptr;     // [3D, D]
  float* o = nullptr;       // [D, D]
  float* gu_t = nullptr;    // [2 It, L]
  float* down_t = nullptr;  // [L, It]
  float* gu = nullptr;      // [2I, D]
  float* down = nullptr;    // [D, I]
};

// Activations of one block application, kept for its backward. Fields the block type does not
// use (attention's with mlp_t, MLP-T's without) are null.
struct Slot {
  float* in = nullptr;      // [R, D] block input (used by the first block of a stack: the injected sum)
  float* qkv = nullptr;     // [R, 3D] after RoPE
  float* attn = nullptr;    // [R, D] attention output before o_proj
  float* lse = nullptr;     // [B, H, L]
  float* gu_t = nullptr;    // [B, 2It, D]
  float* act_t = nullptr;   // [B, It, D]
  float* h1 = nullptr;      // [R, D] after the first norm
  float* rinv1 = nullptr;   // [R] or [B, D] (sequence norm)
  float* gu = nullptr;      // [R, 2I]
  float* act = nullptr;     // [R, I]
  float* out = nullptr;     // [R, D] block output
  float* rinv2 = nullptr;   // [R]
};

// `count` consecutive blocks from block index `first`; a stack call uses `count` slots.
struct Stack {
  int first = 0;
  int count = 0;
};

class Network {
 public:
  // params/grads: per block, its weights inside the model's flat parameter/gradient buffers.
  // rope_cos/rope_sin: the [L, head_dim] tables, null unless pos_encodings is RoPE. The config and
  // the backend must outlive the network (TrmModel owns all three).
  Network(const ModelConfig& cfg, Backend& be, std::vector<LayerWeights> params, std::vector<LayerWeights> grads,
          const float* rope_cos, const float* rope_sin);

  // Carves `nslots` activation slots for batches up to max_batch out of one allocation, the
  // attention workspace and, when training, the backward scratch. The only allocating call.
  void reserve(int max_batch, bool training, int nslots);
  // Floats reserve() allocates for these arguments (the memory estimate, include/trm/model/memory.h).
  static std::int64_t workspace_floats(const ModelConfig& cfg, Backend& be, int max_batch, bool training,
                                       int nslots);
  // Elements of the largest single activation buffer at max_batch: the kernels index a buffer
  // with int row * int stride, so it must stay below 2^31.
  static std::int64_t largest_buffer(const ModelConfig& cfg, int max_batch);

  // Floats in one recurrent state [batch, L, D] (z_H, z_L, the input embedding x).
  std::int64_t state_size() const {
    return static_cast<std::int64_t>(batch) * cfg.total_len() * cfg.hidden_size;
  }

  // One block on `in`; its activations go to s (s.out is the output).
  void block_forward(int block, const float* in, Slot& s);
  // Adds the block's weight gradients; dout is clobbered, the input gradient is written to din.
  void block_backward(int block, const float* in, Slot& s, float* dout, float* din);
  // Runs the stack on in = a + b (+ c, when not null), block i in call_slots[i]; returns the output
  // (inside the slots).
  const float* stack_forward(Stack stack, const float* a, const float* b, const float* c, Slot* call_slots);
  // Backward through one recorded stack call from d(output) in dout. Ping-pongs between dout
  // (clobbered) and whichever of d_a/d_b dout is not, so a chain of calls can pass each result
  // on as the next dout; returns the buffer holding d(input) (dout itself or that one).
  float* stack_backward(Stack stack, Slot* call_slots, float* dout);

  const ModelConfig& cfg;
  Backend& be;
  int batch = 0;            // B of the current forward; TrmModel::forward sets it
  bool training = false;    // reserved for training: the backward scratch below exists
  std::vector<Slot> slots;  // the Recurrence decides which call records into which slots
  // Backward scratch [R, D] each (null unless training): the ping-pong pair of stack_backward,
  // d x (the recurrences accumulate the input-embedding gradient here) and d z_H (the heads').
  float *d_a = nullptr, *d_b = nullptr, *d_x = nullptr, *d_zh = nullptr;

 private:
  friend struct NetworkLayout;  // network.cpp: the layout of the backward scratch
  std::vector<LayerWeights> w_, g_;
  const float* rope_cos_;
  const float* rope_sin_;
  DeviceBuffer slot_mem_, attn_ws_, bwd_mem_;
  // Per-block backward scratch, overwritten by every block_backward.
  float *d_attn_ = nullptr, *d_qkv_ = nullptr, *d_gu_ = nullptr, *d_act_ = nullptr, *d_gu_t_ = nullptr,
        *d_act_t_ = nullptr;
};

}  // namespace trm::detail
