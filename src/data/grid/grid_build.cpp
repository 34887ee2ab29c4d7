// trm data build grid: a user's own task from CSV or JSONL (include/trm/data/grid.h, docs/DATA.md).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "io/json_file.h"
#include "io/text_file.h"
#include "trm/data/dihedral.h"
#include "trm/data/grid.h"
#include "trm/data/rng.h"
#include "trm/error.h"
#include "trm/io/csv.h"

namespace trm::data {
namespace fs = std::filesystem;

namespace {

// Token 0 is padding, so at most 254 symbols fit the uint8 token arrays (vocab <= 255).
constexpr std::size_t kMaxSymbols = 254;
// A file this large is not a puzzle list; refuse it before reading it whole.
constexpr std::size_t kMaxGridFileBytes = std::size_t{1} << 30;

bool has_space(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

// A text field: whitespace-separated symbols when it holds whitespace, else one per character.
std::vector<std::string> symbols_of_text(const std::string& s) {
  std::vector<std::string> out;
  if (has_space(s)) {
    std::string cur;
    for (char ch : s) {
      if (std::isspace(static_cast<unsigned char>(ch))) {
        if (!cur.empty()) out.push_back(std::move(cur));
        cur.clear();
      } else {
        cur += ch;
      }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
  } else {
    for (char ch : s) out.emplace_back(1, ch);
  }
  return out;
}

std::vector<std::string> symbols_of_json(const nlohmann::json& v, const std::string& key, const std::string& where) {
  if (v.is_string()) return symbols_of_text(v.get<std::string>());
  if (!v.is_array()) throw Error(where + ": \"" + key + "\" must be a string or an array of symbols");
  std::vector<std::string> out;
  for (const auto& e : v) {
    if (e.is_number_integer()) {
      out.push_back(std::to_string(e.get<long long>()));
    } else if (e.is_string() && !e.get<std::string>().empty() && !has_space(e.get<std::string>())) {
      out.push_back(e.get<std::string>());
    } else {
      throw Error(where + ": \"" + key + "\" element " + e.dump() +
                  " is not a symbol (an integer, or a non-empty string without spaces)");
    }
  }
  return out;
}

int parse_width(const std::string& text, const std::string& where) {
  std::size_t used = 0;
  int w = 0;
  try {
    w = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || w < 1) throw Error(where + ": width \"" + text + "\" is not a positive integer");
  return w;
}

void add_example(std::vector<GridExample>& out, GridExample ex, int row_width, int& width, const std::string& path) {
  if (ex.input.empty()) throw Error(ex.where + ": the input is empty");
  if (ex.input.size() != ex.output.size())
    throw Error(ex.where + ": the input has " + std::to_string(ex.input.size()) + " symbols but the output has " +
                std::to_string(ex.output.size()) + " (they must have the same length)");
  if (!out.empty() && ex.input.size() != out.front().input.size())
    throw Error(ex.where + ": " + std::to_string(ex.input.size()) + " symbols, but " + out.front().where + " has " +
                std::to_string(out.front().input.size()) + " (every example of a grid task has the same length)");
  if (row_width > 0) {
    if (width > 0 && row_width != width)
      throw Error(ex.where + ": width " + std::to_string(row_width) + ", but earlier rows of " + path + " have " +
                  std::to_string(width));
    width = row_width;
  }
  out.push_back(std::move(ex));
}

std::vector<GridExample> read_jsonl(const std::string& path, int& width) {
  const std::string text = io::read_text_file(path, kMaxGridFileBytes);
  std::vector<GridExample> out;
  std::size_t pos = 0;
  for (std::int64_t line_no = 1; pos < text.size(); ++line_no) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (std::all_of(line.begin(), line.end(), [](unsigned char c) { return std::isspace(c) != 0; })) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw Error(where + ": not a JSON object (" + std::string(e.what()) + ")");
    }
    if (!j.is_object()) throw Error(where + ": expected a JSON object with \"input\" and \"output\"");
    for (const char* key : {"input", "output"})
      if (!j.contains(key)) throw Error(where + ": missing \"" + key + "\"");
    int row_width = 0;
    if (j.contains("width") && !j["width"].is_null()) {
      if (!j["width"].is_number_integer() || j["width"].get<long long>() < 1 || j["width"].get<long long>() > 1 << 20)
        throw Error(where + ": \"width\" must be a positive integer");
      row_width = j["width"].get<int>();
    }
    GridExample ex{symbols_of_json(j["input"], "input", where), symbols_of_json(j["output"], "output", where), where};
    add_example(out, std::move(ex), row_width, width, path);
  }
  return out;
}

std::vector<GridExample> read_grid_csv(const std::string& path, int& width) {
  // The header decides the columns: input,output or input,output,width (in any order).
  std::vector<std::string> header;
  {
    long long size = 0;
    io::open_for_reading(path, "a CSV file of examples", "", size);  // a missing file or a directory, named
    std::ifstream f(path);
    std::string first;
    if (f && std::getline(f, first)) {
      if (!first.empty() && first.back() == '\r') first.pop_back();
      std::string cur;
      for (char ch : first) {
        if (ch == ',') {
          header.push_back(cur);
          cur.clear();
        } else {
          cur += ch;
        }
      }
      header.push_back(cur);
    }
  }
  if (header.empty() || (header.size() == 1 && header[0].empty()))
    throw Error(path + ": empty file (expected a header line \"input,output\" and one example per line)");
  int in_col = -1, out_col = -1, width_col = -1;
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "input") in_col = static_cast<int>(i);
    else if (header[i] == "output") out_col = static_cast<int>(i);
    else if (header[i] == "width") width_col = static_cast<int>(i);
    else throw Error(path + ":1: unknown column \"" + header[i] + "\" (the columns are input, output and optionally width)");
  }
  if (in_col < 0 || out_col < 0) throw Error(path + ":1: the header must name the columns \"input\" and \"output\"");
  std::vector<GridExample> out;
  read_csv(path, header, [&](const std::vector<std::string>& fields, std::int64_t line) {
    const std::string where = path + ":" + std::to_string(line);
    const int row_width = width_col >= 0 && !fields[width_col].empty() ? parse_width(fields[width_col], where) : 0;
    add_example(out, GridExample{symbols_of_text(fields[in_col]), symbols_of_text(fields[out_col]), where}, row_width,
                width, path);
  });
  return out;
}

