#include "trm/train/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "io/json_file.h"
#include "trm/data/dataset.h"

namespace trm {
namespace {

constexpr const char* kFormat = "trm-checkpoint-1";

std::vector<float> host(Backend& be, const float* p, std::int64_t n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  be.to_host(p, v.data(), n);
  return v;
}

void upload(Backend& be, const std::vector<float>& v, float* dst) {
  be.from_host(v.data(), dst, static_cast<std::int64_t>(v.size()));
}

// Reads a float tensor into backend memory: directly from the file when the backend's memory is
// host memory (no staging copy of a gigabyte puzzle table), else through a host vector.
void load_into(Backend& be, const SafeTensorsFile& f, const std::string& name, const std::vector<std::int64_t>& shape,
               float* dst) {
  if (be.host_accessible())
    f.read_floats_into(name, shape, dst);
  else
    upload(be, f.floats(name, shape), dst);
}

}  // namespace

void save_checkpoint(const std::string& path, TrmModel& model, TrmOptimizer* optimizer, ActCarry* carry,
                     const CheckpointContents& contents) {
  Backend& be = model.backend();
  const ModelConfig& c = model.config();
  SafeTensorsWriter w;
  // Host copies live until write(); the writer copies bytes at add() time.
  for (const auto& p : model.param_table()) {
    const auto v = host(be, model.params() + p.offset, p.numel);
    w.add_f32("model." + p.name, p.shape, v.data());
    if (optimizer) {
      const auto e = host(be, optimizer->ema() + p.offset, p.numel);
      w.add_f32("ema." + p.name, p.shape, e.data());
    }
  }
  // The puzzle table can be gigabytes (ARC: 876k x 512 floats): written straight from the
  // model's memory when the backend allows it, not through a host copy.
  std::vector<float> puz;
  const std::vector<std::int64_t> puz_shape{c.num_puzzle_identifiers, c.puzzle_emb_ndim};
  if (be.host_accessible()) {
    w.add_borrowed("puzzle_emb.weights", DType::kF32, puz_shape, model.puzzle_table());
  } else {
    puz = host(be, model.puzzle_table(), model.puzzle_table_size());
    w.add_borrowed("puzzle_emb.weights", DType::kF32, puz_shape, puz.data());
  }
  const auto h = host(be, model.H_init(), c.hidden_size), l = host(be, model.L_init(), c.hidden_size);
  w.add_f32("H_init", {c.hidden_size}, h.data());
  w.add_f32("L_init", {c.hidden_size}, l.data());
  if (optimizer) {
    const std::int64_t n = model.flat_size();
    const auto m = host(be, optimizer->adam_m(), n), v = host(be, optimizer->adam_v(), n);
    w.add_f32("optim.m", {n}, m.data());
    w.add_f32("optim.v", {n}, v.data());
  }
  if (carry) {
    const std::int64_t B = carry->batch(), L = c.total_len(), D = c.hidden_size;
    const auto zh = host(be, carry->z_H(), B * L * D), zl = host(be, carry->z_L(), B * L * D);
    w.add_f32("carry.z_H", {B, L, D}, zh.data());
    w.add_f32("carry.z_L", {B, L, D}, zl.data());
    w.add("carry.inputs", DType::kI32, {B, c.seq_len}, carry->inputs().data());
    w.add("carry.labels", DType::kI32, {B, c.seq_len}, carry->labels().data());
    w.add("carry.puzzle_ids", DType::kI32, {B}, carry->puzzle_ids().data());
    w.add("carry.steps", DType::kI32, {B}, carry->steps().data());
    w.add("carry.halted", DType::kU8, {B}, carry->halted().data());
  }
  // A default-constructed state (null) is written as {}: readers expect an object.
  nlohmann::json state = contents.state.is_null() ? nlohmann::json::object() : contents.state;
  if (optimizer) state["optimizer_step"] = optimizer->step_count();
  w.set_metadata("format", kFormat);
  w.set_metadata("config", contents.config.dump());
  w.set_metadata("state", state.dump());
  w.write(path);  // puz (if used) is still alive here
}

bool is_quantized_param(const std::string& name) {
  if (name == "lm_head.weight") return true;
  auto ends_with = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  // The MLP-t token mixing runs through left_linear, which stays fp32.
  return ends_with("proj.weight") && name.find("mlp_t.") == std::string::npos;
}

void save_quantized_checkpoint(const std::string& path, TrmModel& model, CheckpointContents contents) {
  Backend& be = model.backend();
  const ModelConfig& c = model.config();
  SafeTensorsWriter w;
  for (const auto& p : model.param_table()) {
    const auto v = host(be, model.params() + p.offset, p.numel);
    if (!is_quantized_param(p.name)) {
      w.add_f32("model." + p.name, p.shape, v.data());
      continue;
    }
    const std::int64_t rows = p.shape[0], cols = p.numel / rows;
    std::vector<std::uint8_t> q(static_cast<std::size_t>(p.numel));
    std::vector<float> scale(static_cast<std::size_t>(rows));
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* row = v.data() + r * cols;
      float mx = 0;
      for (std::int64_t k = 0; k < cols; ++k) mx = std::max(mx, std::fabs(row[k]));
      // As src/kernels/lowp_gemm.cpp quantizes at run time (scale 1 for an all-zero row).
      const float s = mx > 0 ? mx / 127.0f : 1.0f, inv = 1.0f / s;
      scale[static_cast<std::size_t>(r)] = s;
      for (std::int64_t k = 0; k < cols; ++k)
        q[static_cast<std::size_t>(r * cols + k)] =
            static_cast<std::uint8_t>(static_cast<int>(std::clamp(std::nearbyint(row[k] * inv), -127.0f, 127.0f)) + 128);
    }
    w.add("model." + p.name + ".q8", DType::kU8, p.shape, q.data());
    w.add_f32("model." + p.name + ".scale", {rows}, scale.data());
  }
  std::vector<float> puz = host(be, model.puzzle_table(), model.puzzle_table_size());
  w.add_f32("puzzle_emb.weights", {c.num_puzzle_identifiers, c.puzzle_emb_ndim}, puz.data());
  const auto h = host(be, model.H_init(), c.hidden_size), l = host(be, model.L_init(), c.hidden_size);
  w.add_f32("H_init", {c.hidden_size}, h.data());
  w.add_f32("L_init", {c.hidden_size}, l.data());
  if (!contents.config.contains("train") || !contents.config.at("train").is_object())
    contents.config["train"] = nlohmann::json::object();
  contents.config["train"]["precision"] = "int8";
  w.set_metadata("format", kFormat);
  w.set_metadata("quantized", "int8");
  w.set_metadata("config", contents.config.dump());
  w.set_metadata("state", (contents.state.is_null() ? nlohmann::json::object() : contents.state).dump());
  w.write(path);
}

