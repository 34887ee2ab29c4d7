// trm import: a torch.save state dict of the official TRM / HRM -> a trm checkpoint.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "convert/trm_file.h"
#include "io/json_file.h"
#include "trm/convert/pytorch.h"
#include "trm/data/dataset.h"
#include "trm/io/torch_checkpoint.h"
#include "trm/model/model.h"

namespace trm {

namespace fs = std::filesystem;

namespace {

// Non-persistent buffers of the official modules (RotaryEmbedding's cos/sin tables, the sparse
// embedding's per-batch rows and ids): derived at run time, dropped if an older torch saved them.
bool derived_buffer(const std::string& name) {
  return name == "rotary_emb.cos_cached" || name == "rotary_emb.sin_cached" || name == "puzzle_emb.local_weights" ||
         name == "puzzle_emb.local_ids";
}

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string r = "[";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::string list_some(const std::vector<std::string>& names) {
  std::string r;
  for (std::size_t i = 0; i < names.size() && i < 8; ++i) r += (i ? ", " : "") + ("\"" + names[i] + "\"");
  if (names.size() > 8) r += " and " + std::to_string(names.size() - 8) + " more";
  return r;
}

// The dataset's metadata: <dir>/test/dataset.json, else <dir>/train/dataset.json.
data::Metadata dataset_metadata(const std::string& dir) {
  for (const char* split : {"test", "train"}) {
    const fs::path p = fs::path(dir) / split / "dataset.json";
    if (!fs::exists(p)) continue;
    return data::metadata_from_json(data::read_json_file(p.string()), p.string());
  }
  throw Error(dir + ": no test/dataset.json or train/dataset.json (is it a dataset directory?)");
}

}  // namespace

nlohmann::ordered_json ImportSummary::to_json() const {
  nlohmann::json m = model;
  return {{"format", source_format}, {"arch", arch_name}, {"tensors", tensors}, {"bytes", bytes_read},
          {"ema_weights", ema}, {"model", m}, {"notes", notes}};
}

ImportSummary import_pytorch(const ImportOptions& opt) {
  const std::string& path = opt.checkpoint;
  if (opt.out.empty()) throw Error("trm import: no output file given (--out)");
  const TorchCheckpoint ck = TorchCheckpoint::read(path);
  const std::string cfg_path =
      !opt.config.empty() ? opt.config : (fs::path(path).parent_path() / "all_config.yaml").string();
  if (opt.config.empty() && !fs::exists(cfg_path))
    throw Error(path + ": no all_config.yaml beside it; pass --config PATH (the all_config.yaml the official "
                       "training wrote with the checkpoint): the recursion (H_cycles, L_cycles), the heads and the "
                       "position encoding cannot be read from the tensors");
  OfficialConfig oc = read_official_config(cfg_path);
  ImportSummary sum;
  sum.source_format = ck.format();
  sum.arch_name = oc.arch_name;
  sum.ema = oc.ema;
  sum.notes = oc.notes;

  // Official key -> trm name; every tensor is accounted for.
  std::map<std::string, const TorchTensorInfo*> by_name;
  std::vector<std::string> dropped;
  for (const auto& t : ck.tensors()) {
    const std::string n = trm_name_from_official(t.name);
    if (derived_buffer(n)) {
      dropped.push_back(t.name);
      continue;
    }
    auto [it, fresh] = by_name.emplace(n, &t);
    if (!fresh) throw Error(path + ": tensors \"" + it->second->name + "\" and \"" + t.name + "\" both map to \"" + n + "\"");
  }
  if (!dropped.empty()) sum.notes.push_back("dropped derived buffers " + list_some(dropped));
  auto need = [&](const std::string& n, std::size_t ndim) -> const TorchTensorInfo& {
    auto it = by_name.find(n);
    if (it == by_name.end())
      throw Error(path + ": missing tensor \"" + n + "\" (official key \"_orig_mod.model.inner." + n + "\"), which " +
                  oc.arch_name + " with " + cfg_path + " needs");
    if (it->second->shape.size() != ndim)
      throw Error(path + ": tensor \"" + it->second->name + "\" has shape " + shape_str(it->second->shape) + ", expected " +
                  std::to_string(ndim) + " dimensions");
    return *it->second;
  };

  // Sizes the YAML lacks: vocab and puzzle ids from the tables, seq_len from the data, a flag or
  // a shape that depends on it.
  ModelConfig& m = oc.model;
  const TorchTensorInfo& emb = need("embed_tokens.embedding_weight", 2);
  if (emb.shape[1] != m.hidden_size)
    throw Error(path + ": tensor \"" + emb.name + "\" has shape " + shape_str(emb.shape) + ", but " + cfg_path +
                " says hidden_size " + std::to_string(m.hidden_size));
  m.vocab_size = static_cast<int>(emb.shape[0]);
  if (m.puzzle_emb_ndim > 0) {
    const TorchTensorInfo& pz = need("puzzle_emb.weights", 2);
    if (pz.shape[1] != m.puzzle_emb_ndim)
      throw Error(path + ": tensor \"" + pz.name + "\" has shape " + shape_str(pz.shape) + ", but " + cfg_path +
                  " says puzzle_emb_ndim " + std::to_string(m.puzzle_emb_ndim));
    m.num_puzzle_identifiers = static_cast<int>(pz.shape[0]);
  }
  // Candidate seq_len values and where each came from; they must agree.
  std::vector<std::pair<std::int64_t, std::string>> seq;
  if (opt.seq_len > 0) seq.push_back({opt.seq_len, "--seq-len"});
  if (!opt.data_dir.empty()) {
    const data::Metadata meta = dataset_metadata(opt.data_dir);
    seq.push_back({meta.seq_len, opt.data_dir + "'s dataset.json"});
    if (meta.vocab_size != m.vocab_size)
      throw Error(path + ": the token table has " + std::to_string(m.vocab_size) + " rows, " + opt.data_dir +
                  "'s dataset.json says vocab_size " + std::to_string(meta.vocab_size) + " (a checkpoint for another dataset?)");
    if (m.puzzle_emb_ndim > 0 && meta.num_puzzle_identifiers != m.num_puzzle_identifiers)
      throw Error(path + ": the puzzle table has " + std::to_string(m.num_puzzle_identifiers) + " rows, " + opt.data_dir +
                  "'s dataset.json says num_puzzle_identifiers " + std::to_string(meta.num_puzzle_identifiers) +
                  " (puzzle ids follow the builder's identifiers.json: build the dataset as the checkpoint's run did)");
    if (m.puzzle_emb_ndim == 0) m.num_puzzle_identifiers = meta.num_puzzle_identifiers;
  }
  const std::int64_t P = m.prefix_len();
  if (m.mlp_t) {
    const TorchTensorInfo& g = need("L_level.layers.0.mlp_t.gate_up_proj.weight", 2);
    seq.push_back({g.shape[1] - P, "the width of " + g.name + " minus the " + std::to_string(P) + " puzzle positions"});
  }
  if (m.pos_encodings == PosEncoding::kLearned) {
    const TorchTensorInfo& e = need("embed_pos.embedding_weight", 2);
    seq.push_back({e.shape[0] - P, "the rows of " + e.name + " minus the " + std::to_string(P) + " puzzle positions"});
  }
  if (seq.empty())
    throw Error(path + ": seq_len cannot be determined: this model's weights do not depend on it (RoPE attention); "
                       "pass --data DATASET_DIR (its dataset.json) or --seq-len N");
  for (const auto& [v, from] : seq)
    if (v != seq.front().first)
      throw Error(path + ": seq_len " + std::to_string(seq.front().first) + " from " + seq.front().second + " disagrees with " +
                  std::to_string(v) + " from " + from);
  if (seq.front().first < 1) throw Error(path + ": seq_len " + std::to_string(seq.front().first) + " from " + seq.front().second);
  m.seq_len = static_cast<int>(seq.front().first);
  try {
    m.validate();
  } catch (const Error& e) {
    throw Error(cfg_path + ": " + e.what());
  }
  sum.model = m;

  // The trm checkpoint: every parameter, the puzzle table, the initial states; shapes checked.
  std::vector<TrmFileTensor> out;
  std::set<std::string> used;
  auto take = [&](const std::string& n, const std::string& out_name, const std::vector<std::int64_t>& shape) {
    auto it = by_name.find(n);
    if (it == by_name.end()) return false;
    const TorchTensorInfo& t = *it->second;
    if (t.shape != shape)
      throw Error(path + ": tensor \"" + t.name + "\" has shape " + shape_str(t.shape) + ", trm expects " + shape_str(shape) +
                  " for " + n + " (from " + cfg_path + " and the other tensors' shapes)");
    if (t.dtype != DType::kF32 && t.dtype != DType::kBF16 && t.dtype != DType::kF16)
      throw Error(path + ": tensor \"" + t.name + "\" has dtype " + dtype_name(t.dtype) + "; weights must be F32, BF16 or F16");
    used.insert(n);
    out.push_back({out_name, shape, [&ck, &t](const std::function<void(const float*, std::size_t)>& sink) { ck.read_floats(t, sink); }});
    return true;
  };
  std::vector<std::string> missing;
  for (const auto& p : make_param_table(m))
    if (!take(p.name, "model." + p.name, p.shape)) missing.push_back(p.name);
  if (m.puzzle_emb_ndim > 0) {
    if (!take("puzzle_emb.weights", "puzzle_emb.weights", {m.num_puzzle_identifiers, m.puzzle_emb_ndim})) missing.push_back("puzzle_emb.weights");
  } else {
    out.push_back({"puzzle_emb.weights", {m.num_puzzle_identifiers, 0}, [](const auto&) {}});
  }
  for (const char* n : {"H_init", "L_init"})
    if (!take(n, n, {m.hidden_size})) missing.push_back(n);
  if (!missing.empty())
    throw Error(path + ": missing " + std::to_string(missing.size()) + " tensor(s) that " + oc.arch_name + " with " + cfg_path +
                " has: " + list_some(missing));
  std::vector<std::string> unexpected;
  for (const auto& [n, t] : by_name)
    if (!used.count(n)) unexpected.push_back(t->name);
  if (!unexpected.empty())
    throw Error(path + ": " + std::to_string(unexpected.size()) + " unexpected tensor(s), which " + oc.arch_name + " with " +
                cfg_path + " does not have: " + list_some(unexpected));
  for (const auto& t : ck.tensors())
    if (used.count(trm_name_from_official(t.name))) {
      sum.bytes_read += static_cast<std::uint64_t>(t.numel()) * dtype_size(t.dtype);
      ++sum.tensors;
    }
  std::set<std::string> dtypes;
  for (const auto& t : ck.tensors()) dtypes.insert(dtype_name(t.dtype));
  std::string dt;
  for (const auto& d : dtypes) dt += (dt.empty() ? "" : ", ") + d;
  sum.notes.push_back("stored as " + dt + ", converted to F32");
  if (oc.ema) sum.notes.push_back("ema: true in " + cfg_path + ": the official trainer saved its EMA copy, so these are the EMA weights");

  nlohmann::json config = {{"model", m}, {"optim", oc.optim}};
  config["import"] = {{"source", path},
                      {"format", ck.format()},
                      {"config", cfg_path},
                      {"arch", oc.arch_name},
                      {"ema", oc.ema},
                      {"forward_dtype", oc.forward_dtype},
                      {"run", oc.run}};
  write_trm_checkpoint(opt.out, out, config);
  return sum;
}

}  // namespace trm
