// The paper's runs as named presets (docs/REFERENCE.md §8.1), with key=value overrides on top.
#pragma once
#include <string>
#include <vector>

#include "trm/model/config.h"

namespace trm {

// An aggregate for designated initialisers (src/model/presets.cpp); the default member
// initialisers let a preset leave out the fields it takes from the defaults.
struct Preset {
  std::string name;
  std::string description;
  ModelConfig model{};
  OptimConfig optim{};
};

const std::vector<Preset>& presets();
const Preset& find_preset(const std::string& name);  // throws trm::Error listing the known names

// Applies "key=value" to the model or optimizer config (the key decides which); throws trm::Error
// for unknown keys or values that do not parse.
void apply_override(ModelConfig& model, OptimConfig& optim, const std::string& key_value);

}  // namespace trm
