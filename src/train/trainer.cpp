#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "io/atomic_file.h"
#include "io/output_path.h"
#include "io/run_lock.h"
#include "trm/bench/bench.h"
#include "trm/data/grid.h"
#include "trm/dist/communicator.h"
#include "trm/model/memory.h"
#include "trm/train/checkpoint.h"
#include "trm/train/trainer.h"

namespace trm {

namespace fs = std::filesystem;

nlohmann::json to_json(const TrainOptions& o) {
  return {{"data_dir", o.data_dir},
          {"out_dir", o.out_dir},
          {"global_batch", o.global_batch},
          {"micro_batch", o.micro_batch},
          {"epochs", o.epochs},
          {"eval_interval", o.eval_interval},
          {"max_steps", o.max_steps},
          {"checkpoint_every", o.checkpoint_every},
          {"seed", o.seed},
          {"eval_batch", o.eval.batch},
          {"eval_max_examples", o.eval.max_examples},
          {"eval_halting", to_string(o.eval.halting)},
          {"time_budget_s", o.time_budget_s},
          {"skip_nonfinite", o.skip_nonfinite},
          {"precision", to_string(o.precision)}};
}

void TrainOptions::validate() const {
  auto at_least = [](const char* name, double v, double min) {
    if (!(v >= min)) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", v);
      throw Error(std::string(name) + " must be >= " + std::to_string(static_cast<long long>(min)) + " (got " + buf + ")");
    }
  };
  at_least("global_batch (--batch)", global_batch, 1);
  at_least("micro_batch (--micro-batch)", micro_batch, 0);
  at_least("log_every (--log-every)", log_every, 1);
  at_least("max_steps (--max-steps)", static_cast<double>(max_steps), 0);
  at_least("checkpoint_every (--checkpoint-every)", static_cast<double>(checkpoint_every), 0);
  at_least("stop_after (--stop-after)", static_cast<double>(stop_after), 0);
  at_least("skip_nonfinite (--skip-nonfinite)", static_cast<double>(skip_nonfinite), 0);
  at_least("time_budget_s (--time-budget)", time_budget_s, 0);
  at_least("eval batch (--eval-batch)", eval.batch, 1);
  at_least("eval max_examples (--eval-examples)", static_cast<double>(eval.max_examples), 0);
  if (!(epochs > 0) || !std::isfinite(epochs)) throw Error("epochs (--epochs) must be > 0 (got " + std::to_string(epochs) + ")");
  if (!std::isfinite(time_budget_s)) throw Error("time_budget_s (--time-budget) must be finite");
  if (precision == Precision::int8)
    throw Error("precision int8 is for inference only (eval, solve, bench infer); train in fp32 or bf16");
}

namespace {

// Ctrl-C / SIGTERM ask the loop to finish the current step, checkpoint and return; a second
// signal kills the process as usual.
volatile std::sig_atomic_t g_stop_requested = 0;
extern "C" void on_stop_signal(int sig) {
  if (g_stop_requested) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
  g_stop_requested = 1;
}

// Installs the stop handlers for the loop's lifetime and restores the previous ones on every way
// out, an exception included: a library call must not leave the caller's process with our
// handlers (which only set a flag nobody reads any more).
class StopSignalGuard {
 public:
  StopSignalGuard() {
    g_stop_requested = 0;
    old_int_ = std::signal(SIGINT, on_stop_signal);
    old_term_ = std::signal(SIGTERM, on_stop_signal);
  }
  ~StopSignalGuard() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;
  bool stop_requested() const { return g_stop_requested != 0; }

