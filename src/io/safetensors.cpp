#include "trm/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/checked_size.h"
#include "io/json_file.h"
#include "trm/error.h"

namespace trm {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF64: case DType::kI64: return 8;
    case DType::kF32: case DType::kI32: return 4;
    case DType::kBF16: case DType::kF16: return 2;
    case DType::kU8: return 1;
  }
  return 0;
}

std::string dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kF64: return "F64";
    case DType::kI32: return "I32";
    case DType::kI64: return "I64";
    case DType::kU8: return "U8";
    case DType::kBF16: return "BF16";
    case DType::kF16: return "F16";
  }
  return "?";
}

namespace {
DType parse_dtype(const std::string& s, const std::string& ctx) {
  for (DType t : {DType::kF32, DType::kF64, DType::kI32, DType::kI64, DType::kU8, DType::kBF16, DType::kF16})
    if (dtype_name(t) == s) return t;
  throw Error(ctx + ": unsupported dtype \"" + s + "\"");
}

float bf16_to_float(std::uint16_t h) {
  std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace

std::int64_t TensorEntry::numel() const {
  // read() has checked that the product fits (io::checked_numel); a zero dimension short-cuts so
  // that e.g. [2^62, 2^62, 0] is 0 without an overflowing intermediate product.
  for (auto d : shape)
    if (d == 0) return 0;
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

namespace {

// A dimension or byte offset of the header: a JSON integer in [0, 2^63). Anything else (a float
// such as 1e30, whose conversion to an integer would be undefined, a negative number, a number
// above int64) is refused.
std::int64_t header_int(const nlohmann::json& v, const std::string& ctx, const char* what) {
  if (!v.is_number_integer()) throw Error(ctx + ": " + what + " " + data::json_excerpt(v) + " is not an integer");
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw Error(ctx + ": " + what + " " + std::to_string(u) + " is too large");
    return static_cast<std::int64_t>(u);
  }
  const auto x = v.get<std::int64_t>();
  if (x < 0) throw Error(ctx + ": " + what + " " + std::to_string(x) + " is negative");
  return x;
}

std::uint64_t count_nonfinite(const float* p, std::size_t n, std::size_t& first) {
  // Exponent bits all ones = Inf or NaN. A branch-free count vectorizes; the first index is
  // searched for only when there is one.
  std::uint64_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, p + i, 4);
    bad += (u & 0x7f800000u) == 0x7f800000u;
  }
  if (bad) {
    for (first = 0; first < n && std::isfinite(p[first]); ++first) {
    }
  }
  return bad;
}

std::uint64_t count_nonfinite(const double* p, std::size_t n, std::size_t& first) {
  std::uint64_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) bad += !std::isfinite(p[i]);
  if (bad) {
    for (first = 0; first < n && std::isfinite(p[first]); ++first) {
    }
  }
  return bad;
}

}  // namespace

