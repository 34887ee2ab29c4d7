#include <limits>
#include <nlohmann/json.hpp>

#include "trm/error.h"
#include "trm/data/dataset.h"

namespace trm::data {
namespace {

std::int64_t get_int(const nlohmann::json& j, const char* key, const std::string& ctx, std::int64_t lo,
                     std::int64_t hi) {
  if (!j.contains(key)) throw Error(ctx + ": missing field \"" + key + "\"");
  const auto& v = j.at(key);
  if (!v.is_number_integer()) throw Error(ctx + ": field \"" + key + "\" must be an integer, got " + v.dump());
  const auto x = v.get<std::int64_t>();
  if (x < lo || x > hi)
    throw Error(ctx + ": field \"" + key + "\" = " + std::to_string(x) + " is outside [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
  return x;
}

}  // namespace

nlohmann::ordered_json metadata_to_json(const Metadata& m) {
  nlohmann::ordered_json j;
  j["pad_id"] = m.pad_id;
  j["ignore_label_id"] = m.ignore_label_id ? nlohmann::ordered_json(*m.ignore_label_id) : nlohmann::ordered_json();
  j["blank_identifier_id"] = m.blank_identifier_id;
  j["vocab_size"] = m.vocab_size;
  j["seq_len"] = m.seq_len;
  j["num_puzzle_identifiers"] = m.num_puzzle_identifiers;
  j["total_groups"] = m.total_groups;
  j["mean_puzzle_examples"] = m.mean_puzzle_examples;
  j["total_puzzles"] = m.total_puzzles;
  j["sets"] = m.sets;
  return j;
}

Metadata metadata_from_json(const nlohmann::json& j, const std::string& ctx) {
  if (!j.is_object()) throw Error(ctx + ": expected a JSON object");
  constexpr std::int64_t kInt = std::numeric_limits<std::int32_t>::max();
  constexpr std::int64_t kBig = std::numeric_limits<std::int64_t>::max();
  Metadata m;
  // uint8 token arrays bound the vocabulary.
  m.vocab_size = static_cast<int>(get_int(j, "vocab_size", ctx, 1, 256));
  m.seq_len = static_cast<int>(get_int(j, "seq_len", ctx, 1, kInt));
  m.pad_id = static_cast<int>(get_int(j, "pad_id", ctx, 0, m.vocab_size - 1));
  if (!j.contains("ignore_label_id")) throw Error(ctx + ": missing field \"ignore_label_id\"");
  if (j.at("ignore_label_id").is_null())
    m.ignore_label_id.reset();
  else
    m.ignore_label_id = static_cast<int>(get_int(j, "ignore_label_id", ctx, 0, m.vocab_size - 1));
  m.num_puzzle_identifiers = static_cast<int>(get_int(j, "num_puzzle_identifiers", ctx, 1, kInt));
  m.blank_identifier_id = static_cast<int>(get_int(j, "blank_identifier_id", ctx, 0, m.num_puzzle_identifiers - 1));
  m.total_groups = get_int(j, "total_groups", ctx, 0, kBig);
  m.total_puzzles = j.contains("total_puzzles") ? get_int(j, "total_puzzles", ctx, 0, kBig) : -1;
  if (!j.contains("mean_puzzle_examples")) throw Error(ctx + ": missing field \"mean_puzzle_examples\"");
  if (!j.at("mean_puzzle_examples").is_number())
    throw Error(ctx + ": field \"mean_puzzle_examples\" must be a number, got " + j.at("mean_puzzle_examples").dump());
  m.mean_puzzle_examples = j.at("mean_puzzle_examples").get<double>();
  if (!(m.mean_puzzle_examples >= 0)) throw Error(ctx + ": field \"mean_puzzle_examples\" must be >= 0");
  if (!j.contains("sets")) throw Error(ctx + ": missing field \"sets\"");
  const auto& sets = j.at("sets");
  if (!sets.is_array() || sets.empty()) throw Error(ctx + ": field \"sets\" must be a non-empty list of names");
  m.sets.clear();
  for (const auto& s : sets) {
    if (!s.is_string() || s.get<std::string>().empty() || s.get<std::string>().find('/') != std::string::npos)
      throw Error(ctx + ": field \"sets\" holds " + s.dump() + ", not a set name");
    m.sets.push_back(s.get<std::string>());
  }
  return m;
}

}  // namespace trm::data
