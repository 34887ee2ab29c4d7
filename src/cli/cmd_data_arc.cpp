// trm data build arc: the reference's ARC builder (docs/REFERENCE.md §6.4).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "trm/data/arc.h"

namespace trm::cli {

void add_data_build_arc_command(CLI::App& build, Action& action) {
  static std::string source, out;
  static data::ArcBuildOptions o = [] {
    data::ArcBuildOptions d;
    d.subsets = {"training", "evaluation", "concept"};
    d.test_set = "evaluation";
    return d;
  }();
  static bool count_only = false, force = false;
  auto* cmd = build.add_subcommand(
      "arc", "ARC-AGI (docs/REFERENCE.md §6.4): augmented versions with their own puzzle ids; the test set's test outputs held out");
  cmd->add_option("--source", source,
                  "Directory with arc-agi_<subset>_challenges.json (+ _solutions.json), or with <subset>/ directories of task files")
      ->required();
  cmd->add_option("--subsets", o.subsets, "Subsets in order (ARC-2: training2 evaluation2 concept)")->capture_default_str();
  cmd->add_option("--test-set", o.test_set, "The subset whose test pairs form the test split")->capture_default_str();
  cmd->add_option("--out", out, "Output dataset directory");
  cmd->add_option("--aug", o.num_aug, "Augmented versions per task (fewer when the task has fewer distinct ones)")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed")->capture_default_str();
  cmd->add_flag("--count-only", count_only, "Only count puzzle ids and examples; encode and write nothing");
  cmd->add_flag("--force", force, "Write into a non-empty --out that holds no trm dataset (files of the same names are replaced)");
  cmd->callback([&action] {
    action = [] {
      if (!count_only && out.empty()) throw Error("--out is required unless --count-only is given");
      o.write = !count_only;
      std::unique_ptr<DatasetDirClaim> lock;
      if (o.write) lock = claim_dataset_dir(out, force);
      const data::ArcBuildStats s = data::build_arc_dataset(source, out, o);
      const nlohmann::ordered_json j = {{"out", out},
                                        {"tasks", s.tasks},
                                        {"test_tasks", s.test_tasks},
                                        {"puzzle_identifiers", s.puzzle_identifiers},
                                        {"train_puzzles", s.train_puzzles},
                                        {"train_examples", s.train_examples},
                                        {"test_puzzles", s.test_puzzles},
                                        {"test_examples", s.test_examples},
                                        {"seconds", s.seconds}};
      std::printf("%s\n", j.dump().c_str());
      return 0;
    };
  });
}

}  // namespace trm::cli
