// Every Backend operation, on every backend trm knows, against the double-precision kernels (or,
// for the float-only optimizer updates, a double re-statement of their formula), at several shapes
// including odd sizes and batch 1. A backend this build or machine cannot run is reported as
// SKIPPED with its reason — never passed without running.
//
// Inputs are drawn in double, rounded to float once, and both sides read the same rounded values,
// so the comparison measures only the backend's float arithmetic.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "model/host_math.h"
#include "trm/backend/backend.h"

namespace trm {
namespace {

namespace k = kernels;
using Vec = std::vector<double>;
using I32 = std::vector<std::int32_t>;

// Rounds every value to float (both sides then see identical inputs).
Vec random_vec(std::size_t n, std::mt19937& rng, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  Vec v(n);
  for (auto& x : v) x = static_cast<double>(static_cast<float>(d(rng)));
  return v;
}

// A backend buffer holding a copy of host values, read back as doubles.
class Dev {
 public:
  Dev(Backend& be, const Vec& v) : be_(be), buf_(be, std::max<std::int64_t>(1, static_cast<std::int64_t>(v.size()))), n_(v.size()) {
    std::vector<float> f(v.begin(), v.end());
    if (!f.empty()) be_.from_host(f.data(), buf_.data(), static_cast<std::int64_t>(f.size()));
  }
  Dev(Backend& be, std::size_t n) : Dev(be, Vec(n, 0.0)) {}
  float* p() { return buf_.data(); }
  Vec host() const {
    std::vector<float> f(n_);
    if (n_) be_.to_host(buf_.data(), f.data(), static_cast<std::int64_t>(n_));
    return Vec(f.begin(), f.end());
  }

 private:
  Backend& be_;
  DeviceBuffer buf_;
  std::size_t n_;
};

// |got - want| <= tol * (1 + max|want|), element-wise, with the first failure reported.
void expect_near_vec(const std::string& what, const Vec& got, const Vec& want, double tol) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1.0;
  for (double w : want) scale = std::max(scale, std::abs(w));
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!(std::abs(got[i] - want[i]) <= tol * scale)) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << want[i] << " (tolerance "
                    << tol * scale << ")";
      return;
    }
  }
}

constexpr double kTol = 2e-5;  // float arithmetic against double, on unit-scale values

class BackendOps : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    be_ = make_backend(GetParam());
  }
  Backend& be() { return *be_; }
  std::mt19937 rng_{1234};
  std::unique_ptr<Backend> be_;
};

// The backends this machine can run: a backend that is not (cuda without a GPU) gets no
// instances rather than skipped ones. That a GPU machine does load cuda is checked by
// Registry.CudaLoadsWhereThereIsAGpu below.
std::vector<std::string> every_backend_name() {
  std::vector<std::string> names;
  for (const BackendInfo& info : known_backends())
    if (info.available) names.push_back(info.name);
  return names;
}

// ---- memory -------------------------------------------------------------------------------------

TEST_P(BackendOps, MemoryAllocCopyFill) {
  for (std::int64_t n : {1, 7, 1000}) {
    DeviceBuffer a(be(), n);
    std::vector<float> h(static_cast<std::size_t>(n), -1.0f);
    be().to_host(a.data(), h.data(), n);
    for (float x : h) ASSERT_EQ(x, 0.0f) << "alloc must zero-initialize (n = " << n << ")";
    const Vec v = random_vec(static_cast<std::size_t>(n), rng_);
    Dev src(be(), v), dst(be(), static_cast<std::size_t>(n));
    be().copy(src.p(), dst.p(), n);
    expect_near_vec("copy", dst.host(), v, 0.0);
    be().fill(dst.p(), 2.5f, n);
    expect_near_vec("fill", dst.host(), Vec(static_cast<std::size_t>(n), 2.5), 0.0);
  }
}

