#include "io/npy_header.h"

#include <cctype>
#include <limits>
#include <set>

#include "trm/error.h"

namespace trm::data {
namespace {

// Recursive descent over the small subset of Python literals that numpy writes.
class Parser {
 public:
  Parser(std::string_view s, const std::string& path) : s_(s), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    std::set<std::string> seen;
    skip_ws();
    expect('{');
    skip_ws();
    while (peek() != '}') {
      const std::string key = string_literal();
      skip_ws();
      expect(':');
      skip_ws();
      if (!seen.insert(key).second) fail("key '" + key + "' appears twice");
      if (key == "descr") {
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
      } else if (key == "shape") {
        h.shape = tuple();
      } else {
        fail("unexpected key '" + key + "' (a .npy header has descr, fortran_order and shape)");
      }
      skip_ws();
      if (peek() == ',') {
        ++i_;
        skip_ws();
      } else if (peek() != '}') {
        fail("expected ',' or '}'");
      }
    }
    ++i_;
    skip_ws();
    if (i_ != s_.size()) fail("unexpected text after the closing '}'");
    for (const char* k : {"descr", "fortran_order", "shape"})
      if (!seen.count(k)) fail(std::string("missing key '") + k + "'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    // The header is quoted for context, cut short: a damaged file may declare megabytes of it.
    const std::string text = s_.size() > 200 ? std::string(s_.substr(0, 200)) + "..." : std::string(s_);
    throw Error(path_ + ": malformed .npy header (" + what + " at offset " + std::to_string(i_) + " of \"" + text + "\")");
  }
  char peek() const {
    if (i_ >= s_.size()) fail("header ends early");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  void skip_ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  std::string string_literal() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    ++i_;
    std::string out;
    while (peek() != q) out += s_[i_++];
    ++i_;
    return out;
  }
  bool boolean() {
    if (s_.substr(i_, 4) == "True") { i_ += 4; return true; }
    if (s_.substr(i_, 5) == "False") { i_ += 5; return false; }
    fail("expected True or False");
  }
  std::vector<std::int64_t> tuple() {
    expect('(');
    std::vector<std::int64_t> dims;
    skip_ws();
    while (peek() != ')') {
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a non-negative integer dimension");
      std::int64_t v = 0;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
        if (v > (std::numeric_limits<std::int64_t>::max() - 9) / 10) fail("dimension too large");
        v = v * 10 + (s_[i_++] - '0');
      }
      if (i_ < s_.size() && s_[i_] == 'L') ++i_;  // Python 2 long suffix
      dims.push_back(v);
      skip_ws();
      if (peek() == ',') {
        ++i_;
        skip_ws();
      } else if (peek() != ')') {
        fail("expected ',' or ')' in the shape");
      }
    }
    ++i_;
    return dims;
  }

  std::string_view s_;
  const std::string& path_;
  std::size_t i_ = 0;
};

}  // namespace

NpyHeader parse_npy_header(std::string_view text, const std::string& path) { return Parser(text, path).parse(); }

std::string format_npy_preamble(const std::string& descr, const std::vector<std::int64_t>& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dict += ",";  // a 1-tuple needs its comma in Python syntax
  dict += "), }";
  // Version 1.0 stores the length in 2 bytes; larger headers need 2.0's 4 bytes.
  const bool v2 = dict.size() + 1 + 10 > 65535;
  const std::size_t fixed = v2 ? 12 : 10;
  std::size_t total = fixed + dict.size() + 1;
  total = (total + 63) / 64 * 64;
  dict.append(total - fixed - dict.size() - 1, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(v2 ? 2 : 1);
  out += '\0';
  const std::size_t len = dict.size();
  const int len_bytes = v2 ? 4 : 2;
  for (int b = 0; b < len_bytes; ++b) out += static_cast<char>((len >> (8 * b)) & 0xFF);
  return out + dict;
}

}  // namespace trm::data
