#include "io/json_file.h"

#include <unordered_set>
#include <vector>

#include "io/atomic_file.h"
#include "io/text_file.h"
#include "trm/error.h"

namespace trm::data {

nlohmann::json parse_json_text(std::string_view text, const std::string& context) {
  using Event = nlohmann::json::parse_event_t;
  // keys[d]: the keys seen so far in the object at depth d (the depth nlohmann's callback reports:
  // the number of containers open around the event).
  std::vector<std::unordered_set<std::string>> keys;
  const nlohmann::json::parser_callback_t check = [&](int depth, Event event, nlohmann::json& parsed) {
    if (event == Event::object_start || event == Event::array_start) {
      if (depth >= kMaxJsonDepth)
        throw Error(context + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                    " levels (no file trm reads needs more than 6)");
      if (event == Event::object_start) {
        if (keys.size() <= static_cast<std::size_t>(depth)) keys.resize(static_cast<std::size_t>(depth) + 1);
        keys[static_cast<std::size_t>(depth)].clear();
      }
    } else if (event == Event::key && depth >= 1) {
      auto& seen = keys[static_cast<std::size_t>(depth - 1)];
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!seen.insert(k).second)
        throw Error(context + ": key " + json_excerpt(parsed) + " appears twice in one object");
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), check);
  } catch (const nlohmann::json::exception& e) {
    throw Error(context + ": invalid JSON (" + e.what() + ")");
  }
}

nlohmann::json read_json_file(const std::string& path, const std::string& hint) {
  return parse_json_text(io::read_text_file(path, kMaxJsonFileBytes, hint), path);
}

std::string json_excerpt(const nlohmann::json& j, std::size_t max_chars) {
  // replace: a string built by trm from raw bytes may not be UTF-8; never throw while reporting.
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > max_chars) s = s.substr(0, max_chars) + "...";
  return s;
}

void write_json_file_atomic(const std::string& path, const nlohmann::json& j, int indent) {
  write_text_file(path, j.dump(indent) + "\n");
}

}  // namespace trm::data
