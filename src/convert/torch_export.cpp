// trm export --format pytorch: a trm checkpoint -> a torch.save state dict with the official key
// names, and the all_config.yaml the official pretrain.py / evaluation code reads.
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <filesystem>

#include "convert/trm_file.h"
#include "io/atomic_file.h"
#include "trm/convert/pytorch.h"
#include "trm/io/torch_checkpoint.h"
#include "trm/model/model.h"
#include "trm/train/checkpoint.h"

namespace trm {

namespace fs = std::filesystem;

namespace {

// A float as PyYAML writes one: shortest round-trip digits, always with a '.', so that PyYAML
// (YAML 1.1: "1e-05" is a string there) reads it back as a float.
std::string yaml_float(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".ein") != std::string::npos) {
    const auto e = s.find('e');
    if (e != std::string::npos && s.find('.') == std::string::npos) s.insert(e, ".0");
  } else {
    s += ".0";
  }
  return s;
}

std::int64_t json_int(const nlohmann::json& j, const char* key, std::int64_t fallback) {
  if (j.is_object() && j.contains(key) && j.at(key).is_number()) return static_cast<std::int64_t>(std::llround(j.at(key).get<double>()));
  return fallback;
}

std::string official_arch_name(Arch a) {
  return a == Arch::kHrm ? "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1"
                         : "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1";
}

