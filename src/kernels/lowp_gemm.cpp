// bf16 / int8 GEMMs through oneDNN (see lowp_gemm.h and docs/PRECISION.md).
#include "kernels/lowp_gemm.h"

#include <cblas.h>
#include <dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace trm::kernels::inline TRM_KERNEL_ISA {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

inline std::uint16_t bf16_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                                         // nearest, ties to even
  return static_cast<std::uint16_t>(u >> 16);
}
inline float bf16_float(std::uint16_t b) {
  const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// dnnl_cpu_isa_t bits (oneapi/dnnl/dnnl_types.h): 0x40 = avx512_core_vnni, 0x80 = avx512_core_bf16,
// 0x400 = avx2_vnni; each richer ISA includes the bits of those below it.
bool isa_has_vnni(unsigned isa) { return (isa & 0x40u) != 0 || (isa & 0x400u) != 0; }
bool isa_has_bf16(unsigned isa) { return (isa & 0x80u) != 0; }

std::string isa_name(unsigned isa) {
  switch (isa) {
    case 0x0: return "all";
    case 0x1: return "sse41";
    case 0x3: return "avx";
    case 0x7: return "avx2";
    case 0x27: return "avx512_core";
    case 0x67: return "avx512_core_vnni";
    case 0xe7: return "avx512_core_bf16";
    case 0x3e7: return "avx512_core_amx";
    case 0x407: return "avx2_vnni";
    default: return "isa 0x" + std::to_string(isa);
  }
}

// The largest |q| of an int8 weight. Without VNNI, oneDNN's u8 x s8 kernels add pairs of
// products in int16 (vpmaddubsw) and would saturate at 255 * 127 * 2; weights within +-63 keep
// every pair below 2^15 (the same halving oneDNN applies to its own int8 convolutions there).
int weight_qmax(unsigned isa) { return isa_has_vnni(isa) ? 127 : 63; }

struct PackKey {
  const float* W;
  int K, N, kind;  // kind: 0 = oneDNN packed (bf16 or int8), 1 = bf16-rounded fp32 copy [N,K]
  bool operator==(const PackKey& o) const { return W == o.W && K == o.K && N == o.N && kind == o.kind; }
};
struct PackKeyHash {
  std::size_t operator()(const PackKey& k) const {
    std::size_t h = std::hash<const void*>()(k.W);
    h ^= std::hash<std::int64_t>()((static_cast<std::int64_t>(k.K) << 32) ^ (static_cast<std::int64_t>(k.N) << 2) ^ k.kind) +
         0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
  }
};

struct Pack {
  Precision prec = Precision::fp32;
  dnnl::memory::desc md;     // the layout the primitive asked for (kind 0)
  dnnl::memory packed;       // kind 0: owned by oneDNN
  dnnl::memory plain;        // kind 0: the reorder's source (a view of W, or q below)
  dnnl::reorder reorder;
  std::vector<std::int8_t> q;         // int8: round(W / scale) [N,K]
  std::vector<float> scale;           // int8: per output channel
  std::vector<std::int32_t> comp;     // int8: 128 * sum_k q[n,k] (the u8 zero point's share)
  std::vector<float> rounded;         // kind 1: bf16-rounded W [N,K]
  std::uint64_t gen = 0;
};

struct PrimKey {
  int prec, M, K, N;
  bool operator==(const PrimKey& o) const { return prec == o.prec && M == o.M && K == o.K && N == o.N; }
};
struct PrimKeyHash {
  std::size_t operator()(const PrimKey& k) const {
    return std::hash<std::int64_t>()((static_cast<std::int64_t>(k.M) << 40) ^ (static_cast<std::int64_t>(k.K) << 20) ^
                                     (static_cast<std::int64_t>(k.N) << 2) ^ k.prec);
  }
};
struct Prim {
  dnnl::matmul mm;
  dnnl::memory::desc wmd;
  dnnl::memory src, dst, scratch;
};

template <class T>
T* grow(std::vector<T>& v, std::int64_t n) {
  if (static_cast<std::int64_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
  return v.data();
}

void exec(const dnnl::primitive& p, dnnl::stream& s, std::initializer_list<std::pair<int, const dnnl::memory*>> args) {
  // The C entry point takes a plain array: the C++ one builds an unordered_map per call.
  dnnl_exec_arg_t a[8];
  int n = 0;
  for (const auto& [k, m] : args) a[n++] = {k, m->get()};
  dnnl::error::wrap_c_api(dnnl_primitive_execute(p.get(), s.get(), n, a), "oneDNN primitive execution failed");
}

}  // namespace

float round_to_bf16(float x) { return bf16_float(bf16_bits(x)); }

struct LowpGemm::Impl {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
  unsigned isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  bool bf16_native = false;  // oneDNN has a bf16 matmul on this CPU
  bool bf16_probed = false;
  LowpStats stats;
  std::unordered_map<PackKey, std::vector<std::unique_ptr<Pack>>, PackKeyHash> packs;
  std::unordered_map<PrimKey, std::unique_ptr<Prim>, PrimKeyHash> prims;
  // Per-call scratch: grows to the largest call, then never again.
  std::vector<std::uint16_t> src_bf16;
  std::vector<std::uint8_t> src_u8;
  std::vector<float> src_f32, src2_f32, row_scale, dst_f32;
  std::vector<std::int32_t> dst_s32;

  bool probe_bf16() {
    if (bf16_probed) return bf16_native;
    bf16_probed = true;
    try {
      const dnnl::memory::desc a({64, 64}, dt::bf16, tag::ab), b({64, 64}, dt::bf16, tag::any),
          c({64, 64}, dt::f32, tag::ab);
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), eng);
      bf16_native = true;
    } catch (const dnnl::error&) {
      bf16_native = false;
    }
    return bf16_native;
  }

  Prim& prim(Precision p, int M, int K, int N) {
    const PrimKey key{static_cast<int>(p), M, K, N};
    auto it = prims.find(key);
    if (it != prims.end()) return *it->second;
    const bool i8 = p == Precision::int8;
    const dnnl::memory::desc a({M, K}, i8 ? dt::u8 : dt::bf16, tag::ab), b({K, N}, i8 ? dt::s8 : dt::bf16, tag::any),
        c({M, N}, i8 ? dt::s32 : dt::f32, tag::ab);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, eng);
    auto pr = std::make_unique<Prim>();
    pr->mm = dnnl::matmul(pd);
    pr->wmd = pd.weights_desc();
    pr->src = dnnl::memory(a, eng, DNNL_MEMORY_NONE);
    pr->dst = dnnl::memory(c, eng, DNNL_MEMORY_NONE);
    pr->scratch = dnnl::memory(pd.scratchpad_desc(), eng);
    ++stats.primitives;
    return *prims.emplace(key, std::move(pr)).first->second;
  }

  // The packed weights for primitive layout md, rebuilt when stale.
  Pack& packed(Precision p, const float* W, int K, int N, const dnnl::memory::desc& md, std::uint64_t gen) {
    auto& list = packs[PackKey{W, K, N, 0}];
    Pack* pk = nullptr;
    for (auto& e : list)
      if (e->prec == p && e->md == md) pk = e.get();
    if (!pk) {
      auto np = std::make_unique<Pack>();
      np->prec = p;
      np->md = md;
      np->packed = dnnl::memory(md, eng);
      if (p == Precision::int8) {
        np->q.resize(static_cast<std::size_t>(K) * N);
        np->scale.resize(static_cast<std::size_t>(N));
        np->comp.resize(static_cast<std::size_t>(N));
        // W as the B operand [K,N] of the product: element (k,n) at q[n*K + k].
        np->plain = dnnl::memory(dnnl::memory::desc({K, N}, dt::s8, dims{1, K}), eng, np->q.data());
      } else {
        np->plain = dnnl::memory(dnnl::memory::desc({K, N}, dt::f32, dims{1, K}), eng, DNNL_MEMORY_NONE);
      }
      np->reorder = dnnl::reorder(dnnl::reorder::primitive_desc(eng, np->plain.get_desc(), eng, md));
      ++stats.primitives;
      list.push_back(std::move(np));
      pk = list.back().get();
    }
    if (pk->gen != gen) {
      if (p == Precision::int8) {
        const float qmax = static_cast<float>(weight_qmax(isa));
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; ++n) {
          const float* w = W + static_cast<std::int64_t>(n) * K;
          float m = 0;
          for (int k = 0; k < K; ++k) m = std::max(m, std::fabs(w[k]));
          const float s = m > 0 ? m / qmax : 1.0f, inv = 1.0f / s;
          std::int8_t* q = pk->q.data() + static_cast<std::int64_t>(n) * K;
          std::int32_t sum = 0;
          for (int k = 0; k < K; ++k) {
            const float r = std::nearbyint(w[k] * inv);
            q[k] = static_cast<std::int8_t>(std::clamp(r, -qmax, qmax));
            sum += q[k];
          }
          pk->scale[static_cast<std::size_t>(n)] = s;
          pk->comp[static_cast<std::size_t>(n)] = 128 * sum;
        }
      } else {
        pk->plain.set_data_handle(const_cast<float*>(W));
      }
      exec(pk->reorder, stream, {{DNNL_ARG_FROM, &pk->plain}, {DNNL_ARG_TO, &pk->packed}});
      stream.wait();
      pk->gen = gen;
      ++stats.packs;
    }
    return *pk;
  }

  // bf16-rounded copy of W [N,K], rebuilt when stale.
  const float* rounded(const float* W, int K, int N, std::uint64_t gen) {
    auto& list = packs[PackKey{W, K, N, 1}];
    if (list.empty()) {
      list.push_back(std::make_unique<Pack>());
      list.back()->rounded.resize(static_cast<std::size_t>(K) * N);
    }
    Pack& pk = *list.back();
    if (pk.gen != gen) {
      const std::int64_t n = static_cast<std::int64_t>(K) * N;
      float* r = pk.rounded.data();
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < n; ++i) r[i] = round_to_bf16(W[i]);
      pk.gen = gen;
      ++stats.packs;
    }
    return pk.rounded.data();
  }

  // Dense bf16-rounded copy (fp32 storage) of a [rows, cols] block with row stride ld.
  static void round_rows(const float* x, int ld, int rows, int cols, float* out) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; ++r) {
      const float* s = x + static_cast<std::int64_t>(r) * ld;
      float* d = out + static_cast<std::int64_t>(r) * cols;
      for (int c = 0; c < cols; ++c) d[c] = round_to_bf16(s[c]);
    }
  }
};

