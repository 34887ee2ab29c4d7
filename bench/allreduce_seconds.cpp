// The all-reduce time of a model's gradient across the ranks it is launched on (docs/PERFORMANCE.md,
// "All-reduce time per step"). Built with MPI as build/<preset>/bench_allreduce; run as
//   mpirun -np 2 build/release/bench_allreduce [floats]
// (default: sudoku-mlp's 5,028,866 parameters). Times 20 bucketed all-reduces, each after a barrier
// so the ranks start together, and prints the median, min and max; the first call, which sets up
// the connections, is not counted.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "trm/dist/communicator.h"

int main(int argc, char** argv) {
  trm::dist::Communicator& w = trm::dist::world();
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 5028866;
  if (n < 1) {
    std::fprintf(stderr, "bench_allreduce: the float count must be >= 1 (got \"%s\")\n", argv[1]);
    return 2;
  }
  std::vector<float> g(static_cast<std::size_t>(n), 1.0f);
  std::vector<double> t;
  for (int i = 0; i < 21; ++i) {
    w.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    trm::dist::allreduce_sum_bucketed(w, g.data(), n);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin() + 1, t.end());
  if (w.rank() == 0)
    std::printf("allreduce of %lld floats (%.1f MB) over %d ranks: median %.2f ms, min %.2f ms, max %.2f ms\n",
                static_cast<long long>(n), static_cast<double>(n) * 4e-6, w.size(), t[11] * 1e3, t[1] * 1e3,
                t.back() * 1e3);
  return 0;
}