SafeTensorsFile SafeTensorsFile::read(const std::string& path, NonFinite nonfinite) {
  SafeTensorsFile f;
  f.path_ = path;
  f.check_finite_ = nonfinite == NonFinite::kRefuse;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open for reading (" + std::strerror(errno) + ")");
  f.fd_ = std::shared_ptr<const int>(new int(fd), [](const int* p) {
    ::close(*p);
    delete p;
  });
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(path + ": cannot stat (" + std::strerror(errno) + ")");
  if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file");
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  if (file_size < 8) throw Error(path + ": not a safetensors file (shorter than its 8-byte header length)");
  unsigned char len_bytes[8];
  f.pread_exact(len_bytes, 8, 0);
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  // The header is JSON text held in memory whole: 100 MB is ~1000x a real checkpoint's header.
  if (header_len > file_size - 8 || header_len > kMaxHeaderBytes)
    throw Error(path + ": header length " + std::to_string(header_len) + " exceeds the file size " +
                std::to_string(file_size) + " or the " + std::to_string(kMaxHeaderBytes) + "-byte limit");
  std::string header(header_len, '\0');
  f.pread_exact(header.data(), header_len, 8);
  const nlohmann::json j = data::parse_json_text(header, path + " header");
  if (!j.is_object()) throw Error(path + ": header is not a JSON object");
  const std::uint64_t data_size = file_size - 8 - header_len;
  struct Span {
    std::uint64_t begin, end;
    const std::string* name;
  };
  std::vector<Span> spans;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string ctx = path + ": tensor \"" + it.key() + "\"";
    if (it.key() == "__metadata__") {
      if (!it->is_object()) throw Error(path + ": __metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) throw Error(path + ": __metadata__ value \"" + m.key() + "\" is not a string");
        f.metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const auto& v = *it;
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      throw Error(ctx + ": needs dtype, shape and data_offsets");
    TensorEntry e;
    if (!v["dtype"].is_string()) throw Error(ctx + ": dtype " + data::json_excerpt(v["dtype"]) + " is not a string");
    e.dtype = parse_dtype(v["dtype"].get<std::string>(), ctx);
    const auto& shape = v["shape"];
    if (!shape.is_array()) throw Error(ctx + ": shape " + data::json_excerpt(shape) + " is not a list");
    for (const auto& d : shape) e.shape.push_back(header_int(d, ctx, "dimension"));
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2) throw Error(ctx + ": data_offsets must be a list of two entries");
    const auto begin = static_cast<std::uint64_t>(header_int(off[0], ctx, "data offset"));
    const auto end = static_cast<std::uint64_t>(header_int(off[1], ctx, "data offset"));
    if (begin > end || end > data_size)
      throw Error(ctx + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                  ") fall outside the " + std::to_string(data_size) + "-byte data section");
    const std::int64_t numel = io::checked_numel(e.shape, ctx);
    const std::int64_t nbytes = io::checked_mul(numel, static_cast<std::int64_t>(dtype_size(e.dtype)), ctx, "byte size");
    if (end - begin != static_cast<std::uint64_t>(nbytes))
      throw Error(ctx + ": " + std::to_string(end - begin) + " bytes do not match its shape and dtype (" +
                  std::to_string(numel) + " x " + dtype_name(e.dtype) + " = " + std::to_string(nbytes) + " bytes)");
    e.begin = static_cast<std::size_t>(begin);
    e.end = static_cast<std::size_t>(end);
    // Keys are unique: parse_json_text refuses a header that names one tensor twice.
    const auto pos = f.entries_.emplace(it.key(), e).first;
    if (begin != end) spans.push_back({begin, end, &pos->first});
  }
  // Two tensors sharing bytes would alias each other; the format lays them out one after another.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end)
      throw Error(path + ": tensors \"" + *spans[i - 1].name + "\" [" + std::to_string(spans[i - 1].begin) + ", " +
                  std::to_string(spans[i - 1].end) + ") and \"" + *spans[i].name + "\" [" +
                  std::to_string(spans[i].begin) + ", " + std::to_string(spans[i].end) + ") overlap in the data section");
  f.data_start_ = 8 + header_len;
  return f;
}

void SafeTensorsFile::pread_exact(void* dst, std::uint64_t n, std::uint64_t offset) const {
  auto* out = static_cast<unsigned char*>(dst);
  std::uint64_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(*fd_, out + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw Error(path_ + ": truncated or unreadable (the file changed after it was opened?)");
    done += static_cast<std::uint64_t>(r);
  }
}

template <class T>
void SafeTensorsFile::check_finite_impl(const std::string& name, const T* p, std::size_t n) const {
  if (!check_finite_) return;
  std::size_t first = 0;
  const std::uint64_t bad = count_nonfinite(p, n, first);
  if (bad == 0) return;
  throw Error(path_ + ": tensor \"" + name + "\" holds " + std::to_string(bad) + " non-finite value" +
              (bad == 1 ? "" : "s") + " (NaN or Inf) among " + std::to_string(n) + ", the first at index " +
              std::to_string(first) + "; trm writes only finite weights, so the file is damaged or comes from a diverged run");
}

void SafeTensorsFile::check_finite(const std::string& name, const float* p, std::size_t n) const {
  check_finite_impl(name, p, n);
}

void SafeTensorsFile::check_finite(const std::string& name, const double* p, std::size_t n) const {
  check_finite_impl(name, p, n);
}

void SafeTensorsFile::read_bytes(const TensorEntry& e, void* dst) const {
  pread_exact(dst, e.end - e.begin, data_start_ + e.begin);
}

std::vector<unsigned char> SafeTensorsFile::bytes(const TensorEntry& e) const {
  std::vector<unsigned char> b(e.end - e.begin);
  read_bytes(e, b.data());
  return b;
}

void SafeTensorsFile::read_floats_into(const std::string& name, const std::vector<std::int64_t>& expect,
                                       float* dst) const {
  const auto& e = entry(name);
  check_shape(name, expect);
  if (e.dtype == DType::kF32) {
    read_bytes(e, dst);
    check_finite(name, dst, static_cast<std::size_t>(e.numel()));
    return;
  }
  const auto d = doubles(name, expect);
  for (std::size_t i = 0; i < d.size(); ++i) dst[i] = static_cast<float>(d[i]);
}

const TensorEntry& SafeTensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw Error(path_ + ": no tensor named \"" + name + "\"");
  return it->second;
}

std::vector<std::string> SafeTensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : entries_) out.push_back(k);
  return out;
}

void SafeTensorsFile::check_shape(const std::string& name, const std::vector<std::int64_t>& expect) const {
  if (expect.empty()) return;
  const auto& e = entry(name);
  if (e.shape != expect) {
    auto fmt = [](const std::vector<std::int64_t>& s) {
      std::string r = "[";
      for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
      return r + "]";
    };
    throw Error(path_ + ": tensor \"" + name + "\" has shape " + fmt(e.shape) + ", expected " + fmt(expect));
  }
}