// NaN and both infinities count, at the start, the end and across the parallel threshold of the
// CPU kernel (65536); the largest finite float, the smallest denormal and -0 do not.
TEST_P(BackendOps, CountNonfinite) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (std::int64_t n : {1, 7, 1000, 70000}) {
    std::mt19937 rng(static_cast<unsigned>(n));
    std::vector<float> h(static_cast<std::size_t>(n));
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (auto& x : h) x = d(rng);
    DeviceBuffer a(be(), n);
    be().from_host(h.data(), a.data(), n);
    EXPECT_EQ(be().count_nonfinite(a.data(), n), 0) << "n = " << n;
    h[0] = std::numeric_limits<float>::max();
    if (n > 1) h[1] = std::numeric_limits<float>::denorm_min();
    if (n > 2) h[2] = -0.0f;
    be().from_host(h.data(), a.data(), n);
    EXPECT_EQ(be().count_nonfinite(a.data(), n), 0) << "n = " << n;
    const float bad[3] = {nan, inf, -inf};
    for (std::size_t i = 0; i < h.size(); i += std::max<std::size_t>(1, h.size() / 5)) h[i] = bad[i % 3];
    h.back() = nan;
    std::int64_t want = 0;
    for (float x : h) want += !std::isfinite(x);
    be().from_host(h.data(), a.data(), n);
    EXPECT_EQ(be().count_nonfinite(a.data(), n), want) << "n = " << n;
    EXPECT_EQ(be().count_nonfinite(a.data(), 0), 0) << "an empty range";
  }
}

TEST_P(BackendOps, BroadcastRowsMaskedAndUnmasked) {
  struct Shape { int groups; std::int64_t rows; int width; };
  for (const Shape s : {Shape{1, 1, 1}, Shape{3, 5, 7}, Shape{4, 97, 16}}) {
    const std::size_t n = static_cast<std::size_t>(s.groups * s.rows * s.width);
    const Vec row = random_vec(static_cast<std::size_t>(s.width), rng_), start = random_vec(n, rng_);
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(s.groups));
    for (int g = 0; g < s.groups; ++g) mask[static_cast<std::size_t>(g)] = g % 2 == 0;
    for (const bool masked : {false, true}) {
      Dev r(be(), row), dst(be(), start);
      be().broadcast_rows(r.p(), dst.p(), masked ? mask.data() : nullptr, s.groups, s.rows, s.width);
      Vec want = start;
      k::broadcast_rows(row.data(), want.data(), masked ? mask.data() : nullptr, s.groups, s.rows, s.width);
      expect_near_vec(masked ? "broadcast_rows masked" : "broadcast_rows", dst.host(), want, 0.0);
    }
  }
}

// ---- dense algebra --------------------------------------------------------------------------------

struct LinShape { int rows, in, out, pad; };  // pad: extra columns in the strided views
const LinShape kLinShapes[] = {{1, 1, 1, 0}, {1, 7, 5, 3}, {3, 17, 33, 0}, {13, 64, 40, 5}};

TEST_P(BackendOps, LinearForwardBackwardStrided) {
  for (const LinShape s : kLinShapes) {
    const int ldx = s.in + s.pad, ldy = s.out + s.pad;
    const Vec x = random_vec(static_cast<std::size_t>(s.rows * ldx), rng_), W = random_vec(static_cast<std::size_t>(s.out * s.in), rng_);
    const Vec y0 = random_vec(static_cast<std::size_t>(s.rows * ldy), rng_);  // columns past `out` must survive
    Dev dx_(be(), x), dW_(be(), W), dy_out(be(), y0);
    be().linear_fwd(dx_.p(), ldx, dW_.p(), dy_out.p(), ldy, s.rows, s.in, s.out);
    Vec y = y0;
    k::linear_fwd(x.data(), ldx, W.data(), y.data(), ldy, s.rows, s.in, s.out);
    expect_near_vec("linear_fwd", dy_out.host(), y, kTol);

    const Vec dy = random_vec(static_cast<std::size_t>(s.rows * ldy), rng_);
    const Vec dx0 = random_vec(static_cast<std::size_t>(s.rows * ldx), rng_), dW0 = random_vec(W.size(), rng_);
    for (const bool acc : {false, true}) {
      Dev ddy(be(), dy), ddx(be(), dx0), ddW(be(), dW0);
      be().linear_bwd(dx_.p(), ldx, dW_.p(), ddy.p(), ldy, ddx.p(), ldx, ddW.p(), s.rows, s.in, s.out, acc);
      Vec gx = dx0, gW = dW0;
      k::linear_bwd(x.data(), ldx, W.data(), dy.data(), ldy, gx.data(), ldx, gW.data(), s.rows, s.in, s.out, acc);
      expect_near_vec(acc ? "linear_bwd dx (accumulate)" : "linear_bwd dx", ddx.host(), gx, kTol);
      expect_near_vec("linear_bwd dW", ddW.host(), gW, kTol);
    }
    // Either output may be null.
    Dev ddy(be(), dy), ddW(be(), dW0);
    be().linear_bwd(dx_.p(), ldx, dW_.p(), ddy.p(), ldy, nullptr, ldx, ddW.p(), s.rows, s.in, s.out, false);
    Vec gW = dW0;
    k::linear_bwd(x.data(), ldx, W.data(), dy.data(), ldy, static_cast<double*>(nullptr), ldx, gW.data(), s.rows, s.in, s.out, false);
    expect_near_vec("linear_bwd dW only", ddW.host(), gW, kTol);
  }
}

