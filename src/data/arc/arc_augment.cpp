// ARC augmentations: dihedral transform x colour permutation (colour 0 fixed), their inverse,
// version names, and the reference's grid / puzzle hashes used to de-duplicate versions.
#include <algorithm>
#include <set>

#include "trm/error.h"
#include "trm/data/arc.h"
#include "trm/data/dihedral.h"
#include "trm/io/sha256.h"

namespace trm::data {

bool ArcAug::identity() const {
  if (transform != 0) return false;
  for (int c = 0; c < 10; ++c)
    if (colours[static_cast<std::size_t>(c)] != c) return false;
  return true;
}

ArcAug random_arc_aug(Rng& rng) {
  ArcAug a;
  a.transform = static_cast<int>(rng.below(kNumDihedral));
  // Black (0) is the background in almost every task, so the reference never recolours it.
  std::span<std::uint8_t> rest(a.colours.data() + 1, 9);
  rng.shuffle(rest);
  return a;
}

ArcGrid apply_arc_aug(const ArcGrid& g, const ArcAug& a) {
  std::vector<std::uint8_t> mapped(g.cells.size());
  for (std::size_t i = 0; i < mapped.size(); ++i) mapped[i] = a.colours[g.cells[i]];
  ArcGrid out;
  out.rows = dihedral_swaps_axes(a.transform) ? g.cols : g.rows;
  out.cols = dihedral_swaps_axes(a.transform) ? g.rows : g.cols;
  out.cells.resize(g.cells.size());
  if (!mapped.empty()) dihedral_transform(mapped.data(), g.rows, g.cols, a.transform, out.cells.data());
  return out;
}

ArcGrid invert_arc_aug(const ArcGrid& g, const ArcAug& a) {
  const int inv_t = kDihedralInverse[static_cast<std::size_t>(a.transform)];
  ArcGrid out;
  out.rows = dihedral_swaps_axes(inv_t) ? g.cols : g.rows;
  out.cols = dihedral_swaps_axes(inv_t) ? g.rows : g.cols;
  out.cells.resize(g.cells.size());
  if (!g.cells.empty()) dihedral_transform(g.cells.data(), g.rows, g.cols, inv_t, out.cells.data());
  std::array<std::uint8_t, 10> inv{};
  for (int c = 0; c < 10; ++c) inv[a.colours[static_cast<std::size_t>(c)]] = static_cast<std::uint8_t>(c);
  for (auto& v : out.cells) v = inv[v];
  return out;
}

std::string arc_version_name(const std::string& id, const ArcAug& a) {
  if (a.identity()) return id;
  std::string digits;
  for (auto c : a.colours) digits += static_cast<char>('0' + c);
  return id + kArcNameSeparator + "t" + std::to_string(a.transform) + kArcNameSeparator + digits;
}

std::pair<std::string, ArcAug> parse_arc_version_name(const std::string& name) {
  const std::string sep = kArcNameSeparator;
  const auto p1 = name.find(sep);
  if (p1 == std::string::npos) return {name, ArcAug{}};
  const auto p2 = name.find(sep, p1 + sep.size());
  const std::string bad = "puzzle name \"" + name + "\": expected \"<id>|||t<0..7>|||<permutation of 0..9 with 0 first>\"";
  if (p2 == std::string::npos) throw Error(bad);
  const std::string t = name.substr(p1 + sep.size(), p2 - p1 - sep.size());
  const std::string digits = name.substr(p2 + sep.size());
  if (t.size() != 2 || t[0] != 't' || t[1] < '0' || t[1] > '7' || digits.size() != 10) throw Error(bad);
  ArcAug a;
  a.transform = t[1] - '0';
  std::array<bool, 10> seen{};
  for (std::size_t i = 0; i < 10; ++i) {
    const int c = digits[i] - '0';
    if (c < 0 || c > 9 || seen[static_cast<std::size_t>(c)]) throw Error(bad);
    seen[static_cast<std::size_t>(c)] = true;
    a.colours[i] = static_cast<std::uint8_t>(c);
  }
  if (a.colours[0] != 0) throw Error(bad);
  return {name.substr(0, p1), a};
}

std::string arc_grid_hash(const ArcGrid& g) {
  Sha256 h;
  const std::uint8_t shape[2] = {static_cast<std::uint8_t>(g.rows), static_cast<std::uint8_t>(g.cols)};
  h.update(shape, 2);
  if (!g.cells.empty()) h.update(g.cells.data(), g.cells.size());  // an empty grid's data() may be null
  return h.finish_hex();
}

std::string arc_puzzle_hash(const std::vector<const ArcPair*>& pairs) {
  static const std::string empty = arc_grid_hash(ArcGrid{});
  std::vector<std::string> parts;
  parts.reserve(pairs.size());
  for (const ArcPair* p : pairs) parts.push_back(arc_grid_hash(p->input) + "|" + (p->output ? arc_grid_hash(*p->output) : empty));
  std::sort(parts.begin(), parts.end());
  std::string joined;
  for (std::size_t i = 0; i < parts.size(); ++i) joined += (i ? "|" : "") + parts[i];
  return sha256_hex(joined);
}

std::vector<ArcAug> arc_task_versions(const ArcTask& t, int num_aug, Rng& rng) {
  std::vector<ArcAug> versions{ArcAug{}};
  if (num_aug <= 0) return versions;
  auto hash_of = [&t](const ArcAug& a) {
    std::vector<ArcPair> pairs;
    for (const auto* list : {&t.train, &t.test})
      for (const auto& p : *list)
        pairs.push_back({apply_arc_aug(p.input, a), p.output ? std::optional(apply_arc_aug(*p.output, a)) : std::nullopt});
    std::vector<const ArcPair*> ptrs;
    for (const auto& p : pairs) ptrs.push_back(&p);
    return arc_puzzle_hash(ptrs);
  };
  std::set<std::string> seen{hash_of(ArcAug{})};
  // A puzzle with k non-zero colours has at most 8 * 9!/(9-k)! distinct versions, so the loop
  // must give up after a bounded number of draws rather than insist on num_aug.
  const long tries = static_cast<long>(kArcRetriesFactor) * num_aug;
  for (long i = 0; i < tries && static_cast<int>(versions.size()) < num_aug + 1; ++i) {
    const ArcAug a = random_arc_aug(rng);
    if (seen.insert(hash_of(a)).second) versions.push_back(a);
  }
  return versions;
}

}  // namespace trm::data
