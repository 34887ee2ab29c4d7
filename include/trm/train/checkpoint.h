// Checkpoints: one safetensors file that holds everything a run needs to continue exactly, or a
// model needs to run.
//
//   model.<name>      trainable parameters (the reference's state_dict names)
//   ema.<name>        their EMA shadow (what the reference saves and evaluates)
//   puzzle_emb.weights, H_init, L_init
//   optim.m, optim.v  AdamATan2 moments, flat in parameter-table order
//   carry.*           the ACT carry of the training batch (state, steps, halted, slot data)
//   __metadata__      "format": "trm-checkpoint-1", "config": {model, optim, train}, "state": {...}
//
// Written to a temporary file and renamed into place, so a crash mid-write leaves the previous
// checkpoint intact.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "trm/train/act.h"
#include "trm/model/model.h"
#include "trm/train/optim.h"
#include "trm/io/safetensors.h"

namespace trm {

struct CheckpointContents {
  nlohmann::json config;  // {"model": ModelConfig, "optim": OptimConfig, "train": {...}}
  nlohmann::json state;   // {"step": ..., "sampler": ..., "rng": ..., ...}
};

// optimizer and carry may be null (an inference-only export).
void save_checkpoint(const std::string& path, TrmModel& model, TrmOptimizer* optimizer, ActCarry* carry,
                     const CheckpointContents& contents);

class Checkpoint {
 public:
  static Checkpoint read(const std::string& path);  // validates the format tag; errors name the file
  const CheckpointContents& contents() const { return contents_; }
  ModelConfig model_config() const;
  const SafeTensorsFile& file() const { return file_; }
  bool has_ema() const { return file_.has("ema.embed_tokens.embedding_weight"); }
  bool has_train_state() const { return file_.has("optim.m"); }
  // Written by save_quantized_checkpoint (`trm quantize`): int8 weights, for inference only.
  bool is_quantized() const;

  // Checked reads of the "state" metadata. A missing key or a value of the wrong type is a
  // trm::Error naming the file and the key ("FILE: metadata key \"step\" is missing", "... must
  // be a non-negative integer (got -5)"), never a JSON library exception.
  const nlohmann::json& state_at(const std::string& key) const;
  std::int64_t state_count(const std::string& key) const;  // an integer >= 0

  // Weights (the EMA copy when use_ema and present), puzzle table and initial states. A quantized
  // file's int8 weights are dequantized (q * scale) and, when the backend runs fp32, switch it to
  // int8 (whose own quantization of q * scale gives back q).
  void load_model(TrmModel& model, bool use_ema) const;
  // Everything else a resumed run needs: raw weights, EMA, optimizer moments and step, carry.
  // The carry's token ids, labels, puzzle ids, step counts and halting flags are range-checked
  // against the model's config first (a bad id would index outside the embedding tables).
  void load_train_state(TrmModel& model, TrmOptimizer& optimizer, ActCarry& carry) const;

 private:
  SafeTensorsFile file_;
  CheckpointContents contents_;
};

// An inference file of `model`'s weights (docs/PRECISION.md): every linear weight that the int8
// path multiplies (attention and MLP projections, lm_head) as U8 "model.<name>.q8" = round(w /
// scale) + 128 [out, in] with F32 "model.<name>.scale" [out] = max|w[o, :]| / 127; everything else
// (embeddings, halting head, MLP-t token mixing, puzzle table, initial states) F32 as in an export.
// Metadata "quantized": "int8" and the config of `contents` (its train.precision set to int8).
void save_quantized_checkpoint(const std::string& path, TrmModel& model, CheckpointContents contents);
// The parameters save_quantized_checkpoint stores as int8.
bool is_quantized_param(const std::string& name);

// Loads any checkpoint into a model built from its own config.
std::unique_ptr<TrmModel> load_model_from_checkpoint(const std::string& path, Backend& backend, bool use_ema);

}  // namespace trm
