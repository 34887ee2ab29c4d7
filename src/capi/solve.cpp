#include "capi/solve.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "io/json_file.h"
#include "trm/error.h"
#include "trm/model/presets.h"
#include "trm/train/act.h"

namespace trm::capi {

namespace {

void check_tokens(const ModelConfig& c, const SolveRequest& req) {
  const std::int64_t S = c.seq_len;
  for (std::int64_t i = 0; i < req.n; ++i) {
    for (std::int64_t t = 0; t < S; ++t) {
      const std::int32_t v = req.inputs[i * S + t];
      if (v < 0 || v >= c.vocab_size)
        throw Error("puzzle " + std::to_string(i) + ", token " + std::to_string(t) + ": id " + std::to_string(v) +
                    " is outside the model's vocabulary [0, " + std::to_string(c.vocab_size) + ")");
    }
    if (req.puzzle_ids) {
      const std::int32_t id = req.puzzle_ids[i];
      if (id < 0 || id >= c.num_puzzle_identifiers)
        throw Error("puzzle " + std::to_string(i) + ": puzzle id " + std::to_string(id) + " is outside [0, " +
                    std::to_string(c.num_puzzle_identifiers) + ")");
    }
  }
}

}  // namespace

void solve(TrmModel& model, const SolveRequest& req, SolveResult& out, SolveScratch& s) {
  const ModelConfig& c = model.config();
  if (req.n < 0) throw Error("solve: the number of puzzles is " + std::to_string(req.n));
  if (req.batch < 1) throw Error("solve: batch must be >= 1 (got " + std::to_string(req.batch) + ")");
  out.nonfinite_count = 0;
  infer::SolverOptions o;
  o.halting = req.halting == Halting::kAdaptive ? infer::HaltMode::kAdaptive : infer::HaltMode::kReference;
  o.batch = static_cast<int>(std::min<std::int64_t>(req.batch, std::max<std::int64_t>(req.n, 1) * req.samples));
  o.samples = req.samples;
  o.noise = req.noise;
  o.seed = req.seed;
  o.select = req.select;
  o.checker = req.checker;
  infer::validate(o);
  if (req.n == 0) return;
  check_tokens(c, req);
  const int S = c.seq_len, T = c.halt_max_steps;
  infer::Solver solver(model, o);
  solver.solve(req.inputs, req.puzzle_ids, req.n, s.answers);
  for (std::int64_t i = 0; i < req.n; ++i) {
    const infer::Answer& a = s.answers[static_cast<std::size_t>(i)];
    std::copy(a.tokens.begin(), a.tokens.end(), out.answers + i * S);
    if (out.steps) out.steps[i] = a.steps;
    if (out.confidence) {
      float* row = out.confidence + i * T;
      std::fill(row, row + T, 0.0f);
      std::copy_n(a.step_confidence.begin(), std::min<std::size_t>(a.step_confidence.size(), T), row);
    }
    if (out.nonfinite) out.nonfinite[i] = a.finite ? 0 : 1;
    if (out.check)
      out.check[i] = a.check == infer::CheckStatus::kVerified ? 1 : a.check == infer::CheckStatus::kFailed ? 2 : 0;
    out.nonfinite_count += a.finite ? 0 : 1;
  }
}

namespace {

template <class T>
T get_as(const nlohmann::json& v, const std::string& key, const std::string& source) {
  try {
    return v.get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(source + ": \"" + key + "\" has the wrong type (" + data::json_excerpt(v) + ")");
  }
}

std::int64_t get_int(const nlohmann::json& v, const std::string& key, const std::string& source) {
  if (!v.is_number_integer()) throw Error(source + ": \"" + key + "\" must be an integer (got " + data::json_excerpt(v) + ")");
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
    throw Error(source + ": \"" + key + "\" is too large");
  return v.get<std::int64_t>();
}

int get_int32(const nlohmann::json& v, const std::string& key, const std::string& source) {
  const std::int64_t x = get_int(v, key, source);
  if (x < INT32_MIN || x > INT32_MAX) throw Error(source + ": \"" + key + "\" is out of range (" + std::to_string(x) + ")");
  return static_cast<int>(x);
}

double get_number(const nlohmann::json& v, const std::string& key, const std::string& source) {
  if (!v.is_number()) throw Error(source + ": \"" + key + "\" must be a number (got " + data::json_excerpt(v) + ")");
  return v.get<double>();
}

std::string value_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

}  // namespace

TrainOptions train_options_from_json(const std::string& text, const std::string& source) {
  const nlohmann::json j = data::parse_json_text(text, source);
  if (!j.is_object()) throw Error(source + ": expected a JSON object");
  for (const char* key : {"preset", "data", "out"})
    if (!j.contains(key)) throw Error(source + ": \"" + key + "\" is required");
  TrainOptions o;
  const Preset& p = find_preset(get_as<std::string>(j.at("preset"), "preset", source));
  o.model = p.model;
  o.optim = p.optim;
  o.progress = false;
  for (const auto& [key, v] : j.items()) {
    if (key == "preset" || key == "backend") {
      if (!v.is_string()) throw Error(source + ": \"" + key + "\" must be a string");
    } else if (key == "data") {
      o.data_dir = get_as<std::string>(v, key, source);
    } else if (key == "out") {
      o.out_dir = get_as<std::string>(v, key, source);
    } else if (key == "overrides") {
      if (!v.is_object()) throw Error(source + ": \"overrides\" must be an object of model/optimizer keys");
      for (const auto& [k, x] : v.items()) apply_override(o.model, o.optim, k + "=" + value_text(x));
    } else if (key == "batch") {
      o.global_batch = get_int32(v, key, source);
    } else if (key == "micro_batch") {
      o.micro_batch = get_int32(v, key, source);
    } else if (key == "epochs") {
      o.epochs = get_number(v, key, source);
    } else if (key == "eval_interval") {
      o.eval_interval = get_number(v, key, source);
    } else if (key == "max_steps") {
      o.max_steps = get_int(v, key, source);
    } else if (key == "checkpoint_every") {
      o.checkpoint_every = get_int(v, key, source);
    } else if (key == "eval_examples") {
      o.eval.max_examples = get_int(v, key, source);
    } else if (key == "eval_batch") {
      o.eval.batch = get_int32(v, key, source);
    } else if (key == "eval_halting") {
      o.eval.halting = halting_from_string(get_as<std::string>(v, key, source));
    } else if (key == "seed") {
      const std::int64_t seed = get_int(v, key, source);
      if (seed < 0) throw Error(source + ": \"seed\" must be >= 0");
      o.seed = static_cast<std::uint64_t>(seed);
    } else if (key == "resume") {
      o.resume = get_as<bool>(v, key, source);
    } else if (key == "stop_after") {
      o.stop_after = get_int(v, key, source);
    } else if (key == "time_budget_seconds") {
      o.time_budget_s = get_number(v, key, source);
    } else if (key == "log_every") {
      o.log_every = get_int32(v, key, source);
    } else if (key == "progress") {
      o.progress = get_as<bool>(v, key, source);
    } else {
      throw Error(source + ": unknown key \"" + key +
                  "\" (known: preset, data, out, backend, overrides, batch, micro_batch, epochs, eval_interval, max_steps, "
                  "checkpoint_every, eval_examples, eval_batch, eval_halting, seed, resume, stop_after, "
                  "time_budget_seconds, log_every, progress)");
    }
  }
  if (o.eval.batch < 1) throw Error(source + ": \"eval_batch\" must be >= 1");
  if (o.eval.max_examples < 0) throw Error(source + ": \"eval_examples\" must be >= 0");
  o.model.validate();
  o.optim.validate();
  o.validate();
  return o;
}

std::string backend_of_train_json(const std::string& text) {
  const nlohmann::json j = data::parse_json_text(text, "trm_train config");
  return j.is_object() && j.contains("backend") && j.at("backend").is_string() ? j.at("backend").get<std::string>() : "cpu";
}

}  // namespace trm::capi
