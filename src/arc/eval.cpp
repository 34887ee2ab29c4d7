// Running a model over an ARC test split and feeding every row's prediction to an ArcVoter.
#include <algorithm>
#include <cmath>

#include "trm/arc/eval.h"
#include "trm/model/config.h"
#include "trm/eval/evaluate.h"

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
  EvalBatches batches(model, split, opt.max_examples, opt.batch);
  const int S = c.seq_len;
  Backend& be = model.backend();
  std::vector<std::int32_t> pred;
  std::vector<float> q(static_cast<std::size_t>(2 * batches.max_batch()));
  while (batches.next()) {
    const int n = batches.size();
    const std::int64_t begin = batches.begin();
    const Batch& rows = batches.batch();
    const Batch batch{n, rows.inputs, nullptr, rows.puzzle_ids};  // inference: no labels
    // No halting at evaluation: the prediction is the last step's, as in the reference.
    for (int s = 0; s < c.halt_max_steps; ++s) batches.carry().forward(batch);
    predictions(model, n, pred);
    be.to_host(model.q(), q.data(), 2 * n);
    for (int b = 0; b < n; ++b) {
      const std::int32_t id = rows.puzzle_ids[b];
      if (id == 0) continue;  // blank / padding rows carry no puzzle
      const double conf = 1.0 / (1.0 + std::exp(-static_cast<double>(q[static_cast<std::size_t>(2 * b)])));
      voter.add_tokens(names[static_cast<std::size_t>(id)],
                       std::span<const std::uint8_t>(split.input_row(begin + b), static_cast<std::size_t>(S)),
                       std::span<const std::int32_t>(pred.data() + static_cast<std::size_t>(b) * S, static_cast<std::size_t>(S)),
                       conf);
    }
    if (progress) progress(begin + n, batches.total());
  }
}

}  // namespace trm
