#include "trm/io/csv.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/atomic_file.h"
#include "io/text_file.h"
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

namespace {

// Reads lines of at most max_bytes from a file descriptor: a file with no line break would
// otherwise be read into one string however large it is.
class LineReader {
 public:
  LineReader(int fd, std::string path, std::size_t max_bytes) : fd_(fd), path_(std::move(path)), max_(max_bytes) {}
  // The next line without its '\n' (a last line without one too); false at the end of the file.
  bool next(std::string& line, std::int64_t line_no) {
    while (true) {
      const std::size_t nl = buf_.find('\n', pos_);
      if (nl != std::string::npos) {
        check_length(nl - pos_, line_no);
        line.assign(buf_, pos_, nl - pos_);
        pos_ = nl + 1;
        return true;
      }
      check_length(buf_.size() - pos_, line_no);
      if (eof_) {
        if (pos_ == buf_.size()) return false;
        line.assign(buf_, pos_, std::string::npos);
        pos_ = buf_.size();
        return true;
      }
      buf_.erase(0, pos_);
      pos_ = 0;
      char chunk[1 << 16];
      const ssize_t r = ::read(fd_, chunk, sizeof chunk);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw Error(path_ + ": read error (" + std::strerror(errno) + ")");
      if (r == 0) eof_ = true;
      buf_.append(chunk, static_cast<std::size_t>(r));
    }
  }

 private:
  void check_length(std::size_t n, std::int64_t line_no) const {
    if (n > max_)
      throw Error(path_ + ":" + std::to_string(line_no) + ": line longer than " + std::to_string(max_) +
                  " bytes (no puzzle row is that long; is this a CSV file?)");
  }
  int fd_;
  std::string path_;
  std::size_t max_;
  std::string buf_;
  std::size_t pos_ = 0;
  bool eof_ = false;
};

}  // namespace

void read_csv(const std::string& path, const std::vector<std::string>& header,
              const std::function<void(const std::vector<std::string>& fields, std::int64_t line)>& fn) {
  long long size = -1;
  const io::ReadFd file = io::open_for_reading(path, "a CSV file", "", size);
  LineReader reader(file.get(), path, kMaxCsvLineBytes);
  std::string line;
  std::vector<std::string> fields;
  std::int64_t line_no = 0;
  bool seen_header = false;
  while (reader.next(line, line_no + 1)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 byte-order mark
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    split_line(line, fields, where);
    if (!seen_header) {
      if (fields != header)
        throw Error(where + ": header is \"" + (line.size() > 200 ? line.substr(0, 200) + "..." : line) +
                    "\", expected \"" + join(header) + "\"");
      seen_header = true;
      continue;
    }
    if (fields.size() != header.size())
      throw Error(where + ": row has " + std::to_string(fields.size()) + " fields, expected " +
                  std::to_string(header.size()) + " (" + join(header) + ")");
    fn(fields, line_no);
  }
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
