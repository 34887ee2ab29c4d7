// SHA-256 (FIPS 180-4), for verifying downloaded dataset files.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace trm::data {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t n);
  std::array<std::uint8_t, 32> finish();  // the object must not be used afterwards
  std::string finish_hex();

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buf_{};
  std::size_t buf_len_ = 0;
  std::uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view data);
// Hash of a whole file, streamed; throws trm::Error naming the path when it cannot be read.
std::string sha256_file_hex(const std::string& path);

}  // namespace trm::data
