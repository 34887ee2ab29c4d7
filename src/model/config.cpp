#include "trm/model/config.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>
#include <type_traits>
#include <variant>

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

namespace {
// "NAME must be in [lo, hi] (got v)"
void require_range(std::int64_t v, std::int64_t lo, std::int64_t hi, const char* name) {
  require(v >= lo && v <= hi, std::string(name) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                  "] (got " + std::to_string(v) + ")");
}
}  // namespace

void ModelConfig::validate() const {
  using Lim = ConfigLimits;
  // Bounds first: every derived size below is then small enough to compute without overflow.
  require_range(vocab_size, 2, Lim::kMaxVocab, "vocab_size");
  require_range(seq_len, 1, Lim::kMaxSeqLen, "seq_len");
  require_range(hidden_size, 2, Lim::kMaxHidden, "hidden_size");
  require_range(num_heads, 1, Lim::kMaxHeads, "num_heads");
  require_range(L_layers, 1, Lim::kMaxLayers, "L_layers");
  require_range(H_layers, arch == Arch::kHrm ? 1 : 0, Lim::kMaxLayers, "H_layers");
  require_range(H_cycles, 1, Lim::kMaxCycles, "H_cycles");
  require_range(L_cycles, 1, Lim::kMaxCycles, "L_cycles");
  require_range(halt_max_steps, 1, Lim::kMaxHaltSteps, "halt_max_steps");
  require_range(puzzle_emb_ndim, 0, Lim::kMaxPuzzleEmbNdim, "puzzle_emb_ndim");
  require_range(puzzle_emb_len, 0, Lim::kMaxPuzzleEmbLen, "puzzle_emb_len");
  require_range(num_puzzle_identifiers, puzzle_emb_ndim > 0 ? 1 : 0, Lim::kMaxPuzzleIds, "num_puzzle_identifiers");
  require(expansion > 0 && expansion <= Lim::kMaxExpansion,
          "expansion must be in (0, " + std::to_string(static_cast<int>(Lim::kMaxExpansion)) + "] (got " +
              std::to_string(expansion) + ")");
  require(std::isfinite(rms_norm_eps) && rms_norm_eps > 0, "rms_norm_eps must be finite and > 0");
  require(std::isfinite(rope_theta) && rope_theta > 0, "rope_theta must be finite and > 0");
  require(halt_exploration_prob >= 0 && halt_exploration_prob <= 1, "halt_exploration_prob must be in [0, 1]");
  require(prefix_len() <= Lim::kMaxPuzzleEmbLen,
          "the puzzle prefix ceil(puzzle_emb_ndim / hidden_size) = " + std::to_string(prefix_len()) + " exceeds " +
              std::to_string(Lim::kMaxPuzzleEmbLen) + " positions");
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
  require(static_cast<std::int64_t>(puzzle_emb_ndim) <= static_cast<std::int64_t>(prefix_len()) * hidden_size,
          "puzzle_emb_ndim " + std::to_string(puzzle_emb_ndim) + " does not fit in puzzle_emb_len*hidden_size = " +
              std::to_string(prefix_len() * hidden_size));
  if (arch == Arch::kHrm) {
    // HRM defines only the attention block (rope or learned positions).
    require(!mlp_t, "arch=hrm has no MLP-t variant (mlp_t must be false)");
    require(pos_encodings != PosEncoding::kNone, "arch=hrm needs pos_encodings rope or learned (HRM defines no other)");
  }
}

