// The --precision option shared by the commands that run a model (docs/PRECISION.md).
#include <cstdio>

#include "cli/commands.h"

namespace trm::cli {

void add_precision_option(CLI::App* cmd, std::string& name) {
  cmd->add_option("--precision", name,
                  "Arithmetic of the model's matrix products: auto (bf16 on cuda, fp32 elsewhere), fp32, bf16 "
                  "(bf16 inputs, fp32 sums) or int8 "
                  "(int8 weights with per-channel scales, activations quantized per row); norms, attention, "
                  "the halting head and the state stay fp32")
      ->capture_default_str();
}

void check_precision_name(const std::string& name) {
  if (name != "auto") precision_from_string(name);
}

Precision resolve_precision(const Backend& backend, const std::string& name) {
  // On a GPU the reference's own recipe is bf16 (docs/GPU.md); fp32 stays the parity mode.
  if (name == "auto") return backend.name() == "cuda" ? Precision::bf16 : Precision::fp32;
  return precision_from_string(name);
}

Precision apply_precision(Backend& backend, const std::string& name) {
  const Precision p = resolve_precision(backend, name);
  backend.set_precision(p);
  if (p != Precision::fp32) {
    std::fprintf(stderr, "precision: %s\n", backend.precision_path().c_str());
    const std::string w = backend.precision_warning();
    if (!w.empty()) std::fprintf(stderr, "trm: warning: %s\n", w.c_str());
  }
  return p;
}

}  // namespace trm::cli