// The run config, laid out as pretrain.py's yaml.dump(PretrainConfig) (keys sorted), with the
// values this checkpoint was trained with where trm knows them.
std::string official_yaml(const ModelConfig& m, const nlohmann::json& config, const std::string& forward_dtype, bool ema) {
  OptimConfig o;
  if (config.contains("optim")) o = config.at("optim").get<OptimConfig>();
  const nlohmann::json train = config.value("train", nlohmann::json::object());
  const nlohmann::json run = config.contains("import") ? config.at("import").value("run", nlohmann::json::object()) : nlohmann::json::object();
  const bool hrm = m.arch == Arch::kHrm;
  YAML::Emitter e;
  e << YAML::BeginMap;
  e << YAML::Key << "arch" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "H_cycles" << YAML::Value << m.H_cycles;
  e << YAML::Key << "H_layers" << YAML::Value << m.H_layers;
  e << YAML::Key << "L_cycles" << YAML::Value << m.L_cycles;
  e << YAML::Key << "L_layers" << YAML::Value << m.L_layers;
  e << YAML::Key << "expansion" << YAML::Value << yaml_float(m.expansion);
  e << YAML::Key << "forward_dtype" << YAML::Value << forward_dtype;
  e << YAML::Key << "halt_exploration_prob" << YAML::Value << yaml_float(m.halt_exploration_prob);
  e << YAML::Key << "halt_max_steps" << YAML::Value << m.halt_max_steps;
  e << YAML::Key << "hidden_size" << YAML::Value << m.hidden_size;
  e << YAML::Key << "loss" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "loss_type" << YAML::Value << "stablemax_cross_entropy";
  e << YAML::Key << "name" << YAML::Value << "losses@ACTLossHead";
  e << YAML::EndMap;
  if (!hrm) e << YAML::Key << "mlp_t" << YAML::Value << m.mlp_t;
  e << YAML::Key << "name" << YAML::Value << official_arch_name(m.arch);
  if (!hrm) e << YAML::Key << "no_ACT_continue" << YAML::Value << true;
  e << YAML::Key << "num_heads" << YAML::Value << m.num_heads;
  e << YAML::Key << "pos_encodings" << YAML::Value << to_string(m.pos_encodings);
  if (!hrm) e << YAML::Key << "puzzle_emb_len" << YAML::Value << m.puzzle_emb_len;
  e << YAML::Key << "puzzle_emb_ndim" << YAML::Value << m.puzzle_emb_ndim;
  e << YAML::Key << "rms_norm_eps" << YAML::Value << yaml_float(m.rms_norm_eps);
  e << YAML::Key << "rope_theta" << YAML::Value << yaml_float(m.rope_theta);
  e << YAML::EndMap;
  e << YAML::Key << "beta1" << YAML::Value << yaml_float(o.beta1);
  e << YAML::Key << "beta2" << YAML::Value << yaml_float(o.beta2);
  e << YAML::Key << "checkpoint_every_eval" << YAML::Value << false;
  e << YAML::Key << "checkpoint_path" << YAML::Value << YAML::Null;
  std::string data = train.value("data_dir", std::string());
  if (data.empty() && run.contains("data_paths") && run.at("data_paths").is_array() && !run.at("data_paths").empty() &&
      run.at("data_paths")[0].is_string())
    data = run.at("data_paths")[0].get<std::string>();
  e << YAML::Key << "data_paths" << YAML::Value << YAML::BeginSeq << (data.empty() ? std::string("data") : data) << YAML::EndSeq;
  e << YAML::Key << "data_paths_test" << YAML::Value << YAML::BeginSeq << YAML::EndSeq;
  e << YAML::Key << "ema" << YAML::Value << ema;
  e << YAML::Key << "ema_rate" << YAML::Value << yaml_float(o.ema_rate);
  e << YAML::Key << "epochs" << YAML::Value << std::max<std::int64_t>(1, json_int(train, "epochs", json_int(run, "epochs", 1)));
  e << YAML::Key << "eval_interval" << YAML::Value << YAML::Null;
  e << YAML::Key << "eval_save_outputs" << YAML::Value << YAML::BeginSeq << YAML::EndSeq;
  e << YAML::Key << "evaluators" << YAML::Value << YAML::BeginSeq << YAML::EndSeq;
  e << YAML::Key << "freeze_weights" << YAML::Value << false;
  e << YAML::Key << "global_batch_size" << YAML::Value << json_int(train, "global_batch", o.loss_divisor);
  e << YAML::Key << "load_checkpoint" << YAML::Value << YAML::Null;
  e << YAML::Key << "lr" << YAML::Value << yaml_float(o.lr);
  e << YAML::Key << "lr_min_ratio" << YAML::Value << yaml_float(o.lr_min_ratio);
  e << YAML::Key << "lr_warmup_steps" << YAML::Value << o.lr_warmup_steps;
  e << YAML::Key << "min_eval_interval" << YAML::Value << 0;
  e << YAML::Key << "project_name" << YAML::Value << YAML::Null;
  e << YAML::Key << "puzzle_emb_lr" << YAML::Value << yaml_float(o.puzzle_emb_lr);
  e << YAML::Key << "puzzle_emb_weight_decay" << YAML::Value << yaml_float(o.puzzle_emb_weight_decay);
  e << YAML::Key << "run_name" << YAML::Value << YAML::Null;
  e << YAML::Key << "seed" << YAML::Value << json_int(train, "seed", json_int(run, "seed", 0));
  e << YAML::Key << "weight_decay" << YAML::Value << yaml_float(o.weight_decay);
  e << YAML::EndMap;
  TRM_ASSERT(e.good(), std::string("YAML emitter: ") + e.GetLastError());
  return std::string(e.c_str()) + "\n";
}

}  // namespace

nlohmann::ordered_json ExportSummary::to_json() const {
  return {{"checkpoint", checkpoint}, {"config", config}, {"tensors", tensors}, {"ema_weights", ema}};
}

