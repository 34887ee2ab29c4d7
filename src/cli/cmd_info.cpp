// trm presets | info | demo
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "trm/train/act.h"
#include "trm/train/checkpoint.h"
#include "trm/model/memory.h"
#include "trm/model/model.h"
#include "trm/model/presets.h"
#include "trm/backend/cpu_info.h"

namespace trm::cli {

// Whether the file holds EMA weights: a training checkpoint's ema.* copy, or a final model that
// trm train wrote from the EMA (final.safetensors keeps only those, under model.*: its state says
// "weights": "ema"; older finals are recognised as the export does: a trainer config without
// optimizer state, with a non-zero EMA rate), or an import of an official EMA checkpoint.
static bool holds_ema_weights(const Checkpoint& ck) {
  if (ck.has_ema()) return true;
  const nlohmann::json& state = ck.contents().state;
  if (state.is_object() && state.contains("weights")) return state.at("weights") == "ema";
  const nlohmann::json& config = ck.contents().config;
  if (config.contains("import")) return config.at("import").value("ema", false);
  if (ck.has_train_state() || !config.contains("train")) return false;
  return !config.contains("optim") || !config.at("optim").is_object() || config.at("optim").value("ema_rate", 0.0) > 0;
}

void parse_model_args(const std::vector<std::string>& args, ModelConfig& model, OptimConfig& optim) {
  std::size_t first = 0;
  if (!args.empty() && args[0].find('=') == std::string::npos) {
    const Preset& p = find_preset(args[0]);
    model = p.model;
    optim = p.optim;
    first = 1;
  }
  for (std::size_t i = first; i < args.size(); ++i) apply_override(model, optim, args[i]);
  model.validate();
  optim.validate();
}

namespace {

// The model of `trm demo`, and of `trm info` without a preset: 4x4 Sudoku (vocab: pad, blank,
// digits 1..4), small enough for any machine.
const ModelConfig kSmallModel{.vocab_size = 6, .seq_len = 16, .puzzle_emb_ndim = 64, .puzzle_emb_len = 4,
                              .H_cycles = 3, .L_cycles = 4, .hidden_size = 64, .num_heads = 4};

int demo(std::vector<std::string> args, const std::string& backend) {
  ModelConfig cfg = kSmallModel;
  OptimConfig opt;
  parse_model_args(args, cfg, opt);
  auto be = make_backend(backend);
  TrmModel model(cfg, *be);
  model.init(0);
  const int B = 1;
  model.reserve(B, false);
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(cfg.seq_len)), ids(B, 0);
  for (int i = 0; i < cfg.seq_len; ++i) tokens[static_cast<std::size_t>(i)] = 1 + (i * 7 + 3) % (cfg.vocab_size - 1);
  Batch batch{B, tokens.data(), nullptr, ids.data()};
  InferenceCarry carry(model, B);
  carry.reset(B);
  const auto t0 = std::chrono::steady_clock::now();
  carry.forward(batch);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::vector<float> q(2);
  be->to_host(model.q(), q.data(), 2);
  std::printf("trm demo: %s%s model, %lld trainable parameters (+%lld puzzle-embedding values)\n",
              cfg.arch == Arch::kHrm ? "HRM " : "", cfg.mlp_t ? "MLP-t" : "attention", static_cast<long long>(model.num_params()),
              static_cast<long long>(model.puzzle_table_size()));
  if (cfg.arch == Arch::kHrm)
    std::printf("one supervision step (H_cycles=%d x (L_cycles=%d calls of the %d-layer L net + 1 call of the %d-layer H net)) "
                "on a %d-token input: %.2f ms, %d threads\n",
                cfg.H_cycles, cfg.L_cycles, cfg.L_layers, cfg.H_layers, cfg.seq_len, ms, omp_get_max_threads());
  else
    std::printf("one supervision step (T=%d rounds of n=%d+1 net calls, %d layers) on a %d-token input: %.2f ms, %d threads\n",
                cfg.H_cycles, cfg.L_cycles, cfg.L_layers, cfg.seq_len, ms, omp_get_max_threads());
  std::printf("q_halt logit %.4f (sigmoid %.4f: an untrained model does not halt)\n", q[0], 1 / (1 + std::exp(-q[0])));
  return 0;
}

// What `trm info --system` prints: what this binary found on this machine and what it runs.
nlohmann::json system_info() {
  nlohmann::json levels = nlohmann::json::array();
  for (const CpuKernelLevel& l : cpu_kernel_levels())
    levels.push_back({{"name", l.name}, {"requires", l.description}, {"supported", l.supported}});
  nlohmann::json backends = nlohmann::json::array();
  for (const BackendInfo& b : known_backends()) {
    nlohmann::json e = {{"name", b.name}, {"available", b.available}};
    if (!b.available) e["reason"] = b.reason;
    backends.push_back(e);
  }
  return {{"cpu", cpu_model_name()},
          {"cpu_features", cpu_features()},
          {"build", native_build() ? "native (-march=native: runs on CPUs like the build machine's)"
                                   : "portable (kernels per x86 level, chosen at run time)"},
          {"kernel_levels", levels},
          {"kernel_level", chosen_cpu_kernel_level()},
          {"blas", blas_description()},
          {"threads", omp_get_max_threads()},
          {"backends", backends}};
}

}  // namespace

