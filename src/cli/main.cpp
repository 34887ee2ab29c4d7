// trm command-line entry point.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "trm/backend.h"
#include "trm/model.h"
#include "trm/presets.h"

namespace {

void usage() {
  std::cout <<
      R"(trm - the Tiny Recursive Model in C++

usage:
  trm demo [PRESET] [key=value ...]   build a model, run one supervision step forward, print numbers
  trm info [PRESET] [key=value ...]   print a preset's config and parameter count
  trm presets                         list the presets named after the paper's runs

The default preset of `demo` is a tiny 4x4-Sudoku-sized model; any paper preset works too, e.g.
  trm demo sudoku-mlp
  trm info maze-att L_cycles=6
)";
}

trm::ModelConfig tiny_config() {
  trm::ModelConfig c;
  c.vocab_size = 6;  // 4x4 Sudoku: pad, blank, digits 1..4
  c.seq_len = 16;
  c.hidden_size = 64;
  c.num_heads = 4;
  c.puzzle_emb_ndim = 64;
  c.puzzle_emb_len = 4;
  c.H_cycles = 3;
  c.L_cycles = 4;
  return c;
}

void parse(const std::vector<std::string>& args, trm::ModelConfig& m, trm::OptimConfig& o) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i == 0 && args[i].find('=') == std::string::npos) {
      const auto& p = trm::find_preset(args[i]);
      m = p.model;
      o = p.optim;
    } else {
      trm::apply_override(m, o, args[i]);
    }
  }
  m.validate();
}

int demo(const std::vector<std::string>& args) {
  trm::ModelConfig cfg = tiny_config();
  trm::OptimConfig opt;
  parse(args, cfg, opt);
  auto be = trm::make_cpu_backend();
  trm::TrmModel model(cfg, *be);
  model.init(0);
  const int B = 1;
  model.reserve(B, false);
  std::mt19937 rng(1);
  std::vector<std::int32_t> tokens(cfg.seq_len), ids(B, 0);
  for (auto& t : tokens) t = 1 + static_cast<int>(rng() % (cfg.vocab_size - 1));
  trm::Batch batch{B, tokens.data(), nullptr, ids.data()};
  const std::int64_t state = static_cast<std::int64_t>(B) * cfg.total_len() * cfg.hidden_size;
  trm::DeviceBuffer zH(*be, state), zL(*be, state);
  model.reset_carry(zH.data(), zL.data(), B);
  const auto t0 = std::chrono::steady_clock::now();
  model.forward(batch, zH.data(), zL.data(), false);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::vector<float> logits(static_cast<std::size_t>(cfg.seq_len) * cfg.vocab_size), q(2);
  be->to_host(model.logits(), logits.data(), static_cast<std::int64_t>(logits.size()));
  be->to_host(model.q(), q.data(), 2);
  std::printf("trm demo: %s model, %lld trainable parameters (+%lld puzzle-embedding values)\n",
              cfg.mlp_t ? "MLP-t" : "attention", static_cast<long long>(model.num_params()),
              static_cast<long long>(model.puzzle_table_size()));
  std::printf("one supervision step (T=%d, n=%d, %d layers) on a random %d-token input: %.2f ms, %d threads\n",
              cfg.H_cycles, cfg.L_cycles, cfg.L_layers, cfg.seq_len, ms, omp_get_max_threads());
  std::printf("predicted tokens:");
  for (int t = 0; t < cfg.seq_len; ++t) {
    int best = 0;
    for (int v = 1; v < cfg.vocab_size; ++v)
      if (logits[t * cfg.vocab_size + v] > logits[t * cfg.vocab_size + best]) best = v;
    std::printf(" %d", best);
  }
  std::printf("\nq_halt logit %.4f (sigmoid %.4f: an untrained model does not halt)\n", q[0], 1 / (1 + std::exp(-q[0])));
  return 0;
}

int info(const std::vector<std::string>& args) {
  trm::ModelConfig cfg = tiny_config();
  trm::OptimConfig opt;
  parse(args, cfg, opt);
  nlohmann::json j = {{"model", cfg}, {"optimizer", opt}, {"parameters", cfg.parameter_count()},
                      {"puzzle_embedding_values", static_cast<long long>(cfg.num_puzzle_identifiers) * cfg.puzzle_emb_ndim}};
  std::cout << j.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    usage();
    return args.empty() ? 1 : 0;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "demo") return demo(args);
    if (cmd == "info") return info(args);
    if (cmd == "presets") {
      for (const auto& p : trm::presets())
        std::printf("%-12s %s, %lld params\n", p.name.c_str(), p.description.c_str(),
                    static_cast<long long>(p.model.parameter_count()));
      return 0;
    }
    std::fprintf(stderr, "trm: unknown command \"%s\" (try trm --help)\n", cmd.c_str());
    return 2;
  } catch (const trm::Error& e) {
    std::fprintf(stderr, "trm: error: %s\n", e.what());
    return 2;
  }
}