 private:
  void (*old_int_)(int) = SIG_DFL;
  void (*old_term_)(int) = SIG_DFL;
};

std::string format_duration(double s) {
  char buf[32];
  const long t = static_cast<long>(s);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The micro-batch size, once the global batch is known to split into whole micro-batches.
// `rows`: the rows one process computes (the global batch, or a rank's shard of it).
int checked_micro_batch(const TrainOptions& opt, int rows = 0) {
  if (opt.global_batch < 1) throw Error("global_batch must be >= 1");
  if (rows <= 0) rows = opt.global_batch;
  const int micro = opt.micro_batch > 0 ? std::min(opt.micro_batch, rows) : rows;
  if (rows % micro != 0)
    throw Error(rows == opt.global_batch
                    ? "global_batch " + std::to_string(opt.global_batch) + " is not a multiple of micro_batch " + std::to_string(micro)
                    : "the batch shard of each rank (" + std::to_string(rows) + " = global_batch / ranks) is not a multiple of micro_batch " +
                          std::to_string(micro));
  return micro;
}

// The rows of every global batch one rank computes: the batch split evenly (so every rank's
// collectives have equal sizes, and the result matches one process's).
int rows_per_rank(const TrainOptions& opt, const dist::Communicator& comm) {
  if (opt.global_batch % comm.size() != 0)
    throw Error("--batch " + std::to_string(opt.global_batch) + " is not a multiple of the " + std::to_string(comm.size()) +
                " ranks of this run (each rank takes an equal shard of every global batch)");
  return opt.global_batch / comm.size();
}

ModelConfig model_config_for(const TrainOptions& opt, const data::Dataset& train_set) {
  ModelConfig mc = opt.model;
  mc.vocab_size = train_set.meta.vocab_size;
  mc.seq_len = train_set.meta.seq_len;
  mc.num_puzzle_identifiers = train_set.meta.num_puzzle_identifiers;
  mc.validate();
  return mc;
}

double examples_per_epoch(const data::Dataset& train_set) {
  return static_cast<double>(train_set.num_groups()) * train_set.meta.mean_puzzle_examples;
}

OptimConfig optim_config_for(const TrainOptions& opt, const data::Dataset& train_set) {
  OptimConfig oc = opt.optim;
  oc.loss_divisor = opt.global_batch;
  oc.total_steps = opt.max_steps > 0
                       ? opt.max_steps
                       : static_cast<std::int64_t>(opt.epochs * examples_per_epoch(train_set) / opt.global_batch);
  if (oc.total_steps < 1) throw Error("the run has no steps: epochs * examples per epoch < global_batch");
  oc.validate();
  return oc;
}

std::int64_t eval_every_for(const TrainOptions& opt, const data::Dataset& train_set) {
  if (!(opt.eval_interval > 0) || opt.eval_interval * static_cast<double>(train_set.num_groups()) > 1e9)
    throw Error("eval_interval must be > 0 epochs and at most 1e9 groups' worth (got " +
                std::to_string(opt.eval_interval) + " epochs of " + std::to_string(train_set.num_groups()) + " groups)");
  return std::max<std::int64_t>(
      1, static_cast<std::int64_t>(opt.eval_interval * examples_per_epoch(train_set) / opt.global_batch));
}

const TrainOptions& validated(const TrainOptions& o) {
  o.validate();
  return o;
}

// Creates the run directory and proves it writable (before the model is built, so a bad --out
// fails fast, with a trm::Error naming it), and names its checkpoint.
std::string checkpoint_path_in(const std::string& out_dir, bool writer) {
  if (writer) data::prepare_output_dir(out_dir);
  return (fs::path(out_dir) / "checkpoint.safetensors").string();
}

// The whole run's memory, checked before its first allocation (docs/RELIABILITY.md): a config
// too large for the machine stops here with what it needs rather than in std::bad_alloc later.
ModelConfig memory_checked(ModelConfig mc, const TrainOptions& opt, int micro, bool has_test, Backend& be) {
  const int eval_batch = has_test ? std::max(1, opt.eval.batch) : 1;
  const MemoryEstimate m = estimate_training_memory(mc, be, opt.global_batch, micro, eval_batch);
  const std::int64_t avail = memory_available(be);
  if (m.total() > avail)
    throw Error("training this model with batch " + std::to_string(opt.global_batch) + " (micro-batch " +
                std::to_string(micro) + ") needs " + m.describe() + " of memory, " + format_gib(avail) +
                " available on " + be.name() + "; use a smaller --batch / --micro-batch or model");
  return mc;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "nan";  // not printf's "-nan": the sign of a NaN means nothing
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The optimizer snapshots the parameters it is built on (its EMA starts from them), so the model
// is initialized and reserved first; this runs inside Trainer's member initializers.
TrmModel& initialized(TrmModel& model, std::uint64_t seed, int micro) {
  model.init(seed);
  model.reserve(micro, true);
  return model;
}


std::string format_long_duration(double s) {
  if (!std::isfinite(s)) return "unknown";
  char buf[48];
  if (s >= 2 * 86400) {
    std::snprintf(buf, sizeof buf, "%.1f days", s / 86400);
    return buf;
  }
  if (s < 1) {
    std::snprintf(buf, sizeof buf, "%.0f ms", s * 1000);
    return buf;
  }
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
  }
  return format_duration(s);
}

std::string with_commas(std::int64_t v) {
  std::string d = std::to_string(v), out;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i > 0 && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return out;
}

// The GEMM rate at a width like the model's: a square product of side 2 x hidden (clamped), so a
// small model is not promised the rate of a large one. A few milliseconds on a CPU.
// The best of three short measurements: on a shared machine a single one can land in another
// process's burst and understate the rate several times over.
double gemm_rate_for(const ModelConfig& mc, Backend& be) {
  const int n = std::clamp(2 * mc.hidden_size, 128, 768);
  double best = 0;
  for (int i = 0; i < 3; ++i) best = std::max(best, measure_sgemm_gflops(be, n, 3));
  return best;
}

std::string format_flops(double f) {
  char buf[32];
  if (f >= 1e12)
    std::snprintf(buf, sizeof buf, "%.3g TFLOP", f * 1e-12);
  else
    std::snprintf(buf, sizeof buf, "%.3g GFLOP", f * 1e-9);
  return buf;
}

TrainPlan make_plan(const TrainOptions& opt, const data::Dataset& train_set, std::int64_t test_examples,
                    const ModelConfig& mc, const OptimConfig& oc, int micro, Backend& be, std::int64_t start_step) {
  TrainPlan p;
  p.model = mc;
  p.optim = oc;
  for (const ParamInfo& i : make_param_table(mc)) p.params += i.numel;
  p.puzzle_table_floats = static_cast<std::int64_t>(mc.num_puzzle_identifiers) * mc.puzzle_emb_ndim;
  p.train_examples = train_set.num_examples;
  p.test_examples = test_examples;
  p.total_steps = oc.total_steps;
  p.start_step = start_step;
  p.steps_this_run = std::max<std::int64_t>(0, oc.total_steps - start_step);
  if (opt.stop_after > 0) p.steps_this_run = std::min(p.steps_this_run, opt.stop_after);
  p.global_batch = opt.global_batch;
  p.flops_per_step = flops_per_sample_step(mc, true) * opt.global_batch;
  p.gemm_gflops = gemm_rate_for(mc, be);
  p.step_seconds = p.flops_per_step / std::max(p.gemm_gflops * 1e9 * kStepGemmEfficiency, 1.0);
  p.full_run_seconds = p.step_seconds * static_cast<double>(std::max<std::int64_t>(0, oc.total_steps - start_step));
  p.run_seconds = p.step_seconds * static_cast<double>(p.steps_this_run);
  if (opt.time_budget_s > 0 && opt.time_budget_s < p.run_seconds) {
    p.run_seconds = opt.time_budget_s;
    p.cut_by_time_budget = true;
  }
  p.gpu_scale = p.full_run_seconds > 86400;
  const int eval_batch = test_examples > 0 ? std::max(1, opt.eval.batch) : 1;
  const MemoryEstimate m = estimate_training_memory(mc, be, opt.global_batch, micro, eval_batch);
  p.memory_bytes = m.total();
  p.memory_text = m.describe();
  p.memory_available = memory_available(be);
  return p;
}
}  // namespace

std::string TrainPlan::describe() const {
  char buf[512];
  std::string out;
  std::snprintf(buf, sizeof buf, "trm train: %s, hidden %d, %s params (+ %s puzzle-embedding floats), %d positions\n",
                model.arch == Arch::kHrm ? "HRM" : (model.mlp_t ? "TRM-MLP" : "TRM-Att"), model.hidden_size,
                with_commas(params).c_str(), with_commas(puzzle_table_floats).c_str(), model.total_len());
  out += buf;
  std::snprintf(buf, sizeof buf, "  data: %s train / %s test examples; batch %d; steps %lld of %lld%s\n",
                with_commas(train_examples).c_str(), with_commas(test_examples).c_str(), global_batch,
                static_cast<long long>(start_step + steps_this_run), static_cast<long long>(total_steps),
                start_step > 0 ? (" (resuming at step " + std::to_string(start_step) + ")").c_str() : "");
  out += buf;
  std::snprintf(buf, sizeof buf,
                "  cost: %s per step; estimated %s per step (%.1f GFLOP/s GEMM measured here, %.0f%% of it assumed)\n",
                format_flops(flops_per_step).c_str(), format_long_duration(step_seconds).c_str(), gemm_gflops, kStepGemmEfficiency * 100);
  out += buf;
  std::snprintf(buf, sizeof buf, "  memory: %s; %s available%s\n", memory_text.c_str(), format_gib(memory_available).c_str(),
                memory_bytes > memory_available ? "  [DOES NOT FIT: use a smaller --batch / --micro-batch]" : "");
  out += buf;
  std::string eta = "  ETA: " + format_long_duration(run_seconds) + " for this run";
  if (cut_by_time_budget)
    eta += " (the time budget; about " + with_commas(static_cast<std::int64_t>(run_seconds / std::max(step_seconds, 1e-9))) +
           " steps)";
  if (full_run_seconds > run_seconds * 1.01) eta += "; the whole run " + format_long_duration(full_run_seconds);
  if (gpu_scale) eta += "  [GPU-scale: more than a day on this machine; see the cpu-* presets]";
  out += eta + "\n";
  return out;
}

nlohmann::json TrainPlan::to_json() const {
  return {{"params", params},
          {"puzzle_table_floats", puzzle_table_floats},
          {"hidden_size", model.hidden_size},
          {"positions", model.total_len()},
          {"train_examples", train_examples},
          {"test_examples", test_examples},
          {"global_batch", global_batch},
          {"total_steps", total_steps},
          {"start_step", start_step},
          {"steps_this_run", steps_this_run},
          {"flops_per_step", flops_per_step},
          {"gemm_gflops", gemm_gflops},
          {"est_step_seconds", step_seconds},
          {"est_run_seconds", run_seconds},
          {"est_full_run_seconds", full_run_seconds},
          {"cut_by_time_budget", cut_by_time_budget},
          {"gpu_scale", gpu_scale},
          {"memory_bytes", memory_bytes},
          {"memory_available_bytes", memory_available}};
}

TrainPlan plan_training(const TrainOptions& options, Backend& be) {
  const TrainOptions& opt = validated(options);
  const int micro = checked_micro_batch(opt);
  const data::Dataset train_set = data::read_split(opt.data_dir, "train");
  std::int64_t test_examples = 0;
  if (fs::exists(fs::path(opt.data_dir) / "test" / "dataset.json"))
    test_examples = data::read_split(opt.data_dir, "test").num_examples;
  const ModelConfig mc = model_config_for(opt, train_set);
  const OptimConfig oc = optim_config_for(opt, train_set);
  eval_every_for(opt, train_set);  // the same checks as the run
  std::int64_t start = 0;
  const fs::path ckpt = fs::path(opt.out_dir) / "checkpoint.safetensors";
  if (opt.resume && !opt.out_dir.empty() && fs::exists(ckpt))
    start = std::min(Checkpoint::read(ckpt.string()).state_count("step"), oc.total_steps);
  return make_plan(opt, train_set, test_examples, mc, oc, micro, be, start);
}

StepMetrics& StepMetrics::operator+=(const StepMetrics& o) {
  count += o.count;
  accuracy += o.accuracy;
  exact += o.exact;
  q_halt_acc += o.q_halt_acc;
  steps += o.steps;
  lm_loss += o.lm_loss;
  q_halt_loss += o.q_halt_loss;
  q_continue_loss += o.q_continue_loss;
  return *this;
}

// Appends one JSON object per line; flushed every line so a crash loses nothing. Every write is
// checked: a full disk or an I/O error stops the run with a trm::Error naming the file, rather
// than a run that "succeeds" with its metrics lost.
class Trainer::JsonlLog {
 public:
  explicit JsonlLog(std::string path) : path_(std::move(path)), f_(std::fopen(path_.c_str(), "a")) {
    if (!f_) throw Error(path_ + ": cannot open for appending (" + std::strerror(errno) + ")");
  }
  ~JsonlLog() { std::fclose(f_); }
  JsonlLog(const JsonlLog&) = delete;
  JsonlLog& operator=(const JsonlLog&) = delete;
  void write(const nlohmann::json& j) {
    // NaN and infinities become null (JSON has no spelling for them); bad UTF-8 is replaced.
    const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    errno = 0;
    if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0)
      throw Error(path_ + ": write failed (" + std::strerror(errno ? errno : EIO) + ")");
  }

