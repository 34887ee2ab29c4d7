// The collectives data-parallel training and sharded evaluation need (docs/DISTRIBUTED.md): a
// process group of size() ranks, this process being rank(). Implementations: the single-process
// one here (size 1, every collective a copy or nothing), MPI (src/dist/world.cpp, built when CMake
// finds MPI), and NCCL on device memory (the CUDA module's Backend::make_device_communicator,
// reached through include/trm/train/device_collectives.h).
//
// Every collective is called by every rank in the same order with the same sizes. Buffers are
// host memory for the single-process and MPI communicators, device memory for NCCL. A collective
// that cannot complete (a rank died or hangs) ends the whole process group with a message rather
// than waiting forever (MpiCommunicator: the launcher's abort, and a watchdog over each
// collective; NCCL: a timeout on the stream).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace trm::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;  // "single", "mpi"
  // Seconds a collective may wait for the other ranks before they are taken to be gone
  // (TRM_COLLECTIVE_TIMEOUT, read once by the MPI communicator); 0 = forever. A device
  // communicator built over this one (NCCL) keeps the same limit.
  virtual double collective_timeout_s() const { return 0; }

  // data[0..n) becomes the element-wise sum over the ranks, identical on every rank.
  virtual void allreduce_sum(float* data, std::int64_t n) = 0;
  virtual void allreduce_sum(double* data, std::int64_t n) = 0;
  // Every rank contributes `bytes` bytes from `send`; `recv` (size() * bytes) receives all of
  // them in rank order, on every rank. `send` may not overlap `recv`.
  virtual void allgather(const void* send, void* recv, std::int64_t bytes) = 0;
  // `bytes` bytes of `data` on rank `root` are copied to `data` on every rank.
  virtual void broadcast(void* data, std::int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the group with exit status `code` (after this rank printed why). Does not
  // return. The single-process implementation exits the process.
  [[noreturn]] virtual void abort(int code) = 0;

  bool is_root() const { return rank() == 0; }
};

// The single-process group: rank 0 of 1.
std::unique_ptr<Communicator> make_single_communicator();

// The rows [first, end) of n that rank `rank` of `size` takes: contiguous, in rank order, sizes
// differing by at most one (the first n % size ranks take one more).
std::pair<std::int64_t, std::int64_t> shard_range(std::int64_t n, int rank, int size);

// allreduce_sum over a long buffer in buckets of at most `bucket` floats: one collective of a
// bounded size at a time (a bounded staging buffer for transports that need one, and the unit an
// overlap with the backward would issue).
void allreduce_sum_bucketed(Communicator& comm, float* data, std::int64_t n, std::int64_t bucket = 1 << 22);

// The process group this process was started in (src/dist/world.cpp, linked by the trm command
// and the tests): MPI when the build has it and the process was started by an MPI launcher
// (mpirun / mpiexec / srun: launched_by_mpi() below), otherwise the single-process group. MPI is
// initialised at the first call. Not part of trm_core, so libtrm and the Python module never
// link MPI.
Communicator& world();
// Whether this build has the MPI communicator.
bool mpi_built();
// Whether the environment says an MPI launcher started this process (Open MPI's
// OMPI_COMM_WORLD_SIZE, MPICH/Hydra's and Slurm's PMI_SIZE / PMIX_RANK / SLURM_PROCID with
// SLURM_NTASKS > 1).
bool launched_by_mpi();
// Call once at the end of main with the exit status: MPI_Finalize after a clean exit; after a
// failure (status != 0) with more than one rank, MPI_Abort, so the other ranks, which may be
// waiting in a collective for this one, stop too. Returns `status`.
int finish(int status);

}  // namespace trm::dist
