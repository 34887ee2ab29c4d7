// Finite-difference tests of every CPU kernel's backward, plus direct-formula checks of the
// forwards (so that a forward and a backward cannot agree on the same wrong function).
//
// Pattern for a differentiable kernel y = k(x): random inputs from a fixed-seed std::mt19937, a
// random projection G of y's shape, the scalar objective f = sum(G o k(x)); the analytic gradient
// comes from the backward kernel with dy = G, the numeric one from central differences
// (f(x + h e_i) - f(x - h e_i)) / 2h with h = 1e-6 on every input element (all tensors here are
// small; fd_indices() samples 64 elements for anything above 256).
//
// Tolerance (kFdTol): max |analytic - numeric| / max(1, |numeric|) < 1e-6. In double with
// h = 1e-6 the truncation error is O(h^2 f''') ~ 1e-12 and the rounding error
// O(eps |f| / h) ~ 1e-9 for the O(10) objectives used here, so 1e-6 leaves a wide margin while
// still catching any real mistake (a wrong factor or a missing term is O(1e-2) or more).
// Forward checks against direct formulas use kFwdTol = 1e-12 (same double arithmetic, only the
// order of summation differs).
//
// One test, RopeDoubleTablesExactInverse, is EXPECTED TO FAIL: it records that rope_tables<double>
// is only float-accurate (see the comment on that test).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/fast_math.h"
#include "kernels/kernels.h"
#include "model/host_math.h"

