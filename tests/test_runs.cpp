// Training runs and their files (docs/RELIABILITY.md, "Runs and files" and "Numerical faults"):
// checked reads of checkpoint state, the numerical guard (stop, skip, never a non-finite
// checkpoint, evaluation of a broken model), the run-directory lock, checked writes, stale
// temporary files, option ranges and output paths checked before any work.
#include <gtest/gtest.h>
#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend_util.h"
#include "data_util.h"
#include "expect_error.h"
#include "io/output_path.h"
#include "io/run_lock.h"
#include "temp_dir.h"
#include "trm/data/sudoku.h"
#include "trm/eval/evaluate.h"
#include "trm/io/safetensors.h"
#include "trm/train/checkpoint.h"
#include "trm/train/trainer.h"

namespace trm {
namespace {

namespace fs = std::filesystem;
using test_util::error_of;
using test_util::expect_error;
using test_util::TempDir;

// One OpenMP thread, as tests/test_train.cpp explains (libgomp spin-waits on a shared machine).
class OneThread : public ::testing::Environment {
 public:
  void SetUp() override { omp_set_num_threads(1); }
};
[[maybe_unused]] ::testing::Environment* const kOneThread = ::testing::AddGlobalTestEnvironment(new OneThread);

using test_util::small_sudoku_dir;

// 6 steps of 16 examples; an evaluation (and checkpoint) every int(0.24 * 200 / 16) = 3 steps.
TrainOptions run_options(const std::string& out) {
  TrainOptions o;
  o.data_dir = small_sudoku_dir();
  o.out_dir = out;
  o.model = {.vocab_size = 6, .seq_len = 16, .num_puzzle_identifiers = 1, .puzzle_emb_ndim = 32, .puzzle_emb_len = 2,
             .H_cycles = 2, .L_cycles = 2, .hidden_size = 32, .num_heads = 2};
  o.model.halt_max_steps = 3;
  o.optim.lr = 1e-3;
  o.optim.lr_warmup_steps = 2;
  o.optim.ema_rate = 0.9;
  o.optim.puzzle_emb_lr = 1e-2;
  o.global_batch = 16;
  o.max_steps = 6;
  o.eval_interval = 0.24;
  o.eval.max_examples = 8;
  o.eval.batch = 8;
  o.log_every = 1;
  o.progress = false;
  o.seed = 3;
  return o;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::string file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}


bool all_finite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

// A copy of a checkpoint with its "state" metadata edited and, optionally, one integer tensor.
void rewrite_checkpoint(const std::string& src, const std::string& dst, const std::function<void(nlohmann::json&)>& edit,
                        const std::string& int_tensor = "", const std::function<void(std::vector<std::int32_t>&)>& edit_ints = {}) {
  const SafeTensorsFile f = SafeTensorsFile::read(src);
  SafeTensorsWriter w;
  for (const auto& name : f.names()) {
    const TensorEntry& e = f.entry(name);
    if (e.dtype == DType::kF32) {
      w.add_f32(name, e.shape, f.floats(name).data());
      continue;
    }
    auto v = f.ints(name);
    if (name == int_tensor) edit_ints(v);
    if (e.dtype == DType::kU8) {
      const std::vector<std::uint8_t> b(v.begin(), v.end());
      w.add(name, DType::kU8, e.shape, b.data());
    } else {
      w.add(name, DType::kI32, e.shape, v.data());
    }
  }
  for (const auto& [k, v] : f.metadata()) w.set_metadata(k, v);
  nlohmann::json state = nlohmann::json::parse(f.metadata().at("state"));
  edit(state);
  w.set_metadata("state", state.dump());
  w.write(dst);
}

// Every tensor of a and b whose name starts with one of the prefixes, bit for bit ("" if equal).
std::string compare_tensors(const std::string& a_path, const std::string& b_path, const std::vector<std::string>& prefixes) {
  const SafeTensorsFile a = SafeTensorsFile::read(a_path), b = SafeTensorsFile::read(b_path);
  int compared = 0;
  for (const auto& name : a.names()) {
    bool want = false;
    for (const auto& p : prefixes) want |= name.rfind(p, 0) == 0;
    if (!want || a.entry(name).dtype != DType::kF32) continue;
    const auto x = a.floats(name), y = b.floats(name);
    if (x.size() != y.size() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) != 0) return name + " differs";
    ++compared;
  }
  return compared > 0 ? "" : "nothing compared";
}

// ---------------------------------------------------------------------------------------------
// 1. Checkpoint state: every read checked

struct StateCase {
  const char* what;
  std::function<void(nlohmann::json&)> edit;
  std::vector<std::string> needles;
};

TEST(CheckpointState, MissingWrongTypedAndContradictoryKeysAreNamedErrors) {
  TempDir tmp;
  const std::string base = tmp / "base";
  TrainOptions o = run_options(base);
  o.stop_after = 2;
  ASSERT_EQ(train(o, test_util::cpu_backend()).steps, 2);
  const std::string ck = base + "/checkpoint.safetensors";
  const std::vector<StateCase> cases = {
      {"no step", [](nlohmann::json& s) { s.erase("step"); }, {"metadata key \"step\" is missing"}},
      {"step as a string", [](nlohmann::json& s) { s["step"] = "2"; }, {"\"step\" must be a non-negative integer (got \"2\")"}},
      {"negative step", [](nlohmann::json& s) { s["step"] = -5; }, {"\"step\" must be a non-negative integer (got -5)"}},
      {"fractional step", [](nlohmann::json& s) { s["step"] = 2.5; }, {"\"step\" must be a non-negative integer (got 2.5)"}},
      {"no optimizer_step", [](nlohmann::json& s) { s.erase("optimizer_step"); }, {"\"optimizer_step\" is missing"}},
      {"optimizer_step null", [](nlohmann::json& s) { s["optimizer_step"] = nullptr; }, {"\"optimizer_step\" must be", "(got null)"}},
      {"no sampler", [](nlohmann::json& s) { s.erase("sampler"); }, {"metadata key \"sampler\" is missing"}},
      {"sampler beyond the data", [](nlohmann::json& s) { s["sampler"]["position"] = 1000000; }, {"\"sampler\"", "beyond"}},
      {"sampler of other data", [](nlohmann::json& s) { s["sampler"]["num_groups"] = 7; }, {"\"sampler\"", "num_groups"}},
      {"sampler a number", [](nlohmann::json& s) { s["sampler"] = 3; }, {"\"sampler\"", "not a training sampler state"}},
      {"no halt_rng", [](nlohmann::json& s) { s.erase("halt_rng"); }, {"\"halt_rng\" is missing"}},
      {"halt_rng wrong", [](nlohmann::json& s) { s["halt_rng"] = {1, 2}; }, {"\"halt_rng\"", "RNG state"}},
      {"skipped wrong", [](nlohmann::json& s) { s["skipped_nonfinite"] = -1; }, {"\"skipped_nonfinite\" must be"}},
      {"step beyond the run", [](nlohmann::json& s) { s["step"] = 100; }, {"at step 100, beyond this run's 6 steps"}},
      {"counters disagree", [](nlohmann::json& s) { s["step"] = 1; }, {"do not add up to \"step\" (1)"}},
      {"state not an object", [](nlohmann::json& s) { s = 5; }, {"\"state\" must be a JSON object"}},
      {"state null (read as {})", [](nlohmann::json& s) { s = nullptr; }, {"metadata key \"step\" is missing"}},
  };
  int i = 0;
  for (const auto& c : cases) {
    const std::string out = tmp / ("case" + std::to_string(i++));
    fs::create_directories(out);
    rewrite_checkpoint(ck, out + "/checkpoint.safetensors", c.edit);
    std::vector<std::string> needles = c.needles;
    needles.push_back(out + "/checkpoint.safetensors");
    const std::string msg = error_of([&] { train(run_options(out), test_util::cpu_backend()); });
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << c.what << ": " << msg << "\nmissing: " << n;
    EXPECT_FALSE(fs::exists(out + "/metrics.jsonl")) << c.what << ": the refused run started logging";
  }
  // Carry tensors outside the model's ranges (a token id past the vocabulary would index outside
  // the embedding table).
  const std::string out = tmp / "carry";
  fs::create_directories(out);
  rewrite_checkpoint(ck, out + "/checkpoint.safetensors", [](nlohmann::json&) {}, "carry.inputs",
                     [](std::vector<std::int32_t>& v) { v[5] = 99; });
  expect_error([&] { train(run_options(out), test_util::cpu_backend()); }, {"carry.inputs holds 99 at element 5", out});
  rewrite_checkpoint(ck, out + "/checkpoint.safetensors", [](nlohmann::json&) {}, "carry.steps",
                     [](std::vector<std::int32_t>& v) { v[0] = -1; });
  expect_error([&] { train(run_options(out), test_util::cpu_backend()); }, {"carry.steps holds -1"});
  // The untouched copy still resumes.
  const std::string good = tmp / "good";
  fs::create_directories(good);
  rewrite_checkpoint(ck, good + "/checkpoint.safetensors", [](nlohmann::json&) {});
  EXPECT_EQ(train(run_options(good), test_util::cpu_backend()).steps, 6);
}

// ---------------------------------------------------------------------------------------------
// 2. Numerical faults

// Makes the first parameter gradient NaN at the given steps (counted from 1).
std::function<void(TrmModel&, std::int64_t)> nan_gradient_at(std::vector<std::int64_t> steps) {
  return [steps](TrmModel& m, std::int64_t step) {
    if (std::find(steps.begin(), steps.end(), step) == steps.end()) return;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    m.backend().from_host(&nan, m.grads(), 1);
  };
}

TEST(NumericalGuard, ASkippedStepLeavesWeightsOptimizerAndEmaUntouched) {
  TempDir tmp;
  const std::string out = tmp / "run";
  TrainOptions o = run_options(out);
  o.checkpoint_every = 1;
  o.skip_nonfinite = 1;
  o.before_update = nan_gradient_at({3});
  o.stop_after = 2;
  ASSERT_EQ(train(o, test_util::cpu_backend()).steps, 2);
  fs::copy_file(out + "/checkpoint.safetensors", tmp / "step2.safetensors");
  o.stop_after = 1;  // step 3 only: the faulty one
  const TrainSummary s3 = train(o, test_util::cpu_backend());
  EXPECT_EQ(s3.steps, 3);
  EXPECT_EQ(s3.skipped_steps, 1);
  // Weights, EMA, Adam moments, puzzle embeddings and initial states: bit for bit those of step 2.
  EXPECT_EQ(compare_tensors(tmp / "step2.safetensors", out + "/checkpoint.safetensors",
                            {"model.", "ema.", "optim.", "puzzle_emb.", "H_init", "L_init"}),
            "");
  const Checkpoint ck = Checkpoint::read(out + "/checkpoint.safetensors");
  EXPECT_EQ(ck.state_count("step"), 3);
  EXPECT_EQ(ck.state_count("optimizer_step"), 2);  // the update did not happen
  EXPECT_EQ(ck.state_count("skipped_nonfinite"), 1);
  for (int h : ck.file().ints("carry.halted")) EXPECT_EQ(h, 1) << "every slot restarts after a skipped step";
  EXPECT_TRUE(all_finite(ck.file().floats("carry.z_H")));
  // The log says what happened.
  int skipped_lines = 0;
  for (const auto& j : read_jsonl(out + "/metrics.jsonl"))
    if (j.at("type") == "nonfinite") {
      ++skipped_lines;
      EXPECT_EQ(j.at("step"), 3);
      EXPECT_EQ(j.at("action"), "skipped");
      EXPECT_NE(j.at("what").get<std::string>().find("1 of"), std::string::npos) << j.dump();
    }
  EXPECT_EQ(skipped_lines, 1);
  // The run then continues normally to the end (the skip count survives the resume).
  o.stop_after = 0;
  const TrainSummary s = train(o, test_util::cpu_backend());
  EXPECT_EQ(s.steps, 6);
  EXPECT_EQ(s.skipped_steps, 1);
  const Checkpoint fin = Checkpoint::read(out + "/final.safetensors");
  for (const auto& name : fin.file().names())
    if (fin.file().entry(name).dtype == DType::kF32) {
      EXPECT_TRUE(all_finite(fin.file().floats(name))) << name;
    }
  EXPECT_EQ(Checkpoint::read(out + "/checkpoint.safetensors").state_count("optimizer_step"), 5);
}

TEST(NumericalGuard, StopsAtTheFirstFaultAndKeepsTheLastGoodCheckpoint) {
  TempDir tmp;
  const std::string out = tmp / "run";
  TrainOptions o = run_options(out);
  o.stop_after = 3;  // a checkpoint at step 3 (an evaluation step)
  train(o, test_util::cpu_backend());
  const std::string before = file_bytes(out + "/checkpoint.safetensors");
  ASSERT_FALSE(before.empty());
  o.stop_after = 0;
  o.before_update = nan_gradient_at({4, 5, 6});
  std::string msg;
  try {
    train(o, test_util::cpu_backend());
    ADD_FAILURE() << "no NumericalFault";
  } catch (const NumericalFault& e) {
    msg = e.what();
  }
  for (const std::string& n : std::vector<std::string>{"stopped at step 4", "non-finite values (1 of ", "parameter gradients",
                              out + "/checkpoint.safetensors (step 3)", "--skip-nonfinite"})
    EXPECT_NE(msg.find(n), std::string::npos) << msg << "\nmissing: " << n;
  EXPECT_EQ(file_bytes(out + "/checkpoint.safetensors"), before) << "the good checkpoint was rewritten";
  EXPECT_FALSE(fs::exists(out + "/final.safetensors"));
  EXPECT_EQ(read_jsonl(out + "/metrics.jsonl").back().at("action"), "stopped");

  // With one skip allowed: step 4 is skipped, step 5 stops the run.
  o.skip_nonfinite = 1;
  try {
    train(o, test_util::cpu_backend());
    ADD_FAILURE() << "no NumericalFault";
  } catch (const NumericalFault& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("stopped at step 5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("All 1 allowed skips"), std::string::npos) << msg;
  EXPECT_EQ(file_bytes(out + "/checkpoint.safetensors"), before);
}

TEST(NumericalGuard, ARealDivergenceStopsWithoutANonFiniteFile) {
  // lr = 1000: the updates blow the weights up within a few steps and the loss becomes NaN.
  TempDir tmp;
  const std::string out = tmp / "run";
  TrainOptions o = run_options(out);
  o.optim.lr = 1000;
  o.optim.lr_warmup_steps = 0;
  o.max_steps = 40;
  o.checkpoint_every = 1;
  std::string msg;
  try {
    train(o, test_util::cpu_backend());
    ADD_FAILURE() << "lr = 1000 trained 40 steps without a numerical fault";
  } catch (const NumericalFault& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("non-finite"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(out + "/final.safetensors"));
  if (fs::exists(out + "/checkpoint.safetensors")) {
    const Checkpoint ck = Checkpoint::read(out + "/checkpoint.safetensors");
    for (const auto& name : ck.file().names())
      if (ck.file().entry(name).dtype == DType::kF32) {
        EXPECT_TRUE(all_finite(ck.file().floats(name))) << name;
      }
  }
  std::printf("lr=1000: %s\n", msg.c_str());
}

TEST(NumericalGuard, RefusesToWriteACheckpointWithNonFiniteWeights) {
  TempDir tmp;
  const std::string out = tmp / "run";
  TrainOptions o = run_options(out);
  o.checkpoint_every = 1;
  // A NaN weight after the gradients were taken: the loss and gradients of step 3 are finite, but
  // the update leaves that weight (and its EMA) NaN.
  o.before_update = [](TrmModel& m, std::int64_t step) {
    if (step != 3) return;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    m.backend().from_host(&nan, m.params(), 1);
  };
  o.stop_after = 2;
  train(o, test_util::cpu_backend());
  const std::string before = file_bytes(out + "/checkpoint.safetensors");
  o.stop_after = 0;
  std::string msg;
  try {
    train(o, test_util::cpu_backend());
    ADD_FAILURE() << "no NumericalFault";
  } catch (const NumericalFault& e) {
    msg = e.what();
  }
  for (const std::string& n : std::vector<std::string>{"refusing to write " + out + "/checkpoint.safetensors", "1 in the weights",
                              "1 in the EMA weights", "(step 2)"})
    EXPECT_NE(msg.find(n), std::string::npos) << msg << "\nmissing: " << n;
  EXPECT_EQ(file_bytes(out + "/checkpoint.safetensors"), before);
  EXPECT_FALSE(fs::exists(out + "/checkpoint.safetensors.tmp"));
}

TEST(NumericalGuard, EvaluateCountsNonFiniteOutputsAsWrong) {
  const data::Dataset test = data::read_split(small_sudoku_dir(), "test");
  ModelConfig mc = run_options("").model;
  mc.vocab_size = test.meta.vocab_size;
  mc.seq_len = test.meta.seq_len;
  mc.num_puzzle_identifiers = test.meta.num_puzzle_identifiers;
  Backend& be = test_util::cpu_backend();
  TrmModel model(mc, be);
  model.init(1);
  EvalOptions eo;
  eo.batch = 16;
  const EvalResult ok = evaluate(model, test, eo);
  EXPECT_EQ(ok.nonfinite, 0);
  // Every weight NaN: every output NaN. Without the guard q_halt_accuracy was 1.0 here (NaN >= 0
  // is false, and every answer is wrong, so "predicted wrong" matched every time).
  be.fill(model.params(), std::numeric_limits<float>::quiet_NaN(), model.flat_size());
  const EvalResult bad = evaluate(model, test, eo);
  EXPECT_EQ(bad.n, test.num_examples);
  EXPECT_EQ(bad.nonfinite, bad.n);
  EXPECT_EQ(bad.q_halt_accuracy, 0.0);
  EXPECT_EQ(bad.exact_accuracy, 0.0);
  EXPECT_EQ(bad.cell_accuracy, 0.0);
}

// ---------------------------------------------------------------------------------------------
// 3. The run-directory lock

TEST(RunLock, ASecondHolderIsRefusedWithThePidHostAndStart) {
  TempDir tmp;
  std::string msg;
  {
    data::RunLock a(tmp.str());
    msg = error_of([&] { data::RunLock b(tmp.str()); });
    const nlohmann::json info = nlohmann::json::parse(file_bytes(tmp / ".lock"));
    EXPECT_EQ(info.at("pid").get<long long>(), static_cast<long long>(::getpid()));
    EXPECT_FALSE(info.at("host").get<std::string>().empty());
    EXPECT_FALSE(info.at("started").get<std::string>().empty());
  }
  for (const std::string& n : std::vector<std::string>{"run directory " + tmp.str() + " is in use by pid " + std::to_string(::getpid()) + " on ", " since "})
    EXPECT_NE(msg.find(n), std::string::npos) << msg << "\nmissing: " << n;
  // Released with its holder: the next one succeeds.
  EXPECT_EQ(error_of([&] { data::RunLock c(tmp.str()); }), "no error");
}

TEST(RunLock, AStaleLockFileDoesNotBlock) {
  TempDir tmp;
  const std::string out = tmp / "run";
  fs::create_directories(out);
  write_file(out + "/.lock", "{\"pid\": 999999, \"host\": \"gone\", \"started\": \"yesterday\"}\n");
  TrainOptions o = run_options(out);
  o.stop_after = 1;
  EXPECT_EQ(train(o, test_util::cpu_backend()).steps, 1);
  EXPECT_EQ(nlohmann::json::parse(file_bytes(out + "/.lock")).at("pid").get<long long>(), static_cast<long long>(::getpid()));
}

TEST(RunLock, TwoTrainersInOneProcess) {
  TempDir tmp;
  const std::string out = tmp / "run";
  Trainer first(run_options(out), test_util::cpu_backend());
  expect_error([&] { Trainer second(run_options(out), test_util::cpu_backend()); }, {"is in use by pid"});
}

TEST(RunLock, AnotherProcessHoldingTheDirectoryRefusesTraining) {
  TempDir tmp;
  const std::string out = tmp / "run";
  fs::create_directories(out);
  int ready[2], release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // holds the lock until the parent says so; no gtest, no OpenMP here
    int status = 0;
    try {
      data::RunLock lock(out);
      char c = 1;
      if (::write(ready[1], &c, 1) != 1) status = 1;
      if (::read(release[0], &c, 1) != 1) status = 1;
    } catch (...) {
      status = 2;
    }
    ::_exit(status);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  TrainOptions o = run_options(out);
  o.stop_after = 1;
  expect_error([&] { train(o, test_util::cpu_backend()); },
               {"run directory " + out + " is in use by pid " + std::to_string(child) + " on "});
  EXPECT_FALSE(fs::exists(out + "/config.json")) << "the refused run wrote into the directory";
  ASSERT_EQ(::write(release[1], &c, 1), 1);
  int status = -1;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // The holder has exited: its lock went with it.
  EXPECT_EQ(train(o, test_util::cpu_backend()).steps, 1);
  for (int fd : {ready[0], ready[1], release[0], release[1]}) ::close(fd);
}

// ---------------------------------------------------------------------------------------------
// 4.-5. Checked writes, stale temporary files

TEST(CheckedWrites, AFullDiskUnderTheMetricsStopsTheRun) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this system";
  TempDir tmp;
  const std::string out = tmp / "run";
  fs::create_directories(out);
  fs::create_symlink("/dev/full", out + "/metrics.jsonl");
  TrainOptions o = run_options(out);
  o.stop_after = 2;
  expect_error([&] { train(o, test_util::cpu_backend()); }, {out + "/metrics.jsonl", "write failed", std::strerror(ENOSPC)});
}

TEST(CheckedWrites, AFullDiskUnderTheCheckpointStopsTheRunAndLeavesNoTemporaryFile) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this system";
  TempDir tmp;
  const std::string out = tmp / "run";
  fs::create_directories(out);
  // The atomic writer opens NAME.tmp: a symlink there sends the checkpoint's bytes to /dev/full.
  fs::create_symlink("/dev/full", out + "/checkpoint.safetensors.tmp");
  TrainOptions o = run_options(out);
  o.stop_after = 1;
  expect_error([&] { train(o, test_util::cpu_backend()); }, {out + "/checkpoint.safetensors", std::strerror(ENOSPC)});
  EXPECT_FALSE(fs::exists(out + "/checkpoint.safetensors"));
}

TEST(StaleTemporaryFiles, AreRemovedAtTheNextStartAndSaid) {
  TempDir tmp;
  const std::string out = tmp / "run";
  fs::create_directories(out);
  write_file(out + "/checkpoint.safetensors.tmp", "half a checkpoint");
  write_file(out + "/final.safetensors.tmp", "half");
  write_file(out + "/config.json.tmp", "{");
  write_file(out + "/notes.tmp", "not ours");
  TrainOptions o = run_options(out);
  o.stop_after = 1;
  ::testing::internal::CaptureStderr();
  train(o, test_util::cpu_backend());
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(fs::exists(out + "/checkpoint.safetensors.tmp"));
  EXPECT_FALSE(fs::exists(out + "/final.safetensors.tmp"));
  EXPECT_FALSE(fs::exists(out + "/config.json.tmp"));
  EXPECT_TRUE(fs::exists(out + "/notes.tmp")) << "a file the trainer does not write was removed";
  EXPECT_NE(err.find("removed " + out + "/checkpoint.safetensors.tmp, left by an interrupted save"), std::string::npos) << err;
  EXPECT_TRUE(fs::exists(out + "/checkpoint.safetensors"));
}

// ---------------------------------------------------------------------------------------------
// 6.-7. Option ranges and output paths, checked before any work

TEST(TrainOptionRanges, ZeroOrNegativeIntervalsAreRefusedBeforeAnythingIsWritten) {
  TempDir tmp;
  const std::string out = tmp / "run";
  const std::vector<std::pair<std::function<void(TrainOptions&)>, std::string>> cases = {
      {[](TrainOptions& o) { o.log_every = 0; }, "log_every (--log-every) must be >= 1 (got 0)"},
      {[](TrainOptions& o) { o.log_every = -3; }, "--log-every"},
      {[](TrainOptions& o) { o.checkpoint_every = -1; }, "--checkpoint-every"},
      {[](TrainOptions& o) { o.stop_after = -1; }, "--stop-after"},
      {[](TrainOptions& o) { o.max_steps = -1; }, "--max-steps"},
      {[](TrainOptions& o) { o.time_budget_s = -60; }, "--time-budget"},
      {[](TrainOptions& o) { o.skip_nonfinite = -1; }, "--skip-nonfinite"},
      {[](TrainOptions& o) { o.eval.batch = 0; }, "--eval-batch"},
      {[](TrainOptions& o) { o.eval.max_examples = -1; }, "--eval-examples"},
      {[](TrainOptions& o) { o.micro_batch = -2; }, "--micro-batch"},
      {[](TrainOptions& o) { o.epochs = 0; }, "--epochs"},
      {[](TrainOptions& o) { o.eval_interval = 0; }, "eval_interval"},
  };
  for (const auto& [edit, needle] : cases) {
    TrainOptions o = run_options(out);
    edit(o);
    expect_error([&] { train(o, test_util::cpu_backend()); }, {needle});
    EXPECT_FALSE(fs::exists(out)) << needle << ": the refused run created its directory";
  }
}

TEST(OutputPaths, UnderARegularFileInProcAndReadOnly) {
  TempDir tmp;
  write_file(tmp / "file", "x");
  // A path below a regular file: fails for root too.
  expect_error([&] { data::prepare_output_dir(tmp / "file/sub"); }, {tmp / "file/sub", "cannot create the output directory"});
  expect_error([&] { data::prepare_output_dir(tmp / "file"); }, {tmp / "file", "not a directory"});
  expect_error([&] { data::check_output_file(tmp / "file/sub/report.json"); }, {tmp / "file/sub/report.json"});
  expect_error([&] { data::check_output_file(tmp.str()); }, {tmp.str(), "is a directory"});
  // /proc refuses new entries whoever asks, root included: a directory that exists but cannot be
  // written to, and one that cannot be created.
  expect_error([&] { data::prepare_output_dir("/proc/self"); }, {"/proc/self", "cannot write in the output directory"});
  expect_error([&] { data::prepare_output_dir("/proc/trm-no-such/run"); }, {"/proc/trm-no-such/run", "cannot create"});
  if (::geteuid() != 0) {  // permission bits stop only non-root users
    const std::string ro = tmp / "ro";
    fs::create_directories(ro);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
    expect_error([&] { data::prepare_output_dir(ro); }, {ro, std::strerror(EACCES)});
    expect_error([&] { data::prepare_output_dir(ro + "/sub"); }, {ro + "/sub", std::strerror(EACCES)});
    fs::permissions(ro, fs::perms::owner_all);
  }
  // A good directory is created, and the probe leaves nothing behind.
  data::prepare_output_dir(tmp / "new/deep");
  EXPECT_TRUE(data::directory_entries(tmp / "new/deep").empty());
  data::check_output_file(tmp / "new2/r.json");
  EXPECT_TRUE(fs::is_directory(tmp / "new2"));
  EXPECT_EQ(data::directory_entries(tmp.str(), {"file", "new", "new2"}), std::vector<std::string>{});
}

TEST(OutputPaths, TrainingUnderARegularFileIsATrmError) {
  TempDir tmp;
  write_file(tmp / "file", "x");
  // Was an uncaught std::filesystem::filesystem_error (exit 1, "internal error").
  expect_error([&] { train(run_options(tmp / "file/run"), test_util::cpu_backend()); },
               {tmp / "file/run", "cannot create the output directory"});
  expect_error([&] { train(run_options("/proc/self"), test_util::cpu_backend()); }, {"/proc/self", "cannot write"});
}

}  // namespace
}  // namespace trm
