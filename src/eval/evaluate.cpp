#include "trm/eval/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <tuple>
#include <vector>

#include "data/collate.h"
#include "trm/train/act.h"
#include "trm/data/dataset.h"
#include "trm/dist/communicator.h"

namespace trm {

Halting halting_from_string(const std::string& s) {
  if (s == "reference") return Halting::kReference;
  if (s == "adaptive") return Halting::kAdaptive;
  throw Error("halting must be \"reference\" or \"adaptive\" (got \"" + s + "\")");
}

std::string to_string(Halting h) { return h == Halting::kAdaptive ? "adaptive" : "reference"; }

namespace {
// Rows covered, then the batch size: never more slots than rows (an empty split still gets one,
// so no buffer is empty).
std::int64_t rows_covered(const data::Dataset& split, std::int64_t max_examples) {
  return max_examples > 0 ? std::min(max_examples, split.num_examples) : split.num_examples;
}
int batch_for(std::int64_t total, int batch) {
  return std::max(1, static_cast<int>(std::min<std::int64_t>(batch, std::max<std::int64_t>(total, 1))));
}
// The per-example sums of an evaluation, and the result they give over `total` examples.
struct Sums {
  double exact = 0, cells_ok = 0, cells = 0, steps = 0, q_ok = 0;
};
void finish(EvalResult& r, std::int64_t total, const Sums& s, std::chrono::steady_clock::time_point t0) {
  if (total > 0) {
    r.n = total;
    r.exact_accuracy = s.exact / static_cast<double>(total);
    r.cell_accuracy = s.cells > 0 ? s.cells_ok / s.cells : 0.0;
    r.avg_steps = s.steps / static_cast<double>(total);
    r.q_halt_accuracy = s.q_ok / static_cast<double>(total);
    for (auto& v : r.exact_by_step) v /= static_cast<double>(total);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
TrmModel& reserved_for_inference(TrmModel& model, int batch) {
  model.reserve(batch, false);
  return model;
}
}  // namespace

EvalBatches::EvalBatches(TrmModel& model, const data::Dataset& split, std::int64_t max_examples, int batch)
    : split_(split),
      total_(rows_covered(split, max_examples)),
      max_batch_(batch_for(total_, batch)),
      carry_(reserved_for_inference(model, max_batch_), max_batch_) {}

EvalBatches::EvalBatches(TrmModel& model, const data::Dataset& split, int batch, std::int64_t first, std::int64_t end)
    : split_(split),
      total_(end),
      max_batch_(batch_for(end - first, batch)),
      carry_(reserved_for_inference(model, max_batch_), max_batch_),
      begin_(first) {
  if (first < 0 || end < first || end > split.num_examples)
    throw Error("EvalBatches: rows [" + std::to_string(first) + ", " + std::to_string(end) + ") of a split of " +
                std::to_string(split.num_examples));
}

bool EvalBatches::next() {
  begin_ += size_;
  if (begin_ >= total_) return false;
  size_ = static_cast<int>(std::min<std::int64_t>(max_batch_, total_ - begin_));
  data::collate_range(split_, begin_, size_, rows_);
  batch_ = Batch{size_, rows_.inputs.data(), rows_.labels.data(), rows_.puzzle_identifiers.data()};
  carry_.reset(size_);
  return true;
}

void predictions(TrmModel& model, int batch, std::vector<std::int32_t>& out) {
  const int S = model.config().seq_len, V = model.config().vocab_size;
  std::vector<float> logits(static_cast<std::size_t>(batch) * S * V);
  model.backend().to_host(model.logits(), logits.data(), static_cast<std::int64_t>(logits.size()));
  out.resize(static_cast<std::size_t>(batch) * S);
  for (std::size_t r = 0; r < out.size(); ++r) {
    const float* x = logits.data() + r * V;
    out[r] = static_cast<std::int32_t>(std::max_element(x, x + V) - x);
  }
}

namespace {
// Adaptive halting, sampling and checking on the inference engine (trm/infer/solver.h): the split
// is fed to one Solver in chunks of several batches, so freed rows are refilled across batches.
// The engine's batch and the rows it is fed at a time, for an evaluation of `whole` rows.
int engine_batch(const EvalOptions& opt, std::int64_t whole) {
  return std::max(1, static_cast<int>(std::min<std::int64_t>(opt.batch, std::max<std::int64_t>(whole, 1) * std::max(opt.samples, 1))));
}
std::int64_t engine_chunk_rows(const EvalOptions& opt, std::int64_t whole) {
  return std::max<std::int64_t>(1024, 8 * static_cast<std::int64_t>(engine_batch(opt, whole)));
}

// Rows [first, total) of an evaluation of `whole` rows (first: a multiple of the chunk).
EvalResult evaluate_on_engine(TrmModel& model, const data::Dataset& split, const EvalOptions& opt,
                              const EvalProgress& progress, std::int64_t first, std::int64_t total, std::int64_t whole,
                              Sums& sums) {
  const ModelConfig& c = model.config();
  const int T = c.halt_max_steps, S = c.seq_len;
  infer::SolverOptions so;
  so.halting = opt.halting == Halting::kAdaptive ? infer::HaltMode::kAdaptive : infer::HaltMode::kReference;
  so.samples = opt.samples;
  so.noise = opt.noise;
  so.select = opt.select;
  so.seed = opt.seed;
  if (opt.check || opt.select == infer::Select::kChecker) so.checker = infer::checker_for_dataset(split);
  infer::validate(so);
  so.batch = engine_batch(opt, whole);
  infer::Solver solver(model, so);
  const std::int64_t chunk = engine_chunk_rows(opt, whole);
  data::Batch rows;
  std::vector<infer::Answer> answers;
  // Per example of the chunk: whether trajectory 0's answer after step k+1 is exact, and the last
  // step it ran (exact_by_step holds the stopped answer after that, as the whole-batch loop).
  std::vector<std::uint8_t> exact_step;
  std::vector<int> last0;
  EvalResult r;
  r.halting = opt.halting;
  r.checker = infer::to_string(so.checker.family());
  r.exact_by_step.assign(static_cast<std::size_t>(T), 0.0);
  double exact = 0, cells_ok = 0, cells = 0, steps = 0, q_ok = 0;
  for (std::int64_t begin = first; begin < total; begin += chunk) {
    const int m = static_cast<int>(std::min(chunk, total - begin));
    data::collate_range(split, begin, m, rows);
    exact_step.assign(static_cast<std::size_t>(m) * T, 0);
    last0.assign(static_cast<std::size_t>(m), 0);
    const std::int32_t* labels = rows.labels.data();
    solver.solve(
        rows.inputs.data(), rows.puzzle_identifiers.data(), m, answers,
        [&](std::int64_t p, int sample, int step, const std::int32_t* tok, float, bool) {
          if (sample != 0) return;
          const std::int32_t* lab = labels + p * S;
          bool ok = true;
          for (int i = 0; i < S && ok; ++i) ok = lab[i] < 0 || lab[i] == tok[i];
          exact_step[static_cast<std::size_t>(p) * T + static_cast<std::size_t>(step - 1)] = ok;
          last0[static_cast<std::size_t>(p)] = step;
        },
        [&](std::int64_t done, std::int64_t) {
          if (progress) progress(begin + done, total);
        });
    r.row_steps += solver.row_steps();
    for (int p = 0; p < m; ++p) {
      const infer::Answer& a = answers[static_cast<std::size_t>(p)];
      const std::int32_t* lab = labels + static_cast<std::ptrdiff_t>(p) * S;
      int ok = 0, valid = 0;
      for (int i = 0; i < S; ++i) {
        if (lab[i] < 0) continue;
        ++valid;
        ok += lab[i] == a.tokens[static_cast<std::size_t>(i)];
      }
      const bool ex = a.finite && ok == valid;  // a non-finite answer counts as wrong
      exact += ex;
      cells_ok += a.finite ? ok : 0;
      cells += valid;
      steps += a.steps;
      q_ok += a.finite && (a.q_halt >= 0.0f) == ex;
      r.nonfinite += !a.finite;
      r.verified += a.check == infer::CheckStatus::kVerified;
      const int last = std::max(1, last0[static_cast<std::size_t>(p)]);
      for (int s = 1; s <= T; ++s)
        r.exact_by_step[static_cast<std::size_t>(s - 1)] +=
            exact_step[static_cast<std::size_t>(p) * T + static_cast<std::size_t>(std::min(s, last) - 1)];
    }
  }
  sums = Sums{exact, cells_ok, cells, steps, q_ok};
  return r;
}

// The fixed-schedule (and whole-batch adaptive) loop over rows [first, end).
EvalResult evaluate_batches(TrmModel& model, const data::Dataset& split, const EvalOptions& opt,
                            const EvalProgress& progress, std::int64_t first, std::int64_t end, std::int64_t whole, Sums& sums);
}  // namespace

EvalResult evaluate(TrmModel& model, const data::Dataset& split, const EvalOptions& opt, const EvalProgress& progress) {
  const ModelConfig& c = model.config();
  if (split.meta.seq_len != c.seq_len)
    throw Error("evaluate: the split has seq_len " + std::to_string(split.meta.seq_len) + ", the model " + std::to_string(c.seq_len));
  if (split.meta.vocab_size > c.vocab_size)
    throw Error("evaluate: the split's vocab_size " + std::to_string(split.meta.vocab_size) + " exceeds the model's " +
                std::to_string(c.vocab_size));
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t total = rows_covered(split, opt.max_examples);
  const bool engine = (opt.halting == Halting::kAdaptive && !opt.whole_batch) || opt.samples != 1 || opt.check ||
                      opt.select == infer::Select::kChecker;
  // Each rank takes a contiguous run of the batches (fixed schedule) or chunks (engine) one process
  // would run, with the same rows in each: a GEMM's rounding can depend on the rows beside a row,
  // and an answer near a tie flips with it, so the shards keep every batch as it was. The sums
  // (integer counts held in doubles, exact) then equal one process's.
  const bool sharded = opt.comm && opt.comm->size() > 1 && opt.samples == 1;
  std::int64_t first = 0, end = total;
  if (sharded) {
    const std::int64_t unit = engine ? engine_chunk_rows(opt, total) : batch_for(total, opt.batch);
    const auto [u0, u1] = dist::shard_range((total + unit - 1) / unit, opt.comm->rank(), opt.comm->size());
    first = std::min(total, u0 * unit);
    end = std::min(total, u1 * unit);
  }
  Sums s;
  EvalResult r = engine ? evaluate_on_engine(model, split, opt, progress, first, end, total, s)
                        : evaluate_batches(model, split, opt, progress, first, end, total, s);
  if (sharded) {
    std::vector<double> v = {s.exact, s.cells_ok, s.cells, s.steps, s.q_ok, static_cast<double>(r.nonfinite),
                             static_cast<double>(r.verified), static_cast<double>(r.row_steps)};
    v.insert(v.end(), r.exact_by_step.begin(), r.exact_by_step.end());
    opt.comm->allreduce_sum(v.data(), static_cast<std::int64_t>(v.size()));
    s = Sums{v[0], v[1], v[2], v[3], v[4]};
    r.nonfinite = static_cast<std::int64_t>(v[5]);
    r.verified = static_cast<std::int64_t>(v[6]);
    r.row_steps = static_cast<std::int64_t>(v[7]);
    std::copy(v.begin() + 8, v.end(), r.exact_by_step.begin());
  }
  finish(r, total, s, t0);
  return r;
}

namespace {
EvalResult evaluate_batches(TrmModel& model, const data::Dataset& split, const EvalOptions& opt,
                            const EvalProgress& progress, std::int64_t first, std::int64_t end, std::int64_t whole, Sums& sums) {
  const ModelConfig& c = model.config();
  // The batch size one process would use for all `whole` rows, so each shard's batches are its.
  EvalBatches batches(model, split, batch_for(whole, opt.batch), first, end);
  const int B = batches.max_batch(), T = c.halt_max_steps;
  Backend& be = model.backend();
  std::vector<float> q(static_cast<std::size_t>(2 * B));
  std::vector<int> stop_step(static_cast<std::size_t>(B));
  std::vector<std::uint8_t> exact_at_stop(static_cast<std::size_t>(B));
  std::vector<std::int32_t> correct_at_stop(static_cast<std::size_t>(B)), valid(static_cast<std::size_t>(B));
  std::vector<float> q_at_stop(static_cast<std::size_t>(B));
  std::vector<std::uint8_t> finite_at_stop(static_cast<std::size_t>(B));
  const std::int64_t row_logits = static_cast<std::int64_t>(c.seq_len) * c.vocab_size;
  LossResult lr;  // reused by every step
  EvalResult r;
  r.halting = opt.halting;
  r.exact_by_step.assign(static_cast<std::size_t>(T), 0.0);
  double exact = 0, cells_ok = 0, cells = 0, steps = 0, q_ok = 0;
  while (batches.next()) {
    const int n = batches.size();
    const Batch& batch = batches.batch();
    std::fill(stop_step.begin(), stop_step.end(), 0);
    int running = n, last = 0;
    for (int s = 1; s <= T && running > 0; ++s) {
      batches.carry().forward(batch);
      r.row_steps += n;
      model.loss(batch, 1, false, lr);
      be.to_host(model.q(), q.data(), 2 * n);
      // One pass over the batch's logits; per example only when something is off (rare).
      const bool all_finite = be.count_nonfinite(model.logits(), n * row_logits) == 0;
      for (int b = 0; b < n; ++b) {
        if (stop_step[b]) continue;  // a stopped example keeps the answer it stopped with
        const bool finite = std::isfinite(q[2 * b]) && std::isfinite(q[2 * b + 1]) &&
                            (all_finite || be.count_nonfinite(model.logits() + b * row_logits, row_logits) == 0);
        finite_at_stop[b] = finite;
        // The argmax of non-finite logits means nothing: such an answer counts as wrong.
        exact_at_stop[b] = static_cast<std::uint8_t>(finite && lr.seq_correct[b]);
        correct_at_stop[b] = finite ? lr.correct[b] : 0;
        valid[b] = lr.valid[b];
        q_at_stop[b] = q[2 * b];
        if (s == T || (opt.halting == Halting::kAdaptive && halt_signal(c, q.data() + 2 * b))) {
          stop_step[b] = s;
          --running;
        }
      }
      for (int b = 0; b < n; ++b) r.exact_by_step[static_cast<std::size_t>(s - 1)] += exact_at_stop[b];
      last = s;
    }
    // After an early end, the answers in effect for the remaining steps are the stopped ones.
    for (int s = last + 1; s <= T; ++s)
      for (int b = 0; b < n; ++b) r.exact_by_step[static_cast<std::size_t>(s - 1)] += exact_at_stop[b];
    for (int b = 0; b < n; ++b) {
      exact += exact_at_stop[b];
      cells_ok += correct_at_stop[b];
      cells += valid[b];
      steps += stop_step[b];
      // As the reference's metric (docs/REFERENCE.md §4), except that a non-finite output is never
      // right: NaN >= 0 is false, which would score every wrong NaN answer as a correct prediction.
      q_ok += finite_at_stop[b] && (q_at_stop[b] >= 0.0f) == (exact_at_stop[b] != 0);
      r.nonfinite += !finite_at_stop[b];
    }
    if (progress) progress(batches.begin() + n, end);
  }
  sums = Sums{exact, cells_ok, cells, steps, q_ok};
  return r;
}
}  // namespace

}  // namespace trm