bool Checkpoint::is_quantized() const {
  const auto it = file_.metadata().find("quantized");
  return it != file_.metadata().end();
}

Checkpoint Checkpoint::read(const std::string& path) {
  Checkpoint ck;
  ck.file_ = SafeTensorsFile::read(path);
  const auto& md = ck.file_.metadata();
  auto it = md.find("format");
  if (it == md.end() || it->second != kFormat)
    throw Error(path + ": not a trm checkpoint (missing or unknown \"format\" in its metadata)");
  try {
    // Bounded like every JSON trm reads from a file (src/io/json_file.h): depth, duplicate keys.
    ck.contents_.config = data::parse_json_text(md.at("config"), path + ": metadata \"config\"");
    ck.contents_.state = md.count("state") ? data::parse_json_text(md.at("state"), path + ": metadata \"state\"")
                                           : nlohmann::json::object();
  } catch (const std::exception& e) {
    throw Error(path + ": unreadable checkpoint metadata (" + e.what() + ")");
  }
  if (!ck.contents_.config.is_object() || !ck.contents_.config.contains("model") ||
      !ck.contents_.config.at("model").is_object())
    throw Error(path + ": checkpoint metadata has no model config (\"config\" must be an object with a \"model\" object)");
  // Exports written before this check could hold "null" (an empty state): read as {}.
  if (ck.contents_.state.is_null()) ck.contents_.state = nlohmann::json::object();
  if (!ck.contents_.state.is_object())
    throw Error(path + ": metadata key \"state\" must be a JSON object (got " + ck.contents_.state.type_name() + ")");
  return ck;
}

