// Read-only memory mapping of a whole file (internal to src/io).
#pragma once
#include <cstddef>
#include <string>

namespace trm::data {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws trm::Error naming the path
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace trm::data