TEST_P(BackendOps, LinearBatchedSkipsPrefixRows) {
  // The logits head's layout: per sample L rows of width D, of which the last S are read.
  struct Shape { int batch, L, S, D, V; };
  for (const Shape s : {Shape{1, 1, 1, 1, 1}, Shape{1, 5, 4, 6, 3}, Shape{3, 9, 7, 8, 11}}) {
    const std::int64_t xs = static_cast<std::int64_t>(s.L) * s.D, ys = static_cast<std::int64_t>(s.S) * s.V;
    const int P = s.L - s.S;
    const Vec z = random_vec(static_cast<std::size_t>(s.batch * xs), rng_), W = random_vec(static_cast<std::size_t>(s.V * s.D), rng_);
    Dev dz(be(), z), dW(be(), W), dy(be(), static_cast<std::size_t>(s.batch * ys));
    be().linear_fwd_batched(dz.p() + P * s.D, s.D, xs, dW.p(), dy.p(), s.V, ys, s.batch, s.S, s.D, s.V);
    Vec y(static_cast<std::size_t>(s.batch * ys));
    k::linear_fwd_batched(z.data() + P * s.D, s.D, xs, W.data(), y.data(), s.V, ys, s.batch, s.S, s.D, s.V);
    expect_near_vec("linear_fwd_batched", dy.host(), y, kTol);

    const Vec g = random_vec(y.size(), rng_), dz0 = random_vec(z.size(), rng_), dW0 = random_vec(W.size(), rng_);
    Dev dg(be(), g), ddz(be(), dz0), ddW(be(), dW0);
    be().linear_bwd_batched(dz.p() + P * s.D, s.D, xs, dW.p(), dg.p(), s.V, ys, ddz.p() + P * s.D, s.D, xs, ddW.p(),
                            s.batch, s.S, s.D, s.V, false);
    Vec gz = dz0, gW = dW0;
    k::linear_bwd_batched(z.data() + P * s.D, s.D, xs, W.data(), g.data(), s.V, ys, gz.data() + P * s.D, s.D, xs,
                          gW.data(), s.batch, s.S, s.D, s.V, false);
    expect_near_vec("linear_bwd_batched dx (prefix rows untouched)", ddz.host(), gz, kTol);
    expect_near_vec("linear_bwd_batched dW", ddW.host(), gW, kTol);
  }
}

TEST_P(BackendOps, LeftLinear) {
  struct Shape { int batch, M, K, N; };
  for (const Shape s : {Shape{1, 1, 1, 1}, Shape{1, 6, 5, 3}, Shape{3, 14, 9, 8}}) {
    const Vec W = random_vec(static_cast<std::size_t>(s.M * s.K), rng_), x = random_vec(static_cast<std::size_t>(s.batch * s.K * s.N), rng_);
    Dev dW(be(), W), dx(be(), x), dy(be(), static_cast<std::size_t>(s.batch * s.M * s.N));
    be().left_linear_fwd(dW.p(), dx.p(), dy.p(), s.batch, s.M, s.K, s.N);
    Vec y(static_cast<std::size_t>(s.batch * s.M * s.N));
    k::left_linear_fwd(W.data(), x.data(), y.data(), s.batch, s.M, s.K, s.N);
    expect_near_vec("left_linear_fwd", dy.host(), y, kTol);

    const Vec g = random_vec(y.size(), rng_), gW0 = random_vec(W.size(), rng_);
    Dev dg(be(), g), dgx(be(), x.size()), dgW(be(), gW0);
    be().left_linear_bwd(dW.p(), dx.p(), dg.p(), dgx.p(), dgW.p(), s.batch, s.M, s.K, s.N);
    Vec gx(x.size()), gW = gW0;
    k::left_linear_bwd(W.data(), x.data(), g.data(), gx.data(), gW.data(), s.batch, s.M, s.K, s.N);
    expect_near_vec("left_linear_bwd dx", dgx.host(), gx, kTol);
    expect_near_vec("left_linear_bwd dW", dgW.host(), gW, kTol);
  }
}

