#include "trm/train/device_collectives.h"

#include "trm/error.h"

namespace trm {

void DeviceCollectives::reserve(std::int64_t floats) {
  if (be_.host_accessible() || comm_.size() == 1) return;
  device_.reset(be_.make_device_communicator(comm_));
  if (device_) return;
  send_.resize(static_cast<std::size_t>(floats));
  recv_.resize(static_cast<std::size_t>(floats) * static_cast<std::size_t>(comm_.size()));
}

std::string DeviceCollectives::path() const {
  if (be_.host_accessible()) return "host";
  return device_ ? device_->name() : "staged";
}

void DeviceCollectives::allreduce_sum(float* data, std::int64_t n) {
  if (device_) {
    device_->allreduce_sum(data, n);
    return;
  }
  if (be_.host_accessible()) {
    dist::allreduce_sum_bucketed(comm_, data, n);
    return;
  }
  TRM_ASSERT(static_cast<std::int64_t>(send_.size()) >= n, "DeviceCollectives: reserve() was not called for this size");
  be_.to_host(data, send_.data(), n);
  dist::allreduce_sum_bucketed(comm_, send_.data(), n);
  be_.from_host(send_.data(), data, n);
}

void DeviceCollectives::allgather(const float* send, float* recv, std::int64_t n) {
  const std::int64_t bytes = n * static_cast<std::int64_t>(sizeof(float));
  if (device_) {
    device_->allgather(send, recv, bytes);
    return;
  }
  if (be_.host_accessible()) {
    comm_.allgather(send, recv, bytes);
    return;
  }
  TRM_ASSERT(static_cast<std::int64_t>(send_.size()) >= n, "DeviceCollectives: reserve() was not called for this size");
  be_.to_host(send, send_.data(), n);
  comm_.allgather(send_.data(), recv_.data(), bytes);
  be_.from_host(recv_.data(), recv, n * comm_.size());
}

}  // namespace trm
