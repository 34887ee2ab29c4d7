// The parameter table: names and shapes as in the reference's state_dict, laid out in one flat
// buffer so that the optimizer, the EMA and gradient all-reduce each see a single array.
#include <cmath>

#include "trm/model/model.h"

namespace trm {

namespace {
// "L_level.layers.i." for the first L_layers blocks, then (HRM) "H_level.layers.j.".
std::string prefix_of_block(const ModelConfig& cfg, int block) {
  if (block < cfg.L_layers) return "L_level.layers." + std::to_string(block) + ".";
  return "H_level.layers." + std::to_string(block - cfg.L_layers) + ".";
}
}  // namespace

std::vector<ParamInfo> make_param_table(const ModelConfig& cfg) {
  const std::int64_t D = cfg.hidden_size, V = cfg.vocab_size, L = cfg.total_len();
  const std::int64_t I = cfg.mlp_inter();
  std::vector<ParamInfo> table;
  std::int64_t offset = 0;
  auto add = [&](std::string name, std::vector<std::int64_t> shape) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    table.push_back({std::move(name), std::move(shape), offset, n});
    // Keep every tensor 16-float (64-byte) aligned inside the flat buffer.
    offset += (n + 15) / 16 * 16;
  };
  add("embed_tokens.embedding_weight", {V, D});
  if (cfg.pos_encodings == PosEncoding::kLearned) add("embed_pos.embedding_weight", {L, D});
  add("lm_head.weight", {V, D});
  add("q_head.weight", {2, D});
  add("q_head.bias", {2});
  // Blocks in order: L_level.layers.0.. then (HRM) H_level.layers.0..
  for (int l = 0; l < cfg.num_blocks(); ++l) {
    const std::string p = prefix_of_block(cfg, l);
    if (cfg.mlp_t) {
      const std::int64_t It = cfg.mlp_t_inter();
      add(p + "mlp_t.gate_up_proj.weight", {2 * It, L});
      add(p + "mlp_t.down_proj.weight", {L, It});
    } else {
      add(p + "self_attn.qkv_proj.weight", {3 * D, D});
      add(p + "self_attn.o_proj.weight", {D, D});
    }
    add(p + "mlp.gate_up_proj.weight", {2 * I, D});
    add(p + "mlp.down_proj.weight", {D, I});
  }
  return table;
}

// The buffers end at the last tensor's padded end, as every tensor's slot is padded.
std::int64_t TrmModel::param_buffer_floats(const std::vector<ParamInfo>& table) {
  return (table.back().offset + table.back().numel + 15) / 16 * 16;
}

void TrmModel::build_param_table() {
  table_ = make_param_table(cfg_);
  num_params_ = 0;
  for (const auto& p : table_) num_params_ += p.numel;
  params_ = DeviceBuffer(be_, param_buffer_floats(table_));
  grads_ = DeviceBuffer(be_, param_buffer_floats(table_));
}

std::string TrmModel::block_prefix(int block) const { return prefix_of_block(cfg_, block); }

const ParamInfo& TrmModel::info(const std::string& name) const {
  for (const auto& p : table_)
    if (p.name == name) return p;
  throw Error("no parameter named \"" + name + "\" in this model");
}

void TrmModel::zero_grads() { be_.fill(grads_.data(), 0.0f, grads_.size()); }

}  // namespace trm
