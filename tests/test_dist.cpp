// Data parallelism (docs/DISTRIBUTED.md): the communicators, the sharding helpers, and, in a build
// with MPI, whole runs under mpirun compared with one process.
//   Single.*, Shard.*, ActCarryShards.*  one process, always.
//   World.*     the collectives of dist::world(): trivially in one process, and for real under
//               `mpirun -np 2 test_dist --gtest_filter='World.*'` (ctest dist_world_mpi).
//   MpiRuns.*   (MPI builds) `trm train / eval` under mpirun -np 2 against one process; they FAIL
//               when mpirun is missing (the build has MPI, so the launcher belongs with it).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "backend_util.h"
#include "model_util.h"
#include "temp_dir.h"
#include "trm/data/rng.h"
#include "trm/dist/communicator.h"
#include "trm/io/safetensors.h"
#include "trm/model/model.h"
#include "trm/train/act.h"
#include "trm/train/device_collectives.h"

namespace trm {
namespace {

TEST(Single, RankSizeAndCollectives) {
  auto c = dist::make_single_communicator();
  EXPECT_EQ(c->rank(), 0);
  EXPECT_EQ(c->size(), 1);
  EXPECT_EQ(c->name(), "single");
  EXPECT_TRUE(c->is_root());
  std::vector<float> f = {1.5f, -2.0f};
  c->allreduce_sum(f.data(), 2);
  EXPECT_EQ(f, (std::vector<float>{1.5f, -2.0f}));
  std::vector<double> d = {3.0};
  c->allreduce_sum(d.data(), 1);
  EXPECT_EQ(d[0], 3.0);
  const std::int32_t send[3] = {7, 8, 9};
  std::int32_t recv[3] = {};
  c->allgather(send, recv, sizeof send);
  EXPECT_EQ(std::vector<std::int32_t>(recv, recv + 3), (std::vector<std::int32_t>{7, 8, 9}));
  c->broadcast(recv, sizeof recv, 0);
  EXPECT_THROW(c->broadcast(recv, sizeof recv, 1), Error);
  c->barrier();
}

// Rank 0 of a pretend group of two: the other rank's contributions are fixed patterns, and every
// buffer the collectives were handed is recorded.
class PretendTwoRanks : public dist::Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string name() const override { return "pretend"; }
  void allreduce_sum(float* data, std::int64_t n) override {
    seen.push_back(data);
    for (std::int64_t i = 0; i < n; ++i) data[i] += 100.0f + static_cast<float>(i);
  }
  void allreduce_sum(double* data, std::int64_t n) override {
    for (std::int64_t i = 0; i < n; ++i) data[i] *= 2;
  }
  void allgather(const void* send, void* recv, std::int64_t bytes) override {
    seen.push_back(send);
    seen.push_back(recv);
    std::memcpy(recv, send, static_cast<std::size_t>(bytes));
    auto* other = static_cast<float*>(recv) + bytes / 4;
    for (std::int64_t i = 0; i < bytes / 4; ++i) other[i] = -1.0f - static_cast<float>(i);
  }
  void broadcast(void*, std::int64_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
  std::vector<const void*> seen;
};

// A backend whose memory is not host memory (cuda-sim obeys the same rules as cuda) gets its
// buffers staged through the host: the communicator never sees a device pointer, and the results
// land back in device memory. The cpu backend's buffers go to the communicator as they are.
TEST(DeviceCollectives, StageDeviceMemoryThroughTheHost) {
  for (const char* name : {"cuda-sim", "cpu"}) {
    auto be = make_backend(name);
    PretendTwoRanks comm;
    DeviceCollectives coll(*be, comm);
    EXPECT_EQ(coll.staged(), std::string(name) == "cuda-sim") << name;
    const std::int64_t n = 5;
    coll.reserve(n);
    float* grad = be->alloc(n);
    float* gathered = be->alloc(2 * n);
    const std::vector<float> mine = {1, 2, 3, 4, 5};
    be->from_host(mine.data(), grad, n);
    coll.allreduce_sum(grad, n);
    std::vector<float> got(static_cast<std::size_t>(n));
    be->to_host(grad, got.data(), n);
    EXPECT_EQ(got, (std::vector<float>{101, 103, 105, 107, 109})) << name;
    coll.allgather(grad, gathered, n);
    std::vector<float> all(static_cast<std::size_t>(2 * n));
    be->to_host(gathered, all.data(), 2 * n);
    EXPECT_EQ(all, (std::vector<float>{101, 103, 105, 107, 109, -1, -2, -3, -4, -5})) << name;
    ASSERT_EQ(comm.seen.size(), 3u);
    for (const void* p : comm.seen) {
      const bool device = p == grad || p == gathered;
      EXPECT_EQ(device, !coll.staged()) << name << ": the communicator was handed " << (device ? "device" : "host") << " memory";
    }
    be->release(grad);
    be->release(gathered);
  }
}

TEST(Shard, RangesCoverEveryRowOnceInOrder) {
  for (std::int64_t n : {0, 1, 5, 16, 37})
    for (int size : {1, 2, 3, 8}) {
      std::int64_t next = 0;
      for (int r = 0; r < size; ++r) {
        const auto [first, end] = dist::shard_range(n, r, size);
        EXPECT_EQ(first, next) << n << " rows, rank " << r << " of " << size;
        EXPECT_LE(end - first, n / size + 1);
        EXPECT_GE(end - first, n / size);
        next = end;
      }
      EXPECT_EQ(next, n);
    }
}

// The halting draws of one carry of the whole batch, and of shards of it that skip the other
// rows' draws: the same flags, and the generator left in the same state.
TEST(ActCarryShards, HaltingDrawsMatchTheWholeBatch) {
  ModelConfig c = test_util::tiny_sudoku_mlp_4x4();
  c.halt_exploration_prob = 0.5;
  TrmModel model(c, test_util::cpu_backend());
  model.init(1);
  const int B = 8;
  std::vector<float> q(2 * B);
  data::Rng qg(5, 1);
  for (auto& v : q) v = static_cast<float>(qg.uniform() - 0.5);
  for (int step = 0; step < 3; ++step) {
    ActCarry whole(model, B);
    data::Rng g(9, 0x4a11);
    for (int s = 0; s <= step; ++s) whole.update_halting(q.data(), true, g);
    for (int shards : {2, 4}) {
      const int local = B / shards;
      for (int r = 0; r < shards; ++r) {
        ActCarry part(model, local);
        data::Rng h(9, 0x4a11);
        for (int s = 0; s <= step; ++s) part.update_halting(q.data() + 2 * r * local, true, h, r * local, B - (r + 1) * local);
        for (int b = 0; b < local; ++b) {
          EXPECT_EQ(part.halted()[b], whole.halted()[r * local + b]) << "row " << r * local + b;
          EXPECT_EQ(part.steps()[b], whole.steps()[r * local + b]);
        }
        EXPECT_EQ(h.state(), g.state()) << shards << " shards, rank " << r;
      }
    }
  }
}

TEST(ActCarryShards, CopyRowsTakesTheShard) {
  const ModelConfig c = test_util::tiny_sudoku_mlp_4x4();
  TrmModel model(c, test_util::cpu_backend());
  model.init(2);
  ActCarry whole(model, 4), part(model, 2);
  const std::int64_t per_row = whole.state_size() / 4;
  std::vector<float> zh(static_cast<std::size_t>(4 * per_row));
  std::iota(zh.begin(), zh.end(), 0.0f);
  std::copy(zh.begin(), zh.end(), whole.z_H());
  for (int b = 0; b < 4; ++b) {
    whole.puzzle_ids()[b] = 10 + b;
    whole.steps_mut()[b] = b;
    whole.halted_mut()[b] = b % 2;
  }
  part.copy_rows_from(whole, 2);
  EXPECT_EQ(part.z_H()[0], static_cast<float>(2 * per_row));
  EXPECT_EQ(part.puzzle_ids(), (std::vector<std::int32_t>{12, 13}));
  EXPECT_EQ(part.steps(), (std::vector<std::int32_t>{2, 3}));
  EXPECT_EQ(part.halted(), (std::vector<std::uint8_t>{0, 1}));
  EXPECT_THROW(part.copy_rows_from(whole, 3), Error);
}

// dist::world(): one process here; two ranks under ctest dist_world_mpi.
TEST(World, AllreduceAllgatherBroadcastBarrier) {
  dist::Communicator& w = dist::world();
  const int R = w.rank(), P = w.size();
  ASSERT_GE(P, 1);
  // Sums of rank-dependent values, exact in float.
  std::vector<float> f(1000);
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(i) + 1000.0f * static_cast<float>(R);
  w.allreduce_sum(f.data(), static_cast<std::int64_t>(f.size()));
  for (std::size_t i = 0; i < f.size(); ++i)
    ASSERT_EQ(f[i], static_cast<float>(P) * static_cast<float>(i) + 1000.0f * static_cast<float>(P * (P - 1) / 2)) << i;
  // Bucketed: several collectives of at most 7 floats, the same sums.
  std::vector<float> g(50, static_cast<float>(R + 1));
  dist::allreduce_sum_bucketed(w, g.data(), 50, 7);
  for (float v : g) ASSERT_EQ(v, static_cast<float>(P * (P + 1) / 2));
  double d = R + 0.5;
  w.allreduce_sum(&d, 1);
  EXPECT_EQ(d, P * (P - 1) / 2.0 + 0.5 * P);
  const std::int32_t mine[2] = {R, -R};
  std::vector<std::int32_t> all(2 * static_cast<std::size_t>(P));
  w.allgather(mine, all.data(), sizeof mine);
  for (int r = 0; r < P; ++r) {
    EXPECT_EQ(all[2 * r], r);
    EXPECT_EQ(all[2 * r + 1], -r);
  }
  std::int64_t v = R == 0 ? 42 : -1;
  w.broadcast(&v, sizeof v, 0);
  EXPECT_EQ(v, 42);
  w.barrier();
}

#ifdef TRM_TEST_MPIEXEC

namespace fs = std::filesystem;

struct Ran {
  int status = -1;
  std::string output;  // stdout and stderr
  double seconds = 0;
};

// Runs a shell command, its output captured in a file of `dir`.
Ran sh(const std::string& cmd, const std::string& dir) {
  const std::string log = dir + "/cmd.log";
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = std::system(("( " + cmd + " ) > '" + log + "' 2>&1").c_str());
  Ran r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  std::ifstream f(log);
  std::stringstream ss;
  ss << f.rdbuf();
  r.output = ss.str();
  return r;
}

// mpirun with 2 ranks on this machine: oversubscribed (2 cores shared with other work), unbound,
// one OpenMP thread per rank, yielding while it waits; allowed to run as root (CI containers). In
// the sanitizer build, LeakSanitizer would report Open MPI's own allocations that outlive
// MPI_Finalize; trm's leaks are checked by the single-process tests.
std::string mpirun(int ranks = 2) {
  return "ASAN_OPTIONS=detect_leaks=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 '" TRM_TEST_MPIEXEC "' -np " +
         std::to_string(ranks) +
         " --oversubscribe --bind-to none --mca mpi_yield_when_idle 1 --mca btl_vader_single_copy_mechanism none ";
}
const std::string kTrm = "'" TRM_TEST_BIN "'";
const std::string kModel = "tiny-sudoku-mlp hidden_size=32 puzzle_emb_ndim=32 ";

class MpiRuns : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(fs::exists(TRM_TEST_MPIEXEC)) << TRM_TEST_MPIEXEC
                                              << " is missing: this build has MPI, so its tests need Open MPI's launcher "
                                                 "(apt-get install openmpi-bin)";
    dir_ = new test_util::TempDir("dist");
    const Ran g = sh(kTrm + " data generate sudoku --n 4 --train 200 --test 40 --seed 1 --out " + data(), dir_->str());
    ASSERT_EQ(g.status, 0) << g.output;
    // The reference: one process, global batch 16, 6 steps.
    const Ran t = sh("OMP_NUM_THREADS=1 " + train_cmd(one()), dir_->str());
    ASSERT_EQ(t.status, 0) << t.output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string data() { return *dir_ / "s4"; }
  static std::string one() { return *dir_ / "one"; }
  static std::string train_cmd(const std::string& out, const std::string& extra = "") {
    return kTrm + " train " + kModel + "--data " + data() + " --out " + out + " --quiet --batch 16 --max-steps 6 --log-every 1 " +
           extra;
  }
  static test_util::TempDir* dir_;
};
test_util::TempDir* MpiRuns::dir_ = nullptr;

std::map<std::int64_t, nlohmann::json> train_lines(const std::string& out) {
  std::map<std::int64_t, nlohmann::json> m;
  std::ifstream f(out + "/metrics.jsonl");
  std::string line;
  while (std::getline(f, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.at("type") == "train") {
      EXPECT_EQ(m.count(j.at("step").get<std::int64_t>()), 0u) << "step logged twice in " << out;
      m[j.at("step").get<std::int64_t>()] = j;
    }
  }
  return m;
}

// The tolerance of a data-parallel run against one process: the gradients are the same sums in
// another order (each rank sums its rows, then MPI adds the ranks), so they differ in the last
// bits, and AdamATan2 (an atan2 of the moments) makes that visible in parameters whose gradient is
// near zero. Measured on this test: relative loss differences ~1e-5 after 6 steps, about what
// one process with micro-batches of 8 instead of 16 shows (tests/test_train.cpp).
// Tensors: differences up to 3e-3 of the tensor's largest magnitude. Measured: the ACT carry's
// z_H (largest magnitude 3.3, after 16 recursions per step) differs by 3.5e-3 between 2 ranks and
// one process, and by 3.1e-3 between one process with micro-batches of 8 and one without
// (MpiRuns.MicroBatchesOfOneProcessForScale); every other tensor by far less.
constexpr double kLossRel = 1e-4, kTensorRel = 3e-3;

void expect_same_run(const std::string& a, const std::string& b) {
  const auto la = train_lines(a), lb = train_lines(b);
  ASSERT_EQ(la.size(), lb.size());
  double worst = 0;
  for (const auto& [step, ja] : la) {
    ASSERT_TRUE(lb.count(step)) << "step " << step;
    const auto& jb = lb.at(step);
    for (const char* k : {"lm_loss", "q_halt_loss"}) {
      const double x = ja.at(k).get<double>(), y = jb.at(k).get<double>();
      const double rel = std::abs(x - y) / std::max(std::abs(x), 1e-12);
      worst = std::max(worst, rel);
      EXPECT_LE(rel, kLossRel) << k << " at step " << step << ": " << x << " vs " << y;
    }
    for (const char* k : {"count", "lr"}) EXPECT_EQ(ja.at(k), jb.at(k)) << k << " at step " << step;
  }
  const SafeTensorsFile fa = SafeTensorsFile::read(a + "/checkpoint.safetensors");
  const SafeTensorsFile fb = SafeTensorsFile::read(b + "/checkpoint.safetensors");
  ASSERT_EQ(fa.names(), fb.names());
  double max_diff = 0;
  std::string worst_tensor;
  for (const auto& name : fa.names()) {
    ASSERT_EQ(fa.entry(name).shape, fb.entry(name).shape) << name;
    if (fa.entry(name).dtype == DType::kF32) {
      const auto x = fa.floats(name), y = fb.floats(name);
      double d = 0, scale = 1;
      for (std::size_t i = 0; i < x.size(); ++i) {
        d = std::max(d, static_cast<double>(std::abs(x[i] - y[i])));
        scale = std::max(scale, static_cast<double>(std::abs(x[i])));
      }
      EXPECT_LE(d, kTensorRel * scale) << name << " (largest magnitude " << scale << ")";
      if (d > max_diff) {
        max_diff = d;
        worst_tensor = name;
      }
    } else if (fa.entry(name).dtype == DType::kI32 || fa.entry(name).dtype == DType::kU8) {
      // The carry's slot data, steps and halting flags, and the step counts: exactly equal.
      EXPECT_EQ(fa.ints(name), fb.ints(name)) << name;
    }
  }
  // The sampler, exploration RNG and step counts (the config differs in out_dir only).
  for (const auto& [key, value] : fa.metadata()) {
    if (key == "config") continue;
    EXPECT_EQ(value, fb.metadata().at(key)) << key;
  }
  std::printf("%s vs %s: worst relative loss difference %.3g, max tensor difference %.3g (%s)\n", a.c_str(), b.c_str(), worst,
              max_diff, worst_tensor.c_str());
}

// The control: one process in micro-batches of 8 sums the same gradients in another order too.
TEST_F(MpiRuns, MicroBatchesOfOneProcessForScale) {
  const std::string out = *dir_ / "micro";
  const Ran r = sh("OMP_NUM_THREADS=1 " + train_cmd(out, "--micro-batch 8"), dir_->str());
  ASSERT_EQ(r.status, 0) << r.output;
  expect_same_run(one(), out);
}

TEST_F(MpiRuns, TwoRanksMatchOneProcess) {
  const std::string two = *dir_ / "two";
  const Ran r = sh(mpirun() + train_cmd(two), dir_->str());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"ranks\":2"), std::string::npos) << r.output;
  expect_same_run(one(), two);
}