TEST_P(BackendOps, BiasAddAndGrad) {
  for (const auto& [rows, cols] : {std::pair{1, 1}, std::pair{5, 2}, std::pair{33, 17}}) {
    const Vec y0 = random_vec(static_cast<std::size_t>(rows * cols), rng_), b = random_vec(static_cast<std::size_t>(cols), rng_);
    Dev dy(be(), y0), db(be(), b);
    be().bias_add(dy.p(), db.p(), rows, cols);
    Vec y = y0;
    k::bias_add(y.data(), b.data(), rows, cols);
    expect_near_vec("bias_add", dy.host(), y, kTol);
    Dev dg(be(), b);
    be().bias_grad(dy.p(), dg.p(), rows, cols);
    Vec g = b;
    k::bias_grad(y.data(), g.data(), rows, cols);
    expect_near_vec("bias_grad", dg.host(), g, kTol);
  }
}

// ---- element-wise and fused -------------------------------------------------------------------------

TEST_P(BackendOps, AddAdd3Accumulate) {
  for (const std::size_t n : {std::size_t{1}, std::size_t{13}, std::size_t{100003}}) {
    const Vec a = random_vec(n, rng_), b = random_vec(n, rng_), c = random_vec(n, rng_);
    Dev da(be(), a), db(be(), b), dc(be(), c), dy(be(), n);
    const auto m = static_cast<std::int64_t>(n);
    Vec y(n);
    be().add(da.p(), db.p(), dy.p(), m);
    k::add(a.data(), b.data(), y.data(), m);
    expect_near_vec("add", dy.host(), y, kTol);
    be().add3(da.p(), db.p(), dc.p(), dy.p(), m);
    k::add3(a.data(), b.data(), c.data(), y.data(), m);
    expect_near_vec("add3", dy.host(), y, kTol);
    be().accumulate(dy.p(), da.p(), m);
    k::accumulate(y.data(), a.data(), m);
    expect_near_vec("accumulate", dy.host(), y, kTol);
  }
}

TEST_P(BackendOps, RmsNormRowsAndSequence) {
  struct Shape { int batch, L, D; };
  const float eps = 1e-5f;
  for (const Shape s : {Shape{1, 1, 1}, Shape{1, 3, 5}, Shape{2, 7, 16}, Shape{3, 30, 33}}) {
    const int R = s.batch * s.L;
    const std::size_t n = static_cast<std::size_t>(R * s.D);
    const Vec a = random_vec(n, rng_), b = random_vec(n, rng_), dy = random_vec(n, rng_);
    for (const bool with_b : {false, true}) {
      Dev da(be(), a), db(be(), b), y(be(), n), rinv(be(), static_cast<std::size_t>(R));
      be().add_rmsnorm(da.p(), with_b ? db.p() : nullptr, y.p(), rinv.p(), R, s.D, eps);
      Vec ry(n), rr(static_cast<std::size_t>(R));
      k::add_rmsnorm_fwd(a.data(), with_b ? b.data() : nullptr, ry.data(), rr.data(), R, s.D, double{eps});
      expect_near_vec("add_rmsnorm", y.host(), ry, kTol);
      expect_near_vec("add_rmsnorm rinv", rinv.host(), rr, kTol);
      Dev ddy(be(), dy), dx(be(), n);
      be().rmsnorm_bwd(y.p(), rinv.p(), ddy.p(), dx.p(), R, s.D);
      Vec rx(n);
      k::rmsnorm_bwd(ry.data(), rr.data(), dy.data(), rx.data(), R, s.D);
      expect_near_vec("rmsnorm_bwd", dx.host(), rx, 1e-4);
    }
    // Over the sequence axis (MLP-t): rinv is [batch, D].
    Dev da(be(), a), db(be(), b), y(be(), n), rinv(be(), static_cast<std::size_t>(s.batch * s.D));
    be().add_rmsnorm_seq(da.p(), db.p(), y.p(), rinv.p(), s.batch, s.L, s.D, eps);
    Vec ry(n), rr(static_cast<std::size_t>(s.batch * s.D));
    k::add_rmsnorm_seq_fwd(a.data(), b.data(), ry.data(), rr.data(), s.batch, s.L, s.D, double{eps});
    expect_near_vec("add_rmsnorm_seq", y.host(), ry, kTol);
    Dev ddy(be(), dy), dx(be(), n);
    be().rmsnorm_seq_bwd(y.p(), rinv.p(), ddy.p(), dx.p(), s.batch, s.L, s.D);
    Vec rx(n);
    k::rmsnorm_seq_bwd(ry.data(), rr.data(), dy.data(), rx.data(), s.batch, s.L, s.D);
    expect_near_vec("rmsnorm_seq_bwd", dx.host(), rx, 1e-4);
  }
}

