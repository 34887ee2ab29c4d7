#include "trm/dist/communicator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "trm/error.h"

namespace trm::dist {

namespace {

class SingleCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "single"; }
  void allreduce_sum(float*, std::int64_t) override {}
  void allreduce_sum(double*, std::int64_t) override {}
  void allgather(const void* send, void* recv, std::int64_t bytes) override {
    if (bytes > 0) std::memcpy(recv, send, static_cast<std::size_t>(bytes));
  }
  void broadcast(void*, std::int64_t, int root) override {
    if (root != 0) throw Error("broadcast: root " + std::to_string(root) + " is not a rank of a single process");
  }
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

}  // namespace

std::unique_ptr<Communicator> make_single_communicator() { return std::make_unique<SingleCommunicator>(); }

std::pair<std::int64_t, std::int64_t> shard_range(std::int64_t n, int rank, int size) {
  TRM_ASSERT(size >= 1 && rank >= 0 && rank < size && n >= 0, "bad shard");
  const std::int64_t base = n / size, extra = n % size;
  const std::int64_t first = rank * base + std::min<std::int64_t>(rank, extra);
  return {first, first + base + (rank < extra ? 1 : 0)};
}

void allreduce_sum_bucketed(Communicator& comm, float* data, std::int64_t n, std::int64_t bucket) {
  TRM_ASSERT(bucket > 0, "empty bucket");
  if (comm.size() == 1) return;
  for (std::int64_t i = 0; i < n; i += bucket) comm.allreduce_sum(data + i, std::min(bucket, n - i));
}

}  // namespace trm::dist