namespace trm::kernels {
namespace {

using host::bce_with_logits;  // host-side model arithmetic, checked here beside the kernels
using host::rope_tables;

using Vec = std::vector<double>;
using I32 = std::vector<std::int32_t>;

constexpr double kH = 1e-6;        // FD step
constexpr double kFdTol = 1e-6;    // max |analytic - numeric| / max(1, |numeric|)
constexpr double kFwdTol = 1e-12;  // forward vs a direct double formula

// ---- helpers ----------------------------------------------------------------------------------

Vec randn(std::size_t n, std::mt19937& rng, double stddev = 1.0) {
  std::normal_distribution<double> d(0.0, stddev);
  Vec v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

double max_abs_diff(const Vec& a, const Vec& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// Every index of a small tensor, or 64 random ones of a big tensor.
std::vector<std::size_t> fd_indices(std::size_t n, std::mt19937& rng) {
  std::vector<std::size_t> idx;
  if (n <= 256) {
    for (std::size_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    std::uniform_int_distribution<std::size_t> d(0, n - 1);
    for (int k = 0; k < 64; ++k) idx.push_back(d(rng));
  }
  return idx;
}

struct FdResult {
  double err = 0;      // worst max |analytic - numeric| / max(1, |numeric|)
  std::size_t at = 0;  // where
  double analytic = 0, numeric = 0;
};

// Central differences of f() w.r.t. x[i] (f reads x by reference), compared with grad[i].
template <class F>
FdResult fd_check(Vec& x, const Vec& grad, F&& f, std::mt19937& rng) {
  FdResult r;
  for (std::size_t i : fd_indices(x.size(), rng)) {
    const double x0 = x[i];
    x[i] = x0 + kH;
    const double fp = f();
    x[i] = x0 - kH;
    const double fm = f();
    x[i] = x0;
    const double num = (fp - fm) / (2 * kH);
    const double e = std::abs(grad[i] - num) / std::max(1.0, std::abs(num));
    if (e >= r.err) r = {e, i, grad[i], num};
  }
  return r;
}

#define EXPECT_FD_OK(res)                                                                  \
  EXPECT_LT((res).err, kFdTol) << "worst element " << (res).at << ": analytic " << (res).analytic \
                               << " vs numeric " << (res).numeric

// ---- linear -----------------------------------------------------------------------------------

// y = x W^T: forward vs a direct triple loop; dx and dW by FD; dW accumulates (+=); dx is
// overwritten when accumulate_dx = false and added to when it is true.
TEST(KernelsFd, Linear) {
  std::mt19937 rng(1);
  const int R = 3, in = 5, out = 4;
  Vec x = randn(R * in, rng), W = randn(out * in, rng), G = randn(R * out, rng);
  auto fwd = [&] {
    Vec y(R * out);
    linear_fwd<double>(x.data(), W.data(), y.data(), R, in, out);
    return y;
  };
  // Forward against the definition.
  const Vec y = fwd();
  Vec y_ref(R * out, 0.0);
  for (int r = 0; r < R; ++r)
    for (int o = 0; o < out; ++o)
      for (int i = 0; i < in; ++i) y_ref[r * out + o] += x[r * in + i] * W[o * in + i];
  EXPECT_LT(max_abs_diff(y, y_ref), kFwdTol);

  // Backward: dx starts as garbage (must be overwritten), dW as a known offset (must be added to).
  const Vec dx_garbage = randn(R * in, rng), dW0 = randn(out * in, rng);
  Vec dx = dx_garbage, dW = dW0;
  linear_bwd<double>(x.data(), W.data(), G.data(), dx.data(), dW.data(), R, in, out, false);
  Vec dW_only(out * in);
  for (std::size_t i = 0; i < dW.size(); ++i) dW_only[i] = dW[i] - dW0[i];
  auto f = [&] { return dot(G, fwd()); };
  EXPECT_FD_OK(fd_check(x, dx, f, rng));
  EXPECT_FD_OK(fd_check(W, dW_only, f, rng));

  // accumulate_dx = true adds dy W to what is already in dx; dW may be null.
  Vec dx_acc = dx_garbage;
  linear_bwd<double>(x.data(), W.data(), G.data(), dx_acc.data(), nullptr, R, in, out, true);
  for (std::size_t i = 0; i < dx_acc.size(); ++i)
    EXPECT_NEAR(dx_acc[i], dx_garbage[i] + dx[i], kFwdTol) << "i=" << i;
}

// ---- layouts the CPU backend calls directly: strided, batched and left linear layers, bias ----
// The maps are linear, so each backward is checked against central differences of <g, forward>.

TEST(KernelsFd, LayoutStridedLinear) {
  std::mt19937 rng(1);
  const int rows = 3, in = 4, out = 5, ldx = 7, ldy = 6;
  Vec x = randn(static_cast<std::size_t>(rows * ldx), rng), W = randn(static_cast<std::size_t>(out * in), rng);
  const Vec g = randn(static_cast<std::size_t>(rows * ldy), rng);
  auto f = [&] {
    Vec y(g.size(), 0.0);
    linear_fwd(x.data(), ldx, W.data(), y.data(), ldy, rows, in, out);
    return dot(g, y);  // the padding columns of y stay 0
  };
  Vec dx(x.size(), 0.0), dW(W.size(), 0.0);
  linear_bwd(x.data(), ldx, W.data(), g.data(), ldy, dx.data(), ldx, dW.data(), rows, in, out, false);
  // Padding columns of x do not feed the output, so their gradient must be 0 (as dx's init).
  EXPECT_FD_OK(fd_check(x, dx, f, rng));
  EXPECT_FD_OK(fd_check(W, dW, f, rng));
}

TEST(KernelsFd, LayoutBatchedLinearWithPrefixRows) {
  std::mt19937 rng(2);
  const int batch = 2, L = 5, P = 2, S = L - P, D = 3, V = 4;
  const std::int64_t xs = static_cast<std::int64_t>(L) * D, ys = static_cast<std::int64_t>(S) * V;
  Vec z = randn(static_cast<std::size_t>(batch * xs), rng), W = randn(static_cast<std::size_t>(V * D), rng);
  const Vec g = randn(static_cast<std::size_t>(batch * ys), rng);
  auto f = [&] {
    Vec y(g.size());
    linear_fwd_batched(z.data() + P * D, D, xs, W.data(), y.data(), V, ys, batch, S, D, V);
    return dot(g, y);
  };
  Vec dz(z.size(), 0.0), dW(W.size(), 0.0);
  linear_bwd_batched(z.data() + P * D, D, xs, W.data(), g.data(), V, ys, dz.data() + P * D, D, xs, dW.data(), batch, S,
                     D, V, false);
  EXPECT_FD_OK(fd_check(z, dz, f, rng));
  EXPECT_FD_OK(fd_check(W, dW, f, rng));
}

TEST(KernelsFd, LayoutLeftLinear) {
  std::mt19937 rng(3);
  const int batch = 2, M = 4, K = 3, N = 5;
  Vec W = randn(static_cast<std::size_t>(M * K), rng), x = randn(static_cast<std::size_t>(batch * K * N), rng);
  const Vec g = randn(static_cast<std::size_t>(batch * M * N), rng);
  auto f = [&] {
    Vec y(g.size());
    left_linear_fwd(W.data(), x.data(), y.data(), batch, M, K, N);
    return dot(g, y);
  };
  Vec dx(x.size(), 0.0), dW(W.size(), 0.0);
  left_linear_bwd(W.data(), x.data(), g.data(), dx.data(), dW.data(), batch, M, K, N);
  EXPECT_FD_OK(fd_check(x, dx, f, rng));
  EXPECT_FD_OK(fd_check(W, dW, f, rng));
}

TEST(KernelsFd, LayoutBias) {
  std::mt19937 rng(4);
  const int rows = 4, cols = 3;
  const Vec y0 = randn(static_cast<std::size_t>(rows * cols), rng), g = randn(y0.size(), rng);
  Vec bias = randn(static_cast<std::size_t>(cols), rng);
  auto f = [&] {
    Vec y = y0;
    bias_add(y.data(), bias.data(), rows, cols);
    return dot(g, y);
  };
  Vec db(bias.size(), 0.0);
  bias_grad(g.data(), db.data(), rows, cols);
  EXPECT_FD_OK(fd_check(bias, db, f, rng));
}


// ---- RMSNorm over the feature axis -------------------------------------------------------------

// y = v / sqrt(mean(v^2) + eps), v = a + b, over each row; no gain. Forward vs the formula,
// rinv vs the formula; gradient w.r.t. a and w.r.t. b by FD (they must be equal, since y
// depends on a + b only); the plain norm (b = nullptr); dx aliasing dy.
TEST(KernelsFd, AddRmsNorm) {
  std::mt19937 rng(2);
  const int R = 5, C = 7;
  const double eps = 1e-5;
  Vec a = randn(R * C, rng), b = randn(R * C, rng), G = randn(R * C, rng);
  Vec y(R * C), rinv(R);
  add_rmsnorm_fwd<double>(a.data(), b.data(), y.data(), rinv.data(), R, C, eps);

  for (int r = 0; r < R; ++r) {
    double ss = 0;
    for (int c = 0; c < C; ++c) ss += (a[r * C + c] + b[r * C + c]) * (a[r * C + c] + b[r * C + c]);
    const double ri = 1.0 / std::sqrt(ss / C + eps);
    EXPECT_NEAR(rinv[r], ri, kFwdTol * ri);
    for (int c = 0; c < C; ++c) EXPECT_NEAR(y[r * C + c], (a[r * C + c] + b[r * C + c]) * ri, kFwdTol);
  }

  Vec dx(R * C);
  rmsnorm_bwd<double>(y.data(), rinv.data(), G.data(), dx.data(), R, C);
  auto f = [&] {
    Vec yy(R * C), rr(R);
    add_rmsnorm_fwd<double>(a.data(), b.data(), yy.data(), rr.data(), R, C, eps);
    return dot(G, yy);
  };
  EXPECT_FD_OK(fd_check(a, dx, f, rng));
  EXPECT_FD_OK(fd_check(b, dx, f, rng));

  // The header allows dx to alias dy (the model does this in place).
  Vec inplace = G;
  rmsnorm_bwd<double>(y.data(), rinv.data(), inplace.data(), inplace.data(), R, C);
  EXPECT_LT(max_abs_diff(inplace, dx), kFwdTol);
}

TEST(KernelsFd, RmsNormNoResidual) {
  std::mt19937 rng(3);
  const int R = 5, C = 7;
  const double eps = 1e-5;
  Vec a = randn(R * C, rng), G = randn(R * C, rng);
  Vec y(R * C), rinv(R);
  add_rmsnorm_fwd<double>(a.data(), nullptr, y.data(), rinv.data(), R, C, eps);
  for (int r = 0; r < R; ++r) {
    double ss = 0;
    for (int c = 0; c < C; ++c) ss += a[r * C + c] * a[r * C + c];
    for (int c = 0; c < C; ++c) EXPECT_NEAR(y[r * C + c], a[r * C + c] / std::sqrt(ss / C + eps), kFwdTol);
  }
  // y may alias a (in-place norm): same result.
  Vec in_place = a, rinv2(R);
  add_rmsnorm_fwd<double>(in_place.data(), nullptr, in_place.data(), rinv2.data(), R, C, eps);
  EXPECT_LT(max_abs_diff(in_place, y), kFwdTol);

  Vec dx(R * C);
  rmsnorm_bwd<double>(y.data(), rinv.data(), G.data(), dx.data(), R, C);
  auto f = [&] {
    Vec yy(R * C), rr(R);
    add_rmsnorm_fwd<double>(a.data(), nullptr, yy.data(), rr.data(), R, C, eps);
    return dot(G, yy);
  };
  EXPECT_FD_OK(fd_check(a, dx, f, rng));
}

// ---- RMSNorm over the sequence axis (MLP-t) ---------------------------------------------------

// [batch, L, D]: every (b, d) column of L values is normalized (docs/REFERENCE.md §2.4: the norm runs over the
// transposed tensor's last axis = L). The forward is checked against a direct per-column
// formula because normalizing over D instead is the classic mistake, and a backward written for
// the same wrong axis would still pass the FD check.
TEST(KernelsFd, AddRmsNormSeq) {
  std::mt19937 rng(4);
  const int B = 2, L = 5, D = 3;
  const double eps = 1e-5;
  const int n = B * L * D;
  Vec a = randn(n, rng), b = randn(n, rng), G = randn(n, rng);
  Vec y(n), rinv(B * D);
  add_rmsnorm_seq_fwd<double>(a.data(), b.data(), y.data(), rinv.data(), B, L, D, eps);

  for (int bi = 0; bi < B; ++bi)
    for (int d = 0; d < D; ++d) {
      auto at = [&](int l) { return (bi * L + l) * D + d; };
      double ss = 0;
      for (int l = 0; l < L; ++l) ss += (a[at(l)] + b[at(l)]) * (a[at(l)] + b[at(l)]);
      const double ri = 1.0 / std::sqrt(ss / L + eps);
      EXPECT_NEAR(rinv[bi * D + d], ri, kFwdTol * ri) << "b=" << bi << " d=" << d;
      for (int l = 0; l < L; ++l) EXPECT_NEAR(y[at(l)], (a[at(l)] + b[at(l)]) * ri, kFwdTol);
    }

  Vec dx(n);
  rmsnorm_seq_bwd<double>(y.data(), rinv.data(), G.data(), dx.data(), B, L, D);
  auto f = [&] {
    Vec yy(n), rr(B * D);
    add_rmsnorm_seq_fwd<double>(a.data(), b.data(), yy.data(), rr.data(), B, L, D, eps);
    return dot(G, yy);
  };
  EXPECT_FD_OK(fd_check(a, dx, f, rng));
  EXPECT_FD_OK(fd_check(b, dx, f, rng));

  // Plain (b = nullptr) variant, backward in place (dx aliasing dy).
  Vec y0(n), r0(B * D);
  add_rmsnorm_seq_fwd<double>(a.data(), nullptr, y0.data(), r0.data(), B, L, D, eps);
  Vec dx0 = G;
  rmsnorm_seq_bwd<double>(y0.data(), r0.data(), dx0.data(), dx0.data(), B, L, D);
  auto f0 = [&] {
    Vec yy(n), rr(B * D);
    add_rmsnorm_seq_fwd<double>(a.data(), nullptr, yy.data(), rr.data(), B, L, D, eps);
    return dot(G, yy);
  };
  EXPECT_FD_OK(fd_check(a, dx0, f0, rng));
}

// ---- SwiGLU -----------------------------------------------------------------------------------

// act = silu(gate) * up with gate = the FIRST half of each row of gu (docs/REFERENCE.md §2.4, gate-first
// split); gradient w.r.t. every element of gu by FD.
TEST(KernelsFd, SwiGlu) {
  std::mt19937 rng(5);
  const int R = 3, I = 4;
  Vec gu = randn(R * 2 * I, rng, 2.0), G = randn(R * I, rng);
  Vec act(R * I);
  swiglu_fwd<double>(gu.data(), act.data(), R, I);
  for (int r = 0; r < R; ++r)
    for (int i = 0; i < I; ++i) {
      const double g = gu[r * 2 * I + i], u = gu[r * 2 * I + I + i];
      EXPECT_NEAR(act[r * I + i], g / (1.0 + std::exp(-g)) * u, kFwdTol) << "r=" << r << " i=" << i;
    }

  Vec dgu(R * 2 * I);
  swiglu_bwd<double>(gu.data(), G.data(), dgu.data(), R, I);
  auto f = [&] {
    Vec a2(R * I);
    swiglu_fwd<double>(gu.data(), a2.data(), R, I);
    return dot(G, a2);
  };
  EXPECT_FD_OK(fd_check(gu, dgu, f, rng));
}

// ---- RoPE -------------------------------------------------------------------------------------

constexpr int kB = 2, kL = 5, kHeads = 2, kHd = 4;
constexpr int kStride = 3 * kHeads * kHd;
constexpr double kTheta = 10000.0;

// Tables in double straight from the formula: cos/sin of freqs[t, i] = t / theta^(2i/d), as
// cat(freqs, freqs). Here c^2 + s^2 = 1 to ~1e-16, so the rotation is orthogonal to double
// precision.
void exact_rope_tables(Vec& c, Vec& s, int L, int hd, double theta) {
  c.assign(static_cast<std::size_t>(L) * hd, 0.0);
  s.assign(static_cast<std::size_t>(L) * hd, 0.0);
  for (int t = 0; t < L; ++t)
    for (int i = 0; i < hd / 2; ++i) {
      const double ang = t / std::pow(theta, 2.0 * i / hd);
      c[t * hd + i] = c[t * hd + i + hd / 2] = std::cos(ang);
      s[t * hd + i] = s[t * hd + i + hd / 2] = std::sin(ang);
    }
}

Vec rope_of(const Vec& in, const Vec& c, const Vec& s, bool inverse) {
  Vec out = in;
  rope_apply<double>(out.data(), kB, kL, kHeads, kHd, kStride, c.data(), s.data(), inverse);
  return out;
}

// Tables: [L, head_dim] = cat(freqs, freqs), freqs[t, i] = t / theta^(2i/d). rope.cpp computes
// inv_freq, the angle and cos/sin in float whatever T is (as upstream TRM's fp32 buffers), so
// the values are only checked to 1e-6 here; the two halves must be bit-identical.
TEST(KernelsFd, RopeTables) {
  Vec c(kL * kHd), s(kL * kHd), ce, se;
  rope_tables<double>(c.data(), s.data(), kL, kHd, kTheta);
  exact_rope_tables(ce, se, kL, kHd, kTheta);
  EXPECT_LT(max_abs_diff(c, ce), 1e-6);
  EXPECT_LT(max_abs_diff(s, se), 1e-6);
  const int half = kHd / 2;
  for (int t = 0; t < kL; ++t)
    for (int i = 0; i < half; ++i) {
      EXPECT_EQ(c[t * kHd + i], c[t * kHd + i + half]) << "t=" << t << " i=" << i;
      EXPECT_EQ(s[t * kHd + i], s[t * kHd + i + half]) << "t=" << t << " i=" << i;
    }
}

// Forward vs the rotate-half formula q' = q cos + rotate_half(q) sin (same for K), with
// rotate_half(v) = cat(-v[d/2:], v[:d/2]); V heads (last third of each row) untouched;
// inverse = true undoes the forward; and it is the backward: grad of sum(G o rope(x)) =
// rope_apply(G, inverse = true), checked by FD over every element (V included).
TEST(KernelsFd, RopeApply) {
  std::mt19937 rng(6);
  const int n = kB * kL * kStride, half = kHd / 2;
  Vec c(kL * kHd), s(kL * kHd);
  rope_tables<double>(c.data(), s.data(), kL, kHd, kTheta);
  Vec x = randn(n, rng), G = randn(n, rng);
  const Vec y = rope_of(x, c, s, false);

  for (int r = 0; r < kB * kL; ++r) {
    const int t = r % kL;
    for (int h = 0; h < 3 * kHeads; ++h) {
      const double* v = x.data() + r * kStride + h * kHd;
      const double* vy = y.data() + r * kStride + h * kHd;
      for (int i = 0; i < kHd; ++i) {
        if (h >= 2 * kHeads) {  // V head: bit-identical
          EXPECT_EQ(vy[i], v[i]) << "V touched: row " << r << " head " << h << " i " << i;
          continue;
        }
        const double rot = i < half ? -v[i + half] : v[i - half];
        const double ref = v[i] * c[t * kHd + i] + rot * s[t * kHd + i];
        EXPECT_NEAR(vy[i], ref, kFwdTol) << "row " << r << " head " << h << " i " << i;
      }
    }
  }
  // Position 0 has angle 0: the rotation is the identity there (checks the t = r % L indexing
  // restarts for the second sample).
  for (int i = 0; i < 2 * kHeads * kHd; ++i) EXPECT_NEAR(y[kL * kStride + i], x[kL * kStride + i], kFwdTol);

  // Backward = inverse rotation of G. (The transpose is the exact adjoint whatever the tables
  // hold, so this holds to FD precision with the kernel's tables.)
  const Vec grad = rope_of(G, c, s, true);
  auto f = [&] { return dot(G, rope_of(x, c, s, false)); };
  EXPECT_FD_OK(fd_check(x, grad, f, rng));

  // Exact inverse of rope_apply itself, given orthonormal (double) tables.
  Vec ce, se;
  exact_rope_tables(ce, se, kL, kHd, kTheta);
  EXPECT_LT(max_abs_diff(rope_of(rope_of(x, ce, se, false), ce, se, true), x), 1e-12);
}

// The double instantiation end to end: rope_tables<double> + rope_apply, then inverse, gives
// back the input to 1e-12. This guards the fix in rope_tables<T>: it once computed inv_freq, the
// angle and cos/sin in float for T = double too, so c^2 + s^2 = 1 held only to ~8e-8 and the
// round trip was off by ~1.7e-7; it now computes them in double and rounds once per T.
TEST(KernelsFd, RopeDoubleTablesExactInverse) {
  std::mt19937 rng(15);
  Vec c(kL * kHd), s(kL * kHd);
  rope_tables<double>(c.data(), s.data(), kL, kHd, kTheta);
  double unit = 0;
  for (std::size_t i = 0; i < c.size(); ++i) unit = std::max(unit, std::abs(c[i] * c[i] + s[i] * s[i] - 1));
  EXPECT_LT(unit, 1e-12) << "max |cos^2 + sin^2 - 1| of rope_tables<double>";
  const Vec x = randn(kB * kL * kStride, rng);
  EXPECT_LT(max_abs_diff(rope_of(rope_of(x, c, s, false), c, s, true), x), 1e-12);
}

// ---- attention --------------------------------------------------------------------------------

struct AttnOut {
  Vec out, lse;
};

AttnOut attn_kernel(const Vec& qkv, int B, int L, int H, int hd) {
  Vec scratch(static_cast<std::size_t>(attention_scratch_size(L)) * omp_get_max_threads());
  AttnOut r{Vec(static_cast<std::size_t>(B) * L * H * hd), Vec(static_cast<std::size_t>(B) * H * L)};
  attention_fwd<double>(qkv.data(), r.out.data(), r.lse.data(), B, L, H, hd, scratch.data());
  return r;
}

// Naive softmax(Q K^T / sqrt(d)) V per (batch, head), no mask; lse = log sum_j exp(S_ij).
AttnOut attn_naive(const Vec& qkv, int B, int L, int H, int hd) {
  const int D = H * hd, ld = 3 * D;
  AttnOut r{Vec(static_cast<std::size_t>(B) * L * D, 0.0), Vec(static_cast<std::size_t>(B) * H * L)};
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < L; ++i) {
        const double* q = qkv.data() + (b * L + i) * ld + h * hd;
        Vec sc(L);
        for (int j = 0; j < L; ++j) {
          const double* k = qkv.data() + (b * L + j) * ld + D + h * hd;
          double acc = 0;
          for (int e = 0; e < hd; ++e) acc += q[e] * k[e];
          sc[j] = acc / std::sqrt(static_cast<double>(hd));
        }
        double sum = 0;
        for (int j = 0; j < L; ++j) sum += std::exp(sc[j]);
        r.lse[(b * H + h) * L + i] = std::log(sum);
        for (int j = 0; j < L; ++j) {
          const double p = std::exp(sc[j]) / sum;
          const double* v = qkv.data() + (b * L + j) * ld + 2 * D + h * hd;
          for (int e = 0; e < hd; ++e) r.out[(b * L + i) * D + h * hd + e] += p * v[e];
        }
      }
  return r;
}

// A random attention problem: qkv [B, L, 3*H*hd], the output's upstream gradient G, and the
// backward's dqkv.
struct AttnCase {
  int B, L, H, hd;
  Vec qkv, G, dqkv;
  // The scalar whose gradient w.r.t. qkv the backward computes: <G, attention(qkv)>.
  double objective() const { return dot(G, attn_kernel(qkv, B, L, H, hd).out); }
};

// Draws a case from rng (qkv, then G) and checks it: forward (out and lse) vs the naive formula;
// backward (dQ, dK, dV in one dqkv) writes every element and matches FD. Run it under
// ASSERT_NO_FATAL_FAILURE: an unwritten element stops the test.
void check_attention(AttnCase& c, std::mt19937& rng) {
  const int D = c.H * c.hd, n = c.B * c.L * 3 * D;
  c.qkv = randn(n, rng);
  c.G = randn(c.B * c.L * D, rng);
  const AttnOut k = attn_kernel(c.qkv, c.B, c.L, c.H, c.hd);
  const AttnOut ref = attn_naive(c.qkv, c.B, c.L, c.H, c.hd);
  EXPECT_LT(max_abs_diff(k.out, ref.out), kFwdTol);
  EXPECT_LT(max_abs_diff(k.lse, ref.lse), kFwdTol);

  Vec scratch(static_cast<std::size_t>(attention_scratch_size(c.L)) * omp_get_max_threads());
  c.dqkv.assign(n, std::numeric_limits<double>::quiet_NaN());  // must be fully overwritten
  attention_bwd<double>(c.qkv.data(), k.out.data(), k.lse.data(), c.G.data(), c.dqkv.data(), c.B, c.L, c.H, c.hd,
                        scratch.data());
  for (int i = 0; i < n; ++i) ASSERT_TRUE(std::isfinite(c.dqkv[i])) << "dqkv[" << i << "] not written";
  EXPECT_FD_OK(fd_check(c.qkv, c.dqkv, [&] { return c.objective(); }, rng));
}

// Forward and backward (check_attention) at the shared small sizes, FD over every element of qkv.
TEST(KernelsFd, Attention) {
  std::mt19937 rng(7);
  AttnCase c{kB, kL, kHeads, kHd, {}, {}, {}};
  ASSERT_NO_FATAL_FAILURE(check_attention(c, rng));
}

// Non-causal (docs/REFERENCE.md §2.4: no mask): the LAST position's key reaches the FIRST position's output,
// in every head; and batches do not mix.
TEST(KernelsFd, AttentionIsNonCausal) {
  std::mt19937 rng(8);
  const int D = kHeads * kHd, ld = 3 * D;
  Vec qkv = randn(kB * kL * ld, rng);
  const Vec base = attn_kernel(qkv, kB, kL, kHeads, kHd).out;
  for (int e = 0; e < D; ++e) qkv[(kL - 1) * ld + D + e] += 0.5;  // K of batch 0, position L-1
  const Vec moved = attn_kernel(qkv, kB, kL, kHeads, kHd).out;
  for (int h = 0; h < kHeads; ++h) {
    double change = 0;
    for (int e = 0; e < kHd; ++e) change += std::abs(moved[h * kHd + e] - base[h * kHd + e]);
    EXPECT_GT(change, 1e-6) << "position 0 of head " << h << " ignores the last key";
  }
  for (int i = kL * D; i < kB * kL * D; ++i) EXPECT_EQ(moved[i], base[i]) << "batch 1 changed";
}

// A sequence longer than the query tile (kAttnQueryBlock rows), ending in a partial tile: the
// forward matches the naive formula, and the backward (dK, dV summed over tiles) matches finite
// differences.
TEST(KernelsFd, AttentionSeveralQueryTiles) {
  std::mt19937 rng(9);
  const int L = 2 * kAttnQueryBlock + 22, H = 2, hd = 4, D = H * hd;
  AttnCase c{1, L, H, hd, {}, {}, {}};
  ASSERT_NO_FATAL_FAILURE(check_attention(c, rng));
  Vec &qkv = c.qkv, &dqkv = c.dqkv;
  auto f = [&] { return c.objective(); };
  // Elements of K and V of the last (partial) tile's positions specifically.
  for (int pos : {L - 1, kAttnQueryBlock, 0}) {
    for (int part = 1; part < 3; ++part) {
      const std::size_t i = static_cast<std::size_t>(pos) * 3 * D + part * D + 1;
      const double x0 = qkv[i];
      qkv[i] = x0 + 1e-5;
      const double fp = f();
      qkv[i] = x0 - 1e-5;
      const double fm = f();
      qkv[i] = x0;
      EXPECT_NEAR(dqkv[i], (fp - fm) / 2e-5, 1e-6) << "position " << pos << " part " << part;
    }
  }
}

// Float attention (fast exp) agrees with the double one to float precision.
TEST(KernelsFd, AttentionFloatMatchesDouble) {
  std::mt19937 rng(10);
  const int B = 2, L = kAttnQueryBlock + 9, H = 2, hd = 8, D = H * hd, n = B * L * 3 * D;
  const Vec qkv = randn(n, rng);
  const AttnOut d = attn_kernel(qkv, B, L, H, hd);
  std::vector<float> qf(qkv.begin(), qkv.end()), of(static_cast<std::size_t>(B) * L * D), lf(static_cast<std::size_t>(B) * H * L);
  std::vector<float> scratch(static_cast<std::size_t>(attention_scratch_size(L)) * omp_get_max_threads());
  attention_fwd<float>(qf.data(), of.data(), lf.data(), B, L, H, hd, scratch.data());
  double worst = 0;
  for (std::size_t i = 0; i < of.size(); ++i) worst = std::max(worst, std::abs(of[i] - d.out[i]));
  EXPECT_LT(worst, 1e-5);
}

// The vectorizable float exp used by SwiGLU and the softmax.
TEST(KernelsFd, FastExpIsAccurate) {
  double worst = 0;
  for (float x = -87.0f; x < 88.0f; x += 0.00731f) {
    const double e = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(fast_exp(x) - e) / e);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(fast_exp(0.0f), 1.0f);
  EXPECT_LT(fast_exp(-1000.0f), 1e-37f);  // clamped: tiny, never NaN or negative
  EXPECT_GT(fast_exp(-1000.0f), 0.0f);
  EXPECT_TRUE(std::isfinite(fast_exp(1000.0f)));
}

// ---- embedding --------------------------------------------------------------------------------

// Shapes: batch 2, S 3, P 2, D 4, ndim 6 > D, so the puzzle row fills prefix position 0 and
// spills into the first 2 values of position 1; the rest of the prefix is zero. Tokens repeat
// (within and across samples) so the backward's scatter-add must accumulate.
struct EmbedCase {
  static constexpr int B = 2, S = 3, P = 2, D = 4, ndim = 6, V = 5, L = S + P;
  I32 tokens{1, 3, 1, 3, 3, 0};  // tokens 2 and 4 unused: their gradient rows must stay 0
  double scale = 2.0;            // sqrt(D)
  double pos_scale = 0.707106781;
};

Vec embed_direct(const EmbedCase& ec, const Vec& tok, const Vec& puz, const Vec* pos) {
  const int B = ec.B, S = ec.S, P = ec.P, D = ec.D, L = ec.L;
  Vec x(static_cast<std::size_t>(B) * L * D, 0.0);
  for (int b = 0; b < B; ++b) {
    double* xb = x.data() + b * L * D;
    for (int i = 0; i < ec.ndim; ++i) xb[i] = puz[b * ec.ndim + i];  // [P, D] view of padded row
    for (int s = 0; s < S; ++s)
      for (int d = 0; d < D; ++d) xb[(P + s) * D + d] = tok[ec.tokens[b * S + s] * D + d];
    for (int i = 0; i < L * D; ++i)
      xb[i] = pos ? ec.scale * ec.pos_scale * (xb[i] + (*pos)[i]) : ec.scale * xb[i];
  }
  return x;
}

void embed_case(bool learned_pos) {
  using E = EmbedCase;
  const E ec{};
  std::mt19937 rng(learned_pos ? 10 : 9);
  Vec tok = randn(E::V * E::D, rng), puz = randn(E::B * E::ndim, rng), pos = randn(E::L * E::D, rng);
  Vec G = randn(E::B * E::L * E::D, rng);
  const double ps = learned_pos ? ec.pos_scale : 1.0;
  auto fwd = [&] {
    Vec x(E::B * E::L * E::D);
    embed_fwd<double>(ec.tokens.data(), tok.data(), puz.data(), learned_pos ? pos.data() : nullptr,
                      x.data(), E::B, E::S, E::P, E::D, E::ndim, ec.scale, ps);
    return x;
  };

  // Layout: prefix rows, token rows, the sqrt(D) scale (and pos_scale * (x + pos)).
  const Vec x = fwd();
  EXPECT_LT(max_abs_diff(x, embed_direct(ec, tok, puz, learned_pos ? &pos : nullptr)), kFwdTol);
  if (!learned_pos) {
    for (int b = 0; b < E::B; ++b) {
      const double* xb = x.data() + b * E::L * E::D;
      EXPECT_EQ(xb[E::D + 2], 0.0);  // prefix position 1 beyond the spilled puzzle values
      EXPECT_EQ(xb[E::D + 3], 0.0);
      EXPECT_DOUBLE_EQ(xb[E::D + 1], ec.scale * puz[b * E::ndim + 5]);  // spilled value
    }
  }

  // Backward: dtok and dpos accumulate onto their previous contents, dpuz is overwritten.
  const Vec dtok0 = randn(E::V * E::D, rng), dpos0 = randn(E::L * E::D, rng);
  Vec dtok = dtok0, dpos = dpos0, dpuz(E::B * E::ndim, std::numeric_limits<double>::quiet_NaN());
  embed_bwd<double>(ec.tokens.data(), G.data(), dtok.data(), dpuz.data(),
                    learned_pos ? dpos.data() : nullptr, E::B, E::S, E::P, E::D, E::ndim, ec.scale, ps);
  for (std::size_t i = 0; i < dtok.size(); ++i) dtok[i] -= dtok0[i];
  for (std::size_t i = 0; i < dpos.size(); ++i) dpos[i] -= dpos0[i];

  auto f = [&] { return dot(G, fwd()); };
  EXPECT_FD_OK(fd_check(tok, dtok, f, rng));
  EXPECT_FD_OK(fd_check(puz, dpuz, f, rng));
  if (learned_pos) {
    EXPECT_FD_OK(fd_check(pos, dpos, f, rng));
  } else {
    EXPECT_EQ(max_abs_diff(dpos, Vec(dpos.size(), 0.0)), 0.0);  // untouched
  }
}

TEST(KernelsFd, EmbedNoPos) { embed_case(false); }
TEST(KernelsFd, EmbedLearnedPos) { embed_case(true); }

// ndim = 0 with puz = nullptr (allowed by the header): the whole prefix is zero.
TEST(KernelsFd, EmbedNoPuzzle) {
  const int B = 1, S = 2, P = 2, D = 3, L = S + P;
  const I32 tokens{0, 1};
  const Vec tok{1, 2, 3, 4, 5, 6};
  Vec x(B * L * D, -1.0);
  embed_fwd<double>(tokens.data(), tok.data(), nullptr, nullptr, x.data(), B, S, P, D, 0, 2.0, 1.0);
  const Vec want{0, 0, 0, 0, 0, 0, 2, 4, 6, 8, 10, 12};
  EXPECT_LT(max_abs_diff(x, want), kFwdTol);
}

// ---- stablemax cross-entropy ------------------------------------------------------------------

double stablemax_s_ref(double x) { return x >= 0 ? x + 1.0 : 1.0 / (1.0 - x); }

// Loss vs the direct formula CE = -log(s(x_y) / sum_v s(x_v)) summed over unmasked positions;
// labels -100 ignored and label 0 a valid class; logits that are 0 exactly, negative and large
// negative (-30, -1e4); gradient of sum_b w[b] ce[b] by FD; correct / valid counts; a fully masked
// sequence gives 0 loss and 0 counts.
TEST(KernelsFd, StablemaxCe) {
  std::mt19937 rng(11);
  const int B = 3, S = 4, V = 5;
  Vec logits = randn(B * S * V, rng, 2.0);
  const I32 labels{0, -100, 3, 2,        // b0: label 0 valid, one ignored
                   -100, 4, 0, 1,        // b1
                   -100, -100, -100, -100};  // b2: fully masked
  // Special values: exact zeros (the x >= 0 branch at the kink), -30 and -1e4 (the 1/(1-x)
  // branch far out), a label sitting on a large negative logit.
  logits[0 * V + 0] = 0.0;    // b0 t0: label 0 has logit exactly 0
  logits[0 * V + 1] = -30.0;
  logits[2 * V + 3] = 7.0;    // b0 t2: label 3 is the argmax (counts as correct)
  logits[3 * V + 4] = 0.0;
  logits[3 * V + 2] = -30.0;  // b0 t3: label 2 far negative
  logits[5 * V + 1] = -1e4;
  logits[6 * V + 0] = 9.0;    // b1 t2: label 0 is the argmax
  logits[7 * V + 3] = -30.0;
  const Vec w{0.5, 0.3, 0.7};

  Vec ce(B), dlogits(B * S * V, std::numeric_limits<double>::quiet_NaN());
  I32 correct(B, -1), valid(B, -1);
  stablemax_ce<double>(logits.data(), labels.data(), B, S, V, ce.data(), w.data(), dlogits.data(),
                       correct.data(), valid.data());

  for (int b = 0; b < B; ++b) {
    double loss = 0;
    int n_ok = 0, n_valid = 0;
    for (int t = 0; t < S; ++t) {
      const int y = labels[b * S + t];
      if (y == -100) continue;
      const double* x = logits.data() + (b * S + t) * V;
      double sum = 0;
      for (int v = 0; v < V; ++v) sum += stablemax_s_ref(x[v]);
      loss += -std::log(stablemax_s_ref(x[y]) / sum);
      ++n_valid;
      n_ok += (std::max_element(x, x + V) - x) == y;
    }
    EXPECT_NEAR(ce[b], loss, kFwdTol * std::max(1.0, loss)) << "b=" << b;
    EXPECT_EQ(valid[b], n_valid) << "b=" << b;
    EXPECT_EQ(correct[b], n_ok) << "b=" << b;
  }
  EXPECT_EQ(valid[0], 3);
  EXPECT_EQ(valid[2], 0);
  EXPECT_EQ(ce[2], 0.0);
  EXPECT_GE(correct[0], 1);
  EXPECT_GE(correct[1], 1);

  // Without dlogits the loss is the same.
  Vec ce2(B);
  stablemax_ce<double>(logits.data(), labels.data(), B, S, V, ce2.data(), nullptr, nullptr, nullptr,
                       nullptr);
  EXPECT_LT(max_abs_diff(ce, ce2), 1e-15);

  auto f = [&] {
    Vec c(B);
    stablemax_ce<double>(logits.data(), labels.data(), B, S, V, c.data(), nullptr, nullptr, nullptr,
                         nullptr);
    return dot(w, c);
  };
  EXPECT_FD_OK(fd_check(logits, dlogits, f, rng));
}

// The float path computes in double too: its loss equals the double loss of the float-rounded
// logits, even with a -30 logit where 1/(1-x) in float would lose digits.
TEST(KernelsFd, StablemaxCeFloatComputesInDouble) {
  const std::vector<float> lf{-30.0f, 0.0f, 1.5f, -0.25f};
  const Vec ld(lf.begin(), lf.end());
  const I32 labels{0};
  double cf = 0, cd = 0;
  stablemax_ce<float>(lf.data(), labels.data(), 1, 1, 4, &cf, nullptr, nullptr, nullptr, nullptr);
  stablemax_ce<double>(ld.data(), labels.data(), 1, 1, 4, &cd, nullptr, nullptr, nullptr, nullptr);
  EXPECT_NEAR(cf, cd, 1e-14 * cd);
}

// ---- BCE with logits --------------------------------------------------------------------------

// Value vs y log(1 + e^-x) + (1 - y) log(1 + e^x), finite at |x| = 40 and 1000 (the naive
// formula overflows at 1000); dq = coeff (sigmoid(x) - y) by FD; the strided q layout
// (q_stride = 2, as q_halt sits in a [B, 2] head output) leaves the other column untouched.
TEST(KernelsFd, BceWithLogits) {
  std::mt19937 rng(12);
  const Vec xs{-40.0, -3.0, -0.5, 0.0, 0.7, 5.0, 40.0, -1000.0, 1000.0};
  const Vec tg{0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0};
  const int n = static_cast<int>(xs.size()), stride = 2;
  Vec q(n * stride);
  for (int i = 0; i < n; ++i) {
    q[i * stride] = xs[i];
    q[i * stride + 1] = 123.0;  // the other column
  }
  const double coeff = 0.37;
  Vec dq(n * stride, -7.0);
  const double total = bce_with_logits<double>(q.data(), stride, tg.data(), n, dq.data(), coeff);
  ASSERT_TRUE(std::isfinite(total));

  double want = 0;
  for (int i = 0; i < n; ++i) {
    const double x = xs[i], y = tg[i];
    // log(1 + e^t) = max(t, 0) + log1p(e^-|t|) where e^t would overflow.
    auto softplus = [](double t) { return std::abs(t) < 500 ? std::log(1 + std::exp(t)) : std::max(t, 0.0); };
    want += y * softplus(-x) + (1 - y) * softplus(x);
    EXPECT_EQ(dq[i * stride + 1], -7.0) << "strided write hit the other column";
    EXPECT_NEAR(dq[i * stride], coeff * (1 / (1 + std::exp(-x)) - y), kFwdTol);
  }
  EXPECT_NEAR(total, want, kFwdTol * std::max(1.0, want));
  EXPECT_NEAR(total, 2000.0, 20.0);  // sanity: the two |x| = 1000 mistakes cost 1000 each

  // FD over every element of q (the other column must get gradient 0, which dq leaves alone).
  Vec grad(n * stride, 0.0);
  for (int i = 0; i < n; ++i) grad[i * stride] = dq[i * stride];
  Vec qq = q;
  auto f = [&] { return coeff * bce_with_logits<double>(qq.data(), stride, tg.data(), n, nullptr, 1.0); };
  const FdResult r = fd_check(qq, grad, f, rng);
  EXPECT_FD_OK(r);
}

// ---- optimizers (float state) -----------------------------------------------------------------

// Scalar double re-computation of one AdamATan2 step (docs/REFERENCE.md §5.1).
void adam_ref(double& th, double g, double& m, double& v, double lr, double wd, double b1, double b2,
              int t) {
  th *= (1 - lr * wd);
  m = b1 * m + (1 - b1) * g;
  v = b2 * v + (1 - b2) * g * g;
  th -= lr / (1 - std::pow(b1, t)) * std::atan2(m, std::sqrt(v) / std::sqrt(1 - std::pow(b2, t)));
}

// Relative tolerance 1e-5 for float results against double: the floor 0.1 in the denominator
// keeps values that cancel to near 0 from turning float rounding (~1e-7 absolute) into a failure.
void expect_rel(double got, double want, const char* what, int i) {
  EXPECT_LE(std::abs(got - want), 1e-5 * std::max(std::abs(want), 0.1)) << what << "[" << i << "]";
}

// One and two steps against the scalar formula (lr large enough that the atan2 term moves theta
// visibly; step 2 exercises the bias corrections with t = 2 and the stored m, v).
TEST(KernelsFd, AdamAtan2) {
  std::mt19937 rng(13);
  const int n = 16;
  const float lr = 0.05f, wd = 0.7f, b1 = 0.9f, b2 = 0.95f;
  Vec th0 = randn(n, rng), g1 = randn(n, rng), g2 = randn(n, rng, 3.0);
  g1[3] = 0.0;  // zero gradient on the first step: atan2(0, 0) must give 0
  std::vector<float> th(th0.begin(), th0.end()), m(n, 0.0f), v(n, 0.0f);
  std::vector<float> gf1(g1.begin(), g1.end()), gf2(g2.begin(), g2.end());
  Vec rth = th0, rm(n, 0.0), rv(n, 0.0);
  for (int i = 0; i < n; ++i) rth[i] = th[i];  // start from the same (float-rounded) values

  // Step t of the kernel and of the scalar formula, each from its own state: theta, m and v agree.
  auto step = [&](const std::vector<float>& g, int t) {
    adam_atan2_update(th.data(), g.data(), m.data(), v.data(), n, lr, wd, b1, b2, static_cast<float>(t));
    const std::string tag = " step" + std::to_string(t);
    for (int i = 0; i < n; ++i) {
      adam_ref(rth[i], g[i], rm[i], rv[i], lr, wd, b1, b2, t);
      expect_rel(th[i], rth[i], ("theta" + tag).c_str(), i);
      expect_rel(m[i], rm[i], ("m" + tag).c_str(), i);
      expect_rel(v[i], rv[i], ("v" + tag).c_str(), i);
    }
  };
  step(gf1, 1);
  EXPECT_FLOAT_EQ(th[3], static_cast<float>(th0[3]) * (1.0f - lr * wd));  // pure decay
  step(gf2, 2);
}

// g = m = v = 0 (a parameter that never had a gradient): only the decay, no NaN, m and v stay 0.
TEST(KernelsFd, AdamAtan2ZeroGradIsPureDecay) {
  std::vector<float> th{1.0f, -2.0f, 0.5f}, g(3, 0.0f), m(3, 0.0f), v(3, 0.0f);
  const float lr = 0.01f, wd = 0.1f;
  adam_atan2_update(th.data(), g.data(), m.data(), v.data(), 3, lr, wd, 0.9f, 0.95f, 5.0f);
  const std::vector<float> th0{1.0f, -2.0f, 0.5f};
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(std::isnan(th[i]));
    EXPECT_FLOAT_EQ(th[i], th0[i] * (1.0f - lr * wd));
    EXPECT_EQ(m[i], 0.0f);
    EXPECT_EQ(v[i], 0.0f);
  }
}

// ids {2, 0, 2}: row 2 moves once by the sign of the SUMMED gradient (a column whose rows have
// opposite signs but a positive sum, and a column that sums to exactly 0 = decay only), decayed
// once; row 0 likewise (with a 0 gradient entry); rows 1 and 3 are bit-identical.
TEST(KernelsFd, SparseSignSgd) {
  const int width = 3;
  std::vector<float> table{1.0f, 2.0f, 3.0f,     //
                           4.0f, 5.0f, 6.0f,     //
                           -1.0f, -2.0f, -3.0f,  //
                           7.0f, 8.0f, 9.0f};
  const std::vector<float> before = table;
  const I32 ids{2, 0, 2};
  const std::vector<float> grad{-0.25f, 0.5f, 2.0f,   // id 2
                                0.0f, -1.0f, 3.0f,    // id 0
                                0.75f, -0.5f, 1.0f};  // id 2 again
  const float lr = 0.1f, wd = 0.5f;
  sparse_signsgd(table.data(), ids.data(), grad.data(), 3, width, lr, wd);

  const double decay = 1.0 - 0.1 * 0.5;
  // Row 2: sums (0.5, 0, 3) -> signs (+1, 0, +1). Row 0: (0, -1, 3) -> (0, -1, +1).
  const double want2[3] = {-1.0 * decay - 0.1, -2.0 * decay, -3.0 * decay - 0.1};
  const double want0[3] = {1.0 * decay, 2.0 * decay + 0.1, 3.0 * decay - 0.1};
  for (int c = 0; c < width; ++c) {
    EXPECT_NEAR(table[2 * width + c], want2[c], 1e-6) << "row 2 col " << c;
    EXPECT_NEAR(table[0 * width + c], want0[c], 1e-6) << "row 0 col " << c;
  }
  for (int r : {1, 3})
    for (int c = 0; c < width; ++c) EXPECT_EQ(table[r * width + c], before[r * width + c]) << "row " << r;
}

// e = rate e + (1 - rate) theta, for the training rate 0.999 and a rate that makes errors visible.
TEST(KernelsFd, EmaUpdate) {
  std::mt19937 rng(14);
  const int n = 10;
  const Vec e0 = randn(n, rng), t0 = randn(n, rng);
  for (float rate : {0.999f, 0.5f, 0.0f}) {
    std::vector<float> e(e0.begin(), e0.end()), th(t0.begin(), t0.end());
    ema_update(e.data(), th.data(), n, rate);
    for (int i = 0; i < n; ++i) {
      const double want = static_cast<double>(rate) * static_cast<float>(e0[i]) +
                          (1.0 - static_cast<double>(rate)) * static_cast<float>(t0[i]);
      EXPECT_NEAR(e[i], want, 1e-6 * std::max(1.0, std::abs(want))) << "rate " << rate << " i " << i;
    }
  }
}

}  // namespace
}  // namespace trm::kernels
