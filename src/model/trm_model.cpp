// Forward, loss and backward of one TRM supervision step, written against the Backend seam.
#include <algorithm>
#include <cmath>

#include "model/host_math.h"
#include "trm/model.h"

namespace trm {

void q_continue_targets(const float* next_q, const std::int32_t* steps_before, int n, int halt_max_steps,
                        double* target) {
  for (int b = 0; b < n; ++b) {
    const double qh = next_q[2 * b], qc = next_q[2 * b + 1];
    const double logit = steps_before[b] + 1 >= halt_max_steps ? qh : std::max(qh, qc);
    target[b] = 1.0 / (1.0 + std::exp(-logit));
  }
}

// Pointers to one block's weights (or gradients: same layout, other base).
struct TrmModel::LayerWeights {
  float* qkv = nullptr;   // [3D, D]
  float* o = nullptr;     // [D, D]
  float* gu_t = nullptr;  // [2 It, L]
  float* down_t = nullptr;  // [L, It]
  float* gu = nullptr;    // [2I, D]
  float* down = nullptr;  // [D, I]
};

// Activations of one block application. In the differentiated round there is one slot per
// (net call, layer); the no-grad rounds reuse two of them.
struct TrmModel::Slot {
  float* in = nullptr;      // [R, D] block input (used by layer 0 of a net call: the injected sum)
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

struct TrmModel::Workspace {
  DeviceBuffer slot_mem, x, attn_ws, bwd_mem;
  std::vector<Slot> slots;  // (n+1) * L_layers when training, else L_layers
  // Backward scratch.
  float *d_a = nullptr, *d_b = nullptr, *d_x = nullptr, *d_zh = nullptr;
  float *d_attn = nullptr, *d_qkv = nullptr, *d_gu = nullptr, *d_act = nullptr, *d_gu_t = nullptr,
        *d_act_t = nullptr;
  DeviceBuffer puz_rows;
  // HRM training: the bootstrap forward's private carry copy [2, B, L, D] and q [B, 2].
  DeviceBuffer next_state, q_next;
};

TrmModel::TrmModel(const ModelConfig& cfg, Backend& backend, TrmModel* puzzle_table_owner)
    : cfg_(cfg), be_(backend) {
  cfg_.validate();
  build_param_table();
  off_tok_ = info("embed_tokens.embedding_weight").offset;
  if (cfg_.pos_encodings == PosEncoding::kLearned) off_pos_ = info("embed_pos.embedding_weight").offset;
  off_lm_ = info("lm_head.weight").offset;
  off_qw_ = info("q_head.weight").offset;
  off_qb_ = info("q_head.bias").offset;
  for (int l = 0; l < cfg_.num_blocks(); ++l) {
    layer_params_.push_back(layer_weights(params(), l));
    layer_grads_.push_back(layer_weights(grads(), l));
  }
  const int D = cfg_.hidden_size;
  const std::int64_t table_size = static_cast<std::int64_t>(cfg_.num_puzzle_identifiers) * cfg_.puzzle_emb_ndim;
  if (puzzle_table_owner) {
    if (puzzle_table_owner->puz_size_ != table_size || &puzzle_table_owner->be_ != &be_)
      throw Error("TrmModel: the puzzle table to share has another shape or backend");
    puz_ = puzzle_table_owner->puz_;
  } else {
    puzzle_table_ = DeviceBuffer(be_, table_size);
    puz_ = puzzle_table_.data();
  }
  puz_size_ = table_size;
  h_init_ = DeviceBuffer(be_, D);
  l_init_ = DeviceBuffer(be_, D);
  if (cfg_.pos_encodings == PosEncoding::kRope) {
    const int L = cfg_.total_len(), hd = cfg_.head_dim();
    std::vector<float> c(static_cast<std::size_t>(L) * hd), s(c.size());
    host::rope_tables<float>(c.data(), s.data(), L, hd, cfg_.rope_theta);
    rope_cos_ = DeviceBuffer(be_, static_cast<std::int64_t>(c.size()));
    rope_sin_ = DeviceBuffer(be_, static_cast<std::int64_t>(s.size()));
    be_.from_host(c.data(), rope_cos_.data(), static_cast<std::int64_t>(c.size()));
    be_.from_host(s.data(), rope_sin_.data(), static_cast<std::int64_t>(s.size()));
  }
}

TrmModel::~TrmModel() = default;


TrmModel::LayerWeights TrmModel::layer_weights(float* base, int layer) const {
  const std::string p = block_prefix(layer);
  LayerWeights w;
  if (cfg_.mlp_t) {
    w.gu_t = base + info(p + "mlp_t.gate_up_proj.weight").offset;
    w.down_t = base + info(p + "mlp_t.down_proj.weight").offset;
  } else {
    w.qkv = base + info(p + "self_attn.qkv_proj.weight").offset;
    w.o = base + info(p + "self_attn.o_proj.weight").offset;
  }
  w.gu = base + info(p + "mlp.gate_up_proj.weight").offset;
  w.down = base + info(p + "mlp.down_proj.weight").offset;
  return w;
}

void TrmModel::reserve(int max_batch, bool training) {
  if (max_batch < 1) throw Error("batch size must be >= 1 (got " + std::to_string(max_batch) + ")");
  if (ws_ && max_batch <= max_batch_ && (training_ws_ || !training)) return;
  const std::int64_t B = max_batch, L = cfg_.total_len(), D = cfg_.hidden_size, R = B * L;
  const std::int64_t I = cfg_.mlp_inter(), H = cfg_.num_heads, S = cfg_.seq_len, V = cfg_.vocab_size;
  const std::int64_t It = cfg_.mlp_t ? cfg_.mlp_t_inter() : 0;
  int nslots = (training ? cfg_.L_cycles + 1 : 1) * cfg_.L_layers;
  // HRM records one L call and one H call, and its no-grad calls use the slots after those.
  if (cfg_.arch == Arch::kHrm) nslots = hrm_scratch_slot(training) + std::max(cfg_.L_layers, cfg_.H_layers);

  auto ws = std::make_unique<Workspace>();
  // Carve every slot out of one allocation.
  std::int64_t per_slot = 0;
  auto sz = [&](std::int64_t n) { return (n + 15) / 16 * 16; };
  const std::int64_t n_in = sz(R * D), n_qkv = cfg_.mlp_t ? 0 : sz(R * 3 * D), n_attn = cfg_.mlp_t ? 0 : sz(R * D),
                     n_lse = cfg_.mlp_t ? 0 : sz(B * H * L), n_gut = sz(B * 2 * It * D), n_actt = sz(B * It * D),
                     n_h1 = sz(R * D), n_r1 = sz(cfg_.mlp_t ? B * D : R), n_gu = sz(R * 2 * I), n_act = sz(R * I),
                     n_out = sz(R * D), n_r2 = sz(R);
  per_slot = n_in + n_qkv + n_attn + n_lse + n_gut + n_actt + n_h1 + n_r1 + n_gu + n_act + n_out + n_r2;
  ws->slot_mem = DeviceBuffer(be_, per_slot * nslots);
  float* p = ws->slot_mem.data();
  auto take = [&](std::int64_t n) {
    float* r = n ? p : nullptr;
    p += n;
    return r;
  };
  for (int i = 0; i < nslots; ++i) {
    Slot s;
    s.in = take(n_in);
    s.qkv = take(n_qkv);
    s.attn = take(n_attn);
    s.lse = take(n_lse);
    s.gu_t = take(n_gut);
    s.act_t = take(n_actt);
    s.h1 = take(n_h1);
    s.rinv1 = take(n_r1);
    s.gu = take(n_gu);
    s.act = take(n_act);
    s.out = take(n_out);
    s.rinv2 = take(n_r2);
    ws->slots.push_back(s);
  }
  ws->x = DeviceBuffer(be_, R * D);
  if (!cfg_.mlp_t) ws->attn_ws = DeviceBuffer(be_, be_.attention_workspace(static_cast<int>(L)));
  ws->puz_rows = DeviceBuffer(be_, std::max<std::int64_t>(1, B * cfg_.puzzle_emb_ndim));
  if (training) {
    const std::int64_t n_bwd = 4 * sz(R * D) + (cfg_.mlp_t ? 0 : sz(R * D) + sz(R * 3 * D)) + sz(R * 2 * I) +
                               sz(R * I) + n_gut + n_actt;
    ws->bwd_mem = DeviceBuffer(be_, n_bwd);
    p = ws->bwd_mem.data();
    ws->d_a = take(sz(R * D));
    ws->d_b = take(sz(R * D));
    ws->d_x = take(sz(R * D));
    ws->d_zh = take(sz(R * D));
    if (!cfg_.mlp_t) {
      ws->d_attn = take(sz(R * D));
      ws->d_qkv = take(sz(R * 3 * D));
    }
    ws->d_gu = take(sz(R * 2 * I));
    ws->d_act = take(sz(R * I));
    ws->d_gu_t = take(n_gut);
    ws->d_act_t = take(n_actt);
    dlogits_ = DeviceBuffer(be_, B * S * V);
    dq_ = DeviceBuffer(be_, B * 2);
    dpuz_rows_ = DeviceBuffer(be_, std::max<std::int64_t>(1, B * cfg_.puzzle_emb_ndim));
    if (cfg_.act_continue()) {
      ws->next_state = DeviceBuffer(be_, 2 * R * D);
      ws->q_next = DeviceBuffer(be_, B * 2);
    }
  }
  logits_ = DeviceBuffer(be_, B * S * V);
  q_ = DeviceBuffer(be_, B * 2);
  batch_tokens_.reserve(static_cast<std::size_t>(B * S));
  batch_ids_.reserve(static_cast<std::size_t>(B));
  loss_ce_.resize(static_cast<std::size_t>(B));
  loss_w_.resize(static_cast<std::size_t>(B));
  loss_target_.resize(static_cast<std::size_t>(B));
  loss_q_.resize(static_cast<std::size_t>(2 * B));
  loss_dq_.resize(static_cast<std::size_t>(2 * B));
  if (training && bootstraps_q_continue()) {
    next_q_host_.resize(static_cast<std::size_t>(2 * B));
    q_target_.resize(static_cast<std::size_t>(B));
  }
  ws_ = std::move(ws);
  max_batch_ = max_batch;
  training_ws_ = training;
  recorded_ = loss_ready_ = false;
}

void TrmModel::reset_carry(float* zH, float* zL, int batch) {
  const int D = cfg_.hidden_size, L = cfg_.total_len();
  be_.broadcast_rows(h_init_.data(), zH, nullptr, batch, L, D);
  be_.broadcast_rows(l_init_.data(), zL, nullptr, batch, L, D);
}

void TrmModel::block_forward(int layer, const float* in, Slot& s) {
  const int B = cur_batch_, L = cfg_.total_len(), D = cfg_.hidden_size, R = B * L, I = cfg_.mlp_inter();
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  const LayerWeights& w = layer_params_[static_cast<std::size_t>(layer)];
  if (cfg_.mlp_t) {
    // Sequence mixing on [B, L, D] without transposing: per sample y_b = W x_b mixes positions.
    const int It = cfg_.mlp_t_inter();
    be_.left_linear_fwd(w.gu_t, in, s.gu_t, B, 2 * It, L, D);
    be_.swiglu_fwd(s.gu_t, s.act_t, B, It * D);  // gate rows [0, It), up rows [It, 2It) per sample
    be_.left_linear_fwd(w.down_t, s.act_t, s.h1, B, L, It, D);
    be_.add_rmsnorm_seq(in, s.h1, s.h1, s.rinv1, B, L, D, eps);  // norm over the sequence axis
  } else {
    const int H = cfg_.num_heads, hd = cfg_.head_dim();
    be_.linear_fwd(in, D, w.qkv, s.qkv, 3 * D, R, D, 3 * D);
    if (cfg_.pos_encodings == PosEncoding::kRope) be_.rope(s.qkv, B, L, H, hd, rope_cos_.data(), rope_sin_.data(), false);
    be_.attention_fwd(s.qkv, s.attn, s.lse, B, L, H, hd, ws_->attn_ws.data());
    be_.linear_fwd(s.attn, D, w.o, s.h1, D, R, D, D);
    be_.add_rmsnorm(in, s.h1, s.h1, s.rinv1, R, D, eps);
  }
  be_.linear_fwd(s.h1, D, w.gu, s.gu, 2 * I, R, D, 2 * I);
  be_.swiglu_fwd(s.gu, s.act, R, I);
  be_.linear_fwd(s.act, I, w.down, s.out, D, R, I, D);
  be_.add_rmsnorm(s.h1, s.out, s.out, s.rinv2, R, D, eps);
}

void TrmModel::block_backward(int layer, const float* in, Slot& s, float* dout, float* din) {
  const int B = cur_batch_, L = cfg_.total_len(), D = cfg_.hidden_size, R = B * L, I = cfg_.mlp_inter();
  const LayerWeights& w = layer_params_[static_cast<std::size_t>(layer)];
  const LayerWeights& g = layer_grads_[static_cast<std::size_t>(layer)];
  Workspace& ws = *ws_;
  // Channel MLP sublayer: out = rms(h1 + down(swiglu(gu(h1)))).
  be_.rmsnorm_bwd(s.out, s.rinv2, dout, dout, R, D);  // dout := d(h1 + m)
  be_.linear_bwd(s.act, I, w.down, dout, D, ws.d_act, I, g.down, R, I, D, false);
  be_.swiglu_bwd(s.gu, ws.d_act, ws.d_gu, R, I);
  be_.linear_bwd(s.h1, D, w.gu, ws.d_gu, 2 * I, dout, D, g.gu, R, D, 2 * I, true);  // dout := d h1
  if (cfg_.mlp_t) {
    const int It = cfg_.mlp_t_inter();
    be_.rmsnorm_seq_bwd(s.h1, s.rinv1, dout, din, B, L, D);  // din := d(in + m_t)
    be_.left_linear_bwd(w.down_t, s.act_t, din, ws.d_act_t, g.down_t, B, L, It, D);
    be_.swiglu_bwd(s.gu_t, ws.d_act_t, ws.d_gu_t, B, It * D);
    be_.left_linear_bwd(w.gu_t, in, ws.d_gu_t, dout, g.gu_t, B, 2 * It, L, D);
    be_.accumulate(din, dout, static_cast<std::int64_t>(R) * D);
  } else {
    const int H = cfg_.num_heads, hd = cfg_.head_dim();
    be_.rmsnorm_bwd(s.h1, s.rinv1, dout, din, R, D);  // din := d(in + a)
    be_.linear_bwd(s.attn, D, w.o, din, D, ws.d_attn, D, g.o, R, D, D, false);
    be_.attention_bwd(s.qkv, s.attn, s.lse, ws.d_attn, ws.d_qkv, B, L, H, hd, ws_->attn_ws.data());
    if (cfg_.pos_encodings == PosEncoding::kRope)
      be_.rope(ws.d_qkv, B, L, H, hd, rope_cos_.data(), rope_sin_.data(), true);
    be_.linear_bwd(in, D, w.qkv, ws.d_qkv, 3 * D, din, D, g.qkv, R, D, 3 * D, true);
  }
}

const float* TrmModel::net_forward(const float* a, const float* b, const float* c, Slot* slots) {
  const std::int64_t n = static_cast<std::int64_t>(cur_batch_) * cfg_.total_len() * cfg_.hidden_size;
  if (c)
    be_.add3(a, b, c, slots[0].in, n);
  else
    be_.add(a, b, slots[0].in, n);
  const float* in = slots[0].in;
  for (int l = 0; l < cfg_.L_layers; ++l) {
    block_forward(l, in, slots[l]);
    in = slots[l].out;
  }
  return in;
}

float* TrmModel::net_backward(Slot* slots, float* dout, float* scratch) {
  // Ping-pong between the two buffers: each block reads d(out) from one and writes d(in) to the other.
  float* cur = dout;
  float* next = scratch;
  for (int l = cfg_.L_layers - 1; l >= 0; --l) {
    const float* in = l == 0 ? slots[0].in : slots[l - 1].out;
    block_backward(l, in, slots[l], cur, next);
    std::swap(cur, next);
  }
  return cur;
}

void TrmModel::forward(const Batch& batch, float* zH, float* zL, bool with_grad) {
  if (!ws_ || batch.size > max_batch_ || (with_grad && !training_ws_))
    throw Error("TrmModel::forward: call reserve(batch, training) first (batch " + std::to_string(batch.size) +
                ", reserved " + std::to_string(max_batch_) + ")");
  const int B = batch.size, S = cfg_.seq_len, P = cfg_.prefix_len(), D = cfg_.hidden_size, L = cfg_.total_len();
  const int V = cfg_.vocab_size, nd = cfg_.puzzle_emb_ndim;
  cur_batch_ = B;
  // Keep host copies of what backward needs, validating ids on the way in.
  batch_tokens_.assign(batch.inputs, batch.inputs + static_cast<std::ptrdiff_t>(B) * S);
  batch_ids_.assign(B, 0);
  for (std::int32_t t : batch_tokens_)
    if (t < 0 || t >= V) throw Error("input token " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
  if (nd > 0) {
    for (int b = 0; b < B; ++b) {
      const std::int32_t id = batch.puzzle_ids ? batch.puzzle_ids[b] : 0;
      if (id < 0 || id >= cfg_.num_puzzle_identifiers)
        throw Error("puzzle identifier " + std::to_string(id) + " is outside [0, " +
                    std::to_string(cfg_.num_puzzle_identifiers) + ")");
      batch_ids_[b] = id;
    }
    be_.gather_rows(puz_, batch_ids_.data(), ws_->puz_rows.data(), B, nd);
  }
  const float* pos = cfg_.pos_encodings == PosEncoding::kLearned ? params() + off_pos_ : nullptr;
  float* x = ws_->x.data();
  be_.embed_fwd(batch_tokens_.data(), params() + off_tok_, nd > 0 ? ws_->puz_rows.data() : nullptr,
                pos, x, B, S, P, D, nd, std::sqrt(static_cast<float>(D)), pos ? 0.707106781f : 1.0f);

  const std::int64_t n = static_cast<std::int64_t>(B) * L * D;
  if (cfg_.arch == Arch::kHrm) {
    hrm_recurrence(x, zH, zL, with_grad);
  } else {
    const int nl = cfg_.L_layers;
    Slot* scratch = ws_->slots.data();  // the no-grad calls reuse the first call's slots
    auto nograd_round = [&] {
      for (int i = 0; i < cfg_.L_cycles; ++i) be_.copy(net_forward(zL, zH, x, scratch), zL, n);
      be_.copy(net_forward(zH, zL, nullptr, scratch), zH, n);
    };
    const int nograd_rounds = with_grad ? cfg_.H_cycles - 1 : cfg_.H_cycles;
    for (int r = 0; r < nograd_rounds; ++r) nograd_round();
    if (with_grad) {
      // The differentiated round: every net call keeps its activations in its own slots.
      const float* zl = zL;
      for (int i = 0; i < cfg_.L_cycles; ++i) zl = net_forward(zl, zH, x, &ws_->slots[static_cast<std::size_t>(i) * nl]);
      const float* zh = net_forward(zH, zl, nullptr, &ws_->slots[static_cast<std::size_t>(cfg_.L_cycles) * nl]);
      be_.copy(zl, zL, n);
      be_.copy(zh, zH, n);
    }
  }
  // Heads: logits drop the P prefix positions; q reads position 0.
  be_.linear_fwd_batched(zH + static_cast<std::int64_t>(P) * D, D, static_cast<std::int64_t>(L) * D, params() + off_lm_,
                         logits_.data(), V, static_cast<std::int64_t>(S) * V, B, S, D, V);
  be_.linear_fwd(zH, L * D, params() + off_qw_, q_.data(), 2, B, D, 2);
  be_.bias_add(q_.data(), params() + off_qb_, B, 2);
  recorded_ = with_grad;
  loss_ready_ = false;
}

LossResult TrmModel::loss(const Batch& batch, int loss_divisor, bool with_grad, const double* q_continue_target) {
  LossResult r;
  loss(batch, loss_divisor, with_grad, r, q_continue_target);
  return r;
}

void TrmModel::loss(const Batch& batch, int loss_divisor, bool with_grad, LossResult& r,
                    const double* q_continue_target) {
  if (!batch.labels) throw Error("TrmModel::loss: the batch has no labels");
  if (batch.size != cur_batch_) throw Error("TrmModel::loss: batch size differs from the last forward");
  if (with_grad && !recorded_) throw Error("TrmModel::loss: with_grad needs a forward with_grad first");
  const int B = cur_batch_, S = cfg_.seq_len, V = cfg_.vocab_size;
  r.loss = r.lm_loss = r.q_halt_loss = r.q_continue_loss = 0;
  r.correct.assign(B, 0);
  r.valid.assign(B, 0);
  r.seq_correct.assign(B, 0);
  std::vector<double>& ce = loss_ce_;
  std::vector<double>& w = loss_w_;
  // Weights for the gradient: d loss / d ce_b = 1 / (max(n_b, 1) * divisor).
  for (int b = 0; b < B; ++b) {
    int n_b = 0;
    for (int t = 0; t < S; ++t) {
      const std::int32_t y = batch.labels[static_cast<std::int64_t>(b) * S + t];
      if (y >= V) throw Error("label " + std::to_string(y) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
      n_b += y >= 0;
    }
    w[b] = 1.0 / (std::max(n_b, 1) * static_cast<double>(loss_divisor));
  }
  be_.stablemax_ce(logits_.data(), batch.labels, B, S, V, ce.data(), w.data(), with_grad ? dlogits_.data() : nullptr,
                   r.correct.data(), r.valid.data());
  std::vector<double>& target = loss_target_;
  for (int b = 0; b < B; ++b) {
    r.seq_correct[b] = r.correct[b] == r.valid[b];
    target[b] = r.seq_correct[b];
    r.lm_loss += ce[b] / std::max(r.valid[b], 1);
  }
  std::vector<float>& q = loss_q_;
  std::vector<float>& dq = loss_dq_;
  be_.to_host(q_.data(), q.data(), B * 2);
  r.q_halt_loss = host::bce_with_logits<float>(q.data(), 2, target.data(), B, dq.data(), 0.5 / loss_divisor);
  if (q_continue_target) {
    // HRM's bootstrapped Q-continue loss, same weight and reduction as q_halt's.
    r.q_continue_loss = host::bce_with_logits<float>(q.data() + 1, 2, q_continue_target, B, dq.data() + 1, 0.5 / loss_divisor);
  } else {
    for (int b = 0; b < B; ++b) dq[2 * b + 1] = 0.0f;  // q_continue takes no gradient
  }
  r.loss = (r.lm_loss + 0.5 * (r.q_halt_loss + r.q_continue_loss)) / loss_divisor;
  if (with_grad) {
    be_.from_host(dq.data(), dq_.data(), B * 2);
    loss_ready_ = true;
  }
}

void TrmModel::train_step(const Batch& batch, float* zH, float* zL, const std::int32_t* steps_before,
                          int loss_divisor, LossResult& out) {
  forward(batch, zH, zL, true);
  const bool bootstrap = bootstraps_q_continue();
  if (bootstrap) {
    if (!steps_before) throw Error("TrmModel::train_step: HRM's q_continue target needs the slots' step counts");
    // The target comes from one more no-grad step from the new carry, before the update.
    next_q(zH, zL, next_q_host_.data());
    q_continue_targets(next_q_host_.data(), steps_before, batch.size, cfg_.halt_max_steps, q_target_.data());
  }
  loss(batch, loss_divisor, true, out, bootstrap ? q_target_.data() : nullptr);
  backward();
}

void TrmModel::backward() {
  if (!recorded_ || !loss_ready_) throw Error("TrmModel::backward: needs forward(with_grad) and loss(with_grad) first");
  const int B = cur_batch_, S = cfg_.seq_len, P = cfg_.prefix_len(), D = cfg_.hidden_size, L = cfg_.total_len();
  const int V = cfg_.vocab_size, nl = cfg_.L_layers, nd = cfg_.puzzle_emb_ndim;
  const std::int64_t n = static_cast<std::int64_t>(B) * L * D;
  Workspace& ws = *ws_;
  Slot* slots = ws.slots.data();
  // The final z_H is the output of the last net call.
  const float* zh = cfg_.arch == Arch::kHrm ? hrm_final_zh() : slots[static_cast<std::size_t>(cfg_.L_cycles) * nl + nl - 1].out;

  // Heads -> d z_H.
  float* dzh = ws.d_zh;
  be_.fill(dzh, 0.0f, n);
  const std::int64_t prefix = static_cast<std::int64_t>(P) * D, per_sample = static_cast<std::int64_t>(L) * D;
  be_.linear_bwd_batched(zh + prefix, D, per_sample, params() + off_lm_, dlogits_.data(), V,
                         static_cast<std::int64_t>(S) * V, dzh + prefix, D, per_sample, grads() + off_lm_, B, S, D,
                         V, false);
  be_.linear_bwd(zh, L * D, params() + off_qw_, dq_.data(), 2, dzh, L * D, grads() + off_qw_, B, D, 2, true);
  be_.bias_grad(dq_.data(), grads() + off_qb_, B, 2);

  be_.fill(ws.d_x, 0.0f, n);
  if (cfg_.arch == Arch::kHrm) {
    hrm_recurrence_backward(dzh);
  } else {
    // z_H = net(z_H0 + z_L^n): z_H0 is a constant, so d z_L^n = d(input).
    float* d = net_backward(&slots[static_cast<std::size_t>(cfg_.L_cycles) * nl], dzh, ws.d_a);
    // z_L^i = net(z_L^{i-1} + z_H0 + x): the input gradient goes to both x and z_L^{i-1}.
    for (int i = cfg_.L_cycles - 1; i >= 0; --i) {
      // net_backward clobbers its input buffer and writes into the other one (d is dzh, d_a or d_b).
      float* other = d == ws.d_a ? ws.d_b : ws.d_a;
      float* res = net_backward(&slots[static_cast<std::size_t>(i) * nl], d, other);
      be_.accumulate(ws.d_x, res, n);
      d = res;
    }
  }
  const bool learned = cfg_.pos_encodings == PosEncoding::kLearned;
  be_.embed_bwd(batch_tokens_.data(), ws.d_x, grads() + off_tok_, nd > 0 ? dpuz_rows_.data() : nullptr,
                learned ? grads() + off_pos_ : nullptr, B, S, P, D, nd, std::sqrt(static_cast<float>(D)),
                learned ? 0.707106781f : 1.0f);
  recorded_ = loss_ready_ = false;
}

// ---------------------------------------------------------------------------------------------
// HRM (sapientinc/HRM, hrm_act_v1.py). Blocks [0, L_layers) are L_level, [L_layers, +H_layers)
// H_level. In training, slots [0, L_layers) record the last L call and [L_layers, +H_layers) the
// last H call; every no-grad call (the earlier ones and next_q's bootstrap pass) runs in the
// slots after those, so nothing backward() needs is overwritten.
// ---------------------------------------------------------------------------------------------

int TrmModel::hrm_scratch_slot(bool training) const { return training ? cfg_.L_layers + cfg_.H_layers : 0; }

const float* TrmModel::level_forward(int level, const float* a, const float* b, const float* c, Slot* slots) {
  const std::int64_t n = static_cast<std::int64_t>(cur_batch_) * cfg_.total_len() * cfg_.hidden_size;
  if (c)
    be_.add3(a, b, c, slots[0].in, n);
  else
    be_.add(a, b, slots[0].in, n);
  const int first = level == 0 ? 0 : cfg_.L_layers, count = level == 0 ? cfg_.L_layers : cfg_.H_layers;
  const float* in = slots[0].in;
  for (int l = 0; l < count; ++l) {
    block_forward(first + l, in, slots[l]);
    in = slots[l].out;
  }
  return in;
}

float* TrmModel::level_backward(int level, Slot* slots, float* dout, float* scratch) {
  const int first = level == 0 ? 0 : cfg_.L_layers, count = level == 0 ? cfg_.L_layers : cfg_.H_layers;
  float* cur = dout;
  float* next = scratch;
  for (int l = count - 1; l >= 0; --l) {
    const float* in = l == 0 ? slots[0].in : slots[l - 1].out;
    block_backward(first + l, in, slots[l], cur, next);
    std::swap(cur, next);
  }
  return cur;
}

void TrmModel::hrm_recurrence(const float* x, float* zH, float* zL, bool with_grad) {
  const std::int64_t n = static_cast<std::int64_t>(cur_batch_) * cfg_.total_len() * cfg_.hidden_size;
  Slot* scratch = &ws_->slots[static_cast<std::size_t>(hrm_scratch_slot(training_ws_))];
  const int T = cfg_.H_cycles, n_l = cfg_.L_cycles;
  for (int h = 0; h < T; ++h) {
    const bool last_h = h == T - 1;
    for (int l = 0; l < n_l; ++l) {
      if (with_grad && last_h && l == n_l - 1) break;  // the differentiated L call comes below
      be_.copy(level_forward(0, zL, zH, x, scratch), zL, n);
    }
    if (with_grad && last_h) break;
    be_.copy(level_forward(1, zH, zL, nullptr, scratch), zH, n);
  }
  if (with_grad) {
    // The one-step gradient: z_L = L(z_L + z_H + x), then z_H = H(z_H + z_L), recorded.
    const float* zl = level_forward(0, zL, zH, x, ws_->slots.data());
    const float* zh = level_forward(1, zH, zl, nullptr, &ws_->slots[static_cast<std::size_t>(cfg_.L_layers)]);
    be_.copy(zl, zL, n);
    be_.copy(zh, zH, n);
  }
}

const float* TrmModel::hrm_final_zh() const {
  return ws_->slots[static_cast<std::size_t>(cfg_.L_layers + cfg_.H_layers - 1)].out;
}

void TrmModel::hrm_recurrence_backward(float* dzh) {
  Workspace& ws = *ws_;
  const std::int64_t n = static_cast<std::int64_t>(cur_batch_) * cfg_.total_len() * cfg_.hidden_size;
  // z_H = H(z_H0 + z_L'): z_H0 came from no-grad calls, so only z_L' = L(z_L0 + z_H0 + x) receives
  // d(input); of that input only x depends on parameters.
  float* dzl = level_backward(1, &ws.slots[static_cast<std::size_t>(cfg_.L_layers)], dzh, ws.d_a);
  float* other = dzl == ws.d_a ? ws.d_b : ws.d_a;
  float* dx = level_backward(0, ws.slots.data(), dzl, other);
  be_.accumulate(ws.d_x, dx, n);
}

void TrmModel::next_q(const float* zH, const float* zL, float* q_host) {
  if (cfg_.arch != Arch::kHrm || !ws_ || !training_ws_ || !ws_->next_state.data())
    throw Error("TrmModel::next_q: only for an HRM model reserved for training");
  const int B = cur_batch_, L = cfg_.total_len(), D = cfg_.hidden_size;
  const std::int64_t n = static_cast<std::int64_t>(B) * L * D;
  float* h = ws_->next_state.data();
  float* l = h + n;
  be_.copy(zH, h, n);
  be_.copy(zL, l, n);
  // Same batch and weights as the last forward, so its input embedding x is still valid.
  hrm_recurrence(ws_->x.data(), h, l, false);
  be_.linear_fwd(h, L * D, params() + off_qw_, ws_->q_next.data(), 2, B, D, 2);
  be_.bias_add(ws_->q_next.data(), params() + off_qb_, B, 2);
  be_.to_host(ws_->q_next.data(), q_host, 2 * B);
}

}  // namespace trm
