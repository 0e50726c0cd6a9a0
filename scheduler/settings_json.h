// A trial's settings as a JSON object, for the status server, `revsweep status --json` and the
// summaries: one definition, so every output writes a setting the same way.
#pragma once

#include <nlohmann/json.hpp>
#include <variant>

#include "common/config/settings.h"

namespace revsweep {

// Keys in settings order (sorted); values keep their type (bool, integer, number, string).
inline nlohmann::ordered_json SettingsJson(const Settings& s) {
  nlohmann::ordered_json o = nlohmann::ordered_json::object();
  for (const auto& [k, v] : s)
    o[k] = std::visit([](const auto& x) { return nlohmann::ordered_json(x); }, v);
  return o;
}

}  // namespace revsweep
