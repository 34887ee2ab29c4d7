// ARC task JSON: the raw task form and the combined {id: task} form, then, for accepted tasks, the
// augmentation and 30x30 encoding the builder applies (a validated in-memory split).
#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "io/json_file.h"
#include "trm/data/arc.h"

namespace {

void build(const trm::data::ArcTask& t) {
  using namespace trm::data;
  Rng rng(1);
  const std::vector<ArcAug> versions = arc_task_versions(t, 2, rng);
  trm::fuzz::require(!versions.empty() && versions.front().identity(), "the original comes first");
  SplitBuilder b(kArcSeqLen);
  for (const ArcAug& a : versions) {
    add_arc_version(b, t.train, a, true, rng);
    b.end_puzzle(1);
    // Every augmentation can be undone from its name, as the evaluator does.
    const auto parsed = parse_arc_version_name(arc_version_name(t.id, a));
    trm::fuzz::require(parsed.first == t.id && parsed.second.transform == a.transform &&
                           parsed.second.colours == a.colours,
                       "name round trip");
    trm::fuzz::require(invert_arc_aug(apply_arc_aug(t.train[0].input, a), a) == t.train[0].input, "augmentation inverts");
  }
  b.end_group();
  Metadata m;
  m.vocab_size = kArcVocabSize;
  m.num_puzzle_identifiers = 2;
  (void)std::move(b).finish(m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace trm;
  fuzz::refuse_ok([&] {
    const nlohmann::json j = data::parse_json_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    fuzz::refuse_ok([&] { build(data::arc_task_from_json("task", j, "fuzz.json")); });
    // The combined challenges / test_puzzles.json form: {id: task}.
    if (j.is_object())
      for (auto it = j.begin(); it != j.end(); ++it)
        fuzz::refuse_ok([&] { data::arc_task_from_json(it.key(), it.value(), "fuzz.json"); });
  });
  return 0;
}
