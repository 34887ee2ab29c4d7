// What the Sudoku and Maze generators share (internal): drawing distinct puzzles within a budget,
// and writing the first rows as the train split and the rest as the test split.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "trm/data/dataset.h"
#include "trm/error.h"

namespace trm::data {

// Calls draw(question, answer) (each `cells` bytes) until `set` holds `count` puzzles with
// pairwise distinct questions. Small boards have few distinct puzzles, so duplicates are skipped,
// within a budget of draws; past it, throws trm::Error "generated only N distinct <what> ...".
template <class Set, class Draw>
void add_distinct(Set& set, std::int64_t count, std::size_t cells, const std::string& what, Draw draw) {
  std::unordered_set<std::string> seen;
  std::vector<std::uint8_t> q(cells), a(cells);
  const std::int64_t budget = 20 * count + 1000;
  for (std::int64_t tries = 0; set.size() < count; ++tries) {
    if (tries >= budget)
      throw Error("generated only " + std::to_string(set.size()) + " distinct " + what + " in " +
                  std::to_string(budget) + " tries; ask for fewer");
    draw(q.data(), a.data());
    if (seen.insert(std::string(q.begin(), q.end())).second) set.add(q.data(), a.data());
  }
}

// Rows [0, num_train) of `all` become the train split and the rest the test split, each through
// build(rows, is_train) (train first: builders that draw augmentations share one Rng); writes both
// splits and the identifiers file (generated puzzles have no identifiers beyond <blank>).
template <class Set, class Build>
BuiltDataset write_generated_dataset(const std::string& out_dir, const Set& all, std::int64_t num_train,
                                     Build build) {
  std::vector<std::int64_t> train_rows, test_rows;
  for (std::int64_t i = 0; i < all.size(); ++i) (i < num_train ? train_rows : test_rows).push_back(i);
  Dataset train = build(all.select(train_rows), true);
  Dataset test = build(all.select(test_rows), false);
  BuiltDataset out{std::move(train), std::move(test)};
  write_split(out.train, out_dir, "train");
  write_split(out.test, out_dir, "test");
  write_identifiers(out_dir, {"<blank>"});
  return out;
}

}  // namespace trm::data