void OptimConfig::validate() const {
  auto req = [](bool ok, const std::string& w) {
    if (!ok) throw Error("invalid optimizer config: " + w);
  };
  req(std::isfinite(lr) && lr >= 0, "lr must be finite and >= 0");
  req(std::isfinite(puzzle_emb_lr) && puzzle_emb_lr >= 0, "puzzle_emb_lr must be finite and >= 0");
  // Negative decay would grow the weights every step (AdamATan2 applies theta *= 1 - lr * wd).
  req(std::isfinite(weight_decay) && weight_decay >= 0, "weight_decay must be finite and >= 0 (got " + std::to_string(weight_decay) + ")");
  req(std::isfinite(puzzle_emb_weight_decay) && puzzle_emb_weight_decay >= 0,
      "puzzle_emb_weight_decay must be finite and >= 0 (got " + std::to_string(puzzle_emb_weight_decay) + ")");
  req(total_steps >= 1, "total_steps must be >= 1");
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

// Every config key is spelled once, in the tables below; to_json, from_json, the unknown-key check
// and key=value overrides (set_config_key) all walk them.
template <class C>
using Member = std::variant<std::monostate, int C::*, std::int64_t C::*, double C::*, bool C::*,
                            PosEncoding C::*, Arch C::*>;

template <class C>
struct Key {
  const char* name;
  Member<C> member;                       // std::monostate: accepted on read and ignored
  bool (*written)(const C&) = nullptr;    // when to write the key; nullptr: always
  const char* derived_from = nullptr;     // set: the program computes the value, so no override
};

bool is_hrm(const ModelConfig& c) { return c.arch == Arch::kHrm; }

// In the order from_json reads them (it decides which error a config with several bad keys gets).
const Key<ModelConfig> kModelKeys[] = {
    {.name = "vocab_size", .member = &ModelConfig::vocab_size},
    {.name = "seq_len", .member = &ModelConfig::seq_len},
    {.name = "num_puzzle_identifiers", .member = &ModelConfig::num_puzzle_identifiers},
    {.name = "puzzle_emb_ndim", .member = &ModelConfig::puzzle_emb_ndim},
    {.name = "puzzle_emb_len", .member = &ModelConfig::puzzle_emb_len},
    {.name = "H_cycles", .member = &ModelConfig::H_cycles},
    {.name = "L_cycles", .member = &ModelConfig::L_cycles},
    {.name = "L_layers", .member = &ModelConfig::L_layers},
    // arch and H_layers are written only for HRM, so TRM configs (and the checkpoints that embed
    // them) stay as they were before HRM existed.
    {.name = "H_layers", .member = &ModelConfig::H_layers, .written = is_hrm},
    {.name = "arch", .member = &ModelConfig::arch, .written = is_hrm},
    {.name = "hidden_size", .member = &ModelConfig::hidden_size},
    {.name = "num_heads", .member = &ModelConfig::num_heads},
    {.name = "expansion", .member = &ModelConfig::expansion},
    {.name = "pos_encodings", .member = &ModelConfig::pos_encodings},
    {.name = "mlp_t", .member = &ModelConfig::mlp_t},
    {.name = "rms_norm_eps", .member = &ModelConfig::rms_norm_eps},
    {.name = "rope_theta", .member = &ModelConfig::rope_theta},
    {.name = "halt_max_steps", .member = &ModelConfig::halt_max_steps},
    {.name = "halt_exploration_prob", .member = &ModelConfig::halt_exploration_prob},
    // The reference's arch config carries the batch size; trm takes it from the trainer's options.
    {.name = "batch_size", .member = {}},
};

const Key<OptimConfig> kOptimKeys[] = {
    {.name = "lr", .member = &OptimConfig::lr},
    {.name = "lr_warmup_steps", .member = &OptimConfig::lr_warmup_steps},
    {.name = "lr_min_ratio", .member = &OptimConfig::lr_min_ratio},
    {.name = "total_steps", .member = &OptimConfig::total_steps},
    {.name = "weight_decay", .member = &OptimConfig::weight_decay},
    {.name = "beta1", .member = &OptimConfig::beta1},
    {.name = "beta2", .member = &OptimConfig::beta2},
    {.name = "puzzle_emb_lr", .member = &OptimConfig::puzzle_emb_lr},
    {.name = "puzzle_emb_weight_decay", .member = &OptimConfig::puzzle_emb_weight_decay},
    {.name = "ema_rate", .member = &OptimConfig::ema_rate},
    // Read (the reference's fixtures set it) and written (config.json records the divisor a run
    // used), but never a user setting: the trainer and trm bench set it to the global batch.
    {.name = "loss_divisor", .member = &OptimConfig::loss_divisor,
     .derived_from = "the global batch size (--batch)"},
};

const char* kind(const ModelConfig*) { return "model"; }
const char* kind(const OptimConfig*) { return "optimizer"; }

// The enums are strings in JSON; everything else is its JSON number or boolean.
template <class T>
nlohmann::json to_value(const T& v) { return v; }
nlohmann::json to_value(PosEncoding p) { return to_string(p); }
nlohmann::json to_value(Arch a) { return to_string(a); }

template <class T>
void from_value(const nlohmann::json& v, T& out) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // An integer field takes a JSON integer in its range, or a float with an integral value in
    // range (512.0): get<int>() of 3.3e59 is undefined behaviour (found by fuzz_config_json,
    // docs/RELIABILITY.md) and 1.5 would silently become 1.
    constexpr auto lo = std::numeric_limits<T>::min();
    constexpr auto hi = std::numeric_limits<T>::max();
    if (v.is_number_unsigned()) {
      const auto u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(hi)) throw Error("must be at most " + std::to_string(hi) + " (got " + v.dump() + ")");
      out = static_cast<T>(u);
    } else if (v.is_number_integer()) {
      const auto i = v.get<std::int64_t>();
      if (i < static_cast<std::int64_t>(lo) || i > static_cast<std::int64_t>(hi))
        throw Error("must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (got " + v.dump() + ")");
      out = static_cast<T>(i);
    } else if (v.is_number_float()) {
      const double d = v.get<double>();
      // 2^63 is exactly representable; hi + 1.0 as a double is the first value out of range.
      if (!(d == std::floor(d) && d >= static_cast<double>(lo) && d < static_cast<double>(hi) + 1.0))
        throw Error("must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (got " + v.dump() + ")");
      out = static_cast<T>(d);
    } else {
      out = v.get<T>();  // throws nlohmann's type_error for strings, booleans, arrays...
    }
  } else {
    out = v.get<T>();
  }
}
void from_value(const nlohmann::json& v, PosEncoding& out) { out = pos_encoding_from_string(v.get<std::string>()); }
void from_value(const nlohmann::json& v, Arch& out) { out = arch_from_string(v.get<std::string>()); }

