#include "trm/io/npy.h"

#include <cstring>
#include <limits>

#include "io/atomic_file.h"
#include "io/checked_size.h"
#include "io/mapped_file.h"
#include "io/npy_header.h"
#include "trm/error.h"

namespace trm::data {
namespace {

std::string shape_str(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

NpyDtype parse_descr(const std::string& d, const std::string& path) {
  if (d.size() < 3) throw Error(path + ": unsupported dtype '" + d + "'");
  const char order = d[0];
  const std::string kind = d.substr(1);
  if (order != '<' && order != '>' && order != '|' && order != '=')
    throw Error(path + ": unsupported dtype '" + d + "' (no byte-order character)");
  // '=' is native order, which is little-endian on every machine we build for.
  if (order == '>' && kind != "u1")
    throw Error(path + ": big-endian dtype '" + d + "' is not supported (rewrite the array as little-endian, e.g. arr.astype('" +
                "<" + kind + "'))");
  if (kind == "u1") return NpyDtype::kU8;
  if (kind == "i4") return NpyDtype::kI32;
  if (kind == "i8") return NpyDtype::kI64;
  if (kind == "f4") return NpyDtype::kF32;
  throw Error(path + ": unsupported dtype '" + d + "' (supported: |u1, <i4, <i8, <f4)");
}

}  // namespace

std::size_t npy_itemsize(NpyDtype t) {
  switch (t) {
    case NpyDtype::kU8: return 1;
    case NpyDtype::kI32: case NpyDtype::kF32: return 4;
    case NpyDtype::kI64: return 8;
  }
  return 0;
}

std::string npy_descr(NpyDtype t) {
  switch (t) {
    case NpyDtype::kU8: return "|u1";
    case NpyDtype::kI32: return "<i4";
    case NpyDtype::kI64: return "<i8";
    case NpyDtype::kF32: return "<f4";
  }
  return "?";
}

NpyArray NpyArray::read(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  return parse(file->data(), file->size(), path, file);
}

NpyArray NpyArray::from_bytes(std::vector<unsigned char> bytes, const std::string& name) {
  auto owned = std::make_shared<const std::vector<unsigned char>>(std::move(bytes));
  return parse(owned->data(), owned->size(), name, owned);
}

NpyArray NpyArray::parse(const unsigned char* p, std::size_t size, const std::string& path,
                         std::shared_ptr<const void> keepalive) {
  static const char kMagic[] = "\x93NUMPY";
  if (size < 10 || std::memcmp(p, kMagic, 6) != 0) throw Error(path + ": not a .npy file (bad magic)");
  const int major = p[6];
  std::size_t header_len = 0, prefix = 0;
  if (major == 1) {
    header_len = p[8] | (static_cast<std::size_t>(p[9]) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw Error(path + ": truncated .npy header");
    header_len = p[8] | (static_cast<std::size_t>(p[9]) << 8) | (static_cast<std::size_t>(p[10]) << 16) |
                 (static_cast<std::size_t>(p[11]) << 24);
    prefix = 12;
  } else {
    throw Error(path + ": unsupported .npy format version " + std::to_string(major) + "." + std::to_string(p[7]));
  }
  if (header_len > size - prefix)
    throw Error(path + ": truncated .npy header (declares " + std::to_string(header_len) + " bytes, file has " +
                std::to_string(size - prefix) + " after the preamble)");
  const NpyHeader h = parse_npy_header(std::string_view(reinterpret_cast<const char*>(p + prefix), header_len), path);
  NpyArray a;
  a.path_ = path;
  a.dtype_ = parse_descr(h.descr, path);
  if (h.fortran_order && h.shape.size() > 1)
    throw Error(path + ": fortran_order True is not supported (save the array in C order, e.g. np.ascontiguousarray)");
  a.shape_ = h.shape;
  // Every size from the header is overflow-checked: shape (2^32, 2^30) of <i8 would otherwise
  // wrap to a small byte count.
  const std::string ctx = path + ": shape " + shape_str(h.shape);
  a.numel_ = io::checked_numel(h.shape, ctx);
  const std::int64_t nbytes = io::checked_mul(a.numel_, static_cast<std::int64_t>(npy_itemsize(a.dtype_)), ctx, "byte size");
  const std::size_t offset = prefix + header_len;
  const auto expect = static_cast<std::uint64_t>(io::checked_add(static_cast<std::int64_t>(offset), nbytes, ctx, "file size"));
  if (size != expect)
    throw Error(path + ": file size " + std::to_string(size) + " does not match shape " + shape_str(h.shape) + " of " +
                h.descr + " (expected " + std::to_string(expect) + " bytes)");
  a.data_ = p + offset;
  a.mapping_ = std::move(keepalive);
  return a;
}

std::span<const std::uint8_t> NpyArray::u8() const {
  if (dtype_ != NpyDtype::kU8)
    throw Error(path_ + ": dtype is " + npy_descr(dtype_) + ", expected |u1 (uint8)");
  return {static_cast<const std::uint8_t*>(data_), static_cast<std::size_t>(numel_)};
}

std::vector<std::int32_t> NpyArray::to_int32() const {
  std::vector<std::int32_t> out(static_cast<std::size_t>(numel_));
  // memcpy per element: the data offset need not be aligned in files numpy did not write.
  const auto* bytes = static_cast<const unsigned char*>(data_);
  if (dtype_ == NpyDtype::kI32) {
    if (numel_ > 0) std::memcpy(out.data(), bytes, nbytes());
  } else if (dtype_ == NpyDtype::kI64) {
    for (std::int64_t i = 0; i < numel_; ++i) {
      std::int64_t v;
      std::memcpy(&v, bytes + 8 * i, 8);
      if (v < std::numeric_limits<std::int32_t>::min() || v > std::numeric_limits<std::int32_t>::max())
        throw Error(path_ + ": element " + std::to_string(i) + " = " + std::to_string(v) + " does not fit in int32");
      out[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(v);
    }
  } else {
    throw Error(path_ + ": dtype is " + npy_descr(dtype_) + ", expected an integer array (<i4 or <i8)");
  }
  return out;
}

std::vector<float> NpyArray::to_float32() const {
  if (dtype_ != NpyDtype::kF32)
    throw Error(path_ + ": dtype is " + npy_descr(dtype_) + ", expected <f4 (float32)");
  std::vector<float> out(static_cast<std::size_t>(numel_));
  if (numel_ > 0) std::memcpy(out.data(), data_, nbytes());
  return out;
}

void write_npy(const std::string& path, NpyDtype dtype, const std::vector<std::int64_t>& shape, const void* data) {
  const std::int64_t n = io::checked_numel(shape, path + ": shape " + shape_str(shape));
  const std::string pre = format_npy_preamble(npy_descr(dtype), shape);
  write_file_atomically(path, [&](std::FILE* f) {
    write_bytes(f, pre.data(), pre.size(), path);
    write_bytes(f, data, static_cast<std::size_t>(n) * npy_itemsize(dtype), path);
  });
}

}  // namespace trm::data