 private:
  std::string path_;
  std::FILE* f_;
};

Trainer::Trainer(const TrainOptions& options, Backend& backend)
    : opt_(validated(options)),
      be_(backend),
      own_comm_(opt_.comm ? nullptr : dist::make_single_communicator()),
      comm_(opt_.comm ? *opt_.comm : *own_comm_),
      local_(rows_per_rank(opt_, comm_)),
      row0_(local_ * comm_.rank()),
      t_start_(std::chrono::steady_clock::now()),
      micro_(checked_micro_batch(opt_, local_)),
      train_set_(data::read_split(opt_.data_dir, "train")),
      has_test_(fs::exists(fs::path(opt_.data_dir) / "test" / "dataset.json")),
      test_set_(has_test_ ? data::read_split(opt_.data_dir, "test") : data::Dataset{}),
      // Before the run directory is made: a run that cannot fit writes nothing.
      mc_(memory_checked(model_config_for(opt_, train_set_), opt_, micro_, has_test_, be_)),
      oc_(optim_config_for(opt_, train_set_)),
      eval_every_(eval_every_for(opt_, train_set_)),
      ckpt_path_(checkpoint_path_in(opt_.out_dir, comm_.rank() == 0)),
      lock_(comm_.rank() == 0 ? std::make_unique<data::RunLock>(opt_.out_dir) : nullptr),
      config_({{"model", mc_}, {"optim", oc_}, {"train", to_json(opt_)}}),
      model_(mc_, be_),
      optimizer_(initialized(model_, opt_.seed, micro_), oc_),
      carry_(model_, local_),
      sampler_(train_set_, {opt_.global_batch, opt_.seed, std::max(1, static_cast<int>(opt_.eval_interval))}),
      halt_rng_(opt_.seed, 0x4a11),
      // An evaluation model holding the EMA weights (the reference evaluates and saves those).
      // It reads the training model's puzzle table (not EMA'd) rather than a copy of it: at ARC
      // scale that copy was 1.8 GB.
      eval_model_(mc_, be_, &model_),
      q_all_(static_cast<std::size_t>(2 * local_)),
      correct_(static_cast<std::size_t>(local_)),
      valid_(correct_.size()),
      seq_ok_(correct_.size()),
      row_grads_(be_, std::max<std::int64_t>(1, static_cast<std::int64_t>(local_) * mc_.puzzle_emb_ndim)) {
  if (comm_.size() > 1) {
    row_grads_all_ = DeviceBuffer(be_, std::max<std::int64_t>(1, static_cast<std::int64_t>(opt_.global_batch) * mc_.puzzle_emb_ndim));
    ids_all_.resize(static_cast<std::size_t>(opt_.global_batch));
    // Host staging for a backend with device memory: the gradient, this rank's puzzle rows, and
    // the recurrent state that a checkpoint gathers.
    coll_.reserve(std::max({model_.flat_size(), static_cast<std::int64_t>(local_) * mc_.puzzle_emb_ndim, carry_.state_size()}));
  }
  // A grid task's alphabet and width travel with every checkpoint, so `trm solve` can read and
  // print its puzzles without the data directory (include/trm/data/grid.h).
  if (const auto grid = data::read_grid_format(opt_.data_dir)) config_["grid"] = grid->to_json();
  // Packs of the bf16 weights are built lazily at their first use, so setting it here is in time.
  be_.set_precision(opt_.precision);
  // Temporary files of a save that a crash or kill -9 interrupted: never read (the complete
  // previous file is still under its name), so removed. Safe only because lock_ is held.
  for (const char* name : {"checkpoint.safetensors", "final.safetensors", "config.json"}) {
    if (!root()) break;  // rank 0 alone writes (and cleans) the run directory
    const std::string path = (fs::path(opt_.out_dir) / name).string();
    if (data::remove_stale_temp(path))
      std::fprintf(stderr, "trm train: removed %s, left by an interrupted save\n", data::atomic_temp_path(path).c_str());
  }
  if (opt_.resume && fs::exists(ckpt_path_)) resume();
  if (!root()) return;
  // After resuming, so a checkpoint of another config is refused before config.json changes.
  data::write_text_file((fs::path(opt_.out_dir) / "config.json").string(), config_.dump(2) + "\n");
  log_ = std::make_unique<JsonlLog>((fs::path(opt_.out_dir) / "metrics.jsonl").string());
}

