// all_config.yaml of the official TRM / HRM training (pretrain.py: save_code_and_config dumps its
// PretrainConfig with yaml.dump) read into trm's ModelConfig / OptimConfig.
#include <yaml-cpp/yaml.h>

#include <set>

#include "trm/convert/pytorch.h"

namespace trm {

namespace {

// The arch keys of the official model configs (TinyRecursiveReasoningModel_ACTV1Config in
// models/recursive_reasoning/trm.py, HierarchicalReasoningModel_ACTV1Config in
// models/hrm/hrm_act_v1.py) plus the loss head; anything else is reported as ignored, as the
// official pydantic configs ignore it too.
const std::set<std::string> kArchKeys = {
    "name", "loss", "H_cycles", "L_cycles", "H_layers", "L_layers", "hidden_size", "num_heads", "expansion",
    "pos_encodings", "rms_norm_eps", "rope_theta", "halt_max_steps", "halt_exploration_prob", "forward_dtype",
    "mlp_t", "puzzle_emb_ndim", "puzzle_emb_len", "no_ACT_continue"};

class Reader {
 public:
  Reader(const YAML::Node& map, std::string path, std::string section) : map_(map), path_(std::move(path)), section_(std::move(section)) {}

  bool has(const std::string& key) const { return map_[key] && !map_[key].IsNull(); }

  template <class T>
  T get(const std::string& key, const char* type) const {
    const YAML::Node n = map_[key];
    if (!n || n.IsNull()) throw Error(path_ + ": missing required key \"" + section_ + key + "\"");
    if (!n.IsScalar()) throw Error(path_ + ": \"" + section_ + key + "\" must be " + type + ", got a " + (n.IsMap() ? "map" : "list"));
    const std::string raw = n.Scalar();
    if (raw.find("${") != std::string::npos)
      throw Error(path_ + ": \"" + section_ + key + "\" = \"" + raw +
                  "\" is an unresolved interpolation (give the all_config.yaml the run wrote, not the hydra source)");
    try {
      return n.as<T>();
    } catch (const YAML::Exception&) {
      throw Error(path_ + ": \"" + section_ + key + "\" must be " + type + ", got \"" + raw + "\"");
    }
  }
  template <class T>
  T get_or(const std::string& key, const char* type, T fallback) const {
    return has(key) ? get<T>(key, type) : fallback;
  }

 private:
  YAML::Node map_;
  std::string path_, section_;
};

// A YAML scalar as JSON: int, float, bool, null or string, as PyYAML would have read it.
nlohmann::json scalar_json(const YAML::Node& n) {
  if (n.IsNull()) return nullptr;
  if (n.IsSequence()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& x : n) a.push_back(scalar_json(x));
    return a;
  }
  if (n.IsMap()) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& kv : n) o[kv.first.Scalar()] = scalar_json(kv.second);
    return o;
  }
  if (n.Tag() == "!") return n.Scalar();  // quoted in the file: a string
  const std::string& s = n.Scalar();
  std::int64_t i;
  double d;
  bool b = false;
  if (YAML::convert<std::int64_t>::decode(n, i)) return i;
  if (YAML::convert<double>::decode(n, d)) return d;
  if (s == "true" || s == "false" || s == "True" || s == "False") {
    YAML::convert<bool>::decode(n, b);
    return b;
  }
  return s;
}

}  // namespace

std::string trm_name_from_official(const std::string& key) {
  std::string n = key;
  for (const char* prefix : {"_orig_mod.", "model.", "inner."})
    if (n.rfind(prefix, 0) == 0) n = n.substr(std::string(prefix).size());
  return n;
}

