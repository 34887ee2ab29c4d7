// world(): the process group this process was launched in, and the MPI communicator behind it when
// the build has MPI (TRM_HAVE_MPI; CMake option TRM_MPI). Linked by the trm command and the tests
// only, so libtrm and the Python module never depend on libmpi.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "trm/dist/communicator.h"
#include "trm/error.h"

#ifdef TRM_HAVE_MPI
#include <mpi.h>
#endif

namespace trm::dist {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

// The group size the launcher announced, or 0 when it did not say.
long launcher_size() {
  for (const char* k : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"})
    if (const char* v = env(k)) return std::strtol(v, nullptr, 10);
  return 0;
}

#ifdef TRM_HAVE_MPI

// Seconds a rank may wait inside one collective before it decides another rank is gone
// (TRM_COLLECTIVE_TIMEOUT; 0 = wait forever). A collective waits for the slowest rank's compute
// (a step, a shard of an evaluation) and for rank 0 writing a checkpoint, so the default is long.
double read_collective_timeout_s() {
  if (const char* v = env("TRM_COLLECTIVE_TIMEOUT")) {
    char* end = nullptr;
    const double s = std::strtod(v, &end);
    if (end == v || *end != '\0' || !(s >= 0))
      throw Error("TRM_COLLECTIVE_TIMEOUT must be a number of seconds >= 0 (got \"" + std::string(v) + "\")");
    return s;
  }
  return 600;
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int provided = 0;
    // MPI_THREAD_MULTIPLE: the watchdog thread calls MPI_Abort while the main thread is inside
    // a collective.
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
    multiple_ = provided >= MPI_THREAD_MULTIPLE;
    // Errors come back to us (a message naming the collective and the rank), not MPI's default
    // abort with a code only.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    timeout_s_ = read_collective_timeout_s();
    if (timeout_s_ > 0 && size_ > 1) watchdog_ = std::thread([this] { watch(); });
  }
  ~MpiCommunicator() override {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }
  double collective_timeout_s() const override { return timeout_s_; }

  void allreduce_sum(float* data, std::int64_t n) override {
    for (std::int64_t i = 0; i < n; i += kMaxCount) {
      const Guard g(*this, "MPI_Allreduce");
      check(MPI_Allreduce(MPI_IN_PLACE, data + i, count(n - i), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    }
  }
  void allreduce_sum(double* data, std::int64_t n) override {
    for (std::int64_t i = 0; i < n; i += kMaxCount) {
      const Guard g(*this, "MPI_Allreduce");
      check(MPI_Allreduce(MPI_IN_PLACE, data + i, count(n - i), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    }
  }
  void allgather(const void* send, void* recv, std::int64_t bytes) override {
    if (bytes <= kMaxCount) {
      const Guard g(*this, "MPI_Allgather");
      check(MPI_Allgather(send, static_cast<int>(bytes), MPI_BYTE, recv, static_cast<int>(bytes), MPI_BYTE, MPI_COMM_WORLD),
            "MPI_Allgather");
      return;
    }
    // Past an int count: rounds of kMaxCount / size bytes through a staging buffer.
    const std::int64_t chunk = std::max<std::int64_t>(1, kMaxCount / size_);
    std::vector<char> stage(static_cast<std::size_t>(chunk * size_));
    for (std::int64_t off = 0; off < bytes; off += chunk) {
      const std::int64_t c = std::min(chunk, bytes - off);
      {
        const Guard g(*this, "MPI_Allgather");
        check(MPI_Allgather(static_cast<const char*>(send) + off, static_cast<int>(c), MPI_BYTE, stage.data(),
                            static_cast<int>(c), MPI_BYTE, MPI_COMM_WORLD),
              "MPI_Allgather");
      }
      for (int r = 0; r < size_; ++r)
        std::memcpy(static_cast<char*>(recv) + r * bytes + off, stage.data() + r * c, static_cast<std::size_t>(c));
    }
  }
  void broadcast(void* data, std::int64_t bytes, int root) override {
    for (std::int64_t i = 0; i < bytes; i += kMaxCount) {
      const Guard g(*this, "MPI_Bcast");
      check(MPI_Bcast(static_cast<char*>(data) + i, count(bytes - i), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    }
  }
  void barrier() override {
    const Guard g(*this, "MPI_Barrier");
    check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  }
  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; should it, this rank still stops
  }

 private:
  static constexpr std::int64_t kMaxCount = INT_MAX / 2;
  static int count(std::int64_t left) { return static_cast<int>(std::min<std::int64_t>(left, kMaxCount)); }

  // Marks this rank as inside a collective for the watchdog.
  struct Guard {
    Guard(MpiCommunicator& c, const char* what) : c_(c) {
      c_.what_.store(what);
      c_.since_ns_.store(now_ns());
    }
    ~Guard() { c_.since_ns_.store(0); }
    MpiCommunicator& c_;
  };
  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }

  void check(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    std::fprintf(stderr, "trm: rank %d of %d: %s failed (%s); another rank has probably died. Stopping every rank.\n", rank_,
                 size_, what, msg);
    abort(1);
  }

  void watch() {
    std::unique_lock<std::mutex> lk(mu_);
    while (!stop_) {
      cv_.wait_for(lk, std::chrono::milliseconds(250));
      const std::int64_t since = since_ns_.load();
      if (stop_ || since == 0) continue;
      const double waited = static_cast<double>(now_ns() - since) * 1e-9;
      if (waited < timeout_s_) continue;
      std::fprintf(stderr,
                   "trm: rank %d of %d: waited %.0f s in %s for the other ranks (TRM_COLLECTIVE_TIMEOUT=%g); another rank has "
                   "died or hangs. Stopping every rank.\n",
                   rank_, size_, waited, what_.load(), timeout_s_);
      std::fflush(stderr);
      if (multiple_) MPI_Abort(MPI_COMM_WORLD, 1);
      std::_Exit(1);  // without MPI_THREAD_MULTIPLE: exit; the launcher then ends the other ranks
    }
  }

  int rank_ = 0, size_ = 1;
  bool multiple_ = false;
  double timeout_s_ = 0;
  std::atomic<std::int64_t> since_ns_{0};
  std::atomic<const char*> what_{""};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread watchdog_;
};

#endif  // TRM_HAVE_MPI

std::unique_ptr<Communicator>& world_ptr() {
  static std::unique_ptr<Communicator> w;
  return w;
}

}  // namespace

bool mpi_built() {
#ifdef TRM_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool launched_by_mpi() {
  if (launcher_size() > 0 || env("PMIX_RANK") || env("PMI_RANK")) return true;
  // srun without a PMI plugin still says how many tasks it started.
  if (const char* n = env("SLURM_NTASKS"); n && env("SLURM_PROCID") && std::strtol(n, nullptr, 10) > 1) return true;
  return false;
}

Communicator& world() {
  auto& w = world_ptr();
  if (w) return *w;
#ifdef TRM_HAVE_MPI
  if (launched_by_mpi()) {
    w = std::make_unique<MpiCommunicator>();
    return *w;
  }
#else
  if (launched_by_mpi() && launcher_size() != 1)
    throw Error("this process was started by an MPI launcher (mpirun / srun), but this trm was built without MPI, so every "
                "process would run the whole job alone; install Open MPI (libopenmpi-dev) and rebuild (CMake TRM_MPI=AUTO or ON), "
                "or run a single trm process");
#endif
  w = make_single_communicator();
  return *w;
}

int finish(int status) {
  auto& w = world_ptr();
  if (!w) return status;
  if (status != 0 && w->size() > 1) {
    std::fprintf(stderr, "trm: rank %d of %d failed (exit status %d); stopping every rank\n", w->rank(), w->size(), status);
    w->abort(status);
  }
  w.reset();  // MPI_Finalize
  return status;
}

}  // namespace trm::dist