bool Trainer::root() const { return comm_.rank() == 0; }

void Trainer::log_write(const nlohmann::json& j) {
  if (log_) log_->write(j);
}

bool Trainer::any_rank(bool local) {
  if (comm_.size() == 1) return local;
  double v = local ? 1.0 : 0.0;
  comm_.allreduce_sum(&v, 1);
  return v > 0;
}

void Trainer::reduce_metrics(double* v, int n) {
  if (comm_.size() > 1) comm_.allreduce_sum(v, n);
}

std::unique_ptr<ActCarry> Trainer::gathered_carry() {
  auto full = std::make_unique<ActCarry>(model_, opt_.global_batch);
  const std::int64_t state = carry_.state_size() / local_;  // floats per row of z_H (or z_L)
  const std::int64_t S = mc_.seq_len;
  coll_.allgather(carry_.z_H(), full->z_H(), local_ * state);
  coll_.allgather(carry_.z_L(), full->z_L(), local_ * state);
  comm_.allgather(carry_.inputs().data(), full->inputs().data(), local_ * S * 4);
  comm_.allgather(carry_.labels().data(), full->labels().data(), local_ * S * 4);
  comm_.allgather(carry_.puzzle_ids().data(), full->puzzle_ids().data(), local_ * 4);
  comm_.allgather(carry_.steps().data(), full->steps_mut().data(), local_ * 4);
  comm_.allgather(carry_.halted().data(), full->halted_mut().data(), local_);
  return full;
}

Trainer::~Trainer() = default;

