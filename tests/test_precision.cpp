// bf16 and int8 arithmetic of the CPU backend (docs/PRECISION.md): each GEMM against a double
// reference within a bound derived from the format, the weight packs and their invalidation,
// bf16 training (it learns; stop + resume is bit-exact), and the errors for bad precisions.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "backend_util.h"
#include "data_util.h"
#include "expect_error.h"
#include "kernels/lowp_gemm.h"
#include "learning_util.h"
#include "temp_dir.h"
#include "trm/backend/backend.h"
#include "trm/backend/precision.h"
#include "trm/data/dataset.h"
#include "trm/eval/evaluate.h"
#include "trm/io/safetensors.h"
#include "trm/model/model.h"
#include "trm/train/checkpoint.h"
#include "trm/train/optim.h"
#include "trm/train/trainer.h"

namespace trm {
namespace {

namespace fs = std::filesystem;
using test_util::expect_error;
using test_util::TempDir;

// One thread: results do not depend on it, and the shared 2-core machine runs far faster so.
class OneThread : public ::testing::Environment {
 public:
  void SetUp() override { omp_set_num_threads(1); }
};
[[maybe_unused]] ::testing::Environment* const kOneThread = ::testing::AddGlobalTestEnvironment(new OneThread);

std::vector<float> random_vec(std::size_t n, std::uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// ---------------------------------------------------------------------------------------------
// 1. Names

TEST(Precision, NamesRoundTripAndUnknownNamesAreErrors) {
  for (Precision p : {Precision::fp32, Precision::bf16, Precision::int8})
    EXPECT_EQ(precision_from_string(to_string(p)), p);
  expect_error([] { precision_from_string("fp16"); }, {"unknown precision", "fp16", "fp32, bf16 or int8"});
  expect_error([] { precision_from_string(""); }, {"unknown precision"});
}

TEST(Precision, RoundToBf16KeepsEightSignificantBitsTiesToEven) {
  EXPECT_EQ(kernels::round_to_bf16(1.0f), 1.0f);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even neighbour, 1.
  EXPECT_EQ(kernels::round_to_bf16(1.0f + 0x1p-8f), 1.0f);
  EXPECT_EQ(kernels::round_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 1.0f + 0x1p-7f);
  EXPECT_EQ(kernels::round_to_bf16(-3.0f), -3.0f);
  // 8 significant bits: a rounding moves x by at most half a unit in the last place, 2^-8 |x|.
  for (float x : random_vec(1000, 9)) EXPECT_LE(std::fabs(kernels::round_to_bf16(x) - x), std::fabs(x) * 0x1p-8f);
}

// ---------------------------------------------------------------------------------------------
// 2. Each GEMM against double, within the format's bound

// Shapes with row strides wider than the rows (as the model's qkv and logits calls use).
constexpr int kM = 37, kK = 70, kN = 45, kLdx = kK + 5, kLdy = kN + 3;

// bf16 keeps 8 significant bits: each input is off by at most 2^-8 of itself, so a product by at
// most 2^-7 + 2^-16 of |x||w|; fp32 accumulation adds ~K 2^-24 (K = 70: < 2^-17). Bound:
// 2^-7 (1 + 2^-4) sum_k |x_k w_k|.
double bf16_bound(double abs_sum) { return 0x1.1p-7 * abs_sum + 1e-6; }

TEST(PrecisionGemm, Bf16ForwardIsWithinTheBf16BoundOfDouble) {
  kernels::LowpGemm g;
  g.set_precision(Precision::bf16);
  const auto x = random_vec(static_cast<std::size_t>(kM) * kLdx, 1), W = random_vec(static_cast<std::size_t>(kN) * kK, 2, 0.1f);
  std::vector<float> y(static_cast<std::size_t>(kM) * kLdy, 7.0f);
  g.linear_fwd(x.data(), kLdx, W.data(), y.data(), kLdy, kM, kK, kN);
  double worst_rel = 0;
  for (int r = 0; r < kM; ++r)
    for (int n = 0; n < kN; ++n) {
      double ref = 0, abs_sum = 0, ref_rounded = 0;
      for (int k = 0; k < kK; ++k) {
        const double a = x[r * kLdx + k], b = W[n * kK + k];
        ref += a * b;
        abs_sum += std::fabs(a * b);
        ref_rounded += double(kernels::round_to_bf16(x[r * kLdx + k])) * kernels::round_to_bf16(W[n * kK + k]);
      }
      const double got = y[r * kLdy + n];
      EXPECT_LE(std::fabs(got - ref), bf16_bound(abs_sum)) << r << "," << n;
      // It is a bf16 product: equal to the product of the rounded inputs up to fp32 summation.
      EXPECT_LE(std::fabs(got - ref_rounded), 1e-5 * abs_sum + 1e-6) << r << "," << n;
      worst_rel = std::max(worst_rel, std::fabs(got - ref) / abs_sum);
    }
  EXPECT_GT(worst_rel, 1e-5) << "no bf16 rounding visible: fp32 ran";
  for (int r = 0; r < kM; ++r)
    for (int n = kN; n < kLdy; ++n) EXPECT_EQ(y[r * kLdy + n], 7.0f) << "wrote past the row";
}

TEST(PrecisionGemm, Bf16BackwardIsWithinTheBf16BoundOfDouble) {
  kernels::LowpGemm g;
  g.set_precision(Precision::bf16);
  const int ldd = kN + 2, lddx = kK + 1;
  const auto x = random_vec(static_cast<std::size_t>(kM) * kLdx, 3), W = random_vec(static_cast<std::size_t>(kN) * kK, 4, 0.1f),
             dy = random_vec(static_cast<std::size_t>(kM) * ldd, 5);
  for (bool acc : {false, true}) {
    std::vector<float> dx(static_cast<std::size_t>(kM) * lddx, 0.5f), dW(static_cast<std::size_t>(kN) * kK, 0.25f);
    g.linear_bwd(x.data(), kLdx, W.data(), dy.data(), ldd, dx.data(), lddx, dW.data(), kM, kK, kN, acc);
    for (int r = 0; r < kM; ++r)
      for (int k = 0; k < kK; ++k) {
        double ref = acc ? 0.5 : 0.0, abs_sum = 0;
        for (int n = 0; n < kN; ++n) {
          ref += double(dy[r * ldd + n]) * W[n * kK + k];
          abs_sum += std::fabs(double(dy[r * ldd + n]) * W[n * kK + k]);
        }
        EXPECT_LE(std::fabs(dx[r * lddx + k] - ref), bf16_bound(abs_sum)) << "dx " << r << "," << k << " acc " << acc;
      }
    for (int n = 0; n < kN; ++n)
      for (int k = 0; k < kK; ++k) {
        double ref = 0.25, abs_sum = 0;
        for (int r = 0; r < kM; ++r) {
          ref += double(dy[r * ldd + n]) * x[r * kLdx + k];
          abs_sum += std::fabs(double(dy[r * ldd + n]) * x[r * kLdx + k]);
        }
        EXPECT_LE(std::fabs(dW[n * kK + k] - ref), bf16_bound(abs_sum)) << "dW " << n << "," << k;
      }
  }
}

TEST(PrecisionGemm, Int8ForwardIsWithinTheQuantizationBoundOfDouble) {
  kernels::LowpGemm g;
  g.set_precision(Precision::int8);
  auto x = random_vec(static_cast<std::size_t>(kM) * kLdx, 6);
  for (int k = 0; k < kK; ++k) x[3 * kLdx + k] = 0.0f;  // an all-zero row (scale 0 must not divide by zero)
  const auto W = random_vec(static_cast<std::size_t>(kN) * kK, 7, 0.1f);
  std::vector<float> y(static_cast<std::size_t>(kM) * kLdy, 7.0f);
  g.linear_fwd(x.data(), kLdx, W.data(), y.data(), kLdy, kM, kK, kN);
  // Row r of x is quantized with step sx = max|x_r| / 127, output channel n of W with step
  // sw <= max|W_n| / 63 (7-bit weights without VNNI; 127 with): each is off by at most half a
  // step, so |err| <= sum_k (|x_k| sw/2 + |w_k| sx/2 + sx sw/4).
  double worst = 0;
  for (int r = 0; r < kM; ++r) {
    double mx = 0;
    for (int k = 0; k < kK; ++k) mx = std::max(mx, std::fabs(double(x[r * kLdx + k])));
    const double sx = mx / 127;
    for (int n = 0; n < kN; ++n) {
      double mw = 0;
      for (int k = 0; k < kK; ++k) mw = std::max(mw, std::fabs(double(W[n * kK + k])));
      const double sw = mw / 63;
      double ref = 0, bound = 0;
      for (int k = 0; k < kK; ++k) {
        const double a = x[r * kLdx + k], b = W[n * kK + k];
        ref += a * b;
        bound += std::fabs(a) * sw / 2 + std::fabs(b) * sx / 2 + sx * sw / 4;
      }
      const double got = y[r * kLdy + n];
      EXPECT_LE(std::fabs(got - ref), bound * 1.001 + 1e-6) << r << "," << n;
      if (r == 3) {
        EXPECT_EQ(got, 0.0f);
      }
      worst = std::max(worst, std::fabs(got - ref));
    }
  }
  EXPECT_GT(worst, 1e-6) << "no quantization visible: fp32 ran";
  for (int r = 0; r < kM; ++r)
    for (int n = kN; n < kLdy; ++n) EXPECT_EQ(y[r * kLdy + n], 7.0f) << "wrote past the row";
}

// Through the backend: the batched logits-head form, and fp32 stays bit-identical to OpenBLAS.
TEST(PrecisionGemm, BackendBatchedForwardMatchesThePerBlockCalls) {
  const int B = 3, rows = 9, ldx = kK + 4;
  const std::int64_t xs = static_cast<std::int64_t>(rows + 2) * ldx, ys = static_cast<std::int64_t>(rows + 1) * kN;
  const auto x = random_vec(static_cast<std::size_t>(B * xs), 8), W = random_vec(static_cast<std::size_t>(kN) * kK, 9, 0.1f);
  for (Precision p : {Precision::fp32, Precision::bf16, Precision::int8}) {
    auto be = make_cpu_backend();
    be->set_precision(p);
    EXPECT_EQ(be->precision(), p);
    std::vector<float> batched(static_cast<std::size_t>(B * ys)), single(batched.size());
    be->linear_fwd_batched(x.data(), ldx, xs, W.data(), batched.data(), kN, ys, B, rows, kK, kN);
    for (int b = 0; b < B; ++b) be->linear_fwd(x.data() + b * xs, ldx, W.data(), single.data() + b * ys, kN, rows, kK, kN);
    EXPECT_EQ(batched, single) << to_string(p);
    if (p == Precision::int8) {
      std::vector<float> dy(single.size()), dx(static_cast<std::size_t>(B * xs)), dW(W.size());
      expect_error([&] { be->linear_bwd(x.data(), ldx, W.data(), dy.data(), kN, dx.data(), ldx, dW.data(), rows, kK, kN, false); },
                   {"int8", "inference"});
    }
    // The halting head's fp32 product ignores the precision.
    std::vector<float> y32(static_cast<std::size_t>(rows) * kN), yref(y32.size());
    be->linear_fwd_fp32(x.data(), ldx, W.data(), y32.data(), kN, rows, kK, kN);
    auto ref = make_cpu_backend();
    ref->linear_fwd(x.data(), ldx, W.data(), yref.data(), kN, rows, kK, kN);
    EXPECT_EQ(y32, yref) << to_string(p);
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Packs: built once, rebuilt after weights_changed(), never per call

TEST(PrecisionPacks, BuiltOnceReusedAndRebuiltOnlyAfterWeightsChanged) {
  for (Precision p : {Precision::bf16, Precision::int8}) {
    SCOPED_TRACE(to_string(p));
    kernels::LowpGemm g;
    g.set_precision(p);
    const int M = 8, K = 32, N = 16;
    const auto x = random_vec(static_cast<std::size_t>(M) * K, 10);
    auto W = random_vec(static_cast<std::size_t>(N) * K, 11, 0.1f);
    std::vector<float> y0(static_cast<std::size_t>(M) * N), y1(y0.size()), y2(y0.size()), y3(y0.size());
    g.linear_fwd(x.data(), K, W.data(), y0.data(), N, M, K, N);
    const kernels::LowpStats first = g.stats();
    EXPECT_EQ(first.packs, 1);
    for (int i = 0; i < 3; ++i) g.linear_fwd(x.data(), K, W.data(), y1.data(), N, M, K, N);
    EXPECT_EQ(g.stats().packs, first.packs) << "re-packed without a weight change";
    EXPECT_EQ(g.stats().primitives, first.primitives) << "a primitive was created per call";
    EXPECT_EQ(y0, y1);
    // New weights at the same address: the pack is the old one until weights_changed().
    for (auto& w : W) w = -w;
    g.linear_fwd(x.data(), K, W.data(), y2.data(), N, M, K, N);
    EXPECT_EQ(y2, y0) << "the cache did not cache";
    g.weights_changed();
    g.linear_fwd(x.data(), K, W.data(), y3.data(), N, M, K, N);
    EXPECT_EQ(g.stats().packs, first.packs + 1);
    EXPECT_EQ(g.stats().primitives, first.primitives) << "a rebuild must reuse the pack's memory and reorder";
    for (std::size_t i = 0; i < y0.size(); ++i) EXPECT_EQ(y3[i], -y0[i]) << i;
  }
}

ModelConfig tiny_model() {
  return {.vocab_size = 6, .seq_len = 16, .num_puzzle_identifiers = 1, .puzzle_emb_ndim = 32, .puzzle_emb_len = 2,
          .H_cycles = 2, .L_cycles = 2, .hidden_size = 32, .num_heads = 2};
}

// After optimizer steps a bf16 model computes what a fresh backend computes from its new weights
// (the optimizer calls weights_changed(); a stale pack would show the old weights).
TEST(PrecisionPacks, TrainingStepsNeverLeaveStalePacks) {
  ModelConfig c = tiny_model();
  const int B = 4;
  std::vector<std::int32_t> inputs(static_cast<std::size_t>(B) * c.seq_len), labels(inputs.size()), ids(B, 0);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    inputs[i] = 1 + static_cast<std::int32_t>(i % 5);
    labels[i] = 1 + static_cast<std::int32_t>((i * 3) % 5);
  }
  const Batch batch{B, inputs.data(), labels.data(), ids.data()};
  auto logits_of = [&](TrmModel& m) {
    const std::int64_t n = static_cast<std::int64_t>(B) * c.total_len() * c.hidden_size;
    DeviceBuffer zH(m.backend(), n), zL(m.backend(), n);
    m.reset_carry(zH.data(), zL.data(), B);
    m.forward(batch, zH.data(), zL.data(), false);
    return std::vector<float>(m.logits(), m.logits() + static_cast<std::int64_t>(B) * c.seq_len * c.vocab_size);
  };
  auto be = make_cpu_backend();
  be->set_precision(Precision::bf16);
  TrmModel model(c, *be);
  model.init(1);
  model.reserve(B, true);
  OptimConfig oc;
  oc.loss_divisor = B;
  oc.lr = 1e-2;
  oc.lr_warmup_steps = 1;
  TrmOptimizer optim(model, oc);
  const std::vector<float> before = logits_of(model);  // builds the packs
  const std::int64_t n = static_cast<std::int64_t>(B) * c.total_len() * c.hidden_size;
  DeviceBuffer zH(*be, n), zL(*be, n);
  LossResult loss;
  for (int s = 0; s < 3; ++s) {
    model.zero_grads();
    model.reset_carry(zH.data(), zL.data(), B);
    model.train_step(batch, zH.data(), zL.data(), nullptr, B, loss);
    optim.step();
  }
  const std::vector<float> after = logits_of(model);
  EXPECT_NE(after, before) << "the steps changed nothing";
  auto fresh = make_cpu_backend();
  fresh->set_precision(Precision::bf16);
  TrmModel copy(c, *fresh);
  fresh->copy(model.params(), copy.params(), model.flat_size());
  fresh->copy(model.H_init(), copy.H_init(), c.hidden_size);
  fresh->copy(model.L_init(), copy.L_init(), c.hidden_size);
  fresh->copy(model.puzzle_table(), copy.puzzle_table(), model.puzzle_table_size());
  copy.reserve(B, true);
  EXPECT_EQ(logits_of(copy), after) << "stale packs after optimizer steps";
}

// ---------------------------------------------------------------------------------------------
// 4. bf16 training: it learns, and stop + resume is bit-exact

TEST(PrecisionTraining, Bf16TinyModelSolvesHeldOut4x4Sudoku) {
  using test_util::kOptimizedBuild;
  const std::int64_t steps = kOptimizedBuild ? 150 : 6;
  TempDir tmp;
  TrainOptions o;
  o.model.mlp_t = true;
  o.model.pos_encodings = PosEncoding::kNone;
  o.model.hidden_size = 32;
  o.model.num_heads = 4;
  o.model.puzzle_emb_ndim = 32;
  o.model.puzzle_emb_len = 2;
  o.model.H_cycles = 2;
  o.model.L_cycles = 2;
  o.model.halt_max_steps = 4;
  o.optim.lr = 3e-3;
  o.optim.lr_warmup_steps = 20;
  o.optim.weight_decay = 0.1;
  o.optim.ema_rate = 0.95;
  o.global_batch = kOptimizedBuild ? 64 : 16;
  o.max_steps = steps;
  o.eval_interval = 100;
  o.seed = 0;
  o.precision = Precision::bf16;
  const auto run = test_util::learn_generated_4x4_sudoku(tmp, 0, kOptimizedBuild ? 1000 : 100, kOptimizedBuild ? 200 : 20, o);
  test_util::test_backend().set_precision(Precision::fp32);
  const TrainSummary& s = run.summary;
  ASSERT_TRUE(s.evaluated);
  EXPECT_EQ(s.steps, steps);
  std::printf("bf16 learning: %lld steps in %.1fs, held-out exact %.3f, cell %.3f\n", static_cast<long long>(s.steps),
              run.seconds, s.last_eval.exact_accuracy, s.last_eval.cell_accuracy);
  // The fp32 twin (test_train Learning.TinyModelSolvesHeldOut4x4Sudoku) reaches 0.905 exact; the
  // same thresholds hold in bf16.
  if (kOptimizedBuild) {
    EXPECT_GE(s.last_eval.exact_accuracy, 0.5);
    EXPECT_GE(s.last_eval.cell_accuracy, 0.8);
  }
  const nlohmann::json cfg = nlohmann::json::parse(std::ifstream(tmp / "run/config.json"));
  EXPECT_EQ(cfg.at("train").at("precision"), "bf16");
  const std::string final_path = tmp / "run/final.safetensors";
  EXPECT_EQ(Checkpoint::read(final_path).contents().config.at("train").at("precision"), "bf16");

  // The trained model, quantized (trm quantize): a smaller file that loads into int8 and answers
  // the held-out puzzles like the fp32 model, within 3 of the 200 (measured: see the output).
  auto be32 = make_cpu_backend();
  auto m32 = load_model_from_checkpoint(final_path, *be32, true);
  const std::string q_path = tmp / "model-int8.safetensors";
  save_quantized_checkpoint(q_path, *m32, Checkpoint::read(final_path).contents());
  EXPECT_LT(fs::file_size(q_path), fs::file_size(final_path));
  const Checkpoint qck = Checkpoint::read(q_path);
  EXPECT_TRUE(qck.is_quantized());
  EXPECT_FALSE(Checkpoint::read(final_path).is_quantized());
  auto be8 = make_cpu_backend();
  auto m8 = load_model_from_checkpoint(q_path, *be8, true);
  EXPECT_EQ(be8->precision(), Precision::int8) << "an int8 file runs in int8";
  // Dequantized weights are within half a step of the originals.
  for (const auto& p : m32->param_table()) {
    const float* a = m32->params() + p.offset;
    const float* b = m8->params() + p.offset;
    if (!is_quantized_param(p.name)) {
      EXPECT_EQ(std::memcmp(a, b, static_cast<std::size_t>(p.numel) * sizeof(float)), 0) << p.name;
      continue;
    }
    const std::int64_t rows = p.shape[0], cols = p.numel / rows;
    for (std::int64_t r = 0; r < rows; ++r) {
      float mx = 0;
      for (std::int64_t k = 0; k < cols; ++k) mx = std::max(mx, std::fabs(a[r * cols + k]));
      for (std::int64_t k = 0; k < cols; ++k)
        ASSERT_LE(std::fabs(a[r * cols + k] - b[r * cols + k]), mx / 127 / 2 * 1.0001f) << p.name << " row " << r;
    }
  }
  const data::Dataset test = data::read_split(tmp / "data", "test");
  EvalOptions eo;
  eo.max_examples = run.num_test;
  const EvalResult r32 = evaluate(*m32, test, eo), r8 = evaluate(*m8, test, eo);
  std::printf("quantized: %lld -> %lld bytes; held-out exact fp32 %.3f, int8 %.3f\n",
              static_cast<long long>(fs::file_size(final_path)), static_cast<long long>(fs::file_size(q_path)),
              r32.exact_accuracy, r8.exact_accuracy);
  EXPECT_LE(std::fabs(r32.exact_accuracy - r8.exact_accuracy), 3.0 / run.num_test + 1e-9);
  EXPECT_GE(r8.cell_accuracy, r32.cell_accuracy - 0.01);

  // An int8 file cannot be trained from.
  fs::copy_file(q_path, tmp / "run/checkpoint.safetensors", fs::copy_options::overwrite_existing);
  TrainOptions again = o;
  again.data_dir = tmp / "data";
  again.out_dir = tmp / "run";
  again.max_steps = steps + 10;
  again.progress = false;
  expect_error([&] { train(again, test_util::cpu_backend()); }, {"checkpoint.safetensors", "int8 model", "trm quantize"});
  test_util::cpu_backend().set_precision(Precision::fp32);
}

TrainOptions resume_options(const std::string& out_dir) {
  TrainOptions o;
  o.data_dir = test_util::small_sudoku_dir();
  o.out_dir = out_dir;
  o.model = tiny_model();
  o.model.halt_max_steps = 3;
  o.model.halt_exploration_prob = 0.5;
  o.optim.lr = 1e-3;
  o.optim.lr_warmup_steps = 5;
  o.optim.weight_decay = 0.1;
  o.optim.ema_rate = 0.9;
  o.optim.puzzle_emb_lr = 1e-2;
  o.global_batch = 16;
  o.micro_batch = 8;
  o.max_steps = 12;
  o.eval_interval = 0.4;  // evaluate and checkpoint every 5 steps
  o.eval.max_examples = 16;
  o.eval.batch = 8;
  o.log_every = 1;
  o.progress = false;
  o.seed = 7;
  o.precision = Precision::bf16;
  return o;
}

// Every tensor of two safetensors files, byte for byte: "" or the first that differs.
std::string compare_tensors(const std::string& a_path, const std::string& b_path) {
  const SafeTensorsFile a = SafeTensorsFile::read(a_path), b = SafeTensorsFile::read(b_path);
  if (a.names() != b.names()) return "the files hold different tensor names";
  for (const auto& name : a.names()) {
    if (a.entry(name).dtype != b.entry(name).dtype) return name + ": dtype differs";
    if (a.entry(name).dtype == DType::kF32) {
      const auto x = a.floats(name), y = b.floats(name);
      if (x.size() != y.size() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) != 0) return name + " differs";
    } else if (a.ints(name) != b.ints(name)) {
      return name + " differs";
    }
  }
  return "";
}

TEST(PrecisionTraining, Bf16StopAndResumeIsBitExact) {
  TempDir tmp;
  Backend& be = test_util::cpu_backend();
  const TrainSummary full = train(resume_options(tmp / "full"), be);
  ASSERT_EQ(full.steps, 12);
  TrainOptions first = resume_options(tmp / "pieces");
  first.stop_after = 7;
  ASSERT_EQ(train(first, be).steps, 7);
  ASSERT_EQ(train(resume_options(tmp / "pieces"), be).steps, 12);
  EXPECT_EQ(compare_tensors(tmp / "full/final.safetensors", tmp / "pieces/final.safetensors"), "");
  EXPECT_EQ(compare_tensors(tmp / "full/checkpoint.safetensors", tmp / "pieces/checkpoint.safetensors"), "");
  // And bf16 really ran: an fp32 run of the same recipe ends with other weights.
  TrainOptions f32 = resume_options(tmp / "fp32");
  f32.precision = Precision::fp32;
  train(f32, be);
  EXPECT_NE(compare_tensors(tmp / "full/final.safetensors", tmp / "fp32/final.safetensors"), "");
}

// ---------------------------------------------------------------------------------------------
// 5. Bad input

TEST(PrecisionErrors, Int8TrainingAndAPrecisionChangeOnResumeAreRefused) {
  TempDir tmp;
  Backend& be = test_util::cpu_backend();
  TrainOptions o = resume_options(tmp / "run");
  o.precision = Precision::int8;
  expect_error([&] { train(o, be); }, {"int8", "inference only", "fp32 or bf16"});
  EXPECT_FALSE(fs::exists(tmp / "run/config.json")) << "a refused run wrote its config";
  o.precision = Precision::bf16;
  o.stop_after = 2;
  train(o, be);
  o.precision = Precision::fp32;
  o.stop_after = 0;
  expect_error([&] { train(o, be); }, {"checkpoint.safetensors", "precision bf16", "--precision bf16"});
  be.set_precision(Precision::fp32);
}

TEST(PrecisionErrors, TheBackendSaysWhichPathRuns) {
  auto be = make_cpu_backend();
  EXPECT_EQ(be->precision(), Precision::fp32);
  for (Precision p : {Precision::bf16, Precision::int8}) {
    be->set_precision(p);
    const std::string path = be->precision_path();
    EXPECT_EQ(path.rfind(to_string(p) + ":", 0), 0u) << path;
    EXPECT_NE(path.find("ISA") == std::string::npos && path.find("SGEMM") == std::string::npos, true) << path;
    std::printf("%s\n  warning: %s\n", path.c_str(), be->precision_warning().c_str());
  }
}

}  // namespace
}  // namespace trm