OfficialConfig read_official_config(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw Error(path + ": cannot open for reading");
  } catch (const YAML::Exception& e) {
    throw Error(path + ": not valid YAML (" + e.what() + ")");
  }
  if (!root.IsMap()) throw Error(path + ": not a run config (expected a YAML map with an \"arch\" section)");
  const YAML::Node arch = root["arch"];
  if (!arch || !arch.IsMap())
    throw Error(path + ": no \"arch\" section: not an all_config.yaml of the official TRM/HRM training");
  OfficialConfig oc;
  oc.path = path;
  const Reader a(arch, path, "arch."), top(root, path, "");
  oc.arch_name = a.get<std::string>("name", "a string");
  // "<module>@<class>": the class decides the architecture (the module path differs between the
  // HRM repository, hrm.hrm_act_v1, and the TRM repository, recursive_reasoning.hrm).
  const auto at = oc.arch_name.find('@');
  const std::string cls = at == std::string::npos ? oc.arch_name : oc.arch_name.substr(at + 1);
  ModelConfig& m = oc.model;
  if (cls == "TinyRecursiveReasoningModel_ACTV1") {
    m.arch = Arch::kTrm;
  } else if (cls == "HierarchicalReasoningModel_ACTV1") {
    m.arch = Arch::kHrm;
  } else {
    throw Error(path + ": unknown architecture \"" + oc.arch_name +
                "\": trm imports recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1 (TRM) and "
                "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1 or recursive_reasoning.hrm@HierarchicalReasoningModel_ACTV1 (HRM)");
  }
  const bool hrm = m.arch == Arch::kHrm;
  m.H_cycles = a.get<int>("H_cycles", "an integer");
  m.L_cycles = a.get<int>("L_cycles", "an integer");
  m.L_layers = a.get<int>("L_layers", "an integer");
  // TRM's config carries H_layers but ignores it ("H_layers: int # ignored"); HRM needs it.
  m.H_layers = hrm ? a.get<int>("H_layers", "an integer") : 0;
  m.hidden_size = a.get<int>("hidden_size", "an integer");
  m.num_heads = a.get<int>("num_heads", "an integer");
  m.expansion = a.get<double>("expansion", "a number");
  const std::string pos = a.get<std::string>("pos_encodings", "a string");
  if (pos == "rope") {
    m.pos_encodings = PosEncoding::kRope;
  } else if (pos == "learned") {
    m.pos_encodings = PosEncoding::kLearned;
  } else if (hrm) {
    throw Error(path + ": arch.pos_encodings = \"" + pos + "\": the official HRM defines only rope and learned");
  } else {
    // The official TRM builds neither RoPE nor learned positions for any other value.
    m.pos_encodings = PosEncoding::kNone;
    if (pos != "none") oc.notes.push_back("arch.pos_encodings \"" + pos + "\" means no position encoding (as in the official TRM)");
  }
  m.rms_norm_eps = a.get_or<double>("rms_norm_eps", "a number", 1e-5);
  m.rope_theta = a.get_or<double>("rope_theta", "a number", 10000.0);
  m.halt_max_steps = a.get<int>("halt_max_steps", "an integer");
  m.halt_exploration_prob = a.get<double>("halt_exploration_prob", "a number");
  // Both official configs default puzzle_emb_ndim to 0 (no puzzle embedding).
  m.puzzle_emb_ndim = a.get_or<int>("puzzle_emb_ndim", "an integer", 0);
  if (hrm) {
    // HRM's prefix is always ceil(puzzle_emb_ndim / hidden_size) positions: trm's puzzle_emb_len 0.
    m.puzzle_emb_len = a.get_or<int>("puzzle_emb_len", "an integer", 0);
    if (a.has("mlp_t") && a.get<bool>("mlp_t", "a boolean")) oc.notes.push_back("arch.mlp_t is ignored for HRM, as the official HRM ignores it");
    m.mlp_t = false;
  } else {
    m.puzzle_emb_len = a.get_or<int>("puzzle_emb_len", "an integer", 16);  // the official TRM's default
    m.mlp_t = a.get_or<bool>("mlp_t", "a boolean", false);
    // no_ACT_continue: False is Q-learning halting (halt when q_halt > q_continue, a bootstrapped
    // q_continue target); trm's TRM halts on q_halt > 0 only, the official default.
    if (!a.get_or<bool>("no_ACT_continue", "a boolean", true))
      throw Error(path + ": arch.no_ACT_continue = false (TRM with Q-learning halting) is not supported by trm; "
                         "trm's TRM halts on sigmoid(q_halt) as the official default does");
  }
  oc.forward_dtype = a.get_or<std::string>("forward_dtype", "a string", "bfloat16");
  if (arch["loss"] && arch["loss"].IsMap()) {
    const Reader l(arch["loss"], path, "arch.loss.");
    oc.loss_type = l.get_or<std::string>("loss_type", "a string", "");
    if (!oc.loss_type.empty() && oc.loss_type != "stablemax_cross_entropy")
      oc.notes.push_back("arch.loss.loss_type is " + oc.loss_type + "; trm trains with stablemax_cross_entropy (inference is unaffected)");
  }
  for (const auto& kv : arch) {
    const std::string k = kv.first.Scalar();
    if (!kArchKeys.count(k)) oc.notes.push_back("arch." + k + " is not an official model setting and is ignored");
  }

  OptimConfig& o = oc.optim;
  o.lr = top.get_or<double>("lr", "a number", o.lr);
  o.lr_warmup_steps = top.get_or<int>("lr_warmup_steps", "an integer", o.lr_warmup_steps);
  o.lr_min_ratio = top.get_or<double>("lr_min_ratio", "a number", o.lr_min_ratio);
  o.weight_decay = top.get_or<double>("weight_decay", "a number", o.weight_decay);
  o.beta1 = top.get_or<double>("beta1", "a number", o.beta1);
  o.beta2 = top.get_or<double>("beta2", "a number", o.beta2);
  o.puzzle_emb_lr = top.get_or<double>("puzzle_emb_lr", "a number", o.puzzle_emb_lr);
  o.puzzle_emb_weight_decay = top.get_or<double>("puzzle_emb_weight_decay", "a number", o.puzzle_emb_weight_decay);
  o.ema_rate = top.get_or<double>("ema_rate", "a number", o.ema_rate);
  o.loss_divisor = top.get_or<int>("global_batch_size", "an integer", o.loss_divisor);
  oc.ema = top.get_or<bool>("ema", "a boolean", false);
  for (const auto& kv : root) {
    const std::string k = kv.first.Scalar();
    if (k != "arch") oc.run[k] = scalar_json(kv.second);
  }
  return oc;
}

}  // namespace trm