void Trainer::resume() {
  const Checkpoint ck = Checkpoint::read(ckpt_path_);
  if (ck.is_quantized())
    throw Error(ckpt_path_ + ": is an int8 model (trm quantize) for eval and solve; training resumes only from its own checkpoints");
  if (ck.contents().config.at("model") != config_.at("model"))
    throw Error(ckpt_path_ + ": was written with another model config; use a new --out directory or --no-resume");
  {
    // Absent before precisions existed: those runs were fp32.
    const nlohmann::json& t = ck.contents().config.contains("train") ? ck.contents().config.at("train") : nlohmann::json();
    const std::string saved = t.is_object() && t.contains("precision") && t.at("precision").is_string()
                                  ? t.at("precision").get<std::string>() : "fp32";
    if (saved != to_string(opt_.precision))
      throw Error(ckpt_path_ + ": was trained in precision " + saved + ", not " + to_string(opt_.precision) +
                  "; resume with --precision " + saved + ", or start over with --no-resume");
  }
  // Every key read through the checked accessors (a missing key or a wrong type is a trm::Error
  // naming the file and the key), and the counters checked against each other and this run's
  // length before anything is loaded.
  const std::int64_t step = ck.state_count("step");
  const std::int64_t optimizer_step = ck.state_count("optimizer_step");
  // Absent in checkpoints written before the numerical guard existed: nothing was skipped then.
  const std::int64_t skipped = ck.contents().state.contains("skipped_nonfinite") ? ck.state_count("skipped_nonfinite") : 0;
  if (step > oc_.total_steps)
    throw Error(ckpt_path_ + ": is at step " + std::to_string(step) + ", beyond this run's " + std::to_string(oc_.total_steps) +
                " steps; raise --max-steps / --epochs, or start over with --no-resume");
  if (optimizer_step + skipped != step)
    throw Error(ckpt_path_ + ": metadata keys \"optimizer_step\" (" + std::to_string(optimizer_step) + ") and \"skipped_nonfinite\" (" +
                std::to_string(skipped) + ") do not add up to \"step\" (" + std::to_string(step) + ")");
  const nlohmann::json& sampler_state = ck.state_at("sampler");
  const nlohmann::json& rng_state = ck.state_at("halt_rng");
  if (comm_.size() == 1) {
    ck.load_train_state(model_, optimizer_, carry_);
  } else {
    // The checkpoint holds the carry of the whole global batch (whatever number of ranks wrote
    // it): each rank keeps the rows of its shard, exactly as a single process would hold them.
    ActCarry full(model_, opt_.global_batch);
    ck.load_train_state(model_, optimizer_, full);
    carry_.copy_rows_from(full, row0_);
  }
  try {
    sampler_.restore(sampler_state);
  } catch (const Error& e) {
    throw Error(ckpt_path_ + ": metadata key \"sampler\": " + e.what());
  }
  halt_rng_.set_state(rng_state, ckpt_path_ + ": metadata key \"halt_rng\"");
  step_ = step;
  skipped_ = skipped;
  last_checkpoint_step_ = step;
  if (root()) std::fprintf(stderr, "trm train: resumed from %s at step %lld\n", ckpt_path_.c_str(), static_cast<long long>(step_));
}

StepMetrics Trainer::step() {
  const int B = opt_.global_batch, nd = mc_.puzzle_emb_ndim;
  while (!sampler_.next(fresh_)) {
  }
  // Every rank draws the same global batch (the sampler's state is global) and refills its own
  // rows [row0_, row0_ + local_) from it.
  const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(row0_) * mc_.seq_len;
  carry_.refill(Batch{local_, fresh_.inputs.data() + off, fresh_.labels.data() + off, fresh_.puzzle_identifiers.data() + row0_});
  model_.zero_grads();
  StepMetrics m;
  for (int begin = 0; begin < local_; begin += micro_) {
    const Batch mb = carry_.slots(begin, micro_);
    model_.train_step(mb, carry_.z_H(begin), carry_.z_L(begin), carry_.steps().data() + begin, oc_.loss_divisor, lr_);
    if (nd > 0)
      be_.copy(model_.puzzle_row_grads(), row_grads_.data() + static_cast<std::int64_t>(begin) * nd,
               static_cast<std::int64_t>(micro_) * nd);
    be_.to_host(model_.q(), q_all_.data() + 2 * begin, 2 * micro_);
    std::copy_n(lr_.correct.begin(), micro_, correct_.begin() + begin);
    std::copy_n(lr_.valid.begin(), micro_, valid_.begin() + begin);
    std::copy_n(lr_.seq_correct.begin(), micro_, seq_ok_.begin() + begin);
    m.lm_loss += lr_.lm_loss;
    m.q_halt_loss += lr_.q_halt_loss;
    m.q_continue_loss += lr_.q_continue_loss;
  }
  // Data parallelism: the loss is divided by the global batch on every rank, so the sum of the
  // ranks' gradients is the gradient of the global batch. The puzzle-row gradients and ids of
  // every rank are gathered (in rank order = global row order) for the sparse SignSGD step, as
  // the reference's multi-GPU run all-gathers them (docs/REFERENCE.md §5.2).
  const float* rows = row_grads_.data();
  const std::int32_t* ids = carry_.puzzle_ids().data();
  if (comm_.size() > 1) {
    const auto t_comm = std::chrono::steady_clock::now();
    coll_.allreduce_sum(model_.grads(), model_.flat_size());
    if (nd > 0) {
      coll_.allgather(row_grads_.data(), row_grads_all_.data(), static_cast<std::int64_t>(local_) * nd);
      comm_.allgather(carry_.puzzle_ids().data(), ids_all_.data(), static_cast<std::int64_t>(local_) * 4);
      rows = row_grads_all_.data();
      ids = ids_all_.data();
    }
    double losses[3] = {m.lm_loss, m.q_halt_loss, m.q_continue_loss};
    reduce_metrics(losses, 3);
    m.lm_loss = losses[0];
    m.q_halt_loss = losses[1];
    m.q_continue_loss = losses[2];
    comm_seconds_ += seconds_since(t_comm);
  }
  if (opt_.before_update) opt_.before_update(model_, step_ + 1);
  // The numerical guard, before the update: a bad step can then be skipped with the weights, the
  // optimizer moments and step count and the EMA exactly as they were.
  if (const std::string bad = nonfinite_in_step(m); !bad.empty()) {
    ++step_;  // the batch is consumed either way
    handle_nonfinite_step(bad);  // throws NumericalFault when no skip is left
    last_step_skipped_ = true;
    return StepMetrics{};
  }
  last_step_skipped_ = false;
  optimizer_.step(ids, rows, nd > 0 ? B : 0);
  carry_.update_halting(q_all_.data(), true, halt_rng_, row0_, B - row0_ - local_);
  ++step_;
  for (int b = 0; b < local_; ++b) {
    if (!carry_.halted()[b] || valid_[b] == 0) continue;
    m.count += 1;
    m.accuracy += static_cast<double>(correct_[b]) / valid_[b];
    m.exact += seq_ok_[b];
    m.q_halt_acc += (q_all_[2 * b] >= 0.0f) == (seq_ok_[b] != 0);  // as HRM's metric too (q_halt >= 0)
    m.steps += carry_.steps()[b];
  }
  if (comm_.size() > 1) {
    double counts[5] = {m.count, m.accuracy, m.exact, m.q_halt_acc, m.steps};
    reduce_metrics(counts, 5);
    m.count = counts[0];
    m.accuracy = counts[1];
    m.exact = counts[2];
    m.q_halt_acc = counts[3];
    m.steps = counts[4];
  }
  // Losses per example of the global batch (the summed micro-batch losses over B).
  m.lm_loss /= B;
  m.q_halt_loss /= B;
  m.q_continue_loss /= B;
  return m;
}