const nlohmann::json& Checkpoint::state_at(const std::string& key) const {
  const auto it = contents_.state.find(key);
  if (it == contents_.state.end()) throw Error(file_.path() + ": metadata key \"" + key + "\" is missing");
  return *it;
}

std::int64_t Checkpoint::state_count(const std::string& key) const {
  const nlohmann::json& v = state_at(key);
  const bool ok = v.is_number_unsigned() ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX)
                                         : v.is_number_integer() && v.get<std::int64_t>() >= 0;
  if (!ok) {
    std::string got = v.dump();
    if (got.size() > 60) got = got.substr(0, 60) + "...";
    throw Error(file_.path() + ": metadata key \"" + key + "\" must be a non-negative integer (got " + got + ")");
  }
  return v.get<std::int64_t>();
}

ModelConfig Checkpoint::model_config() const {
  try {
    ModelConfig m = contents_.config.at("model").get<ModelConfig>();
    m.validate();
    return m;
  } catch (const Error& e) {
    throw Error(file_.path() + ": " + e.what());
  }
}

void Checkpoint::load_model(TrmModel& model, bool use_ema) const {
  Backend& be = model.backend();
  const ModelConfig& c = model.config();
  const std::string prefix = use_ema && has_ema() ? "ema." : "model.";
  const bool quantized = is_quantized();
  if (quantized && file_.metadata().at("quantized") != "int8")
    throw Error(file_.path() + ": metadata \"quantized\" is \"" + file_.metadata().at("quantized") + "\"; this trm reads int8");
  for (const auto& p : model.param_table()) {
    if (!quantized || !is_quantized_param(p.name)) {
      upload(be, file_.floats(prefix + p.name, p.shape), model.params() + p.offset);
      continue;
    }
    const std::int64_t rows = p.shape[0], cols = p.numel / rows;
    const auto q = file_.ints(prefix + p.name + ".q8", p.shape);
    if (file_.entry(prefix + p.name + ".q8").dtype != DType::kU8)
      throw Error(file_.path() + ": tensor " + prefix + p.name + ".q8 must be U8");
    const auto scale = file_.floats(prefix + p.name + ".scale", {rows});
    std::vector<float> v(static_cast<std::size_t>(p.numel));
    for (std::int64_t r = 0; r < rows; ++r) {
      const float s = scale[static_cast<std::size_t>(r)];
      if (!std::isfinite(s) || !(s > 0))
        throw Error(file_.path() + ": tensor " + prefix + p.name + ".scale holds " + std::to_string(s) + " at row " +
                    std::to_string(r) + " (scales must be finite and > 0)");
      for (std::int64_t k = 0; k < cols; ++k) {
        const std::int32_t u = q[static_cast<std::size_t>(r * cols + k)];
        if (u < 1)
          throw Error(file_.path() + ": tensor " + prefix + p.name + ".q8 holds 0 at element " +
                      std::to_string(r * cols + k) + " (int8 weights are within +-127, stored + 128)");
        v[static_cast<std::size_t>(r * cols + k)] = static_cast<float>(u - 128) * s;
      }
    }
    upload(be, v, model.params() + p.offset);
  }
  if (quantized && be.precision() == Precision::fp32) be.set_precision(Precision::int8);
  load_into(be, file_, "puzzle_emb.weights", {c.num_puzzle_identifiers, c.puzzle_emb_ndim}, model.puzzle_table());
  upload(be, file_.floats("H_init", {c.hidden_size}), model.H_init());
  upload(be, file_.floats("L_init", {c.hidden_size}), model.L_init());
  be.weights_changed();
}

