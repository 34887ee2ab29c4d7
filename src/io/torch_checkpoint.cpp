#include "trm/io/torch_checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "io/atomic_file.h"
#include "io/pickle.h"
#include "io/zip_reader.h"
#include "io/zip_writer.h"
#include "trm/error.h"

namespace trm {

namespace {

using io::PyRef;
using Kind = io::PyValue::Kind;

// The tensors of a state dict: a dict of str -> tensor (an OrderedDict, possibly with the
// _metadata attribute, which the unpickler drops).
std::vector<TorchTensorInfo> state_dict_tensors(const PyRef& root, const std::string& path) {
  if (root->kind != Kind::kDict)
    throw Error(path + ": the pickled object is a " + io::kind_name(root->kind) +
                ", not a state dict (a dict of tensors, what torch.save(model.state_dict()) writes)");
  std::vector<TorchTensorInfo> out;
  std::map<std::string, int> seen;
  for (const auto& [k, v] : root->dict) {
    if (k->kind != Kind::kStr) throw Error(path + ": a state-dict key is a " + std::string(io::kind_name(k->kind)) + ", not a string");
    if (v->kind != Kind::kTensor)
      throw Error(path + ": state-dict entry \"" + k->s + "\" is a " + io::kind_name(v->kind) +
                  ", not a tensor (only a plain state dict can be imported)");
    if (seen[k->s]++) throw Error(path + ": state-dict key \"" + k->s + "\" appears twice");
    TorchTensorInfo t;
    t.name = k->s;
    t.dtype = v->tensor.storage->dtype;
    t.shape = v->tensor.shape;
    t.stride = v->tensor.stride;
    t.storage_offset = v->tensor.offset;
    t.storage_key = v->tensor.storage->key;
    t.storage_numel = v->tensor.storage->numel;
    out.push_back(std::move(t));
  }
  // One key, one storage: its dtype and size must agree wherever it is referenced.
  std::map<std::string, const TorchTensorInfo*> by_key;
  for (const auto& t : out) {
    auto [it, fresh] = by_key.emplace(t.storage_key, &t);
    if (!fresh && (it->second->dtype != t.dtype || it->second->storage_numel != t.storage_numel))
      throw Error(path + ": storage \"" + t.storage_key + "\" is declared with two different types or sizes");
  }
  return out;
}

std::shared_ptr<const int> open_fd(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open for reading (" + std::strerror(errno) + ")");
  return std::shared_ptr<const int>(new int(fd), [](const int* p) {
    ::close(*p);
    delete p;
  });
}

std::uint64_t storage_bytes(const TorchTensorInfo& t) {
  return static_cast<std::uint64_t>(t.storage_numel) * dtype_size(t.dtype);
}

// torch's legacy format (before 1.6, or _use_new_zipfile_serialization=False): pickles of the
// magic number, the protocol version and sys_info, then the object, then the sorted list of
// storage keys; then each storage as an int64 element count followed by its raw bytes.
void read_legacy(const std::string& path, int fd, std::uint64_t file_size, std::vector<TorchTensorInfo>& tensors) {
  const std::string what = path + " (legacy torch format)";
  // The pickles come first and are small; read a growing prefix until they all parse.
  std::size_t window = static_cast<std::size_t>(std::min<std::uint64_t>(file_size, 1u << 20));
  for (;;) {
    std::vector<unsigned char> buf(window);
    io::pread_exact(fd, 0, buf.data(), buf.size(), path);
    std::size_t pos = 0;
    std::vector<PyRef> parts;
    try {
      for (int k = 0; k < 5; ++k) {
        std::size_t used = 0;
        parts.push_back(io::unpickle(buf.data() + pos, buf.size() - pos, what, &used));
        pos += used;
      }
    } catch (const Error& e) {
      if (window < file_size && std::string(e.what()).find("truncated?") != std::string::npos) {
        window = static_cast<std::size_t>(std::min<std::uint64_t>(file_size, std::uint64_t{window} * 4));
        continue;
      }
      throw;
    }
    // 0x1950a86a20f9469cfc6c, little-endian: torch's MAGIC_NUMBER.
    const std::string magic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
    if (parts[0]->kind != Kind::kBigInt || parts[0]->s != magic)
      throw Error(path + ": not a PyTorch checkpoint (no torch magic number in the legacy format's first pickle)");
    if (parts[1]->kind != Kind::kInt || parts[1]->i != 1001)
      throw Error(path + ": unsupported legacy torch protocol version");
    if (parts[2]->kind == Kind::kDict)
      for (const auto& [k, v] : parts[2]->dict)
        if (k->kind == Kind::kStr && k->s == "little_endian" && v->kind == Kind::kBool && !v->b)
          throw Error(path + ": written on a big-endian machine; only little-endian checkpoints are supported");
    tensors = state_dict_tensors(parts[3], path);
    if (parts[4]->kind != Kind::kList) throw Error(path + ": the legacy storage key list is missing");
    std::map<std::string, std::uint64_t> offsets;
    std::uint64_t at = pos;
    for (const auto& key : parts[4]->items) {
      if (key->kind != Kind::kStr) throw Error(path + ": a legacy storage key is not a string");
      const TorchTensorInfo* t = nullptr;
      for (const auto& x : tensors)
        if (x.storage_key == key->s) t = &x;
      if (t == nullptr) throw Error(path + ": storage \"" + key->s + "\" is listed but no tensor uses it");
      unsigned char n8[8];
      io::pread_exact(fd, at, n8, 8, path);
      std::uint64_t n = 0;
      for (int k = 7; k >= 0; --k) n = (n << 8) | n8[k];
      if (n != static_cast<std::uint64_t>(t->storage_numel))
        throw Error(path + ": storage \"" + key->s + "\" holds " + std::to_string(n) + " elements, its id declares " +
                    std::to_string(t->storage_numel));
      offsets[key->s] = at + 8;
      at += 8 + storage_bytes(*t);
      if (at > file_size)
        throw Error(path + ": storage \"" + key->s + "\" runs past the end of the file (truncated?): storage offsets out of range");
    }
    for (auto& t : tensors) {
      auto it = offsets.find(t.storage_key);
      if (it == offsets.end()) throw Error(path + ": tensor \"" + t.name + "\" uses storage \"" + t.storage_key + "\", which the file does not hold");
      t.storage_file_offset = it->second;
    }
    return;
  }
}

void convert(DType dt, const unsigned char* src, std::size_t n, float* dst) {
  switch (dt) {
    case DType::kF32: std::memcpy(dst, src, n * 4); return;
    case DType::kBF16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_to_float(static_cast<std::uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
      return;
    case DType::kF16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = f16_to_float(static_cast<std::uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
      return;
    default: break;
  }
  TRM_ASSERT(false, "convert: not a floating-point dtype");
}

}  // namespace

std::uint16_t float_to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f)) return static_cast<std::uint16_t>((u >> 16) | 0x40);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

float bf16_to_float(std::uint16_t h) {
  const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float f16_to_float(std::uint16_t h) {
  const int exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  float f;
  if (exp == 0)
    f = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31)
    f = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  else
    f = std::ldexp(static_cast<float>(mant + 1024), exp - 25);
  return (h & 0x8000) ? -f : f;
}

std::int64_t TorchTensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

bool TorchTensorInfo::contiguous() const {
  std::int64_t expect = 1;
  for (std::size_t k = shape.size(); k-- > 0;) {
    if (shape[k] != 1 && stride[k] != expect) return false;
    expect *= shape[k];
  }
  return true;
}

TorchCheckpoint TorchCheckpoint::read(const std::string& path) {
  TorchCheckpoint ck;
  ck.path_ = path;
  ck.fd_ = open_fd(path);
  struct stat st{};
  if (::fstat(*ck.fd_, &st) != 0) throw Error(path + ": cannot stat (" + std::strerror(errno) + ")");
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  unsigned char head[2] = {};
  if (file_size >= 2) io::pread_exact(*ck.fd_, 0, head, 2, path);

  if (io::looks_like_zip(path)) {
    ck.format_ = "zip";
    io::ZipReader z(path);
    const io::ZipEntry* pkl = nullptr;
    for (const auto& e : z.entries()) {
      const auto slash = e.name.find('/');
      if (slash != std::string::npos && e.name.substr(slash + 1) == "data.pkl") {
        if (pkl) throw Error(path + ": the zip archive holds two data.pkl entries");
        pkl = &e;
      }
    }
    if (pkl == nullptr) throw Error(path + ": a zip archive without <archive>/data.pkl: not a torch.save checkpoint");
    const std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);  // "<archive>/"
    if (const io::ZipEntry* bo = z.find(prefix + "byteorder")) {
      const auto v = z.read_entry(*bo);
      if (std::string(v.begin(), v.end()) != "little")
        throw Error(path + ": written with byte order \"" + std::string(v.begin(), v.end()) + "\"; only little-endian is supported");
    }
    const auto bytes = z.read_entry(*pkl);
    ck.tensors_ = state_dict_tensors(io::unpickle(bytes.data(), bytes.size(), path + ": " + pkl->name), path);
    for (auto& t : ck.tensors_) {
      const std::string entry = prefix + "data/" + t.storage_key;
      const io::ZipEntry* e = z.find(entry);
      if (e == nullptr) throw Error(path + ": tensor \"" + t.name + "\" uses storage \"" + entry + "\", which the archive does not hold");
      z.require_stored(*e);
      if (e->size < storage_bytes(t))
        throw Error(path + ": storage offsets out of range: entry \"" + entry + "\" holds " + std::to_string(e->size) +
                    " bytes, tensor \"" + t.name + "\" declares a storage of " + std::to_string(t.storage_numel) + " " +
                    dtype_name(t.dtype) + " elements (" + std::to_string(storage_bytes(t)) + " bytes)");
      t.storage_file_offset = e->data_offset;
      t.has_crc = e->size == storage_bytes(t);
      t.crc = e->crc32;
    }
  } else if (file_size >= 2 && head[0] == 0x80) {
    ck.format_ = "legacy";
    read_legacy(path, *ck.fd_, file_size, ck.tensors_);
  } else {
    throw Error(path + ": not a PyTorch checkpoint (neither the zip format of torch.save nor its legacy pickle format)");
  }
  return ck;
}

