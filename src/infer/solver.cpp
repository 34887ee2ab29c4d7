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

namespace {
// solve() as a stream: the n puzzles in order, each answer copied into out[index].
class ArrayStream final : public PuzzleStream {
 public:
  ArrayStream(const std::int32_t* inputs, const std::int32_t* ids, std::int64_t n, int seq_len, int samples,
              bool reference, std::vector<Answer>& out, const StepObserver& observer, const SolveProgress& progress)
      : inputs_(inputs), ids_(ids), n_(n), S_(seq_len), K_(samples), reference_(reference), out_(out),
        observer_(observer), progress_(progress) {}
  StreamPoll next(StreamPuzzle& p, int free_rows, bool) override {
    if (next_ >= n_) return StreamPoll::kEnd;
    if (free_rows < K_) return StreamPoll::kNone;
    p.input = inputs_ + next_ * S_;
    p.puzzle_id = ids_ ? ids_[next_] : 0;
    p.tag = static_cast<std::uint64_t>(next_);
    p.seed_index = static_cast<std::uint64_t>(next_);
    p.samples = K_;
    p.reference = reference_;
    ++next_;
    return StreamPoll::kPuzzle;
  }
  void done(std::uint64_t tag, const Answer& a) override {
    Answer& o = out_[static_cast<std::size_t>(tag)];
    std::copy(a.tokens.begin(), a.tokens.end(), o.tokens.begin());
    o.step_confidence.assign(a.step_confidence.begin(), a.step_confidence.end());  // reserved: no allocation
    o.steps = a.steps;
    o.q_halt = a.q_halt;
    o.confidence = a.confidence;
    o.check = a.check;
    o.sample = a.sample;
    o.finite = a.finite;
    o.total_steps = a.total_steps;
    ++finished_;
    if (progress_) progress_(finished_, n_);
  }
  bool observes_steps() const override { return static_cast<bool>(observer_); }
  void step(std::uint64_t tag, int sample, int step, const std::int32_t* tokens, float conf, bool verified) override {
    observer_(static_cast<std::int64_t>(tag), sample, step, tokens, conf, verified);
  }

 private:
  const std::int32_t* inputs_;
  const std::int32_t* ids_;
  std::int64_t n_, next_ = 0, finished_ = 0;
  int S_, K_;
  bool reference_;
  std::vector<Answer>& out_;
  const StepObserver& observer_;
  const SolveProgress& progress_;
};
}  // namespace

void Solver::solve(const std::int32_t* inputs, const std::int32_t* puzzle_ids, std::int64_t n, std::vector<Answer>& out,
                   const StepObserver& observer, const SolveProgress& progress) {
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
  ArrayStream stream(inputs, puzzle_ids, n, S_, opt_.samples, opt_.halting == HaltMode::kReference, out, observer,
                     progress);
  solve_stream(stream);
}

