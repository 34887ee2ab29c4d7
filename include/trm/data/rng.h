// A small random generator whose whole state is four 64-bit words (xoshiro256**), so a sampler
// or builder can save it to JSON and resume bit-exactly. Draw helpers are defined here rather
// than taken from <random>, whose distributions differ between standard libraries and would make
// "seeded" datasets differ between machines.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace trm::data {

class Rng {
 public:
  // Different streams of one seed are independent sequences (used per sampler pass).
  explicit Rng(std::uint64_t seed = 0, std::uint64_t stream = 0);

  std::uint64_t next();
  std::uint64_t below(std::uint64_t n);  // uniform in [0, n); n > 0
  double uniform();                      // uniform in [0, 1)
  bool coin() { return (next() >> 63) != 0; }

  template <class T>
  void shuffle(std::span<T> v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }
  template <class T>
  void shuffle(std::vector<T>& v) { shuffle(std::span<T>(v)); }

  // [0, n) in random order.
  std::vector<std::int32_t> permutation(std::int32_t n);
  // k distinct values of [0, n), in random order (partial Fisher-Yates).
  std::vector<std::int64_t> choose(std::int64_t n, std::int64_t k);

  // The state as four 16-digit hex strings (JSON numbers above 2^53 are lossy in many readers).
  nlohmann::json state() const;
  // Throws trm::Error naming `context` when the JSON is not a state written by state().
  void set_state(const nlohmann::json& j, const std::string& context);

  bool operator==(const Rng& o) const { return s_ == o.s_; }

 private:
  std::array<std::uint64_t, 4> s_{};
};

}  // namespace trm::data
