#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "data/collate.h"
#include "io/json_file.h"
#include "trm/error.h"
#include "trm/data/sampler.h"

namespace trm::data {
namespace {

constexpr const char* kStateFormat = "trm-train-sampler-1";

}  // namespace

TrainSampler::TrainSampler(const Dataset& ds, const TrainSamplerOptions& opt) : ds_(&ds), opt_(opt) {
  if (opt.batch_size < 1) throw Error("sampler batch size must be >= 1, got " + std::to_string(opt.batch_size));
  if (opt.epochs_per_pass < 1)
    throw Error("sampler epochs per pass must be >= 1, got " + std::to_string(opt.epochs_per_pass));
  // Upper bound of the examples one pass can collect: the largest puzzle of every group.
  std::int64_t most = 0;
  for (std::int64_t g = 0; g < ds.num_groups(); ++g) {
    std::int64_t biggest = 0;
    for (auto p = ds.group_indices[static_cast<std::size_t>(g)]; p < ds.group_indices[static_cast<std::size_t>(g) + 1]; ++p)
      biggest = std::max<std::int64_t>(biggest, ds.puzzle_indices[static_cast<std::size_t>(p) + 1] -
                                                    ds.puzzle_indices[static_cast<std::size_t>(p)]);
    most += biggest;
  }
  if (most * opt.epochs_per_pass < opt.batch_size)
    throw Error("a training pass of " + std::to_string(opt.epochs_per_pass) + " epoch(s) collects at most " +
                std::to_string(most * opt.epochs_per_pass) + " examples, fewer than one batch of " +
                std::to_string(opt.batch_size) + "; lower the batch size or raise the epochs per pass");
}

void TrainSampler::start_pass() {
  rng_ = Rng(opt_.seed, static_cast<std::uint64_t>(pass_));
  const auto groups = static_cast<std::int32_t>(ds_->num_groups());
  order_.clear();
  order_.reserve(static_cast<std::size_t>(groups) * static_cast<std::size_t>(opt_.epochs_per_pass));
  for (int e = 0; e < opt_.epochs_per_pass; ++e) {
    const auto perm = rng_.permutation(groups);
    order_.insert(order_.end(), perm.begin(), perm.end());
  }
  position_ = 0;
  batches_in_pass_ = 0;
  in_pass_ = true;
}

bool TrainSampler::next(Batch& out) {
  if (!in_pass_) start_pass();
  const Dataset& ds = *ds_;
  const int B = opt_.batch_size;
  prepare_batch(out, B, ds.meta.seq_len);
  int filled = 0;
  while (position_ < static_cast<std::int64_t>(order_.size()) && filled < B) {
    const auto g = static_cast<std::size_t>(order_[static_cast<std::size_t>(position_++)]);
    const std::int64_t p = ds.group_indices[g] + static_cast<std::int64_t>(rng_.below(
                                                     static_cast<std::uint64_t>(ds.group_indices[g + 1] - ds.group_indices[g])));
    const std::int64_t first = ds.puzzle_indices[static_cast<std::size_t>(p)];
    const auto size = static_cast<int>(ds.puzzle_indices[static_cast<std::size_t>(p) + 1] - first);
    const int take = std::min(size, B - filled);
    scratch_.resize(static_cast<std::size_t>(size));
    for (int i = 0; i < size; ++i) scratch_[static_cast<std::size_t>(i)] = i;
    for (int i = 0; i < take; ++i) {
      const auto j = i + static_cast<int>(rng_.below(static_cast<std::uint64_t>(size - i)));
      std::swap(scratch_[static_cast<std::size_t>(i)], scratch_[static_cast<std::size_t>(j)]);
      collate_row(ds, out, filled++, first + scratch_[static_cast<std::size_t>(i)], p);
    }
  }
  if (filled < B) {  // drop last: the partial batch ends the pass
    in_pass_ = false;
    ++pass_;
    return false;
  }
  ++batches_in_pass_;
  return true;
}

nlohmann::json TrainSampler::state() const {
  return {{"format", kStateFormat},
          {"batch_size", opt_.batch_size},
          {"seed", opt_.seed},
          {"epochs_per_pass", opt_.epochs_per_pass},
          {"num_groups", ds_->num_groups()},
          {"num_examples", ds_->num_examples},
          {"pass", pass_},
          {"in_pass", in_pass_},
          {"position", position_},
          {"batches_in_pass", batches_in_pass_},
          {"rng", rng_.state()}};
}

void TrainSampler::restore(const nlohmann::json& j) {
  const std::string ctx = "sampler state";
  try {
    if (!j.is_object() || j.value("format", "") != kStateFormat)
      throw Error(ctx + ": not a training sampler state (format \"" + std::string(kStateFormat) + "\" expected)");
    // A counter must be a JSON integer: get<int64> of a float such as 1e30 (a damaged checkpoint)
    // would be an undefined conversion; numbers above int64 are refused too.
    auto integer = [&](const char* key) {
      const auto& v = j.at(key);
      if (!v.is_number_integer() ||
          (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)))
        throw Error(ctx + ": " + key + " is " + json_excerpt(v) + ", not an integer counter");
      return v.get<std::int64_t>();
    };
    auto expect = [&](const char* key, std::int64_t want) {
      const auto got = integer(key);
      if (got != want)
        throw Error(ctx + ": " + key + " is " + std::to_string(got) + " in the saved state but " + std::to_string(want) +
                    " now; resuming needs the same data and sampler settings");
    };
    expect("batch_size", opt_.batch_size);
    expect("epochs_per_pass", opt_.epochs_per_pass);
    expect("num_groups", ds_->num_groups());
    expect("num_examples", ds_->num_examples);
    if (!j.at("seed").is_number_unsigned() || j.at("seed").get<std::uint64_t>() != opt_.seed)
      throw Error(ctx + ": seed differs from the saved state's; resuming needs the same seed");
    const auto pass = integer("pass");
    const bool in_pass = j.at("in_pass").get<bool>();
    const auto position = integer("position");
    const auto batches = integer("batches_in_pass");
    if (pass < 0 || position < 0 || batches < 0) throw Error(ctx + ": negative counter");
    Rng saved;
    if (in_pass) saved.set_state(j.at("rng"), ctx);
    const auto order_size = static_cast<std::int64_t>(ds_->num_groups()) * opt_.epochs_per_pass;
    if (position > order_size)
      throw Error(ctx + ": position " + std::to_string(position) + " is beyond the pass's " +
                  std::to_string(order_size) + " groups");
    // Everything is checked; only now does the sampler change.
    pass_ = pass;
    in_pass_ = false;
    if (!in_pass) return;
    // The order is a pure function of (seed, pass), so it is rebuilt rather than stored.
    start_pass();
    position_ = position;
    batches_in_pass_ = batches;
    rng_ = saved;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ctx + ": malformed (" + e.what() + ")");
  }
}

}  // namespace trm::data
