#include "convert/trm_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "io/atomic_file.h"
#include "io/zip_reader.h"
#include "trm/error.h"

namespace trm {

void write_trm_checkpoint(const std::string& path, const std::vector<TrmFileTensor>& tensors, const nlohmann::json& config) {
  // The safetensors header first: every offset is known from the shapes.
  nlohmann::json header = nlohmann::json::object();
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    std::uint64_t n = 1;
    for (auto d : t.shape) n *= static_cast<std::uint64_t>(d);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + 4 * n}}};
    offset += 4 * n;
  }
  // The format tag and metadata keys that Checkpoint::read (src/train/checkpoint.cpp) expects.
  header["__metadata__"] = {{"format", "trm-checkpoint-1"}, {"config", config.dump()}, {"state", "{}"}};
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
  data::write_file_atomically(path, [&](std::FILE* f) {
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(h.size()) >> (8 * i));
    data::write_bytes(f, len, 8, path);
    data::write_bytes(f, h.data(), h.size(), path);
    for (const auto& t : tensors) {
      std::uint64_t n = 1, got = 0;
      for (auto d : t.shape) n *= static_cast<std::uint64_t>(d);
      t.fill([&](const float* p, std::size_t k) {
        got += k;
        TRM_ASSERT(got <= n, "tensor " + t.name + " received more values than its shape holds");
        data::write_bytes(f, p, 4 * k, path);
      });
      TRM_ASSERT(got == n, "tensor " + t.name + " received " + std::to_string(got) + " of its " + std::to_string(n) + " values");
    }
  });
}

void read_f32_chunks(const SafeTensorsFile& f, const std::string& name, const FloatSink& sink, std::size_t chunk_elems) {
  const TensorEntry& e = f.entry(name);
  if (e.dtype != DType::kF32) {
    const auto v = f.floats(name);
    sink(v.data(), v.size());
    return;
  }
  const int fd = ::open(f.path().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(f.path() + ": cannot open for reading (" + std::strerror(errno) + ")");
  const std::unique_ptr<const int, void (*)(const int*)> guard(&fd, [](const int* p) { ::close(*p); });
  // safetensors: an 8-byte little-endian header length, the header, then the data section.
  unsigned char len[8];
  io::pread_exact(fd, 0, len, 8, f.path());
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len[i];
  std::uint64_t at = 8 + header_len + e.begin;
  std::vector<float> buf(std::min<std::size_t>(chunk_elems, static_cast<std::size_t>(e.numel())));
  for (std::int64_t left = e.numel(); left > 0;) {
    const std::size_t k = static_cast<std::size_t>(std::min<std::int64_t>(left, static_cast<std::int64_t>(buf.size())));
    io::pread_exact(fd, at, buf.data(), 4 * k, f.path());
    sink(buf.data(), k);
    at += 4 * k;
    left -= static_cast<std::int64_t>(k);
  }
}

}  // namespace trm
