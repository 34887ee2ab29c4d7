#include "io/json_file.h"

#include "io/atomic_file.h"

#include <fstream>
#include <sstream>

#include "trm/error.h"

namespace trm::data {

nlohmann::json read_json_file(const std::string& path, const std::string& hint) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open for reading" + (hint.empty() ? "" : " (" + hint + ")"));
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": invalid JSON (" + e.what() + ")");
  }
}

void write_json_file_atomic(const std::string& path, const nlohmann::json& j, int indent) {
  write_text_file(path, j.dump(indent) + "\n");
}

}  // namespace trm::data