bool all_integers(const std::vector<std::string>& symbols) {
  return std::all_of(symbols.begin(), symbols.end(), [](const std::string& s) {
    const std::size_t start = s[0] == '-' ? 1 : 0;
    return s.size() > start && s.size() < 10 &&
           std::all_of(s.begin() + static_cast<std::ptrdiff_t>(start), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  });
}

}  // namespace

std::vector<GridExample> read_grid_examples(const std::string& path, int& width) {
  width = 0;
  const std::string ext = fs::path(path).extension().string();
  std::vector<GridExample> out =
      (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") ? read_jsonl(path, width) : read_grid_csv(path, width);
  if (out.empty()) throw Error(path + ": holds no examples");
  return out;
}

bool GridFormat::single_char() const {
  return std::all_of(alphabet.begin(), alphabet.end(), [](const std::string& s) { return s.size() == 1; });
}

nlohmann::json GridFormat::to_json() const {
  return {{"alphabet", alphabet}, {"width", width}, {"seq_len", seq_len}, {"augmentation", augmentation}, {"num_aug", num_aug}};
}

GridFormat GridFormat::from_json(const nlohmann::json& j, const std::string& context) {
  GridFormat g;
  try {
    g.alphabet = j.at("alphabet").get<std::vector<std::string>>();
    g.width = j.at("width").get<int>();
    g.seq_len = j.at("seq_len").get<int>();
    if (j.contains("augmentation")) g.augmentation = j.at("augmentation").get<std::string>();
    if (j.contains("num_aug")) g.num_aug = j.at("num_aug").get<int>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(context + ": malformed \"grid\" entry (" + std::string(e.what()) + ")");
  }
  if (g.alphabet.empty() || g.alphabet.size() > kMaxSymbols || g.seq_len < 1 || g.width < 0 ||
      (g.width > 0 && g.seq_len % g.width != 0))
    throw Error(context + ": \"grid\" entry is inconsistent (alphabet of " + std::to_string(g.alphabet.size()) +
                " symbols, width " + std::to_string(g.width) + ", seq_len " + std::to_string(g.seq_len) + ")");
  for (const auto& s : g.alphabet)
    if (s.empty() || has_space(s)) throw Error(context + ": \"grid\" alphabet holds an empty or blank symbol");
  return g;
}

BuiltDataset build_grid_dataset(const std::string& train_file, const std::string& test_file, const std::string& out_dir,
                                const GridBuildOptions& opt) {
  const bool dihedral = opt.augmentation == "dihedral" || opt.augmentation == "dihedral+permutation";
  const bool permute = opt.augmentation == "permutation" || opt.augmentation == "dihedral+permutation";
  if (!dihedral && !permute && opt.augmentation != "none")
    throw Error("--aug \"" + opt.augmentation + "\": expected none, dihedral, permutation or dihedral+permutation");
  if (opt.num_aug < 0 || opt.num_aug > kMaxNumAug)
    throw Error("--num-aug must be between 0 and " + std::to_string(kMaxNumAug));
  if (opt.augmentation == "none" && opt.num_aug > 0) throw Error("--num-aug needs an augmentation (--aug dihedral|permutation)");
  if (opt.augmentation != "none" && opt.num_aug == 0) throw Error("--aug " + opt.augmentation + " needs --num-aug N (N > 0)");

  int train_width = 0, test_width = 0;
  const std::vector<GridExample> train = read_grid_examples(train_file, train_width);
  const std::vector<GridExample> test = read_grid_examples(test_file, test_width);
  const std::size_t len = train.front().input.size();
  if (test.front().input.size() != len)
    throw Error(test.front().where + ": " + std::to_string(test.front().input.size()) + " symbols, but the training examples (" +
                train_file + ") have " + std::to_string(len));
  int width = opt.width;
  for (const auto& [w, file] : {std::pair{train_width, train_file}, std::pair{test_width, test_file}})
    if (w > 0) {
      if (width > 0 && w != width)
        throw Error(file + ": width " + std::to_string(w) + " disagrees with " + (opt.width > 0 ? "--width " : "width ") +
                    std::to_string(width));
      width = w;
    }
  if (width > 0 && len % static_cast<std::size_t>(width) != 0)
    throw Error(train_file + ": length " + std::to_string(len) + " is not a multiple of the width " + std::to_string(width));
  if (dihedral && (width <= 0 || static_cast<std::size_t>(width) * static_cast<std::size_t>(width) != len))
    throw Error("--aug " + opt.augmentation + " rotates and reflects square grids: it needs a width with width * width = " +
                std::to_string(len) + " (got " + (width > 0 ? std::to_string(width) : std::string("no width")) + ")");
  if (len > static_cast<std::size_t>(kMaxSeqLen)) throw Error(train_file + ": examples longer than " + std::to_string(kMaxSeqLen));

  // The alphabet is what the training file uses: a test symbol outside it has no token the model learned.
  std::set<std::string> seen;
  for (const auto& ex : train) {
    seen.insert(ex.input.begin(), ex.input.end());
    seen.insert(ex.output.begin(), ex.output.end());
  }
  std::vector<std::string> alphabet(seen.begin(), seen.end());
  if (alphabet.size() > kMaxSymbols)
    throw Error(train_file + ": uses " + std::to_string(alphabet.size()) + " distinct symbols, at most " +
                std::to_string(kMaxSymbols) + " fit");
  if (all_integers(alphabet))
    std::sort(alphabet.begin(), alphabet.end(), [](const std::string& a, const std::string& b) { return std::stoll(a) < std::stoll(b); });
  std::map<std::string, std::uint8_t> token;
  for (std::size_t i = 0; i < alphabet.size(); ++i) token[alphabet[i]] = static_cast<std::uint8_t>(i + 1);
  auto encode = [&](const std::vector<std::string>& syms, const GridExample& ex, const std::string& file) {
    std::vector<std::uint8_t> out(syms.size());
    for (std::size_t i = 0; i < syms.size(); ++i) {
      const auto it = token.find(syms[i]);
      if (it == token.end())
        throw Error(ex.where + ": symbol \"" + syms[i] + "\" (position " + std::to_string(i + 1) + ") never occurs in " +
                    train_file + (file == train_file ? "" : "; the alphabet is what the training file uses"));
      out[i] = it->second;
    }
    return out;
  };

  const int S = static_cast<int>(len), K = static_cast<int>(alphabet.size());
  Metadata meta;
  meta.vocab_size = K + 1;
  meta.num_puzzle_identifiers = 1;
  Rng rng(opt.seed);
  SplitBuilder tb(S);
  tb.reserve(static_cast<std::int64_t>(train.size()) * (1 + opt.num_aug));
  std::vector<std::uint8_t> qa(len), aa(len), map(static_cast<std::size_t>(K) + 1);
  for (const auto& ex : train) {
    const std::vector<std::uint8_t> q = encode(ex.input, ex, train_file), a = encode(ex.output, ex, train_file);
    tb.add_example(q, a);
    tb.end_puzzle(0);
    for (int v = 0; v < opt.num_aug; ++v) {
      // Each version: one random symmetry of the square and/or one relabelling of the symbols,
      // the same for input and output (a task that is invariant under them, as the user says).
      const int t = dihedral ? 1 + static_cast<int>(rng.below(kNumDihedral - 1)) : 0;
      for (int k = 0; k <= K; ++k) map[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(k);
      if (permute) {
        const std::vector<std::int32_t> p = rng.permutation(K);
        for (int k = 0; k < K; ++k) map[static_cast<std::size_t>(k) + 1] = static_cast<std::uint8_t>(p[static_cast<std::size_t>(k)] + 1);
      }
      if (dihedral) {
        dihedral_transform(q.data(), width, width, t, qa.data());
        dihedral_transform(a.data(), width, width, t, aa.data());
      } else {
        qa = q;
        aa = a;
      }
      for (std::size_t i = 0; i < len; ++i) {
        qa[i] = map[qa[i]];
        aa[i] = map[aa[i]];
      }
      tb.add_example(qa, aa);
      tb.end_puzzle(0);
    }
    tb.end_group();
  }
  SplitBuilder sb(S);
  sb.reserve(static_cast<std::int64_t>(test.size()));
  for (const auto& ex : test) {
    sb.add_example(encode(ex.input, ex, test_file), encode(ex.output, ex, test_file));
    sb.end_puzzle(0);
    sb.end_group();
  }
  BuiltDataset out{std::move(tb).finish(meta), std::move(sb).finish(meta)};
  write_split(out.train, out_dir, "train");
  write_split(out.test, out_dir, "test");
  write_identifiers(out_dir, {"<blank>"});
  // The task's own description, beside the reference's keys (readers ignore keys they do not know).
  GridFormat g{alphabet, width, S, opt.augmentation, opt.num_aug};
  for (const char* split : {"train", "test"}) {
    const std::string path = (fs::path(out_dir) / split / "dataset.json").string();
    nlohmann::json j = read_json_file(path);
    j["grid"] = g.to_json();
    write_json_file_atomic(path, j);
  }
  return out;
}

std::optional<GridFormat> read_grid_format(const std::string& root) {
  const fs::path path = fs::path(root) / "train" / "dataset.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  const nlohmann::json j = read_json_file(path.string());
  if (!j.is_object() || !j.contains("grid")) return std::nullopt;
  return GridFormat::from_json(j.at("grid"), path.string());
}

}  // namespace trm::data
