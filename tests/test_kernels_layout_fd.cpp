// Finite-difference checks (in double) of the layout kernels the CPU backend calls directly: the
// strided and batched linear layers, the left (sequence-mixing) linear layer and the bias. Each
// backward is checked against central differences of f = <g, forward(inputs)> for a random g.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "kernels/kernels.h"

namespace trm::kernels {
namespace {

using Vec = std::vector<double>;
constexpr double kH = 1e-6;
constexpr double kTol = 1e-7;  // the maps are linear: central differences are exact up to rounding

Vec randn(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<double> d(0.0, 1.0);
  Vec v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Worst |analytic - numeric| / max(1, |numeric|) over every element of `x`, where f reads x.
double fd_error(Vec& x, const Vec& analytic, const std::function<double()>& f) {
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + kH;
    const double up = f();
    x[i] = keep - kH;
    const double down = f();
    x[i] = keep;
    const double numeric = (up - down) / (2 * kH);
    worst = std::max(worst, std::abs(analytic[i] - numeric) / std::max(1.0, std::abs(numeric)));
  }
  return worst;
}

TEST(LayoutKernelsFd, StridedLinear) {
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
  EXPECT_LT(fd_error(x, dx, f), kTol);
  EXPECT_LT(fd_error(W, dW, f), kTol);
}

TEST(LayoutKernelsFd, BatchedLinearWithPrefixRows) {
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
  EXPECT_LT(fd_error(z, dz, f), kTol);
  EXPECT_LT(fd_error(W, dW, f), kTol);
}

TEST(LayoutKernelsFd, LeftLinear) {
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
  EXPECT_LT(fd_error(x, dx, f), kTol);
  EXPECT_LT(fd_error(W, dW, f), kTol);
}

TEST(LayoutKernelsFd, Bias) {
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
  EXPECT_LT(fd_error(bias, db, f), kTol);
}

}  // namespace
}  // namespace trm::kernels
