#include "io/zip_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "trm/error.h"

namespace trm::io {

namespace {

constexpr std::uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr std::uint32_t kZip64EndSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
constexpr std::size_t kEndSize = 22, kLocatorSize = 20, kCentralSize = 46, kLocalSize = 30;

// Slicing-by-8 tables: t[0] is the classic byte table, t[k][i] the CRC of byte i followed by k
// zero bytes, so eight bytes fold in per step (a 2.5 GB checkpoint is checked in about a second).
using CrcTables = std::array<std::array<std::uint32_t, 256>, 8>;
CrcTables make_crc_tables() {
  CrcTables t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (int k = 1; k < 8; ++k)
    for (std::uint32_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  return t;
}

std::uint16_t u16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t u32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint64_t u64(const unsigned char* p) { return u32(p) | (static_cast<std::uint64_t>(u32(p + 4)) << 32); }

}  // namespace

std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n) {
  static const CrcTables t = make_crc_tables();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    const std::uint32_t one = u32(p) ^ crc, two = u32(p + 4);
    crc = t[7][one & 0xFF] ^ t[6][(one >> 8) & 0xFF] ^ t[5][(one >> 16) & 0xFF] ^ t[4][one >> 24] ^
          t[3][two & 0xFF] ^ t[2][(two >> 8) & 0xFF] ^ t[1][(two >> 16) & 0xFF] ^ t[0][two >> 24];
  }
  for (; n > 0; --n, ++p) crc = t[0][(crc ^ *p) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void pread_exact(int fd, std::uint64_t offset, void* dst, std::size_t n, const std::string& path) {
  auto* out = static_cast<char*>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(path + ": read failed at offset " + std::to_string(offset) + " (" + std::strerror(errno) + ")");
    if (got == 0) throw Error(path + ": unexpected end of file at offset " + std::to_string(offset) + " (truncated?)");
    out += got;
    offset += static_cast<std::uint64_t>(got);
    n -= static_cast<std::size_t>(got);
  }
}

bool looks_like_zip(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  unsigned char sig[4] = {};
  const bool ok = ::pread(fd, sig, 4, 0) == 4 && u32(sig) == kLocalSig;
  ::close(fd);
  return ok;
}

ZipReader::ZipReader(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open for reading (" + std::strerror(errno) + ")");
  fd_ = std::shared_ptr<const int>(new int(fd), [](const int* p) {
    ::close(*p);
    delete p;
  });
  struct stat st{};
  if (::fstat(fd, &st) != 0) throw Error(path + ": cannot stat (" + std::strerror(errno) + ")");
  file_size_ = static_cast<std::uint64_t>(st.st_size);
  const std::string bad = path + ": not a valid zip archive: ";

  // The end-of-central-directory record: 22 bytes plus a comment of at most 65535 bytes, at the
  // very end. Search backwards for its signature with a comment length that reaches the end.
  if (file_size_ < kEndSize)
    throw Error(bad + "shorter than an end-of-central-directory record (truncated?)");
  const std::uint64_t tail_len = std::min<std::uint64_t>(file_size_, kEndSize + 65535);
  std::vector<unsigned char> tail(tail_len);
  read_at(file_size_ - tail_len, tail.data(), tail.size());
  std::int64_t end_pos = -1;  // within tail
  for (std::int64_t i = static_cast<std::int64_t>(tail_len - kEndSize); i >= 0; --i) {
    const unsigned char* p = tail.data() + i;
    if (u32(p) == kEndSig && static_cast<std::uint64_t>(i) + kEndSize + u16(p + 20) == tail_len) {
      end_pos = i;
      break;
    }
  }
  if (end_pos < 0)
    throw Error(bad + "no end-of-central-directory record (the file is truncated or is not a zip archive)");
  const unsigned char* end = tail.data() + end_pos;
  const std::uint64_t end_offset = file_size_ - tail_len + static_cast<std::uint64_t>(end_pos);
  if (u16(end + 4) != 0 || u16(end + 6) != 0) throw Error(bad + "multi-disk archives are not supported");
  std::uint64_t count = u16(end + 10), cd_size = u32(end + 12), cd_offset = u32(end + 16);
  std::uint64_t cd_limit = end_offset;  // the central directory ends before the records that follow it

  // Zip64: a locator just before the end record points at the zip64 end record, whose 64-bit
  // counts replace the saturated 16/32-bit ones.
  if (end_offset >= kLocatorSize) {
    unsigned char loc[kLocatorSize];
    read_at(end_offset - kLocatorSize, loc, kLocatorSize);
    if (u32(loc) == kZip64LocatorSig) {
      const std::uint64_t z64 = u64(loc + 8);
      if (z64 + 56 > end_offset - kLocatorSize) throw Error(bad + "zip64 end record offset out of range");
      unsigned char rec[56];
      read_at(z64, rec, sizeof rec);
      if (u32(rec) != kZip64EndSig) throw Error(bad + "zip64 locator does not point at a zip64 end record");
      count = u64(rec + 32);
      cd_size = u64(rec + 40);
      cd_offset = u64(rec + 48);
      cd_limit = z64;
    }
  }
  if (cd_offset > cd_limit || cd_size > cd_limit - cd_offset)
    throw Error(bad + "central directory [" + std::to_string(cd_offset) + ", +" + std::to_string(cd_size) +
                ") lies outside the file (truncated?)");
  if (count > cd_size / kCentralSize)
    throw Error(bad + std::to_string(count) + " entries cannot fit in a " + std::to_string(cd_size) +
                "-byte central directory");
  std::vector<unsigned char> cd(cd_size);
  read_at(cd_offset, cd.data(), cd.size());

  std::size_t pos = 0;
  entries_.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    if (pos + kCentralSize > cd.size() || u32(cd.data() + pos) != kCentralSig)
      throw Error(bad + "central directory entry " + std::to_string(i) + " is malformed");
    const unsigned char* h = cd.data() + pos;
    ZipEntry e;
    e.method = u16(h + 10);
    e.crc32 = u32(h + 16);
    e.compressed_size = u32(h + 20);
    e.size = u32(h + 24);
    const std::size_t name_len = u16(h + 28), extra_len = u16(h + 30), comment_len = u16(h + 32);
    e.local_header_offset = u32(h + 42);
    if (pos + kCentralSize + name_len + extra_len + comment_len > cd.size())
      throw Error(bad + "central directory entry " + std::to_string(i) + " runs past the directory");
    e.name.assign(reinterpret_cast<const char*>(h + kCentralSize), name_len);
    // The zip64 extra field holds, in this order, only the fields saturated in the header.
    const unsigned char* x = h + kCentralSize + name_len;
    for (std::size_t xp = 0; xp + 4 <= extra_len;) {
      const std::uint16_t id = u16(x + xp), len = u16(x + xp + 2);
      if (xp + 4 + len > extra_len) throw Error(bad + "entry \"" + e.name + "\": malformed extra field");
      if (id == 0x0001) {
        std::size_t f = xp + 4;
        auto next = [&](std::uint64_t& v) {
          if (f + 8 > xp + 4 + len) throw Error(bad + "entry \"" + e.name + "\": short zip64 extra field");
          v = u64(x + f);
          f += 8;
        };
        if (e.size == 0xFFFFFFFFu) next(e.size);
        if (e.compressed_size == 0xFFFFFFFFu) next(e.compressed_size);
        if (e.local_header_offset == 0xFFFFFFFFu) next(e.local_header_offset);
      }
      xp += 4 + static_cast<std::size_t>(len);
    }
    pos += kCentralSize + name_len + extra_len + comment_len;

    // The local header's name and extra lengths place the data (torch pads the extra field so
    // that every storage starts on a 64-byte boundary).
    if (e.local_header_offset > cd_offset || kLocalSize > cd_offset - e.local_header_offset)
      throw Error(bad + "entry \"" + e.name + "\": local header offset out of range");
    unsigned char lh[kLocalSize];
    read_at(e.local_header_offset, lh, kLocalSize);
    if (u32(lh) != kLocalSig) throw Error(bad + "entry \"" + e.name + "\": no local header at its offset");
    e.data_offset = e.local_header_offset + kLocalSize + u16(lh + 26) + u16(lh + 28);
    if (e.data_offset > cd_offset || e.compressed_size > cd_offset - e.data_offset)
      throw Error(bad + "entry \"" + e.name + "\": its " + std::to_string(e.compressed_size) +
                  " bytes run past the central directory (truncated?)");
    entries_.push_back(std::move(e));
  }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

void ZipReader::require_stored(const ZipEntry& e) const {
  if (e.method != 0 || e.compressed_size != e.size)
    throw Error(path_ + ": zip entry \"" + e.name + "\" is compressed (method " + std::to_string(e.method) +
                "); torch.save stores entries uncompressed and trm reads only those");
}

std::vector<unsigned char> ZipReader::read_entry(const ZipEntry& e) const {
  require_stored(e);
  if (e.size > (std::uint64_t{1} << 30))
    throw Error(path_ + ": zip entry \"" + e.name + "\" is too large to read whole (" + std::to_string(e.size) + " bytes)");
  std::vector<unsigned char> out(e.size);
  read_at(e.data_offset, out.data(), out.size());
  if (crc32_update(0, out.data(), out.size()) != e.crc32)
    throw Error(path_ + ": zip entry \"" + e.name + "\" fails its CRC-32 check (the file is corrupted)");
  return out;
}

void ZipReader::read_at(std::uint64_t offset, void* dst, std::size_t n) const { pread_exact(*fd_, offset, dst, n, path_); }

}  // namespace trm::io
