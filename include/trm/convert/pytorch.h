// The released TRM and HRM checkpoints, in and out: `trm import` and `trm export --format pytorch`.
//
// The official training code (SamsungSAILMontreal/TinyRecursiveModels and sapientinc/HRM,
// pretrain.py: save_train_state / save_code_and_config) writes `torch.save(model.state_dict())`
// of the torch.compile'd loss head, so every key reads `_orig_mod.model.inner.<name>`, and dumps
// its whole run config as `all_config.yaml` beside the checkpoint. <name> is already trm's
// parameter name (embed_tokens.embedding_weight, lm_head.weight, q_head.weight/bias,
// puzzle_emb.weights, H_init, L_init, embed_pos.embedding_weight, L_level.layers.i.* and, for
// HRM, H_level.layers.i.*). When the run used EMA (ema: true), the saved weights are the EMA copy.
//
// Import reads the torch file natively (trm/io/torch_checkpoint.h), maps and checks every
// tensor against the model that all_config.yaml describes (sizes the YAML lacks come from tensor
// shapes, the dataset or a flag), and streams them into a trm checkpoint, so memory stays bounded
// whatever the size of the puzzle table. Export writes the reverse: a torch.save zip that the
// official model loads with load_state_dict(strict=True), and its all_config.yaml.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "trm/model/config.h"

namespace trm {

// The official run config (all_config.yaml, written by pretrain.py with yaml.dump of its
// PretrainConfig) as trm's configs. vocab_size, seq_len and num_puzzle_identifiers are not in it:
// the official code takes them from the dataset at run time.
struct OfficialConfig {
  std::string path;
  std::string arch_name;       // arch.name, e.g. "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1"
  ModelConfig model;
  OptimConfig optim;
  bool ema = false;            // the run kept an EMA copy, and saved it as the checkpoint
  std::string forward_dtype;   // arch.forward_dtype: the official code's compute dtype (trm computes in fp32)
  std::string loss_type;       // arch.loss.loss_type
  nlohmann::json run = nlohmann::json::object();  // the other top-level settings, for the record
  std::vector<std::string> notes;  // what was read leniently (keys trm ignores, defaults taken)
};

// Throws trm::Error naming the file and the key (unknown architecture, a missing required key,
// a value of the wrong type, an unresolved ${...} interpolation, a setting trm does not run).
OfficialConfig read_official_config(const std::string& yaml_path);

// "_orig_mod." (torch.compile), "model." (the loss head) and "inner." (the ACT wrapper) stripped,
// in that order, each when present: "_orig_mod.model.inner.lm_head.weight" -> "lm_head.weight".
std::string trm_name_from_official(const std::string& key);

struct ImportOptions {
  std::string checkpoint;   // a torch.save file (TRM: step_N, HRM: checkpoint)
  std::string config;       // all_config.yaml; empty: the one beside the checkpoint
  std::string data_dir;     // optional dataset (trm's / the official layout): seq_len, and checks
  int seq_len = 0;          // optional; needed for RoPE attention models without --data
  std::string out;          // the trm checkpoint (.safetensors) to write
};

struct ImportSummary {
  std::string source_format;  // "zip" or "legacy"
  std::string arch_name;
  ModelConfig model;
  std::size_t tensors = 0;
  std::uint64_t bytes_read = 0;  // tensor bytes converted
  bool ema = false;
  std::vector<std::string> notes;
  nlohmann::ordered_json to_json() const;
};

// Writes opt.out atomically; throws trm::Error (nothing written) on any mismatch.
ImportSummary import_pytorch(const ImportOptions& opt);

struct ExportOptions {
  std::string checkpoint;          // a trm checkpoint
  std::string out;                 // the torch file; an existing directory gets step_<step> inside
  bool raw_weights = false;        // the raw weights even when the checkpoint holds an EMA copy
  std::string forward_dtype = "bfloat16";  // all_config.yaml's forward_dtype and H_init/L_init's dtype
  std::string key_prefix = "_orig_mod.model.inner.";  // what the official pretrain.py's compiled model expects
  bool force_zip64 = false;        // tests
};

struct ExportSummary {
  std::string checkpoint, config;  // the files written
  std::size_t tensors = 0;
  bool ema = false;
  nlohmann::ordered_json to_json() const;
};

ExportSummary export_pytorch(const ExportOptions& opt);

}  // namespace trm