ExportSummary export_pytorch(const ExportOptions& opt) {
  const Checkpoint ck = Checkpoint::read(opt.checkpoint);
  const ModelConfig m = ck.model_config();
  const SafeTensorsFile& f = ck.file();
  DType init_dtype;
  if (opt.forward_dtype == "bfloat16")
    init_dtype = DType::kBF16;
  else if (opt.forward_dtype == "float32")
    init_dtype = DType::kF32;
  else
    throw Error("trm export: --forward-dtype must be bfloat16 or float32 (got \"" + opt.forward_dtype + "\")");
  if (m.arch == Arch::kHrm && m.puzzle_emb_ndim > 0 && m.prefix_len() != (m.puzzle_emb_ndim + m.hidden_size - 1) / m.hidden_size)
    throw Error(opt.checkpoint + ": HRM with puzzle_emb_len " + std::to_string(m.puzzle_emb_len) +
                " cannot be expressed in the official HRM config, whose puzzle prefix is always ceil(puzzle_emb_ndim / hidden_size) positions");
  if (m.arch == Arch::kHrm && m.pos_encodings == PosEncoding::kNone)
    throw Error(opt.checkpoint + ": the official HRM has no pos_encodings=none variant");

  ExportSummary sum;
  const bool use_ema = !opt.raw_weights && ck.has_ema();
  const std::string prefix = use_ema ? "ema." : "model.";
  const nlohmann::json& config = ck.contents().config;
  // The weights are an EMA copy when read from ema.*, when trm's trainer wrote them as its final
  // model (final.safetensors: EMA weights only) or when the imported official run saved EMA.
  sum.ema = use_ema || (!ck.has_ema() && config.contains("train")) ||
            (config.contains("import") && config.at("import").value("ema", false));
  sum.checkpoint = opt.out;
  if (fs::is_directory(opt.out))
    sum.checkpoint = (fs::path(opt.out) / ("step_" + std::to_string(json_int(ck.contents().state, "step", 0)))).string();
  sum.config = (fs::path(sum.checkpoint).parent_path() / "all_config.yaml").string();

  TorchCheckpointWriter w;
  const std::string& kp = opt.key_prefix;
  auto stream = [&f](const std::string& name) {
    return [&f, name](const std::function<void(const void*, std::size_t)>& out) {
      read_f32_chunks(f, name, [&](const float* p, std::size_t n) { out(p, 4 * n); });
    };
  };
  auto init_state = [&](const char* name) {
    const auto v = f.floats(name, {m.hidden_size});
    if (init_dtype == DType::kF32) {
      w.add_copy(kp + name, DType::kF32, {m.hidden_size}, v.data());
    } else {
      std::vector<std::uint16_t> h(v.size());
      for (std::size_t i = 0; i < v.size(); ++i) h[i] = float_to_bf16(v[i]);
      w.add_copy(kp + name, DType::kBF16, {m.hidden_size}, h.data());
    }
  };
  // The order of the official state_dict(): the inner module's own buffers, then its children
  // in registration order (embed_tokens, lm_head, q_head, puzzle_emb, embed_pos, H_level for
  // HRM, L_level).
  init_state("H_init");
  init_state("L_init");
  const auto table = make_param_table(m);
  auto add_param = [&](const ParamInfo& p) {
    if (f.entry(prefix + p.name).shape != p.shape)
      throw Error(opt.checkpoint + ": tensor \"" + prefix + p.name + "\" does not have the shape its config implies");
    w.add(kp + p.name, DType::kF32, p.shape, stream(prefix + p.name));
  };
  for (const auto& p : table)
    if (p.name.rfind("L_level.", 0) != 0 && p.name.rfind("H_level.", 0) != 0 && p.name != "embed_pos.embedding_weight") add_param(p);
  if (m.puzzle_emb_ndim > 0)
    w.add(kp + "puzzle_emb.weights", DType::kF32, {m.num_puzzle_identifiers, m.puzzle_emb_ndim}, stream("puzzle_emb.weights"));
  for (const auto& p : table)
    if (p.name == "embed_pos.embedding_weight") add_param(p);
  for (const char* level : {"H_level.", "L_level."})
    for (const auto& p : table)
      if (p.name.rfind(level, 0) == 0) add_param(p);
  w.write(sum.checkpoint, opt.force_zip64);
  data::write_text_file(sum.config, official_yaml(m, config, opt.forward_dtype, sum.ema));
  sum.tensors = table.size() + 2 + (m.puzzle_emb_ndim > 0 ? 1 : 0);
  return sum;
}

}  // namespace trm