// A backend with device memory (cuda-sim keeps the CUDA backend's rules: host_accessible() is
// false) trains data-parallel through host-staged collectives, matching one process on it.
TEST_F(MpiRuns, DeviceMemoryBackendTwoRanksMatchOneProcess) {
  const std::string one_sim = *dir_ / "one_sim", two_sim = *dir_ / "two_sim";
  Ran r = sh("OMP_NUM_THREADS=1 " + train_cmd(one_sim, "--backend cuda-sim"), dir_->str());
  ASSERT_EQ(r.status, 0) << r.output;
  r = sh(mpirun() + train_cmd(two_sim, "--backend cuda-sim"), dir_->str());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"ranks\":2"), std::string::npos) << r.output;
  std::ifstream log(two_sim + "/metrics.jsonl");
  const std::string first((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(first.find("\"collectives\":\"staged\""), std::string::npos) << first.substr(0, 400);
  expect_same_run(one_sim, two_sim);
}

TEST_F(MpiRuns, StopWithTwoRanksResumeWithOne) {
  const std::string out = *dir_ / "two_then_one";
  Ran r = sh(mpirun() + train_cmd(out, "--stop-after 3"), dir_->str());
  ASSERT_EQ(r.status, 0) << r.output;
  r = sh("OMP_NUM_THREADS=1 " + train_cmd(out), dir_->str());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
  expect_same_run(one(), out);
}

TEST_F(MpiRuns, StopWithOneResumeWithTwo) {
  const std::string out = *dir_ / "one_then_two";
  Ran r = sh("OMP_NUM_THREADS=1 " + train_cmd(out, "--stop-after 3"), dir_->str());
  ASSERT_EQ(r.status, 0) << r.output;
  r = sh(mpirun() + train_cmd(out), dir_->str());
  ASSERT_EQ(r.status, 0) << r.output;
  expect_same_run(one(), out);
}

nlohmann::json last_json(const std::string& output) {
  std::istringstream in(output);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '{') last = line;
  return last.empty() ? nlohmann::json() : nlohmann::json::parse(last);
}

