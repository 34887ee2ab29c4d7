#include "trm/io/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
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
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

SafeTensorsFile SafeTensorsFile::read(const std::string& path) {
  SafeTensorsFile f;
  f.path_ = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open for reading");
  in.seekg(0, std::ios::end);
  const std::int64_t file_size = in.tellg();
  in.seekg(0);
  if (file_size < 8) throw Error(path + ": not a safetensors file (shorter than its 8-byte header length)");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > static_cast<std::uint64_t>(file_size - 8) || header_len > (100u << 20))
    throw Error(path + ": header length " + std::to_string(header_len) + " exceeds the file size " +
                std::to_string(file_size));
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": header is not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw Error(path + ": header is not a JSON object");
  const std::uint64_t data_size = static_cast<std::uint64_t>(file_size) - 8 - header_len;
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
    try {
      e.dtype = parse_dtype(v["dtype"].get<std::string>(), ctx);
      e.shape = v["shape"].get<std::vector<std::int64_t>>();
      const auto off = v["data_offsets"].get<std::vector<std::uint64_t>>();
      if (off.size() != 2) throw Error(ctx + ": data_offsets must have two entries");
      e.begin = off[0];
      e.end = off[1];
    } catch (const nlohmann::json::exception& ex) {
      throw Error(ctx + ": " + ex.what());
    }
    for (auto d : e.shape)
      if (d < 0) throw Error(ctx + ": negative dimension");
    if (e.begin > e.end || e.end > data_size)
      throw Error(ctx + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  ") fall outside the " + std::to_string(data_size) + "-byte data section");
    if (e.end - e.begin != static_cast<std::size_t>(e.numel()) * dtype_size(e.dtype))
      throw Error(ctx + ": " + std::to_string(e.end - e.begin) + " bytes do not match its shape and dtype");
    f.entries_[it.key()] = e;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open for reading");
  f.fd_ = std::shared_ptr<const int>(new int(fd), [](const int* p) {
    ::close(*p);
    delete p;
  });
  f.data_start_ = 8 + header_len;
  return f;
}

void SafeTensorsFile::read_bytes(const TensorEntry& e, void* dst) const {
  auto* out = static_cast<unsigned char*>(dst);
  std::size_t done = 0;
  const std::size_t n = e.end - e.begin;
  while (done < n) {
    const ssize_t r = ::pread(*fd_, out + done, n - done, static_cast<off_t>(data_start_ + e.begin + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw Error(path_ + ": truncated or unreadable tensor data (the file changed after it was opened?)");
    done += static_cast<std::size_t>(r);
  }
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
  return out;
}

std::vector<float> SafeTensorsFile::floats(const std::string& name, const std::vector<std::int64_t>& expect) const {
  const auto& e = entry(name);
  if (e.dtype == DType::kF32) {
    check_shape(name, expect);
    std::vector<float> out(static_cast<std::size_t>(e.numel()));
    read_bytes(e, out.data());
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
  return std::vector<std::int32_t>(d.begin(), d.end());
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
