#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "trm/error.h"
#include "trm/data/dataset.h"

namespace trm::data {
namespace {

std::int64_t get_int(const nlohmann::json& j, const char* key, const std::string& ctx, std::int64_t lo,
                     std::int64_t hi) {
  if (!j.contains(key)) throw Error(ctx + ": missing field \"" + key + "\"");
  const auto& v = j.at(key);
  if (!v.is_number_integer()) throw Error(ctx + ": field \"" + key + "\" must be an integer, got " + json_excerpt(v));
  // Above int64 (only an unsigned JSON number can be) is outside every range asked for.
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi))
    throw Error(ctx + ": field \"" + key + "\" = " + std::to_string(v.get<std::uint64_t>()) + " is outside [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]");
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
  Metadata m;
  // uint8 token arrays bound the vocabulary.
  m.vocab_size = static_cast<int>(get_int(j, "vocab_size", ctx, 1, 256));
  m.seq_len = static_cast<int>(get_int(j, "seq_len", ctx, 1, kMaxSeqLen));
  m.pad_id = static_cast<int>(get_int(j, "pad_id", ctx, 0, m.vocab_size - 1));
  if (!j.contains("ignore_label_id")) throw Error(ctx + ": missing field \"ignore_label_id\"");
  if (j.at("ignore_label_id").is_null())
    m.ignore_label_id.reset();
  else
    m.ignore_label_id = static_cast<int>(get_int(j, "ignore_label_id", ctx, 0, m.vocab_size - 1));
  m.num_puzzle_identifiers = static_cast<int>(get_int(j, "num_puzzle_identifiers", ctx, 1, kMaxPuzzleIdentifiers));
  m.blank_identifier_id = static_cast<int>(get_int(j, "blank_identifier_id", ctx, 0, m.num_puzzle_identifiers - 1));
  // The index arrays are int32, so no count can exceed int32.
  m.total_groups = get_int(j, "total_groups", ctx, 0, kInt);
  m.total_puzzles = j.contains("total_puzzles") ? get_int(j, "total_puzzles", ctx, 0, kInt) : -1;
  if (!j.contains("mean_puzzle_examples")) throw Error(ctx + ": missing field \"mean_puzzle_examples\"");
  if (!j.at("mean_puzzle_examples").is_number())
    throw Error(ctx + ": field \"mean_puzzle_examples\" must be a number, got " + json_excerpt(j.at("mean_puzzle_examples")));
  m.mean_puzzle_examples = j.at("mean_puzzle_examples").get<double>();
  // 1e999 parses as infinity.
  if (!(m.mean_puzzle_examples >= 0) || !std::isfinite(m.mean_puzzle_examples))
    throw Error(ctx + ": field \"mean_puzzle_examples\" must be a finite number >= 0");
  if (!j.contains("sets")) throw Error(ctx + ": missing field \"sets\"");
  const auto& sets = j.at("sets");
  if (!sets.is_array() || sets.empty()) throw Error(ctx + ": field \"sets\" must be a non-empty list of names");
  m.sets.clear();
  for (const auto& s : sets) {
    if (!s.is_string() || s.get<std::string>().empty() || s.get<std::string>().find('/') != std::string::npos ||
        s.get<std::string>().find('\0') != std::string::npos || s.get<std::string>() == "." || s.get<std::string>() == "..")
      throw Error(ctx + ": field \"sets\" holds " + json_excerpt(s) + ", not a set name");
    // A repeated name would make the totals ambiguous (they add up over the sets) and the set be
    // read twice.
    if (std::find(m.sets.begin(), m.sets.end(), s.get<std::string>()) != m.sets.end())
      throw Error(ctx + ": field \"sets\" lists \"" + s.get<std::string>() + "\" twice");
    m.sets.push_back(s.get<std::string>());
  }
  return m;
}

void check_metadata_agree(const Metadata& train, const std::string& train_src, const Metadata& other,
                          const std::string& other_src) {
  auto differ = [&](const char* field, const std::string& a, const std::string& b) {
    throw Error(other_src + ": field \"" + field + "\" is " + b + ", but " + train_src + " has " + a +
                " (both splits must encode tokens, labels and puzzle ids the same way)");
  };
  auto str = [](std::optional<int> v) { return v ? std::to_string(*v) : std::string("null"); };
  if (train.vocab_size != other.vocab_size)
    differ("vocab_size", std::to_string(train.vocab_size), std::to_string(other.vocab_size));
  if (train.seq_len != other.seq_len) differ("seq_len", std::to_string(train.seq_len), std::to_string(other.seq_len));
  if (train.pad_id != other.pad_id) differ("pad_id", std::to_string(train.pad_id), std::to_string(other.pad_id));
  if (train.ignore_label_id != other.ignore_label_id)
    differ("ignore_label_id", str(train.ignore_label_id), str(other.ignore_label_id));
  if (train.blank_identifier_id != other.blank_identifier_id)
    differ("blank_identifier_id", std::to_string(train.blank_identifier_id), std::to_string(other.blank_identifier_id));
  if (train.num_puzzle_identifiers != other.num_puzzle_identifiers)
    differ("num_puzzle_identifiers", std::to_string(train.num_puzzle_identifiers),
           std::to_string(other.num_puzzle_identifiers));
}

}  // namespace trm::data
