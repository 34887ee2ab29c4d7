// trm import | trm export: the released PyTorch checkpoints of TRM and HRM in, trm models out.
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "trm/convert/pytorch.h"

namespace trm::cli {

void add_import_commands(CLI::App& app, Action& action) {
  static ImportOptions imp;
  auto* cmd = app.add_subcommand(
      "import", "Import a PyTorch checkpoint of the official TRM or HRM (torch.save state dict + all_config.yaml)");
  cmd->add_option("path", imp.checkpoint, "The torch.save file (TRM: step_N, HRM: checkpoint)")->required();
  cmd->add_option("--config", imp.config, "The run's all_config.yaml (default: the one beside PATH)");
  cmd->add_option("--data", imp.data_dir,
                  "The dataset the model runs on: seq_len from its dataset.json, and its vocab and puzzle ids checked");
  cmd->add_option("--seq-len", imp.seq_len, "seq_len, when there is no --data and the weights do not imply it (RoPE)");
  cmd->add_option("--out", imp.out, "The trm checkpoint to write (.safetensors)")->required();
  cmd->callback([&action] {
    action = [] {
      const auto t0 = std::chrono::steady_clock::now();
      const ImportSummary s = import_pytorch(imp);
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (const auto& n : s.notes) std::fprintf(stderr, "trm import: %s\n", n.c_str());
      auto j = s.to_json();
      j["out"] = imp.out;
      j["seconds"] = sec;
      std::printf("%s\n", j.dump().c_str());
      return 0;
    };
  });

  static ExportOptions exp;
  static std::string format;
  auto* ex = app.add_subcommand("export", "Export a trm checkpoint for the official PyTorch code (torch.save + all_config.yaml)");
  ex->add_option("checkpoint", exp.checkpoint, "The trm checkpoint (.safetensors)")->required();
  ex->add_option("--format", format, "Output format: pytorch")->required();
  ex->add_option("--out", exp.out, "The torch file to write (e.g. run/step_1000); a directory gets step_<step> inside. "
                                   "all_config.yaml is written beside it")->required();
  ex->add_flag("--raw-weights", exp.raw_weights, "Export the raw weights instead of the EMA weights");
  ex->add_option("--forward-dtype", exp.forward_dtype,
                 "all_config.yaml's forward_dtype, also the dtype of H_init/L_init (bfloat16 as the official runs, or float32: "
                 "then every tensor is exact)")
      ->capture_default_str();
  ex->add_option("--key-prefix", exp.key_prefix,
                 "Prefix of every key (the official pretrain.py compiles the model: _orig_mod.model.inner.; without "
                 "torch.compile: model.inner.)")
      ->capture_default_str();
  ex->callback([&action] {
    action = [] {
      if (format != "pytorch") throw Error("trm export: --format must be pytorch (got \"" + format + "\")");
      const ExportSummary s = export_pytorch(exp);
      std::printf("%s\n", s.to_json().dump().c_str());
      return 0;
    };
  });
}

}  // namespace trm::cli