void Checkpoint::load_train_state(TrmModel& model, TrmOptimizer& optimizer, ActCarry& carry) const {
  if (is_quantized())
    throw Error(file_.path() + ": is an int8 model (trm quantize) for eval and solve; training needs the fp32 checkpoint it came from");
  if (!has_train_state()) throw Error(file_.path() + ": has no optimizer state (an export, not a training checkpoint)");
  Backend& be = model.backend();
  const ModelConfig& c = model.config();
  const std::int64_t optimizer_step = state_count("optimizer_step");
  const std::int64_t B = carry.batch(), L = c.total_len(), D = c.hidden_size;
  if (!file_.has("carry.z_H")) throw Error(file_.path() + ": has no ACT carry");
  if (file_.entry("carry.z_H").shape != std::vector<std::int64_t>{B, L, D})
    throw Error(file_.path() + ": the saved carry is for another batch size (resume with the same global_batch)");
  auto inputs = file_.ints("carry.inputs", {B, c.seq_len});
  auto labels = file_.ints("carry.labels", {B, c.seq_len});
  auto ids = file_.ints("carry.puzzle_ids", {B});
  auto steps = file_.ints("carry.steps", {B});
  const auto halted = file_.ints("carry.halted", {B});
  // Every value in range before anything is used: the model indexes its embedding tables with
  // these (a token id past the vocabulary would read outside them).
  auto check = [&](const std::vector<std::int32_t>& v, const char* name, std::int32_t lo, std::int32_t hi, bool allow_ignore) {
    for (std::size_t i = 0; i < v.size(); ++i)
      if ((v[i] < lo || v[i] > hi) && !(allow_ignore && v[i] == data::kIgnoreLabel))
        throw Error(file_.path() + ": tensor " + name + " holds " + std::to_string(v[i]) + " at element " +
                    std::to_string(i) + ", outside [" + std::to_string(lo) + ", " + std::to_string(hi) +
                    "] for this model config");
  };
  check(inputs, "carry.inputs", 0, c.vocab_size - 1, false);
  check(labels, "carry.labels", 0, c.vocab_size - 1, true);
  check(ids, "carry.puzzle_ids", 0, static_cast<std::int32_t>(c.num_puzzle_identifiers - 1), false);
  check(steps, "carry.steps", 0, c.halt_max_steps, false);
  check(halted, "carry.halted", 0, 1, false);
  load_model(model, false);
  for (const auto& p : model.param_table()) upload(be, file_.floats("ema." + p.name, p.shape), optimizer.ema() + p.offset);
  const std::int64_t n = model.flat_size();
  upload(be, file_.floats("optim.m", {n}), optimizer.adam_m());
  upload(be, file_.floats("optim.v", {n}), optimizer.adam_v());
  optimizer.set_step_count(optimizer_step);
  upload(be, file_.floats("carry.z_H", {B, L, D}), carry.z_H());
  upload(be, file_.floats("carry.z_L", {B, L, D}), carry.z_L());
  carry.inputs() = std::move(inputs);
  carry.labels() = std::move(labels);
  carry.puzzle_ids() = std::move(ids);
  carry.steps_mut() = std::move(steps);
  carry.halted_mut().assign(halted.begin(), halted.end());
}

std::unique_ptr<TrmModel> load_model_from_checkpoint(const std::string& path, Backend& backend, bool use_ema) {
  const Checkpoint ck = Checkpoint::read(path);
  auto model = std::make_unique<TrmModel>(ck.model_config(), backend);
  ck.load_model(*model, use_ema);
  return model;
}

}  // namespace trm
