// The TRM network: parameters, one supervision step (forward), its loss and its backward.
//
// One supervision step from the carry (z_H, z_L) (docs/REFERENCE.md §2.6):
//   x = embed(inputs, puzzle ids)
//   T-1 rounds without gradient:   n times z_L = net(z_L + z_H + x); then z_H = net(z_H + z_L)
//   1 differentiated round:        the same, with every net call's activations kept
//   logits = lm_head(z_H)[:, P:],  q = q_head(z_H[:, 0])
// The carry buffers are overwritten with the new (detached) state.
//
// With config().arch == Arch::kHrm the same class runs the HRM baseline (sapientinc/HRM):
//   H_cycles x L_cycles steps; step (h, l): z_L = L_net(z_L + z_H + x); after each h: z_H = H_net(z_H + z_L)
//   where L_net and H_net are separate stacks of blocks; all calls but the LAST L call and the
//   LAST H call run without gradient (the one-step gradient). Heads as above.
//
// Layout (src/model/): this class does everything around the recursion: trm_model.cpp holds
// construction, reserve, the input embedding, the heads, the loss, train_step and the dispatch;
// params.cpp the parameter table, init.cpp the initialization. The recursion itself is an
// internal detail::Recurrence (recurrence.h), one file per architecture (trm_recurrence.cpp,
// hrm_recurrence.cpp), written over the shared block and stack helpers and the activation slots
// of detail::Network (network.h, network.cpp). A new recursive architecture is one new
// *_recurrence.cpp plus its case in make_recurrence() (trm_model.cpp) and its Arch value.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trm/backend/backend.h"
#include "trm/model/config.h"

namespace trm {

namespace detail {  // src/model/network.h, src/model/recurrence.h
struct LayerWeights;
class Network;
class Recurrence;
}  // namespace detail

struct ParamInfo {
  std::string name;                 // reference checkpoint name, e.g. "lm_head.weight"
  std::vector<std::int64_t> shape;
  std::int64_t offset = 0;          // into the flat parameter (and gradient) buffer
  std::int64_t numel = 0;
};

// The parameter table of a model with this config (names, shapes, offsets into the flat buffer),
// without building the model: what TrmModel::param_table() holds, for code that maps checkpoint
// tensors onto it (the PyTorch import) without allocating gigabytes.
std::vector<ParamInfo> make_param_table(const ModelConfig& cfg);

// One batch of examples. All arrays are host memory.
struct Batch {
  int size = 0;                             // B
  const std::int32_t* inputs = nullptr;     // [B, S] token ids
  const std::int32_t* labels = nullptr;     // [B, S]; negative = ignored; may be null in inference
  const std::int32_t* puzzle_ids = nullptr; // [B]
};

struct LossResult {
  double loss = 0;         // (lm_loss + 0.5 * (q_halt_loss + q_continue_loss)) / loss_divisor: what backward() differentiates
  double lm_loss = 0;      // sum over sequences of the per-sequence token-mean stablemax CE
  double q_halt_loss = 0;  // sum over sequences of BCE(q_halt, sequence exactly correct)
  double q_continue_loss = 0;  // HRM: sum over sequences of BCE(q_continue, bootstrapped target); TRM: 0
  std::vector<std::int32_t> seq_correct;  // per sequence: all supervised tokens right (1 if none)
  std::vector<std::int32_t> correct;      // per sequence: supervised tokens predicted right
  std::vector<std::int32_t> valid;        // per sequence: supervised tokens
};

// HRM's bootstrapped Q-continue target for n slots, from the q logits [n, 2] of the extra no-grad
// forward (TrmModel::next_q): sigmoid(is_last ? next_q_halt : max(next_q_halt, next_q_continue)),
// is_last = steps_before + 1 >= halt_max_steps, steps_before = the slot's steps before this call.
void q_continue_targets(const float* next_q, const std::int32_t* steps_before, int n, int halt_max_steps,
                        double* target);

class TrmModel {
 public:
  // With puzzle_table_owner (same config and backend), the puzzle table is that model's, not a
  // new one: the trainer's EMA evaluation copy uses the training model's table this way (the table
  // is not EMA'd), so an ARC table of 1.8 GB exists once.
  TrmModel(const ModelConfig& cfg, Backend& backend, TrmModel* puzzle_table_owner = nullptr);
  ~TrmModel();
  TrmModel(const TrmModel&) = delete;
  TrmModel& operator=(const TrmModel&) = delete;

