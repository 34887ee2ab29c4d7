// Running a model over an ARC test split and feeding every row's prediction to an ArcVoter.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <set>

#include "data/collate.h"
#include "trm/arc/eval.h"
#include "trm/dist/communicator.h"
#include "trm/model/config.h"
#include "trm/eval/evaluate.h"

namespace trm {

namespace {
// One rank's share of arc_collect_votes: rounds of size() batches, rank k computing the k-th batch
// of each round; the predictions of a round are all-gathered and voted in row order on every rank.
void arc_collect_votes_sharded(TrmModel& model, const data::Dataset& split, const std::vector<std::string>& names,
                               ArcVoter& voter, const ArcEvalOptions& opt,
                               const std::function<void(std::int64_t, std::int64_t)>& progress) {
  dist::Communicator& comm = *opt.comm;
  const ModelConfig& c = model.config();
  const int S = c.seq_len, P = comm.size();
  const std::int64_t total = opt.max_examples > 0 ? std::min(opt.max_examples, split.num_examples) : split.num_examples;
  const int batch = std::max(1, opt.batch);
  model.reserve(batch, false);
  InferenceCarry carry(model, batch);
  // One record per row: puzzle id, q_halt, S predicted tokens.
  const std::size_t rec = 2 + static_cast<std::size_t>(S);
  std::vector<std::int32_t> mine(rec * static_cast<std::size_t>(batch)), all(mine.size() * static_cast<std::size_t>(P));
  std::vector<std::int32_t> pred;
  std::vector<float> q(static_cast<std::size_t>(2 * batch));
  data::Batch rows;
  const std::int64_t per_round = static_cast<std::int64_t>(P) * batch;
  for (std::int64_t round = 0; round * per_round < total; ++round) {
    auto range = [&](int k) {
      const std::int64_t first = round * per_round + static_cast<std::int64_t>(k) * batch;
      return std::pair<std::int64_t, int>{first, static_cast<int>(std::clamp<std::int64_t>(total - first, 0, batch))};
    };
    const auto [first, n] = range(comm.rank());
    if (n > 0) {
      data::collate_range(split, first, n, rows);
      const Batch b{n, rows.inputs.data(), nullptr, rows.puzzle_identifiers.data()};  // inference: no labels
      carry.reset(n);
      for (int s = 0; s < c.halt_max_steps; ++s) carry.forward(b);
      predictions(model, n, pred);
      model.backend().to_host(model.q(), q.data(), 2 * n);
      for (int r = 0; r < n; ++r) {
        std::int32_t* out = mine.data() + rec * static_cast<std::size_t>(r);
        out[0] = rows.puzzle_identifiers[static_cast<std::size_t>(r)];
        std::memcpy(&out[1], &q[static_cast<std::size_t>(2 * r)], sizeof(float));
        std::copy_n(pred.data() + static_cast<std::ptrdiff_t>(r) * S, S, out + 2);
      }
    }
    comm.allgather(mine.data(), all.data(), static_cast<std::int64_t>(mine.size() * sizeof(std::int32_t)));
    for (int k = 0; k < P; ++k) {
      const auto [first_k, n_k] = range(k);
      for (int r = 0; r < n_k; ++r) {
        const std::int32_t* in = all.data() + rec * (static_cast<std::size_t>(k) * batch + static_cast<std::size_t>(r));
        const std::int32_t id = in[0];
        if (id == 0) continue;  // blank / padding rows carry no puzzle
        float q_halt;
        std::memcpy(&q_halt, &in[1], sizeof(float));
        const double conf = 1.0 / (1.0 + std::exp(-static_cast<double>(q_halt)));
        voter.add_tokens(names[static_cast<std::size_t>(id)],
                         std::span<const std::uint8_t>(split.input_row(first_k + r), static_cast<std::size_t>(S)),
                         std::span<const std::int32_t>(in + 2, static_cast<std::size_t>(S)), conf);
      }
    }
    if (progress) progress(std::min(total, (round + 1) * per_round), total);
  }
}
}  // namespace

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
  if (opt.comm && opt.comm->size() > 1) return arc_collect_votes_sharded(model, split, names, voter, opt, progress);
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

std::int64_t arc_whole_task_rows(const data::Dataset& split, std::int64_t n) {
  if (n <= 0 || n >= split.num_examples) return split.num_examples;
  // The group of the puzzle holding row n - 1, then the first row after that group.
  const auto& pi = split.puzzle_indices;
  const auto& gi = split.group_indices;
  const auto puzzle = std::upper_bound(pi.begin(), pi.end(), static_cast<std::int32_t>(n - 1)) - pi.begin() - 1;
  const auto group = std::upper_bound(gi.begin(), gi.end(), static_cast<std::int32_t>(puzzle)) - gi.begin() - 1;
  return pi[static_cast<std::size_t>(gi[static_cast<std::size_t>(group) + 1])];
}

std::vector<std::string> arc_tasks_in_rows(const data::Dataset& split, const std::vector<std::string>& names,
                                           std::int64_t rows) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (std::int64_t p = 0; p < split.num_puzzles() && split.puzzle_indices[static_cast<std::size_t>(p)] < rows; ++p) {
    const std::int32_t id = split.puzzle_identifiers[static_cast<std::size_t>(p)];
    if (id <= 0 || static_cast<std::size_t>(id) >= names.size()) continue;
    std::string task = data::parse_arc_version_name(names[static_cast<std::size_t>(id)]).first;
    if (seen.insert(task).second) out.push_back(std::move(task));
  }
  return out;
}

}  // namespace trm