LowpGemm::LowpGemm() : impl_(std::make_unique<Impl>()) {}
LowpGemm::~LowpGemm() = default;

void LowpGemm::set_precision(Precision p) {
  if (p == Precision::bf16) impl_->probe_bf16();
  prec_ = p;
}

LowpStats LowpGemm::stats() const { return impl_->stats; }

std::string LowpGemm::path() const {
  const std::string isa = "ISA " + isa_name(impl_->isa);
  switch (prec_) {
    case Precision::fp32: return "fp32: OpenBLAS SGEMM";
    case Precision::bf16:
      return impl_->bf16_native ? "bf16: oneDNN matmul bf16 x bf16 -> fp32 (" + isa + ")"
                                : "bf16: bf16-rounded inputs through OpenBLAS SGEMM (oneDNN has no bf16 matmul on " +
                                      isa + ")";
    case Precision::int8:
      return "int8: oneDNN matmul u8 x s8 -> s32 (" + isa + (isa_has_vnni(impl_->isa) ? ", VNNI)" : ", no VNNI: 7-bit weights)");
  }
  return "?";
}

std::string LowpGemm::warning() const {
  if (prec_ == Precision::bf16 && !impl_->bf16_native)
    return "this CPU (oneDNN " + isa_name(impl_->isa) +
           ") has no bf16 matmul: bf16 runs as rounded inputs on the fp32 SGEMM, slower than fp32 and with bf16 accuracy";
  if (prec_ == Precision::bf16 && !isa_has_bf16(impl_->isa))
    return "this CPU (oneDNN " + isa_name(impl_->isa) + ") lacks AVX512-BF16: oneDNN emulates bf16 and may be slower than fp32";
  if (prec_ == Precision::int8 && !isa_has_vnni(impl_->isa))
    return "this CPU (oneDNN " + isa_name(impl_->isa) +
           ") lacks VNNI: int8 uses 7-bit weights and runs at a fraction of the VNNI speed";
  return "";
}

