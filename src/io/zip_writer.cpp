#include "io/zip_writer.h"

#include <cerrno>
#include <cstring>

#include "io/zip_reader.h"
#include "trm/error.h"

namespace trm::io {

namespace {

constexpr std::uint64_t kMax32 = 0xFFFFFFFFu;
constexpr std::uint16_t kFlagUtf8 = 1u << 11;
// A fixed DOS timestamp (1980-01-01 00:00): the same model always gives the same bytes.
constexpr std::uint16_t kDosTime = 0, kDosDate = (1 << 5) | 1;

struct Bytes {
  std::vector<unsigned char> b;
  void u16(std::uint32_t v) {
    b.push_back(static_cast<unsigned char>(v));
    b.push_back(static_cast<unsigned char>(v >> 8));
  }
  void u32(std::uint64_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
  }
  void str(const std::string& s) { b.insert(b.end(), s.begin(), s.end()); }
};

}  // namespace

ZipWriter::ZipWriter(std::FILE* f, std::string path, bool force_zip64) : f_(f), path_(std::move(path)), force64_(force_zip64) {}

void ZipWriter::put(const void* data, std::size_t n) {
  if (n > 0 && std::fwrite(data, 1, n, f_) != n) throw Error(path_ + ": write failed (" + std::strerror(errno) + ")");
  pos_ += n;
}

void ZipWriter::begin_entry(const std::string& name, std::uint64_t size) {
  TRM_ASSERT(!open_, "ZipWriter: begin_entry inside an entry");
  if (name.size() > 0xFFFF) throw Error(path_ + ": zip entry name too long");
  Entry e;
  e.name = name;
  e.size = size;
  e.offset = pos_;
  e.zip64 = force64_ || size >= kMax32 || pos_ >= kMax32;
  Bytes h;
  h.u32(0x04034b50);
  h.u16(e.zip64 ? 45 : 20);
  h.u16(kFlagUtf8);
  h.u16(0);  // stored
  h.u16(kDosTime);
  h.u16(kDosDate);
  h.u32(0);  // CRC-32, patched by end_entry()
  h.u32(e.zip64 ? kMax32 : size);
  h.u32(e.zip64 ? kMax32 : size);
  Bytes extra;
  if (e.zip64) {
    extra.u16(0x0001);
    extra.u16(16);
    extra.u64(size);
    extra.u64(size);
  }
  // Pad with an "FB" extra record (as torch does) so the data starts on a 64-byte boundary.
  const std::uint64_t fixed = pos_ + 30 + name.size() + extra.b.size() + 4;
  const std::uint64_t pad = (64 - fixed % 64) % 64;
  extra.u16(0x4246);
  extra.u16(static_cast<std::uint32_t>(pad));
  extra.b.insert(extra.b.end(), pad, 'Z');
  h.u16(static_cast<std::uint32_t>(name.size()));
  h.u16(static_cast<std::uint32_t>(extra.b.size()));
  h.str(name);
  h.b.insert(h.b.end(), extra.b.begin(), extra.b.end());
  put(h.b.data(), h.b.size());
  entries_.push_back(std::move(e));
  open_ = true;
  written_ = 0;
  crc_ = 0;
}

void ZipWriter::write(const void* data, std::size_t n) {
  TRM_ASSERT(open_, "ZipWriter: write outside an entry");
  if (n > entries_.back().size - written_)
    throw InternalError(path_ + ": zip entry \"" + entries_.back().name + "\" got more bytes than declared");
  crc_ = crc32_update(crc_, data, n);
  put(data, n);
  written_ += n;
}

void ZipWriter::end_entry() {
  TRM_ASSERT(open_, "ZipWriter: end_entry outside an entry");
  Entry& e = entries_.back();
  if (written_ != e.size)
    throw InternalError(path_ + ": zip entry \"" + e.name + "\" got " + std::to_string(written_) + " of its " +
                        std::to_string(e.size) + " bytes");
  e.crc = crc_;
  open_ = false;
  // Patch the CRC into the local header (offset 14), then return to the end.
  unsigned char c[4];
  for (int i = 0; i < 4; ++i) c[i] = static_cast<unsigned char>(e.crc >> (8 * i));
  if (std::fseek(f_, static_cast<long>(e.offset + 14), SEEK_SET) != 0 || std::fwrite(c, 1, 4, f_) != 4 ||
      std::fseek(f_, 0, SEEK_END) != 0)
    throw Error(path_ + ": cannot patch a zip local header (" + std::strerror(errno) + ")");
  static_assert(sizeof(long) >= 8, "offsets past 2 GiB need a 64-bit long for fseek");
}

void ZipWriter::finish() {
  TRM_ASSERT(!open_, "ZipWriter: finish inside an entry");
  const std::uint64_t cd_offset = pos_;
  Bytes cd;
  for (const auto& e : entries_) {
    cd.u32(0x02014b50);
    cd.u16(e.zip64 ? 45 : 20);
    cd.u16(e.zip64 ? 45 : 20);
    cd.u16(kFlagUtf8);
    cd.u16(0);
    cd.u16(kDosTime);
    cd.u16(kDosDate);
    cd.u32(e.crc);
    cd.u32(e.zip64 ? kMax32 : e.size);
    cd.u32(e.zip64 ? kMax32 : e.size);
    cd.u16(static_cast<std::uint32_t>(e.name.size()));
    cd.u16(e.zip64 ? 28 : 0);
    cd.u16(0);  // comment
    cd.u16(0);  // disk
    cd.u16(0);  // internal attributes
    cd.u32(0);  // external attributes
    cd.u32(e.zip64 ? kMax32 : e.offset);
    cd.str(e.name);
    if (e.zip64) {
      cd.u16(0x0001);
      cd.u16(24);
      cd.u64(e.size);
      cd.u64(e.size);
      cd.u64(e.offset);
    }
  }
  put(cd.b.data(), cd.b.size());
  const std::uint64_t cd_size = cd.b.size(), count = entries_.size();
  bool need64 = force64_ || count >= 0xFFFF || cd_offset >= kMax32 || cd_size >= kMax32;
  for (const auto& e : entries_) need64 |= e.zip64;
  Bytes end;
  if (need64) {
    const std::uint64_t z64 = pos_;
    end.u32(0x06064b50);
    end.u64(44);  // size of the rest of this record
    end.u16(45);
    end.u16(45);
    end.u32(0);
    end.u32(0);
    end.u64(count);
    end.u64(count);
    end.u64(cd_size);
    end.u64(cd_offset);
    end.u32(0x07064b50);  // locator
    end.u32(0);
    end.u64(z64);
    end.u32(1);
  }
  end.u32(0x06054b50);
  end.u16(0);
  end.u16(0);
  end.u16(need64 ? 0xFFFF : count);
  end.u16(need64 ? 0xFFFF : count);
  end.u32(need64 ? kMax32 : cd_size);
  end.u32(need64 ? kMax32 : cd_offset);
  end.u16(0);
  put(end.b.data(), end.b.size());
}

}  // namespace trm::io
