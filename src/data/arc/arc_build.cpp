// The ARC dataset builder (docs/REFERENCE.md §6.4): subsets -> shuffled tasks -> augmented versions -> the
// train split (every demonstration pair, and the test pairs of non-test subsets) and the test split
// (the test pairs of the test subset, whose outputs stay out of training).
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "trm/error.h"
#include "trm/data/arc.h"

namespace trm::data {
namespace {

struct Group {
  const ArcTask* task;
  bool is_test;              // belongs to the test subset: its test pairs go to the test split
  std::vector<ArcAug> versions;
};

std::vector<ArcPair> train_pairs(const Group& g) {
  std::vector<ArcPair> pairs = g.task->train;
  if (!g.is_test) pairs.insert(pairs.end(), g.task->test.begin(), g.task->test.end());
  return pairs;
}

Metadata arc_metadata(std::int64_t num_ids) {
  Metadata m;
  m.vocab_size = kArcVocabSize;
  m.seq_len = kArcSeqLen;
  m.num_puzzle_identifiers = static_cast<int>(num_ids);
  return m;
}

}  // namespace

ArcBuildStats build_arc_dataset(const std::string& source, const std::string& out, const ArcBuildOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.subsets.empty()) throw Error("arc build: no subsets given");
  // The reference builds 1000 versions per task; the bound keeps a typo from drawing for hours.
  if (opt.num_aug < 0 || opt.num_aug > kMaxNumAug)
    throw Error("arc build: --aug must be in [0, " + std::to_string(kMaxNumAug) + "], got " + std::to_string(opt.num_aug));
  bool test_listed = false;
  for (const auto& s : opt.subsets) test_listed |= s == opt.test_set;
  if (!test_listed) throw Error("arc build: the test set \"" + opt.test_set + "\" is not one of the subsets");

  std::vector<std::vector<ArcTask>> subsets;
  for (const auto& s : opt.subsets) subsets.push_back(load_arc_subset(source, s));

  Rng rng(opt.seed);
  ArcBuildStats st;
  std::vector<Group> groups;
  for (std::size_t s = 0; s < subsets.size(); ++s) {
    std::vector<std::int32_t> order = rng.permutation(static_cast<std::int32_t>(subsets[s].size()));
    for (const std::int32_t i : order) {
      const ArcTask& t = subsets[s][static_cast<std::size_t>(i)];
      Group g{&t, opt.subsets[s] == opt.test_set, {}};
      g.versions = arc_task_versions(t, opt.num_aug, rng);
      groups.push_back(std::move(g));
      ++st.tasks;
      st.test_tasks += groups.back().is_test;
    }
  }

  // Identifiers: 0 is <blank>, then every distinct version name in first-seen (train) order.
  std::vector<std::string> names{"<blank>"};
  std::map<std::string, std::int32_t> ids;
  auto id_of = [&](const std::string& name) {
    auto [it, fresh] = ids.emplace(name, static_cast<std::int32_t>(names.size()));
    if (fresh) names.push_back(name);
    return it->second;
  };

  // Counting pass first: ids in first-seen (train) order, and exact sizes so the builders reserve
  // once (the full ARC-1 build is ~7 GB of tokens; growth by doubling would need twice that).
  for (const Group& g : groups) {
    const auto n_train = static_cast<std::int64_t>(train_pairs(g).size());
    for (const ArcAug& a : g.versions) {
      id_of(arc_version_name(g.task->id, a));
      ++st.train_puzzles;
      st.train_examples += n_train;
      if (g.is_test) {
        ++st.test_puzzles;
        st.test_examples += static_cast<std::int64_t>(g.task->test.size());
      }
    }
  }
  st.puzzle_identifiers = static_cast<std::int64_t>(names.size());

  if (opt.write) {
    SplitBuilder train(kArcSeqLen), test(kArcSeqLen);
    train.reserve(st.train_examples);
    test.reserve(st.test_examples);
    for (const Group& g : groups) {
      const std::vector<ArcPair> pairs = train_pairs(g);
      for (const ArcAug& a : g.versions) {
        add_arc_version(train, pairs, a, true, rng);
        train.end_puzzle(ids.at(arc_version_name(g.task->id, a)));
      }
      train.end_group();
    }
    for (const Group& g : groups) {
      if (!g.is_test) continue;
      for (const ArcAug& a : g.versions) {
        add_arc_version(test, g.task->test, a, false, rng);
        test.end_puzzle(ids.at(arc_version_name(g.task->id, a)));
      }
      test.end_group();
    }
    write_split(std::move(train).finish(arc_metadata(st.puzzle_identifiers)), out, "train");
    write_split(std::move(test).finish(arc_metadata(st.puzzle_identifiers)), out, "test");
    write_identifiers(out, names);
    // The raw test-subset tasks with their solutions: what the evaluator scores against.
    nlohmann::ordered_json tp = nlohmann::ordered_json::object();
    for (std::size_t s = 0; s < subsets.size(); ++s)
      if (opt.subsets[s] == opt.test_set)
        for (const auto& t : subsets[s]) tp[t.id] = arc_task_to_json(t);
    write_text_file((std::filesystem::path(out) / "test_puzzles.json").string(), tp.dump());
  }
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (opt.write) {
    const nlohmann::ordered_json info = {
        {"source", source}, {"subsets", opt.subsets}, {"test_set", opt.test_set}, {"num_aug", opt.num_aug},
        {"seed", opt.seed}, {"tasks", st.tasks}, {"test_tasks", st.test_tasks},
        {"puzzle_identifiers", st.puzzle_identifiers}, {"train_puzzles", st.train_puzzles},
        {"train_examples", st.train_examples}, {"test_puzzles", st.test_puzzles},
        {"test_examples", st.test_examples}, {"seconds", st.seconds}};
    write_text_file((std::filesystem::path(out) / "arc_build.json").string(), info.dump(2) + "\n");
  }
  return st;
}

}  // namespace trm::data
