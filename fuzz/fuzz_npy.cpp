// .npy reader: preamble, the Python-literal header, shape arithmetic, and the typed accessors.
#include <vector>

#include "fuzz_util.h"
#include "trm/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace trm;
  fuzz::refuse_ok([&] {
    const auto a = data::NpyArray::from_bytes(std::vector<unsigned char>(data, data + size), "fuzz.npy");
    // An accepted shape's product fits (its bytes are in the input); a zero dimension makes it 0
    // whatever the other dimensions are, so multiply only when none is zero.
    bool zero = false;
    for (auto d : a.shape()) zero |= d == 0;
    std::int64_t n = 1;
    if (zero) n = 0;
    else
      for (auto d : a.shape()) n *= d;
    fuzz::require(n == a.numel(), "numel is the product of the shape");
    fuzz::require(a.nbytes() <= size, "the data lies inside the input");
    fuzz::refuse_ok([&] { a.u8(); });
    fuzz::refuse_ok([&] { a.to_int32(); });
    fuzz::refuse_ok([&] { a.to_float32(); });
  });
  return 0;
}
