// Test-time training of fresh puzzle-embedding rows for a new ARC task (see trm/arc/solve.h).
#include "trm/arc/solve.h"

#include <algorithm>
#include <chrono>

#include "data/collate.h"
#include "trm/train/act.h"
#include "trm/model/config.h"
#include "trm/data/rng.h"

namespace trm {
namespace {

// A model with the base network and a table of 1 + versions rows (row 0 stays the blank id).
std::unique_ptr<TrmModel> with_new_rows(TrmModel& base, int versions, ArcRowInit init) {
  ModelConfig cfg = base.config();
  cfg.num_puzzle_identifiers = versions + 1;
  Backend& be = base.backend();
  auto m = std::make_unique<TrmModel>(cfg, be);
  be.copy(base.params(), m->params(), base.flat_size());
  be.copy(base.H_init(), m->H_init(), cfg.hidden_size);
  be.copy(base.L_init(), m->L_init(), cfg.hidden_size);
  const int nd = cfg.puzzle_emb_ndim;
  std::vector<float> row(static_cast<std::size_t>(nd), 0.0f);
  if (init == ArcRowInit::kMean) {
    // Mean over the trained rows (1..N-1); a table of only the blank row averages that one.
    const std::int64_t rows = base.config().num_puzzle_identifiers;
    std::vector<float> table(static_cast<std::size_t>(rows) * nd);
    be.to_host(base.puzzle_table(), table.data(), static_cast<std::int64_t>(table.size()));
    const std::int64_t first = rows > 1 ? 1 : 0;
    std::vector<double> sum(static_cast<std::size_t>(nd), 0.0);
    for (std::int64_t r = first; r < rows; ++r)
      for (int k = 0; k < nd; ++k) sum[static_cast<std::size_t>(k)] += table[static_cast<std::size_t>(r * nd + k)];
    for (int k = 0; k < nd; ++k) row[static_cast<std::size_t>(k)] = static_cast<float>(sum[static_cast<std::size_t>(k)] / static_cast<double>(rows - first));
  }
  be.fill(m->puzzle_table(), 0.0f, m->puzzle_table_size());
  for (int v = 1; v <= versions; ++v) be.from_host(row.data(), m->puzzle_table() + static_cast<std::int64_t>(v) * nd, nd);
  return m;
}

}  // namespace

ArcRowInit arc_row_init_from_string(const std::string& s) {
  if (s == "mean") return ArcRowInit::kMean;
  if (s == "zeros") return ArcRowInit::kZeros;
  throw Error("puzzle row init must be \"mean\" or \"zeros\" (got \"" + s + "\")");
}

ArcSolveResult arc_solve(TrmModel& base, const data::ArcTask& task, const ArcSolveOptions& opt, std::unique_ptr<TrmModel>* tuned) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelConfig& bc = base.config();
  if (bc.seq_len != data::kArcSeqLen || bc.vocab_size < data::kArcVocabSize)
    throw Error("arc solve: the checkpoint is not an ARC model (seq_len " + std::to_string(bc.seq_len) + ", vocab " +
                std::to_string(bc.vocab_size) + "; ARC needs 900 and 12)");
  if (bc.puzzle_emb_ndim <= 0) throw Error("arc solve: the model has no puzzle embedding to train");
  if (opt.steps < 0 || opt.batch <= 0 || opt.aug < 0) throw Error("arc solve: --steps and --aug must be >= 0, --batch > 0");

  data::Rng rng(opt.seed);
  const std::vector<data::ArcAug> versions = data::arc_task_versions(task, opt.aug, rng);
  const int V = static_cast<int>(versions.size());
  ArcSolveResult res;
  res.names.push_back("<blank>");
  for (const auto& a : versions) res.names.push_back(data::arc_version_name(task.id, a));

  // Training examples: the demonstration pairs of every version, translated as the builder does.
  data::SplitBuilder tb(data::kArcSeqLen), eb(data::kArcSeqLen);
  for (int v = 0; v < V; ++v) {
    data::add_arc_version(tb, task.train, versions[static_cast<std::size_t>(v)], true, rng);
    tb.end_puzzle(v + 1);
    data::add_arc_version(eb, task.test, versions[static_cast<std::size_t>(v)], false, rng);
    eb.end_puzzle(v + 1);
  }
  tb.end_group();
  eb.end_group();
  data::Metadata meta;
  meta.vocab_size = data::kArcVocabSize;
  meta.num_puzzle_identifiers = V + 1;
  meta.ignore_label_id = data::kArcPad;  // PAD is not supervised: collation maps it to the ignore label
  const data::Dataset train = std::move(tb).finish(meta);
  const data::Dataset test = std::move(eb).finish(meta);
  res.train_examples = train.num_examples;

  std::unique_ptr<TrmModel> m = with_new_rows(base, V, opt.init);
  Backend& be = m->backend();
  const ModelConfig& c = m->config();
  const int nd = c.puzzle_emb_ndim;
  const int B = static_cast<int>(std::min<std::int64_t>(opt.batch, train.num_examples));
  if (B == 0) throw Error("arc solve: task " + task.id + " has no demonstration pairs to train on");
  m->reserve(B, true);
  InferenceCarry carry(*m, B);  // a fixed schedule with no halting: every slot restarts together
  data::Batch rows;
  std::vector<std::int32_t> steps_before(static_cast<std::size_t>(B));
  LossResult lr;

  // Deep supervision as in training without halting: a batch keeps its carry for halt_max_steps
  // updates (one per supervision step), then fresh examples start from the initial state.
  for (int u = 0; u < opt.steps; ++u) {
    if (u % c.halt_max_steps == 0) {
      data::collate_rows(train, rng.choose(train.num_examples, B), rows);
      carry.reset(B);
    }
    const Batch batch{B, rows.inputs.data(), rows.labels.data(), rows.puzzle_identifiers.data()};
    // Steps each slot took since its carry was reset (HRM's q_continue target reads them).
    std::fill(steps_before.begin(), steps_before.end(), static_cast<std::int32_t>(u % c.halt_max_steps));
    m->zero_grads();  // the network's gradients are computed but never applied: it stays frozen
    m->train_step(batch, carry.z_H(), carry.z_L(), steps_before.data(), B, lr);
    res.losses.push_back(lr.lm_loss);
    be.sparse_signsgd(m->puzzle_table(), m->puzzle_row_ids().data(), m->puzzle_row_grads(), B, nd,
                      static_cast<float>(opt.lr), static_cast<float>(opt.weight_decay));
    if (opt.progress) opt.progress("tune", u + 1, opt.steps, lr.lm_loss);
  }

  ArcVoter voter;
  arc_collect_votes(*m, test, res.names, voter, ArcEvalOptions{std::max(1, opt.batch), 0},
                    [&opt](std::int64_t done, std::int64_t total) {
                      if (opt.progress) opt.progress("vote", static_cast<int>(done), static_cast<int>(total), 0.0);
                    });
  res.score = score_arc(voter, {task});
  for (const auto& pair : task.test) res.ranked.push_back(voter.ranked(task.id, pair.input));
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (tuned) *tuned = std::move(m);
  return res;
}

}  // namespace trm