const TorchTensorInfo* TorchCheckpoint::find(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

void TorchCheckpoint::read_floats(const TorchTensorInfo& t, const std::function<void(const float*, std::size_t)>& sink,
                                  std::size_t chunk_elems) const {
  if (t.dtype != DType::kF32 && t.dtype != DType::kBF16 && t.dtype != DType::kF16)
    throw Error(path_ + ": tensor \"" + t.name + "\" has dtype " + dtype_name(t.dtype) +
                "; only floating-point tensors (F32, BF16, F16) convert to float32");
  const std::size_t es = dtype_size(t.dtype);
  const std::int64_t n = t.numel();
  if (n == 0) return;
  std::vector<float> out(std::min<std::size_t>(chunk_elems, static_cast<std::size_t>(n)));
  if (t.contiguous()) {
    // Streamed: chunk by chunk from the file, converted, handed on. The storage's CRC is checked
    // when the tensor is the whole storage (every tensor of a state dict saved by torch.save).
    const bool check_crc = t.has_crc && t.storage_offset == 0 && n == t.storage_numel;
    std::uint32_t crc = 0;
    std::vector<unsigned char> raw(out.size() * es);
    std::uint64_t at = t.storage_file_offset + static_cast<std::uint64_t>(t.storage_offset) * es;
    for (std::int64_t done = 0; done < n;) {
      const std::size_t k = static_cast<std::size_t>(std::min<std::int64_t>(n - done, static_cast<std::int64_t>(out.size())));
      io::pread_exact(*fd_, at, raw.data(), k * es, path_);
      if (check_crc) crc = io::crc32_update(crc, raw.data(), k * es);
      convert(t.dtype, raw.data(), k, out.data());
      sink(out.data(), k);
      at += k * es;
      done += static_cast<std::int64_t>(k);
    }
    if (check_crc && crc != t.crc)
      throw Error(path_ + ": the storage of tensor \"" + t.name + "\" fails its CRC-32 check (the file is corrupted)");
    return;
  }
  // A strided view: read the span of the storage it covers, then gather in row-major order.
  std::int64_t span = 1;
  for (std::size_t d = 0; d < t.shape.size(); ++d) span += (t.shape[d] - 1) * t.stride[d];
  if (static_cast<std::uint64_t>(span) * es > (std::uint64_t{1} << 30))
    throw Error(path_ + ": tensor \"" + t.name + "\" is a non-contiguous view spanning more than 1 GiB; save it contiguous");
  std::vector<unsigned char> raw(static_cast<std::size_t>(span) * es);
  io::pread_exact(*fd_, t.storage_file_offset + static_cast<std::uint64_t>(t.storage_offset) * es, raw.data(), raw.size(), path_);
  std::vector<std::int64_t> idx(t.shape.size(), 0);
  std::size_t filled = 0;
  for (std::int64_t e = 0; e < n; ++e) {
    std::int64_t off = 0;
    for (std::size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.stride[d];
    convert(t.dtype, raw.data() + static_cast<std::size_t>(off) * es, 1, out.data() + filled);
    if (++filled == out.size()) {
      sink(out.data(), filled);
      filled = 0;
    }
    for (std::size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  if (filled > 0) sink(out.data(), filled);
}

std::vector<float> TorchCheckpoint::floats(const TorchTensorInfo& t) const {
  std::vector<float> v;
  v.reserve(static_cast<std::size_t>(t.numel()));
  read_floats(t, [&](const float* p, std::size_t n) { v.insert(v.end(), p, p + n); });
  return v;
}

void TorchCheckpointWriter::add(const std::string& name, DType dtype, std::vector<std::int64_t> shape, Fill fill) {
  tensors_.push_back({name, dtype, std::move(shape), std::move(fill)});
}

void TorchCheckpointWriter::add_copy(const std::string& name, DType dtype, std::vector<std::int64_t> shape, const void* data) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  auto bytes = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(data),
                                                            static_cast<const unsigned char*>(data) + n * static_cast<std::int64_t>(dtype_size(dtype)));
  add(name, dtype, std::move(shape), [bytes](const auto& out) { out(bytes->data(), bytes->size()); });
}

void TorchCheckpointWriter::write(const std::string& path, bool force_zip64) const {
  // The pickle torch.save writes for a state dict: an OrderedDict of _rebuild_tensor_v2 calls,
  // one persistent storage id per tensor (its key names the zip entry data/<key>).
  io::PickleWriter p;
  p.global("collections", "OrderedDict");
  p.empty_tuple();
  p.reduce();
  p.mark();
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i];
    std::int64_t n = 1;
    for (auto d : t.shape) n *= d;
    p.str(t.name);
    p.torch_tensor(t.dtype, std::to_string(i), n, 0, t.shape, io::contiguous_strides(t.shape));
  }
  p.setitems();
  p.stop();
  data::write_file_atomically(path, [&](std::FILE* f) {
    io::ZipWriter z(f, path, force_zip64);
    z.add_entry("archive/data.pkl", p.bytes().data(), p.bytes().size());
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
      const auto& t = tensors_[i];
      std::uint64_t n = 1;
      for (auto d : t.shape) n *= static_cast<std::uint64_t>(d);
      z.begin_entry("archive/data/" + std::to_string(i), n * dtype_size(t.dtype));
      t.fill([&](const void* d, std::size_t k) { z.write(d, k); });
      z.end_entry();
    }
    z.add_entry("archive/version", "3\n", 2);
    z.add_entry("archive/byteorder", "little", 6);
    z.finish();
  });
}

}  // namespace trm
