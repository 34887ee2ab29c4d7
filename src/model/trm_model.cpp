// TrmModel around the recursion: construction, reserve, the input embedding (docs/REFERENCE.md
// §2.2), the heads (§2.7), the loss (§4), train_step and the dispatch to the architecture's
// Recurrence (src/model/recurrence.h), all written against the Backend seam.
#include <algorithm>
#include <cmath>
#include <limits>

#include "model/host_math.h"
#include "model/network.h"
#include "model/recurrence.h"
#include "trm/model/memory.h"
#include "trm/model/model.h"

namespace trm {

namespace {

// With learned positions the input embedding is scale * (token + position) * 1/sqrt(2), which
// keeps the sum of two unit-scale embeddings at unit scale (docs/REFERENCE.md §2.2–2.3). The
// reference's literal, so that the float is the same bit for bit.
constexpr float kLearnedPosScale = 0.707106781f;

// The two scales of the input embedding, shared by its forward and backward.
float embed_scale(const ModelConfig& c) { return std::sqrt(static_cast<float>(c.hidden_size)); }
float pos_scale(const ModelConfig& c) { return c.pos_encodings == PosEncoding::kLearned ? kLearnedPosScale : 1.0f; }

// Where the architectures are chosen: one case per Recurrence implementation.
std::unique_ptr<detail::Recurrence> make_recurrence(detail::Network& net) {
  switch (net.cfg.arch) {
    case Arch::kTrm: return detail::make_trm_recurrence(net);
    case Arch::kHrm: return detail::make_hrm_recurrence(net);
  }
  throw Error("TrmModel: unknown architecture");
}

}  // namespace

TrmModel::TrmModel(const ModelConfig& cfg, Backend& backend, TrmModel* puzzle_table_owner)
    : cfg_(cfg), be_(backend) {
  cfg_.validate();
  require_memory(be_, 4 * construction_floats(cfg_, puzzle_table_owner != nullptr), "the model's weights, gradients and puzzle table");
  build_param_table();
  // The new weight buffer may sit where a freed model's did: packs keyed by that address are stale.
  be_.weights_changed();
  off_tok_ = info("embed_tokens.embedding_weight").offset;
  if (cfg_.pos_encodings == PosEncoding::kLearned) off_pos_ = info("embed_pos.embedding_weight").offset;
  off_lm_ = info("lm_head.weight").offset;
  off_qw_ = info("q_head.weight").offset;
  off_qb_ = info("q_head.bias").offset;
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
  // Weight pointers are resolved once here: no name lookups per step.
  std::vector<detail::LayerWeights> w, g;
  for (int b = 0; b < cfg_.num_blocks(); ++b) {
    w.push_back(layer_weights(params(), b));
    g.push_back(layer_weights(grads(), b));
  }
  net_ = std::make_unique<detail::Network>(cfg_, be_, std::move(w), std::move(g), rope_cos_.data(), rope_sin_.data());
  rec_ = make_recurrence(*net_);
}

TrmModel::~TrmModel() = default;

detail::LayerWeights TrmModel::layer_weights(float* base, int block) const {
  const std::string p = block_prefix(block);
  detail::LayerWeights w;
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

int TrmModel::recurrence_slots(const ModelConfig& cfg, bool training) {
  switch (cfg.arch) {
    case Arch::kTrm: return detail::trm_recurrence_slots(cfg, training);
    case Arch::kHrm: return detail::hrm_recurrence_slots(cfg, training);
  }
  throw Error("TrmModel: unknown architecture");
}

std::int64_t TrmModel::construction_floats(const ModelConfig& cfg, bool shares_puzzle_table) {
  const std::int64_t params = param_buffer_floats(make_param_table(cfg));
  std::int64_t n = 2 * params + 2LL * cfg.hidden_size;  // weights, gradients, H_init, L_init
  if (!shares_puzzle_table) n += static_cast<std::int64_t>(cfg.num_puzzle_identifiers) * cfg.puzzle_emb_ndim;
  if (cfg.pos_encodings == PosEncoding::kRope) n += 2LL * cfg.total_len() * cfg.head_dim();
  return n;
}

// Mirrors the allocations of reserve() below (tests/test_memory.cpp holds the two together).
std::int64_t TrmModel::reserve_floats(const ModelConfig& cfg, Backend& be, int max_batch, bool training) {
  const std::int64_t B = max_batch, R = B * cfg.total_len(), D = cfg.hidden_size;
  const std::int64_t SV = B * cfg.seq_len * cfg.vocab_size;
  const std::int64_t puz_rows = std::max<std::int64_t>(1, B * cfg.puzzle_emb_ndim);
  std::int64_t n = detail::Network::workspace_floats(cfg, be, max_batch, training, recurrence_slots(cfg, training));
  n += R * D + puz_rows + SV + 2 * B;  // x_, puz_rows_, logits_, q_
  if (training) {
    n += SV + 2 * B + puz_rows;  // dlogits_, dq_, dpuz_rows_
    if (cfg.act_continue()) n += 2 * R * D + 2 * B;  // next_state_, q_next_
  }
  return n;
}

void TrmModel::check_batch(const ModelConfig& cfg, int max_batch) {
  if (max_batch < 1) throw Error("batch size must be >= 1 (got " + std::to_string(max_batch) + ")");
  // The kernels index one buffer with int rows times an int stride.
  const std::int64_t largest = std::max(detail::Network::largest_buffer(cfg, max_batch),
                                        static_cast<std::int64_t>(max_batch) * cfg.seq_len * cfg.vocab_size);
  if (largest > std::numeric_limits<std::int32_t>::max())
    throw Error("batch size " + std::to_string(max_batch) + " is too large for this model: one activation buffer would hold " +
                std::to_string(largest) + " values, above the 2^31-1 a kernel can index; use a smaller batch (or --micro-batch)");
}

void TrmModel::reserve(int max_batch, bool training) {
  check_batch(cfg_, max_batch);
  if (max_batch_ > 0 && max_batch <= max_batch_ && (net_->training || !training)) return;
  require_memory(be_, 4 * reserve_floats(cfg_, be_, max_batch, training),
                 std::string("the activations of batch ") + std::to_string(max_batch) + (training ? " (training)" : ""));
  // Unreserved until every buffer below exists: after a failed allocation forward() refuses to
  // run rather than run in a partial workspace.
  max_batch_ = 0;
  const std::int64_t B = max_batch, L = cfg_.total_len(), D = cfg_.hidden_size, R = B * L;
  const std::int64_t S = cfg_.seq_len, V = cfg_.vocab_size, puz_rows = std::max<std::int64_t>(1, B * cfg_.puzzle_emb_ndim);
  net_->reserve(max_batch, training, rec_->slots(training));
  x_ = DeviceBuffer(be_, R * D);
  puz_rows_ = DeviceBuffer(be_, puz_rows);
  if (training) {
    dlogits_ = DeviceBuffer(be_, B * S * V);
    dq_ = DeviceBuffer(be_, B * 2);
    dpuz_rows_ = DeviceBuffer(be_, puz_rows);
    if (cfg_.act_continue()) {
      next_state_ = DeviceBuffer(be_, 2 * R * D);
      q_next_ = DeviceBuffer(be_, B * 2);
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
  max_batch_ = max_batch;
  recorded_ = loss_ready_ = false;
}

void TrmModel::reset_carry(float* zH, float* zL, int batch) {
  const int D = cfg_.hidden_size, L = cfg_.total_len();
  be_.broadcast_rows(h_init_.data(), zH, nullptr, batch, L, D);
  be_.broadcast_rows(l_init_.data(), zL, nullptr, batch, L, D);
}

void TrmModel::q_head(const float* zH, float* q_out) {
  const int B = cur_batch_, L = cfg_.total_len(), D = cfg_.hidden_size;
  be_.linear_fwd_fp32(zH, L * D, params() + off_qw_, q_out, 2, B, D, 2);
  be_.bias_add(q_out, params() + off_qb_, B, 2);
}

void TrmModel::forward(const Batch& batch, float* zH, float* zL, bool with_grad) {
  if (max_batch_ == 0 || batch.size > max_batch_ || (with_grad && !net_->training))
    throw Error("TrmModel::forward: call reserve(batch, training) first (batch " + std::to_string(batch.size) +
                ", reserved " + std::to_string(max_batch_) + ")");
  const int B = batch.size, S = cfg_.seq_len, P = cfg_.prefix_len(), D = cfg_.hidden_size, L = cfg_.total_len();
  const int V = cfg_.vocab_size, nd = cfg_.puzzle_emb_ndim;
  cur_batch_ = B;
  net_->batch = B;
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
    be_.gather_rows(puz_, batch_ids_.data(), puz_rows_.data(), B, nd);
  }
  const float* pos = cfg_.pos_encodings == PosEncoding::kLearned ? params() + off_pos_ : nullptr;
  be_.embed_fwd(batch_tokens_.data(), params() + off_tok_, nd > 0 ? puz_rows_.data() : nullptr, pos, x_.data(), B,
                S, P, D, nd, embed_scale(cfg_), pos_scale(cfg_));
  rec_->forward(x_.data(), zH, zL, with_grad);
  // Heads: logits drop the P prefix positions; q reads position 0.
  be_.linear_fwd_batched(zH + static_cast<std::int64_t>(P) * D, D, static_cast<std::int64_t>(L) * D, params() + off_lm_,
                         logits_.data(), V, static_cast<std::int64_t>(S) * V, B, S, D, V);
  q_head(zH, q_.data());
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
  const int V = cfg_.vocab_size, nd = cfg_.puzzle_emb_ndim;
  detail::Network& net = *net_;
  const std::int64_t n = net.state_size();
  const float* zh = rec_->final_zh();

  // Heads -> d z_H.
  float* dzh = net.d_zh;
  be_.fill(dzh, 0.0f, n);
  const std::int64_t prefix = static_cast<std::int64_t>(P) * D, per_sample = static_cast<std::int64_t>(L) * D;
  be_.linear_bwd_batched(zh + prefix, D, per_sample, params() + off_lm_, dlogits_.data(), V,
                         static_cast<std::int64_t>(S) * V, dzh + prefix, D, per_sample, grads() + off_lm_, B, S, D,
                         V, false);
  be_.linear_bwd_fp32(zh, L * D, params() + off_qw_, dq_.data(), 2, dzh, L * D, grads() + off_qw_, B, D, 2, true);
  be_.bias_grad(dq_.data(), grads() + off_qb_, B, 2);

  // The recursion -> d x -> the embeddings.
  be_.fill(net.d_x, 0.0f, n);
  rec_->backward(dzh);
  const bool learned = cfg_.pos_encodings == PosEncoding::kLearned;
  be_.embed_bwd(batch_tokens_.data(), net.d_x, grads() + off_tok_, nd > 0 ? dpuz_rows_.data() : nullptr,
                learned ? grads() + off_pos_ : nullptr, B, S, P, D, nd, embed_scale(cfg_), pos_scale(cfg_));
  recorded_ = loss_ready_ = false;
}

void TrmModel::next_q(const float* zH, const float* zL, float* q_host) {
  if (!cfg_.act_continue() || max_batch_ == 0 || !net_->training || !next_state_.data())
    throw Error("TrmModel::next_q: only for an HRM model reserved for training");
  const std::int64_t n = net_->state_size();
  float* h = next_state_.data();
  float* l = h + n;
  be_.copy(zH, h, n);
  be_.copy(zL, l, n);
  // Same batch and weights as the last forward, so its input embedding x is still valid; the
  // recurrence runs no-grad calls only in slots the recorded forward does not use.
  rec_->forward(x_.data(), h, l, false);
  q_head(h, q_next_.data());
  be_.to_host(q_next_.data(), q_host, 2 * cur_batch_);
}

}  // namespace trm