std::string Trainer::nonfinite_in_step(const StepMetrics& m) {
  std::string what;
  auto add = [&what](const std::string& s) { what += (what.empty() ? "" : ", ") + s; };
  if (!std::isfinite(m.lm_loss)) add("lm_loss " + format_value(m.lm_loss));
  if (!std::isfinite(m.q_halt_loss)) add("q_halt_loss " + format_value(m.q_halt_loss));
  if (!std::isfinite(m.q_continue_loss)) add("q_continue_loss " + format_value(m.q_continue_loss));
  // One pass over the gradients (the losses alone miss a backward that overflows).
  const std::int64_t n = model_.flat_size();
  if (const std::int64_t bad = be_.count_nonfinite(model_.grads(), n))
    add(std::to_string(bad) + " of " + std::to_string(n) + " parameter gradients");
  // Every rank's rows (gathered) when there are several: all ranks reach the same verdict.
  const std::int64_t rows = static_cast<std::int64_t>(opt_.global_batch) * mc_.puzzle_emb_ndim;
  if (rows > 0)
    if (const std::int64_t bad = be_.count_nonfinite(comm_.size() > 1 ? row_grads_all_.data() : row_grads_.data(), rows))
      add(std::to_string(bad) + " of " + std::to_string(rows) + " puzzle-embedding gradients");
  return what;
}

std::string Trainer::last_good_checkpoint() const {
  if (last_checkpoint_step_ < 0)
    return "No checkpoint was written by this run before the fault, so there is nothing to resume from.";
  return "The last good checkpoint, " + ckpt_path_ + " (step " + std::to_string(last_checkpoint_step_) +
         "), is kept: resume from it with other optimizer settings (e.g. a lower lr), or start over with --no-resume.";
}

void Trainer::handle_nonfinite_step(const std::string& what) {
  if (skipped_ < opt_.skip_nonfinite) {
    ++skipped_;
    // The forward of this step wrote non-finite values into the carry: every slot restarts from
    // fresh examples and H_init / L_init at the next refill, as if it had halted.
    std::fill(carry_.halted_mut().begin(), carry_.halted_mut().end(), std::uint8_t{1});
    log_write({{"type", "nonfinite"}, {"step", step_}, {"action", "skipped"}, {"what", what}, {"skipped", skipped_}});
    if (root())
      std::fprintf(stderr, "%strm train: step %lld: non-finite values (%s); update skipped, weights unchanged (%lld of %lld skips used)\n",
                 opt_.progress ? "\n" : "", static_cast<long long>(step_), what.c_str(), static_cast<long long>(skipped_),
                 static_cast<long long>(opt_.skip_nonfinite));
    return;
  }
  log_write({{"type", "nonfinite"}, {"step", step_}, {"action", "stopped"}, {"what", what}, {"skipped", skipped_}});
  throw NumericalFault(
      "training stopped at step " + std::to_string(step_) + ": non-finite values (" + what + "). " + last_good_checkpoint() +
      (opt_.skip_nonfinite > 0 ? " All " + std::to_string(opt_.skip_nonfinite) + " allowed skips (--skip-nonfinite) are used."
                               : " Lower the learning rate, or let the run skip such steps with --skip-nonfinite N."));
}

void Trainer::check_finite_before_save(const std::string& file, bool ema_model, ActCarry* carry) {
  TrmModel& m = ema_model ? eval_model_ : model_;
  std::vector<std::pair<std::string, std::int64_t>> bad;
  auto count = [&](const char* what, const float* p, std::int64_t n) {
    if (n > 0)
      if (const std::int64_t k = be_.count_nonfinite(p, n)) bad.emplace_back(what, k);
  };
  count(ema_model ? "EMA weights" : "weights", m.params(), m.flat_size());
  count("puzzle embeddings", m.puzzle_table(), m.puzzle_table_size());
  if (!ema_model) {
    const std::int64_t n = model_.flat_size();
    count("EMA weights", optimizer_.ema(), n);
    count("Adam first moments", optimizer_.adam_m(), n);
    count("Adam second moments", optimizer_.adam_v(), n);
    if (carry) count("ACT carry", carry->z_H(), 2 * carry->state_size());
  }
  if (bad.empty()) return;
  std::string what;
  for (const auto& [name, k] : bad) what += (what.empty() ? "" : ", ") + std::to_string(k) + " in the " + name;
  log_write({{"type", "nonfinite"}, {"step", step_}, {"action", "stopped"}, {"what", what + " (not saved)"}});
  throw NumericalFault("training stopped at step " + std::to_string(step_) + ": refusing to write " + file +
                       " with non-finite values (" + what + "). " + last_good_checkpoint());
}