TEST_P(BackendOps, SwiGlu) {
  for (const auto& [rows, inter] : {std::pair{1, 1}, std::pair{3, 5}, std::pair{37, 24}}) {
    const Vec gu = random_vec(static_cast<std::size_t>(rows * 2 * inter), rng_, 3.0), da = random_vec(static_cast<std::size_t>(rows * inter), rng_);
    Dev dgu(be(), gu), act(be(), da.size()), dda(be(), da), dgrad(be(), gu.size());
    be().swiglu_fwd(dgu.p(), act.p(), rows, inter);
    Vec ra(da.size()), rg(gu.size());
    k::swiglu_fwd(gu.data(), ra.data(), rows, inter);
    expect_near_vec("swiglu_fwd", act.host(), ra, kTol);
    be().swiglu_bwd(dgu.p(), dda.p(), dgrad.p(), rows, inter);
    k::swiglu_bwd(gu.data(), da.data(), rg.data(), rows, inter);
    expect_near_vec("swiglu_bwd", dgrad.host(), rg, kTol);
  }
}

TEST_P(BackendOps, RopeForwardAndInverse) {
  struct Shape { int batch, L, heads, hd; };
  for (const Shape s : {Shape{1, 1, 1, 2}, Shape{1, 5, 2, 4}, Shape{2, 9, 3, 8}}) {
    const int width = 3 * s.heads * s.hd;
    const std::size_t n = static_cast<std::size_t>(s.batch * s.L * width);
    const std::size_t tn = static_cast<std::size_t>(s.L * s.hd);
    std::vector<float> cf(tn), sf(tn);
    host::rope_tables<float>(cf.data(), sf.data(), s.L, s.hd, 10000.0);
    const Vec cd(cf.begin(), cf.end()), sd(sf.begin(), sf.end());
    const Vec qkv = random_vec(n, rng_);
    for (const bool inverse : {false, true}) {
      Dev d(be(), qkv), dc(be(), cd), ds(be(), sd);
      be().rope(d.p(), s.batch, s.L, s.heads, s.hd, dc.p(), ds.p(), inverse);
      Vec r = qkv;
      k::rope_apply(r.data(), s.batch, s.L, s.heads, s.hd, width, cd.data(), sd.data(), inverse);
      expect_near_vec(inverse ? "rope inverse" : "rope", d.host(), r, kTol);
    }
  }
}