TEST_F(MpiRuns, ShardedEvalEqualsOneProcess) {
  // An odd number of examples: shards of 19 and 18 rows.
  for (const char* halting : {"reference", "adaptive"}) {
    const std::string cmd = kTrm + " eval --checkpoint " + one() + "/final.safetensors --data " + data() +
                            " --examples 37 --batch 8 --halting " + halting;
    const Ran a = sh("OMP_NUM_THREADS=1 " + cmd, dir_->str());
    ASSERT_EQ(a.status, 0) << a.output;
    const Ran b = sh(mpirun() + cmd, dir_->str());
    ASSERT_EQ(b.status, 0) << b.output;
    const nlohmann::json ja = last_json(a.output), jb = last_json(b.output);
    ASSERT_TRUE(ja.is_object()) << "no JSON line in:\n" << a.output;
    ASSERT_TRUE(jb.is_object()) << "no JSON line in:\n" << b.output;
    for (const char* k : {"n", "exact_accuracy", "cell_accuracy", "avg_steps", "q_halt_accuracy", "exact_by_step", "row_steps"})
      EXPECT_EQ(ja.at(k), jb.at(k)) << halting << " " << k;
    EXPECT_EQ(std::count(b.output.begin(), b.output.end(), '{'), 1) << "rank 0 alone prints the result:\n" << b.output;
  }
}