  const ModelConfig& config() const { return cfg_; }
  Backend& backend() { return be_; }

  // ---- parameters ----
  const std::vector<ParamInfo>& param_table() const { return table_; }
  std::int64_t num_params() const { return num_params_; }
  // Floats spanned by the flat parameter (and gradient, optimizer-state, EMA) layout, alignment
  // padding between tensors included.
  std::int64_t flat_size() const { return table_.back().offset + table_.back().numel; }
  float* params() { return params_.data(); }
  float* grads() { return grads_.data(); }
  const ParamInfo& info(const std::string& name) const;  // throws trm::Error for unknown names
  float* param(const std::string& name) { return params() + info(name).offset; }
  float* grad(const std::string& name) { return grads() + info(name).offset; }
  void zero_grads();
  // Puzzle-embedding table [num_puzzle_identifiers, puzzle_emb_ndim] (not a parameter: trained by
  // sparse SignSGD, excluded from counts and EMA) and the fixed initial states [D].
  float* puzzle_table() { return puz_; }
  std::int64_t puzzle_table_size() const { return puz_size_; }
  // The model built with a puzzle_table_owner reads and writes that model's table (it must
  // outlive this one) and allocates none of its own.
  bool shares_puzzle_table() const { return !puzzle_table_.data() && puz_size_ > 0; }
  float* H_init() { return h_init_.data(); }
  float* L_init() { return l_init_.data(); }

  // Initialization of docs/REFERENCE.md §2.8: LeCun truncated normal for linears and the token table, q_head zero
  // weight and -5 bias, zero puzzle table, H_init/L_init truncated normal with std 1.
  void init(std::uint64_t seed);

  // ---- sizes without building (include/trm/model/memory.h adds them up) ----
  // Floats of the flat buffer for a make_param_table() table (alignment padding included).
  static std::int64_t param_buffer_floats(const std::vector<ParamInfo>& table);
  // Floats the constructor allocates: weights, gradients, the puzzle table (unless shared), the
  // initial states and the RoPE tables.
  static std::int64_t construction_floats(const ModelConfig& cfg, bool shares_puzzle_table);
  // Floats reserve(max_batch, training) allocates on `be`.
  static std::int64_t reserve_floats(const ModelConfig& cfg, Backend& be, int max_batch, bool training);
  // Throws trm::Error when batches of max_batch cannot run: below 1, or one activation buffer
  // above the 2^31-1 elements a kernel indexes.
  static void check_batch(const ModelConfig& cfg, int max_batch);
  // Activation slots the architecture's recurrence uses (src/model/recurrence.h).
  static int recurrence_slots(const ModelConfig& cfg, bool training);

