// safetensors reading and writing (the weights format of the ecosystem): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then
// the raw little-endian tensor bytes. Every malformed file is reported with its path and the
// problem; writes go to a temporary file that is renamed into place (atomic on POSIX).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace trm {

enum class DType { kF32, kF64, kI32, kI64, kU8, kBF16, kF16 };
std::size_t dtype_size(DType t);
std::string dtype_name(DType t);

struct TensorEntry {
  DType dtype = DType::kF32;
  std::vector<std::int64_t> shape;
  std::size_t begin = 0, end = 0;  // byte offsets into the data section
  std::int64_t numel() const;
};

class SafeTensorsFile {
 public:
  static SafeTensorsFile read(const std::string& path);

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  const TensorEntry& entry(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Converting accessors; `expect` (if non-empty) is checked against the stored shape.
  std::vector<float> floats(const std::string& name, const std::vector<std::int64_t>& expect = {}) const;
  std::vector<double> doubles(const std::string& name, const std::vector<std::int64_t>& expect = {}) const;
  std::vector<std::int32_t> ints(const std::string& name, const std::vector<std::int64_t>& expect = {}) const;

 private:
  void check_shape(const std::string& name, const std::vector<std::int64_t>& expect) const;
  std::string path_;
  std::map<std::string, TensorEntry> entries_;
  std::map<std::string, std::string> metadata_;
  std::vector<unsigned char> data_;
};

class SafeTensorsWriter {
 public:
  void add(const std::string& name, DType dtype, std::vector<std::int64_t> shape, const void* data);
  void add_f32(const std::string& name, std::vector<std::int64_t> shape, const float* data) {
    add(name, DType::kF32, std::move(shape), data);
  }
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  // Writes path.tmp, flushes it to disk, then renames it over path.
  void write(const std::string& path) const;

 private:
  struct Pending {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::vector<unsigned char> bytes;
  };
  std::vector<Pending> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace trm
