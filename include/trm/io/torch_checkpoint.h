// PyTorch checkpoints (torch.save of a state dict) read and written natively, without Python.
//
// Reading: the zip format of torch >= 1.6 (`<archive>/data.pkl` + one stored entry per storage)
// and the legacy format of older torch (consecutive pickles, then the raw storages). The pickle
// goes through a restricted unpickler (src/io/pickle.h) that accepts only what a state dict
// needs, so a checkpoint can never run code. Only the pickle is held in memory: tensor bytes are
// read on demand with pread, in bounded chunks, straight from their offset in the file, so a
// 2.5 GB checkpoint converts with a few megabytes of buffers.
//
// Writing: the zip format as torch.save writes it (protocol-2 pickle of an OrderedDict of
// _rebuild_tensor_v2 calls, one storage per tensor, 64-byte aligned stored entries, CRC-32s,
// zip64 when needed), which torch.load reads.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trm/io/safetensors.h"  // DType

namespace trm {

struct TorchTensorInfo {
  std::string name;                  // the state-dict key as stored
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape, stride;
  std::int64_t storage_offset = 0;   // in elements
  std::string storage_key;
  std::int64_t storage_numel = 0;
  std::uint64_t storage_file_offset = 0;  // byte offset of the storage's first element in the file
  bool has_crc = false;              // zip: the storage entry's CRC-32 (checked when a read covers it all)
  std::uint32_t crc = 0;
  std::int64_t numel() const;
  bool contiguous() const;           // row-major without gaps
};

class TorchCheckpoint {
 public:
  // Throws trm::Error naming the file and the problem (not a torch file, truncated, a refused
  // pickle global, a storage too short for its tensors, a non-tensor value in the state dict, ...).
  static TorchCheckpoint read(const std::string& path);

  const std::string& path() const { return path_; }
  const std::string& format() const { return format_; }  // "zip" or "legacy"
  const std::vector<TorchTensorInfo>& tensors() const { return tensors_; }
  const TorchTensorInfo* find(const std::string& name) const;

  // The tensor's elements in row-major order, converted to float32 (F32, BF16, F16; integer
  // tensors are refused), handed to sink in chunks of at most chunk_elems. Contiguous tensors are
  // streamed; a strided view is gathered from the part of its storage it spans.
  void read_floats(const TorchTensorInfo& t, const std::function<void(const float*, std::size_t)>& sink,
                   std::size_t chunk_elems = std::size_t{1} << 20) const;
  std::vector<float> floats(const TorchTensorInfo& t) const;

 private:
  std::string path_, format_;
  std::shared_ptr<const int> fd_;
  std::vector<TorchTensorInfo> tensors_;
};

class TorchCheckpointWriter {
 public:
  // Produces a tensor's bytes (little-endian, row-major): calls out(data, n) until exactly
  // numel * dtype_size bytes have been given. Runs during write(), so big tensors stream.
  using Fill = std::function<void(const std::function<void(const void*, std::size_t)>& out)>;
  void add(const std::string& name, DType dtype, std::vector<std::int64_t> shape, Fill fill);
  void add_copy(const std::string& name, DType dtype, std::vector<std::int64_t> shape, const void* data);
  // Writes path atomically (a temporary file, fsynced, renamed). force_zip64: zip64 records even
  // where nothing needs them (tests).
  void write(const std::string& path, bool force_zip64 = false) const;

 private:
  struct Pending {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    Fill fill;
  };
  std::vector<Pending> tensors_;
};

// float32 -> bfloat16 with round-to-nearest-even (what torch's .to(torch.bfloat16) does), NaN kept NaN.
std::uint16_t float_to_bf16(float f);
float bf16_to_float(std::uint16_t h);
float f16_to_float(std::uint16_t h);

}  // namespace trm