void add_info_commands(CLI::App& app, Action& action) {
  auto* presets_cmd = app.add_subcommand("presets", "List the presets named after the paper's runs");
  presets_cmd->callback([&action] {
    action = [] {
      for (const auto& p : presets())
        std::printf("%-16s %s; %lld params\n", p.name.c_str(), p.description.c_str(),
                    static_cast<long long>(p.model.parameter_count()));
      return 0;
    };
  });

  auto* info = app.add_subcommand("info", "Show a preset's config and parameter count, or a checkpoint's contents");
  static std::vector<std::string> info_args_store;
  static std::string info_ckpt_store;
  auto* info_args = &info_args_store;
  auto* info_ckpt = &info_ckpt_store;
  info->add_option("preset_and_overrides", *info_args, "PRESET [key=value ...]");
  info->add_option("--checkpoint", *info_ckpt, "A checkpoint (.safetensors) to describe instead");
  static int info_batch = 256;
  info->add_option("--batch", info_batch, "Batch size of the memory estimate (inference, and training in one micro-batch)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  static std::string info_backend = "cpu";
  add_backend_option(info, info_backend);
  static bool info_system = false;
  info->add_flag("--system", info_system,
                 "Describe this machine instead: CPU features, the kernel level chosen, BLAS, threads, backends");
  info->callback([&action, info_args, info_ckpt] {
    action = [info_args, info_ckpt] {
      nlohmann::json j;
      if (info_system) {
        std::cout << system_info().dump(2) << "\n";
        return 0;
      }
      // What the model needs in memory (include/trm/model/memory.h), beside what the backend has.
      auto memory = [](const ModelConfig& mc) {
        auto be = make_backend(info_backend);
        const MemoryEstimate inf = estimate_inference_memory(mc, *be, info_batch);
        const MemoryEstimate tr = estimate_training_memory(mc, *be, info_batch, info_batch, info_batch);
        return nlohmann::json{{"batch", info_batch},
                              {"inference_bytes", inf.total()},
                              {"inference", inf.describe()},
                              {"training_bytes", tr.total()},
                              {"training", tr.describe()},
                              {"available_bytes", memory_available(*be)}};
      };
      if (!info_ckpt->empty()) {
        const Checkpoint ck = Checkpoint::read(*info_ckpt);
        const ModelConfig mc = ck.model_config();
        j = {{"checkpoint", *info_ckpt}, {"config", ck.contents().config}, {"state", ck.contents().state},
             {"parameters", mc.parameter_count()}, {"has_ema", holds_ema_weights(ck)}, {"resumable", ck.has_train_state()},
             {"tensors", ck.file().names().size()}, {"memory", memory(mc)}};
      } else {
        ModelConfig m = kSmallModel;
        OptimConfig o;
        parse_model_args(*info_args, m, o);
        j = {{"model", m}, {"optimizer", o}, {"parameters", m.parameter_count()},
             {"puzzle_embedding_values", static_cast<long long>(m.num_puzzle_identifiers) * m.puzzle_emb_ndim},
             {"memory", memory(m)}};
      }
      std::cout << j.dump(2) << "\n";
      return 0;
    };
  });

  auto* demo_cmd = app.add_subcommand("demo", "Build a model and run one supervision step (no data needed)");
  static std::vector<std::string> demo_args_store;
  auto* demo_args = &demo_args_store;
  demo_cmd->add_option("preset_and_overrides", *demo_args, "[PRESET] [key=value ...]");
  static std::string demo_backend = "cpu";
  add_backend_option(demo_cmd, demo_backend);
  demo_cmd->callback([&action, demo_args] { action = [demo_args] { return demo(*demo_args, demo_backend); }; });
}

}  // namespace trm::cli