// Sets key's field from v; a JSON type mismatch becomes a trm::Error naming the key (the enums'
// own messages list the accepted names).
template <class C>
void read_key(const Key<C>& key, const nlohmann::json& v, C& c) {
  std::visit(
      [&](auto m) {
        if constexpr (!std::is_same_v<decltype(m), std::monostate>) {
          try {
            from_value(v, c.*m);
          } catch (const nlohmann::json::exception& e) {
            throw Error(std::string("config key \"") + key.name + "\": " + e.what());
          } catch (const Error& e) {
            throw Error(std::string("config key \"") + key.name + "\": " + e.what());
          }
        }
      },
      key.member);
}

template <class C, std::size_t N>
void keys_to_json(nlohmann::json& j, const C& c, const Key<C> (&keys)[N]) {
  j = nlohmann::json::object();
  for (const auto& key : keys) {
    if (key.written != nullptr && !key.written(c)) continue;
    std::visit(
        [&](auto m) {
          if constexpr (!std::is_same_v<decltype(m), std::monostate>) j[key.name] = to_value(c.*m);
        },
        key.member);
  }
}

// Unknown keys are rejected (before any is read) so that a typo does not fall back to a default.
template <class C, std::size_t N>
void keys_from_json(const nlohmann::json& j, C& c, const Key<C> (&keys)[N]) {
  const char* what = kind(&c);
  if (!j.is_object()) throw Error(std::string(what) + " config must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const auto& key : keys) ok |= it.key() == key.name;
    if (!ok) throw Error(std::string("unknown ") + what + " config key \"" + it.key() + "\"");
  }
  for (const auto& key : keys)
    if (auto it = j.find(key.name); it != j.end()) read_key(key, *it, c);
}

template <class C, std::size_t N>
bool set_key(C& c, const std::string& name, const nlohmann::json& v, const Key<C> (&keys)[N]) {
  for (const auto& key : keys) {
    if (name != key.name || std::holds_alternative<std::monostate>(key.member)) continue;
    if (key.derived_from != nullptr)
      throw Error(std::string("config key \"") + key.name + "\" cannot be set: it is derived from " +
                  key.derived_from);
    read_key(key, v, c);
    return true;
  }
  return false;
}

}  // namespace

void to_json(nlohmann::json& j, const ModelConfig& c) { keys_to_json(j, c, kModelKeys); }
void from_json(const nlohmann::json& j, ModelConfig& c) { keys_from_json(j, c, kModelKeys); }
void to_json(nlohmann::json& j, const OptimConfig& c) { keys_to_json(j, c, kOptimKeys); }
void from_json(const nlohmann::json& j, OptimConfig& c) { keys_from_json(j, c, kOptimKeys); }

bool set_config_key(ModelConfig& c, const std::string& key, const nlohmann::json& value) {
  return set_key(c, key, value, kModelKeys);
}
bool set_config_key(OptimConfig& c, const std::string& key, const nlohmann::json& value) {
  return set_key(c, key, value, kOptimKeys);
}

}  // namespace trm
