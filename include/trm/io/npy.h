// NumPy .npy files (format 1.0/2.0/3.0, C order, little-endian), the array format of the
// reference's datasets. Reading memory-maps the file, so the multi-gigabyte `all__inputs.npy` of
// ARC costs address space rather than a copy. Every malformed file is reported as trm::Error
// with its path and the problem.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace trm::data {

enum class NpyDtype { kU8, kI32, kI64, kF32 };

std::size_t npy_itemsize(NpyDtype t);
std::string npy_descr(NpyDtype t);  // "|u1", "<i4", "<i8", "<f4"

class NpyArray {
 public:
  static NpyArray read(const std::string& path);
  // The same checks on bytes in memory (`name` stands for the path in errors): for the fuzz
  // targets, and for arrays that did not come from a file.
  static NpyArray from_bytes(std::vector<unsigned char> bytes, const std::string& name);

  const std::string& path() const { return path_; }
  NpyDtype dtype() const { return dtype_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  std::int64_t numel() const { return numel_; }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel_) * npy_itemsize(dtype_); }
  const void* data() const { return data_; }

  // A view into the mapping (no copy); throws unless the dtype is uint8.
  std::span<const std::uint8_t> u8() const;
  // Copies out as int32 from int32 or int64 (range-checked); throws for other dtypes.
  std::vector<std::int32_t> to_int32() const;
  // Copies out float32 data; throws for other dtypes.
  std::vector<float> to_float32() const;

  // Keeps the mapping alive for views that outlive this object.
  std::shared_ptr<const void> keepalive() const { return mapping_; }

 private:
  static NpyArray parse(const unsigned char* p, std::size_t size, const std::string& path,
                        std::shared_ptr<const void> keepalive);
  std::string path_;
  NpyDtype dtype_ = NpyDtype::kU8;
  std::vector<std::int64_t> shape_;
  std::int64_t numel_ = 0;
  const void* data_ = nullptr;
  std::shared_ptr<const void> mapping_;
};

// Writes a C-order array to path.tmp and renames it over path, so a reader never sees half a file.
void write_npy(const std::string& path, NpyDtype dtype, const std::vector<std::int64_t>& shape, const void* data);

}  // namespace trm::data
