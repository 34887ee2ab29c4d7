// Initialization (docs/REFERENCE.md §2.8). The truncated normal is the JAX-style one the reference ports:
// uniform in [erf(-2/sqrt2), erf(2/sqrt2)], mapped through erfinv, scaled so that the TRUNCATED
// distribution has exactly the requested std, then clipped to +-2 (scaled) std.
#include <cmath>
#include <random>
#include <vector>

#include "trm/model/model.h"

namespace trm {
namespace {

// Inverse error function: a rational first guess refined by two Newton steps on erf.
double erfinv(double y) {
  if (y <= -1) return -INFINITY;
  if (y >= 1) return INFINITY;
  const double a = 0.147;
  const double ln = std::log(1 - y * y);
  const double t = 2 / (M_PI * a) + ln / 2;
  double x = std::copysign(std::sqrt(std::sqrt(t * t - ln / a) - t), y);
  for (int i = 0; i < 2; ++i) {
    const double err = std::erf(x) - y;
    x -= err / (2 / std::sqrt(M_PI) * std::exp(-x * x));
  }
  return x;
}

void trunc_normal(std::vector<float>& out, double std_dev, std::mt19937_64& rng) {
  if (std_dev == 0) {
    std::fill(out.begin(), out.end(), 0.0f);
    return;
  }
  const double lower = -2, upper = 2, sqrt2 = std::sqrt(2.0);
  const double a = std::erf(lower / sqrt2), b = std::erf(upper / sqrt2);
  const double z = (b - a) / 2;
  const double c = 1 / std::sqrt(2 * M_PI);
  const double pdf_u = c * std::exp(-0.5 * lower * lower), pdf_l = c * std::exp(-0.5 * upper * upper);
  const double comp_std =
      std_dev / std::sqrt(1 - (upper * pdf_u - lower * pdf_l) / z - std::pow((pdf_u - pdf_l) / z, 2));
  std::uniform_real_distribution<double> uni(a, b);
  for (auto& v : out) {
    double x = erfinv(uni(rng)) * sqrt2 * comp_std;
    x = std::min(std::max(x, lower * comp_std), upper * comp_std);
    v = static_cast<float>(x);
  }
}

}  // namespace

void TrmModel::init(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> host;
  auto fill_param = [&](const ParamInfo& p, double std_dev) {
    host.assign(static_cast<std::size_t>(p.numel), 0.0f);
    trunc_normal(host, std_dev, rng);
    be_.from_host(host.data(), params() + p.offset, p.numel);
  };
  const double D = cfg_.hidden_size;
  for (const auto& p : table_) {
    if (p.name == "q_head.weight") {
      fill_param(p, 0.0);
    } else if (p.name == "q_head.bias") {
      host.assign(2, -5.0f);
      be_.from_host(host.data(), params() + p.offset, 2);
    } else if (p.name == "embed_tokens.embedding_weight" || p.name == "embed_pos.embedding_weight") {
      fill_param(p, 1.0 / std::sqrt(D));
    } else {
      // LeCun: std = 1/sqrt(fan_in), fan_in = the last dimension of a [out, in] weight.
      fill_param(p, 1.0 / std::sqrt(static_cast<double>(p.shape.back())));
    }
  }
  be_.fill(puz_, 0.0f, puz_size_);
  host.assign(static_cast<std::size_t>(cfg_.hidden_size), 0.0f);
  trunc_normal(host, 1.0, rng);
  be_.from_host(host.data(), h_init_.data(), cfg_.hidden_size);
  trunc_normal(host, 1.0, rng);
  be_.from_host(host.data(), l_init_.data(), cfg_.hidden_size);
  be_.weights_changed();
}

}  // namespace trm
