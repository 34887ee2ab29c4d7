#include "trm/infer/solver.h"

#include <algorithm>
#include <cmath>

#include "trm/error.h"
#include "trm/train/act.h"

namespace trm::infer {

Select select_from_string(const std::string& s) {
  if (s == "confidence") return Select::kConfidence;
  if (s == "first-halt") return Select::kFirstHalt;
  if (s == "checker") return Select::kChecker;
  throw Error("--select must be confidence, first-halt or checker (got \"" + s + "\")");
}

std::string to_string(Select s) {
  switch (s) {
    case Select::kFirstHalt: return "first-halt";
    case Select::kChecker: return "checker";
    case Select::kConfidence: break;
  }
  return "confidence";
}

std::string to_string(CheckStatus s) {
  switch (s) {
    case CheckStatus::kVerified: return "verified";
    case CheckStatus::kFailed: return "unverified";
    case CheckStatus::kUnchecked: break;
  }
  return "unchecked";
}

void validate(const SolverOptions& o) {
  if (o.samples <= 0) throw Error("--samples must be >= 1 (got " + std::to_string(o.samples) + ")");
  if (!(o.noise >= 0.0f) || !std::isfinite(o.noise))
    throw Error("--noise must be a finite number >= 0 (got " + std::to_string(o.noise) + ")");
  if (o.batch < 1) throw Error("--batch must be >= 1 (got " + std::to_string(o.batch) + ")");
  if (o.max_steps < 0) throw Error("the step limit must be >= 0 (got " + std::to_string(o.max_steps) + ")");
  if (o.select == Select::kChecker && !o.checker.active())
    throw Error("--select checker needs a puzzle family with a checker (Sudoku or maze); this data has none");
}

namespace {
SolverOptions validated(const SolverOptions& o) {
  validate(o);
  return o;
}
// The halting probability (solver.h): TRM sigmoid(q_halt), HRM sigmoid(q_halt - q_continue).
float confidence_of(const ModelConfig& c, const float* q) {
  const float x = c.act_continue() ? q[0] - q[1] : q[0];
  return 1.0f / (1.0f + std::exp(-x));
}
}  // namespace

Solver::Solver(TrmModel& model, const SolverOptions& opt)
    : model_(model),
      opt_(validated(opt)),
      B_(std::max(opt.batch, opt.samples)),
      S_(model.config().seq_len),
      T_(opt.max_steps > 0 ? opt.max_steps : model.config().halt_max_steps),
      V_(model.config().vocab_size),
      per_row_(static_cast<std::int64_t>(model.config().total_len()) * model.config().hidden_size) {
  if (opt_.checker.active() && opt_.checker.cells() != S_)
    throw Error("the " + to_string(opt_.checker.family()) + " checker is for " + std::to_string(opt_.checker.cells()) +
                " cells, the model's sequences have " + std::to_string(S_));
  model_.reserve(B_, false);
  Backend& be = model_.backend();
  zH_ = DeviceBuffer(be, B_ * per_row_);
  zL_ = DeviceBuffer(be, B_ * per_row_);
  const bool noisy = opt_.samples > 1 && opt_.noise > 0.0f;
  if (noisy) {
    noise_dev_ = DeviceBuffer(be, B_ * per_row_);
    noise_host_.resize(static_cast<std::size_t>(B_ * per_row_));
  }
  logits_.resize(static_cast<std::size_t>(B_) * S_ * V_);
  q_.resize(static_cast<std::size_t>(2 * B_));
  hist_.resize(static_cast<std::size_t>(B_) * T_);
  tokens_.resize(static_cast<std::size_t>(B_) * S_);
  pred_.resize(tokens_.size());
  ids_.resize(static_cast<std::size_t>(B_));
  finite_.resize(ids_.size());
  halt_.resize(ids_.size());
  rows_.resize(ids_.size());
}

void Solver::add_noise(int rows) {
  // Box-Muller from the row's own generator: trajectory 0 stays noise-free.
  const float sigma = opt_.noise;
  for (int r = 0; r < rows; ++r) {
    float* x = noise_host_.data() + r * per_row_;
    if (rows_[static_cast<std::size_t>(r)].sample == 0) {
      std::fill(x, x + per_row_, 0.0f);
      continue;
    }
    data::Rng& g = rows_[static_cast<std::size_t>(r)].rng;
    for (std::int64_t i = 0; i < per_row_; i += 2) {
      const double u1 = 1.0 - g.uniform(), u2 = g.uniform();
      const double m = std::sqrt(-2.0 * std::log(u1)) * sigma, a = 6.283185307179586 * u2;
      x[i] = static_cast<float>(m * std::cos(a));
      if (i + 1 < per_row_) x[i + 1] = static_cast<float>(m * std::sin(a));
    }
  }
  Backend& be = model_.backend();
  const std::int64_t n = rows * per_row_;
  be.from_host(noise_host_.data(), noise_dev_.data(), n);
  be.accumulate(zH_.data(), noise_dev_.data(), n);
  // A second draw for z_L (the generator has moved on, so it is independent of z_H's).
  for (int r = 0; r < rows; ++r) {
    if (rows_[static_cast<std::size_t>(r)].sample == 0) continue;
    float* x = noise_host_.data() + r * per_row_;
    data::Rng& g = rows_[static_cast<std::size_t>(r)].rng;
    for (std::int64_t i = 0; i < per_row_; i += 2) {
      const double u1 = 1.0 - g.uniform(), u2 = g.uniform();
      const double m = std::sqrt(-2.0 * std::log(u1)) * sigma, a = 6.283185307179586 * u2;
      x[i] = static_cast<float>(m * std::cos(a));
      if (i + 1 < per_row_) x[i + 1] = static_cast<float>(m * std::sin(a));
    }
  }
  be.from_host(noise_host_.data(), noise_dev_.data(), n);
  be.accumulate(zL_.data(), noise_dev_.data(), n);
}

void Solver::take(Answer& a, int slot, int sample, int steps, float q, float conf, bool finite, CheckStatus st) {
  std::copy_n(pred_.data() + static_cast<std::ptrdiff_t>(slot) * S_, S_, a.tokens.data());
  a.step_confidence.assign(hist_.data() + static_cast<std::ptrdiff_t>(slot) * T_,
                           hist_.data() + static_cast<std::ptrdiff_t>(slot) * T_ + steps);
  a.steps = steps;
  a.q_halt = q;
  a.confidence = conf;
  a.finite = finite;
  a.check = st;
  a.sample = sample;
}

void Solver::solve(const std::int32_t* inputs, const std::int32_t* puzzle_ids, std::int64_t n, std::vector<Answer>& out,
                   const StepObserver& observer, const SolveProgress& progress) {
  const ModelConfig& c = model_.config();
  Backend& be = model_.backend();
  const int K = opt_.samples;
  const Checker& chk = opt_.checker;
  const bool noisy = K > 1 && opt_.noise > 0.0f;
  const bool adaptive = opt_.halting == HaltMode::kAdaptive;
  const std::int64_t row_logits = static_cast<std::int64_t>(S_) * V_;
  out.resize(static_cast<std::size_t>(n));
  for (Answer& a : out) {  // reset in place: a second solve() of as many puzzles allocates nothing
    a.tokens.assign(static_cast<std::size_t>(S_), 0);
    a.step_confidence.reserve(static_cast<std::size_t>(T_));
    a.step_confidence.clear();
    a.steps = a.sample = a.total_steps = 0;
    a.q_halt = a.confidence = 0.0f;
    a.check = CheckStatus::kUnchecked;
    a.finite = true;
  }
  pending_.assign(static_cast<std::size_t>(n), Pending{});
  held_verified_.assign(static_cast<std::size_t>(n), 0);
  std::vector<std::uint8_t>& held_verified = held_verified_;
  forwards_ = row_steps_ = 0;
  std::int64_t next = 0, finished = 0;
  int active = 0;
  while (finished < n) {
    // Continuous batching: the next puzzles take the free rows, K rows each, from a fresh carry.
    while (next < n && active + K <= B_) {
      for (int k = 0; k < K; ++k) {
        const int slot = active + k;
        Row& r = rows_[static_cast<std::size_t>(slot)];
        r.puzzle = next;
        r.sample = k;
        r.steps = 0;
        r.rng = data::Rng(opt_.seed, static_cast<std::uint64_t>(next) * static_cast<std::uint64_t>(K) + static_cast<std::uint64_t>(k));
        std::copy_n(inputs + next * S_, S_, tokens_.data() + static_cast<std::ptrdiff_t>(slot) * S_);
        ids_[static_cast<std::size_t>(slot)] = puzzle_ids ? puzzle_ids[next] : 0;
      }
      model_.reset_carry(zH_.data() + active * per_row_, zL_.data() + active * per_row_, K);
      pending_[static_cast<std::size_t>(next)].live = K;
      active += K;
      ++next;
    }
    TRM_ASSERT(active > 0, "solver: no rows to run");
    if (noisy) add_noise(active);
    const Batch batch{active, tokens_.data(), nullptr, ids_.data()};
    model_.forward(batch, zH_.data(), zL_.data(), false);
    ++forwards_;
    row_steps_ += active;
    be.to_host(model_.logits(), logits_.data(), active * row_logits);
    be.to_host(model_.q(), q_.data(), 2 * active);
    const bool all_finite = be.count_nonfinite(model_.logits(), active * row_logits) == 0;

    // Pass 1: every row's answer, confidence, check and halting decision.
    for (int r = 0; r < active; ++r) {
      Row& row = rows_[static_cast<std::size_t>(r)];
      row.steps += 1;
      const float* lg = logits_.data() + r * row_logits;
      std::int32_t* pr = pred_.data() + static_cast<std::ptrdiff_t>(r) * S_;
      for (int s = 0; s < S_; ++s) {
        const float* x = lg + static_cast<std::ptrdiff_t>(s) * V_;
        pr[s] = static_cast<std::int32_t>(std::max_element(x, x + V_) - x);
      }
      const float* q = q_.data() + 2 * r;
      const bool finite = std::isfinite(q[0]) && std::isfinite(q[1]) &&
                          (all_finite || be.count_nonfinite(model_.logits() + r * row_logits, row_logits) == 0);
      finite_[static_cast<std::size_t>(r)] = finite;
      const float conf = confidence_of(c, q);
      hist_[static_cast<std::size_t>(r) * T_ + static_cast<std::size_t>(row.steps - 1)] = conf;
      const bool verified = chk.active() && finite && chk.ok(tokens_.data() + static_cast<std::ptrdiff_t>(r) * S_, pr);
      if (observer) observer(row.puzzle, row.sample, row.steps, pr, conf, verified);
      bool signal = adaptive && halt_signal(c, q);
      if (signal && chk.active() && opt_.gate_halting && !verified) signal = false;  // a failing answer refines on
      halt_[static_cast<std::size_t>(r)] = static_cast<std::uint8_t>(row.steps >= T_ || signal);
    }
    // Pass 2: halted trajectories hand in their answers.
    for (int r = 0; r < active; ++r) {
      if (!halt_[static_cast<std::size_t>(r)]) continue;
      const Row& row = rows_[static_cast<std::size_t>(r)];
      Pending& p = pending_[static_cast<std::size_t>(row.puzzle)];
      Answer& a = out[static_cast<std::size_t>(row.puzzle)];
      a.total_steps += row.steps;
      p.live -= 1;
      if (p.done) continue;
      const float* q = q_.data() + 2 * r;
      const bool finite = finite_[static_cast<std::size_t>(r)];
      const float conf = confidence_of(c, q);
      const bool verified = chk.active() && finite &&
                            chk.ok(tokens_.data() + static_cast<std::ptrdiff_t>(r) * S_, pred_.data() + static_cast<std::ptrdiff_t>(r) * S_);
      const CheckStatus st = !chk.active() ? CheckStatus::kUnchecked : verified ? CheckStatus::kVerified : CheckStatus::kFailed;
      // A finite answer always beats a non-finite one; among equals the higher confidence wins.
      const bool better = !p.have || (finite && !a.finite) || (finite == a.finite && conf > a.confidence);
      bool take_it = false;
      switch (opt_.select) {
        case Select::kConfidence: take_it = better; break;
        case Select::kFirstHalt: take_it = !p.have || (p.first_step == row.steps && better); break;
        case Select::kChecker:
          if (verified) take_it = !held_verified[static_cast<std::size_t>(row.puzzle)] || (p.first_step == row.steps && better);
          else take_it = !held_verified[static_cast<std::size_t>(row.puzzle)] && better;
          break;
      }
      if (take_it) {
        take(a, r, row.sample, row.steps, q[0], conf, finite, st);
        if (!p.have || (opt_.select == Select::kChecker && verified && !held_verified[static_cast<std::size_t>(row.puzzle)]))
          p.first_step = row.steps;
        p.have = true;
        if (verified) held_verified[static_cast<std::size_t>(row.puzzle)] = 1;
      }
    }
    // Which puzzles are finished: all trajectories in, or the rule needs no more of them.
    for (int r = 0; r < active; ++r) {
      if (!halt_[static_cast<std::size_t>(r)]) continue;
      const std::int64_t pz = rows_[static_cast<std::size_t>(r)].puzzle;
      Pending& p = pending_[static_cast<std::size_t>(pz)];
      if (p.done) continue;
      const bool enough = p.live == 0 || (opt_.select == Select::kFirstHalt && p.have) ||
                          (opt_.select == Select::kChecker && held_verified[static_cast<std::size_t>(pz)]);
      if (enough) {
        p.done = true;
        ++finished;
        if (progress) progress(finished, n);
      }
    }
    // Per-sample halting: the rows still running move to the front (carry rows, tokens, ids,
    // confidence history), dropping halted rows and the siblings of finished puzzles.
    int w = 0;
    for (int r = 0; r < active; ++r) {
      const Row& row = rows_[static_cast<std::size_t>(r)];
      Pending& p = pending_[static_cast<std::size_t>(row.puzzle)];
      if (halt_[static_cast<std::size_t>(r)]) continue;
      if (p.done) {  // a sibling that is no longer needed
        out[static_cast<std::size_t>(row.puzzle)].total_steps += row.steps;
        p.live -= 1;
        continue;
      }
      if (w != r) {
        be.copy(zH_.data() + r * per_row_, zH_.data() + w * per_row_, per_row_);
        be.copy(zL_.data() + r * per_row_, zL_.data() + w * per_row_, per_row_);
        std::copy_n(tokens_.data() + static_cast<std::ptrdiff_t>(r) * S_, S_, tokens_.data() + static_cast<std::ptrdiff_t>(w) * S_);
        std::copy_n(hist_.data() + static_cast<std::ptrdiff_t>(r) * T_, T_, hist_.data() + static_cast<std::ptrdiff_t>(w) * T_);
        ids_[static_cast<std::size_t>(w)] = ids_[static_cast<std::size_t>(r)];
        rows_[static_cast<std::size_t>(w)] = rows_[static_cast<std::size_t>(r)];
      }
      ++w;
    }
    active = w;
  }
}

}  // namespace trm::infer
