#include "trm/config.h"

#include <cmath>
#include <numbers>
#include <nlohmann/json.hpp>

namespace trm {

int swiglu_inter(double expansion, int h) {
  const int raw = static_cast<int>(std::lround(expansion * h * 2.0 / 3.0));
  return (raw + 255) / 256 * 256;
}

int ModelConfig::prefix_len() const {
  if (puzzle_emb_len > 0) return puzzle_emb_len;
  if (puzzle_emb_ndim <= 0) return 0;
  return (puzzle_emb_ndim + hidden_size - 1) / hidden_size;
}

int ModelConfig::mlp_inter() const { return swiglu_inter(expansion, hidden_size); }
int ModelConfig::mlp_t_inter() const { return swiglu_inter(expansion, total_len()); }

std::int64_t ModelConfig::parameter_count() const {
  const std::int64_t D = hidden_size, L = total_len(), I = mlp_inter();
  std::int64_t block = 2 * I * D + D * I;  // channel SwiGLU
  if (mlp_t) {
    const std::int64_t It = mlp_t_inter();
    block += 2 * It * L + L * It;
  } else {
    block += 3 * D * D + D * D;  // qkv + o
  }
  std::int64_t total = static_cast<std::int64_t>(num_blocks()) * block + 2LL * vocab_size * D + 2 * D + 2;
  if (pos_encodings == PosEncoding::kLearned) total += L * D;
  return total;
}

namespace {
void require(bool ok, const std::string& what) {
  if (!ok) throw Error("invalid model config: " + what);
}
}  // namespace

void ModelConfig::validate() const {
  require(vocab_size >= 2, "vocab_size must be >= 2 (got " + std::to_string(vocab_size) + ")");
  require(seq_len >= 1, "seq_len must be >= 1 (got " + std::to_string(seq_len) + ")");
  require(hidden_size >= 2, "hidden_size must be >= 2 (got " + std::to_string(hidden_size) + ")");
  require(num_heads >= 1, "num_heads must be >= 1 (got " + std::to_string(num_heads) + ")");
  if (!mlp_t) {
    require(hidden_size % num_heads == 0, "hidden_size " + std::to_string(hidden_size) +
                                              " is not divisible by num_heads " +
                                              std::to_string(num_heads));
  }
  if (pos_encodings == PosEncoding::kRope) {
    require(!mlp_t, "pos_encodings=rope needs attention (mlp_t=false); the MLP-t model uses none");
    require(head_dim() % 2 == 0, "RoPE needs an even head_dim (hidden_size/num_heads = " +
                                     std::to_string(head_dim()) + ")");
  }
  require(puzzle_emb_ndim >= 0, "puzzle_emb_ndim must be >= 0");
  require(puzzle_emb_len >= 0, "puzzle_emb_len must be >= 0");
  require(static_cast<std::int64_t>(puzzle_emb_ndim) <= static_cast<std::int64_t>(prefix_len()) * hidden_size,
          "puzzle_emb_ndim " + std::to_string(puzzle_emb_ndim) + " does not fit in puzzle_emb_len*hidden_size = " +
              std::to_string(prefix_len() * hidden_size));
  require(puzzle_emb_ndim == 0 || num_puzzle_identifiers >= 1,
          "num_puzzle_identifiers must be >= 1 when the puzzle embedding is on");
  require(H_cycles >= 1, "H_cycles must be >= 1");
  require(L_cycles >= 1, "L_cycles must be >= 1");
  require(L_layers >= 1, "L_layers must be >= 1");
  if (arch == Arch::kHrm) {
    require(H_layers >= 1, "arch=hrm needs H_layers >= 1");
    // HRM defines only the attention block (rope or learned positions).
    require(!mlp_t, "arch=hrm has no MLP-t variant (mlp_t must be false)");
    require(pos_encodings != PosEncoding::kNone, "arch=hrm needs pos_encodings rope or learned (HRM defines no other)");
  }
  require(expansion > 0, "expansion must be > 0");
  require(rms_norm_eps > 0, "rms_norm_eps must be > 0");
  require(rope_theta > 0, "rope_theta must be > 0");
  require(halt_max_steps >= 1, "halt_max_steps must be >= 1");
  require(halt_exploration_prob >= 0 && halt_exploration_prob <= 1, "halt_exploration_prob must be in [0, 1]");
}

void OptimConfig::validate() const {
  auto req = [](bool ok, const std::string& w) {
    if (!ok) throw Error("invalid optimizer config: " + w);
  };
  req(lr >= 0, "lr must be >= 0");
  req(lr_warmup_steps >= 0, "lr_warmup_steps must be >= 0");
  req(lr_min_ratio >= 0 && lr_min_ratio <= 1, "lr_min_ratio must be in [0, 1]");
  req(beta1 >= 0 && beta1 < 1, "beta1 must be in [0, 1)");
  req(beta2 >= 0 && beta2 < 1, "beta2 must be in [0, 1)");
  req(ema_rate >= 0 && ema_rate <= 1, "ema_rate must be in [0, 1]");
  req(loss_divisor >= 1, "loss_divisor must be >= 1");
}

double lr_schedule(std::int64_t step, double base_lr, int warmup_steps, std::int64_t total_steps,
                   double min_ratio) {
  if (step < warmup_steps) return base_lr * static_cast<double>(step) / warmup_steps;
  const double progress = static_cast<double>(step - warmup_steps) /
                          static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps));
  return base_lr * (min_ratio + std::max(0.0, (1.0 - min_ratio) * 0.5 *
                                                  (1.0 + std::cos(std::numbers::pi * progress))));
}

