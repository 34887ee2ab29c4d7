// The inference engine (trm/infer/solver.h): per-sample halting with continuous batching gives the
// same answers and steps as the whole-batch loop; sampling is reproducible and independent of the
// batch size; each selection rule picks what it promises; checker-gated halting never halts on a
// failing answer; bad options are refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include "data/collate.h"
#include "data_util.h"
#include "expect_error.h"
#include "model_util.h"
#include "trm/data/rng.h"
#include "trm/eval/evaluate.h"
#include "trm/infer/solver.h"
#include "trm/train/act.h"

#include "alloc_counter.h"

namespace trm::infer {
namespace {

// A randomly initialized 4x4 model whose Q head is re-drawn so that q_halt crosses 0 at different
// steps for different puzzles (a fresh model's bias of -5 would never halt, and equal halting would
// test nothing).
struct Fixture {
  std::unique_ptr<Backend> be = make_cpu_backend();
  ModelConfig cfg = test_util::tiny_sudoku_mlp_4x4();
  std::unique_ptr<TrmModel> model;
  data::Dataset test;
  data::Batch rows;
  int n = 0;
  Fixture() {
    cfg.halt_max_steps = 8;
    model = std::make_unique<TrmModel>(cfg, *be);
    model->init(3);
    const ParamInfo& w = model->info("q_head.weight");
    const ParamInfo& b = model->info("q_head.bias");
    std::vector<float> wh(static_cast<std::size_t>(w.numel)), bh(static_cast<std::size_t>(b.numel), 0.0f);
    data::Rng rng(9);
    for (auto& x : wh) x = static_cast<float>((rng.uniform() - 0.5) * 0.6);
    be->from_host(wh.data(), model->params() + w.offset, w.numel);
    be->from_host(bh.data(), model->params() + b.offset, b.numel);
    test = data::read_split(test_util::small_sudoku_dir(), "test");
    n = static_cast<int>(test.num_examples);
    data::collate_range(test, 0, n, rows);
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

// The whole-batch loop, written out: every puzzle in one batch, an answer frozen at its first
// halt signal or the last step.
struct Plain {
  std::vector<std::int32_t> tokens;  // [n, S]
  std::vector<float> margin;         // [n, S]: top logit minus the runner-up, at the answer's step
  std::vector<int> steps;
  std::vector<float> q;
};

// The answers of the engine and of the whole-batch loop agree token for token, except where the
// whole-batch logits were a near-tie: the GEMM's blocking depends on the number of rows, so sums
// round differently (~1e-5 relative per step), and this random model's 8-step recursion grows that
// to a few hundredths -- enough to flip an argmax whose top two logits are that close, never one
// with a clear winner (a row mixed up by compaction would disagree at clear winners). Returns the
// tokens that differ at a clear winner (margin >= 0.1), and counts all differences in `near_ties`.
int clear_disagreements(const std::int32_t* got, const Plain& want, int b, int S, int& near_ties) {
  int clear = 0;
  for (int t = 0; t < S; ++t) {
    const std::size_t i = static_cast<std::size_t>(b) * S + t;
    if (got[t] == want.tokens[i]) continue;
    ++near_ties;
    if (want.margin[i] >= 0.1f) ++clear;
  }
  return clear;
}
Plain whole_batch(bool adaptive) {
  Fixture& f = fx();
  const int S = f.cfg.seq_len, T = f.cfg.halt_max_steps;
  f.model->reserve(f.n, false);
  InferenceCarry carry(*f.model, f.n);
  carry.reset(f.n);
  const Batch batch{f.n, f.rows.inputs.data(), nullptr, f.rows.puzzle_identifiers.data()};
  Plain p;
  p.tokens.assign(static_cast<std::size_t>(f.n) * S, 0);
  p.margin.assign(p.tokens.size(), 0.0f);
  const int V = f.cfg.vocab_size;
  std::vector<float> logits(static_cast<std::size_t>(f.n) * S * V);
  p.steps.assign(static_cast<std::size_t>(f.n), 0);
  p.q.assign(static_cast<std::size_t>(f.n), 0.0f);
  std::vector<std::int32_t> pred;
  std::vector<float> q(static_cast<std::size_t>(2 * f.n));
  for (int s = 1; s <= T; ++s) {
    carry.forward(batch);
    predictions(*f.model, f.n, pred);
    f.be->to_host(f.model->q(), q.data(), 2 * f.n);
    f.be->to_host(f.model->logits(), logits.data(), static_cast<std::int64_t>(logits.size()));
    for (int b = 0; b < f.n; ++b) {
      if (p.steps[static_cast<std::size_t>(b)]) continue;
      std::copy_n(pred.begin() + b * S, S, p.tokens.begin() + b * S);
      for (int t = 0; t < S; ++t) {
        const float* x = logits.data() + (static_cast<std::size_t>(b) * S + t) * V;
        const std::int32_t top = pred[static_cast<std::size_t>(b) * S + t];
        float second = -INFINITY;
        for (int v = 0; v < V; ++v)
          if (v != top) second = std::max(second, x[v]);
        p.margin[static_cast<std::size_t>(b) * S + t] = x[top] - second;
      }
      p.q[static_cast<std::size_t>(b)] = q[static_cast<std::size_t>(2 * b)];
      if (s == T || (adaptive && halt_signal(f.cfg, q.data() + 2 * b))) p.steps[static_cast<std::size_t>(b)] = s;
    }
  }
  return p;
}

TEST(Solver, PerSampleHaltingEqualsTheWholeBatchLoop) {
  Fixture& f = fx();
  const Plain want = whole_batch(true);
  // The test is only meaningful when the puzzles halt at different steps.
  const auto [lo, hi] = std::minmax_element(want.steps.begin(), want.steps.end());
  ASSERT_LT(*lo, *hi) << "every puzzle halted at step " << *lo;
  ASSERT_LT(*lo, f.cfg.halt_max_steps);
  for (int batch : {1, 7, 64}) {  // compaction and refill at every batch size, and the whole set at once
    SolverOptions o;
    o.batch = batch;
    Solver solver(*f.model, o);
    std::vector<Answer> got;
    solver.solve(f.rows.inputs.data(), f.rows.puzzle_identifiers.data(), f.n, got);
    ASSERT_EQ(static_cast<int>(got.size()), f.n);
    std::int64_t rows = 0;
    int near_ties = 0;
    for (int b = 0; b < f.n; ++b) {
      const Answer& a = got[static_cast<std::size_t>(b)];
      EXPECT_EQ(a.steps, want.steps[static_cast<std::size_t>(b)]) << "batch " << batch << " puzzle " << b;
      EXPECT_EQ(clear_disagreements(a.tokens.data(), want, b, f.cfg.seq_len, near_ties), 0)
          << "batch " << batch << " puzzle " << b;
      // Not bit-equal: the GEMM's blocking depends on the number of rows, so sums round
      // differently (~1e-5 relative per step, grown to ~0.03 in q over 8 steps of this random
      // model's recursion); the answers and steps above are exact.
      EXPECT_NEAR(a.q_halt, want.q[static_cast<std::size_t>(b)], 0.05);
      EXPECT_FLOAT_EQ(a.confidence, 1.0f / (1.0f + std::exp(-a.q_halt)));
      EXPECT_EQ(a.step_confidence.size(), static_cast<std::size_t>(a.steps));
      EXPECT_EQ(a.check, CheckStatus::kUnchecked);
      rows += a.steps;
    }
    // Per-sample halting: only the rows still running are computed.
    EXPECT_EQ(solver.row_steps(), rows);
    EXPECT_LE(near_ties, f.n * f.cfg.seq_len / 20) << "batch " << batch;  // rare, as rounding is
  }
}

TEST(Solver, ReferenceHaltingRunsEveryStep) {
  Fixture& f = fx();
  const Plain want = whole_batch(false);
  SolverOptions o;
  o.halting = HaltMode::kReference;
  // The whole set in one batch: the same GEMM shapes as the loop above, so the same numbers
  // (across batch sizes this random model's recursion amplifies rounding past near-ties).
  o.batch = f.n;
  Solver solver(*f.model, o);
  std::vector<Answer> got;
  solver.solve(f.rows.inputs.data(), f.rows.puzzle_identifiers.data(), f.n, got);
  for (int b = 0; b < f.n; ++b) {
    EXPECT_EQ(got[static_cast<std::size_t>(b)].steps, f.cfg.halt_max_steps);
    EXPECT_TRUE(std::equal(got[static_cast<std::size_t>(b)].tokens.begin(), got[static_cast<std::size_t>(b)].tokens.end(),
                           want.tokens.begin() + b * f.cfg.seq_len))
        << "puzzle " << b;
  }
}

TEST(Solver, EvaluateOnTheEngineMatchesTheWholeBatchEvaluation) {
  Fixture& f = fx();
  EvalOptions o;
  o.batch = 8;
  o.halting = Halting::kAdaptive;
  o.whole_batch = true;
  const EvalResult old = evaluate(*f.model, f.test, o);
  o.whole_batch = false;
  const EvalResult now = evaluate(*f.model, f.test, o);
  EXPECT_EQ(now.n, old.n);
  EXPECT_DOUBLE_EQ(now.exact_accuracy, old.exact_accuracy);
  EXPECT_DOUBLE_EQ(now.cell_accuracy, old.cell_accuracy);
  EXPECT_DOUBLE_EQ(now.avg_steps, old.avg_steps);
  EXPECT_DOUBLE_EQ(now.q_halt_accuracy, old.q_halt_accuracy);
  EXPECT_EQ(now.exact_by_step, old.exact_by_step);
  EXPECT_LT(now.row_steps, old.row_steps);  // the whole-batch loop recomputes halted rows
  std::printf("rows computed: per-sample %lld, whole-batch %lld (avg steps %.2f of %d)\n",
              static_cast<long long>(now.row_steps), static_cast<long long>(old.row_steps), now.avg_steps,
              f.cfg.halt_max_steps);
}

// Every trajectory's trace, from the observer: (puzzle, sample) -> confidences and verdicts.
struct Trace {
  std::vector<float> conf;
  std::vector<bool> verified;
};
using Traces = std::map<std::pair<std::int64_t, int>, Trace>;

std::vector<Answer> run(const SolverOptions& o, Traces* traces = nullptr) {
  Fixture& f = fx();
  Solver solver(*f.model, o);
  std::vector<Answer> got;
  solver.solve(f.rows.inputs.data(), f.rows.puzzle_identifiers.data(), f.n, got,
               [traces](std::int64_t p, int s, int step, const std::int32_t*, float c, bool v) {
                 if (!traces) return;
                 Trace& t = (*traces)[{p, s}];
                 EXPECT_EQ(static_cast<int>(t.conf.size()), step - 1);
                 t.conf.push_back(c);
                 t.verified.push_back(v);
               });
  return got;
}

// Traces agree up to the GEMM's row-count rounding (see above).
void expect_near(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 0.01) << i;
}

TEST(Sampling, IsReproducibleAndIndependentOfTheBatchSize) {
  SolverOptions o;
  o.samples = 4;
  o.noise = 0.3f;
  o.seed = 7;
  o.batch = 4;
  Traces t4, t12, t_other;
  const auto a4 = run(o, &t4);
  o.batch = 12;
  const auto a12 = run(o, &t12);
  ASSERT_EQ(t4.size(), t12.size());
  for (const auto& [key, tr] : t4) expect_near(tr.conf, t12.at(key).conf);
  for (std::size_t i = 0; i < a4.size(); ++i) {
    EXPECT_EQ(a4[i].tokens, a12[i].tokens);
    EXPECT_EQ(a4[i].sample, a12[i].sample);
    EXPECT_EQ(a4[i].steps, a12[i].steps);
  }
  // Trajectory 0 is the noise-free one: the plain answer's trace.
  SolverOptions plain;
  Traces t1;
  run(plain, &t1);
  for (const auto& [key, tr] : t1) expect_near(tr.conf, t4.at({key.first, 0}).conf);
  // Another seed moves the noisy trajectories.
  o.seed = 8;
  run(o, &t_other);
  int differ = 0;
  for (const auto& [key, tr] : t4) {
    if (key.second == 0 || !t_other.count(key)) continue;
    const auto& o2 = t_other.at(key).conf;
    for (std::size_t s = 0; s < std::min(o2.size(), tr.conf.size()); ++s) differ += std::fabs(o2[s] - tr.conf[s]) > 1e-3f;
  }
  EXPECT_GT(differ, 0);
}

// Where trajectory k of puzzle p halts under adaptive halting without a checker.
int halt_step(const Trace& t, int T) {
  for (std::size_t s = 0; s < t.conf.size(); ++s)
    if (t.conf[s] > 0.5f) return static_cast<int>(s) + 1;
  return T;
}

TEST(Sampling, SelectionRulesPickWhatTheyPromise) {
  Fixture& f = fx();
  const int K = 4, T = f.cfg.halt_max_steps;
  SolverOptions o;
  o.samples = K;
  o.noise = 0.5f;
  o.seed = 1;
  o.batch = 10;
  // (a) confidence: every trajectory runs to its halt; the chosen one has the highest confidence.
  Traces tc;
  o.select = Select::kConfidence;
  const auto ac = run(o, &tc);
  int switched = 0;
  for (int p = 0; p < f.n; ++p) {
    float best = -1;
    for (int k = 0; k < K; ++k) {
      const Trace& t = tc.at({p, k});
      ASSERT_EQ(static_cast<int>(t.conf.size()), halt_step(t, T));
      best = std::max(best, t.conf.back());
    }
    EXPECT_FLOAT_EQ(ac[static_cast<std::size_t>(p)].confidence, best);
    EXPECT_EQ(ac[static_cast<std::size_t>(p)].total_steps,
              [&] { int s = 0; for (int k = 0; k < K; ++k) s += static_cast<int>(tc.at({p, k}).conf.size()); return s; }());
    switched += ac[static_cast<std::size_t>(p)].sample != 0;
  }
  EXPECT_GT(switched, 0) << "no noisy trajectory ever won: the test shows nothing";
  // (b) first-halt: the chosen trajectory halts first; no sibling runs past it.
  Traces tf;
  o.select = Select::kFirstHalt;
  const auto af = run(o, &tf);
  for (int p = 0; p < f.n; ++p) {
    const Answer& a = af[static_cast<std::size_t>(p)];
    EXPECT_EQ(a.steps, halt_step(tf.at({p, a.sample}), T));
    for (int k = 0; k < K; ++k) {
      const Trace& t = tf.at({p, k});
      EXPECT_LE(static_cast<int>(t.conf.size()), a.steps);
      EXPECT_GE(halt_step(t, T), a.steps);  // nobody halted earlier
    }
  }
  // (c) checker: the first verified answer; otherwise the most confident one, unverified.
  Traces tk;
  o.select = Select::kChecker;
  o.checker = checker_for_dataset(f.test);
  ASSERT_TRUE(o.checker.active());
  const auto ak = run(o, &tk);
  for (int p = 0; p < f.n; ++p) {
    const Answer& a = ak[static_cast<std::size_t>(p)];
    bool any_verified = false;
    for (int k = 0; k < K; ++k)
      if (tk.count({p, k}) && tk.at({p, k}).verified.back()) any_verified = true;
    EXPECT_EQ(a.check == CheckStatus::kVerified, any_verified) << p;
    if (!any_verified) {
      EXPECT_EQ(a.check, CheckStatus::kFailed);
    }
  }
}

TEST(CheckerGating, AFailingAnswerNeverHaltsEarly) {
  Fixture& f = fx();
  const int T = f.cfg.halt_max_steps;
  SolverOptions o;
  o.batch = 9;
  o.checker = checker_for_dataset(f.test);
  Traces t;
  const auto got = run(o, &t);
  int gated = 0;
  for (int p = 0; p < f.n; ++p) {
    const Trace& tr = t.at({p, 0});
    const Answer& a = got[static_cast<std::size_t>(p)];
    ASSERT_EQ(static_cast<int>(tr.conf.size()), a.steps);
    for (int s = 0; s + 1 < a.steps; ++s) {
      // Before the last step: never a halt signal on a verified answer.
      EXPECT_FALSE(tr.conf[static_cast<std::size_t>(s)] > 0.5f && tr.verified[static_cast<std::size_t>(s)]);
      gated += tr.conf[static_cast<std::size_t>(s)] > 0.5f;  // a signal overruled by the checker
    }
    // It stopped on a verified signal or at the limit, and says which.
    if (a.steps < T) {
      EXPECT_EQ(a.check, CheckStatus::kVerified);
    }
    EXPECT_EQ(a.check == CheckStatus::kVerified, static_cast<bool>(tr.verified.back()));
  }
  EXPECT_GT(gated, 0) << "no halt signal was overruled: the test shows nothing";
}

TEST(Solver, ASecondSolveAllocatesNothing) {
  Fixture& f = fx();
  for (int samples : {1, 3}) {
    SolverOptions o;
    o.batch = 7;
    o.samples = samples;
    o.noise = 0.2f;
    o.select = Select::kChecker;
    o.checker = checker_for_dataset(f.test);
    Solver solver(*f.model, o);
    std::vector<Answer> got;
    solver.solve(f.rows.inputs.data(), f.rows.puzzle_identifiers.data(), f.n, got);  // warm-up: sizes everything
    g_allocations = 0;
    g_counting = true;
    solver.solve(f.rows.inputs.data(), f.rows.puzzle_identifiers.data(), f.n, got);
    g_counting = false;
    EXPECT_EQ(g_allocations.load(), 0) << samples << " samples";
  }
}

TEST(SolverOptions, BadValuesAreRefused) {
  Fixture& f = fx();
  SolverOptions o;
  o.samples = 0;
  test_util::expect_error([&] { Solver s(*f.model, o); }, {"--samples", "0"});
  o.samples = -3;
  test_util::expect_error([&] { validate(o); }, {"--samples", "-3"});
  o = SolverOptions{};
  o.noise = -0.1f;
  test_util::expect_error([&] { validate(o); }, {"--noise"});
  o.noise = std::nanf("");
  test_util::expect_error([&] { validate(o); }, {"--noise"});
  o = SolverOptions{};
  o.select = Select::kChecker;
  test_util::expect_error([&] { validate(o); }, {"checker"});
  test_util::expect_error([] { select_from_string("best"); }, {"--select", "best"});
  EXPECT_EQ(select_from_string("first-halt"), Select::kFirstHalt);
  EXPECT_EQ(to_string(Select::kChecker), "checker");
  o = SolverOptions{};
  o.checker = Checker(PuzzleFamily::kSudoku, 9);  // 81 cells for a 16-cell model
  test_util::expect_error([&] { Solver s(*f.model, o); }, {"81", "16"});
}

}  // namespace
}  // namespace trm::infer
