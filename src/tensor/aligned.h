// Aligned, owning float/int buffers. Everything the hot loops touch is allocated once, up
// front, through these (64-byte alignment suits AVX2 loads and cache lines).
#pragma once
#include <cstddef>
#include <cstring>
#include <utility>

namespace trm {

void* aligned_alloc_bytes(std::size_t bytes);
void aligned_free_bytes(void* p) noexcept;

template <class T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t n) { resize(n); }
  ~AlignedBuffer() { aligned_free_bytes(data_); }
  AlignedBuffer(const AlignedBuffer& o) : AlignedBuffer(o.size_) {
    if (size_) std::memcpy(data_, o.data_, size_ * sizeof(T));
  }
  AlignedBuffer& operator=(const AlignedBuffer& o) {
    if (this != &o) {
      resize(o.size_);
      if (size_) std::memcpy(data_, o.data_, size_ * sizeof(T));
    }
    return *this;
  }
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }

  // Reallocates (contents zeroed) only when the size changes.
  void resize(std::size_t n) {
    if (n == size_) return;
    aligned_free_bytes(data_);
    data_ = n ? static_cast<T*>(aligned_alloc_bytes(n * sizeof(T))) : nullptr;
    size_ = n;
    zero();
  }
  void zero() {
    if (size_) std::memset(data_, 0, size_ * sizeof(T));
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace trm
