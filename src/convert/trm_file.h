// Streaming access to trm checkpoints for the converters (internal to src/convert): tensors are
// written and read in chunks, so converting a checkpoint with a gigabyte puzzle table holds only
// a few megabytes.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "trm/io/safetensors.h"

namespace trm {

using FloatSink = std::function<void(const float*, std::size_t)>;

struct TrmFileTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::function<void(const FloatSink&)> fill;  // must hand over exactly numel floats, in order
};

// A checkpoint in the layout of trm/train/checkpoint.h (F32 tensors; __metadata__ "format"
// trm-checkpoint-1, "config" JSON, "state" {}), written atomically.
void write_trm_checkpoint(const std::string& path, const std::vector<TrmFileTensor>& tensors, const nlohmann::json& config);

// An F32 tensor of a safetensors file, chunk by chunk, read from its offset in the file.
void read_f32_chunks(const SafeTensorsFile& f, const std::string& name, const FloatSink& sink,
                     std::size_t chunk_elems = std::size_t{1} << 20);

}  // namespace trm