TEST_P(BackendOps, AttentionForwardBackward) {
  struct Shape { int batch, L, heads, hd; };
  // L = 70 spans two 64-row query tiles; batch 1 and single-row sequences included.
  for (const Shape s : {Shape{1, 1, 1, 2}, Shape{1, 5, 1, 4}, Shape{2, 7, 2, 8}, Shape{1, 70, 2, 4}}) {
    const std::size_t rows = static_cast<std::size_t>(s.batch * s.L), D = static_cast<std::size_t>(s.heads * s.hd);
    const Vec qkv = random_vec(rows * 3 * D, rng_), dout = random_vec(rows * D, rng_);
    Dev dq(be(), qkv), out(be(), rows * D), lse(be(), static_cast<std::size_t>(s.batch * s.heads * s.L));
    Dev ws(be(), static_cast<std::size_t>(be().attention_workspace(s.L)));
    be().attention_fwd(dq.p(), out.p(), lse.p(), s.batch, s.L, s.heads, s.hd, ws.p());
    Vec ro(rows * D), rl(static_cast<std::size_t>(s.batch * s.heads * s.L));
    Vec rws(static_cast<std::size_t>(k::attention_scratch_size(s.L) * omp_get_max_threads()));
    k::attention_fwd(qkv.data(), ro.data(), rl.data(), s.batch, s.L, s.heads, s.hd, rws.data());
    expect_near_vec("attention_fwd", out.host(), ro, kTol);
    expect_near_vec("attention_fwd lse", lse.host(), rl, kTol);
    Dev ddo(be(), dout), dqkv(be(), qkv.size());
    be().attention_bwd(dq.p(), out.p(), lse.p(), ddo.p(), dqkv.p(), s.batch, s.L, s.heads, s.hd, ws.p());
    Vec rq(qkv.size());
    k::attention_bwd(qkv.data(), ro.data(), rl.data(), dout.data(), rq.data(), s.batch, s.L, s.heads, s.hd, rws.data());
    expect_near_vec("attention_bwd", dqkv.host(), rq, 1e-4);
  }
}

// ---- embeddings -----------------------------------------------------------------------------------

TEST_P(BackendOps, GatherRows) {
  const int width = 6;
  const Vec table = random_vec(10 * width, rng_);
  const I32 ids{3, 0, 9, 3};
  Dev dt(be(), table), out(be(), ids.size() * width);
  be().gather_rows(dt.p(), ids.data(), out.p(), static_cast<int>(ids.size()), width);
  Vec r(ids.size() * width);
  k::gather_rows(table.data(), ids.data(), r.data(), static_cast<int>(ids.size()), width);
  expect_near_vec("gather_rows", out.host(), r, 0.0);
}

TEST_P(BackendOps, EmbedForwardBackward) {
  struct Shape { int batch, S, P, D, V, ndim; bool pos; };
  for (const Shape s : {Shape{1, 1, 0, 2, 3, 0, false}, Shape{1, 4, 1, 4, 5, 4, true}, Shape{3, 6, 2, 4, 7, 6, false},
                        Shape{2, 5, 1, 8, 4, 8, true}}) {
    const int L = s.S + s.P;
    std::uniform_int_distribution<int> tok(0, s.V - 1);
    I32 tokens(static_cast<std::size_t>(s.batch * s.S));
    for (auto& t : tokens) t = tok(rng_);
    const Vec table = random_vec(static_cast<std::size_t>(s.V * s.D), rng_), puz = random_vec(static_cast<std::size_t>(std::max(1, s.batch * s.ndim)), rng_);
    const Vec pos = random_vec(static_cast<std::size_t>(L * s.D), rng_);
    const float scale = std::sqrt(static_cast<float>(s.D)), pos_scale = s.pos ? 0.5f : 1.0f;
    const std::size_t n = static_cast<std::size_t>(s.batch * L * s.D);
    Dev dt(be(), table), dp(be(), puz), dpos(be(), pos), x(be(), n);
    be().embed_fwd(tokens.data(), dt.p(), s.ndim ? dp.p() : nullptr, s.pos ? dpos.p() : nullptr, x.p(), s.batch, s.S, s.P,
                   s.D, s.ndim, scale, pos_scale);
    Vec rx(n);
    k::embed_fwd(tokens.data(), table.data(), s.ndim ? puz.data() : nullptr, s.pos ? pos.data() : nullptr, rx.data(),
                 s.batch, s.S, s.P, s.D, s.ndim, double{scale}, double{pos_scale});
    expect_near_vec("embed_fwd", x.host(), rx, kTol);

    const Vec dx = random_vec(n, rng_), gt0 = random_vec(table.size(), rng_), gpos0 = random_vec(pos.size(), rng_);
    Dev ddx(be(), dx), dgt(be(), gt0), dgp(be(), puz.size()), dgpos(be(), gpos0);
    be().embed_bwd(tokens.data(), ddx.p(), dgt.p(), s.ndim ? dgp.p() : nullptr, s.pos ? dgpos.p() : nullptr, s.batch, s.S,
                   s.P, s.D, s.ndim, scale, pos_scale);
    Vec gt = gt0, gp(puz.size()), gpos = gpos0;
    k::embed_bwd(tokens.data(), dx.data(), gt.data(), s.ndim ? gp.data() : nullptr, s.pos ? gpos.data() : nullptr,
                 s.batch, s.S, s.P, s.D, s.ndim, double{scale}, double{pos_scale});
    expect_near_vec("embed_bwd token table", dgt.host(), gt, kTol);
    if (s.ndim) expect_near_vec("embed_bwd puzzle rows", dgp.host(), gp, kTol);
    if (s.pos) expect_near_vec("embed_bwd positions", dgpos.host(), gpos, kTol);
  }
}

