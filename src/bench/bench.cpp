// `trm bench`: times optimizer steps (train) or complete halt_max_steps-step inferences (infer)
// on synthetic inputs of the preset's shape. The work per iteration is exactly what
// reference/bench_reference.py does in PyTorch.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "trm/train/act.h"
#include "trm/backend/backend.h"
#include "trm/bench/bench.h"
#include "trm/data/rng.h"
#include "trm/model/model.h"
#include "trm/train/optim.h"

namespace trm {

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

double measure_sgemm_gflops(Backend& be, int n, int reps) {
  // Through the backend's own linear layer (y = x W^T), so the rate is the one the model's GEMMs
  // can reach on that backend.
  std::vector<float> a(static_cast<std::size_t>(n) * n), b(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<float>((i * 7919) % 1000) * 1e-3f - 0.5f;
    b[i] = static_cast<float>((i * 104729) % 1000) * 1e-3f - 0.5f;
  }
  const std::int64_t size = static_cast<std::int64_t>(a.size());
  DeviceBuffer x(be, size), w(be, size), y(be, size);
  be.from_host(a.data(), x.data(), size);
  be.from_host(b.data(), w.data(), size);
  std::vector<double> rates;
  float probe = 0;
  for (int r = 0; r <= reps; ++r) {  // the first product warms up threads and caches
    const double t0 = now_s();
    be.linear_fwd(x.data(), n, w.data(), y.data(), n, n, n, n);
    be.to_host(y.data(), &probe, 1);  // waits for a backend that computes asynchronously
    const double dt = now_s() - t0;
    if (r > 0) rates.push_back(2.0 * n * n * static_cast<double>(n) / dt * 1e-9);
  }
  return median(rates);
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux reports KiB
}

nlohmann::json run_bench(const BenchOptions& opt, Backend& backend) {
  const ModelConfig& cfg = opt.model;
  cfg.validate();
  if (opt.batch < 1) throw Error("bench: batch must be >= 1");
  if (opt.iterations < 1) throw Error("bench: iterations must be >= 1");
  if (opt.training && backend.precision() == Precision::int8)
    throw Error("bench: int8 is an inference precision (train in fp32 or bf16)");
  const int B = opt.batch, S = cfg.seq_len, V = cfg.vocab_size;
  Backend* be = &backend;
  TrmModel model(cfg, *be);
  model.init(opt.seed);
  model.reserve(B, opt.training);

  // Synthetic batch: tokens and labels uniform over the non-pad vocabulary, puzzle ids uniform.
  data::Rng rng(opt.seed + 1);
  std::vector<std::int32_t> inputs(static_cast<std::size_t>(B) * S), labels(inputs.size()), ids(B);
  for (auto& t : inputs) t = 1 + static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(V - 1)));
  for (auto& t : labels) t = 1 + static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(V - 1)));
  for (auto& t : ids) t = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(cfg.num_puzzle_identifiers)));
  const Batch batch{B, inputs.data(), labels.data(), ids.data()};

  InferenceCarry carry(model, B);
  carry.reset(B);
  std::unique_ptr<TrmOptimizer> optim;
  OptimConfig oc = opt.optim;
  oc.loss_divisor = B;      // the summed loss is divided by the batch, as the trainer does
  oc.lr_warmup_steps = 1;   // a real learning rate from the first step
  if (opt.training) optim = std::make_unique<TrmOptimizer>(model, oc);

  // One iteration: train = one optimizer step (one supervision step of the batch);
  // infer = a fresh carry and halt_max_steps supervision steps without gradients.
  LossResult loss;
  // Every slot has taken one step before (HRM's q_continue target reads the count).
  std::vector<std::int32_t> steps_before(static_cast<std::size_t>(B), 1);
  auto iteration = [&] {
    if (opt.training) {
      model.zero_grads();
      model.train_step(batch, carry.z_H(), carry.z_L(), steps_before.data(), oc.loss_divisor, loss);
      optim->step();
    } else {
      carry.reset(B);
      for (int s = 0; s < cfg.halt_max_steps; ++s) carry.forward(batch);
    }
  };
  for (int i = 0; i < opt.warmup; ++i) iteration();
  be->synchronize();
  std::vector<double> secs;
  for (int i = 0; i < opt.iterations; ++i) {
    const double t0 = now_s();
    iteration();
    be->synchronize();  // an asynchronous backend (CUDA) has finished the iteration only now
    secs.push_back(now_s() - t0);
  }
  const double rss = peak_rss_mib();
  const double it_s = median(secs);
  const int steps_per_it = opt.training ? 1 : cfg.halt_max_steps;
  const double step_s = it_s / steps_per_it;
  const double gflops = flops_per_sample_step(cfg, opt.training) * B / step_s * 1e-9;
  nlohmann::json j = {{"impl", "trm"},
                      {"backend", be->name()},
                      {"device", be->device_name()},
                      {"precision", to_string(be->precision())},
                      {"precision_path", be->precision_path()},
                      {"preset", opt.preset},
                      {"mode", opt.training ? "train" : "infer"},
                      {"batch", B},
                      {"threads", omp_get_max_threads()},
                      {"iterations", opt.iterations},
                      {"ms_per_step", step_s * 1e3},
                      {"supervision_steps_per_s", B / step_s},
                      {"samples_per_s", B / it_s},
                      {"gflops", gflops},
                      {"peak_rss_mib", rss}};
  // Model FLOP utilisation against the device's peak at this precision, where the backend knows it.
  const double peak = be->peak_gflops();
  j["mfu"] = peak > 0 ? nlohmann::json(gflops / peak) : nlohmann::json(nullptr);
  j["peak_gflops"] = peak > 0 ? nlohmann::json(peak) : nlohmann::json(nullptr);
  if (opt.measure_sgemm) {
    const double sg = measure_sgemm_gflops(*be);
    j["sgemm_gflops"] = sg;
    j["sgemm_fraction"] = gflops / sg;
  }
  return j;
}

}  // namespace trm
