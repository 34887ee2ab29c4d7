// Collectives over buffers in a backend's memory (docs/DISTRIBUTED.md, "GPU backends").
// dist::Communicator (MPI) works on host memory, while a GPU backend's gradients, puzzle-row
// gradients and recurrent state live in device memory. Three paths, chosen once by reserve():
//   - the backend's memory is host memory (cpu): straight to the communicator;
//   - the backend offers a device communicator (cuda built with NCCL, unless TRM_NCCL=0): that;
//   - otherwise (cuda without NCCL, cuda-sim): each call copies the buffer to a host staging
//     vector, runs the collective there and copies the result back.
// The staging vectors are sized once by reserve(), so the training loop allocates nothing.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trm/backend/backend.h"
#include "trm/dist/communicator.h"

namespace trm {

class DeviceCollectives {
 public:
  DeviceCollectives(Backend& be, dist::Communicator& comm) : be_(be), comm_(comm) {}

  // Picks the path and sizes the staging for collectives of up to `floats` floats per rank. Every
  // rank calls it together (creating a device communicator is a collective).
  void reserve(std::int64_t floats);
  bool staged() const { return !be_.host_accessible() && !device_; }
  // "host" (cpu memory), "nccl" (the device communicator's name), or "staged".
  std::string path() const;

  // data[0..n) (backend memory) becomes the sum over the ranks, in buckets of at most 4M floats.
  void allreduce_sum(float* data, std::int64_t n);
  // Every rank's send[0..n) (backend memory) lands in recv[rank * n, (rank + 1) * n) on every rank.
  void allgather(const float* send, float* recv, std::int64_t n);

 private:
  Backend& be_;
  dist::Communicator& comm_;
  std::unique_ptr<dist::Communicator> device_;  // the backend's own, when it has one
  std::vector<float> send_, recv_;  // host staging (device memory without a device communicator)
};

}  // namespace trm
