#include "trm/io/csv.h"

#include <fstream>

#include "io/atomic_file.h"
#include "trm/error.h"

namespace trm::data {
namespace {

void split_line(const std::string& line, std::vector<std::string>& out, const std::string& where) {
  out.clear();
  std::size_t i = 0;
  while (true) {
    std::string field;
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (true) {
        if (i >= line.size()) throw Error(where + ": unterminated quoted field");
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += line[i++];
      }
      if (i < line.size() && line[i] != ',') throw Error(where + ": text after a closing quote");
    } else {
      const std::size_t end = line.find(',', i);
      field = line.substr(i, end == std::string::npos ? std::string::npos : end - i);
      i = end == std::string::npos ? line.size() : end;
    }
    out.push_back(std::move(field));
    if (i >= line.size()) break;
    ++i;  // the comma
    if (i == line.size()) {
      out.emplace_back();  // a trailing comma ends with an empty field
      break;
    }
  }
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
  return s;
}

std::string quote_if_needed(const std::string& f) {
  if (f.find_first_of(",\"\r\n") == std::string::npos) return f;
  std::string q = "\"";
  for (char c : f) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

void read_csv(const std::string& path, const std::vector<std::string>& header,
              const std::function<void(const std::vector<std::string>& fields, std::int64_t line)>& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open for reading");
  std::string line;
  std::vector<std::string> fields;
  std::int64_t line_no = 0;
  bool seen_header = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 byte-order mark
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    split_line(line, fields, where);
    if (!seen_header) {
      if (fields != header) throw Error(where + ": header is \"" + line + "\", expected \"" + join(header) + "\"");
      seen_header = true;
      continue;
    }
    if (fields.size() != header.size())
      throw Error(where + ": row has " + std::to_string(fields.size()) + " fields, expected " +
                  std::to_string(header.size()) + " (" + join(header) + ")");
    fn(fields, line_no);
  }
  if (in.bad()) throw Error(path + ": read error");
  if (!seen_header) throw Error(path + ": empty file (expected the header \"" + join(header) + "\")");
}

void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows) {
  write_file_atomically(path, [&](std::FILE* f) {
    std::string buf = join(header) + "\n";
    for (const auto& row : rows) {
      for (std::size_t i = 0; i < row.size(); ++i) {
        if (i) buf += ',';
        buf += quote_if_needed(row[i]);
      }
      buf += '\n';
      if (buf.size() > (1u << 20)) {
        write_bytes(f, buf.data(), buf.size(), path);
        buf.clear();
      }
    }
    write_bytes(f, buf.data(), buf.size(), path);
  });
}

}  // namespace trm::data
