// The 30x30 token encoding of ARC grids (with EOS markers and translation) and the reference's
// crop that reads a grid back from 900 predicted tokens.
#include <algorithm>
#include <cstring>

#include "trm/error.h"
#include "trm/data/arc.h"

namespace trm::data {
namespace {

void encode_grid(const ArcGrid& g, int pad_r, int pad_c, std::uint8_t* tokens) {
  std::memset(tokens, kArcPad, kArcSeqLen);
  for (int r = 0; r < g.rows; ++r)
    for (int c = 0; c < g.cols; ++c)
      tokens[(pad_r + r) * kArcMaxSide + pad_c + c] = static_cast<std::uint8_t>(g.at(r, c) + kArcColourOffset);
  // EOS below the grid (under its columns) and right of it (beside its rows), never the corner:
  // the model reads the output size from where these markers are.
  const int eos_r = pad_r + g.rows, eos_c = pad_c + g.cols;
  if (eos_r < kArcMaxSide)
    for (int c = pad_c; c < eos_c; ++c) tokens[eos_r * kArcMaxSide + c] = kArcEos;
  if (eos_c < kArcMaxSide)
    for (int r = pad_r; r < eos_r; ++r) tokens[r * kArcMaxSide + eos_c] = kArcEos;
}

template <class T>
ArcGrid crop(std::span<const T> tokens) {
  if (tokens.size() != static_cast<std::size_t>(kArcSeqLen))
    throw Error("arc crop: expected " + std::to_string(kArcSeqLen) + " tokens, got " + std::to_string(tokens.size()));
  auto is_colour = [](T x) { return x >= 2 && x <= 11; };
  int best_area = 0, best_r = 0, best_c = 0, num_c = kArcMaxSide;
  for (int r = 1; r <= kArcMaxSide; ++r) {
    // The column count only shrinks: it stops at the first non-colour token within it.
    for (int c = 1; c <= num_c; ++c) {
      if (!is_colour(tokens[static_cast<std::size_t>((r - 1) * kArcMaxSide + c - 1)])) {
        num_c = c - 1;
        break;
      }
    }
    if (r * num_c > best_area) {
      best_area = r * num_c;
      best_r = r;
      best_c = num_c;
    }
  }
  ArcGrid g;
  g.rows = best_r;
  g.cols = best_c;
  g.cells.reserve(static_cast<std::size_t>(best_area));
  for (int r = 0; r < best_r; ++r)
    for (int c = 0; c < best_c; ++c)
      g.cells.push_back(static_cast<std::uint8_t>(tokens[static_cast<std::size_t>(r * kArcMaxSide + c)] - kArcColourOffset));
  return g;
}

}  // namespace

void arc_encode_pair(const ArcGrid& in, const ArcGrid& out, int pad_r, int pad_c, std::uint8_t* in_tokens,
                     std::uint8_t* out_tokens) {
  for (const ArcGrid* g : {&in, &out})
    if (pad_r < 0 || pad_c < 0 || pad_r + g->rows > kArcMaxSide || pad_c + g->cols > kArcMaxSide)
      throw Error("arc encode: a " + std::to_string(g->rows) + "x" + std::to_string(g->cols) + " grid does not fit at offset (" +
                  std::to_string(pad_r) + ", " + std::to_string(pad_c) + ") of the 30x30 canvas");
  encode_grid(in, pad_r, pad_c, in_tokens);
  encode_grid(out, pad_r, pad_c, out_tokens);
}

ArcGrid arc_crop(std::span<const std::int32_t> tokens) { return crop(tokens); }
ArcGrid arc_crop(std::span<const std::uint8_t> tokens) { return crop(tokens); }

void add_arc_version(SplitBuilder& b, const std::vector<ArcPair>& pairs, const ArcAug& aug, bool translate, Rng& rng) {
  std::vector<std::uint8_t> in(kArcSeqLen), out(kArcSeqLen);
  // One example per version stays at the top-left (drawn even when nothing is translated, as the
  // reference does, so the random stream does not depend on the split).
  const std::uint64_t no_aug = rng.below(std::max<std::uint64_t>(1, pairs.size()));
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const ArcGrid gi = apply_arc_aug(pairs[i].input, aug);
    // A test input without a known output (a new task) is encoded with an empty label.
    const ArcGrid go = pairs[i].output ? apply_arc_aug(*pairs[i].output, aug) : ArcGrid{};
    int pad_r = 0, pad_c = 0;
    if (translate && i != no_aug) {
      pad_r = static_cast<int>(rng.below(static_cast<std::uint64_t>(kArcMaxSide - std::max(gi.rows, go.rows) + 1)));
      pad_c = static_cast<int>(rng.below(static_cast<std::uint64_t>(kArcMaxSide - std::max(gi.cols, go.cols) + 1)));
    }
    arc_encode_pair(gi, go, pad_r, pad_c, in.data(), out.data());
    b.add_example(in, out);
  }
}

}  // namespace trm::data
