// The model and optimizer config JSON (a checkpoint's "config" metadata, config.json): parse,
// from_json's per-key checks, validate(), and the round trip of what validates.
#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "io/json_file.h"
#include "trm/model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace trm;
  fuzz::refuse_ok([&] {
    const nlohmann::json j = data::parse_json_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    if (!j.is_object()) return;
    if (j.contains("model")) {
      fuzz::refuse_ok([&] {
        ModelConfig m;
        from_json(j.at("model"), m);
        m.validate();
        ModelConfig back;
        from_json(nlohmann::json(m), back);
        fuzz::require(nlohmann::json(back) == nlohmann::json(m), "model config round trip");
        (void)m.parameter_count();
      });
    }
    if (j.contains("optim")) {
      fuzz::refuse_ok([&] {
        OptimConfig o;
        from_json(j.at("optim"), o);
        o.validate();
        OptimConfig back;
        from_json(nlohmann::json(o), back);
        fuzz::require(nlohmann::json(back) == nlohmann::json(o), "optim config round trip");
      });
    }
  });
  return 0;
}
