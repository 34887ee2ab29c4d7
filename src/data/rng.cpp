#include "trm/data/rng.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "trm/error.h"

namespace trm::data {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(std::uint64_t seed, std::uint64_t stream) {
  // Mixing the stream through splitmix first keeps (seed, stream) and (seed + 1, stream - 1) apart.
  std::uint64_t x = seed;
  std::uint64_t st = stream;
  x ^= splitmix64(st);
  for (auto& w : s_) w = splitmix64(x);
}

std::uint64_t Rng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::uint64_t Rng::below(std::uint64_t n) {
  // Lemire's multiply-and-reject: unbiased, and almost never needs a division.
  unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
  auto low = static_cast<std::uint64_t>(m);
  if (low < n) {
    const std::uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(next()) * n;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::vector<std::int32_t> Rng::permutation(std::int32_t n) {
  std::vector<std::int32_t> p(static_cast<std::size_t>(n));
  for (std::int32_t i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = i;
  shuffle(p);
  return p;
}

std::vector<std::int64_t> Rng::choose(std::int64_t n, std::int64_t k) {
  std::vector<std::int64_t> pool(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) pool[static_cast<std::size_t>(i)] = i;
  for (std::int64_t i = 0; i < k; ++i) {
    const auto j = i + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(n - i)));
    std::swap(pool[static_cast<std::size_t>(i)], pool[static_cast<std::size_t>(j)]);
  }
  pool.resize(static_cast<std::size_t>(k));
  return pool;
}

nlohmann::json Rng::state() const {
  nlohmann::json j = nlohmann::json::array();
  for (auto w : s_) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(w));
    j.push_back(buf);
  }
  return j;
}

void Rng::set_state(const nlohmann::json& j, const std::string& context) {
  if (!j.is_array() || j.size() != 4)
    throw Error(context + ": RNG state must be a list of 4 hex strings");
  std::array<std::uint64_t, 4> s{};
  for (std::size_t i = 0; i < 4; ++i) {
    if (!j[i].is_string()) throw Error(context + ": RNG state word " + std::to_string(i) + " is not a string");
    const auto str = j[i].get<std::string>();
    if (str.size() != 16 || str.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
      throw Error(context + ": RNG state word \"" + str + "\" is not 16 hex digits");
    s[i] = std::stoull(str, nullptr, 16);
  }
  if ((s[0] | s[1] | s[2] | s[3]) == 0) throw Error(context + ": RNG state is all zero (not a valid state)");
  s_ = s;
}

}  // namespace trm::data
