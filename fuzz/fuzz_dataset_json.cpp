// dataset.json: parse (depth and duplicate-key limits), metadata_from_json's range checks, the
// train/test agreement check, and the round trip through metadata_to_json.
#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "io/json_file.h"
#include "trm/data/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace trm;
  fuzz::refuse_ok([&] {
    const nlohmann::json j = data::parse_json_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    const data::Metadata m = data::metadata_from_json(j, "fuzz.json");
    // What was accepted survives writing and reading back unchanged.
    const data::Metadata back = data::metadata_from_json(nlohmann::json::parse(data::metadata_to_json(m).dump()), "again");
    fuzz::require(data::metadata_to_json(back) == data::metadata_to_json(m), "metadata round trip");
    fuzz::require(m.num_puzzle_identifiers >= 1 && m.num_puzzle_identifiers <= data::kMaxPuzzleIdentifiers,
                  "num_puzzle_identifiers bounded");
    fuzz::require(m.seq_len >= 1 && m.seq_len <= data::kMaxSeqLen, "seq_len bounded");
    data::Metadata train;
    train.vocab_size = 6;
    train.seq_len = 16;
    fuzz::refuse_ok([&] { data::check_metadata_agree(train, "train", m, "fuzz.json"); });
    (void)data::json_excerpt(j);
  });
  return 0;
}