// trm arc eval: each rank computes its batches of every round; the votes, pass@k and
// submission.json equal one process's.
TEST_F(MpiRuns, ShardedArcEvalEqualsOneProcess) {
  const std::string tasks = *dir_ / "tasks";
  fs::create_directories(tasks);
  std::ofstream(tasks + "/recolor.json")
      << R"({"train": [{"input": [[1,0],[0,1]], "output": [[2,0],[0,2]]}, {"input": [[1,1],[0,0]], "output": [[2,2],[0,0]]}],)"
      << R"( "test": [{"input": [[0,1],[1,1]], "output": [[0,2],[2,2]]}]})";
  std::ofstream(tasks + "/flip.json")
      << R"({"train": [{"input": [[3,0,0]], "output": [[0,0,3]]}, {"input": [[4,5,0]], "output": [[0,5,4]]}],)"
      << R"( "test": [{"input": [[0,6,7]], "output": [[7,6,0]]}]})";
  const std::string arc = *dir_ / "arc", run = *dir_ / "arcrun";
  Ran r = sh(kTrm + " data build arc --source " + dir_->str() + " --subsets tasks --test-set tasks --aug 5 --seed 0 --out " + arc,
             dir_->str());
  ASSERT_EQ(r.status, 0) << r.output;
  r = sh("OMP_NUM_THREADS=1 " + kTrm + " train arc1-att hidden_size=16 num_heads=2 puzzle_emb_ndim=16 H_cycles=1 L_cycles=1 " +
             "halt_max_steps=2 --data " + arc + " --out " + run + " --quiet --batch 4 --max-steps 2 --eval-examples 4",
         dir_->str());
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string cmd = kTrm + " arc eval --checkpoint " + run + "/final.safetensors --data " + arc + " --batch 3 --out ";
  const Ran a = sh("OMP_NUM_THREADS=1 " + cmd + (*dir_ / "arc1"), dir_->str());
  ASSERT_EQ(a.status, 0) << a.output;
  const Ran b = sh(mpirun() + cmd + (*dir_ / "arc2"), dir_->str());
  ASSERT_EQ(b.status, 0) << b.output;
  nlohmann::json ja = last_json(a.output), jb = last_json(b.output);
  ASSERT_TRUE(ja.contains("votes")) << a.output;
  ASSERT_TRUE(jb.is_object()) << "no JSON line in:\n" << b.output;
  ja.erase("checkpoint");
  jb.erase("checkpoint");
  EXPECT_EQ(ja, jb);
  auto slurp = [](const std::string& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  EXPECT_EQ(slurp(*dir_ / "arc1/submission.json"), slurp(*dir_ / "arc2/submission.json"));
  EXPECT_FALSE(slurp(*dir_ / "arc1/submission.json").empty());
}

TEST_F(MpiRuns, BatchMustSplitEvenly) {
  const Ran r = sh(mpirun() + kTrm + " train " + kModel + "--data " + data() + " --out " + (*dir_ / "odd") +
                       " --quiet --batch 15 --max-steps 2",
                   dir_->str());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--batch 15 is not a multiple of the 2 ranks"), std::string::npos) << r.output;
}

// A run that would take minutes, one of whose ranks is killed (-9) or stopped (SIGSTOP: a rank that
// hangs) after 4 seconds: the other must end within the test's bound, with a message.
Ran run_with_a_failing_rank(const std::string& dir, const std::string& signal, const std::string& env) {
  const std::string out = dir + "/failing_" + signal;
  const std::string rank1 = "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (sleep 4; kill -" + signal + " $$) & fi; exec " + kTrm +
                            " train " + kModel + "--data " + dir + "/s4 --out " + out + " --quiet --batch 16 --max-steps 1000000";
  return sh("timeout -s KILL 90 env " + env + " " + mpirun() + "sh -c '" + [&] {
    std::string q;
    for (char ch : rank1) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return q;
  }() + "'", dir);
}

TEST_F(MpiRuns, KilledRankStopsTheOthers) {
  const Ran r = run_with_a_failing_rank(dir_->str(), "KILL", "TRM_COLLECTIVE_TIMEOUT=600");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_LT(r.seconds, 60) << "timeout had to kill mpirun:\n" << r.output;
  EXPECT_NE(r.output.find("signal 9"), std::string::npos) << r.output;  // Open MPI names the dead rank and its signal
  std::printf("killed rank: the run ended after %.1f s:\n%s\n", r.seconds, r.output.c_str());
}

TEST_F(MpiRuns, HungRankTimesOut) {
  const Ran r = run_with_a_failing_rank(dir_->str(), "STOP", "TRM_COLLECTIVE_TIMEOUT=5");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_LT(r.seconds, 60) << "timeout had to kill mpirun:\n" << r.output;
  EXPECT_NE(r.output.find("rank 0 of 2: waited"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("TRM_COLLECTIVE_TIMEOUT=5"), std::string::npos) << r.output;
  std::printf("stopped rank: the run ended after %.1f s:\n%s\n", r.seconds, r.output.c_str());
}

#endif  // TRM_TEST_MPIEXEC

}  // namespace
}  // namespace trm
