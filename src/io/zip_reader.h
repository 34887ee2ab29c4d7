// Reading the zip container of torch.save (internal to src/io).
//
// torch.save (the format of every released TRM and HRM checkpoint) writes a zip archive whose
// entries are all stored uncompressed (method 0): `<archive>/data.pkl`, one `<archive>/data/<key>`
// per tensor storage, `<archive>/version`. Only the central directory is trusted for sizes and
// CRCs: torch writes its local headers with the data-descriptor flag and zero sizes. Zip64 records
// (archives or entries past 4 GiB) are read. Every malformed or truncated archive is a trm::Error
// naming the file and the problem.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace trm::io {

// CRC-32 (ISO-HDLC, the zip polynomial 0xEDB88320), continued from `crc` (0 to start).
std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n);

struct ZipEntry {
  std::string name;
  std::uint16_t method = 0;            // 0 = stored; anything else is refused when read
  std::uint32_t crc32 = 0;             // from the central directory
  std::uint64_t compressed_size = 0;
  std::uint64_t size = 0;
  std::uint64_t local_header_offset = 0;
  std::uint64_t data_offset = 0;       // file offset of the entry's first byte
};

class ZipReader {
 public:
  explicit ZipReader(const std::string& path);  // parses the central directory; throws trm::Error

  const std::string& path() const { return path_; }
  std::uint64_t file_size() const { return file_size_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;

  // The whole (stored) entry, its CRC checked; for small entries such as data.pkl.
  std::vector<unsigned char> read_entry(const ZipEntry& e) const;
  // Throws trm::Error unless the entry is stored uncompressed (what torch.save writes).
  void require_stored(const ZipEntry& e) const;
  // n bytes at a file offset (pread; a short read is an Error naming the file).
  void read_at(std::uint64_t offset, void* dst, std::size_t n) const;
  std::shared_ptr<const int> fd() const { return fd_; }

 private:
  std::string path_;
  std::shared_ptr<const int> fd_;
  std::uint64_t file_size_ = 0;
  std::vector<ZipEntry> entries_;
};

// True when the file starts with a zip local-file-header signature ("PK\3\4").
bool looks_like_zip(const std::string& path);

// pread loop on fd: throws trm::Error naming `path` on an error or a short read.
void pread_exact(int fd, std::uint64_t offset, void* dst, std::size_t n, const std::string& path);

}  // namespace trm::io