std::string to_string(PosEncoding p) {
  switch (p) {
    case PosEncoding::kRope: return "rope";
    case PosEncoding::kLearned: return "learned";
    case PosEncoding::kNone: return "none";
  }
  return "none";
}

std::string to_string(Arch a) { return a == Arch::kHrm ? "hrm" : "trm"; }

Arch arch_from_string(const std::string& s) {
  if (s == "trm") return Arch::kTrm;
  if (s == "hrm") return Arch::kHrm;
  throw Error("invalid model config: arch must be trm or hrm (got \"" + s + "\")");
}

PosEncoding pos_encoding_from_string(const std::string& s) {
  if (s == "rope") return PosEncoding::kRope;
  if (s == "learned") return PosEncoding::kLearned;
  if (s == "none") return PosEncoding::kNone;
  throw Error("invalid model config: pos_encodings must be rope, learned or none (got \"" + s + "\")");
}

namespace {
// Reads j[key] into out if present, with a message that names the key on a type mismatch.
template <class T>
void read(const nlohmann::json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end()) return;
  try {
    out = it->template get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("config key \"") + key + "\": " + e.what());
  }
}

void reject_unknown(const nlohmann::json& j, std::initializer_list<const char*> known, const char* what) {
  if (!j.is_object()) throw Error(std::string(what) + " config must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok |= it.key() == k;
    if (!ok) throw Error(std::string("unknown ") + what + " config key \"" + it.key() + "\"");
  }
}
}  // namespace

void to_json(nlohmann::json& j, const ModelConfig& c) {
  j = {{"vocab_size", c.vocab_size},
       {"seq_len", c.seq_len},
       {"num_puzzle_identifiers", c.num_puzzle_identifiers},
       {"puzzle_emb_ndim", c.puzzle_emb_ndim},
       {"puzzle_emb_len", c.puzzle_emb_len},
       {"H_cycles", c.H_cycles},
       {"L_cycles", c.L_cycles},
       {"L_layers", c.L_layers},
       {"hidden_size", c.hidden_size},
       {"num_heads", c.num_heads},
       {"expansion", c.expansion},
       {"pos_encodings", to_string(c.pos_encodings)},
       {"mlp_t", c.mlp_t},
       {"rms_norm_eps", c.rms_norm_eps},
       {"rope_theta", c.rope_theta},
       {"halt_max_steps", c.halt_max_steps},
       {"halt_exploration_prob", c.halt_exploration_prob}};
  // Written only for HRM, so TRM configs (and the checkpoints that embed them) stay as they were.
  if (c.arch == Arch::kHrm) {
    j["arch"] = to_string(c.arch);
    j["H_layers"] = c.H_layers;
  }
}

