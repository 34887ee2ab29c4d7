// Running a model over an ARC test split and feeding every row's prediction to an ArcVoter.
#include <algorithm>
#include <cmath>

#include "data/collate.h"
#include "trm/act.h"
#include "trm/arc_eval.h"
#include "trm/config.h"
#include "trm/eval.h"

namespace trm {

void arc_collect_votes(TrmModel& model, const data::Dataset& split, const std::vector<std::string>& names,
                       ArcVoter& voter, const ArcEvalOptions& opt,
                       const std::function<void(std::int64_t, std::int64_t)>& progress) {
  const ModelConfig& c = model.config();
  if (split.meta.seq_len != data::kArcSeqLen || c.seq_len != data::kArcSeqLen)
    throw Error("arc eval: needs seq_len " + std::to_string(data::kArcSeqLen) + " (30x30); the split has " +
                std::to_string(split.meta.seq_len) + ", the model " + std::to_string(c.seq_len));
  if (c.vocab_size < data::kArcVocabSize)
    throw Error("arc eval: the model's vocab_size " + std::to_string(c.vocab_size) + " is below ARC's " +
                std::to_string(data::kArcVocabSize));
  if (static_cast<std::int64_t>(names.size()) < split.meta.num_puzzle_identifiers)
    throw Error("arc eval: identifiers.json names " + std::to_string(names.size()) + " puzzles, the split uses " +
                std::to_string(split.meta.num_puzzle_identifiers));
  if (split.meta.num_puzzle_identifiers > c.num_puzzle_identifiers)
    throw Error("arc eval: the split has " + std::to_string(split.meta.num_puzzle_identifiers) +
                " puzzle identifiers, the model's embedding table only " + std::to_string(c.num_puzzle_identifiers) +
                " (was it trained on this dataset?)");
  const auto [total, B] = eval_extent(split.num_examples, opt.max_examples, opt.batch);
  const int S = c.seq_len;
  model.reserve(B, false);
  Backend& be = model.backend();
  InferenceCarry carry(model, B);
  data::Batch rows;
  std::vector<std::int32_t> pred;
  std::vector<float> q(static_cast<std::size_t>(2 * B));
  for (std::int64_t begin = 0; begin < total; begin += B) {
    const int n = static_cast<int>(std::min<std::int64_t>(B, total - begin));
    data::collate_range(split, begin, n, rows);
    const Batch batch{n, rows.inputs.data(), nullptr, rows.puzzle_identifiers.data()};
    carry.reset(n);
    // No halting at evaluation: the prediction is the last step's, as in the reference.
    for (int s = 0; s < c.halt_max_steps; ++s) carry.forward(batch);
    predictions(model, n, pred);
    be.to_host(model.q(), q.data(), 2 * n);
    for (int b = 0; b < n; ++b) {
      const std::int32_t id = rows.puzzle_identifiers[static_cast<std::size_t>(b)];
      if (id == 0) continue;  // blank / padding rows carry no puzzle
      const double conf = 1.0 / (1.0 + std::exp(-static_cast<double>(q[static_cast<std::size_t>(2 * b)])));
      voter.add_tokens(names[static_cast<std::size_t>(id)],
                       std::span<const std::uint8_t>(split.input_row(begin + b), static_cast<std::size_t>(S)),
                       std::span<const std::int32_t>(pred.data() + static_cast<std::size_t>(b) * S, static_cast<std::size_t>(S)),
                       conf);
    }
    if (progress) progress(begin + n, total);
  }
}

}  // namespace trm
