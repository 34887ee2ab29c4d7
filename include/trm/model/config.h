// Model and optimizer configuration, with the field names of the reference's config so that a
// config written by one side reads on the other.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "trm/error.h"

namespace trm {

enum class PosEncoding { kRope, kLearned, kNone };

// Which recurrence the model runs (docs/REFERENCE.md §2.6 for TRM). HRM is the baseline of the TRM paper
// (sapientinc/HRM, models/hrm/hrm_act_v1.py): two networks, L (L_layers blocks) and H (H_layers
// blocks, separate weights), H_cycles x L_cycles calls of which only the last L and the last H
// call are differentiated (the one-step gradient), and Q-learning halting with a q_continue
// target from an extra no-grad forward (docs/REFERENCE.md §3.3).
enum class Arch { kTrm, kHrm };

// Upper bounds on the sizes a config may ask for. Each is far above any model the paper or the
// reference trains (in brackets) and low enough that no product of them overflows 64-bit
// arithmetic; memory (include/trm/model/memory.h) is checked separately before allocation.
// docs/RELIABILITY.md lists them with their reasons.
struct ConfigLimits {
  static constexpr int kMaxVocab = 1 << 16;              // [12 for ARC]
  static constexpr int kMaxSeqLen = 1 << 16;             // [900 for ARC 30x30]
  static constexpr int kMaxHidden = 1 << 14;             // [512]
  static constexpr int kMaxHeads = 1 << 10;              // [8]
  static constexpr int kMaxLayers = 64;                  // per level [2 for TRM, 4 for HRM]
  static constexpr int kMaxCycles = 256;                 // H_cycles, L_cycles [3 and 6]
  static constexpr int kMaxHaltSteps = 1024;             // [16]; solve runs up to this many steps
  static constexpr double kMaxExpansion = 64;            // [4]
  static constexpr int kMaxPuzzleIds = 1 << 26;          // [about 876k for ARC with augmentation]
  static constexpr int kMaxPuzzleEmbNdim = 1 << 14;      // [512]
  static constexpr int kMaxPuzzleEmbLen = 1 << 10;       // [16]
};

struct ModelConfig {
  int vocab_size = 11;
  int seq_len = 81;                 // S: task tokens per example
  int num_puzzle_identifiers = 1;
  int puzzle_emb_ndim = 512;        // 0 disables the puzzle embedding
  int puzzle_emb_len = 16;          // P: prefix positions; 0 means ceil(ndim / hidden)
  int H_cycles = 3;                 // T
  int L_cycles = 6;                 // n
  int L_layers = 2;
  Arch arch = Arch::kTrm;
  int H_layers = 0;                 // HRM's H network depth; ignored by TRM (as the reference)
  int hidden_size = 512;
  int num_heads = 8;
  double expansion = 4.0;
  PosEncoding pos_encodings = PosEncoding::kRope;
  bool mlp_t = false;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  int halt_max_steps = 16;
  double halt_exploration_prob = 0.1;

  // Derived sizes.
  int prefix_len() const;           // P after resolving 0
  int total_len() const { return seq_len + prefix_len(); }  // L
  int head_dim() const { return hidden_size / num_heads; }
  int mlp_inter() const;            // channel SwiGLU inner size (1536 for D = 512)
  int mlp_t_inter() const;          // sequence SwiGLU inner size (512 for L = 97)
  std::int64_t parameter_count() const;  // trainable parameters (excludes the puzzle table)
  // Blocks with their own weights: L_layers for TRM, L_layers + H_layers for HRM (L first).
  int num_blocks() const { return arch == Arch::kHrm ? L_layers + H_layers : L_layers; }
  // HRM's Q-learning halting: halt when q_halt > q_continue, and train q_continue against a
  // bootstrapped target. TRM (no_ACT_continue=True) halts when q_halt > 0.
  bool act_continue() const { return arch == Arch::kHrm; }

  // Throws trm::Error naming the field when the config cannot describe a model.
  void validate() const;
};

// SwiGLU inner size: round(expansion * h * 2/3), rounded up to a multiple of 256.
int swiglu_inter(double expansion, int h);

struct OptimConfig {
  double lr = 1e-4;
  int lr_warmup_steps = 2000;
  double lr_min_ratio = 1.0;
  std::int64_t total_steps = 1;
  double weight_decay = 1.0;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double puzzle_emb_lr = 1e-4;
  double puzzle_emb_weight_decay = 1.0;
  double ema_rate = 0.999;
  // The global batch size the summed loss is divided by. Derived, not a user setting: the trainer
  // (and trm bench) set it from the batch size and pass it to every TrmModel::train_step, and
  // key=value overrides refuse it. It stays in the JSON because the reference's fixtures carry it
  // and config.json records what a run used.
  int loss_divisor = 768;

  void validate() const;
};

// Learning rate at optimizer step `step` (counted from 1): linear warmup, then cosine down to
// min_ratio * base (constant when min_ratio = 1, the reference's setting).
double lr_schedule(std::int64_t step, double base_lr, int warmup_steps, std::int64_t total_steps,
                   double min_ratio);

// JSON (de)serialization with the reference's key names. Unknown keys are rejected so a typo
// does not silently fall back to a default.
void to_json(nlohmann::json& j, const ModelConfig& c);
void from_json(const nlohmann::json& j, ModelConfig& c);
void to_json(nlohmann::json& j, const OptimConfig& c);
void from_json(const nlohmann::json& j, OptimConfig& c);

// Sets one key from a JSON value, checked as from_json checks it (trm::Error naming the key).
// Returns false when `key` is not a key of that config a user can set; throws for derived keys.
bool set_config_key(ModelConfig& c, const std::string& key, const nlohmann::json& value);
bool set_config_key(OptimConfig& c, const std::string& key, const nlohmann::json& value);

std::string to_string(PosEncoding p);
PosEncoding pos_encoding_from_string(const std::string& s);
std::string to_string(Arch a);
Arch arch_from_string(const std::string& s);

}  // namespace trm
