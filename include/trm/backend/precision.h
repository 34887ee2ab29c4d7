// The arithmetic a backend's GEMMs run in (docs/PRECISION.md). Everything else (norms, softmax,
// attention, the halting head, the carry, the optimizer and EMA) stays fp32 in every precision.
#pragma once
#include <string>

#include "trm/error.h"

namespace trm {

enum class Precision {
  fp32,  // fp32 inputs and accumulation (OpenBLAS on the CPU)
  bf16,  // bf16-rounded GEMM inputs, fp32 accumulation and output (inference and training)
  int8,  // inference only: int8 weights with per-output-channel scales, activations quantized
         // per row with a dynamic scale, int32 accumulation, fp32 output
};

inline std::string to_string(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::int8: return "int8";
  }
  return "?";
}

// Throws trm::Error naming the accepted values.
inline Precision precision_from_string(const std::string& s) {
  if (s == "fp32") return Precision::fp32;
  if (s == "bf16") return Precision::bf16;
  if (s == "int8") return Precision::int8;
  throw Error("unknown precision \"" + s + "\" (expected fp32, bf16 or int8)");
}

}  // namespace trm
