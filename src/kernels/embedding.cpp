#include <cstring>

#include "kernels/kernels.h"

namespace trm::kernels::inline TRM_KERNEL_ISA {

template <class T>
void embed_fwd(const std::int32_t* tokens, const T* tok_table, const T* puz, const T* pos, T* x,
               int batch, int S, int P, int D, int ndim, T scale, T pos_scale) {
  const int L = S + P;
#pragma omp parallel for schedule(static)
  for (int b = 0; b < batch; ++b) {
    T* xb = x + static_cast<std::int64_t>(b) * L * D;
    // Prefix: the puzzle row, zero-padded to P*D values (so with ndim == D only position 0 is set).
    std::memset(xb, 0, sizeof(T) * static_cast<std::size_t>(P) * D);
    if (puz && ndim > 0) std::memcpy(xb, puz + static_cast<std::int64_t>(b) * ndim, sizeof(T) * ndim);
    for (int s = 0; s < S; ++s)
      std::memcpy(xb + static_cast<std::int64_t>(P + s) * D,
                  tok_table + static_cast<std::int64_t>(tokens[b * S + s]) * D, sizeof(T) * D);
    const T k = scale * pos_scale;
    if (pos) {
      for (std::int64_t i = 0; i < static_cast<std::int64_t>(L) * D; ++i) xb[i] = k * (xb[i] + pos[i]);
    } else {
      for (std::int64_t i = 0; i < static_cast<std::int64_t>(L) * D; ++i) xb[i] *= k;
    }
  }
}

template <class T>
void embed_bwd(const std::int32_t* tokens, const T* dx, T* dtok_table, T* dpuz, T* dpos, int batch,
               int S, int P, int D, int ndim, T scale, T pos_scale) {
  const int L = S + P;
  const T k = scale * pos_scale;  // d x / d emb
  // Serial over the batch: token rows repeat across samples, so the scatter-add would race.
  for (int b = 0; b < batch; ++b) {
    const T* db = dx + static_cast<std::int64_t>(b) * L * D;
    if (dpuz && ndim > 0)
      for (int i = 0; i < ndim; ++i) dpuz[static_cast<std::int64_t>(b) * ndim + i] = k * db[i];
    for (int s = 0; s < S; ++s) {
      T* row = dtok_table + static_cast<std::int64_t>(tokens[b * S + s]) * D;
      const T* g = db + static_cast<std::int64_t>(P + s) * D;
      for (int d = 0; d < D; ++d) row[d] += k * g[d];
    }
    if (dpos)
      for (std::int64_t i = 0; i < static_cast<std::int64_t>(L) * D; ++i) dpos[i] += k * db[i];
  }
}

template void embed_fwd<float>(const std::int32_t*, const float*, const float*, const float*,
                               float*, int, int, int, int, int, float, float);
template void embed_fwd<double>(const std::int32_t*, const double*, const double*, const double*,
                                double*, int, int, int, int, int, double, double);
template void embed_bwd<float>(const std::int32_t*, const float*, float*, float*, float*, int, int,
                               int, int, int, float, float);
template void embed_bwd<double>(const std::int32_t*, const double*, double*, double*, double*, int,
                                int, int, int, int, double, double);

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
