#include "trm/eval.h"

#include <algorithm>
#include <chrono>

#include "trm/act.h"
#include "trm/data/dataset.h"

namespace trm {

Halting halting_from_string(const std::string& s) {
  if (s == "reference") return Halting::kReference;
  if (s == "adaptive") return Halting::kAdaptive;
  throw Error("halting must be \"reference\" or \"adaptive\" (got \"" + s + "\")");
}

std::string to_string(Halting h) { return h == Halting::kAdaptive ? "adaptive" : "reference"; }

void split_rows(const data::Dataset& split, std::int64_t begin, int count, std::vector<std::int32_t>& inputs,
                std::vector<std::int32_t>& labels, std::vector<std::int32_t>& puzzle_ids) {
  const int S = split.meta.seq_len;
  inputs.resize(static_cast<std::size_t>(count) * S);
  labels.resize(inputs.size());
  puzzle_ids.resize(static_cast<std::size_t>(count));
  const bool has_ignore = split.meta.ignore_label_id.has_value();
  const int ignore = has_ignore ? *split.meta.ignore_label_id : -1;
  // The puzzle of a row: the last p with puzzle_indices[p] <= row (indices are monotone).
  const auto& pi = split.puzzle_indices;
  for (int i = 0; i < count; ++i) {
    const std::int64_t row = begin + i;
    const std::uint8_t* in = split.input_row(row);
    const std::uint8_t* lab = split.label_row(row);
    for (int t = 0; t < S; ++t) {
      inputs[static_cast<std::size_t>(i) * S + t] = in[t];
      labels[static_cast<std::size_t>(i) * S + t] = (has_ignore && lab[t] == ignore) ? -100 : lab[t];
    }
    const auto it = std::upper_bound(pi.begin(), pi.end(), static_cast<std::int32_t>(row));
    const std::ptrdiff_t p = std::max<std::ptrdiff_t>(0, (it - pi.begin()) - 1);
    puzzle_ids[static_cast<std::size_t>(i)] = split.puzzle_identifiers[static_cast<std::size_t>(p)];
  }
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

EvalResult evaluate(TrmModel& model, const data::Dataset& split, const EvalOptions& opt, const EvalProgress& progress) {
  const ModelConfig& c = model.config();
  if (split.meta.seq_len != c.seq_len)
    throw Error("evaluate: the split has seq_len " + std::to_string(split.meta.seq_len) + ", the model " + std::to_string(c.seq_len));
  if (split.meta.vocab_size > c.vocab_size)
    throw Error("evaluate: the split's vocab_size " + std::to_string(split.meta.vocab_size) + " exceeds the model's " +
                std::to_string(c.vocab_size));
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t total = opt.max_examples > 0 ? std::min(opt.max_examples, split.num_examples) : split.num_examples;
  const int B = std::max(1, static_cast<int>(std::min<std::int64_t>(opt.batch, std::max<std::int64_t>(total, 1))));
  const int T = c.halt_max_steps;
  model.reserve(B, false);
  Backend& be = model.backend();
  const std::int64_t state = static_cast<std::int64_t>(B) * c.total_len() * c.hidden_size;
  DeviceBuffer zH(be, state), zL(be, state);
  std::vector<std::int32_t> inputs, labels, ids;
  std::vector<float> q(static_cast<std::size_t>(2 * B));
  std::vector<int> stop_step(static_cast<std::size_t>(B));
  std::vector<std::uint8_t> exact_at_stop(static_cast<std::size_t>(B));
  std::vector<std::int32_t> correct_at_stop(static_cast<std::size_t>(B)), valid(static_cast<std::size_t>(B));
  std::vector<float> q_at_stop(static_cast<std::size_t>(B));
  LossResult lr;  // reused by every step
  EvalResult r;
  r.halting = opt.halting;
  r.exact_by_step.assign(static_cast<std::size_t>(T), 0.0);
  double exact = 0, cells_ok = 0, cells = 0, steps = 0, q_ok = 0;
  for (std::int64_t begin = 0; begin < total; begin += B) {
    const int n = static_cast<int>(std::min<std::int64_t>(B, total - begin));
    split_rows(split, begin, n, inputs, labels, ids);
    const Batch batch{n, inputs.data(), labels.data(), ids.data()};
    model.reset_carry(zH.data(), zL.data(), n);
    std::fill(stop_step.begin(), stop_step.end(), 0);
    int running = n, last = 0;
    for (int s = 1; s <= T && running > 0; ++s) {
      model.forward(batch, zH.data(), zL.data(), false);
      model.loss(batch, 1, false, lr);
      be.to_host(model.q(), q.data(), 2 * n);
      for (int b = 0; b < n; ++b) {
        if (stop_step[b]) continue;  // a stopped example keeps the answer it stopped with
        exact_at_stop[b] = static_cast<std::uint8_t>(lr.seq_correct[b]);
        correct_at_stop[b] = lr.correct[b];
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
      q_ok += (q_at_stop[b] >= 0.0f) == (exact_at_stop[b] != 0);  // as the reference's metric, docs/REFERENCE.md §4
    }
    if (progress) progress(begin + n, total);
  }
  if (total > 0) {
    r.n = total;
    r.exact_accuracy = exact / static_cast<double>(total);
    r.cell_accuracy = cells > 0 ? cells_ok / cells : 0.0;
    r.avg_steps = steps / static_cast<double>(total);
    r.q_halt_accuracy = q_ok / static_cast<double>(total);
    for (auto& v : r.exact_by_step) v /= static_cast<double>(total);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace trm