// ---- losses -----------------------------------------------------------------------------------------

TEST_P(BackendOps, StablemaxCrossEntropy) {
  struct Shape { int batch, S, V; };
  for (const Shape s : {Shape{1, 1, 2}, Shape{2, 5, 3}, Shape{3, 9, 11}}) {
    const Vec logits = random_vec(static_cast<std::size_t>(s.batch * s.S * s.V), rng_, 4.0);
    std::uniform_int_distribution<int> lab(-1, s.V - 1);
    I32 labels(static_cast<std::size_t>(s.batch * s.S));
    for (auto& l : labels) {
      l = lab(rng_);
      if (l < 0) l = -100;  // ignored positions
    }
    Vec w(static_cast<std::size_t>(s.batch));
    for (int b = 0; b < s.batch; ++b) w[static_cast<std::size_t>(b)] = 1.0 / (b + 2);
    Dev dl(be(), logits), dg(be(), logits.size());
    std::vector<double> ce(static_cast<std::size_t>(s.batch)), rce(ce.size());
    I32 correct(ce.size()), valid(ce.size()), rcorrect(ce.size()), rvalid(ce.size());
    be().stablemax_ce(dl.p(), labels.data(), s.batch, s.S, s.V, ce.data(), w.data(), dg.p(), correct.data(), valid.data());
    Vec rg(logits.size());
    k::stablemax_ce(logits.data(), labels.data(), s.batch, s.S, s.V, rce.data(), w.data(), rg.data(), rcorrect.data(),
                    rvalid.data());
    expect_near_vec("stablemax_ce per sequence", ce, rce, kTol);
    expect_near_vec("stablemax_ce dlogits", dg.host(), rg, kTol);
    EXPECT_EQ(correct, rcorrect);
    EXPECT_EQ(valid, rvalid);
    // Without a gradient the losses are the same.
    std::vector<double> ce2(ce.size());
    be().stablemax_ce(dl.p(), labels.data(), s.batch, s.S, s.V, ce2.data(), w.data(), nullptr, nullptr, nullptr);
    expect_near_vec("stablemax_ce without gradient", ce2, rce, kTol);
  }
}

// ---- optimizers (float-only kernels: checked against their formula in double) -------------------

