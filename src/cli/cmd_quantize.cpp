// trm quantize CHECKPOINT --out FILE: an int8 inference file (docs/PRECISION.md).
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "io/output_path.h"
#include "trm/train/checkpoint.h"

namespace trm::cli {

void add_quantize_command(CLI::App& app, Action& action) {
  static std::string ckpt, out;
  static bool raw = false;
  auto* cmd = app.add_subcommand(
      "quantize", "Write an int8 copy of a checkpoint (int8 linear weights with per-channel scales; about 4x smaller) "
                  "that eval and solve load directly and run in int8");
  cmd->add_option("checkpoint", ckpt, "Checkpoint (.safetensors) written by trm train")->required();
  cmd->add_option("--out", out, "The int8 file to write (.safetensors)")->required();
  cmd->add_flag("--raw-weights", raw, "Quantize the raw weights instead of the EMA weights");
  cmd->callback([&action] {
    action = [] {
      namespace fs = std::filesystem;
      std::error_code ec;
      if (fs::exists(out, ec) && fs::equivalent(ckpt, out, ec))
        throw Error(out + ": is the input checkpoint; write the int8 file elsewhere");
      data::check_output_file(out);
      const Checkpoint ck = Checkpoint::read(ckpt);
      if (ck.is_quantized()) throw Error(ckpt + ": is already an int8 file");
      auto be = make_cpu_backend();
      auto model = std::make_unique<TrmModel>(ck.model_config(), *be);
      ck.load_model(*model, !raw);
      CheckpointContents contents;
      contents.config = ck.contents().config;
      save_quantized_checkpoint(out, *model, contents);
      std::error_code e1, e2;
      const auto in_bytes = fs::file_size(ckpt, e1), out_bytes = fs::file_size(out, e2);
      std::fprintf(stderr, "wrote %s: %.1f MB (from %.1f MB)\n", out.c_str(), static_cast<double>(out_bytes) / 1e6,
                   static_cast<double>(in_bytes) / 1e6);
      return 0;
    };
  });
}

}  // namespace trm::cli
