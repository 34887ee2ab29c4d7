// safetensors reader: the header (length, JSON, shapes, offsets, dtypes) and every accessor on
// whatever tensors it accepts.
#include "fuzz_util.h"
#include "trm/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace trm;
  const std::string& path = fuzz::input_file(".safetensors", data, size);
  for (NonFinite nf : {NonFinite::kRefuse, NonFinite::kAllow}) {
    fuzz::refuse_ok([&] {
      const SafeTensorsFile f = SafeTensorsFile::read(path, nf);
      for (const auto& name : f.names()) {
        const TensorEntry& e = f.entry(name);
        fuzz::require(e.end >= e.begin, "entry bytes are ordered");
        fuzz::require(static_cast<std::size_t>(e.numel()) * dtype_size(e.dtype) == e.end - e.begin,
                      "accepted entry bytes match shape x dtype");
        fuzz::refuse_ok([&] { f.floats(name, e.shape); });
        fuzz::refuse_ok([&] { f.ints(name); });
        fuzz::refuse_ok([&] { f.doubles(name); });
        fuzz::refuse_ok([&] {
          std::vector<float> dst(static_cast<std::size_t>(e.numel()));
          f.read_floats_into(name, e.shape, dst.data());
        });
      }
    });
  }
  return 0;
}