TEST_P(BackendOps, AdamAtan2) {
  const std::size_t n = 1001;
  const Vec theta = random_vec(n, rng_), g = random_vec(n, rng_), m = random_vec(n, rng_, 0.1);
  Vec v = random_vec(n, rng_, 0.1);
  for (auto& x : v) x = std::abs(x);
  const double lr = 1e-2, wd = 0.1, b1 = 0.9, b2 = 0.95, step = 3;
  Dev dt(be(), theta), dg(be(), g), dm(be(), m), dv(be(), v);
  be().adam_atan2(dt.p(), dg.p(), dm.p(), dv.p(), static_cast<std::int64_t>(n), static_cast<float>(lr), static_cast<float>(wd),
                  static_cast<float>(b1), static_cast<float>(b2), static_cast<float>(step));
  Vec rt(n), rm(n), rv(n);
  const double bc1 = 1 - std::pow(b1, step), bc2_sqrt = std::sqrt(1 - std::pow(b2, step));
  for (std::size_t i = 0; i < n; ++i) {
    rm[i] = b1 * m[i] + (1 - b1) * g[i];
    rv[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    rt[i] = theta[i] * (1 - lr * wd) - lr / bc1 * std::atan2(rm[i], std::sqrt(rv[i]) / bc2_sqrt);
  }
  expect_near_vec("adam_atan2 m", dm.host(), rm, kTol);
  expect_near_vec("adam_atan2 v", dv.host(), rv, kTol);
  expect_near_vec("adam_atan2 theta", dt.host(), rt, kTol);
}

TEST_P(BackendOps, Ema) {
  const std::size_t n = 777;
  const Vec e = random_vec(n, rng_), theta = random_vec(n, rng_);
  Dev de(be(), e), dt(be(), theta);
  be().ema(de.p(), dt.p(), static_cast<std::int64_t>(n), 0.999f);
  Vec r(n);
  for (std::size_t i = 0; i < n; ++i) r[i] = 0.999 * e[i] + (1 - 0.999) * theta[i];
  expect_near_vec("ema", de.host(), r, kTol);
}

TEST_P(BackendOps, SparseSignSgdSumsDuplicateIds) {
  const int width = 5, rows = 6;
  const Vec table = random_vec(static_cast<std::size_t>(rows * width), rng_);
  const I32 ids{4, 1, 4, 0};  // id 4 twice: its gradient rows are summed before the sign
  const Vec grads = random_vec(ids.size() * width, rng_);
  Dev dt(be(), table), dg(be(), grads);
  const double lr = 0.1, wd = 0.5;
  be().sparse_signsgd(dt.p(), ids.data(), dg.p(), static_cast<int>(ids.size()), width, static_cast<float>(lr), static_cast<float>(wd));
  Vec r = table;
  for (int id = 0; id < rows; ++id) {
    bool present = false;
    Vec sum(width, 0.0);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] != id) continue;
      present = true;
      for (int c = 0; c < width; ++c) sum[static_cast<std::size_t>(c)] += grads[i * width + c];
    }
    if (!present) continue;  // rows no id names are untouched
    for (int c = 0; c < width; ++c) {
      double& x = r[static_cast<std::size_t>(id * width + c)];
      const double sg = (sum[static_cast<std::size_t>(c)] > 0) - (sum[static_cast<std::size_t>(c)] < 0);
      x = x * (1 - lr * wd) - lr * sg;
    }
  }
  expect_near_vec("sparse_signsgd", dt.host(), r, kTol);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendOps, ::testing::ValuesIn(every_backend_name()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;  // test names allow [A-Za-z0-9_] only
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// ---- the registry ---------------------------------------------------------------------------------

TEST(BackendRegistry, CpuIsAvailableAndNamed) {
  const auto names = available_backends();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "cpu");
  EXPECT_EQ(make_backend("cpu")->name(), "cpu");
}

TEST(BackendRegistry, UnknownNameListsTheAvailableOnes) {
  try {
    make_backend("tpu");
    FAIL() << "make_backend(\"tpu\") must throw";
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown backend \"tpu\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("available: cpu"), std::string::npos) << msg;
  }
}

TEST(BackendRegistry, KnownButUnavailableSaysWhy) {
  for (const BackendInfo& info : known_backends()) {
    if (info.available) continue;
    EXPECT_FALSE(info.reason.empty()) << info.name;
    try {
      make_backend(info.name);
      ADD_FAILURE() << "make_backend(\"" << info.name << "\") must throw when unavailable";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(info.reason), std::string::npos) << e.what();
    }
  }
}

// The cuda instances above exist only where cuda loads, so a GPU machine on which a build with
// the CUDA backend fails to load it must fail here rather than quietly test the CPU alone.
TEST(BackendRegistry, CudaLoadsWhereThereIsAGpu) {
  const bool gpu_here = std::filesystem::exists("/dev/nvidiactl") && std::filesystem::exists("/dev/nvidia0");
  for (const BackendInfo& info : known_backends()) {
    if (info.name != "cuda") continue;
    const bool built = info.reason.find("this build has no CUDA backend") == std::string::npos;
    if (gpu_here && built) {
      EXPECT_TRUE(info.available) << "a GPU is here but cuda is unavailable: " << info.reason;
    }
  }
}

}  // namespace
}  // namespace trm