bool Trainer::log_train() {
  if (window_steps_ == 0) return true;  // every step of the window was skipped: no averages to log
  const int B = opt_.global_batch;
  const auto now = std::chrono::steady_clock::now();
  const double dt = std::chrono::duration<double>(now - t_window_).count();
  const double elapsed = std::chrono::duration<double>(now - t_loop_).count();
  const double rate = window_steps_ / std::max(dt, 1e-9);
  const double c = std::max(window_.count, 1.0);
  nlohmann::json j = {{"type", "train"},
                      {"step", step_},
                      {"lr", lr_schedule(step_, oc_.lr, oc_.lr_warmup_steps, oc_.total_steps, oc_.lr_min_ratio)},
                      {"lm_loss", window_.lm_loss / window_steps_},
                      {"q_halt_loss", window_.q_halt_loss / window_steps_},
                      {"count", window_.count},
                      {"accuracy", window_.accuracy / c},
                      {"exact_accuracy", window_.exact / c},
                      {"q_halt_accuracy", window_.q_halt_acc / c},
                      {"steps", window_.steps / c},
                      {"steps_per_second", rate},
                      {"samples_per_second", rate * B}};
  if (mc_.act_continue()) j["q_continue_loss"] = window_.q_continue_loss / window_steps_;
  if (comm_.size() > 1) {
    // Seconds per step in the gradient all-reduce and gathers, waiting for the slowest rank
    // included (docs/DISTRIBUTED.md).
    j["ranks"] = comm_.size();
    j["collectives"] = coll_.path();  // host (cpu), nccl, or staged through the host
    j["comm_seconds"] = comm_seconds_ / window_steps_;
  }
  comm_seconds_ = 0;
  log_write(j);
  // The ETA of this invocation: the steps left (to the end, or to --stop-after) at the rate so
  // far, cut by what is left of the time budget.
  std::int64_t left = oc_.total_steps - step_;
  if (opt_.stop_after > 0) left = std::min(left, first_step_ + opt_.stop_after - step_);
  double eta_s = static_cast<double>(left) / std::max((step_ - first_step_) / std::max(elapsed, 1e-9), 1e-9);
  const char* eta_note = "";
  if (opt_.time_budget_s > 0) {
    const double budget_left = std::max(0.0, opt_.time_budget_s - seconds_since(t_start_));
    if (budget_left < eta_s) {
      eta_s = budget_left;
      eta_note = " (time budget)";
    }
  }
  if (opt_.progress && root()) {
    // No slot halted in the window: there is no accuracy to show, and 0.000 would read as a result.
    char acc[16] = "-", exact[16] = "-", halt[16] = "-";
    if (window_.count > 0) {
      std::snprintf(acc, sizeof acc, "%.3f", window_.accuracy / c);
      std::snprintf(exact, sizeof exact, "%.3f", window_.exact / c);
      std::snprintf(halt, sizeof halt, "%.1f", window_.steps / c);
    }
    const double lr = lr_schedule(step_, oc_.lr, oc_.lr_warmup_steps, oc_.total_steps, oc_.lr_min_ratio);
    char first[48] = "";
    if (step_ == first_step_ + 1) std::snprintf(first, sizeof first, "  (first step %.2fs)", dt);
    const double frac = static_cast<double>(step_) / oc_.total_steps;
    std::fprintf(stderr, "%s[%5.1f%%] step %lld/%lld  loss %.4f  acc %s  exact %s  halt@%s  lr %.2g%s  %.2f step/s  ETA %s%s%s%s",
                 isatty(2) ? "\r" : "", 100 * frac, static_cast<long long>(step_), static_cast<long long>(oc_.total_steps),
                 window_.lm_loss / window_steps_, acc, exact, halt, lr, step_ < oc_.lr_warmup_steps ? " (warm-up)" : "", rate,
                 format_duration(eta_s).c_str(), eta_note, first, isatty(2) ? "   " : "\n");
  }
  bool go_on = true;
  if (opt_.on_progress && root())
    go_on = opt_.on_progress(TrainProgress{step_, oc_.total_steps, window_.lm_loss / window_steps_, window_.accuracy / c,
                                           window_.exact / c, rate, eta_s});
  window_ = StepMetrics{};
  window_steps_ = 0;
  t_window_ = now;
  return go_on;
}

void Trainer::load_ema_weights() {
  be_.copy(optimizer_.ema(), eval_model_.params(), model_.flat_size());
  be_.copy(model_.H_init(), eval_model_.H_init(), mc_.hidden_size);
  be_.copy(model_.L_init(), eval_model_.L_init(), mc_.hidden_size);
  be_.weights_changed();
}

