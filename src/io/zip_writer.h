// Writing a zip archive the way torch.save does (internal to src/io): every entry stored
// uncompressed, its data aligned to 64 bytes (torch pads the local header's extra field with a
// "FB" record so storages can be memory-mapped), its CRC-32 in the local header and the central
// directory, zip64 records when an entry, offset or count does not fit the 32/16-bit fields.
// Entries are streamed: their size is declared up front, the bytes arrive in chunks, and the CRC
// is patched into the local header afterwards, so a gigabyte storage never sits in memory.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace trm::io {

class ZipWriter {
 public:
  // Writes to f (seekable, positioned at 0); `path` names the file in errors. force_zip64 writes
  // the zip64 records even when nothing needs them (tests use it to exercise the reader).
  ZipWriter(std::FILE* f, std::string path, bool force_zip64 = false);

  void begin_entry(const std::string& name, std::uint64_t size);
  void write(const void* data, std::size_t n);
  void end_entry();  // throws trm::Error unless exactly the declared size was written
  void add_entry(const std::string& name, const void* data, std::size_t n) {
    begin_entry(name, n);
    write(data, n);
    end_entry();
  }
  void finish();  // the central directory and end records

 private:
  struct Entry {
    std::string name;
    std::uint64_t size = 0, offset = 0;
    std::uint32_t crc = 0;
    bool zip64 = false;
  };
  void put(const void* data, std::size_t n);
  std::FILE* f_;
  std::string path_;
  bool force64_;
  std::uint64_t pos_ = 0;
  std::vector<Entry> entries_;
  bool open_ = false;
  std::uint64_t written_ = 0;
  std::uint32_t crc_ = 0;
};

}  // namespace trm::io