void LowpGemm::linear_fwd(const float* x, int ldx, const float* W, float* y, int ldy, int M, int K, int N) {
  Impl& m = *impl_;
  if (M == 0 || N == 0) return;
  if (prec_ == Precision::bf16 && !m.bf16_native) {
    const float* Wr = m.rounded(W, K, N, generation_);
    float* xr = grow(m.src_f32, static_cast<std::int64_t>(M) * K);
    Impl::round_rows(x, ldx, M, K, xr);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, xr, K, Wr, K, 0.0f, y, ldy);
    return;
  }
  Prim& pr = m.prim(prec_, M, K, N);
  Pack& pk = m.packed(prec_, W, K, N, pr.wmd, generation_);
  const std::int64_t mk = static_cast<std::int64_t>(M) * K, mn = static_cast<std::int64_t>(M) * N;
  if (prec_ == Precision::bf16) {
    std::uint16_t* a = grow(m.src_bf16, mk);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < M; ++r)
      for (int c = 0; c < K; ++c)
        a[static_cast<std::int64_t>(r) * K + c] = bf16_bits(x[static_cast<std::int64_t>(r) * ldx + c]);
    pr.src.set_data_handle(a);
    float* out = ldy == N ? y : grow(m.dst_f32, mn);
    pr.dst.set_data_handle(out);
    exec(pr.mm, m.stream, {{DNNL_ARG_SRC, &pr.src}, {DNNL_ARG_WEIGHTS, &pk.packed}, {DNNL_ARG_DST, &pr.dst},
                           {DNNL_ARG_SCRATCHPAD, &pr.scratch}});
    m.stream.wait();
    if (out != y) {
#pragma omp parallel for schedule(static)
      for (int r = 0; r < M; ++r)
        std::memcpy(y + static_cast<std::int64_t>(r) * ldy, out + static_cast<std::int64_t>(r) * N,
                    static_cast<std::size_t>(N) * sizeof(float));
    }
    return;
  }
  // int8: each row of x quantized with its own scale s_r = max|x_r| / 127 and stored as u8 with
  // zero point 128; y = (acc - 128 sum_k q_w) s_r s_w[n].
  std::uint8_t* a = grow(m.src_u8, mk);
  float* rs = grow(m.row_scale, M);
