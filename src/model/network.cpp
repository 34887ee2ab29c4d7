// The shared blocks (docs/REFERENCE.md §2.4) and stacks of them (§2.5), and their workspace.
#include "model/network.h"

#include <algorithm>
#include <array>
#include <span>
#include <utility>

namespace trm::detail {

namespace {

// Every buffer starts 16 floats (64 bytes) apart, like the tensors of the flat parameter buffer.
std::int64_t padded(std::int64_t n) { return (n + 15) / 16 * 16; }

// One pointer field of T and the floats it gets (0: the field stays null).
template <class T>
struct Piece {
  float* T::*field;
  std::int64_t n;
};

template <class T>
std::int64_t total_size(std::span<const Piece<T>> pieces) {
  std::int64_t total = 0;
  for (const auto& piece : pieces) total += padded(piece.n);
  return total;
}

// Points the fields of obj at consecutive pieces of memory from p; returns where the next begins.
template <class T>
float* carve(T& obj, std::span<const Piece<T>> pieces, float* p) {
  for (const auto& piece : pieces) {
    obj.*piece.field = piece.n ? p : nullptr;
    p += padded(piece.n);
  }
  return p;
}

// The sizes of what one block application keeps (0 for the other block type's fields), and of the
// backward scratch: the recurrences' [R, D] buffers, then the per-block ones. Shared by reserve()
// and workspace_floats() so the memory estimate is the allocation.
std::array<Piece<Slot>, 12> slot_pieces(const ModelConfig& cfg, std::int64_t B) {
  const std::int64_t L = cfg.total_len(), D = cfg.hidden_size, R = B * L;
  const std::int64_t I = cfg.mlp_inter(), H = cfg.num_heads;
  const std::int64_t It = cfg.mlp_t ? cfg.mlp_t_inter() : 0;
  const bool att = !cfg.mlp_t;
  return {{{&Slot::in, R * D},           {&Slot::qkv, att ? R * 3 * D : 0}, {&Slot::attn, att ? R * D : 0},
           {&Slot::lse, att ? B * H * L : 0}, {&Slot::gu_t, B * 2 * It * D},  {&Slot::act_t, B * It * D},
           {&Slot::h1, R * D},           {&Slot::rinv1, att ? R : B * D},   {&Slot::gu, R * 2 * I},
           {&Slot::act, R * I},          {&Slot::out, R * D},               {&Slot::rinv2, R}}};
}

}  // namespace

// A friend of Network (its per-block scratch pointers are private).
struct NetworkLayout {
  static std::array<Piece<Network>, 10> bwd_pieces(const ModelConfig& cfg, std::int64_t B);
};

std::array<Piece<Network>, 10> NetworkLayout::bwd_pieces(const ModelConfig& cfg, std::int64_t B) {
  const std::int64_t L = cfg.total_len(), D = cfg.hidden_size, R = B * L, I = cfg.mlp_inter();
  const std::int64_t It = cfg.mlp_t ? cfg.mlp_t_inter() : 0;
  const bool att = !cfg.mlp_t;
  return {{{&Network::d_a, R * D},          {&Network::d_b, R * D},
           {&Network::d_x, R * D},          {&Network::d_zh, R * D},
           {&Network::d_attn_, att ? R * D : 0}, {&Network::d_qkv_, att ? R * 3 * D : 0},
           {&Network::d_gu_, R * 2 * I},    {&Network::d_act_, R * I},
           {&Network::d_gu_t_, B * 2 * It * D}, {&Network::d_act_t_, B * It * D}}};
}

std::int64_t Network::workspace_floats(const ModelConfig& cfg, Backend& be, int max_batch, bool training,
                                       int nslots) {
  const auto sp = slot_pieces(cfg, max_batch);
  std::int64_t n = total_size<Slot>(sp) * nslots;
  if (!cfg.mlp_t) n += be.attention_workspace(cfg.total_len());
  if (training) n += total_size<Network>(NetworkLayout::bwd_pieces(cfg, max_batch));
  return n;
}

std::int64_t Network::largest_buffer(const ModelConfig& cfg, int max_batch) {
  std::int64_t n = 0;
  for (const auto& p : slot_pieces(cfg, max_batch)) n = std::max(n, p.n);
  for (const auto& p : NetworkLayout::bwd_pieces(cfg, max_batch)) n = std::max(n, p.n);
  return n;
}

Network::Network(const ModelConfig& cfg_in, Backend& be_in, std::vector<LayerWeights> params,
                 std::vector<LayerWeights> grads, const float* rope_cos, const float* rope_sin)
    : cfg(cfg_in), be(be_in), w_(std::move(params)), g_(std::move(grads)), rope_cos_(rope_cos), rope_sin_(rope_sin) {}

void Network::reserve(int max_batch, bool training_in, int nslots) {
  const auto sp = slot_pieces(cfg, max_batch);
  slots.assign(static_cast<std::size_t>(nslots), Slot{});
  slot_mem_ = DeviceBuffer(be, total_size<Slot>(sp) * nslots);
  float* p = slot_mem_.data();
  for (Slot& s : slots) p = carve<Slot>(s, sp, p);
  attn_ws_ = cfg.mlp_t ? DeviceBuffer() : DeviceBuffer(be, be.attention_workspace(cfg.total_len()));

  training = training_in;
  const auto bp = NetworkLayout::bwd_pieces(cfg, max_batch);
  if (training) {
    bwd_mem_ = DeviceBuffer(be, total_size<Network>(bp));
    carve<Network>(*this, bp, bwd_mem_.data());
  } else {
    bwd_mem_.reset();
    for (const auto& piece : bp) this->*piece.field = nullptr;
  }
}

void Network::block_forward(int block, const float* in, Slot& s) {
  const int B = batch, L = cfg.total_len(), D = cfg.hidden_size, R = B * L, I = cfg.mlp_inter();
  const float eps = static_cast<float>(cfg.rms_norm_eps);
  const LayerWeights& w = w_[static_cast<std::size_t>(block)];
  if (cfg.mlp_t) {
    // Sequence mixing on [B, L, D] without transposing: per sample y_b = W x_b mixes positions.
    const int It = cfg.mlp_t_inter();
    be.left_linear_fwd(w.gu_t, in, s.gu_t, B, 2 * It, L, D);
    be.swiglu_fwd(s.gu_t, s.act_t, B, It * D);  // gate rows [0, It), up rows [It, 2It) per sample
    be.left_linear_fwd(w.down_t, s.act_t, s.h1, B, L, It, D);
    be.add_rmsnorm_seq(in, s.h1, s.h1, s.rinv1, B, L, D, eps);  // norm over the sequence axis
  } else {
    const int H = cfg.num_heads, hd = cfg.head_dim();
    be.linear_fwd(in, D, w.qkv, s.qkv, 3 * D, R, D, 3 * D);
    if (cfg.pos_encodings == PosEncoding::kRope) be.rope(s.qkv, B, L, H, hd, rope_cos_, rope_sin_, false);
    be.attention_fwd(s.qkv, s.attn, s.lse, B, L, H, hd, attn_ws_.data());
    be.linear_fwd(s.attn, D, w.o, s.h1, D, R, D, D);
    be.add_rmsnorm(in, s.h1, s.h1, s.rinv1, R, D, eps);
  }
  be.linear_fwd(s.h1, D, w.gu, s.gu, 2 * I, R, D, 2 * I);
  be.swiglu_fwd(s.gu, s.act, R, I);
  be.linear_fwd(s.act, I, w.down, s.out, D, R, I, D);
  be.add_rmsnorm(s.h1, s.out, s.out, s.rinv2, R, D, eps);
}

void Network::block_backward(int block, const float* in, Slot& s, float* dout, float* din) {
  const int B = batch, L = cfg.total_len(), D = cfg.hidden_size, R = B * L, I = cfg.mlp_inter();
  const LayerWeights& w = w_[static_cast<std::size_t>(block)];
  const LayerWeights& g = g_[static_cast<std::size_t>(block)];
  // Channel MLP sublayer: out = rms(h1 + down(swiglu(gu(h1)))).
  be.rmsnorm_bwd(s.out, s.rinv2, dout, dout, R, D);  // dout := d(h1 + m)
  be.linear_bwd(s.act, I, w.down, dout, D, d_act_, I, g.down, R, I, D, false);
  be.swiglu_bwd(s.gu, d_act_, d_gu_, R, I);
  be.linear_bwd(s.h1, D, w.gu, d_gu_, 2 * I, dout, D, g.gu, R, D, 2 * I, true);  // dout := d h1
  if (cfg.mlp_t) {
    const int It = cfg.mlp_t_inter();
    be.rmsnorm_seq_bwd(s.h1, s.rinv1, dout, din, B, L, D);  // din := d(in + m_t)
    be.left_linear_bwd(w.down_t, s.act_t, din, d_act_t_, g.down_t, B, L, It, D);
    be.swiglu_bwd(s.gu_t, d_act_t_, d_gu_t_, B, It * D);
    be.left_linear_bwd(w.gu_t, in, d_gu_t_, dout, g.gu_t, B, 2 * It, L, D);
    be.accumulate(din, dout, static_cast<std::int64_t>(R) * D);
  } else {
    const int H = cfg.num_heads, hd = cfg.head_dim();
    be.rmsnorm_bwd(s.h1, s.rinv1, dout, din, R, D);  // din := d(in + a)
    be.linear_bwd(s.attn, D, w.o, din, D, d_attn_, D, g.o, R, D, D, false);
    be.attention_bwd(s.qkv, s.attn, s.lse, d_attn_, d_qkv_, B, L, H, hd, attn_ws_.data());
    if (cfg.pos_encodings == PosEncoding::kRope) be.rope(d_qkv_, B, L, H, hd, rope_cos_, rope_sin_, true);
    be.linear_bwd(in, D, w.qkv, d_qkv_, 3 * D, din, D, g.qkv, R, D, 3 * D, true);
  }
}

const float* Network::stack_forward(Stack stack, const float* a, const float* b, const float* c, Slot* call_slots) {
  // The injection is added once, then the blocks run (§2.5).
  if (c)
    be.add3(a, b, c, call_slots[0].in, state_size());
  else
    be.add(a, b, call_slots[0].in, state_size());
  const float* in = call_slots[0].in;
  for (int l = 0; l < stack.count; ++l) {
    block_forward(stack.first + l, in, call_slots[l]);
    in = call_slots[l].out;
  }
  return in;
}

float* Network::stack_backward(Stack stack, Slot* call_slots, float* dout) {
  // Each block reads d(out) from one buffer and writes d(in) to the other.
  float* cur = dout;
  float* next = dout == d_a ? d_b : d_a;
  for (int l = stack.count - 1; l >= 0; --l) {
    const float* in = l == 0 ? call_slots[0].in : call_slots[l - 1].out;
    block_backward(stack.first + l, in, call_slots[l], cur, next);
    std::swap(cur, next);
  }
  return cur;
}

}  // namespace trm::detail