  // ---- running ----
  // Allocates every buffer a step at batch size <= max_batch needs; nothing is allocated later.
  void reserve(int max_batch, bool training);
  // Sets every position of every slot of the carry to H_init / L_init.
  void reset_carry(float* zH, float* zL, int batch);
  // One supervision step; zH, zL are [B, L, D] backend buffers, updated in place. With
  // `with_grad` the last round is recorded for backward().
  void forward(const Batch& batch, float* zH, float* zL, bool with_grad);
  const float* logits() const { return logits_.data(); }  // [B, S, V]
  const float* q() const { return q_.data(); }            // [B, 2]: halt, continue
  // Loss of the last forward against batch.labels; with_grad also prepares its gradient.
  // q_continue_target (host, [B], HRM training) adds BCE(q_continue, target) to the loss.
  LossResult loss(const Batch& batch, int loss_divisor, bool with_grad, const double* q_continue_target = nullptr);
  // The same into `out`, reusing its vectors' storage: no allocation once they have grown.
  void loss(const Batch& batch, int loss_divisor, bool with_grad, LossResult& out,
            const double* q_continue_target = nullptr);
  // HRM's bootstrap forward: one more supervision step, without gradient, from the carry (zH, zL)
  // that the last forward produced, on the same batch and weights. Writes its q logits [B, 2]
  // (halt, continue) to q_host and leaves the carry and what backward() needs untouched.
  void next_q(const float* zH, const float* zL, float* q_host);
  // One training supervision step, the whole protocol in one place (trainer, bench and ARC
  // test-time training all call it): forward with gradient from the carry (zH, zL, updated in
  // place); for HRM with ACT on (act_continue() and halt_max_steps > 1) the bootstrap target for
  // q_continue from next_q(); the loss against batch.labels divided by loss_divisor, into `out`;
  // and backward(), which ADDS the parameter gradients to grads(). steps_before[b] is the number of
  // supervision steps slot b took before this one (only HRM's target reads it; may be null else).
  void train_step(const Batch& batch, float* zH, float* zL, const std::int32_t* steps_before, int loss_divisor,
                  LossResult& out);
  // True when train_step() trains q_continue against a bootstrapped target (HRM with ACT on).
  bool bootstraps_q_continue() const { return cfg_.act_continue() && cfg_.halt_max_steps > 1; }
  // Back-propagates the last loss(with_grad) through the recorded round. Parameter gradients
  // are ADDED to grads(); the gathered puzzle rows' gradients overwrite puzzle_row_grads().
  void backward();
  const float* puzzle_row_grads() const { return dpuz_rows_.data(); }  // [B, ndim]
  const std::vector<std::int32_t>& puzzle_row_ids() const { return batch_ids_; }

 private:
  void build_param_table();
  std::string block_prefix(int block) const;  // "L_level.layers.i." or (HRM) "H_level.layers.j."
  // Pointers to block `block`'s tensors inside the flat buffer at base (params() or grads()).
  detail::LayerWeights layer_weights(float* base, int block) const;
  // q = q_head(zH[:, 0]) + bias for the last forward's batch, into q_out [B, 2].
  void q_head(const float* zH, float* q_out);

  ModelConfig cfg_;
  Backend& be_;
  std::int64_t off_tok_ = 0, off_pos_ = -1, off_lm_ = 0, off_qw_ = 0, off_qb_ = 0;
  std::vector<double> loss_ce_, loss_w_, loss_target_;     // loss() scratch, sized by reserve()
  std::vector<float> loss_q_, loss_dq_;
  std::vector<float> next_q_host_;    // train_step(): HRM's bootstrap q [B, 2] and its targets [B]
  std::vector<double> q_target_;
  std::vector<ParamInfo> table_;
  std::int64_t num_params_ = 0;
  DeviceBuffer params_, grads_, puzzle_table_, h_init_, l_init_, rope_cos_, rope_sin_;
  float* puz_ = nullptr;  // the puzzle table in use: puzzle_table_ or a shared one
  std::int64_t puz_size_ = 0;

  // The blocks, their activation slots and backward scratch, and the architecture's recursion
  // over them (built by the constructor; their buffers by reserve()).
  std::unique_ptr<detail::Network> net_;
  std::unique_ptr<detail::Recurrence> rec_;
  int max_batch_ = 0;  // 0: not reserved
  DeviceBuffer x_, puz_rows_;         // the input embedding [B, L, D] and the gathered puzzle rows
  DeviceBuffer next_state_, q_next_;  // next_q(): its private carry copy [2, B, L, D] and q [B, 2]
  DeviceBuffer logits_, q_, dlogits_, dq_, dpuz_rows_;
  // The batch recorded by the last forward (host copies) for loss/backward.
  int cur_batch_ = 0;
  std::vector<std::int32_t> batch_tokens_, batch_ids_;
  bool recorded_ = false, loss_ready_ = false;
};

}  // namespace trm