#pragma omp parallel for schedule(static)
  for (int r = 0; r < M; ++r) {
    const float* xr = x + static_cast<std::int64_t>(r) * ldx;
    float mx = 0;
    for (int c = 0; c < K; ++c) mx = std::max(mx, std::fabs(xr[c]));
    const float s = mx > 0 ? mx / 127.0f : 1.0f, inv = 1.0f / s;
    rs[r] = s;
    std::uint8_t* ar = a + static_cast<std::int64_t>(r) * K;
    for (int c = 0; c < K; ++c)
      ar[c] = static_cast<std::uint8_t>(static_cast<int>(std::clamp(std::nearbyint(xr[c] * inv), -127.0f, 127.0f)) + 128);
  }
  std::int32_t* acc = grow(m.dst_s32, mn);
  pr.src.set_data_handle(a);
  pr.dst.set_data_handle(acc);
  exec(pr.mm, m.stream, {{DNNL_ARG_SRC, &pr.src}, {DNNL_ARG_WEIGHTS, &pk.packed}, {DNNL_ARG_DST, &pr.dst},
                         {DNNL_ARG_SCRATCHPAD, &pr.scratch}});
  m.stream.wait();
  const float* sw = pk.scale.data();
  const std::int32_t* comp = pk.comp.data();
#pragma omp parallel for schedule(static)
  for (int r = 0; r < M; ++r) {
    const std::int32_t* ar = acc + static_cast<std::int64_t>(r) * N;
    float* yr = y + static_cast<std::int64_t>(r) * ldy;
    const float s = rs[r];
    for (int n = 0; n < N; ++n) yr[n] = static_cast<float>(ar[n] - comp[n]) * (s * sw[n]);
  }
}

void LowpGemm::linear_bwd(const float* x, int ldx, const float* W, const float* dy, int lddy, float* dx, int lddx,
                          float* dW, int M, int K, int N, bool accumulate_dx) {
  Impl& m = *impl_;
  if (M == 0) return;
  float* dyr = grow(m.src2_f32, static_cast<std::int64_t>(M) * N);
  Impl::round_rows(dy, lddy, M, N, dyr);
  if (dx) {
    const float* Wr = m.rounded(W, K, N, generation_);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, dyr, N, Wr, K, accumulate_dx ? 1.0f : 0.0f,
                dx, lddx);
  }
  if (dW) {
    float* xr = grow(m.src_f32, static_cast<std::int64_t>(M) * K);
    Impl::round_rows(x, ldx, M, K, xr);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f, dyr, N, xr, K, 1.0f, dW, K);
  }
}

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
