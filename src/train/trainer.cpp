#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "trm/act.h"
#include "trm/checkpoint.h"
#include "trm/data/dataset.h"
#include "trm/data/rng.h"
#include "trm/data/sampler.h"
#include "trm/optim.h"
#include "trm/train.h"

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
          {"time_budget_s", o.time_budget_s}};
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

std::string format_duration(double s) {
  char buf[32];
  const long t = static_cast<long>(s);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

// Appends one JSON object per line; flushed every line so a crash loses nothing.
class JsonlLog {
 public:
  explicit JsonlLog(const std::string& path) : f_(path, std::ios::app) {
    if (!f_) throw Error(path + ": cannot open for appending");
  }
  void write(const nlohmann::json& j) { f_ << j.dump() << '\n' << std::flush; }

 private:
  std::ofstream f_;
};

// Sums of the reference's train metrics over one step (docs/REFERENCE.md §4): counted over slots that halted
// at this step and have supervised tokens.
struct StepMetrics {
  double count = 0, accuracy = 0, exact = 0, q_halt_acc = 0, steps = 0, lm_loss = 0, q_halt_loss = 0,
         q_continue_loss = 0;
};

}  // namespace

TrainSummary train(const TrainOptions& opt, Backend& backend) {
  const auto t_start = std::chrono::steady_clock::now();
  if (opt.global_batch < 1) throw Error("global_batch must be >= 1");
  const int micro = opt.micro_batch > 0 ? std::min(opt.micro_batch, opt.global_batch) : opt.global_batch;
  if (opt.global_batch % micro != 0)
    throw Error("global_batch " + std::to_string(opt.global_batch) + " is not a multiple of micro_batch " + std::to_string(micro));

  const data::Dataset train_set = data::read_split(opt.data_dir, "train");
  const bool has_test = fs::exists(fs::path(opt.data_dir) / "test" / "dataset.json");
  data::Dataset test_set;
  if (has_test) test_set = data::read_split(opt.data_dir, "test");

  ModelConfig mc = opt.model;
  mc.vocab_size = train_set.meta.vocab_size;
  mc.seq_len = train_set.meta.seq_len;
  mc.num_puzzle_identifiers = train_set.meta.num_puzzle_identifiers;
  mc.validate();
  OptimConfig oc = opt.optim;
  oc.loss_divisor = opt.global_batch;
  const double examples_per_epoch = static_cast<double>(train_set.num_groups()) * train_set.meta.mean_puzzle_examples;
  oc.total_steps = opt.max_steps > 0 ? opt.max_steps
                                     : static_cast<std::int64_t>(opt.epochs * examples_per_epoch / opt.global_batch);
  if (oc.total_steps < 1) throw Error("the run has no steps: epochs * examples per epoch < global_batch");
  oc.validate();
  if (!(opt.eval_interval > 0) || opt.eval_interval * static_cast<double>(train_set.num_groups()) > 1e9)
    throw Error("eval_interval must be > 0 epochs and at most 1e9 groups' worth (got " +
                std::to_string(opt.eval_interval) + " epochs of " + std::to_string(train_set.num_groups()) + " groups)");
  const std::int64_t eval_every =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(opt.eval_interval * examples_per_epoch / opt.global_batch));

  fs::create_directories(opt.out_dir);
  const std::string ckpt_path = (fs::path(opt.out_dir) / "checkpoint.safetensors").string();
  nlohmann::json config = {{"model", mc}, {"optim", oc}, {"train", to_json(opt)}};

  Backend* be = &backend;
  TrmModel model(mc, *be);
  model.init(opt.seed);
  model.reserve(micro, true);
  TrmOptimizer optimizer(model, oc);
  ActCarry carry(model, opt.global_batch);
  data::TrainSampler sampler(train_set, {opt.global_batch, opt.seed, std::max(1, static_cast<int>(opt.eval_interval))});
  data::Rng halt_rng(opt.seed, 0x4a11);  // exploration draws, independent of the sampler's stream
  std::int64_t step = 0;

  if (opt.resume && fs::exists(ckpt_path)) {
    const Checkpoint ck = Checkpoint::read(ckpt_path);
    if (ck.contents().config.at("model") != config.at("model"))
      throw Error(ckpt_path + ": was written with another model config; use a new --out directory or --no-resume");
    ck.load_train_state(model, optimizer, carry);
    const auto& st = ck.contents().state;
    step = st.at("step").get<std::int64_t>();
    sampler.restore(st.at("sampler"));
    halt_rng.set_state(st.at("halt_rng"), ckpt_path);
    std::fprintf(stderr, "trm train: resumed from %s at step %lld\n", ckpt_path.c_str(), static_cast<long long>(step));
  }
  {
    std::ofstream cf(fs::path(opt.out_dir) / "config.json");
    cf << config.dump(2) << "\n";
  }
  JsonlLog log((fs::path(opt.out_dir) / "metrics.jsonl").string());

  // An evaluation model holding the EMA weights (the reference evaluates and saves those).
  // It reads the training model's puzzle table (not EMA'd) rather than a copy of it: at ARC scale
  // that copy was 1.8 GB.
  TrmModel eval_model(mc, *be, &model);
  auto load_ema_weights = [&]() {
    be->copy(optimizer.ema(), eval_model.params(), model.flat_size());
    be->copy(model.H_init(), eval_model.H_init(), mc.hidden_size);
    be->copy(model.L_init(), eval_model.L_init(), mc.hidden_size);
  };
  auto run_eval = [&]() {
    load_ema_weights();
    const EvalResult r = evaluate(eval_model, test_set, opt.eval, [&](std::int64_t done, std::int64_t total) {
      if (opt.progress && isatty(2)) std::fprintf(stderr, "\r  eval %lld/%lld", static_cast<long long>(done), static_cast<long long>(total));
    });
    if (opt.progress && isatty(2)) std::fprintf(stderr, "\r");
    log.write({{"type", "eval"}, {"step", step}, {"n", r.n}, {"exact_accuracy", r.exact_accuracy},
               {"cell_accuracy", r.cell_accuracy}, {"avg_steps", r.avg_steps}, {"q_halt_accuracy", r.q_halt_accuracy},
               {"exact_by_step", r.exact_by_step}, {"halting", to_string(r.halting)}, {"seconds", r.seconds}});
    if (opt.progress)
      std::fprintf(stderr, "step %lld  eval on %lld: exact %.4f  cell %.4f  (%.1fs)\n", static_cast<long long>(step),
                   static_cast<long long>(r.n), r.exact_accuracy, r.cell_accuracy, r.seconds);
    return r;
  };
  auto save = [&]() {
    CheckpointContents c{config, {{"step", step}, {"sampler", sampler.state()}, {"halt_rng", halt_rng.state()}}};
    save_checkpoint(ckpt_path, model, &optimizer, &carry, c);
  };

  const int B = opt.global_batch, nd = mc.puzzle_emb_ndim;
  data::Batch fresh;
  std::vector<float> q_all(static_cast<std::size_t>(2 * B));
  std::vector<std::int32_t> correct(static_cast<std::size_t>(B)), valid(static_cast<std::size_t>(B)),
      seq_ok(static_cast<std::size_t>(B));
  DeviceBuffer row_grads(*be, std::max<std::int64_t>(1, static_cast<std::int64_t>(B) * nd));
  StepMetrics window;
  LossResult lr;  // reused by every micro-batch: the step allocates nothing
  std::int64_t window_steps = 0;
  TrainSummary summary;
  const std::int64_t first_step = step;
  auto t_window = std::chrono::steady_clock::now();
  const auto t_loop = t_window;

  g_stop_requested = 0;
  auto old_int = std::signal(SIGINT, on_stop_signal);
  auto old_term = std::signal(SIGTERM, on_stop_signal);
  while (step < oc.total_steps) {
    if (opt.stop_after > 0 && step - first_step >= opt.stop_after) break;
    if (g_stop_requested) {
      std::fprintf(stderr, "\ntrm train: stopping at step %lld (checkpoint written; rerun the same command to resume)\n",
                   static_cast<long long>(step));
      break;
    }
    while (!sampler.next(fresh)) {
    }
    carry.refill(Batch{B, fresh.inputs.data(), fresh.labels.data(), fresh.puzzle_identifiers.data()});
    model.zero_grads();
    StepMetrics m;
    for (int begin = 0; begin < B; begin += micro) {
      const Batch mb = carry.slots(begin, micro);
      model.train_step(mb, carry.z_H(begin), carry.z_L(begin), carry.steps().data() + begin, B, lr);
      if (nd > 0) be->copy(model.puzzle_row_grads(), row_grads.data() + static_cast<std::int64_t>(begin) * nd, static_cast<std::int64_t>(micro) * nd);
      be->to_host(model.q(), q_all.data() + 2 * begin, 2 * micro);
      for (int b = 0; b < micro; ++b) {
        correct[begin + b] = lr.correct[b];
        valid[begin + b] = lr.valid[b];
        seq_ok[begin + b] = lr.seq_correct[b];
      }
      m.lm_loss += lr.lm_loss;
      m.q_halt_loss += lr.q_halt_loss;
      m.q_continue_loss += lr.q_continue_loss;
    }
    optimizer.step(carry.puzzle_ids().data(), row_grads.data(), nd > 0 ? B : 0);
    carry.update_halting(q_all.data(), true, halt_rng);
    ++step;
    for (int b = 0; b < B; ++b) {
      if (!carry.halted()[b] || valid[b] == 0) continue;
      m.count += 1;
      m.accuracy += static_cast<double>(correct[b]) / valid[b];
      m.exact += seq_ok[b];
      m.q_halt_acc += (q_all[2 * b] >= 0.0f) == (seq_ok[b] != 0);  // as HRM's metric too (q_halt >= 0)
      m.steps += carry.steps()[b];
    }
    window.count += m.count;
    window.accuracy += m.accuracy;
    window.exact += m.exact;
    window.q_halt_acc += m.q_halt_acc;
    window.steps += m.steps;
    window.lm_loss += m.lm_loss / B;
    window.q_halt_loss += m.q_halt_loss / B;
    window.q_continue_loss += m.q_continue_loss / B;
    ++window_steps;

    const bool out_of_time =
        opt.time_budget_s > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count() >= opt.time_budget_s;
    const bool last = step == oc.total_steps || out_of_time;
    if (step % opt.log_every == 0 || last) {
      const auto now = std::chrono::steady_clock::now();
      const double dt = std::chrono::duration<double>(now - t_window).count();
      const double elapsed = std::chrono::duration<double>(now - t_loop).count();
      const double rate = window_steps / std::max(dt, 1e-9);
      const double eta = (oc.total_steps - step) / std::max((step - first_step) / std::max(elapsed, 1e-9), 1e-9);
      const double c = std::max(window.count, 1.0);
      nlohmann::json j = {{"type", "train"},
                          {"step", step},
                          {"lr", lr_schedule(step, oc.lr, oc.lr_warmup_steps, oc.total_steps, oc.lr_min_ratio)},
                          {"lm_loss", window.lm_loss / window_steps},
                          {"q_halt_loss", window.q_halt_loss / window_steps},
                          {"count", window.count},
                          {"accuracy", window.accuracy / c},
                          {"exact_accuracy", window.exact / c},
                          {"q_halt_accuracy", window.q_halt_acc / c},
                          {"steps", window.steps / c},
                          {"steps_per_second", rate},
                          {"samples_per_second", rate * B}};
      if (mc.act_continue()) j["q_continue_loss"] = window.q_continue_loss / window_steps;
      log.write(j);
      if (opt.progress) {
        const double frac = static_cast<double>(step) / oc.total_steps;
        std::fprintf(stderr, "%s[%5.1f%%] step %lld/%lld  loss %.4f  acc %.3f  exact %.3f  halt@%.1f  %.2f step/s  ETA %s%s",
                     isatty(2) ? "\r" : "", 100 * frac, static_cast<long long>(step), static_cast<long long>(oc.total_steps),
                     window.lm_loss / window_steps, window.accuracy / c, window.exact / c, window.steps / c, rate,
                     format_duration(eta).c_str(), isatty(2) ? "   " : "\n");
      }
      window = StepMetrics{};
      window_steps = 0;
      t_window = now;
    }
    const bool do_eval = has_test && (step % eval_every == 0 || last);
    if (do_eval) {
      if (opt.progress && isatty(2)) std::fprintf(stderr, "\n");
      summary.last_eval = run_eval();
      summary.evaluated = true;
    }
    if (do_eval || last || (opt.checkpoint_every > 0 && step % opt.checkpoint_every == 0)) save();
    if (out_of_time) {
      summary.stopped_by_time = true;
      break;
    }
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  if (step < oc.total_steps && !summary.stopped_by_time) save();  // stopped by stop_after or a signal: keep the exact state
  if (step == oc.total_steps || summary.stopped_by_time) {
    // The final model for inference: EMA weights, no optimizer state.
    load_ema_weights();
    save_checkpoint((fs::path(opt.out_dir) / "final.safetensors").string(), eval_model, nullptr, nullptr,
                    CheckpointContents{config, {{"step", step}}});
  }
  if (opt.progress && isatty(2)) std::fprintf(stderr, "\n");
  summary.steps = step;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return summary;
}

}  // namespace trm
