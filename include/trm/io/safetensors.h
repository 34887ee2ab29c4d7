// safetensors reading and writing (the weights format of the ecosystem): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then
// the raw little-endian tensor bytes. Every malformed file is reported with its path and the
// problem; writes go through the shared atomic writer (a temporary file, fsynced, then renamed).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
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

// What the float accessors do with NaN and Inf: every float tensor trm writes (weights, EMA, Adam
// moments, puzzle rows, carry states) is finite (the initializers clip, nothing stores an Inf), so a
// non-finite value means a damaged file or a diverged run, and loading it would only spread NaN.
// kAllow is for tools that inspect such a file.
enum class NonFinite { kRefuse, kAllow };

// Reading parses and validates the header only; tensor bytes are read from the file when asked
// for (pread straight into the destination for F32), so a checkpoint with a 1.8 GB puzzle table
// never holds a second in-memory copy of the file.
//
// The header is untrusted: every shape product and byte size is overflow-checked, a dimension or
// offset must be a JSON integer in [0, 2^63), each tensor's bytes must lie inside the data section
// and match shape x dtype size, no two tensors may overlap, the JSON may not nest deeper than
// kMaxJsonDepth or name a key twice, and the header is at most kMaxHeaderBytes.
class SafeTensorsFile {
 public:
  static constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;
  // With kRefuse (the default) the float accessors (floats, doubles, read_floats_into) throw
  // trm::Error naming the tensor and its count of NaN/Inf values. The scan is here rather than in
  // each caller so that checkpoint loading, resuming, reports and tests all get it; it costs one
  // pass over memory just read from disk.
  static SafeTensorsFile read(const std::string& path, NonFinite nonfinite = NonFinite::kRefuse);

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  const TensorEntry& entry(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Converting accessors; `expect` (if non-empty) is checked against the stored shape.
  std::vector<float> floats(const std::string& name, const std::vector<std::int64_t>& expect = {}) const;
  std::vector<double> doubles(const std::string& name, const std::vector<std::int64_t>& expect = {}) const;
  std::vector<std::int32_t> ints(const std::string& name, const std::vector<std::int64_t>& expect = {}) const;
  // Reads a tensor as float32 into dst (numel floats), converting other float dtypes.
  void read_floats_into(const std::string& name, const std::vector<std::int64_t>& expect, float* dst) const;

 private:
  void check_shape(const std::string& name, const std::vector<std::int64_t>& expect) const;
  void pread_exact(void* dst, std::uint64_t n, std::uint64_t offset) const;
  // Throws when check_finite_ and p[0..n) holds a NaN or Inf.
  void check_finite(const std::string& name, const float* p, std::size_t n) const;
  void check_finite(const std::string& name, const double* p, std::size_t n) const;
  template <class T>
  void check_finite_impl(const std::string& name, const T* p, std::size_t n) const;
  void read_bytes(const TensorEntry& e, void* dst) const;  // the entry's raw bytes
  std::vector<unsigned char> bytes(const TensorEntry& e) const;
  std::string path_;
  std::map<std::string, TensorEntry> entries_;
  std::map<std::string, std::string> metadata_;
  std::shared_ptr<const int> fd_;  // open descriptor, shared by copies, closed with the last
  std::uint64_t data_start_ = 0;   // file offset of the data section
  bool check_finite_ = true;
};

class SafeTensorsWriter {
 public:
  void add(const std::string& name, DType dtype, std::vector<std::int64_t> shape, const void* data);
  void add_f32(const std::string& name, std::vector<std::int64_t> shape, const float* data) {
    add(name, DType::kF32, std::move(shape), data);
  }
  // Records the pointer only: `data` must stay valid and unchanged until write(). Used for big
  // host-resident tensors (the puzzle table) that should not be copied again.
  void add_borrowed(const std::string& name, DType dtype, std::vector<std::int64_t> shape, const void* data);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  // Writes path.tmp, flushes it to disk, then renames it over path.
  void write(const std::string& path) const;

 private:
  struct Pending {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::vector<unsigned char> bytes;     // owned copy, or
    const unsigned char* borrowed = nullptr;  // caller's memory
    std::size_t size = 0;
  };
  std::vector<Pending> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace trm