std::vector<double> SafeTensorsFile::doubles(const std::string& name, const std::vector<std::int64_t>& expect) const {
  check_shape(name, expect);
  const auto& e = entry(name);
  const std::vector<unsigned char> raw = bytes(e);
  const unsigned char* p = raw.data();
  std::vector<double> out(static_cast<std::size_t>(e.numel()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    switch (e.dtype) {
      case DType::kF32: { float v; std::memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
      case DType::kF64: { double v; std::memcpy(&v, p + 8 * i, 8); out[i] = v; break; }
      case DType::kI32: { std::int32_t v; std::memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
      case DType::kI64: { std::int64_t v; std::memcpy(&v, p + 8 * i, 8); out[i] = static_cast<double>(v); break; }
      case DType::kU8: out[i] = p[i]; break;
      case DType::kBF16: { std::uint16_t v; std::memcpy(&v, p + 2 * i, 2); out[i] = bf16_to_float(v); break; }
      case DType::kF16: throw Error(path_ + ": tensor \"" + name + "\": F16 is not supported, convert to F32 or BF16");
    }
  }
  if (e.dtype == DType::kF32 || e.dtype == DType::kF64 || e.dtype == DType::kBF16) check_finite(name, out.data(), out.size());
  return out;
}

std::vector<float> SafeTensorsFile::floats(const std::string& name, const std::vector<std::int64_t>& expect) const {
  const auto& e = entry(name);
  if (e.dtype == DType::kF32) {
    check_shape(name, expect);
    std::vector<float> out(static_cast<std::size_t>(e.numel()));
    read_bytes(e, out.data());
    check_finite(name, out.data(), out.size());
    return out;
  }
  const auto d = doubles(name, expect);
  return std::vector<float>(d.begin(), d.end());
}

std::vector<std::int32_t> SafeTensorsFile::ints(const std::string& name, const std::vector<std::int64_t>& expect) const {
  const auto& e = entry(name);
  if (e.dtype != DType::kI32 && e.dtype != DType::kI64 && e.dtype != DType::kU8)
    throw Error(path_ + ": tensor \"" + name + "\" has dtype " + dtype_name(e.dtype) + ", expected an integer type");
  const auto d = doubles(name, expect);
  std::vector<std::int32_t> out(d.size());
  for (std::size_t i = 0; i < d.size(); ++i) {
    // I64 values beyond int32 would make the conversion undefined: refuse them.
    if (d[i] < std::numeric_limits<std::int32_t>::min() || d[i] > std::numeric_limits<std::int32_t>::max())
      throw Error(path_ + ": tensor \"" + name + "\" element " + std::to_string(i) + " = " +
                  std::to_string(static_cast<std::int64_t>(d[i])) + " does not fit in int32");
    out[i] = static_cast<std::int32_t>(d[i]);
  }
  return out;
}

void SafeTensorsWriter::add(const std::string& name, DType dtype, std::vector<std::int64_t> shape, const void* data) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  Pending p{name, dtype, std::move(shape), {}};
  p.bytes.resize(static_cast<std::size_t>(n) * dtype_size(dtype));
  if (!p.bytes.empty()) std::memcpy(p.bytes.data(), data, p.bytes.size());
  p.size = p.bytes.size();
  tensors_.push_back(std::move(p));
}

void SafeTensorsWriter::add_borrowed(const std::string& name, DType dtype, std::vector<std::int64_t> shape,
                                     const void* data) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  Pending p{name, dtype, std::move(shape), {}};
  p.borrowed = static_cast<const unsigned char*>(data);
  p.size = static_cast<std::size_t>(n) * dtype_size(dtype);
  tensors_.push_back(std::move(p));
}

void SafeTensorsWriter::write(const std::string& path) const {
  nlohmann::json j = nlohmann::json::object();
  std::size_t off = 0;
  for (const auto& t : tensors_) {
    j[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {off, off + t.size}}};
    off += t.size;
  }
  if (!metadata_.empty()) j["__metadata__"] = metadata_;
  std::string header = j.dump();
  while (header.size() % 8) header += ' ';
  unsigned char len[8];
  const std::uint64_t hl = header.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(hl >> (8 * i));
  // Checkpoints are what kill -9 resume depends on: the shared helper writes to path.tmp, fsyncs
  // and renames, so a crash leaves the previous checkpoint or the complete new one.
  data::write_file_atomically(path, [&](std::FILE* f) {
    data::write_bytes(f, len, 8, path);
    data::write_bytes(f, header.data(), header.size(), path);
    for (const auto& t : tensors_) data::write_bytes(f, t.borrowed ? t.borrowed : t.bytes.data(), t.size, path);
  });
}

}  // namespace trm