void from_json(const nlohmann::json& j, ModelConfig& c) {
  reject_unknown(j, {"vocab_size", "seq_len", "num_puzzle_identifiers", "puzzle_emb_ndim", "puzzle_emb_len",
                     "H_cycles", "L_cycles", "L_layers", "hidden_size", "num_heads", "expansion",
                     "pos_encodings", "mlp_t", "rms_norm_eps", "rope_theta", "halt_max_steps",
                     "halt_exploration_prob", "H_layers", "batch_size", "arch"},
                 "model");
  read(j, "vocab_size", c.vocab_size);
  read(j, "seq_len", c.seq_len);
  read(j, "num_puzzle_identifiers", c.num_puzzle_identifiers);
  read(j, "puzzle_emb_ndim", c.puzzle_emb_ndim);
  read(j, "puzzle_emb_len", c.puzzle_emb_len);
  read(j, "H_cycles", c.H_cycles);
  read(j, "L_cycles", c.L_cycles);
  read(j, "L_layers", c.L_layers);
  read(j, "H_layers", c.H_layers);
  std::string arch = to_string(c.arch);
  read(j, "arch", arch);
  c.arch = arch_from_string(arch);
  read(j, "hidden_size", c.hidden_size);
  read(j, "num_heads", c.num_heads);
  read(j, "expansion", c.expansion);
  std::string pe = to_string(c.pos_encodings);
  read(j, "pos_encodings", pe);
  c.pos_encodings = pos_encoding_from_string(pe);
  read(j, "mlp_t", c.mlp_t);
  read(j, "rms_norm_eps", c.rms_norm_eps);
  read(j, "rope_theta", c.rope_theta);
  read(j, "halt_max_steps", c.halt_max_steps);
  read(j, "halt_exploration_prob", c.halt_exploration_prob);
}

void to_json(nlohmann::json& j, const OptimConfig& c) {
  j = {{"lr", c.lr},
       {"lr_warmup_steps", c.lr_warmup_steps},
       {"lr_min_ratio", c.lr_min_ratio},
       {"total_steps", c.total_steps},
       {"weight_decay", c.weight_decay},
       {"beta1", c.beta1},
       {"beta2", c.beta2},
       {"puzzle_emb_lr", c.puzzle_emb_lr},
       {"puzzle_emb_weight_decay", c.puzzle_emb_weight_decay},
       {"ema_rate", c.ema_rate},
       {"loss_divisor", c.loss_divisor}};
}

void from_json(const nlohmann::json& j, OptimConfig& c) {
  reject_unknown(j, {"lr", "lr_warmup_steps", "lr_min_ratio", "total_steps", "weight_decay", "beta1", "beta2",
                     "puzzle_emb_lr", "puzzle_emb_weight_decay", "ema_rate", "loss_divisor"},
                 "optimizer");
  read(j, "lr", c.lr);
  read(j, "lr_warmup_steps", c.lr_warmup_steps);
  read(j, "lr_min_ratio", c.lr_min_ratio);
  read(j, "total_steps", c.total_steps);
  read(j, "weight_decay", c.weight_decay);
  read(j, "beta1", c.beta1);
  read(j, "beta2", c.beta2);
  read(j, "puzzle_emb_lr", c.puzzle_emb_lr);
  read(j, "puzzle_emb_weight_decay", c.puzzle_emb_weight_decay);
  read(j, "ema_rate", c.ema_rate);
  read(j, "loss_divisor", c.loss_divisor);
}

}  // namespace trm
