#include "trm/data/dihedral.h"

#include <string>

#include "trm/error.h"

namespace trm::data {

void dihedral_transform(const std::uint8_t* in, int rows, int cols, int t, std::uint8_t* out) {
  if (t < 0 || t >= kNumDihedral) throw Error("dihedral transform id " + std::to_string(t) + " is outside [0, 8)");
  const int H = rows, W = cols;
  const int out_rows = dihedral_swaps_axes(t) ? W : H;
  const int out_cols = dihedral_swaps_axes(t) ? H : W;
  for (int i = 0; i < out_rows; ++i) {
    for (int j = 0; j < out_cols; ++j) {
      int r = i, c = j;
      switch (t) {
        case 0: break;
        case 1: r = j; c = W - 1 - i; break;
        case 2: r = H - 1 - i; c = W - 1 - j; break;
        case 3: r = H - 1 - j; c = i; break;
        case 4: c = W - 1 - j; break;
        case 5: r = H - 1 - i; break;
        case 6: r = j; c = i; break;
        case 7: r = H - 1 - j; c = W - 1 - i; break;
      }
      out[i * out_cols + j] = in[r * W + c];
    }
  }
}

}  // namespace trm::data