void Solver::solve_stream(PuzzleStream& stream) {
  const ModelConfig& c = model_.config();
  Backend& be = model_.backend();
  const Checker& chk = opt_.checker;
  const bool observe = stream.observes_steps();
  const std::int64_t row_logits = static_cast<std::int64_t>(S_) * V_;
  if (pending_.size() != static_cast<std::size_t>(B_)) {  // first use: one slot per row, answers sized
    pending_.resize(static_cast<std::size_t>(B_));
    for (Pending& p : pending_) {
      p.answer.tokens.assign(static_cast<std::size_t>(S_), 0);
      p.answer.step_confidence.reserve(static_cast<std::size_t>(T_));
    }
    free_pending_.reserve(static_cast<std::size_t>(B_));
  }
  free_pending_.clear();
  for (int i = B_ - 1; i >= 0; --i) {
    pending_[static_cast<std::size_t>(i)].used = false;
    free_pending_.push_back(i);
  }
  forwards_ = row_steps_ = 0;
  bool ended = false;
  int active = 0;
  StreamPuzzle sp;
  for (;;) {
    // Continuous batching: new puzzles take the free rows, K rows each, from a fresh carry.
    while (!ended && active < B_) {
      sp = StreamPuzzle{};
      const StreamPoll poll = stream.next(sp, B_ - active, active == 0);
      if (poll == StreamPoll::kEnd) ended = true;
      if (poll != StreamPoll::kPuzzle) break;
      const int K = sp.samples > 0 ? sp.samples : opt_.samples;
      if (K > B_) throw Error("a puzzle asks for " + std::to_string(K) + " samples; this solver has " + std::to_string(B_) + " rows");
      TRM_ASSERT(K <= B_ - active && sp.input != nullptr, "solver: the stream gave a puzzle that does not fit");
      TRM_ASSERT(!free_pending_.empty(), "solver: no free puzzle slot");
      const int slot_p = free_pending_.back();
      free_pending_.pop_back();
      Pending& p = pending_[static_cast<std::size_t>(slot_p)];
      p.used = true;
      p.tag = sp.tag;
      p.samples = K;
      p.adaptive = !sp.reference;
      p.live = K;
      p.done = p.have = p.held_verified = false;
      p.first_step = 0;
      Answer& a = p.answer;
      std::fill(a.tokens.begin(), a.tokens.end(), 0);
      a.step_confidence.clear();
      a.steps = a.sample = a.total_steps = 0;
      a.q_halt = a.confidence = 0.0f;
      a.check = CheckStatus::kUnchecked;
      a.finite = true;
      for (int k = 0; k < K; ++k) {
        const int slot = active + k;
        Row& r = rows_[static_cast<std::size_t>(slot)];
        r.puzzle = slot_p;
        r.sample = k;
        r.steps = 0;
        r.rng = data::Rng(opt_.seed, sp.seed_index * static_cast<std::uint64_t>(K) + static_cast<std::uint64_t>(k));
        std::copy_n(sp.input, S_, tokens_.data() + static_cast<std::ptrdiff_t>(slot) * S_);
        ids_[static_cast<std::size_t>(slot)] = sp.puzzle_id;
      }
      model_.reset_carry(zH_.data() + active * per_row_, zL_.data() + active * per_row_, K);
      active += K;
    }
    if (active == 0) {
      if (ended) return;
      continue;  // the stream had nothing ready although idle: ask again
    }
    bool noisy = false;
    if (opt_.noise > 0.0f && !noise_host_.empty())
      for (int r = 0; r < active && !noisy; ++r) noisy = rows_[static_cast<std::size_t>(r)].sample > 0;
    if (noisy) add_noise(active);
    const Batch batch{active, tokens_.data(), nullptr, ids_.data()};
    model_.forward(batch, zH_.data(), zL_.data(), false);
    ++forwards_;
    row_steps_ += active;
    stream.ran(active);
    be.to_host(model_.logits(), logits_.data(), active * row_logits);
    be.to_host(model_.q(), q_.data(), 2 * active);
    const bool all_finite = be.count_nonfinite(model_.logits(), active * row_logits) == 0;

    // Pass 1: every row's answer, confidence, check and halting decision.
    for (int r = 0; r < active; ++r) {
      Row& row = rows_[static_cast<std::size_t>(r)];
      const Pending& p = pending_[static_cast<std::size_t>(row.puzzle)];
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
      if (observe) stream.step(p.tag, row.sample, row.steps, pr, conf, verified);
      bool signal = p.adaptive && halt_signal(c, q);
      if (signal && chk.active() && opt_.gate_halting && !verified) signal = false;  // a failing answer refines on
      halt_[static_cast<std::size_t>(r)] = static_cast<std::uint8_t>(row.steps >= T_ || signal);
    }
    // Pass 2: halted trajectories hand in their answers.
    for (int r = 0; r < active; ++r) {
      if (!halt_[static_cast<std::size_t>(r)]) continue;
      const Row& row = rows_[static_cast<std::size_t>(r)];
      Pending& p = pending_[static_cast<std::size_t>(row.puzzle)];
      Answer& a = p.answer;
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
          if (verified) take_it = !p.held_verified || (p.first_step == row.steps && better);
          else take_it = !p.held_verified && better;
          break;
      }
      if (take_it) {
        take(a, r, row.sample, row.steps, q[0], conf, finite, st);
        if (!p.have || (opt_.select == Select::kChecker && verified && !p.held_verified)) p.first_step = row.steps;
        p.have = true;
        if (verified) p.held_verified = true;
      }
    }
    // Which puzzles are finished: all trajectories in, or the rule needs no more of them.
    for (int r = 0; r < active; ++r) {
      if (!halt_[static_cast<std::size_t>(r)]) continue;
      Pending& p = pending_[static_cast<std::size_t>(rows_[static_cast<std::size_t>(r)].puzzle)];
      if (p.done) continue;
      const bool enough = p.live == 0 || (opt_.select == Select::kFirstHalt && p.have) ||
                          (opt_.select == Select::kChecker && p.held_verified);
      if (enough) p.done = true;
    }
    // Per-sample halting: the rows still running move to the front (carry rows, tokens, ids,
    // confidence history), dropping halted rows and the siblings of finished puzzles.
    int w = 0;
    for (int r = 0; r < active; ++r) {
      const Row& row = rows_[static_cast<std::size_t>(r)];
      Pending& p = pending_[static_cast<std::size_t>(row.puzzle)];
      if (halt_[static_cast<std::size_t>(r)]) continue;
      if (p.done) {  // a sibling that is no longer needed
        p.answer.total_steps += row.steps;
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
    // Finished puzzles (their rows all gone now) hand in their answers and free their slots, in
    // slot order.
    for (int i = 0; i < B_; ++i) {
      Pending& p = pending_[static_cast<std::size_t>(i)];
      if (!p.used || !p.done || p.live != 0) continue;
      p.used = false;
      free_pending_.push_back(i);
      stream.done(p.tag, p.answer);
    }
  }
}

}  // namespace trm::infer
