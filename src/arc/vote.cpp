// ARC voting and pass@k: pure functions of the collected predictions (no model involved).
#include <algorithm>

#include "trm/arc/eval.h"
#include "trm/error.h"

namespace trm {

void ArcVoter::add_tokens(const std::string& version_name, std::span<const std::uint8_t> input_tokens,
                          std::span<const std::int32_t> pred_tokens, double q) {
  add(version_name, data::arc_crop(input_tokens), data::arc_crop(pred_tokens), q);
}

void ArcVoter::add(const std::string& version_name, const data::ArcGrid& input, const data::ArcGrid& pred, double q) {
  const auto [task_id, aug] = data::parse_arc_version_name(version_name);
  if (pred.rows < 1 || pred.cols < 1 || pred.cells.size() != static_cast<std::size_t>(pred.rows) * static_cast<std::size_t>(pred.cols)) {
    ++dropped_;
    return;
  }
  const std::string in_hash = data::arc_grid_hash(data::invert_arc_aug(input, aug));
  data::ArcGrid p = data::invert_arc_aug(pred, aug);
  const std::string p_hash = data::arc_grid_hash(p);
  grids_.try_emplace(p_hash, std::move(p));
  preds_[task_id][in_hash].emplace_back(p_hash, q);
  ++votes_;
}

std::vector<ArcCandidate> ArcVoter::ranked(const std::string& task_id, const data::ArcGrid& input) const {
  std::vector<ArcCandidate> out;
  const auto t = preds_.find(task_id);
  if (t == preds_.end()) return out;
  const auto in = t->second.find(data::arc_grid_hash(input));
  if (in == t->second.end()) return out;
  std::map<std::string, std::size_t> index;  // hash -> position in `out` (first-seen order)
  std::vector<double> q_sum;
  for (const auto& [h, q] : in->second) {
    auto [it, fresh] = index.emplace(h, out.size());
    if (fresh) {
      out.push_back({h, grids_.at(h), 0, 0.0});
      q_sum.push_back(0.0);
    }
    ++out[it->second].count;
    q_sum[it->second] += q;
  }
  for (std::size_t i = 0; i < out.size(); ++i) out[i].mean_q = q_sum[i] / out[i].count;
  // Majority first; the mean halting confidence only breaks ties (stable: then first seen).
  std::stable_sort(out.begin(), out.end(), [](const ArcCandidate& a, const ArcCandidate& b) {
    if (a.count != b.count) return a.count > b.count;
    return a.mean_q > b.mean_q;
  });
  return out;
}

void ArcVoter::clear() {
  preds_.clear();
  grids_.clear();
  votes_ = 0;
  dropped_ = 0;
}

nlohmann::ordered_json ArcScore::to_json() const {
  nlohmann::ordered_json j;
  for (std::size_t i = 0; i < ks.size(); ++i) j["pass@" + std::to_string(ks[i])] = pass_at_k[i];
  j["puzzles"] = puzzles;
  j["scored_puzzles"] = scored_puzzles;
  j["test_inputs"] = test_inputs;
  j["inputs_without_prediction"] = inputs_without_prediction;
  return j;
}

ArcScore score_arc(const ArcVoter& voter, const std::vector<data::ArcTask>& tasks, const std::vector<int>& ks) {
  ArcScore s;
  s.ks = ks;
  s.pass_at_k.assign(ks.size(), 0.0);
  s.submission = nlohmann::ordered_json::object();
  const data::ArcGrid placeholder{1, 1, {0}};
  for (const auto& t : tasks) {
    ++s.puzzles;
    bool scored = !t.test.empty();
    std::vector<double> correct(ks.size(), 0.0);
    nlohmann::ordered_json attempts = nlohmann::ordered_json::array();
    for (const auto& pair : t.test) {
      ++s.test_inputs;
      const std::vector<ArcCandidate> cands = voter.ranked(t.id, pair.input);
      if (cands.empty()) ++s.inputs_without_prediction;
      if (pair.output) {
        const std::string truth = data::arc_grid_hash(*pair.output);
        for (std::size_t i = 0; i < ks.size(); ++i) {
          const std::size_t top = std::min(cands.size(), static_cast<std::size_t>(std::max(0, ks[i])));
          for (std::size_t c = 0; c < top; ++c)
            if (cands[c].hash == truth) {
              correct[i] += 1;
              break;
            }
        }
      } else {
        scored = false;
      }
      // The competition format needs an entry per test input, so an input nobody voted for gets
      // a 1x1 black placeholder (the reference leaves the entry out).
      nlohmann::ordered_json entry;
      for (int a = 0; a < kArcSubmissionK; ++a) {
        // Fewer candidates than attempts: repeat the best one, as the reference does.
        const std::size_t idx = static_cast<std::size_t>(a) < cands.size() ? static_cast<std::size_t>(a) : 0;
        const data::ArcGrid& g = cands.empty() ? placeholder : cands[idx].grid;
        entry["attempt_" + std::to_string(a + 1)] = data::arc_grid_to_json(g);
      }
      attempts.push_back(std::move(entry));
    }
    s.submission[t.id] = std::move(attempts);
    if (scored) {
      ++s.scored_puzzles;
      for (std::size_t i = 0; i < ks.size(); ++i) s.pass_at_k[i] += correct[i] / static_cast<double>(t.test.size());
    }
  }
  if (s.scored_puzzles > 0)
    for (auto& v : s.pass_at_k) v /= s.scored_puzzles;
  return s;
}

}  // namespace trm