EvalResult Trainer::evaluate() {
  load_ema_weights();
  EvalOptions eo = opt_.eval;
  eo.comm = &comm_;  // sharded across the ranks, the sums gathered: the single-process result
  const EvalResult r = trm::evaluate(eval_model_, test_set_, eo, [&](std::int64_t done, std::int64_t total) {
    if (opt_.progress && root() && isatty(2))
      std::fprintf(stderr, "\r  eval %lld/%lld", static_cast<long long>(done), static_cast<long long>(total));
  });
  if (opt_.progress && root() && isatty(2)) std::fprintf(stderr, "\r");
  log_write({{"type", "eval"}, {"step", step_}, {"n", r.n}, {"exact_accuracy", r.exact_accuracy},
               {"cell_accuracy", r.cell_accuracy}, {"avg_steps", r.avg_steps}, {"q_halt_accuracy", r.q_halt_accuracy},
               {"exact_by_step", r.exact_by_step}, {"halting", to_string(r.halting)}, {"seconds", r.seconds},
               {"nonfinite", r.nonfinite}});
  if (r.nonfinite > 0 && root())
    std::fprintf(stderr, "trm train: warning: step %lld: the EMA model's outputs were non-finite on %lld of %lld evaluation examples (counted wrong)\n",
                 static_cast<long long>(step_), static_cast<long long>(r.nonfinite), static_cast<long long>(r.n));
  if (opt_.progress && root())
    std::fprintf(stderr, "step %lld  eval on %lld: exact %.4f  cell %.4f  (%.1fs)\n", static_cast<long long>(step_),
                 static_cast<long long>(r.n), r.exact_accuracy, r.cell_accuracy, r.seconds);
  return r;
}

void Trainer::checkpoint() {
  // With several ranks the file holds the whole global batch's carry, gathered in rank order:
  // the same file one process would write, so any number of ranks resumes from it.
  std::unique_ptr<ActCarry> full = comm_.size() > 1 ? gathered_carry() : nullptr;
  ActCarry& carry = full ? *full : carry_;
  if (!root()) {
    last_checkpoint_step_ = step_;
    return;
  }
  check_finite_before_save(ckpt_path_, false, &carry);
  CheckpointContents c{config_,
                       {{"step", step_}, {"sampler", sampler_.state()}, {"halt_rng", halt_rng_.state()}, {"skipped_nonfinite", skipped_}}};
  save_checkpoint(ckpt_path_, model_, &optimizer_, &carry, c);
  last_checkpoint_step_ = step_;
}

void Trainer::save_final() {
  // The final model for inference: EMA weights, no optimizer state.
  load_ema_weights();
  const std::string path = (fs::path(opt_.out_dir) / "final.safetensors").string();
  if (!root()) return;
  check_finite_before_save(path, true, nullptr);
  save_checkpoint(path, eval_model_, nullptr, nullptr,
                  CheckpointContents{config_, {{"step", step_}, {"weights", oc_.ema_rate > 0 ? "ema" : "raw"}}});
}

void Trainer::print_banner() {
  const TrainPlan p = make_plan(opt_, train_set_, has_test_ ? test_set_.num_examples : 0, mc_, oc_, micro_, be_, step_);
  std::fprintf(stderr, "%s", p.describe().c_str());
}

TrainSummary Trainer::run() {
  TrainSummary summary;
  if (opt_.progress && root()) print_banner();
  first_step_ = step_;
  t_window_ = std::chrono::steady_clock::now();
  t_loop_ = t_window_;
  window_ = StepMetrics{};
  window_steps_ = 0;
  {
    const StopSignalGuard signals;
    while (step_ < oc_.total_steps) {
      if (opt_.stop_after > 0 && step_ - first_step_ >= opt_.stop_after) break;
      // Decisions that end the loop are agreed by every rank (a signal may reach one rank only).
      if (any_rank(signals.stop_requested())) {
        summary.stopped_by_signal = true;
        break;
      }
      window_ += step();
      if (!last_step_skipped_) ++window_steps_;

      const bool out_of_time = opt_.time_budget_s > 0 && any_rank(seconds_since(t_start_) >= opt_.time_budget_s);
      const bool last = step_ == oc_.total_steps || out_of_time;
      // The first step of this process is logged at once: its time is the real cost per step.
      if ((step_ % opt_.log_every == 0 || last || step_ == first_step_ + 1) && !log_train() && !last) summary.cancelled = true;
      summary.cancelled = any_rank(summary.cancelled);
      const bool do_eval = has_test_ && (step_ % eval_every_ == 0 || last);
      if (do_eval) {
        if (opt_.progress && root() && isatty(2)) std::fprintf(stderr, "\n");
        summary.last_eval = evaluate();
        summary.evaluated = true;
      }
      if (do_eval || last || (opt_.checkpoint_every > 0 && step_ % opt_.checkpoint_every == 0)) checkpoint();
      if (out_of_time) {
        summary.stopped_by_time = true;
        break;
      }
      if (summary.cancelled) break;  // after the step's evaluation/checkpoint, like stop_after
    }
  }  // the previous signal handlers are back from here on (and on an exception)
  if (step_ < oc_.total_steps && !summary.stopped_by_time) {
    // Stopped by stop_after or a signal: keep the exact state, and say what to do with it (there
    // is no final.safetensors yet; the checkpoint holds the EMA weights eval reads).
    checkpoint();
    if (root())
      std::fprintf(stderr,
                 "\ntrm train: stopped at step %lld of %lld%s; %s holds the state. Rerun the same command to resume, or "
                 "evaluate it now: trm eval --checkpoint %s --data %s\n",
                 static_cast<long long>(step_), static_cast<long long>(oc_.total_steps),
                 summary.stopped_by_signal ? " (interrupted)" : " (--stop-after)", ckpt_path_.c_str(), ckpt_path_.c_str(),
                 opt_.data_dir.c_str());
  }
  if (step_ == oc_.total_steps || summary.stopped_by_time) save_final();
  if (opt_.progress && isatty(2)) std::fprintf(stderr, "\n");
  summary.steps = step_;
  summary.skipped_steps = skipped_;
  summary.seconds = seconds_since(t_start_);
  return summary;
}

TrainSummary train(const TrainOptions& opt, Backend& backend) { return Trainer(opt, backend).run(); }

}  // namespace trm
